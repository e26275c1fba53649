//! Typed stanzas: RFC 6120/6121 examples, the rules, error replies, and
//! preservation of everything unknown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::ext::PayloadError;
use xmpp_kit::stanza::{
    DefinedCondition, ErrorType, Iq, IqKind, Message, MessageType, Presence, PresenceType, Show,
    Stanza, StanzaError,
};
use xmpp_kit::xml::StreamNamespace;

fn el(xml: &str) -> Element {
    xml.parse().unwrap()
}

fn stanza(xml: &str) -> Stanza {
    Stanza::try_from(el(xml)).unwrap()
}

/// Element -> typed -> element -> typed gives the same typed value.
fn round_trips(s: &Stanza) {
    let back = Stanza::try_from(Element::from(s.clone())).unwrap();
    assert_eq!(&back, s);
}

#[test]
fn rfc6121_chat_message_example() {
    // RFC 6121 section 5.2.2 (example of a chat message).
    let s = stanza(
        "<message xmlns='jabber:client' from='juliet@example.com/balcony' id='ktx72v49' \
         to='romeo@example.net' type='chat' xml:lang='en'>\
         <body>Art thou not Romeo, and a Montague?</body></message>",
    );
    let Stanza::Message(m) = &s else { panic!() };
    assert_eq!(m.kind, MessageType::Chat);
    assert_eq!(
        m.from.as_ref().unwrap().as_str(),
        "juliet@example.com/balcony"
    );
    assert_eq!(m.to.as_ref().unwrap().as_str(), "romeo@example.net");
    assert_eq!(m.id.as_deref(), Some("ktx72v49"));
    assert_eq!(m.lang.as_deref(), Some("en"));
    assert_eq!(m.body(), Some("Art thou not Romeo, and a Montague?"));
    assert!(m.payloads.is_empty());
    round_trips(&s);
}

#[test]
fn rfc6121_message_with_subjects_bodies_and_thread() {
    // RFC 6121 sections 5.2.3 to 5.2.5.
    let s = stanza(
        "<message xmlns='jabber:client' from='juliet@example.com/balcony' to='romeo@example.net' \
         type='chat' xml:lang='en'>\
         <subject>I implore you!</subject><subject xml:lang='cs'>&#x00DA;p&#x011B;nliv&#x011B; pros&#x00ED;m!</subject>\
         <body>Wherefore art thou, Romeo?</body><body xml:lang='cs'>Pro&#x010D;e&#x017D; jsi ty, Romeo?</body>\
         <thread parent='e0ffe42b28561960c6b12b944a092794b9683a38'>0e3141cd80894871a68e6fe6b1ec56fa</thread>\
         </message>",
    );
    let Stanza::Message(m) = &s else { panic!() };
    assert_eq!(m.subjects.len(), 2);
    assert_eq!(m.subject(), Some("I implore you!"));
    assert_eq!(m.bodies[1].lang.as_deref(), Some("cs"));
    assert_eq!(m.bodies[1].text, "Proče\u{17d} jsi ty, Romeo?");
    let thread = m.thread.as_ref().unwrap();
    assert_eq!(thread.id, "0e3141cd80894871a68e6fe6b1ec56fa");
    assert_eq!(
        thread.parent.as_deref(),
        Some("e0ffe42b28561960c6b12b944a092794b9683a38")
    );
    round_trips(&s);
}

#[test]
fn message_type_missing_or_unknown_is_normal() {
    let Stanza::Message(m) = stanza("<message xmlns='jabber:client'><body>x</body></message>")
    else {
        panic!()
    };
    assert_eq!(m.kind, MessageType::Normal);
    let Stanza::Message(m) = stanza("<message xmlns='jabber:client' type='fancy'/>") else {
        panic!()
    };
    assert_eq!(m.kind, MessageType::Normal);
}

