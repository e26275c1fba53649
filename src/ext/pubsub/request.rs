//! `<pubsub xmlns='http://jabber.org/protocol/pubsub'/>`: the requests of
//! publishers and subscribers, and their results.

use minidom::Element;

use super::{
    Item, NS, NodeAffiliation, Subscription, bool_attr, form_child, node_attr, opt_attr,
    single_child, with_form,
};
use crate::ext::{
    Payload, PayloadError, expect, parsed_attr, required_attr, required_jid_attr, set_attr,
    set_opt_attr,
};
use crate::jid::Jid;

/// The children of `<pubsub/>` that make a request or result.
/// `<configure/>` and `<publish-options/>` accompany `<create/>` and
/// `<publish/>`; `<options/>` is a request of its own unless it accompanies
/// `<subscribe/>` or `<subscription/>`.
const REQUESTS: &[&str] = &[
    "affiliations",
    "create",
    "default",
    "items",
    "options",
    "publish",
    "retract",
    "subscribe",
    "subscription",
    "subscriptions",
    "unsubscribe",
];

/// [`REQUESTS`] without `options`, for a `<pubsub/>` that has
/// `<subscribe/>` or `<subscription/>`.
const REQUESTS_BUT_OPTIONS: &[&str] = &[
    "affiliations",
    "create",
    "default",
    "items",
    "publish",
    "retract",
    "subscribe",
    "subscription",
    "subscriptions",
    "unsubscribe",
];

/// The payload of a publisher's or subscriber's iq, or of its result.
///
/// A request and its result often share an element: a publish result is a
/// [`PubSub::Publish`] whose item has only the ItemID, and a request for
/// items and its result are both [`PubSub::Items`] (the request's items
/// carry only an ItemID). The iq type tells them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSub {
    /// Publish an item (XEP-0060 section 7.1), or its result.
    Publish {
        /// The NodeID.
        node: String,
        /// The item (XEP-0060 allows at most one; more are kept).
        items: Vec<Item>,
        /// The `pubsub#publish-options` data form, as a raw element.
        publish_options: Option<Element>,
    },
    /// Delete items from a node (XEP-0060 section 7.2).
    Retract {
        /// The NodeID.
        node: String,
        /// Whether subscribers are to be notified.
        notify: bool,
        /// The ItemIDs to delete.
        ids: Vec<String>,
    },
    /// Retrieve items (XEP-0060 section 6.5), or the items retrieved.
    Items {
        /// The NodeID.
        node: String,
        /// In a request, how many of the most recent items to return.
        max_items: Option<u32>,
        /// In a request, the subscription to retrieve for.
        subid: Option<String>,
        /// In a request, the items asked for by ItemID (none: all items);
        /// in a result, the items.
        items: Vec<Item>,
    },
    /// Subscribe to a node (XEP-0060 section 6.1).
    Subscribe {
        /// The NodeID (absent: the root collection node).
        node: Option<String>,
        /// The JID to subscribe.
        jid: Jid,
        /// Subscription options submitted with the request (the
        /// `pubsub#subscribe_options` data form, as a raw element).
        options: Option<Element>,
    },
    /// Unsubscribe from a node (XEP-0060 section 6.2).
    Unsubscribe {
        /// The NodeID.
        node: Option<String>,
        /// The subscribed JID.
        jid: Jid,
        /// The subscription, when the JID has several.
        subid: Option<String>,
    },
    /// The requester's subscriptions (XEP-0060 section 5.6): the request
    /// (no subscriptions) or the result.
    Subscriptions {
        /// Only the subscriptions to this node.
        node: Option<String>,
        /// The subscriptions.
        subscriptions: Vec<Subscription>,
    },
    /// A subscription: the result of a subscribe or unsubscribe request. The
    /// `<options/>` a service may add to it (XEP-0060 section 6.3.7) is
    /// not kept.
    Subscription(Subscription),
    /// The requester's affiliations (XEP-0060 section 5.7): the request (no
    /// affiliations) or the result.
    Affiliations {
        /// Only the affiliation with this node.
        node: Option<String>,
        /// The affiliations.
        affiliations: Vec<NodeAffiliation>,
    },
    /// Create a node (XEP-0060 section 8.1), or the result naming the node
    /// created.
    Create {
        /// The NodeID; absent to ask for an instant node.
        node: Option<String>,
        /// The `pubsub#node_config` data form of a create-and-configure
        /// request, as a raw element.
        configure: Option<Element>,
    },
    /// Get or set subscription options (XEP-0060 section 6.3).
    Options {
        /// The NodeID.
        node: Option<String>,
        /// The subscribed JID.
        jid: Jid,
        /// The subscription, when the JID has several.
        subid: Option<String>,
        /// The `pubsub#subscribe_options` data form (absent in a get).
        form: Option<Element>,
    },
    /// Default subscription options (XEP-0060 section 6.4): the request
    /// (no form) or the result.
    Default {
        /// The node (absent: the service's defaults).
        node: Option<String>,
        /// The `pubsub#subscribe_options` data form.
        form: Option<Element>,
    },
}

