//! `<event xmlns='http://jabber.org/protocol/pubsub#event'/>`: event
//! notifications, the message payload a service sends to subscribers.

use minidom::Element;

use super::owner::{delete_element, redirect_of};
use super::{
    Item, NS_EVENT, Subscription, form_child, node_attr, opt_attr, single_child, with_form,
};
use crate::ext::{Payload, PayloadError, expect, required_attr, set_attr, set_opt_attr};

/// The children of `<event/>` that make a notification.
const EVENTS: &[&str] = &["configuration", "delete", "items", "purge", "subscription"];

/// An event notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Items were published or retracted (XEP-0060 sections 7.1.2 and
    /// 7.2.2.1). A notification of a transient, notification-only node has
    /// neither.
    Items {
        /// The NodeID.
        node: String,
        /// The items published (with or without payload, by node
        /// configuration).
        items: Vec<Item>,
        /// The ItemIDs retracted.
        retracts: Vec<String>,
    },
    /// The node was deleted (XEP-0060 section 8.4.2).
    Delete {
        /// The NodeID.
        node: String,
        /// The URI of a node replacing it.
        redirect: Option<String>,
    },
    /// All items of the node were deleted (XEP-0060 section 8.5.2).
    Purge {
        /// The NodeID.
        node: String,
    },
    /// The node configuration changed (XEP-0060 section 8.2.5.3).
    Configuration {
        /// The NodeID.
        node: Option<String>,
        /// The new configuration (a `pubsub#node_config` data form, as a
        /// raw element), if the node sends payloads.
        form: Option<Element>,
    },
    /// The state of a subscription changed (XEP-0060 sections 8.6 and
    /// 8.8.4).
    Subscription(Subscription),
}

impl Event {
    /// The NodeID the notification is about, if it names one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Items { node, .. } | Self::Delete { node, .. } | Self::Purge { node } => {
                Some(node)
            }
            Self::Configuration { node, .. } => node.as_deref(),
            Self::Subscription(subscription) => subscription.node.as_deref(),
        }
    }
}

impl Payload for Event {
    fn matches(element: &Element) -> bool {
        element.is("event", NS_EVENT)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "event", NS_EVENT)?;
        let child = single_child(element, NS_EVENT, EVENTS, "event")?;
        Ok(match child.name() {
            "items" => {
                let mut items = Vec::new();
                let mut retracts = Vec::new();
                for grandchild in child.children() {
                    if grandchild.is("item", NS_EVENT) {
                        items.push(Item::parse_in(grandchild, NS_EVENT)?);
                    } else if grandchild.is("retract", NS_EVENT) {
                        retracts.push(required_attr(grandchild, "id", "retract")?.to_owned());
                    }
                }
                Self::Items {
                    node: node_attr(child, "items")?,
                    items,
                    retracts,
                }
            }
            "delete" => Self::Delete {
                node: node_attr(child, "delete")?,
                redirect: redirect_of(child, NS_EVENT)?,
            },
            "purge" => Self::Purge {
                node: node_attr(child, "purge")?,
            },
            "configuration" => Self::Configuration {
                node: opt_attr(child, "node"),
                form: form_child(child),
            },
            // `single_child` returns only the names above, and
            // `subscription` is the one left.
            _ => Self::Subscription(Subscription::parse_in(child, NS_EVENT)?),
        })
    }

    fn to_element(&self) -> Element {
        let mut event = Element::bare("event", NS_EVENT);
        let child = match self {
            Self::Items {
                node,
                items,
                retracts,
            } => {
                let mut element = Element::bare("items", NS_EVENT);
                set_attr(&mut element, "node", node.as_str());
                for item in items {
                    element.append_child(item.to_element_in(NS_EVENT));
                }
                for id in retracts {
                    let mut retract = Element::bare("retract", NS_EVENT);
                    set_attr(&mut retract, "id", id.as_str());
                    element.append_child(retract);
                }
                element
            }
            Self::Delete { node, redirect } => delete_element(NS_EVENT, node, redirect.as_deref()),
            Self::Purge { node } => {
                let mut purge = Element::bare("purge", NS_EVENT);
                set_attr(&mut purge, "node", node.as_str());
                purge
            }
            Self::Configuration { node, form } => {
                let mut configuration = with_form("configuration", NS_EVENT, form.as_ref());
                set_opt_attr(&mut configuration, "node", node.as_deref());
                configuration
            }
            Self::Subscription(subscription) => subscription.to_element_in(NS_EVENT),
        };
        event.append_child(child);
        event
    }
}

