//! XEP-0060: Publish-Subscribe.
//!
//! A pubsub service hosts nodes; publishers publish items to a node and the
//! service sends event notifications to the node's subscribers. The
//! protocol has four namespaces, each with its own payload type here:
//!
//! * [`PubSub`]: `<pubsub xmlns='http://jabber.org/protocol/pubsub'/>`, the
//!   iq payload of publishers and subscribers (publish, retract, retrieve
//!   items, subscribe, create a node, …) and of most of their results;
//! * [`PubSubOwner`]: `<pubsub xmlns='…#owner'/>`, the iq payload of node
//!   owners (configure, delete, purge, manage subscriptions and
//!   affiliations);
//! * [`Event`]: `<event xmlns='…#event'/>`, the message payload of event
//!   notifications;
//! * [`PubSubError`]: the application-specific conditions of `…#errors`,
//!   carried in a stanza error next to the defined condition.
//!
//! Published payloads are kept as the [`Element`] they came as, exactly.
//! Node configuration, publish-options and subscription options are data
//! forms (XEP-0004); they are kept as the raw `<x xmlns='jabber:x:data'/>`
//! element, to be read with the data forms module.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::pubsub::{Event, Item, PubSub};
//!
//! // A publisher publishes an entry…
//! let entry: minidom::Element = "<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>"
//!     .parse()
//!     .expect("valid XML");
//! let publish = PubSub::publish("princely_musings", Item::new(entry.clone()).with_id("ae890ac5"));
//! assert_eq!(PubSub::parse(&publish.to_element())?, publish);
//!
//! // …and a subscriber receives the notification.
//! let notification: minidom::Element = "<event xmlns='http://jabber.org/protocol/pubsub#event'>\
//!     <items node='princely_musings'><item id='ae890ac5'>\
//!     <entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>\
//!     </item></items></event>"
//!     .parse()
//!     .expect("valid XML");
//! let Event::Items { node, items, .. } = Event::parse(&notification)? else {
//!     panic!("an items event");
//! };
//! assert_eq!(node, "princely_musings");
//! assert_eq!(items[0].payload.as_ref(), Some(&entry));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```
//!
//! A service refuses a request with a stanza error and, where XEP-0060
//! defines one, a pubsub condition:
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::pubsub::PubSubError;
//! use xmpp_kit::stanza::{DefinedCondition, StanzaError};
//!
//! let error = StanzaError::new(DefinedCondition::FeatureNotImplemented)
//!     .with_application(PubSubError::unsupported("retrieve-subscriptions").to_element());
//! let parsed = StanzaError::parse(&error.to_element())?;
//! let condition = PubSubError::parse(parsed.application.as_ref().expect("kept"))?;
//! assert_eq!(condition.feature.as_deref(), Some("retrieve-subscriptions"));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{PayloadError, jid_attr, required_attr, required_jid_attr, set_attr, set_opt_attr};
use crate::jid::Jid;

/// An enum of the string values of an attribute, with `as_str`, `FromStr`
/// (`Err = ()`, as for the stanza enums) and `Display`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// Every value, in the order of the specification.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The value as written in XML.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)*
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ();

            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($value => Ok(Self::$variant),)*
                    _ => Err(()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod errors;
mod event;
mod owner;
mod request;

pub use errors::{ErrorCondition, PubSubError};
pub use event::Event;
pub use owner::PubSubOwner;
pub use request::PubSub;

/// The namespace of publisher and subscriber requests,
/// `http://jabber.org/protocol/pubsub`.
pub const NS: &str = "http://jabber.org/protocol/pubsub";
/// The namespace of event notifications.
pub const NS_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
/// The namespace of node owner requests.
pub const NS_OWNER: &str = "http://jabber.org/protocol/pubsub#owner";
/// The namespace of pubsub-specific error conditions.
pub const NS_ERRORS: &str = "http://jabber.org/protocol/pubsub#errors";

/// The data forms namespace, of configuration and options forms.
const DATA_FORMS_NS: &str = "jabber:x:data";

/// The service discovery feature for a pubsub feature name, such as
/// `feature("publish")` = `http://jabber.org/protocol/pubsub#publish`
/// (XEP-0060 section 10, "Feature Summary").
pub fn feature(name: &str) -> String {
    format!("{NS}#{name}")
}

string_enum! {
    /// The state of a subscription to a node (XEP-0060 section 4.2).
    SubscriptionState {
        /// Not subscribed: no notifications.
        None = "none",
        /// Subscription requested, awaiting approval by an owner.
        Pending = "pending",
        /// Subscribed: notifications are sent.
        Subscribed = "subscribed",
        /// Subscribed, but the subscription options are yet to be configured.
        Unconfigured = "unconfigured",
    }
}

string_enum! {
    /// The affiliation of an entity with a node (XEP-0060 section 4.1).
    Affiliation {
        /// May subscribe and retrieve items.
        Member = "member",
        /// No affiliation.
        None = "none",
        /// Banned from the node.
        Outcast = "outcast",
        /// Manages the node.
        Owner = "owner",
        /// May publish and retrieve items.
        Publisher = "publisher",
        /// May publish, but not subscribe or retrieve items.
        PublishOnly = "publish-only",
    }
}

string_enum! {
    /// A node access model, the value of the `pubsub#access_model`
    /// configuration field (XEP-0060 section 4.5).
    AccessModel {
        /// The owner approves each subscription.
        Authorize = "authorize",
        /// Anyone may subscribe and retrieve items.
        Open = "open",
        /// Contacts subscribed to the owner's presence.
        Presence = "presence",
        /// Contacts in allowed roster groups.
        Roster = "roster",
        /// Entities the owner lists.
        Whitelist = "whitelist",
    }
}

/// A published item: in a publish request, an items result or an event
/// notification.
///
/// The payload is kept exactly as it came. An `<item/>` with only an `id`
/// names an item (to retrieve or retract it, or in a notification without
/// payload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    /// The ItemID, unique within the node (a service generates one when the
    /// publisher gives none).
    pub id: Option<String>,
    /// The publisher, as stamped by the service (never trusted from a
    /// publisher).
    pub publisher: Option<Jid>,
    /// The payload: the item's one child element.
    pub payload: Option<Element>,
}

