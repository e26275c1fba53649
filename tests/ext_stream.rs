//! Integration tests for the stream-level and room payloads of
//! `xmpp_kit::ext`: XEP-0045 (`muc`), XEP-0198 (`sm`) and XEP-0478
//! (`stream_limits`). Spec examples live in the modules' unit tests; here
//! are whole-stanza checks through the public API and property tests of
//! the round trip `parse(to_element(x)) == x`, in memory and through
//! serialized XML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::Jid;
use xmpp_kit::ext::muc::{
    Actor, Affiliation, Continue, Decline, Destroy, History, Invite, Muc, MucUser, Role, Status,
    UserItem,
};
use xmpp_kit::ext::sm::{
    Answer, Enable, Enabled, Failed, Feature, Nonza, Request, Resume, Resumed,
};
use xmpp_kit::ext::stream_limits::StreamLimits;
use xmpp_kit::ext::{Payload, PayloadError};
use xmpp_kit::stanza::DefinedCondition;

fn el(xml: &str) -> Element {
    xml.parse().unwrap()
}

/// Serializes to XML text and parses it back.
fn reparse(element: &Element) -> Element {
    let mut out = Vec::new();
    element.write_to(&mut out).unwrap();
    String::from_utf8(out).unwrap().parse().unwrap()
}

// ---- whole stanzas and streams ---------------------------------------------

/// XEP-0045 §7.2.2, example 21: the payloads of a presence broadcast, found
/// among other presence children (a `<status/>` of `jabber:client` must not
/// be mistaken for a MUC status).
#[test]
fn muc_payload_found_among_presence_children() {
    let presence = el(
        "<presence xmlns='jabber:client' from='coven@chat.shakespeare.lit/thirdwitch' \
        to='hag66@shakespeare.lit/pda'><show>away</show><status>brewing</status>\
        <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/>\
        <status code='110'/></x></presence>",
    );
    let payloads: Vec<MucUser> = presence
        .children()
        .filter(|c| MucUser::matches(c))
        .map(|c| MucUser::parse(c).unwrap())
        .collect();
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].status, vec![Status::SELF_PRESENCE]);
    assert!(!presence.children().any(Muc::matches));
}

/// A session's nonzas in order (XEP-0198 §3 to §5), each dispatched by
/// [`Nonza`] after a trip through XML text.
#[test]
fn sm_session_dispatch() {
    let wire = [
        "<enable xmlns='urn:xmpp:sm:3' resume='true' max='300'/>",
        "<enabled xmlns='urn:xmpp:sm:3' id='some-long-sm-id' resume='1' max='120'/>",
        "<r xmlns='urn:xmpp:sm:3'/>",
        "<a xmlns='urn:xmpp:sm:3' h='1'/>",
        "<resume xmlns='urn:xmpp:sm:3' h='2' previd='some-long-sm-id'/>",
        "<resumed xmlns='urn:xmpp:sm:3' h='1' previd='some-long-sm-id'/>",
        "<failed xmlns='urn:xmpp:sm:3' h='5'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
    ];
    let nonzas: Vec<Nonza> = wire
        .iter()
        .map(|xml| Nonza::parse(&el(xml)).unwrap())
        .collect();
    assert_eq!(
        nonzas,
        vec![
            Nonza::Enable(Enable {
                resume: true,
                max: Some(300)
            }),
            Nonza::Enabled(Enabled {
                id: Some("some-long-sm-id".to_owned()),
                resume: true,
                max: Some(120),
                location: None,
            }),
            Nonza::Request(Request),
            Nonza::Answer(Answer { h: 1 }),
            Nonza::Resume(Resume {
                h: 2,
                previd: "some-long-sm-id".to_owned()
            }),
            Nonza::Resumed(Resumed {
                h: 1,
                previd: "some-long-sm-id".to_owned()
            }),
            Nonza::Failed(Failed {
                h: Some(5),
                condition: Some(DefinedCondition::ItemNotFound)
            }),
        ]
    );
    for nonza in &nonzas {
        assert_eq!(&Nonza::parse(&reparse(&nonza.to_element())).unwrap(), nonza);
    }
}

/// Both features of this file advertised together (XEP-0198 §2, XEP-0478 §3.1).
#[test]
fn features_side_by_side() {
    let features = el(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
        <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/>\
        <limits xmlns='urn:xmpp:stream-limits:0'><max-bytes>262144</max-bytes>\
        <idle-seconds>900</idle-seconds></limits></stream:features>",
    );
    assert!(features.children().any(Feature::matches));
    let limits = features
        .children()
        .find(|c| StreamLimits::matches(c))
        .unwrap();
    assert_eq!(
        StreamLimits::parse(limits).unwrap(),
        StreamLimits {
            max_bytes: Some(262_144),
            idle_seconds: Some(900)
        }
    );
}