impl PubSub {
    /// Publishes `item` to `node`.
    pub fn publish(node: impl Into<String>, item: Item) -> Self {
        Self::Publish {
            node: node.into(),
            items: vec![item],
            publish_options: None,
        }
    }

    /// Deletes the item `id` from `node`, without notification.
    pub fn retract(node: impl Into<String>, id: impl Into<String>) -> Self {
        Self::Retract {
            node: node.into(),
            notify: false,
            ids: vec![id.into()],
        }
    }

    /// Requests all items of `node`.
    pub fn items(node: impl Into<String>) -> Self {
        Self::items_result(node, Vec::new())
    }

    /// Requests the items of `node` with the given ItemIDs.
    pub fn items_by_id<I: Into<String>>(
        node: impl Into<String>,
        ids: impl IntoIterator<Item = I>,
    ) -> Self {
        Self::items_result(node, ids.into_iter().map(Item::with_id_only).collect())
    }

    /// Requests the `max_items` most recent items of `node`.
    pub fn last_items(node: impl Into<String>, max_items: u32) -> Self {
        Self::Items {
            node: node.into(),
            max_items: Some(max_items),
            subid: None,
            items: Vec::new(),
        }
    }

    /// The result of an items request.
    pub fn items_result(node: impl Into<String>, items: Vec<Item>) -> Self {
        Self::Items {
            node: node.into(),
            max_items: None,
            subid: None,
            items,
        }
    }

    /// Subscribes `jid` to `node`.
    pub fn subscribe(node: impl Into<String>, jid: Jid) -> Self {
        Self::Subscribe {
            node: Some(node.into()),
            jid,
            options: None,
        }
    }

    /// Unsubscribes `jid` from `node`.
    pub fn unsubscribe(node: impl Into<String>, jid: Jid) -> Self {
        Self::Unsubscribe {
            node: Some(node.into()),
            jid,
            subid: None,
        }
    }

    /// Creates `node` with the default configuration; `None` asks for an
    /// instant node.
    pub fn create(node: Option<String>) -> Self {
        Self::Create {
            node,
            configure: None,
        }
    }

    /// The NodeID the payload is about, if it names one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Publish { node, .. } | Self::Retract { node, .. } | Self::Items { node, .. } => {
                Some(node)
            }
            Self::Subscribe { node, .. }
            | Self::Unsubscribe { node, .. }
            | Self::Subscriptions { node, .. }
            | Self::Affiliations { node, .. }
            | Self::Create { node, .. }
            | Self::Options { node, .. }
            | Self::Default { node, .. } => node.as_deref(),
            Self::Subscription(subscription) => subscription.node.as_deref(),
        }
    }
}

