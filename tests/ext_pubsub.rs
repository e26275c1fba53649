//! Integration tests for `xmpp_kit::ext::pubsub` (XEP-0060) and
//! `xmpp_kit::ext::pep` (XEP-0163): exact serialization of spec examples,
//! flows across the namespaces, and property tests of the round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::Jid;
use xmpp_kit::ext::pubsub::{
    Affiliation, EntityAffiliation, ErrorCondition, Event, Item, NodeAffiliation, PubSub,
    PubSubError, PubSubOwner, SubscribeOptions, Subscription, SubscriptionState,
};
use xmpp_kit::ext::{Payload, PayloadError, pep};
use xmpp_kit::stanza::{DefinedCondition, StanzaError};

fn el(xml: &str) -> Element {
    xml.parse().unwrap()
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

// ---- exact serialization ----------------------------------------------------

/// Values built with the constructors serialize to the spec's XML exactly
/// (the examples without whitespace between elements).
#[test]
fn spec_examples_serialize_exactly() {
    let cases: Vec<(&str, Element, &str)> = vec![
        (
            "XEP-0060 example 32",
            PubSub::subscribe("princely_musings", jid("francisco@denmark.lit")).to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <subscribe node='princely_musings' jid='francisco@denmark.lit'/></pubsub>",
        ),
        (
            "XEP-0060 example 33",
            PubSub::Subscription(
                Subscription::new(
                    "princely_musings",
                    jid("francisco@denmark.lit"),
                    SubscriptionState::Subscribed,
                )
                .with_subid("ba49252aaa4f5d320c24d3766f0bdcade78c78d3"),
            )
            .to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <subscription node='princely_musings' jid='francisco@denmark.lit' \
             subid='ba49252aaa4f5d320c24d3766f0bdcade78c78d3' subscription='subscribed'/></pubsub>",
        ),
        (
            "XEP-0060 example 78",
            PubSub::items("princely_musings").to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='princely_musings'/></pubsub>",
        ),
        (
            "XEP-0060 example 84",
            PubSub::last_items("princely_musings", 2).to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <items node='princely_musings' max_items='2'/></pubsub>",
        ),
        (
            "XEP-0060 example 101",
            PubSub::publish(
                "princely_musings",
                Item::with_id_only("ae890ac52d0df67ed7cfdf51b644e901"),
            )
            .to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='princely_musings'>\
             <item id='ae890ac52d0df67ed7cfdf51b644e901'/></publish></pubsub>",
        ),
        (
            "XEP-0060 example 117",
            PubSub::retract("princely_musings", "ae890ac52d0df67ed7cfdf51b644e901").to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='princely_musings'>\
             <item id='ae890ac52d0df67ed7cfdf51b644e901'/></retract></pubsub>",
        ),
        (
            "XEP-0060 example 133",
            PubSub::create(None).to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'><create/></pubsub>",
        ),
        (
            "XEP-0060 example 141",
            PubSubOwner::configure("princely_musings").to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>\
             <configure node='princely_musings'/></pubsub>",
        ),
        (
            "XEP-0060 example 159",
            PubSubOwner::Delete {
                node: "princely_musings".into(),
                redirect: Some("xmpp:hamlet@denmark.lit?;node=blog".into()),
            }
            .to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='princely_musings'>\
             <redirect uri='xmpp:hamlet@denmark.lit?;node=blog'/></delete></pubsub>",
        ),
        (
            "XEP-0060 example 164",
            PubSubOwner::purge("princely_musings").to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='princely_musings'/></pubsub>",
        ),
        (
            "XEP-0060 example 203",
            PubSubOwner::Affiliations {
                node: "princely_musings".into(),
                affiliations: vec![EntityAffiliation {
                    jid: jid("bard@shakespeare.lit"),
                    affiliation: Affiliation::Publisher,
                }],
            }
            .to_element(),
            "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='princely_musings'>\
             <affiliation jid='bard@shakespeare.lit' affiliation='publisher'/></affiliations></pubsub>",
        ),
        (
            "XEP-0060 example 119",
            Event::Items {
                node: "princely_musings".into(),
                items: Vec::new(),
                retracts: vec!["ae890ac52d0df67ed7cfdf51b644e901".into()],
            }
            .to_element(),
            "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='princely_musings'>\
             <retract id='ae890ac52d0df67ed7cfdf51b644e901'/></items></event>",
        ),
        (
            "XEP-0060 example 166",
            Event::Purge {
                node: "princely_musings".into(),
            }
            .to_element(),
            "<event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='princely_musings'/></event>",
        ),
    ];
    for (name, built, spec) in cases {
        assert_eq!(built, el(spec), "{name}");
    }
}

// ---- flows -----------------------------------------------------------------

/// XEP-0060 section 7.1: a publish request (example 100, with a short
/// entry), the service's result (example 101) and the notification
/// (example 102) carry the same payload.
#[test]
fn publish_result_and_notification() {
    let entry = el(
        "<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title>\
         <id>tag:denmark.lit,2003:entry-32397</id></entry>",
    );
    let request = PubSub::publish("princely_musings", Item::new(entry.clone()));
    let received = PubSub::parse(&el(&String::from(&request.to_element()))).unwrap();
    assert_eq!(received, request);

    // The service assigns an ItemID and answers with it.
    let id = "ae890ac52d0df67ed7cfdf51b644e901";
    let result = PubSub::publish("princely_musings", Item::with_id_only(id));
    let PubSub::Publish { items, .. } = PubSub::parse(&result.to_element()).unwrap() else {
        panic!("publish result")
    };
    assert_eq!(items[0].id.as_deref(), Some(id));

    // And notifies subscribers, stamping the publisher.
    let PubSub::Publish { node, items, .. } = received else {
        panic!("publish")
    };
    let mut item = items.into_iter().next().unwrap().with_id(id);
    item.publisher = Some(jid("hamlet@denmark.lit"));
    let notification = Event::Items {
        node,
        items: vec![item],
        retracts: Vec::new(),
    };
    let Event::Items { items, .. } =
        Event::parse(&el(&String::from(&notification.to_element()))).unwrap()
    else {
        panic!("items event")
    };
    assert_eq!(items[0].payload.as_ref(), Some(&entry));
    assert_eq!(items[0].publisher, Some(jid("hamlet@denmark.lit")));
}

/// The namespaces are not interchangeable.
#[test]
fn namespaces_are_told_apart() {
    let owner = PubSubOwner::purge("n").to_element();
    assert!(!PubSub::matches(&owner));
    assert!(matches!(
        PubSub::parse(&owner),
        Err(PayloadError::WrongElement { .. })
    ));
    let request = PubSub::items("n").to_element();
    assert!(!PubSubOwner::matches(&request));
    assert!(!Event::matches(&request));
    // An owner-namespace subscription list inside a pubsub-namespace
    // request is ignored, leaving nothing to parse.
    let mixed = el("<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
         <subscriptions xmlns='http://jabber.org/protocol/pubsub#owner' node='n'/></pubsub>");
    assert!(matches!(
        PubSub::parse(&mixed),
        Err(PayloadError::InvalidStructure { .. })
    ));
}

/// XEP-0060 example 23's error: `feature-not-implemented` with
/// `<unsupported feature='retrieve-subscriptions'/>`.
#[test]
fn pubsub_error_in_a_stanza_error() {
    let error = el("<error xmlns='jabber:client' type='cancel'>
           <feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
           <unsupported xmlns='http://jabber.org/protocol/pubsub#errors'
                        feature='retrieve-subscriptions'/>
         </error>");
    let stanza_error = StanzaError::parse(&error).unwrap();
    assert_eq!(
        stanza_error.condition,
        DefinedCondition::FeatureNotImplemented
    );
    let application = stanza_error.application.as_ref().unwrap();
    assert!(PubSubError::matches(application));
    let condition = PubSubError::parse(application).unwrap();
    assert_eq!(condition.condition, ErrorCondition::Unsupported);
    assert_eq!(condition.feature.as_deref(), Some("retrieve-subscriptions"));
    assert_eq!(
        DefinedCondition::BadRequest,
        PubSub::parse(&el("<pubsub xmlns='http://jabber.org/protocol/pubsub'/>"))
            .unwrap_err()
            .condition()
    );
}

/// XEP-0163 section 2: Juliet publishes her tune (example 1) and Romeo,
/// who advertises `tune+notify` (example 5), receives it (example 2).
#[test]
fn pep_tune_flow() {
    const NODE: &str = "http://jabber.org/protocol/tune";
    let tune = el(
        "<tune xmlns='http://jabber.org/protocol/tune'><artist>Gerald Finzi</artist>\
         <length>255</length><title>Introduction (Allegro vigoroso)</title><track>1</track></tune>",
    );
    let publish = pep::publish(NODE, None, tune.clone());
    assert_eq!(
        publish.to_element(),
        el(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
             <publish node='http://jabber.org/protocol/tune'><item>{}</item></publish></pubsub>",
            String::from(&tune)
        ))
    );
    let features = [
        "http://jabber.org/protocol/tune",
        "http://jabber.org/protocol/tune+notify",
    ];
    assert!(features.contains(&pep::notify_feature(NODE).as_str()));

    let notification = el("<event xmlns='http://jabber.org/protocol/pubsub#event'>
           <items node='http://jabber.org/protocol/tune'>
             <item><tune xmlns='http://jabber.org/protocol/tune'><artist>Gerald Finzi</artist>\
         <length>255</length><title>Introduction (Allegro vigoroso)</title><track>1</track></tune></item>
           </items>
         </event>");
    let event = Event::parse(&notification).unwrap();
    assert_eq!(pep::latest_payload(&event, NODE), Some(&tune));
}

// ---- property tests ----------------------------------------------------------

/// XML-safe text: printable ASCII including the characters that need
/// escaping.
fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,12}"
}

fn node() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9_/.:#+-]{0,16}", text()]
}