#[cfg(test)]
mod tests {
    use super::super::SubscriptionState;
    use super::*;
    use crate::jid::Jid;

    const SOLILOQUY: &str = "<entry xmlns='http://www.w3.org/2005/Atom'>
          <title>Soliloquy</title>
          <summary>
To be, or not to be: that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles,
And by opposing end them?
          </summary>
          <link rel='alternate' type='text/html'
                href='http://denmark.lit/2003/12/13/atom03'/>
          <id>tag:denmark.lit,2003:entry-32397</id>
          <published>2003-12-13T18:30:02Z</published>
          <updated>2003-12-13T18:30:02Z</updated>
        </entry>";

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn round_trip(xml: &str) -> Event {
        let element = el(xml);
        assert!(Event::matches(&element));
        let parsed = Event::parse(&element).unwrap();
        assert_eq!(Event::parse(&parsed.to_element()).unwrap(), parsed, "{xml}");
        parsed
    }

    /// XEP-0060 example 102 (subscribers receive event notifications with
    /// payloads; the first message's payload), the same notification as
    /// example 50 (last published item on subscription).
    #[test]
    fn notification_with_payload() {
        let event = round_trip(&format!(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <items node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'>
                   {SOLILOQUY}
                 </item>
               </items>
             </event>"
        ));
        assert_eq!(
            event,
            Event::Items {
                node: "princely_musings".into(),
                items: vec![Item::new(el(SOLILOQUY)).with_id("ae890ac52d0df67ed7cfdf51b644e901")],
                retracts: Vec::new(),
            }
        );
        assert_eq!(event.node(), Some("princely_musings"));
    }

    /// XEP-0060 example 103 (notifications without payload), 104 (with the
    /// publisher; the `[ ... ENTRY ... ]` placeholder is text) and 3 (a
    /// transient notification).
    #[test]
    fn notifications_without_payload() {
        let Event::Items { items, .. } = round_trip(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <items node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'/>
               </items>
             </event>",
        ) else {
            panic!("items")
        };
        assert_eq!(
            items,
            vec![Item::with_id_only("ae890ac52d0df67ed7cfdf51b644e901")]
        );

        let Event::Items { items, .. } = round_trip(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <items node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'
                       publisher='hamlet@denmark.lit'>
                   [ ... ENTRY ... ]
                 </item>
               </items>
             </event>",
        ) else {
            panic!("items")
        };
        assert_eq!(
            items[0].publisher,
            Some("hamlet@denmark.lit".parse::<Jid>().unwrap())
        );
        assert_eq!(items[0].payload, None);

        assert_eq!(
            round_trip(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <items node='elsinore/doorbell'/>
                 </event>"
            ),
            Event::Items {
                node: "elsinore/doorbell".into(),
                items: Vec::new(),
                retracts: Vec::new()
            }
        );
    }

    /// XEP-0060 example 119 (subscribers are notified of deletion).
    #[test]
    fn retract_notification() {
        assert_eq!(
            round_trip(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <items node='princely_musings'>
                     <retract id='ae890ac52d0df67ed7cfdf51b644e901'/>
                   </items>
                 </event>"
            ),
            Event::Items {
                node: "princely_musings".into(),
                items: Vec::new(),
                retracts: vec!["ae890ac52d0df67ed7cfdf51b644e901".into()]
            }
        );
    }