impl Item {
    /// An item carrying `payload`, without an ItemID.
    pub fn new(payload: Element) -> Self {
        Self {
            id: None,
            publisher: None,
            payload: Some(payload),
        }
    }

    /// An item naming an ItemID, without payload.
    pub fn with_id_only(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            publisher: None,
            payload: None,
        }
    }

    /// Sets the ItemID.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the publisher.
    #[must_use]
    pub fn with_publisher(mut self, publisher: Jid) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// Parses an `<item/>` in `ns`. More than one child element is refused:
    /// an item carries one payload (XEP-0060 section 7.1.3.6), and keeping
    /// only the first would lose data silently.
    fn parse_in(element: &Element, ns: &'static str) -> Result<Self, PayloadError> {
        super::expect(element, "item", ns)?;
        let mut children = element.children();
        let payload = children.next().cloned();
        if children.next().is_some() {
            return Err(PayloadError::InvalidStructure {
                element: "item",
                reason: "more than one payload element",
            });
        }
        Ok(Self {
            id: opt_attr(element, "id"),
            publisher: jid_attr(element, "publisher", "item")?,
            payload,
        })
    }

    /// Serializes to `<item/>` in `ns`.
    fn to_element_in(&self, ns: &str) -> Element {
        let mut element = Element::bare("item", ns);
        set_opt_attr(&mut element, "id", self.id.as_deref());
        set_opt_attr(
            &mut element,
            "publisher",
            self.publisher.as_ref().map(Jid::as_str),
        );
        if let Some(payload) = &self.payload {
            element.append_child(payload.clone());
        }
        element
    }
}

/// Whether the subscriber may or must configure its subscription options
/// (the `<subscribe-options/>` child of a subscription, XEP-0060 section
/// 6.1.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SubscribeOptions {
    /// Options must be configured before notifications are sent.
    pub required: bool,
}

/// A subscription: the result of a subscribe or unsubscribe request, an
/// entry of a subscriptions list, or a subscription state notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The NodeID (absent in an owner's list, which is about one node).
    pub node: Option<String>,
    /// The subscribed JID.
    pub jid: Jid,
    /// The subscription identifier, when the service uses them.
    pub subid: Option<String>,
    /// The state; absent in an owner's modification that leaves it as is.
    pub state: Option<SubscriptionState>,
    /// Whether subscription options are supported or required.
    pub options: Option<SubscribeOptions>,
}

impl Subscription {
    /// A subscription of `jid` to `node` in `state`.
    pub fn new(node: impl Into<String>, jid: Jid, state: SubscriptionState) -> Self {
        Self {
            node: Some(node.into()),
            jid,
            subid: None,
            state: Some(state),
            options: None,
        }
    }

    /// Sets the subscription identifier.
    #[must_use]
    pub fn with_subid(mut self, subid: impl Into<String>) -> Self {
        self.subid = Some(subid.into());
        self
    }

    /// Parses a `<subscription/>` in `ns`.
    fn parse_in(element: &Element, ns: &'static str) -> Result<Self, PayloadError> {
        super::expect(element, "subscription", ns)?;
        let state = super::parsed_attr(element, "subscription", "subscription")?;
        let options = element
            .get_child("subscribe-options", ns)
            .map(|options| SubscribeOptions {
                required: options.has_child("required", ns),
            });
        Ok(Self {
            node: opt_attr(element, "node"),
            jid: required_jid_attr(element, "jid", "subscription")?,
            subid: opt_attr(element, "subid"),
            state,
            options,
        })
    }

