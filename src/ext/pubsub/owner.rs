//! `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/>`: the requests
//! of node owners, and their results.

use minidom::Element;

use super::{
    EntityAffiliation, NS_OWNER, Subscription, form_child, node_attr, opt_attr, single_child,
    with_form,
};
use crate::ext::{Payload, PayloadError, expect, required_attr, set_attr, set_opt_attr};

/// The children of an owner `<pubsub/>` that make a request or result.
const REQUESTS: &[&str] = &[
    "affiliations",
    "configure",
    "default",
    "delete",
    "purge",
    "subscriptions",
];

/// The payload of a node owner's iq, or of its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSubOwner {
    /// Get or set a node's configuration (XEP-0060 section 8.2): the
    /// request for the form, the form, or the form submitted.
    Configure {
        /// The NodeID (absent: the root collection node, or a request the
        /// service refuses with `nodeid-required`).
        node: Option<String>,
        /// The `pubsub#node_config` data form, as a raw element.
        form: Option<Element>,
    },
    /// The default node configuration (XEP-0060 section 8.3): the request
    /// (no form) or the result.
    Default {
        /// The `pubsub#node_config` data form, as a raw element.
        form: Option<Element>,
    },
    /// Delete a node (XEP-0060 section 8.4).
    Delete {
        /// The NodeID.
        node: String,
        /// The URI of a node replacing it, to redirect subscribers to.
        redirect: Option<String>,
    },
    /// Delete all items of a node (XEP-0060 section 8.5).
    Purge {
        /// The NodeID.
        node: String,
    },
    /// A node's subscriptions (XEP-0060 section 8.8): the request (none),
    /// the list, or the changes to make. Entries have no `node` of their
    /// own.
    Subscriptions {
        /// The NodeID.
        node: String,
        /// The subscriptions.
        subscriptions: Vec<Subscription>,
    },
    /// A node's affiliations (XEP-0060 section 8.9): the request (none),
    /// the list, or the changes to make.
    Affiliations {
        /// The NodeID.
        node: String,
        /// The affiliations.
        affiliations: Vec<EntityAffiliation>,
    },
}

impl PubSubOwner {
    /// Requests the configuration form of `node`.
    pub fn configure(node: impl Into<String>) -> Self {
        Self::Configure {
            node: Some(node.into()),
            form: None,
        }
    }

    /// Deletes `node`, without redirection.
    pub fn delete(node: impl Into<String>) -> Self {
        Self::Delete {
            node: node.into(),
            redirect: None,
        }
    }

    /// Deletes all items of `node`.
    pub fn purge(node: impl Into<String>) -> Self {
        Self::Purge { node: node.into() }
    }

    /// The NodeID the payload is about, if it names one.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Configure { node, .. } => node.as_deref(),
            Self::Default { .. } => None,
            Self::Delete { node, .. }
            | Self::Purge { node }
            | Self::Subscriptions { node, .. }
            | Self::Affiliations { node, .. } => Some(node),
        }
    }
}

impl Payload for PubSubOwner {
    fn matches(element: &Element) -> bool {
        element.is("pubsub", NS_OWNER)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "pubsub", NS_OWNER)?;
        let child = single_child(element, NS_OWNER, REQUESTS, "pubsub")?;
        Ok(match child.name() {
            "configure" => Self::Configure {
                node: opt_attr(child, "node"),
                form: form_child(child),
            },
            "default" => Self::Default {
                form: form_child(child),
            },
            "delete" => Self::Delete {
                node: node_attr(child, "delete")?,
                redirect: redirect_of(child, NS_OWNER)?,
            },
            "purge" => Self::Purge {
                node: node_attr(child, "purge")?,
            },
            "subscriptions" => Self::Subscriptions {
                node: node_attr(child, "subscriptions")?,
                subscriptions: child
                    .children()
                    .filter(|sub| sub.is("subscription", NS_OWNER))
                    .map(|sub| Subscription::parse_in(sub, NS_OWNER))
                    .collect::<Result<_, _>>()?,
            },
            // `single_child` returns only the names above, and
            // `affiliations` is the one left.
            _ => Self::Affiliations {
                node: node_attr(child, "affiliations")?,
                affiliations: child
                    .children()
                    .filter(|affiliation| affiliation.is("affiliation", NS_OWNER))
                    .map(EntityAffiliation::parse)
                    .collect::<Result<_, _>>()?,
            },
        })
    }

    fn to_element(&self) -> Element {
        let mut pubsub = Element::bare("pubsub", NS_OWNER);
        let child = match self {
            Self::Configure { node, form } => {
                let mut configure = with_form("configure", NS_OWNER, form.as_ref());
                set_opt_attr(&mut configure, "node", node.as_deref());
                configure
            }
            Self::Default { form } => with_form("default", NS_OWNER, form.as_ref()),
            Self::Delete { node, redirect } => delete_element(NS_OWNER, node, redirect.as_deref()),
            Self::Purge { node } => {
                let mut purge = Element::bare("purge", NS_OWNER);
                set_attr(&mut purge, "node", node.as_str());
                purge
            }
            Self::Subscriptions {
                node,
                subscriptions,
            } => {
                let mut element = Element::bare("subscriptions", NS_OWNER);
                set_attr(&mut element, "node", node.as_str());
                for subscription in subscriptions {
                    element.append_child(subscription.to_element_in(NS_OWNER));
                }
                element
            }
            Self::Affiliations { node, affiliations } => {
                let mut element = Element::bare("affiliations", NS_OWNER);
                set_attr(&mut element, "node", node.as_str());
                for affiliation in affiliations {
                    element.append_child(affiliation.to_element());
                }
                element
            }
        };
        pubsub.append_child(child);
        pubsub
    }
}