#[test]
fn rfc6121_presence_examples() {
    // RFC 6121 section 4.2.1 (initial presence), 4.7.2 (show, status, priority), 3.1.1 (subscribe).
    let s = stanza("<presence xmlns='jabber:client'/>");
    assert_eq!(s, Stanza::Presence(Presence::available()));
    let s = stanza(
        "<presence xmlns='jabber:client' from='juliet@example.com/balcony' xml:lang='en'>\
         <show>dnd</show><status>Wooing Romeo</status><status xml:lang='cs'>Dvo&#x0159;&#x00ED;m se Romeovi</status>\
         <priority>1</priority></presence>",
    );
    let Stanza::Presence(p) = &s else { panic!() };
    assert_eq!(p.show, Some(Show::Dnd));
    assert_eq!(p.status(), Some("Wooing Romeo"));
    assert_eq!(p.statuses.len(), 2);
    assert_eq!(p.priority, 1);
    round_trips(&s);
    for (kind, expected) in [
        ("subscribe", PresenceType::Subscribe),
        ("subscribed", PresenceType::Subscribed),
        ("unsubscribe", PresenceType::Unsubscribe),
        ("unsubscribed", PresenceType::Unsubscribed),
        ("probe", PresenceType::Probe),
        ("unavailable", PresenceType::Unavailable),
    ] {
        let s = stanza(&format!(
            "<presence xmlns='jabber:client' id='xk3h1v69' to='juliet@example.com' type='{kind}'/>"
        ));
        let Stanza::Presence(p) = &s else { panic!() };
        assert_eq!(p.kind, expected);
        assert_eq!(p.kind.is_subscription(), kind.contains("subscribe"));
        round_trips(&s);
    }
}

#[test]
fn rfc6120_iq_examples() {
    // RFC 6120 section 8.2.3 / RFC 6121 section 2.1.3: a roster get and its result.
    let s = stanza(
        "<iq xmlns='jabber:client' from='juliet@example.com/balcony' id='bv1bs71f' type='get'>\
         <query xmlns='jabber:iq:roster'/></iq>",
    );
    let Stanza::Iq(iq) = &s else { panic!() };
    assert_eq!(iq.id, "bv1bs71f");
    assert!(matches!(&iq.kind, IqKind::Get(q) if q.is("query", "jabber:iq:roster")));
    round_trips(&s);
    let s = stanza(
        "<iq xmlns='jabber:client' id='bv1bs71f' to='juliet@example.com/balcony' type='result'>\
         <query xmlns='jabber:iq:roster' ver='ver7'><item jid='nurse@example.com'/>\
         <item jid='romeo@example.net'/></query></iq>",
    );
    let Stanza::Iq(iq) = &s else { panic!() };
    assert_eq!(iq.payload().unwrap().children().count(), 2);
    round_trips(&s);
    // An empty result (RFC 6120 section 8.2.3, result of a set).
    let s = stanza("<iq xmlns='jabber:client' id='rg1' type='result'/>");
    assert!(matches!(
        &s,
        Stanza::Iq(Iq {
            kind: IqKind::Result(None),
            ..
        })
    ));
    round_trips(&s);
}

#[test]
fn rfc6120_error_stanza_example() {
    // RFC 6120 section 8.3.2.
    let s = stanza(
        "<iq xmlns='jabber:client' from='im.example.com' id='ixc3v1b9' to='juliet@im.example.com/foo' type='error'>\
         <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    let Stanza::Iq(Iq {
        kind: IqKind::Error { error, request },
        ..
    }) = &s
    else {
        panic!()
    };
    assert_eq!(error.condition, DefinedCondition::ServiceUnavailable);
    assert_eq!(error.error_type, ErrorType::Cancel);
    assert_eq!(request, &None);
    round_trips(&s);

    let s = stanza(
        "<message xmlns='jabber:client' from='romeo@example.net' to='juliet@example.com/balcony' type='error'>\
         <error type='cancel' by='example.net'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
    );
    let Stanza::Message(m) = &s else { panic!() };
    assert_eq!(
        m.error.as_ref().unwrap().condition,
        DefinedCondition::ItemNotFound
    );
    assert_eq!(
        m.error.as_ref().unwrap().by.as_ref().unwrap().as_str(),
        "example.net"
    );
    round_trips(&s);
}

#[test]
fn unknown_attributes_and_children_survive() {
    let original = el(
        "<message xmlns='jabber:client' to='a@b' custom='1' xmlns:x='urn:x' x:attr='2'>\
         <body>hi</body><unknown xmlns='urn:example' a='1'><deep>text<deeper/></deep></unknown>\
         <other xmlns='jabber:client'>kept too</other></message>",
    );
    let s = Stanza::try_from(original.clone()).unwrap();
    let Stanza::Message(m) = &s else { panic!() };
    assert_eq!(m.payloads.len(), 2);
    assert_eq!(m.other_attrs.len(), 2);
    let back = Element::from(s.clone());
    // Same meaning: every attribute and child of the original is there.
    assert_eq!(back.attrs(), original.attrs());
    for child in original.children() {
        assert!(back.children().any(|c| c == child), "lost {child:?}");
    }
    assert_eq!(back.children().count(), original.children().count());
}