    /// Serializes to `<subscription/>` in `ns`.
    fn to_element_in(&self, ns: &str) -> Element {
        let mut element = Element::bare("subscription", ns);
        set_opt_attr(&mut element, "node", self.node.as_deref());
        set_attr(&mut element, "jid", self.jid.as_str());
        set_opt_attr(&mut element, "subid", self.subid.as_deref());
        set_opt_attr(
            &mut element,
            "subscription",
            self.state.map(SubscriptionState::as_str),
        );
        if let Some(options) = self.options {
            let mut child = Element::bare("subscribe-options", ns);
            if options.required {
                child.append_child(Element::bare("required", ns));
            }
            element.append_child(child);
        }
        element
    }
}

/// The requester's affiliation with one node, in the pubsub namespace
/// (XEP-0060 section 5.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeAffiliation {
    /// The NodeID.
    pub node: String,
    /// The affiliation.
    pub affiliation: Affiliation,
}

impl NodeAffiliation {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        super::expect(element, "affiliation", NS)?;
        Ok(Self {
            node: node_attr(element, "affiliation")?,
            affiliation: affiliation_attr(element)?,
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("affiliation", NS);
        set_attr(&mut element, "node", self.node.as_str());
        set_attr(&mut element, "affiliation", self.affiliation.as_str());
        element
    }
}

/// An entity's affiliation with a node, in an owner's affiliations list
/// (XEP-0060 section 8.9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityAffiliation {
    /// The affiliated entity (a bare JID).
    pub jid: Jid,
    /// The affiliation.
    pub affiliation: Affiliation,
}

impl EntityAffiliation {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        super::expect(element, "affiliation", NS_OWNER)?;
        Ok(Self {
            jid: required_jid_attr(element, "jid", "affiliation")?,
            affiliation: affiliation_attr(element)?,
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("affiliation", NS_OWNER);
        set_attr(&mut element, "jid", self.jid.as_str());
        set_attr(&mut element, "affiliation", self.affiliation.as_str());
        element
    }
}

// ---- helpers of the submodules ---------------------------------------------

/// The required `affiliation` attribute of an `<affiliation/>`.
fn affiliation_attr(element: &Element) -> Result<Affiliation, PayloadError> {
    super::parsed_attr(element, "affiliation", "affiliation")?.ok_or(
        PayloadError::MissingAttribute {
            element: "affiliation",
            attribute: "affiliation",
        },
    )
}

/// An optional string attribute.
fn opt_attr(element: &Element, name: &str) -> Option<String> {
    crate::ext::attr(element, name).map(str::to_owned)
}

/// The required `node` attribute.
fn node_attr(element: &Element, element_name: &'static str) -> Result<String, PayloadError> {
    required_attr(element, "node", element_name).map(str::to_owned)
}

/// The data form child of `element`, if any.
fn form_child(element: &Element) -> Option<Element> {
    element.get_child("x", DATA_FORMS_NS).cloned()
}

/// `<name xmlns=ns>` holding `form`, if any.
fn with_form(name: &str, ns: &str, form: Option<&Element>) -> Element {
    let mut element = Element::bare(name, ns);
    if let Some(form) = form {
        element.append_child(form.clone());
    }
    element
}

/// An `xs:boolean` attribute (`true`, `1`, `false`, `0`), false if absent.
fn bool_attr(
    element: &Element,
    name: &'static str,
    element_name: &'static str,
) -> Result<bool, PayloadError> {
    match crate::ext::attr(element, name) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(PayloadError::InvalidValue {
            element: element_name,
            what: "boolean attribute",
            value: other.to_owned(),
        }),
    }
}