#[test]
fn errors_map_to_bad_request_or_jid_malformed() {
    let bad_h = Answer::parse(&el("<a xmlns='urn:xmpp:sm:3' h='x'/>")).unwrap_err();
    assert_eq!(bad_h.condition(), DefinedCondition::BadRequest);
    let bad_jid = MucUser::parse(&el(
        "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='@nowhere'/></x>",
    ))
    .unwrap_err();
    assert!(matches!(bad_jid, PayloadError::InvalidJid { .. }));
    assert_eq!(bad_jid.condition(), DefinedCondition::JidMalformed);
    assert!(bad_jid.to_string().contains("invite"));
}

/// Hostile counters never panic and never wrap.
#[test]
fn huge_numbers_are_refused_not_wrapped() {
    let huge = "9".repeat(1000);
    assert!(matches!(
        Answer::parse(&el(&format!("<a xmlns='urn:xmpp:sm:3' h='{huge}'/>"))),
        Err(PayloadError::InvalidValue { .. })
    ));
    assert!(matches!(
        StreamLimits::parse(&el(&format!(
            "<limits xmlns='urn:xmpp:stream-limits:0'><max-bytes>{huge}</max-bytes></limits>"
        ))),
        Err(PayloadError::InvalidValue { .. })
    ));
    assert!(matches!(
        Muc::parse(&el(&format!(
            "<x xmlns='http://jabber.org/protocol/muc'><history seconds='{huge}'/></x>"
        ))),
        Err(PayloadError::InvalidValue { .. })
    ));
    assert!(matches!(
        MucUser::parse(&el(&format!(
            "<x xmlns='http://jabber.org/protocol/muc#user'><status code='{huge}'/></x>"
        ))),
        Err(PayloadError::InvalidValue { .. })
    ));
}

// ---- strategies ------------------------------------------------------------

/// Any string, including controls and astral characters (in-memory trips).
fn any_text() -> &'static str {
    ".{0,12}"
}

/// Text that survives XML serialization unchanged: no control characters
/// (XML 1.0 forbids most, and attribute values normalize the others) and
/// no carriage returns.
fn xml_text() -> &'static str {
    "[a-zA-Z0-9 <>&'\"é♚-]{0,12}"
}

fn jid() -> impl Strategy<Value = Jid> {
    "([a-z]{1,6}@)?[a-z]{1,8}\\.(lit|example)(/[a-zA-Z0-9 ]{1,6})?".prop_map(|s| s.parse().unwrap())
}

fn affiliation() -> impl Strategy<Value = Affiliation> {
    prop::sample::select(Affiliation::ALL)
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL)
}

fn status() -> impl Strategy<Value = Status> {
    (Status::MIN..=Status::MAX).prop_map(|code| Status::new(code).unwrap())
}

