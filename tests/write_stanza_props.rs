//! [`StreamWriter::write_stanza`] writes exactly what
//! [`StreamWriter::write_element`] writes for
//! [`Stanza::to_element_in`], byte for byte and error for error, for any
//! stanza, content namespace and writer state (no stream, an open
//! `<stream:stream>`, RFC 7395 WebSocket framing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::path::Path;

use bytes::BytesMut;
use minidom::Element;
use proptest::prelude::*;
use rxml::{AttrMap, Namespace, NcName};
use xmpp_kit::jid::Jid;
use xmpp_kit::stanza::{
    DefinedCondition, ErrorType, Iq, IqKind, Message, MessageType, Presence, PresenceType, Show,
    Stanza, StanzaError, Text, Thread,
};
use xmpp_kit::xml::{
    Frame, Framing, LazyElement, Limits, StreamHeader, StreamNamespace, StreamParser, StreamWriter,
    WriteError,
};

const NAMESPACES: [StreamNamespace; 3] = [
    StreamNamespace::Client,
    StreamNamespace::Server,
    StreamNamespace::ComponentAccept,
];

/// Every writer state a stanza can be written in: no stream, and each
/// framing with each content namespace.
fn writers() -> Vec<StreamWriter> {
    let mut writers = vec![StreamWriter::new()];
    for framing in [Framing::Stream, Framing::WebSocket] {
        for namespace in NAMESPACES {
            let mut writer = StreamWriter::new();
            let header = StreamHeader {
                to: Some("example.com".into()),
                ..StreamHeader::new(framing, namespace)
            };
            writer.write_header(&header, &mut BytesMut::new()).unwrap();
            writers.push(writer);
        }
    }
    writers
}

/// Writes `stanza` both ways after some bytes already in the buffer, and
/// checks that the results and the bytes are the same, and that an error
/// leaves the buffer as it was. Returns whether it was written.
fn same_both_ways(writer: &StreamWriter, stanza: &Stanza, namespace: StreamNamespace) -> bool {
    let mut via_element = BytesMut::from(&b"before"[..]);
    let mut direct = via_element.clone();
    let expected = writer.write_element(&stanza.to_element_in(namespace), &mut via_element);
    let got = writer.write_stanza(stanza, namespace, &mut direct);
    assert_eq!(got, expected, "{stanza:?} in {namespace:?} by {writer:?}");
    assert_eq!(
        String::from_utf8_lossy(&direct),
        String::from_utf8_lossy(&via_element),
        "{stanza:?} in {namespace:?} by {writer:?}"
    );
    if got.is_err() {
        assert_eq!(&direct[..], b"before", "an error writes nothing");
    }
    got.is_ok()
}

fn same_everywhere(stanza: &Stanza) {
    for writer in writers() {
        for namespace in NAMESPACES {
            same_both_ways(&writer, stanza, namespace);
        }
    }
}

// ---- generators -------------------------------------------------------

fn jid() -> impl Strategy<Value = Option<Jid>> {
    prop::option::of(
        prop::sample::select(vec![
            "juliet@example.com/balcony",
            "example.com",
            "zo\u{eb}@capulet.lit",
            "romeo@example.net/a'b<c>&d",
        ])
        .prop_map(|j| j.parse::<Jid>().unwrap()),
    )
}

/// Text with everything that needs escaping and multi-byte characters;
/// rarely a character XML cannot carry, to exercise the error path.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        80 => "[a-z0-9 <>&'\"\t\n\r\u{e9}\u{3c0}\u{1F3AD}\\]]{0,12}",
        1 => "[a-z]{0,3}[\u{0}\u{7}\u{FFFE}][a-z]{0,3}",
    ]
}

fn lang() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec!["en", "cs", "de-CH", ""]).prop_map(String::from))
}

fn texts() -> impl Strategy<Value = Vec<Text>> {
    prop::collection::vec(
        (lang(), text()).prop_map(|(lang, text)| Text { lang, text }),
        0..3,
    )
}

fn attr_namespace(kind: u8) -> Namespace<'static> {
    match kind {
        0 => Namespace::from("urn:xmpp:attr"),
        1 => Namespace::from("urn:xmpp:other'attr"),
        2 => Namespace::XML,
        _ => Namespace::NONE,
    }
}