/// The only child of `parent` (in `ns`) whose name is in `names`: the
/// request, result or event a `<pubsub/>` or `<event/>` carries. Children in
/// other namespaces and with other names are ignored.
fn single_child<'a>(
    parent: &'a Element,
    ns: &str,
    names: &[&str],
    element_name: &'static str,
) -> Result<&'a Element, PayloadError> {
    let mut found = None;
    for child in parent.children().filter(|child| child.has_ns(ns)) {
        if names.contains(&child.name()) && found.replace(child).is_some() {
            return Err(PayloadError::InvalidStructure {
                element: element_name,
                reason: "more than one request, result or event child",
            });
        }
    }
    found.ok_or(PayloadError::InvalidStructure {
        element: element_name,
        reason: "no known request, result or event child",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn enums_round_trip_through_strings() {
        for state in SubscriptionState::ALL {
            assert_eq!(state.as_str().parse(), Ok(*state));
            assert_eq!(state.to_string(), state.as_str());
        }
        for affiliation in Affiliation::ALL {
            assert_eq!(affiliation.as_str().parse(), Ok(*affiliation));
        }
        for model in AccessModel::ALL {
            assert_eq!(model.as_str().parse(), Ok(*model));
        }
        assert_eq!("Subscribed".parse::<SubscriptionState>(), Err(()));
        assert_eq!("publish_only".parse::<Affiliation>(), Err(()));
    }

    #[test]
    fn feature_names() {
        assert_eq!(
            feature("publish"),
            "http://jabber.org/protocol/pubsub#publish"
        );
    }

    #[test]
    fn item_keeps_its_payload_exactly() {
        let item = el(
            "<item xmlns='http://jabber.org/protocol/pubsub' id='a' publisher='hamlet@denmark.lit'>\
             <x xmlns='urn:x' a='1'> text <y/></x></item>",
        );
        let parsed = Item::parse_in(&item, NS).unwrap();
        assert_eq!(parsed.id.as_deref(), Some("a"));
        assert_eq!(
            parsed.publisher.as_ref().map(Jid::as_str),
            Some("hamlet@denmark.lit")
        );
        assert_eq!(parsed.payload.as_ref(), item.children().next());
        assert_eq!(
            Item::parse_in(&parsed.to_element_in(NS), NS).unwrap(),
            parsed
        );
        // The same item in another namespace is another element.
        assert!(matches!(
            Item::parse_in(&item, NS_EVENT),
            Err(PayloadError::WrongElement { .. })
        ));
    }

    #[test]
    fn item_refuses_two_payloads_and_bad_publishers() {
        let two = el(
            "<item xmlns='http://jabber.org/protocol/pubsub'><a xmlns='urn:a'/><b xmlns='urn:b'/></item>",
        );
        assert!(matches!(
            Item::parse_in(&two, NS),
            Err(PayloadError::InvalidStructure {
                element: "item",
                ..
            })
        ));
        let bad = el("<item xmlns='http://jabber.org/protocol/pubsub' publisher='@denmark.lit'/>");
        assert!(matches!(
            Item::parse_in(&bad, NS),
            Err(PayloadError::InvalidJid {
                element: "item",
                ..
            })
        ));
    }

    #[test]
    fn subscription_parses_options_and_refuses_bad_states() {
        let sub = el(
            "<subscription xmlns='http://jabber.org/protocol/pubsub' node='n' jid='a@b' \
             subscription='unconfigured'><subscribe-options><required/></subscribe-options></subscription>",
        );
        let parsed = Subscription::parse_in(&sub, NS).unwrap();
        assert_eq!(parsed.state, Some(SubscriptionState::Unconfigured));
        assert_eq!(parsed.options, Some(SubscribeOptions { required: true }));
        assert_eq!(
            Subscription::parse_in(&parsed.to_element_in(NS), NS).unwrap(),
            parsed
        );

        let bad = el(
            "<subscription xmlns='http://jabber.org/protocol/pubsub' jid='a@b' subscription='maybe'/>",
        );
        assert!(matches!(
            Subscription::parse_in(&bad, NS),
            Err(PayloadError::InvalidValue {
                element: "subscription",
                ..
            })
        ));
        let no_jid = el("<subscription xmlns='http://jabber.org/protocol/pubsub' node='n'/>");
        assert_eq!(
            Subscription::parse_in(&no_jid, NS),
            Err(PayloadError::MissingAttribute {
                element: "subscription",
                attribute: "jid"
            })
        );
    }

    #[test]
    fn affiliations_need_their_attributes() {
        let missing = el("<affiliation xmlns='http://jabber.org/protocol/pubsub' node='n'/>");
        assert_eq!(
            NodeAffiliation::parse(&missing),
            Err(PayloadError::MissingAttribute {
                element: "affiliation",
                attribute: "affiliation"
            })
        );
        let unknown = el(
            "<affiliation xmlns='http://jabber.org/protocol/pubsub#owner' jid='a@b' affiliation='king'/>",
        );
        assert!(matches!(
            EntityAffiliation::parse(&unknown),
            Err(PayloadError::InvalidValue {
                element: "affiliation",
                ..
            })
        ));
    }

    #[test]
    fn booleans() {
        for (value, expected) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let e = el(&format!("<retract xmlns='urn:x' notify='{value}'/>"));
            assert_eq!(bool_attr(&e, "notify", "retract"), Ok(expected));
        }
        let e = el("<retract xmlns='urn:x' notify='yes'/>");
        assert!(matches!(
            bool_attr(&e, "notify", "retract"),
            Err(PayloadError::InvalidValue {
                element: "retract",
                ..
            })
        ));
    }
}