fn jid_strategy() -> impl Strategy<Value = Jid> {
    (
        "[a-z]{0,6}",
        "[a-z]{1,8}\\.lit",
        proptest::option::of("[A-Za-z0-9 ]{1,8}"),
    )
        .prop_map(|(local, domain, resource)| {
            let mut s = String::new();
            if !local.is_empty() {
                s.push_str(&local);
                s.push('@');
            }
            s.push_str(&domain);
            if let Some(resource) = resource {
                s.push('/');
                s.push_str(&resource);
            }
            s.parse().unwrap()
        })
}

/// An arbitrary payload: an element in some namespace with an attribute,
/// text and a child.
fn payload() -> impl Strategy<Value = Element> {
    (
        "[a-z]{1,8}",
        prop_oneof![
            Just("urn:example:a"),
            Just("http://www.w3.org/2005/Atom"),
            Just("jabber:client")
        ],
        proptest::option::of(("a[a-z]{0,5}", "[a-zA-Z0-9 <>&'\"]{0,8}")),
        proptest::option::of("[a-zA-Z0-9<>&]{1,8}"),
        proptest::option::of("[a-z]{1,8}"),
    )
        .prop_map(|(name, ns, attr, body, child)| {
            let mut element = Element::bare(name, ns);
            if let Some((attr, value)) = attr {
                let attr = rxml::NcName::try_from(attr).unwrap();
                element
                    .attrs_mut()
                    .insert(rxml::Namespace::NONE, attr, value);
            }
            if let Some(body) = body {
                element.append_text_node(body);
            }
            if let Some(child) = child {
                element.append_child(Element::bare(child, "urn:example:child"));
            }
            element
        })
}

