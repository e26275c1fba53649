//! `http://jabber.org/protocol/pubsub#errors`: the application-specific
//! error conditions of XEP-0060.

use minidom::Element;

use super::{NS_ERRORS, opt_attr};
use crate::ext::{Payload, PayloadError, set_opt_attr};

string_enum! {
    /// A pubsub-specific error condition (the `pubsub#errors` schema of
    /// XEP-0060), sent next to a defined stanza condition.
    #[non_exhaustive]
    ErrorCondition {
        /// The node's whitelist does not include the requester.
        ClosedNode = "closed-node",
        /// Subscription options must be configured first.
        ConfigurationRequired = "configuration-required",
        /// The JID does not match the requester's.
        InvalidJid = "invalid-jid",
        /// The subscription options submitted are invalid.
        InvalidOptions = "invalid-options",
        /// The payload does not suit the node.
        InvalidPayload = "invalid-payload",
        /// The SubID is not valid or current.
        InvalidSubid = "invalid-subid",
        /// The node does not take items.
        ItemForbidden = "item-forbidden",
        /// The request lacks an item.
        ItemRequired = "item-required",
        /// The request lacks the subscriber's JID.
        JidRequired = "jid-required",
        /// Too many items requested.
        MaxItemsExceeded = "max-items-exceeded",
        /// The service has too many nodes.
        MaxNodesExceeded = "max-nodes-exceeded",
        /// The node holds the maximum number of items.
        NodeFull = "node-full",
        /// The request lacks a NodeID.
        NodeidRequired = "nodeid-required",
        /// The requester is not in an allowed roster group.
        NotInRosterGroup = "not-in-roster-group",
        /// The requester is not subscribed.
        NotSubscribed = "not-subscribed",
        /// The payload exceeds the node's size limit.
        PayloadTooBig = "payload-too-big",
        /// The node requires a payload.
        PayloadRequired = "payload-required",
        /// The requester's subscription is pending.
        PendingSubscription = "pending-subscription",
        /// A publish-options precondition does not hold.
        PreconditionNotMet = "precondition-not-met",
        /// The requester must be subscribed to the owner's presence.
        PresenceSubscriptionRequired = "presence-subscription-required",
        /// The requester has several subscriptions and must name one.
        SubidRequired = "subid-required",
        /// The requester has too many subscriptions.
        TooManySubscriptions = "too-many-subscriptions",
        /// The service or node does not support a feature (named in
        /// [`PubSubError::feature`]).
        Unsupported = "unsupported",
        /// The access model asked for is not supported.
        UnsupportedAccessModel = "unsupported-access-model",
    }
}

/// A pubsub-specific error condition element, the application condition of
/// a stanza error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PubSubError {
    /// The condition.
    pub condition: ErrorCondition,
    /// The feature not supported, for [`ErrorCondition::Unsupported`], such
    /// as `"retrieve-subscriptions"`.
    pub feature: Option<String>,
}

impl PubSubError {
    /// A condition without feature.
    pub fn new(condition: ErrorCondition) -> Self {
        Self {
            condition,
            feature: None,
        }
    }

    /// `<unsupported feature=feature/>`.
    pub fn unsupported(feature: impl Into<String>) -> Self {
        Self {
            condition: ErrorCondition::Unsupported,
            feature: Some(feature.into()),
        }
    }
}

impl Payload for PubSubError {
    fn matches(element: &Element) -> bool {
        element.has_ns(NS_ERRORS) && element.name().parse::<ErrorCondition>().is_ok()
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        if !element.has_ns(NS_ERRORS) {
            return Err(PayloadError::WrongElement {
                expected: "pubsub error condition",
                namespace: NS_ERRORS,
                found: element.name().to_owned(),
                found_namespace: element.ns(),
            });
        }
        let condition = element
            .name()
            .parse()
            .map_err(|()| PayloadError::InvalidValue {
                element: "error",
                what: "pubsub#errors condition",
                value: element.name().to_owned(),
            })?;
        Ok(Self {
            condition,
            feature: opt_attr(element, "feature"),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare(self.condition.as_str(), NS_ERRORS);
        set_opt_attr(&mut element, "feature", self.feature.as_deref());
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// The application conditions of XEP-0060 examples 23 (unsupported,
    /// with a feature), 34 (invalid-jid) and 110 (node-full).
    #[test]
    fn spec_conditions() {
        let unsupported = el(
            "<unsupported xmlns='http://jabber.org/protocol/pubsub#errors'
                 feature='retrieve-subscriptions'/>",
        );
        assert!(PubSubError::matches(&unsupported));
        let parsed = PubSubError::parse(&unsupported).unwrap();
        assert_eq!(parsed, PubSubError::unsupported("retrieve-subscriptions"));
        assert_eq!(parsed.to_element(), unsupported);

        let invalid_jid = el("<invalid-jid xmlns='http://jabber.org/protocol/pubsub#errors'/>");
        assert_eq!(
            PubSubError::parse(&invalid_jid),
            Ok(PubSubError::new(ErrorCondition::InvalidJid))
        );
        let full = el("<node-full xmlns='http://jabber.org/protocol/pubsub#errors'/>");
        assert_eq!(
            PubSubError::parse(&full).unwrap().condition,
            ErrorCondition::NodeFull
        );
    }

    #[test]
    fn every_condition_round_trips() {
        for condition in ErrorCondition::ALL {
            let error = PubSubError::new(*condition);
            assert_eq!(PubSubError::parse(&error.to_element()), Ok(error));
        }
    }

    #[test]
    fn other_elements_are_refused() {
        let stanza = el("<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>");
        assert!(!PubSubError::matches(&stanza));
        assert!(matches!(
            PubSubError::parse(&stanza),
            Err(PayloadError::WrongElement { .. })
        ));
        let unknown = el("<too-sad xmlns='http://jabber.org/protocol/pubsub#errors'/>");
        assert!(!PubSubError::matches(&unknown));
        assert!(matches!(
            PubSubError::parse(&unknown),
            Err(PayloadError::InvalidValue {
                element: "error",
                ..
            })
        ));
    }
}