#[test]
fn stanzas_from_server_and_component_streams_keep_their_namespace() {
    for ns in ["jabber:server", "jabber:component:accept"] {
        let s = stanza(&format!(
            "<message xmlns='{ns}' from='a@b' to='c@d' type='chat'><body>hi</body></message>"
        ));
        let Stanza::Message(m) = &s else { panic!() };
        assert_eq!(m.body(), Some("hi"));
        let namespace = StreamNamespace::from_name(ns).unwrap();
        let back = s.to_element_in(namespace);
        assert!(back.is("message", ns));
        assert!(back.get_child("body", ns).is_some());
    }
}

fn parse_error(xml: &str) -> (PayloadError, DefinedCondition, Option<Element>) {
    let e = Stanza::try_from(el(xml)).unwrap_err();
    assert_eq!(*e.element, el(xml), "the element is handed back untouched");
    (e.error.clone(), e.condition(), e.error_reply())
}

#[test]
fn semantically_invalid_stanzas_give_typed_errors_and_replies() {
    type Case = (&'static str, fn(&PayloadError) -> bool, DefinedCondition);
    let cases: &[Case] = &[
        (
            "<iq xmlns='jabber:client' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
            |e| {
                matches!(
                    e,
                    PayloadError::MissingAttribute {
                        attribute: "type",
                        ..
                    }
                )
            },
            DefinedCondition::BadRequest,
        ),
        (
            "<iq xmlns='jabber:client' id='1' type='fetch'/>",
            |e| matches!(e, PayloadError::InvalidValue { .. }),
            DefinedCondition::BadRequest,
        ),
        (
            "<iq xmlns='jabber:client' id='1' type='get'/>",
            |e| matches!(e, PayloadError::InvalidStructure { .. }),
            DefinedCondition::BadRequest,
        ),
        (
            "<iq xmlns='jabber:client' id='1' type='set'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
            |e| matches!(e, PayloadError::InvalidStructure { .. }),
            DefinedCondition::BadRequest,
        ),
        (
            "<presence xmlns='jabber:client' type='online'/>",
            |e| matches!(e, PayloadError::InvalidValue { .. }),
            DefinedCondition::BadRequest,
        ),
        (
            "<presence xmlns='jabber:client'><show>sleeping</show></presence>",
            |e| {
                matches!(
                    e,
                    PayloadError::InvalidValue {
                        element: "show",
                        ..
                    }
                )
            },
            DefinedCondition::BadRequest,
        ),
        (
            "<presence xmlns='jabber:client'><priority>300</priority></presence>",
            |e| {
                matches!(
                    e,
                    PayloadError::InvalidValue {
                        element: "priority",
                        ..
                    }
                )
            },
            DefinedCondition::BadRequest,
        ),
        (
            "<message xmlns='jabber:client' to='not a jid@example.com'/>",
            |e| matches!(e, PayloadError::InvalidJid { .. }),
            DefinedCondition::JidMalformed,
        ),
        (
            "<message xmlns='jabber:client' from='@example.com'/>",
            |e| matches!(e, PayloadError::InvalidJid { .. }),
            DefinedCondition::JidMalformed,
        ),
    ];
    for (xml, check, condition) in cases {
        let (error, got, reply) = parse_error(xml);
        assert!(check(&error), "{xml}: {error:?}");
        assert_eq!(got, *condition, "{xml}");
        let reply = reply.expect("a stanza that is not an error gets a reply");
        assert_eq!(reply.attr("type"), Some("error"));
        let error_child = reply
            .get_child("error", "jabber:client")
            .expect("an <error/> child");
        let parsed = StanzaError::parse(error_child).unwrap();
        assert_eq!(parsed.condition, *condition);
        assert!(parsed.text().is_some(), "the reply explains the problem");
    }
}

#[test]
fn no_reply_to_errors_results_iqs_without_id_and_non_stanzas() {
    let (error, condition, reply) =
        parse_error("<iq xmlns='jabber:client' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(matches!(
        error,
        PayloadError::MissingAttribute {
            attribute: "id",
            ..
        }
    ));
    assert_eq!(condition, DefinedCondition::BadRequest);
    assert_eq!(reply, None, "an iq without id cannot be answered");
    let (_, _, reply) = parse_error(
        "<iq xmlns='jabber:client' id='r' type='result'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
    );
    assert_eq!(reply, None, "a result is an answer and is not answered");
    let (_, _, reply) = parse_error("<iq xmlns='jabber:client' id='1' type='error'/>");
    assert_eq!(reply, None);
    let e =
        Stanza::try_from(el("<features xmlns='http://etherx.jabber.org/streams'/>")).unwrap_err();
    assert!(!e.is_stanza());
    assert_eq!(e.error_reply(), None);
}