/// A data form, as the raw element the pubsub types keep.
fn form() -> impl Strategy<Value = Element> {
    ("[a-z#_]{1,12}", "[a-zA-Z0-9 ]{1,8}").prop_map(|(var, value)| {
        el(&format!(
            "<x xmlns='jabber:x:data' type='submit'><field var='{var}'><value>{value}</value></field></x>"
        ))
    })
}

fn item() -> impl Strategy<Value = Item> {
    (
        proptest::option::of(text()),
        proptest::option::of(jid_strategy()),
        proptest::option::of(payload()),
    )
        .prop_map(|(id, publisher, payload)| Item {
            id,
            publisher,
            payload,
        })
}

fn state() -> impl Strategy<Value = SubscriptionState> {
    proptest::sample::select(SubscriptionState::ALL)
}

fn affiliation() -> impl Strategy<Value = Affiliation> {
    proptest::sample::select(Affiliation::ALL)
}

fn subscription(with_node: bool) -> impl Strategy<Value = Subscription> {
    (
        proptest::option::of(node()),
        jid_strategy(),
        proptest::option::of(text()),
        proptest::option::of(state()),
        proptest::option::of(any::<bool>().prop_map(|required| SubscribeOptions { required })),
    )
        .prop_map(move |(node, jid, subid, state, options)| Subscription {
            node: if with_node { node } else { None },
            jid,
            subid,
            state,
            options,
        })
}