impl Payload for PubSub {
    fn matches(element: &Element) -> bool {
        element.is("pubsub", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "pubsub", NS)?;
        let subscribing =
            element.has_child("subscribe", NS) || element.has_child("subscription", NS);
        let names = if subscribing {
            REQUESTS_BUT_OPTIONS
        } else {
            REQUESTS
        };
        let child = single_child(element, NS, names, "pubsub")?;
        let companion_form = |name: &str| element.get_child(name, NS).and_then(form_child);
        Ok(match child.name() {
            "publish" => Self::Publish {
                node: node_attr(child, "publish")?,
                items: items_of(child)?,
                publish_options: companion_form("publish-options"),
            },
            "retract" => Self::Retract {
                node: node_attr(child, "retract")?,
                notify: bool_attr(child, "notify", "retract")?,
                ids: child
                    .children()
                    .filter(|item| item.is("item", NS))
                    .map(|item| required_attr(item, "id", "item").map(str::to_owned))
                    .collect::<Result<_, _>>()?,
            },
            "items" => Self::Items {
                node: node_attr(child, "items")?,
                max_items: parsed_attr(child, "max_items", "items")?,
                subid: opt_attr(child, "subid"),
                items: items_of(child)?,
            },
            "subscribe" => Self::Subscribe {
                node: opt_attr(child, "node"),
                jid: required_jid_attr(child, "jid", "subscribe")?,
                options: companion_form("options"),
            },
            "unsubscribe" => Self::Unsubscribe {
                node: opt_attr(child, "node"),
                jid: required_jid_attr(child, "jid", "unsubscribe")?,
                subid: opt_attr(child, "subid"),
            },
            "subscriptions" => Self::Subscriptions {
                node: opt_attr(child, "node"),
                subscriptions: child
                    .children()
                    .filter(|sub| sub.is("subscription", NS))
                    .map(|sub| Subscription::parse_in(sub, NS))
                    .collect::<Result<_, _>>()?,
            },
            "subscription" => Self::Subscription(Subscription::parse_in(child, NS)?),
            "affiliations" => Self::Affiliations {
                node: opt_attr(child, "node"),
                affiliations: child
                    .children()
                    .filter(|affiliation| affiliation.is("affiliation", NS))
                    .map(NodeAffiliation::parse)
                    .collect::<Result<_, _>>()?,
            },
            "create" => Self::Create {
                node: opt_attr(child, "node"),
                configure: companion_form("configure"),
            },
            "options" => Self::Options {
                node: opt_attr(child, "node"),
                jid: required_jid_attr(child, "jid", "options")?,
                subid: opt_attr(child, "subid"),
                form: form_child(child),
            },
            // `single_child` returns only the names above, and `default` is
            // the one left.
            _ => Self::Default {
                node: opt_attr(child, "node"),
                form: form_child(child),
            },
        })
    }

    fn to_element(&self) -> Element {
        let mut pubsub = Element::bare("pubsub", NS);
        match self {
            Self::Publish {
                node,
                items,
                publish_options,
            } => {
                let mut publish = Element::bare("publish", NS);
                set_attr(&mut publish, "node", node.as_str());
                for item in items {
                    publish.append_child(item.to_element_in(NS));
                }
                pubsub.append_child(publish);
                if let Some(form) = publish_options {
                    pubsub.append_child(with_form("publish-options", NS, Some(form)));
                }
            }
            Self::Retract { node, notify, ids } => {
                let mut retract = Element::bare("retract", NS);
                set_attr(&mut retract, "node", node.as_str());
                if *notify {
                    set_attr(&mut retract, "notify", "true");
                }
                for id in ids {
                    retract.append_child(Item::with_id_only(id.as_str()).to_element_in(NS));
                }
                pubsub.append_child(retract);
            }
            Self::Items {
                node,
                max_items,
                subid,
                items,
            } => {
                let mut element = Element::bare("items", NS);
                set_attr(&mut element, "node", node.as_str());
                set_opt_attr(
                    &mut element,
                    "max_items",
                    max_items.map(|max| max.to_string()),
                );
                set_opt_attr(&mut element, "subid", subid.as_deref());
                for item in items {
                    element.append_child(item.to_element_in(NS));
                }
                pubsub.append_child(element);
            }
            Self::Subscribe { node, jid, options } => {
                let mut subscribe = Element::bare("subscribe", NS);
                set_opt_attr(&mut subscribe, "node", node.as_deref());
                set_attr(&mut subscribe, "jid", jid.as_str());
                pubsub.append_child(subscribe);
                if let Some(form) = options {
                    pubsub.append_child(with_form("options", NS, Some(form)));
                }
            }
            Self::Unsubscribe { node, jid, subid } => {
                let mut unsubscribe = Element::bare("unsubscribe", NS);
                set_opt_attr(&mut unsubscribe, "node", node.as_deref());
                set_attr(&mut unsubscribe, "jid", jid.as_str());
                set_opt_attr(&mut unsubscribe, "subid", subid.as_deref());
                pubsub.append_child(unsubscribe);
            }
            Self::Subscriptions {
                node,
                subscriptions,
            } => {
                let mut element = Element::bare("subscriptions", NS);
                set_opt_attr(&mut element, "node", node.as_deref());
                for subscription in subscriptions {
                    element.append_child(subscription.to_element_in(NS));
                }
                pubsub.append_child(element);
            }
            Self::Subscription(subscription) => {
                pubsub.append_child(subscription.to_element_in(NS));
            }
            Self::Affiliations { node, affiliations } => {
                let mut element = Element::bare("affiliations", NS);
                set_opt_attr(&mut element, "node", node.as_deref());
                for affiliation in affiliations {
                    element.append_child(affiliation.to_element());
                }
                pubsub.append_child(element);
            }
            Self::Create { node, configure } => {
                let mut create = Element::bare("create", NS);
                set_opt_attr(&mut create, "node", node.as_deref());
                pubsub.append_child(create);
                if let Some(form) = configure {
                    pubsub.append_child(with_form("configure", NS, Some(form)));
                }
            }
            Self::Options {
                node,
                jid,
                subid,
                form,
            } => {
                let mut options = with_form("options", NS, form.as_ref());
                set_opt_attr(&mut options, "node", node.as_deref());
                set_attr(&mut options, "jid", jid.as_str());
                set_opt_attr(&mut options, "subid", subid.as_deref());
                pubsub.append_child(options);
            }
            Self::Default { node, form } => {
                let mut default = with_form("default", NS, form.as_ref());
                set_opt_attr(&mut default, "node", node.as_deref());
                pubsub.append_child(default);
            }
        }
        pubsub
    }
}