/// Attributes: plain ones (some named like the stanza's own), `xml:` ones
/// and ones in other namespaces, which need prefixes.
fn attrs() -> impl Strategy<Value = AttrMap> {
    prop::collection::vec(
        (
            0u8..6,
            prop_oneof![
                prop::sample::select(vec!["a", "zz", "to", "id", "type", "lang", "by"])
                    .prop_map(String::from),
                "[a-z][a-z0-9_.-]{0,4}",
            ],
            text(),
        ),
        0..4,
    )
    .prop_map(|attrs| {
        let mut map = AttrMap::new();
        for (kind, name, value) in attrs {
            map.insert(attr_namespace(kind), NcName::try_from(name).unwrap(), value);
        }
        map
    })
}

fn element_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["body", "error", "x", "query", "item", "entry"])
            .prop_map(String::from),
        30 => "[a-zA-Z_][a-zA-Z0-9._-]{0,6}",
        1 => Just("not a name".to_owned()),
    ]
}

fn element_namespace() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "jabber:client",
        "jabber:server",
        "jabber:component:accept",
        "urn:xmpp:receipts",
        "http://jabber.org/protocol/pubsub#event",
        "http://www.w3.org/2005/Atom",
        "http://etherx.jabber.org/streams",
        "urn:ietf:params:xml:ns:xmpp-stanzas",
        "http://www.w3.org/XML/1998/namespace",
        "",
    ])
    .prop_map(String::from)
}

#[derive(Debug, Clone)]
enum Child {
    Text(String),
    Element(Element),
}

/// A payload element: own namespace, attributes (prefixed ones too),
/// nested children in the same or other namespaces, text.
fn payload() -> impl Strategy<Value = Element> {
    let leaf = (element_name(), element_namespace(), attrs())
        .prop_map(|(n, ns, attrs)| build(n, ns, attrs, vec![]));
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            element_name(),
            element_namespace(),
            attrs(),
            prop::collection::vec(
                prop_oneof![text().prop_map(Child::Text), inner.prop_map(Child::Element)],
                0..4,
            ),
        )
            .prop_map(|(n, ns, attrs, children)| build(n, ns, attrs, children))
    })
}

fn build(name: String, ns: String, attrs: AttrMap, children: Vec<Child>) -> Element {
    let mut e = Element::bare(name, ns);
    *e.attrs_mut() = attrs;
    for child in children {
        match child {
            Child::Text(t) => e.append_text(t),
            Child::Element(c) => {
                e.append_child(c);
            }
        }
    }
    e
}

fn payloads() -> impl Strategy<Value = Vec<LazyElement>> {
    prop::collection::vec(payload().prop_map(LazyElement::from), 0..4)
}