fn pubsub() -> impl Strategy<Value = PubSub> {
    prop_oneof![
        (
            node(),
            prop::collection::vec(item(), 0..3),
            proptest::option::of(form())
        )
            .prop_map(|(node, items, publish_options)| PubSub::Publish {
                node,
                items,
                publish_options
            }),
        (node(), any::<bool>(), prop::collection::vec(text(), 0..3))
            .prop_map(|(node, notify, ids)| PubSub::Retract { node, notify, ids }),
        (
            node(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(text()),
            prop::collection::vec(item(), 0..3)
        )
            .prop_map(|(node, max_items, subid, items)| PubSub::Items {
                node,
                max_items,
                subid,
                items
            }),
        (
            proptest::option::of(node()),
            jid_strategy(),
            proptest::option::of(form())
        )
            .prop_map(|(node, jid, options)| PubSub::Subscribe { node, jid, options }),
        (
            proptest::option::of(node()),
            jid_strategy(),
            proptest::option::of(text())
        )
            .prop_map(|(node, jid, subid)| PubSub::Unsubscribe { node, jid, subid }),
        (
            proptest::option::of(node()),
            prop::collection::vec(subscription(true), 0..3)
        )
            .prop_map(|(node, subscriptions)| PubSub::Subscriptions {
                node,
                subscriptions
            }),
        subscription(true).prop_map(PubSub::Subscription),
        (
            proptest::option::of(node()),
            prop::collection::vec((node(), affiliation()), 0..3)
        )
            .prop_map(|(node, affiliations)| PubSub::Affiliations {
                node,
                affiliations: affiliations
                    .into_iter()
                    .map(|(node, affiliation)| NodeAffiliation { node, affiliation })
                    .collect()
            }),
        (proptest::option::of(node()), proptest::option::of(form()))
            .prop_map(|(node, configure)| PubSub::Create { node, configure }),
        (
            proptest::option::of(node()),
            jid_strategy(),
            proptest::option::of(text()),
            proptest::option::of(form())
        )
            .prop_map(|(node, jid, subid, form)| PubSub::Options {
                node,
                jid,
                subid,
                form
            }),
        (proptest::option::of(node()), proptest::option::of(form()))
            .prop_map(|(node, form)| PubSub::Default { node, form }),
    ]
}

fn owner() -> impl Strategy<Value = PubSubOwner> {
    prop_oneof![
        (proptest::option::of(node()), proptest::option::of(form()))
            .prop_map(|(node, form)| PubSubOwner::Configure { node, form }),
        proptest::option::of(form()).prop_map(|form| PubSubOwner::Default { form }),
        (node(), proptest::option::of(text()))
            .prop_map(|(node, redirect)| PubSubOwner::Delete { node, redirect }),
        node().prop_map(|node| PubSubOwner::Purge { node }),
        (node(), prop::collection::vec(subscription(false), 0..3)).prop_map(
            |(node, subscriptions)| PubSubOwner::Subscriptions {
                node,
                subscriptions
            }
        ),
        (
            node(),
            prop::collection::vec((jid_strategy(), affiliation()), 0..3)
        )
            .prop_map(|(node, affiliations)| PubSubOwner::Affiliations {
                node,
                affiliations: affiliations
                    .into_iter()
                    .map(|(jid, affiliation)| EntityAffiliation { jid, affiliation })
                    .collect()
            }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            node(),
            prop::collection::vec(item(), 0..3),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(|(node, items, retracts)| Event::Items {
                node,
                items,
                retracts
            }),
        (node(), proptest::option::of(text()))
            .prop_map(|(node, redirect)| Event::Delete { node, redirect }),
        node().prop_map(|node| Event::Purge { node }),
        (proptest::option::of(node()), proptest::option::of(form()))
            .prop_map(|(node, form)| Event::Configuration { node, form }),
        subscription(true).prop_map(Event::Subscription),
    ]
}

fn pubsub_error() -> impl Strategy<Value = PubSubError> {
    (
        proptest::sample::select(ErrorCondition::ALL),
        proptest::option::of("[a-z-]{1,20}"),
    )
        .prop_map(|(condition, feature)| PubSubError { condition, feature })
}

/// `parse(to_element(x)) == x`, also through the XML text.
fn check_round_trip<T: Payload + PartialEq + std::fmt::Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let element = value.to_element();
    prop_assert!(T::matches(&element));
    prop_assert_eq!(&T::parse(&element).unwrap(), value);
    let xml = String::from(&element);
    let reparsed: Element = xml.parse().unwrap();
    prop_assert_eq!(&T::parse(&reparsed).unwrap(), value, "through {}", xml);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pubsub_round_trips(value in pubsub()) {
        check_round_trip(&value)?;
    }

    #[test]
    fn owner_round_trips(value in owner()) {
        check_round_trip(&value)?;
    }

    #[test]
    fn event_round_trips(value in event()) {
        check_round_trip(&value)?;
    }

    #[test]
    fn pubsub_error_round_trips(value in pubsub_error()) {
        check_round_trip(&value)?;
    }

    /// Parsing never panics on a pubsub element with arbitrary children
    /// and attributes of the names pubsub uses.
    #[test]
    fn parsing_arbitrary_shapes_never_panics(
        children in prop::collection::vec(
            (
                proptest::sample::select(&[
                    "publish", "retract", "items", "item", "subscribe", "unsubscribe", "subscription",
                    "subscriptions", "affiliations", "affiliation", "create", "configure", "options",
                    "default", "delete", "purge", "redirect", "retract", "publish-options",
                ][..]),
                proptest::option::of(text()),
                proptest::option::of(prop_oneof![Just("a@b".to_owned()), text()]),
                any::<bool>(),
            ),
            0..4,
        ),
        root in proptest::sample::select(&[
            ("pubsub", "http://jabber.org/protocol/pubsub"),
            ("pubsub", "http://jabber.org/protocol/pubsub#owner"),
            ("event", "http://jabber.org/protocol/pubsub#event"),
        ][..]),
    ) {
        let (root_name, ns) = root;
        let mut element = Element::bare(root_name, ns);
        for (name, node, jid, nested) in children {
            let mut child = Element::bare(name, ns);
            for (attr, value) in [("node", node.clone()), ("jid", jid), ("id", node), ("max_items", Some("7".into()))] {
                if let Some(value) = value {
                    child.attrs_mut().insert(rxml::Namespace::NONE, rxml::NcName::try_from(attr).unwrap(), value);
                }
            }
            if nested {
                child.append_child(Element::bare("item", ns));
            }
            element.append_child(child);
        }
        // Any outcome but a panic; a success must round-trip.
        if let Ok(value) = PubSub::parse(&element) {
            prop_assert_eq!(PubSub::parse(&value.to_element()).unwrap(), value);
        }
        if let Ok(value) = PubSubOwner::parse(&element) {
            prop_assert_eq!(PubSubOwner::parse(&value.to_element()).unwrap(), value);
        }
        if let Ok(value) = Event::parse(&element) {
            prop_assert_eq!(Event::parse(&value.to_element()).unwrap(), value);
        }
    }
}