#[test]
fn the_reply_to_a_malformed_sender_is_not_addressed_to_it() {
    let e = Stanza::try_from(el(
        "<message xmlns='jabber:client' from='@bad' to='juliet@example.com' id='x'><body>hi</body></message>",
    ))
    .unwrap_err();
    let reply = e.error_reply().unwrap();
    assert_eq!(reply.attr("to"), None);
    assert_eq!(reply.attr("from"), Some("juliet@example.com"));
    assert!(
        Stanza::try_from(reply).is_ok(),
        "the reply is a valid stanza"
    );
}

#[test]
fn a_request_payload_named_error_is_not_echoed() {
    let request = el("<iq xmlns='jabber:client' id='e' type='get'><error type='x'/></iq>");
    let typed = Stanza::try_from(request.clone()).unwrap();
    let reply = typed
        .error_reply(StanzaError::new(DefinedCondition::BadRequest))
        .unwrap();
    assert_eq!(
        Stanza::try_from(Element::from(reply.clone())).unwrap(),
        reply
    );
    let reply = xmpp_kit::stanza::error_reply_element(
        &request,
        &StanzaError::new(DefinedCondition::BadRequest),
    )
    .unwrap();
    let Stanza::Iq(iq) = Stanza::try_from(reply).unwrap() else {
        panic!()
    };
    assert!(
        matches!(iq.kind, IqKind::Error { request: None, ref error } if error.condition == DefinedCondition::BadRequest)
    );
}

#[test]
fn error_replies_swap_addresses_and_keep_the_id() {
    let request = Iq::get(
        Some("example.com".parse().unwrap()),
        el("<query xmlns='jabber:iq:version'/>"),
    )
    .with_id("v1")
    .with_from("juliet@example.com/balcony".parse().unwrap());
    let reply = request
        .error_reply(StanzaError::new(DefinedCondition::FeatureNotImplemented))
        .unwrap();
    assert_eq!(reply.id, "v1");
    assert_eq!(
        reply.to.as_ref().unwrap().as_str(),
        "juliet@example.com/balcony"
    );
    assert_eq!(reply.from.as_ref().unwrap().as_str(), "example.com");
    assert!(matches!(
        &reply.kind,
        IqKind::Error {
            request: Some(_),
            ..
        }
    ));
    assert_eq!(
        reply.error_reply(StanzaError::new(DefinedCondition::BadRequest)),
        None
    );

    let message = Message::chat("romeo@example.net".parse().unwrap(), "hi").with_id("m1");
    let reply = Stanza::from(message)
        .error_reply(StanzaError::new(DefinedCondition::RecipientUnavailable))
        .unwrap();
    assert_eq!(reply.id(), Some("m1"));
    assert_eq!(reply.sender().unwrap().as_str(), "romeo@example.net");
}

#[test]
fn builders_produce_what_they_say() {
    let p = Presence::subscribe("juliet@example.com".parse().unwrap());
    let e = Element::from(p);
    assert_eq!(e.attr("type"), Some("subscribe"));
    assert_eq!(e.attr("to"), Some("juliet@example.com"));
    let m = Message::chat("romeo@example.net".parse().unwrap(), "hi");
    let e = Element::from(m);
    assert_eq!(e.attr("type"), Some("chat"));
    assert_eq!(e.get_child("body", "jabber:client").unwrap().text(), "hi");
    let mut s = Stanza::from(Iq::get(None, el("<ping xmlns='urn:xmpp:ping'/>")));
    let mut ids = xmpp_kit::stanza::IdGenerator::new(1);
    s.assign_id(&mut ids);
    assert_eq!(s.id().unwrap().len(), 16);
    let before = s.id().unwrap().to_owned();
    s.assign_id(&mut ids);
    assert_eq!(s.id().unwrap(), before, "an id is never replaced");
}