/// The `uri` of the `<redirect/>` child of a `<delete/>` in `ns`.
pub(super) fn redirect_of(delete: &Element, ns: &str) -> Result<Option<String>, PayloadError> {
    delete
        .get_child("redirect", ns)
        .map(|redirect| required_attr(redirect, "uri", "redirect").map(str::to_owned))
        .transpose()
}

/// `<delete node=node><redirect uri=redirect/></delete>` in `ns`.
pub(super) fn delete_element(ns: &str, node: &str, redirect: Option<&str>) -> Element {
    let mut delete = Element::bare("delete", ns);
    set_attr(&mut delete, "node", node);
    if let Some(uri) = redirect {
        let mut element = Element::bare("redirect", ns);
        set_attr(&mut element, "uri", uri);
        delete.append_child(element);
    }
    delete
}

#[cfg(test)]
mod tests {
    use super::super::{Affiliation, SubscriptionState};
    use super::*;
    use crate::jid::Jid;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    fn round_trip(xml: &str) -> PubSubOwner {
        let element = el(xml);
        assert!(PubSubOwner::matches(&element));
        let parsed = PubSubOwner::parse(&element).unwrap();
        assert_eq!(
            PubSubOwner::parse(&parsed.to_element()).unwrap(),
            parsed,
            "{xml}"
        );
        parsed
    }