/// The `<item/>` children of `element`.
fn items_of(element: &Element) -> Result<Vec<Item>, PayloadError> {
    element
        .children()
        .filter(|item| item.is("item", NS))
        .map(|item| Item::parse_in(item, NS))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Affiliation, SubscribeOptions, SubscriptionState};
    use super::*;

    /// The Atom entry of XEP-0060's publish examples.
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

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    /// Parses, checks `matches`, and checks that serializing and parsing
    /// again gives the same value.
    fn round_trip(xml: &str) -> PubSub {
        let element = el(xml);
        assert!(PubSub::matches(&element));
        let parsed = PubSub::parse(&element).unwrap();
        assert_eq!(
            PubSub::parse(&parsed.to_element()).unwrap(),
            parsed,
            "{xml}"
        );
        parsed
    }

    /// XEP-0060 example 32 (entity subscribes to a node) and example 33
    /// (service replies with success).
    #[test]
    fn subscribe_and_subscription_result() {
        let request = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscribe
                   node='princely_musings'
                   jid='francisco@denmark.lit'/>
             </pubsub>",
        );
        assert_eq!(
            request,
            PubSub::subscribe("princely_musings", jid("francisco@denmark.lit"))
        );

        let result = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription
                   node='princely_musings'
                   jid='francisco@denmark.lit'
                   subid='ba49252aaa4f5d320c24d3766f0bdcade78c78d3'
                   subscription='subscribed'/>
             </pubsub>",
        );
        assert_eq!(
            result,
            PubSub::Subscription(
                Subscription::new(
                    "princely_musings",
                    jid("francisco@denmark.lit"),
                    SubscriptionState::Subscribed
                )
                .with_subid("ba49252aaa4f5d320c24d3766f0bdcade78c78d3")
            )
        );
        assert_eq!(result.node(), Some("princely_musings"));
    }

    /// XEP-0060 example 46 (pending), 47 (configuration required) and 49
    /// (options supported but not required).
    #[test]
    fn subscription_states_and_options() {
        let PubSub::Subscription(pending) = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription node='princely_musings' jid='francisco@denmark.lit' subscription='pending'/>
             </pubsub>",
        ) else {
            panic!("a subscription")
        };
        assert_eq!(pending.state, Some(SubscriptionState::Pending));
        assert_eq!(pending.options, None);

        let PubSub::Subscription(required) = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription node='princely_musings' jid='francisco@denmark.lit' subscription='unconfigured'>
                 <subscribe-options>
                   <required/>
                 </subscribe-options>
               </subscription>
             </pubsub>",
        ) else {
            panic!("a subscription")
        };
        assert_eq!(required.state, Some(SubscriptionState::Unconfigured));
        assert_eq!(required.options, Some(SubscribeOptions { required: true }));

        let PubSub::Subscription(supported) = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription node='princely_musings' jid='francisco@denmark.lit' subscription='unconfigured'>
                 <subscribe-options/>
               </subscription>
             </pubsub>",
        ) else {
            panic!("a subscription")
        };
        assert_eq!(
            supported.options,
            Some(SubscribeOptions { required: false })
        );
    }

    /// XEP-0060 example 51 (entity unsubscribes) and 52 (success).
    #[test]
    fn unsubscribe() {
        let request = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <unsubscribe node='princely_musings' jid='francisco@denmark.lit'/>
             </pubsub>",
        );
        assert_eq!(
            request,
            PubSub::unsubscribe("princely_musings", jid("francisco@denmark.lit"))
        );
        let PubSub::Subscription(result) = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription node='princely_musings' jid='francisco@denmark.lit' subscription='none'
                   subid='ba49252aaa4f5d320c24d3766f0bdcade78c78d3'/>
             </pubsub>",
        ) else {
            panic!("a subscription")
        };
        assert_eq!(result.state, Some(SubscriptionState::None));
    }

    /// XEP-0060 examples 20, 21, 22, 24 and 25 (retrieve subscriptions).
    #[test]
    fn subscriptions() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/></pubsub>"
            ),
            PubSub::Subscriptions {
                node: None,
                subscriptions: Vec::new()
            }
        );
        let PubSub::Subscriptions { node, subscriptions } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscriptions>
                 <subscription node='node1' jid='francisco@denmark.lit' subscription='subscribed'/>
                 <subscription node='node2' jid='francisco@denmark.lit' subscription='subscribed'/>
                 <subscription node='node5' jid='francisco@denmark.lit' subscription='unconfigured'/>
                 <subscription node='node6' jid='francisco@denmark.lit' subscription='subscribed' subid='123-abc'/>
                 <subscription node='node6' jid='francisco@denmark.lit' subscription='subscribed' subid='004-yyy'/>
               </subscriptions>
             </pubsub>",
        ) else {
            panic!("subscriptions")
        };
        assert_eq!(node, None);
        assert_eq!(subscriptions.len(), 5);
        assert_eq!(
            subscriptions[2].state,
            Some(SubscriptionState::Unconfigured)
        );
        assert_eq!(subscriptions[4].subid.as_deref(), Some("004-yyy"));

        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions node='princely_musings'/></pubsub>"
            )
            .node(),
            Some("princely_musings")
        );
        let PubSub::Subscriptions { node, subscriptions } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscriptions node='node6'>
                 <subscription node='node6' jid='francisco@denmark.lit' subscription='subscribed' subid='123-abc'/>
                 <subscription node='node6' jid='francisco@denmark.lit' subscription='subscribed' subid='004-yyy'/>
               </subscriptions>
             </pubsub>",
        ) else {
            panic!("subscriptions")
        };
        assert_eq!(node.as_deref(), Some("node6"));
        assert_eq!(subscriptions.len(), 2);
    }

    /// XEP-0060 examples 26, 27 and 30 (retrieve affiliations).
    #[test]
    fn affiliations() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations/></pubsub>"
            ),
            PubSub::Affiliations {
                node: None,
                affiliations: Vec::new()
            }
        );
        assert_eq!(
            round_trip("<pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations node='node6'/></pubsub>")
                .node(),
            Some("node6")
        );
        let PubSub::Affiliations { affiliations, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <affiliations>
                 <affiliation node='node1' affiliation='owner'/>
                 <affiliation node='node2' affiliation='publisher'/>
                 <affiliation node='node5' affiliation='outcast'/>
                 <affiliation node='node6' affiliation='owner'/>
               </affiliations>
             </pubsub>",
        ) else {
            panic!("affiliations")
        };
        assert_eq!(
            affiliations[1],
            NodeAffiliation {
                node: "node2".into(),
                affiliation: Affiliation::Publisher
            }
        );
        assert_eq!(affiliations.len(), 4);
    }

    /// XEP-0060 examples 59 (options request), 68 (form submission), 71
    /// (subscribe and configure) and 72 (its result).
    #[test]
    fn subscription_options() {
        let PubSub::Options {
            node,
            jid: subscriber,
            subid,
            form,
        } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <options node='princely_musings' jid='francisco@denmark.lit'/>
             </pubsub>",
        )
        else {
            panic!("options")
        };
        assert_eq!(node.as_deref(), Some("princely_musings"));
        assert_eq!(subscriber, jid("francisco@denmark.lit"));
        assert_eq!((subid, form), (None, None));

        let form = "<x xmlns='jabber:x:data' type='submit'>
                 <field var='FORM_TYPE' type='hidden'>
                   <value>http://jabber.org/protocol/pubsub#subscribe_options</value>
                 </field>
                 <field var='pubsub#deliver'><value>1</value></field>
                 <field var='pubsub#digest'><value>0</value></field>
                 <field var='pubsub#include_body'><value>false</value></field>
                 <field var='pubsub#show-values'>
                   <value>chat</value>
                   <value>online</value>
                   <value>away</value>
                 </field>
               </x>";
        let PubSub::Options {
            form: submitted, ..
        } = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <options node='princely_musings' jid='francisco@denmark.lit'>{form}</options>
             </pubsub>"
        ))
        else {
            panic!("options")
        };
        assert_eq!(submitted, Some(el(form)));

        let PubSub::Subscribe { options, .. } = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscribe node='princely_musings' jid='francisco@denmark.lit'/>
               <options>{form}</options>
             </pubsub>"
        )) else {
            panic!("subscribe")
        };
        assert_eq!(options, Some(el(form)));

        let result = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscription node='princely_musings' jid='francisco@denmark.lit'
                   subid='ba49252aaa4f5d320c24d3766f0bdcade78c78d3' subscription='subscribed'/>
               <options>{form}</options>
             </pubsub>"
        ));
        assert!(matches!(result, PubSub::Subscription(_)));
    }

    /// XEP-0060 examples 73 and 74 (default subscription options request)
    /// and 75 (result).
    #[test]
    fn default_subscription_options() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><default node='princely_musings'/></pubsub>"
            ),
            PubSub::Default {
                node: Some("princely_musings".into()),
                form: None
            }
        );
        assert_eq!(
            round_trip("<pubsub xmlns='http://jabber.org/protocol/pubsub'><default/></pubsub>"),
            PubSub::Default {
                node: None,
                form: None
            }
        );
        let PubSub::Default { form, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <default node='princely_musings'>
                 <x xmlns='jabber:x:data' type='result'>
                   <field var='FORM_TYPE' type='hidden'>
                     <value>http://jabber.org/protocol/pubsub#subscribe_options</value>
                   </field>
                   <field var='pubsub#deliver'><value>1</value></field>
                 </x>
               </default>
             </pubsub>",
        ) else {
            panic!("default")
        };
        assert_eq!(form.unwrap().attr("type"), Some("result"));
    }

    /// XEP-0060 example 78 (subscriber requests all items) and 79 (service
    /// returns all items, the first and last of its four entries here).
    #[test]
    fn retrieve_all_items() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='princely_musings'/></pubsub>"
            ),
            PubSub::items("princely_musings")
        );
        let uses_of_this_world = "<entry xmlns='http://www.w3.org/2005/Atom'>
          <title>The Uses of This World</title>
          <summary>