fn stanza_error() -> impl Strategy<Value = StanzaError> {
    (
        prop::sample::select(vec![
            ErrorType::Auth,
            ErrorType::Cancel,
            ErrorType::Continue,
            ErrorType::Modify,
            ErrorType::Wait,
        ]),
        jid(),
        prop::sample::select(DefinedCondition::ALL.to_vec()),
        prop::option::of(text()),
        prop::collection::vec((lang(), text()), 0..3),
        prop::option::of(payload()),
    )
        .prop_map(
            |(error_type, by, condition, condition_text, texts, application)| StanzaError {
                by,
                condition_text,
                texts,
                application,
                ..StanzaError::with_type(error_type, condition)
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    (
        (
            jid(),
            jid(),
            prop::option::of(text()),
            prop::sample::select(vec![
                MessageType::Chat,
                MessageType::Error,
                MessageType::Groupchat,
                MessageType::Headline,
                MessageType::Normal,
            ]),
            lang(),
        ),
        (
            texts(),
            texts(),
            prop::option::of((text(), prop::option::of(text()))),
            prop::option::of(stanza_error()),
            payloads(),
            attrs(),
        ),
    )
        .prop_map(
            |((to, from, id, kind, lang), (bodies, subjects, thread, error, payloads, other))| {
                Message {
                    to,
                    from,
                    id,
                    kind,
                    lang,
                    bodies,
                    subjects,
                    thread: thread.map(|(id, parent)| Thread { id, parent }),
                    error,
                    payloads,
                    other_attrs: other,
                }
            },
        )
}

fn presence() -> impl Strategy<Value = Presence> {
    (
        (
            jid(),
            jid(),
            prop::option::of(text()),
            prop::sample::select(vec![
                PresenceType::Available,
                PresenceType::Unavailable,
                PresenceType::Subscribe,
                PresenceType::Subscribed,
                PresenceType::Unsubscribe,
                PresenceType::Unsubscribed,
                PresenceType::Probe,
                PresenceType::Error,
            ]),
            lang(),
        ),
        (
            prop::option::of(prop::sample::select(vec![
                Show::Away,
                Show::Chat,
                Show::Dnd,
                Show::Xa,
            ])),
            texts(),
            any::<i8>(),
            prop::option::of(stanza_error()),
            payloads(),
            attrs(),
        ),
    )
        .prop_map(
            |((to, from, id, kind, lang), (show, statuses, priority, error, payloads, other))| {
                let mut p = Presence::new(kind);
                p.to = to;
                p.from = from;
                p.id = id;
                p.lang = lang;
                p.show = show;
                p.statuses = statuses;
                p.priority = priority;
                p.error = error;
                p.payloads = payloads;
                p.other_attrs = other;
                p
            },
        )
}

fn iq_kind() -> impl Strategy<Value = IqKind> {
    prop_oneof![
        payload().prop_map(|p| IqKind::Get(p.into())),
        payload().prop_map(|p| IqKind::Set(p.into())),
        prop::option::of(payload()).prop_map(|p| IqKind::Result(p.map(Into::into))),
        (stanza_error(), prop::option::of(payload())).prop_map(|(error, request)| {
            IqKind::Error {
                error: Box::new(error),
                request: request.map(Into::into),
            }
        }),
    ]
}

fn iq() -> impl Strategy<Value = Iq> {
    (jid(), jid(), text(), iq_kind(), lang(), attrs()).prop_map(
        |(to, from, id, kind, lang, other)| {
            let mut iq = Iq::result_for(&Iq::get(None, Element::bare("x", "urn:x")), None);
            iq.to = to;
            iq.from = from;
            iq.id = id;
            iq.kind = kind;
            iq.lang = lang;
            iq.other_attrs = other;
            iq
        },
    )
}

fn stanza() -> impl Strategy<Value = Stanza> {
    prop_oneof![
        message().prop_map(Stanza::Message),
        presence().prop_map(Stanza::Presence),
        iq().prop_map(Stanza::Iq),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn write_stanza_is_write_element_of_to_element_in(stanza in stanza()) {
        same_everywhere(&stanza);
    }
}

// ---- fixed cases --------------------------------------------------------

fn atom_entry() -> Element {
    "<entry xmlns='http://www.w3.org/2005/Atom' xmlns:p='urn:p' p:k='v&amp;' xml:lang='en'>\
     <title>T &lt;1&gt;</title><p:x p:y='1'/><content type='xhtml'>a<b xmlns='urn:b'/>c</content>\
     </entry>"
        .parse()
        .unwrap()
}

fn error() -> StanzaError {
    StanzaError::new(DefinedCondition::ItemNotFound).with_text("not here")
}

#[test]
fn every_iq_kind_is_written_the_same() {
    let to: Jid = "juliet@example.com/balcony".parse().unwrap();
    let get = Iq::get(Some(to.clone()), atom_entry()).with_id("g1");
    let kinds = [
        IqKind::Get(atom_entry().into()),
        IqKind::Set(atom_entry().into()),
        IqKind::Result(Some(atom_entry().into())),
        IqKind::Result(None),
        IqKind::Error {
            error: Box::new(error()),
            request: Some(atom_entry().into()),
        },
        IqKind::Error {
            error: Box::new(error()),
            request: None,
        },
    ];
    for kind in kinds {
        let mut iq = get.clone();
        iq.kind = kind;
        same_everywhere(&Stanza::Iq(iq));
    }
    // The request payload comes before the error.
    let reply = get.error_reply(error()).unwrap();
    let mut out = BytesMut::new();
    StreamWriter::new()
        .write_stanza(&Stanza::Iq(reply), StreamNamespace::Client, &mut out)
        .unwrap();
    let text = String::from_utf8(out.to_vec()).unwrap();
    let entry = text.find("<entry ").unwrap();
    let error = text.find("<error ").unwrap();
    assert!(entry < error, "{text}");
    assert!(
        text.starts_with("<iq xmlns='jabber:client' from='juliet@example.com/balcony' id='g1' type='error'><entry "),
        "{text}"
    );
    assert!(text.ends_with("</error></iq>"), "{text}");
}

#[test]
fn every_presence_and_message_kind_is_written_the_same() {
    let to: Jid = "romeo@example.net".parse().unwrap();
    let mut presence = Presence::available()
        .with_to(to.clone())
        .with_show(Show::Dnd)
        .with_status("busy")
        .with_priority(-5);
    presence.payloads.push(atom_entry().into());
    presence.lang = Some("en".into());
    for kind in [
        PresenceType::Available,
        PresenceType::Unavailable,
        PresenceType::Subscribe,
        PresenceType::Subscribed,
        PresenceType::Unsubscribe,
        PresenceType::Unsubscribed,
        PresenceType::Probe,
        PresenceType::Error,
    ] {
        let mut p = presence.clone();
        p.kind = kind;
        p.error = (kind == PresenceType::Error).then(error);
        same_everywhere(&Stanza::Presence(p));
    }
    let mut message = Message::chat(to, "Fish & chips")
        .with_id("m1")
        .with_subject("s");
    message.thread = Some(Thread {
        id: "t".into(),
        parent: Some("p".into()),
    });
    message.payloads.push(atom_entry().into());
    message
        .payloads
        .push(Element::bare("active", "http://jabber.org/protocol/chatstates").into());
    message.other_attrs.insert(
        Namespace::from("urn:xmpp:sid:0"),
        NcName::try_from("origin").unwrap(),
        "o1".into(),
    );
    message
        .other_attrs
        .insert(Namespace::NONE, NcName::try_from("a").unwrap(), "1".into());
    for kind in [
        MessageType::Chat,
        MessageType::Error,
        MessageType::Groupchat,
        MessageType::Headline,
        MessageType::Normal,
    ] {
        let mut m = message.clone();
        m.kind = kind;
        m.error = (kind == MessageType::Error).then(error);
        same_everywhere(&Stanza::Message(m));
    }
}

#[test]
fn an_unwritable_payload_or_text_writes_nothing() {
    let to: Jid = "romeo@example.net".parse().unwrap();
    let bad_name = Message::chat(to.clone(), "hi").with_id("m1");
    let mut bad_name = bad_name;
    bad_name
        .payloads
        .push(Element::bare("not a name", "urn:x").into());
    let bad_text = Message::chat(to.clone(), "bell \u{7}");
    let bad_request = {
        let mut iq = Iq::get(Some(to.clone()), atom_entry())
            .with_id("q")
            .error_reply(error())
            .unwrap();
        if let IqKind::Error { request, .. } = &mut iq.kind {
            let mut payload = atom_entry();
            payload.append_text("\u{FFFF}");
            *request = Some(payload.into());
        }
        iq
    };
    let bad_error = Presence::unavailable().with_to(to).with_status("ok");
    let mut bad_error = bad_error;
    bad_error.kind = PresenceType::Error;
    bad_error.error = Some(error().with_text("\u{0}"));
    let cases = [
        (Stanza::Message(bad_name), None),
        (Stanza::Message(bad_text), Some(WriteError::InvalidChar(7))),
        (
            Stanza::Iq(bad_request),
            Some(WriteError::InvalidChar(0xFFFF)),
        ),
        (
            Stanza::Presence(bad_error),
            Some(WriteError::InvalidChar(0)),
        ),
    ];
    for (stanza, error) in cases {
        for writer in writers() {
            for namespace in NAMESPACES {
                assert!(!same_both_ways(&writer, &stanza, namespace));
                let mut out = BytesMut::from(&b"kept"[..]);
                let result = writer.write_stanza(&stanza, namespace, &mut out);
                match &error {
                    Some(e) => assert_eq!(result.as_ref(), Err(e)),
                    None => assert!(matches!(result, Err(WriteError::InvalidName(_)))),
                }
                assert_eq!(&out[..], b"kept");
            }
        }
    }
}

/// The stanzas of the fuzz seeds of the stanza target, written both ways.
#[test]
fn fuzz_seed_stanzas_are_written_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stanza");
    let mut stanzas = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            // The first byte chooses the harness's chunking.
            let mut parser = StreamParser::new(Limits::default());
            parser.set_authenticated(true);
            parser.feed(&data[1..]);
            while let Ok(Some(frame)) = parser.next_frame() {
                match frame {
                    Frame::Header(_) => parser.set_authenticated(true),
                    Frame::Element(element) => {
                        if let Ok(stanza) = Stanza::try_from(element) {
                            same_everywhere(&stanza);
                            stanzas += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(stanzas >= 5, "only {stanzas} stanzas in the fuzz seeds");
}