fn history<S: Strategy<Value = String>>(text: S) -> impl Strategy<Value = History> {
    (
        any::<Option<u32>>(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
        prop::option::of(text),
    )
        .prop_map(|(maxchars, maxstanzas, seconds, since)| History {
            maxchars,
            maxstanzas,
            seconds,
            since,
        })
}

fn muc<S: Strategy<Value = String> + Clone>(text: S) -> impl Strategy<Value = Muc> {
    (
        prop::option::of(text.clone()),
        prop::option::of(history(text)),
    )
        .prop_map(|(password, history)| Muc { password, history })
}

fn user_item<S: Strategy<Value = String> + Clone>(text: S) -> impl Strategy<Value = UserItem> {
    (
        affiliation(),
        role(),
        prop::option::of(jid()),
        prop::option::of(text.clone()),
        prop::option::of(
            (prop::option::of(jid()), prop::option::of(text.clone()))
                .prop_map(|(jid, nick)| Actor { jid, nick }),
        ),
        prop::option::of(text),
    )
        .prop_map(|(affiliation, role, jid, nick, actor, reason)| UserItem {
            affiliation,
            role,
            jid,
            nick,
            actor,
            reason,
        })
}

fn muc_user<S: Strategy<Value = String> + Clone>(text: S) -> impl Strategy<Value = MucUser> {
    let invite = (
        prop::option::of(jid()),
        prop::option::of(jid()),
        prop::option::of(text.clone()),
        prop::option::of(prop::option::of(text.clone()).prop_map(|thread| Continue { thread })),
    )
        .prop_map(|(from, to, reason, continue_)| Invite {
            from,
            to,
            reason,
            continue_,
        });
    let decline = (
        prop::option::of(jid()),
        prop::option::of(jid()),
        prop::option::of(text.clone()),
    )
        .prop_map(|(from, to, reason)| Decline { from, to, reason });
    let destroy = (
        prop::option::of(jid()),
        prop::option::of(text.clone()),
        prop::option::of(text.clone()),
    )
        .prop_map(|(jid, password, reason)| Destroy {
            jid,
            password,
            reason,
        });
    (
        prop::collection::vec(user_item(text.clone()), 0..3),
        prop::collection::vec(status(), 0..4),
        prop::collection::vec(invite, 0..3),
        prop::option::of(decline),
        prop::option::of(destroy),
        prop::option::of(text),
    )
        .prop_map(
            |(items, status, invites, decline, destroy, password)| MucUser {
                items,
                status,
                invites,
                decline,
                destroy,
                password,
            },
        )
}

fn condition() -> impl Strategy<Value = DefinedCondition> {
    prop::sample::select(DefinedCondition::ALL)
}

fn nonza<S: Strategy<Value = String> + Clone>(text: S) -> impl Strategy<Value = Nonza> {
    prop_oneof![
        (any::<bool>(), any::<Option<u32>>())
            .prop_map(|(resume, max)| Nonza::Enable(Enable { resume, max })),
        (
            prop::option::of(text.clone()),
            any::<bool>(),
            any::<Option<u32>>(),
            prop::option::of(text.clone())
        )
            .prop_map(|(id, resume, max, location)| Nonza::Enabled(Enabled {
                id,
                resume,
                max,
                location
            })),
        Just(Nonza::Request(Request)),
        any::<u32>().prop_map(|h| Nonza::Answer(Answer { h })),
        (any::<u32>(), text.clone()).prop_map(|(h, previd)| Nonza::Resume(Resume { h, previd })),
        (any::<u32>(), text).prop_map(|(h, previd)| Nonza::Resumed(Resumed { h, previd })),
        (any::<Option<u32>>(), prop::option::of(condition()))
            .prop_map(|(h, condition)| Nonza::Failed(Failed { h, condition })),
    ]
}

fn stream_limits() -> impl Strategy<Value = StreamLimits> {
    (any::<Option<u32>>(), any::<Option<u32>>()).prop_map(|(max_bytes, idle_seconds)| {
        StreamLimits {
            max_bytes,
            idle_seconds,
        }
    })
}

// ---- properties --------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn muc_round_trips(x in muc(any_text())) {
        prop_assert_eq!(Muc::parse(&x.to_element()).unwrap(), x);
    }

    #[test]
    fn muc_round_trips_through_xml(x in muc(xml_text())) {
        prop_assert_eq!(Muc::parse(&reparse(&x.to_element())).unwrap(), x);
    }

    #[test]
    fn muc_user_round_trips(x in muc_user(any_text())) {
        prop_assert_eq!(MucUser::parse(&x.to_element()).unwrap(), x);
    }

    #[test]
    fn muc_user_round_trips_through_xml(x in muc_user(xml_text())) {
        prop_assert_eq!(MucUser::parse(&reparse(&x.to_element())).unwrap(), x);
    }

    #[test]
    fn nonzas_round_trip(x in nonza(any_text())) {
        let element = x.to_element();
        prop_assert!(Nonza::matches(&element));
        prop_assert_eq!(Nonza::parse(&element).unwrap(), x);
    }

    #[test]
    fn nonzas_round_trip_through_xml(x in nonza(xml_text())) {
        prop_assert_eq!(Nonza::parse(&reparse(&x.to_element())).unwrap(), x);
    }

    #[test]
    fn stream_limits_round_trip(x in stream_limits()) {
        prop_assert_eq!(StreamLimits::parse(&x.to_element()).unwrap(), x);
        prop_assert_eq!(StreamLimits::parse(&reparse(&x.to_element())).unwrap(), x);
    }

    /// Any attribute value for the counters parses or is refused as
    /// `InvalidValue`; it never panics and accepts exactly the u32 range.
    #[test]
    fn counters_parse_or_refuse(value in "[ +-]?[0-9]{0,12}[a-z]?") {
        let xml = format!("<a xmlns='urn:xmpp:sm:3' h='{value}'/>");
        match (Answer::parse(&el(&xml)), value.trim().parse::<u32>()) {
            (Ok(a), Ok(h)) => prop_assert_eq!(a.h, h),
            (Err(PayloadError::InvalidValue { .. }), Err(_)) => {}
            (got, expected) => prop_assert!(false, "{value:?}: {got:?} vs {expected:?}"),
        }
    }

    /// A status attribute parses exactly when it is a code in 100..=999.
    #[test]
    fn status_codes_parse_or_refuse(code in any::<i64>()) {
        let xml = format!("<x xmlns='http://jabber.org/protocol/muc#user'><status code='{code}'/></x>");
        let parsed = MucUser::parse(&el(&xml));
        if (100..=999).contains(&code) {
            prop_assert_eq!(i64::from(parsed.unwrap().status[0].code()), code);
        } else {
            let is_invalid = matches!(parsed, Err(PayloadError::InvalidValue { .. }));
            prop_assert!(is_invalid);
        }
    }

    /// Whatever `<limits/>` children hold, parsing never panics.
    #[test]
    fn limits_text_never_panics(text in any_text()) {
        let mut limits = Element::bare("limits", xmpp_kit::ext::stream_limits::NS);
        let mut child = Element::bare("max-bytes", xmpp_kit::ext::stream_limits::NS);
        child.append_text_node(text.clone());
        limits.append_child(child);
        match StreamLimits::parse(&limits) {
            Ok(l) => prop_assert_eq!(l.max_bytes, text.trim().parse().ok()),
            Err(e) => {
                let is_invalid = matches!(e, PayloadError::InvalidValue { .. });
                prop_assert!(is_invalid);
            }
        }
    }
}