// ---- generated stanzas ---------------------------------------------------

fn jid() -> impl Strategy<Value = Option<xmpp_kit::Jid>> {
    prop_oneof![
        Just(None),
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|net)(/[A-Za-z0-9 ]{1,8})?".prop_map(|s| s.parse().ok()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&'\"\u{e9}\u{1F600}]{0,20}"
}

fn payload() -> impl Strategy<Value = Element> {
    (
        "[a-z]{1,6}",
        prop_oneof![Just("urn:a"), Just("urn:b:c")],
        text(),
    )
        .prop_map(|(name, ns, t)| {
            let mut e = Element::bare(name, ns);
            if !t.is_empty() {
                e.append_text_node(t);
            }
            e
        })
}

fn message() -> impl Strategy<Value = Stanza> {
    (
        jid(),
        jid(),
        proptest::option::of("[a-z0-9]{1,8}"),
        0usize..5,
        proptest::collection::vec(text(), 0..3),
        proptest::collection::vec(payload(), 0..3),
    )
        .prop_map(|(to, from, id, kind, bodies, payloads)| {
            let kind = [
                MessageType::Chat,
                MessageType::Normal,
                MessageType::Headline,
                MessageType::Groupchat,
                MessageType::Normal,
            ][kind];
            let mut m = Message::new(kind);
            m.to = to;
            m.from = from;
            m.id = id;
            for b in bodies {
                m = m.with_body(b);
            }
            m.payloads = payloads.into_iter().map(Into::into).collect();
            Stanza::Message(m)
        })
}

fn presence() -> impl Strategy<Value = Stanza> {
    (
        jid(),
        0usize..7,
        proptest::option::of(0usize..4),
        any::<i8>(),
        proptest::collection::vec(text(), 0..2),
        proptest::collection::vec(payload(), 0..3),
    )
        .prop_map(|(to, kind, show, priority, statuses, payloads)| {
            let kinds = [
                PresenceType::Available,
                PresenceType::Unavailable,
                PresenceType::Subscribe,
                PresenceType::Subscribed,
                PresenceType::Unsubscribe,
                PresenceType::Unsubscribed,
                PresenceType::Probe,
            ];
            let mut p = Presence::new(kinds[kind]).with_priority(priority);
            p.to = to;
            p.show = show.map(|i| [Show::Away, Show::Chat, Show::Dnd, Show::Xa][i]);
            for s in statuses {
                p = p.with_status(s);
            }
            p.payloads = payloads.into_iter().map(Into::into).collect();
            Stanza::Presence(p)
        })
}