    /// XEP-0060 example 161 (subscribers are notified of node deletion).
    #[test]
    fn delete_notification() {
        assert_eq!(
            round_trip(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <delete node='princely_musings'>
                     <redirect uri='xmpp:hamlet@denmark.lit?;node=blog'/>
                   </delete>
                 </event>"
            ),
            Event::Delete {
                node: "princely_musings".into(),
                redirect: Some("xmpp:hamlet@denmark.lit?;node=blog".into())
            }
        );
    }

    /// XEP-0060 example 166 (subscribers are notified of node purge).
    #[test]
    fn purge_notification() {
        assert_eq!(
            round_trip(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <purge node='princely_musings'/>
                 </event>"
            ),
            Event::Purge {
                node: "princely_musings".into()
            }
        );
    }

    /// XEP-0060 example 152 (configuration change, notification only) and
    /// 153 (with the form, abridged).
    #[test]
    fn configuration_notification() {
        assert_eq!(
            round_trip(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <configuration node='princely_musings'/>
                 </event>"
            ),
            Event::Configuration {
                node: Some("princely_musings".into()),
                form: None
            }
        );
        let form = "<x xmlns='jabber:x:data' type='result'>
                 <field var='FORM_TYPE' type='hidden'>
                   <value>http://jabber.org/protocol/pubsub#node_config</value>
                 </field>
                 <field var='pubsub#title'><value>Princely Musings (Atom)</value></field>
               </x>";
        let Event::Configuration { form: parsed, .. } = round_trip(&format!(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <configuration node='princely_musings'>{form}</configuration>
             </event>"
        )) else {
            panic!("configuration")
        };
        assert_eq!(parsed, Some(el(form)));
    }

    /// XEP-0060 example 173 (subscription approval notification) and 197
    /// (notification of subscription change).
    #[test]
    fn subscription_notification() {
        let Event::Subscription(subscription) = round_trip(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <subscription node='princely_musings' jid='horatio@denmark.lit' subscription='subscribed'/>
             </event>",
        ) else {
            panic!("subscription")
        };
        assert_eq!(subscription.state, Some(SubscriptionState::Subscribed));
        assert_eq!(
            subscription.jid,
            "horatio@denmark.lit".parse::<Jid>().unwrap()
        );
        let Event::Subscription(subscription) = round_trip(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <subscription node='princely_musings' jid='polonius@denmark.lit' subscription='none'/>
             </event>",
        ) else {
            panic!("subscription")
        };
        assert_eq!(subscription.state, Some(SubscriptionState::None));
    }

    #[test]
    fn malformed_events_are_refused() {
        let parse = |xml: &str| Event::parse(&el(xml));
        assert!(matches!(
            parse("<event xmlns='http://jabber.org/protocol/pubsub'><purge node='n'/></event>"),
            Err(PayloadError::WrongElement { .. })
        ));
        assert_eq!(
            parse("<event xmlns='http://jabber.org/protocol/pubsub#event'><items/></event>"),
            Err(PayloadError::MissingAttribute {
                element: "items",
                attribute: "node"
            })
        );
        assert_eq!(
            parse(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><retract/></items></event>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "retract",
                attribute: "id"
            })
        );
        // XEP-0248 collection events are not modelled.
        assert!(matches!(
            parse(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'><collection node='c'/></event>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "event",
                ..
            })
        ));
        assert!(matches!(
            parse(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='a'/><purge node='b'/></event>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "event",
                ..
            })
        ));
        assert!(matches!(
            parse(
                "<event xmlns='http://jabber.org/protocol/pubsub#event'>
                   <items node='n'><item publisher='not a jid@'/></items>
                 </event>"
            ),
            Err(PayloadError::InvalidJid {
                element: "item",
                ..
            })
        ));
    }
}