O, that this too too solid flesh would melt
Thaw and resolve itself into a dew!
          </summary>
          <link rel='alternate' type='text/html'
                href='http://denmark.lit/2003/12/13/atom03'/>
          <id>tag:denmark.lit,2003:entry-32396</id>
          <published>2003-12-12T17:47:23Z</published>
          <updated>2003-12-12T17:47:23Z</updated>
        </entry>";
        let result = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <items node='princely_musings'>
                 <item id='368866411b877c30064a5f62b917cffe'>
                   {uses_of_this_world}
                 </item>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'>
                   {SOLILOQUY}
                 </item>
               </items>
             </pubsub>"
        ));
        assert_eq!(
            result,
            PubSub::items_result(
                "princely_musings",
                vec![
                    Item::new(el(uses_of_this_world)).with_id("368866411b877c30064a5f62b917cffe"),
                    Item::new(el(SOLILOQUY)).with_id("ae890ac52d0df67ed7cfdf51b644e901"),
                ]
            )
        );
    }

    /// XEP-0060 example 80 (some items, with result set management: the
    /// `<set/>` is not pubsub's and is left to the caller).
    #[test]
    fn items_with_rsm() {
        let PubSub::Items { items, .. } = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <items node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'>{SOLILOQUY}</item>
               </items>
               <set xmlns='http://jabber.org/protocol/rsm'>
                 <first index='0'>368866411b877c30064a5f62b917cffe</first>
                 <last>4e30f35051b7b8b42abe083742187228</last>
                 <count>19</count>
               </set>
             </pubsub>"
        )) else {
            panic!("items")
        };
        assert_eq!(items.len(), 1);
    }

    /// XEP-0060 examples 82 (specific items by ItemID), 84 (two most
    /// recent), 86 (no items) and 87 (a particular item).
    #[test]
    fn items_requests() {
        let by_id = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <items node='princely_musings'>
                 <item id='368866411b877c30064a5f62b917cffe'/>
                 <item id='4e30f35051b7b8b42abe083742187228'/>
               </items>
             </pubsub>",
        );
        assert_eq!(
            by_id,
            PubSub::items_by_id(
                "princely_musings",
                [
                    "368866411b877c30064a5f62b917cffe",
                    "4e30f35051b7b8b42abe083742187228"
                ]
            )
        );
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
                   <items node='princely_musings' max_items='2'/>
                 </pubsub>"
            ),
            PubSub::last_items("princely_musings", 2)
        );
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='princely_musings'/></pubsub>"
            ),
            PubSub::items_result("princely_musings", Vec::new())
        );
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
                   <items node='princely_musings'><item id='ae890ac52d0df67ed7cfdf51b644e901'/></items>
                 </pubsub>"
            ),
            PubSub::items_by_id("princely_musings", ["ae890ac52d0df67ed7cfdf51b644e901"])
        );
    }

    /// XEP-0060 example 105 (items carry the publisher; the spec's
    /// `[ ... ENTRY ... ]` placeholder is text, so no payload).
    #[test]
    fn items_with_publisher() {
        let PubSub::Items { items, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <items node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'
                       publisher='hamlet@denmark.lit'>
                   [ ... ENTRY ... ]
                 </item>
               </items>
             </pubsub>",
        ) else {
            panic!("items")
        };
        assert_eq!(items[0].publisher, Some(jid("hamlet@denmark.lit")));
        assert_eq!(items[0].payload, None);
    }

    /// XEP-0060 example 100 (publisher publishes an item with an ItemID)
    /// and 101 (service replies with success).
    #[test]
    fn publish_and_result() {
        let request = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <publish node='princely_musings'>
                 <item id='bnd81g37d61f49fgn581'>
                   {SOLILOQUY}
                 </item>
               </publish>
             </pubsub>"
        ));
        assert_eq!(
            request,
            PubSub::publish(
                "princely_musings",
                Item::new(el(SOLILOQUY)).with_id("bnd81g37d61f49fgn581")
            )
        );
        let PubSub::Publish { items, .. } = &request else {
            panic!("publish")
        };
        let entry = items[0].payload.as_ref().unwrap();
        assert!(entry.is("entry", "http://www.w3.org/2005/Atom"));
        assert!(
            entry
                .get_child("summary", "http://www.w3.org/2005/Atom")
                .unwrap()
                .text()
                .contains("To be, or not to be")
        );

        let result = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <publish node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'/>
               </publish>
             </pubsub>",
        );
        assert_eq!(
            result,
            PubSub::Publish {
                node: "princely_musings".into(),
                items: vec![Item::with_id_only("ae890ac52d0df67ed7cfdf51b644e901")],
                publish_options: None,
            }
        );
    }

    /// XEP-0060 example 116 (publishing with options).
    #[test]
    fn publish_with_options() {
        let form = "<x xmlns='jabber:x:data' type='submit'>
                 <field var='FORM_TYPE' type='hidden'>
                   <value>http://jabber.org/protocol/pubsub#publish-options</value>
                 </field>
                 <field var='pubsub#access_model'>
                   <value>presence</value>
                 </field>
               </x>";
        let PubSub::Publish {
            node,
            items,
            publish_options,
        } = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <publish node='princely_musings'>
                 <item id='ae890ac52d0df67ed7cfdf51b644e901'>{SOLILOQUY}</item>
               </publish>
               <publish-options>{form}</publish-options>
             </pubsub>"
        ))
        else {
            panic!("publish")
        };
        assert_eq!(node, "princely_musings");
        assert_eq!(items.len(), 1);
        assert_eq!(publish_options, Some(el(form)));
    }

    /// XEP-0060 example 117 (entity deletes an item from a node), and the
    /// same with notification (section 7.2.2.1).
    #[test]
    fn retract() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
                   <retract node='princely_musings'>
                     <item id='ae890ac52d0df67ed7cfdf51b644e901'/>
                   </retract>
                 </pubsub>"
            ),
            PubSub::retract("princely_musings", "ae890ac52d0df67ed7cfdf51b644e901")
        );
        let PubSub::Retract { notify, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <retract node='princely_musings' notify='1'><item id='a'/></retract>
             </pubsub>",
        ) else {
            panic!("retract")
        };
        assert!(notify);
    }

    /// XEP-0060 example 127 (request to create a node), 133 (instant node),
    /// 134 (result with the generated NodeID) and 136 (create with a
    /// non-default access model).
    #[test]
    fn create() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='princely_musings'/></pubsub>"
            ),
            PubSub::create(Some("princely_musings".into()))
        );
        assert_eq!(
            round_trip("<pubsub xmlns='http://jabber.org/protocol/pubsub'><create/></pubsub>"),
            PubSub::create(None)
        );
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
                   <create node='25e3d37dabbab9541f7523321421edc5bfeb2dae'/>
                 </pubsub>"
            )
            .node(),
            Some("25e3d37dabbab9541f7523321421edc5bfeb2dae")
        );
        let form = "<x xmlns='jabber:x:data' type='submit'>
                   <field var='FORM_TYPE' type='hidden'>
                     <value>http://jabber.org/protocol/pubsub#node_config</value>
                   </field>
                   <field var='pubsub#access_model'><value>whitelist</value></field>
                 </x>";
        let create = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <create node='princely_musings'/>
               <configure>{form}</configure>
             </pubsub>"
        ));
        assert_eq!(
            create,
            PubSub::Create {
                node: Some("princely_musings".into()),
                configure: Some(el(form))
            }
        );
    }

    /// The error of XEP-0060 example 48 echoes the request: it parses as
    /// the subscribe request it echoes.
    #[test]
    fn echoed_request_in_an_error() {
        let PubSub::Subscribe { options, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <subscribe node='princely_musings' jid='francisco@denmark.lit'/>
               <options node='princely_musings' jid='francisco@denmark.lit'>
                 <x xmlns='jabber:x:data' type='submit'/>
               </options>
             </pubsub>",
        ) else {
            panic!("subscribe")
        };
        assert!(options.is_some());
    }

    #[test]
    fn unknown_attributes_and_children_are_ignored() {
        let parsed = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub' extra='1'>
               <unknown/>
               <foo xmlns='urn:foo'/>
               <items node='n' ver='v1'><bar xmlns='urn:bar'/></items>
             </pubsub>",
        );
        assert_eq!(parsed, PubSub::items("n"));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let parse = |xml: &str| PubSub::parse(&el(xml));
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='n'/></pubsub>"
            ),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            parse("<pubsub xmlns='http://jabber.org/protocol/pubsub'/>"),
            Err(PayloadError::InvalidStructure {
                element: "pubsub",
                ..
            })
        ));
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='a'/><items node='b'/></pubsub>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "pubsub",
                ..
            })
        ));
        assert_eq!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish><item/></publish></pubsub>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "publish",
                attribute: "node"
            })
        );
        assert_eq!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n'/></pubsub>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "subscribe",
                attribute: "jid"
            })
        );
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n' jid='a@b@'/></pubsub>"
            ),
            Err(PayloadError::InvalidJid {
                element: "subscribe",
                ..
            })
        ));
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n' max_items='many'/></pubsub>"
            ),
            Err(PayloadError::InvalidValue {
                element: "items",
                ..
            })
        ));
        assert_eq!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='n'><item/></retract></pubsub>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "item",
                attribute: "id"
            })
        );
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='n' notify='yes'/></pubsub>"
            ),
            Err(PayloadError::InvalidValue {
                element: "retract",
                ..
            })
        ));
        assert_eq!(
            parse("<pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='n'/></pubsub>"),
            Err(PayloadError::MissingAttribute {
                element: "options",
                attribute: "jid"
            })
        );
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
                   <publish node='n'><item><a xmlns='urn:a'/><b xmlns='urn:b'/></item></publish>
                 </pubsub>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "item",
                ..
            })
        ));
    }
}