fn iq() -> impl Strategy<Value = Stanza> {
    (jid(), "[a-z0-9]{1,8}", 0usize..4, payload()).prop_map(|(to, id, kind, payload)| {
        let iq = match kind {
            0 => Iq::get(to, payload),
            1 => Iq::set(to, payload),
            2 => Iq::result_for(&Iq::get(to, payload.clone()), Some(payload)),
            _ => Iq::get(to, payload.clone())
                .error_reply(StanzaError::new(DefinedCondition::ItemNotFound))
                .unwrap(),
        };
        Stanza::Iq(iq.with_id(id))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_stanzas_round_trip(s in prop_oneof![message(), presence(), iq()]) {
        let element = Element::from(s.clone());
        let back = Stanza::try_from(element.clone()).unwrap();
        prop_assert_eq!(&back, &s);
        // And through the wire: write, frame, type.
        let mut writer = xmpp_kit::xml::StreamWriter::new();
        let mut out = bytes::BytesMut::new();
        let header = xmpp_kit::xml::StreamHeader::new(xmpp_kit::xml::Framing::Stream, StreamNamespace::Client);
        writer.write_header(&header, &mut out).unwrap();
        writer.write_element(&element, &mut out).unwrap();
        let mut parser = xmpp_kit::xml::StreamParser::new(xmpp_kit::xml::Limits::default());
        parser.feed(&out);
        let _ = parser.next_frame().unwrap();
        let Some(xmpp_kit::xml::Frame::Element(wire)) = parser.next_frame().unwrap() else { panic!() };
        prop_assert_eq!(Stanza::try_from(wire).unwrap(), s);
    }
}

// ---- stanzas typed from the framer's split parts ---------------------------

/// The stanzas of a jabber:client stream read with split stanzas, as the
/// connections read them.
fn split_stanzas(stanzas: &str) -> Vec<Result<Stanza, xmpp_kit::stanza::StanzaParseError>> {
    use xmpp_kit::xml::{Frame, Limits, StreamParser};
    let mut parser = StreamParser::new(Limits::default());
    parser.set_split_stanzas(true);
    parser.feed(
        format!(
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
             xmlns:o='urn:outer' version='1.0'>{stanzas}"
        )
        .as_bytes(),
    );
    let mut out = Vec::new();
    while let Some(frame) = parser.next_frame().unwrap() {
        if let Frame::Stanza(parts) = frame {
            out.push(Stanza::try_from(parts));
        }
    }
    out
}

#[test]
fn an_iq_typed_from_split_parts_keeps_its_payload_as_bytes_and_echoes_it() {
    use bytes::BytesMut;
    use xmpp_kit::ext::ping::Ping;
    use xmpp_kit::xml::StreamWriter;
    let ping = "<ping xmlns=\"urn:xmpp:ping\" />";
    let [Ok(Stanza::Iq(iq))] = &split_stanzas(&format!(
        "<iq type='get' id='p1' from='romeo@example.net/orchard'>{ping}</iq>"
    ))[..] else {
        panic!("one iq");
    };
    let IqKind::Get(payload) = &iq.kind else {
        panic!("a get")
    };
    assert_eq!(payload.raw_bytes(), Some(ping.as_bytes()));
    assert_eq!(iq.payload_as::<Ping>(), Some(Ok(Ping)));
    // The error reply echoes the request as it came.
    let reply = Stanza::Iq(
        iq.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
            .unwrap(),
    );
    let mut out = BytesMut::new();
    StreamWriter::new()
        .write_stanza(&reply, StreamNamespace::Client, &mut out)
        .unwrap();
    let written = std::str::from_utf8(&out).unwrap();
    assert!(written.contains(ping), "{written}");
    // And as a tree, it is the same stanza.
    let tree = reply.to_element_in(StreamNamespace::Client);
    assert_eq!(Stanza::try_from(tree).unwrap(), reply);
}

#[test]
fn a_payload_that_needs_an_outer_declaration_is_a_tree_with_it() {
    let [Ok(Stanza::Message(m))] = &split_stanzas(
        "<message xmlns:s='urn:stanza' id='m1'><o:x a='1'/><s:y/><z xmlns=''/><w xmlns='urn:w'/></message>",
    )[..] else {
        panic!("one message");
    };
    let raw: Vec<bool> = m.payloads.iter().map(|p| p.raw_bytes().is_some()).collect();
    // `<z xmlns=''/>` declares its (empty) namespace itself: it stands alone.
    assert_eq!(raw, [false, false, true, true]);
    assert!(m.payloads[0].is("x", "urn:outer"));
    assert_eq!(m.payloads[0].attr("a"), Some("1"));
    assert!(m.payloads[1].is("y", "urn:stanza"));
    assert!(m.payloads[2].is("z", ""));
    assert!(m.payloads[3].is("w", "urn:w"));
}

#[test]
fn an_invalid_split_stanza_gives_back_the_whole_element_for_its_error_reply() {
    let [Err(error)] = &split_stanzas(
        "<message to='not a jid@@' id='m1' from='romeo@example.net/orchard'>\
         <body>hi</body><x xmlns='urn:x'><y/></x></message>",
    )[..] else {
        panic!("one invalid message");
    };
    assert_eq!(error.condition(), DefinedCondition::JidMalformed);
    assert_eq!(error.element.attr("id"), Some("m1"));
    let x = error
        .element
        .get_child("x", "urn:x")
        .expect("the payload is there");
    assert!(x.get_child("y", "urn:x").is_some());
    let reply = error.error_reply().unwrap();
    assert_eq!(reply.attr("to"), Some("romeo@example.net/orchard"));
}

#[test]
fn a_raw_payload_changed_in_place_becomes_a_tree_and_is_written_as_one() {
    let [Ok(Stanza::Message(m))] =
        &split_stanzas("<message id='m1'><x xmlns='urn:x' a='1'/></message>")[..]
    else {
        panic!("one message");
    };
    let mut m = m.clone();
    assert!(m.payloads[0].raw_bytes().is_some());
    m.payloads[0].attrs_mut().insert(
        rxml::Namespace::NONE,
        rxml::NcName::try_from("a").unwrap(),
        "2".to_owned(),
    );
    assert_eq!(m.payloads[0].raw_bytes(), None);
    let element = Element::from(m.clone());
    assert_eq!(
        element.get_child("x", "urn:x").unwrap().attr("a"),
        Some("2")
    );
    round_trips(&Stanza::Message(m));
}

#[test]
fn attributes_of_a_payload_that_needs_an_outer_declaration_stay_its_own() {
    // The first payload uses the stream's prefix (so it is parsed with it);
    // its attributes must neither leak into the next element nor escape
    // the duplicate check.
    let [Ok(Stanza::Message(m))] = &split_stanzas(
        "<message id='m1'><o:x a='1'><o:y b='2'/></o:x><extra/><w xmlns='urn:w'/></message>",
    )[..] else {
        panic!("one message");
    };
    assert_eq!(m.payloads[0].attr("a"), Some("1"));
    assert_eq!(
        m.payloads[0].get_child("y", "urn:outer").unwrap().attr("b"),
        Some("2")
    );
    assert!(m.payloads[1].is("extra", "jabber:client"));
    assert_eq!(m.payloads[1].attrs().len(), 0, "{:?}", m.payloads[1]);
    assert_eq!(m.payloads[2].raw_bytes(), Some(&b"<w xmlns='urn:w'/>"[..]));

    use xmpp_kit::xml::{Limits, ParseError, StreamParser};
    let mut parser = StreamParser::new(Limits::default());
    parser.set_split_stanzas(true);
    parser.feed(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
          xmlns:o='urn:outer'><message id='m2'><o:x a='1' a='2'/><extra/></message>",
    );
    assert!(parser.next_frame().unwrap().is_some());
    assert_eq!(
        parser.next_frame(),
        Err(ParseError::DuplicateAttribute("a".into()))
    );
}

#[test]
fn split_stanzas_type_the_same_as_their_elements() {
    let cases = [
        "<message id='m1' xml:lang='en'><body>plain</body><body xml:lang='fr'>fran&#xE7;ais</body>\
         <subject>s&amp;t</subject><thread>t1</thread></message>",
        "<message id='m2'><body>a<b xmlns='urn:x'>inner</b>c</body><thread parent='p'>t2</thread></message>",
        "<message id='m3'><body x='1'>with an attribute</body><body/><subject></subject></message>",
        "<message id='m4' type='error'><error type='cancel'><item-not-found \
         xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error><extra>kept</extra></message>",
        "<presence id='p1'><show> away </show><status>out</status><status xml:lang='de'>weg</status>\
         <priority> 5 </priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
        "<presence id='p2'><show>nonsense</show></presence>",
        "<presence id='p3'><priority>high</priority></presence>",
        "<iq type='result' id='i1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>",
    ];
    for case in cases {
        let from_split = split_stanzas(case).pop().expect("one stanza");
        let element: Element =
            format!("<stream xmlns='jabber:client' xmlns:o='urn:outer'>{case}</stream>")
                .parse::<Element>()
                .unwrap()
                .children()
                .next()
                .unwrap()
                .clone();
        let from_element = Stanza::try_from(element);
        match (&from_split, &from_element) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{case}"),
            (Err(a), Err(b)) => {
                assert_eq!(a.error, b.error, "{case}");
                assert_eq!(a.element, b.element, "{case}");
            }
            _ => panic!("{case}: {from_split:?} against {from_element:?}"),
        }
    }
    // The text-only children were read without trees, and typed the same.
    let [Ok(Stanza::Message(m))] = &split_stanzas(cases[1])[..] else {
        panic!()
    };
    assert_eq!(m.body(), Some("ac"));
    assert_eq!(
        m.thread,
        Some(xmpp_kit::stanza::Thread {
            id: "t2".into(),
            parent: Some("p".into())
        })
    );
}