    /// XEP-0060 example 141 (owner requests configuration form) and 142
    /// (service responds with the form; abridged to three of its fields).
    #[test]
    fn configure_form_get_and_result() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <configure node='princely_musings'/>
                 </pubsub>"
            ),
            PubSubOwner::configure("princely_musings")
        );
        let form = "<x xmlns='jabber:x:data' type='form'>
                 <field var='FORM_TYPE' type='hidden'>
                   <value>http://jabber.org/protocol/pubsub#node_config</value>
                 </field>
                 <field var='pubsub#title' type='text-single'
                        label='A friendly name for the node'/>
                 <field var='pubsub#deliver_notifications' type='boolean'
                        label='Whether to deliver event notifications'>
                   <value>true</value>
                 </field>
               </x>";
        let result = round_trip(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <configure node='princely_musings'>{form}</configure>
             </pubsub>"
        ));
        assert_eq!(
            result,
            PubSubOwner::Configure {
                node: Some("princely_musings".into()),
                form: Some(el(form))
            }
        );
    }

    /// XEP-0060 example 148 (owner submits the form, abridged) and 149
    /// (owner cancels).
    #[test]
    fn configure_submit_and_cancel() {
        let PubSubOwner::Configure { form, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <configure node='princely_musings'>
                 <x xmlns='jabber:x:data' type='submit'>
                   <field var='FORM_TYPE' type='hidden'>
                     <value>http://jabber.org/protocol/pubsub#node_config</value>
                   </field>
                   <field var='pubsub#title'><value>Princely Musings (Atom)</value></field>
                   <field var='pubsub#access_model'><value>roster</value></field>
                   <field var='pubsub#roster_groups_allowed'>
                     <value>friends</value>
                     <value>servants</value>
                     <value>courtiers</value>
                   </field>
                 </x>
               </configure>
             </pubsub>",
        ) else {
            panic!("configure")
        };
        assert_eq!(form.unwrap().attr("type"), Some("submit"));
        let PubSubOwner::Configure { form, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <configure node='princely_musings'>
                 <x xmlns='jabber:x:data' type='cancel'/>
               </configure>
             </pubsub>",
        ) else {
            panic!("configure")
        };
        assert_eq!(form, Some(el("<x xmlns='jabber:x:data' type='cancel'/>")));
    }

    /// XEP-0060 example 154 (default node configuration request) and 155
    /// (result, abridged).
    #[test]
    fn default_configuration() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><default/></pubsub>"
            ),
            PubSubOwner::Default { form: None }
        );
        let PubSubOwner::Default { form } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <default>
                 <x xmlns='jabber:x:data' type='form'>
                   <field var='FORM_TYPE' type='hidden'>
                     <value>http://jabber.org/protocol/pubsub#node_config</value>
                   </field>
                 </x>
               </default>
             </pubsub>",
        ) else {
            panic!("default")
        };
        assert!(form.is_some());
    }

    /// XEP-0060 example 158 (owner deletes a node) and 159 (with
    /// redirection).
    #[test]
    fn delete() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <delete node='princely_musings'/>
                 </pubsub>"
            ),
            PubSubOwner::delete("princely_musings")
        );
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <delete node='princely_musings'>
                     <redirect uri='xmpp:hamlet@denmark.lit?;node=blog'/>
                   </delete>
                 </pubsub>"
            ),
            PubSubOwner::Delete {
                node: "princely_musings".into(),
                redirect: Some("xmpp:hamlet@denmark.lit?;node=blog".into())
            }
        );
    }

    /// XEP-0060 example 164 (owner purges all items from a node).
    #[test]
    fn purge() {
        let purge = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <purge node='princely_musings'/>
             </pubsub>",
        );
        assert_eq!(purge, PubSubOwner::purge("princely_musings"));
        assert_eq!(purge.node(), Some("princely_musings"));
    }

    /// XEP-0060 examples 185, 186 and 190 (manage subscriptions).
    #[test]
    fn subscriptions() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <subscriptions node='princely_musings'/>
                 </pubsub>"
            ),
            PubSubOwner::Subscriptions {
                node: "princely_musings".into(),
                subscriptions: Vec::new()
            }
        );
        let PubSubOwner::Subscriptions { subscriptions, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <subscriptions node='princely_musings'>
                 <subscription jid='hamlet@denmark.lit' subscription='subscribed'/>
                 <subscription jid='polonius@denmark.lit' subscription='unconfigured'/>
                 <subscription jid='bernardo@denmark.lit' subscription='subscribed' subid='123-abc'/>
                 <subscription jid='bernardo@denmark.lit' subscription='subscribed' subid='004-yyy'/>
               </subscriptions>
             </pubsub>",
        ) else {
            panic!("subscriptions")
        };
        assert_eq!(subscriptions.len(), 4);
        assert_eq!(subscriptions[1].jid, jid("polonius@denmark.lit"));
        assert_eq!(
            subscriptions[1].state,
            Some(SubscriptionState::Unconfigured)
        );
        assert_eq!(subscriptions[1].node, None);
        assert_eq!(subscriptions[3].subid.as_deref(), Some("004-yyy"));

        let PubSubOwner::Subscriptions { subscriptions, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <subscriptions node='princely_musings'>
                 <subscription jid='bard@shakespeare.lit' subscription='subscribed'/>
               </subscriptions>
             </pubsub>",
        ) else {
            panic!("subscriptions")
        };
        assert_eq!(subscriptions[0].state, Some(SubscriptionState::Subscribed));
    }

    /// XEP-0060 examples 198, 199 and 203 (manage affiliations).
    #[test]
    fn affiliations() {
        assert_eq!(
            round_trip(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <affiliations node='princely_musings'/>
                 </pubsub>"
            )
            .node(),
            Some("princely_musings")
        );
        let PubSubOwner::Affiliations { affiliations, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <affiliations node='princely_musings'>
                 <affiliation jid='hamlet@denmark.lit' affiliation='owner'/>
                 <affiliation jid='polonius@denmark.lit' affiliation='outcast'/>
               </affiliations>
             </pubsub>",
        ) else {
            panic!("affiliations")
        };
        assert_eq!(
            affiliations,
            vec![
                EntityAffiliation {
                    jid: jid("hamlet@denmark.lit"),
                    affiliation: Affiliation::Owner
                },
                EntityAffiliation {
                    jid: jid("polonius@denmark.lit"),
                    affiliation: Affiliation::Outcast
                },
            ]
        );
        let PubSubOwner::Affiliations { affiliations, .. } = round_trip(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
               <affiliations node='princely_musings'>
                 <affiliation jid='bard@shakespeare.lit' affiliation='publisher'/>
               </affiliations>
             </pubsub>",
        ) else {
            panic!("affiliations")
        };
        assert_eq!(affiliations[0].affiliation, Affiliation::Publisher);
    }

    #[test]
    fn malformed_owner_requests_are_refused() {
        let parse = |xml: &str| PubSubOwner::parse(&el(xml));
        assert!(matches!(
            parse("<pubsub xmlns='http://jabber.org/protocol/pubsub'><purge node='n'/></pubsub>"),
            Err(PayloadError::WrongElement { .. })
        ));
        assert_eq!(
            parse("<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete/></pubsub>"),
            Err(PayloadError::MissingAttribute {
                element: "delete",
                attribute: "node"
            })
        );
        assert_eq!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='n'><redirect/></delete></pubsub>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "redirect",
                attribute: "uri"
            })
        );
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='a'/><delete node='a'/></pubsub>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "pubsub",
                ..
            })
        ));
        // A subscribe request in the owner namespace is no owner request.
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscribe node='n' jid='a@b'/></pubsub>"
            ),
            Err(PayloadError::InvalidStructure {
                element: "pubsub",
                ..
            })
        ));
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <subscriptions node='n'><subscription jid='a@b' subscription='sure'/></subscriptions>
                 </pubsub>"
            ),
            Err(PayloadError::InvalidValue { element: "subscription", .. })
        ));
        assert!(matches!(
            parse(
                "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
                   <affiliations node='n'><affiliation jid='' affiliation='owner'/></affiliations>
                 </pubsub>"
            ),
            Err(PayloadError::InvalidJid {
                element: "affiliation",
                ..
            })
        ));
    }
}
