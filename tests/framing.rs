//! Behaviour of the stream parser and writer on well-formed streams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use bytes::BytesMut;
use minidom::Element;
use xmpp_kit::stream::StreamErrorCondition;
use xmpp_kit::xml::{
    Frame, Framing, LimitKind, Limits, ParseError, StreamHeader, StreamNamespace, StreamParser,
    StreamWriter, WriteError,
};

const CLIENT_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='im.example.com' \
    from='juliet@im.example.com' id='t7AMCin9zjMNwQKDnplntZPIDEI=' version='1.0' xml:lang='en'>";

/// Feeds `data` whole and returns every frame, or the first error.
fn frames(data: &[u8]) -> Result<Vec<Frame>, ParseError> {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(data);
    drain(&mut parser)
}

fn drain(parser: &mut StreamParser) -> Result<Vec<Frame>, ParseError> {
    let mut out = Vec::new();
    while let Some(frame) = parser.next_frame()? {
        out.push(frame);
    }
    Ok(out)
}

fn element(frame: &Frame) -> &Element {
    match frame {
        Frame::Element(e) => e,
        other => panic!("expected an element, got {other:?}"),
    }
}

#[test]
fn client_stream_header_fields_are_read() {
    let f = frames(CLIENT_HEADER).unwrap();
    assert_eq!(
        f,
        vec![Frame::Header(StreamHeader {
            framing: Framing::Stream,
            namespace: StreamNamespace::Client,
            to: Some("im.example.com".into()),
            from: Some("juliet@im.example.com".into()),
            id: Some("t7AMCin9zjMNwQKDnplntZPIDEI=".into()),
            version: Some("1.0".into()),
            lang: Some("en".into()),
        })]
    );
}

#[test]
fn each_content_namespace_is_recognized() {
    for (name, expected) in [
        ("jabber:client", StreamNamespace::Client),
        ("jabber:server", StreamNamespace::Server),
        ("jabber:component:accept", StreamNamespace::ComponentAccept),
    ] {
        let header = format!(
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='{name}'>"
        );
        let f = frames(header.as_bytes()).unwrap();
        let [Frame::Header(h)] = f.as_slice() else {
            panic!("{f:?}")
        };
        assert_eq!(h.namespace, expected);
        assert_eq!(h.namespace.as_str(), name);
    }
}

#[test]
fn any_prefix_for_the_stream_namespace_is_accepted() {
    let f = frames(
        b"<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'>\
          <s:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></s:features>",
    )
    .unwrap();
    assert_eq!(f.len(), 2);
    let features = element(&f[1]);
    assert!(features.is("features", "http://etherx.jabber.org/streams"));
    assert!(
        features
            .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
            .is_some()
    );
}

#[test]
fn stanzas_inherit_the_content_namespace_and_keep_everything() {
    let mut data = CLIENT_HEADER.to_vec();
    data.extend_from_slice(
        "<message to='romeo@example.net' type='chat' xml:lang='en' custom='x'>\
         <body>Wherefore art thou, Romeo? &lt;3 &amp; ‘quotes’ 🎭</body>\
         <unknown xmlns='urn:example:unknown' a='1'><deep><deeper>t</deeper></deep></unknown>\
         </message>"
            .as_bytes(),
    );
    let f = frames(&data).unwrap();
    assert_eq!(f.len(), 2);
    let message = element(&f[1]);
    assert!(message.is("message", "jabber:client"));
    assert_eq!(message.attr("to"), Some("romeo@example.net"));
    assert_eq!(message.attr("custom"), Some("x"));
    assert_eq!(
        message.attr_ns(xmpp_kit::ns::XML, "lang"),
        Some("en"),
        "xml:lang is an attribute in the XML namespace"
    );
    let body = message.get_child("body", "jabber:client").unwrap();
    assert_eq!(body.text(), "Wherefore art thou, Romeo? <3 & ‘quotes’ 🎭");
    let unknown = message.get_child("unknown", "urn:example:unknown").unwrap();
    assert_eq!(unknown.attr("a"), Some("1"));
    let deeper = unknown
        .get_child("deep", "urn:example:unknown")
        .and_then(|d| d.get_child("deeper", "urn:example:unknown"))
        .unwrap();
    assert_eq!(deeper.text(), "t");
}

#[test]
fn keepalives_nonzas_and_close() {
    let mut data = CLIENT_HEADER.to_vec();
    data.extend_from_slice(
        b" \n<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>\
          \t<r xmlns='urn:xmpp:sm:3'/></stream:stream>",
    );
    let f = frames(&data).unwrap();
    assert!(matches!(f[0], Frame::Header(_)));
    assert_eq!(f[1], Frame::Keepalive);
    let features = element(&f[2]);
    assert!(features.is("features", xmpp_kit::ns::STREAM));
    let starttls = features.get_child("starttls", xmpp_kit::ns::TLS).unwrap();
    assert!(starttls.get_child("required", xmpp_kit::ns::TLS).is_some());
    assert_eq!(f[3], Frame::Keepalive);
    assert!(element(&f[4]).is("r", "urn:xmpp:sm:3"));
    assert_eq!(f[5], Frame::Close);
    assert_eq!(f.len(), 6);
}

#[test]
fn a_stanza_split_anywhere_waits_for_its_end() {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(CLIENT_HEADER);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let stanza = b"<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>";
    for (i, byte) in stanza.iter().enumerate() {
        assert_eq!(parser.next_frame(), Ok(None), "frame before byte {i}");
        parser.feed(&[*byte]);
    }
    let frame = parser.next_frame().unwrap().unwrap();
    assert!(element(&frame).is("iq", "jabber:client"));
    assert_eq!(parser.next_frame(), Ok(None));
}

#[test]
fn an_empty_element_at_the_end_of_the_input_is_delivered_at_once() {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(CLIENT_HEADER);
    parser.feed(b"<r xmlns='urn:xmpp:sm:3'/>");
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let frame = parser.next_frame().unwrap().expect("the <r/> is complete");
    assert!(element(&frame).is("r", "urn:xmpp:sm:3"));
}

#[test]
fn reset_keeps_the_bytes_that_follow_success() {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(CLIENT_HEADER);
    parser.feed(
        b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><stream:stream xmlns='jabber:client' ",
    );
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let success = parser.next_frame().unwrap().unwrap();
    assert!(element(&success).is("success", xmpp_kit::ns::SASL));
    assert!(
        parser.buffered_len() > 0,
        "the new header is still buffered"
    );
    parser.reset();
    parser.set_authenticated(true);
    parser.feed(b"xmlns:stream='http://etherx.jabber.org/streams' id='second'>");
    let Some(Frame::Header(h)) = parser.next_frame().unwrap() else {
        panic!("expected a new header")
    };
    assert_eq!(h.id.as_deref(), Some("second"));

    // The same with an end tag instead of an empty-element tag.
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(CLIENT_HEADER);
    parser.feed(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'></proceed><x");
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Element(_)))));
    assert_eq!(
        parser.buffered_len(),
        2,
        "bytes after <proceed/> are visible"
    );
}

#[test]
fn websocket_framing_rfc7395() {
    let data = b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>\
        <stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>\
        <message xmlns='jabber:client' to='a@example.com'><body>hi</body></message>\
        <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>\
        <close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(data);
    let f = drain(&mut parser).unwrap();
    let [
        Frame::Header(h1),
        Frame::Element(features),
        Frame::Element(message),
        Frame::Header(h2),
        Frame::Close,
    ] = f.as_slice()
    else {
        panic!("{f:?}")
    };
    assert_eq!(h1.framing, Framing::WebSocket);
    assert_eq!(h1.to.as_deref(), Some("example.com"));
    assert_eq!(h1, h2);
    assert!(features.is("features", xmpp_kit::ns::STREAM));
    assert!(message.is("message", "jabber:client"));
    assert!(parser.is_closed());
}

#[test]
fn websocket_stanza_without_namespace_is_invalid_namespace() {
    let err = frames(b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/><message/>").unwrap_err();
    assert_eq!(err.condition(), StreamErrorCondition::InvalidNamespace);
}

#[test]
fn pre_auth_limit_applies_until_authenticated() {
    let mut limits = Limits::default();
    limits.max_stanza_bytes_pre_auth = 300;
    limits.max_stanza_bytes = 1000;
    let stanza = format!("<message><body>{}</body></message>", "x".repeat(500));

    let mut parser = StreamParser::new(limits.clone());
    parser.feed(CLIENT_HEADER);
    parser.feed(stanza.as_bytes());
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let err = parser.next_frame().unwrap_err();
    assert_eq!(
        err,
        ParseError::LimitExceeded {
            kind: LimitKind::StanzaBytes,
            limit: 300
        }
    );

    let mut parser = StreamParser::new(limits);
    parser.feed(CLIENT_HEADER);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    parser.set_authenticated(true);
    parser.feed(stanza.as_bytes());
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Element(_)))));
}

#[test]
fn a_stanza_of_exactly_the_limit_passes_and_one_byte_more_fails() {
    let header: &[u8] =
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    assert!(header.len() <= 100);
    for (size, ok) in [(99, true), (100, true), (101, false)] {
        let mut limits = Limits::default();
        limits.max_stanza_bytes_pre_auth = 100;
        let mut parser = StreamParser::new(limits);
        parser.feed(header);
        assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
        let stanza = format!("<a>{}</a>", "x".repeat(size - 7));
        assert_eq!(stanza.len(), size);
        parser.feed(stanza.as_bytes());
        let result = parser.next_frame();
        assert_eq!(result.is_ok(), ok, "size {size}: {result:?}");
    }
}

#[test]
fn errors_are_sticky() {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(CLIENT_HEADER);
    parser.feed(b"<message><!-- no --></message>");
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let first = parser.next_frame().unwrap_err();
    parser.feed(b"<message/>");
    assert_eq!(parser.next_frame().unwrap_err(), first);
    assert_eq!(parser.buffered_len(), 0, "a failed parser holds no input");
}

#[test]
fn writer_round_trip_of_a_whole_stream() {
    let header = StreamHeader {
        framing: Framing::Stream,
        namespace: StreamNamespace::Client,
        to: Some("example.com".into()),
        from: Some("juliet@example.com".into()),
        id: None,
        version: Some("1.0".into()),
        lang: Some("en".into()),
    };
    let features: Element = "<features xmlns='http://etherx.jabber.org/streams'>\
        <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\
        </features>"
        .parse()
        .unwrap();
    let message: Element = "<message xmlns='jabber:client' to='romeo@example.net' type='chat'>\
        <body>a &lt; b &amp;&amp; c &gt; d ]]&gt; \r\n</body>\
        <x xmlns='urn:example' attr='&apos;&quot;&#9;&#10;&#13;&lt;&amp;'/>\
        </message>"
        .parse()
        .unwrap();

    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    writer.write_header(&header, &mut out).unwrap();
    writer.write_element(&features, &mut out).unwrap();
    writer.write_element(&message, &mut out).unwrap();
    writer.write_close(&mut out);

    let text = std::str::from_utf8(&out).unwrap();
    assert!(
        text.contains("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"),
        "{text}"
    );
    assert!(
        text.contains("<message to='romeo@example.net' type='chat'><body>"),
        "{text}"
    );
    assert!(text.ends_with("</message></stream:stream>"), "{text}");
    assert_eq!(
        text.matches("xmlns='jabber:client'").count(),
        1,
        "declared once: {text}"
    );

    let f = frames(&out).unwrap();
    assert_eq!(
        f,
        vec![
            Frame::Header(header),
            Frame::Element(features),
            Frame::Element(message),
            Frame::Close
        ]
    );
}

#[test]
fn writer_websocket_documents_stand_alone() {
    let header = StreamHeader {
        to: Some("example.com".into()),
        ..StreamHeader::new(Framing::WebSocket, StreamNamespace::Client)
    };
    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    writer.write_header(&header, &mut out).unwrap();
    assert_eq!(
        &out[..],
        b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>"
    );
    out.clear();
    let features = Element::builder("features", xmpp_kit::ns::STREAM).build();
    writer.write_element(&features, &mut out).unwrap();
    assert_eq!(
        &out[..],
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"
    );
    out.clear();
    let message = Element::builder("message", "jabber:client").build();
    writer.write_element(&message, &mut out).unwrap();
    assert_eq!(&out[..], b"<message xmlns='jabber:client'/>");
    out.clear();
    let no_namespace = Element::bare("message", "");
    assert_eq!(
        writer.write_element(&no_namespace, &mut out),
        Err(WriteError::MissingNamespace("message".into()))
    );
    assert!(out.is_empty());
    out.clear();
    writer.write_close(&mut out);
    assert_eq!(
        &out[..],
        b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
    );
}

#[test]
fn writer_declares_namespaces_only_where_they_change() {
    let e: Element = "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:roster'>\
        <item jid='a@b'><group>g</group></item><item jid='c@d' xmlns='jabber:iq:roster'/>\
        <other xmlns=''/></query></iq>"
        .parse()
        .unwrap();
    let mut out = BytesMut::new();
    StreamWriter::new().write_element(&e, &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:roster'>\
         <item jid='a@b'><group>g</group></item><item jid='c@d'/><other xmlns=''/></query></iq>"
    );
}

#[test]
fn writer_refuses_what_xml_cannot_carry_and_writes_nothing() {
    let mut out = BytesMut::from(&b"kept"[..]);
    let writer = StreamWriter::new();
    let bad_text = Element::builder("body", "jabber:client")
        .append("bell \u{7}")
        .build();
    assert_eq!(
        writer.write_element(&bad_text, &mut out),
        Err(WriteError::InvalidChar(7))
    );
    let bad_nonchar = Element::builder("body", "jabber:client")
        .append("\u{FFFE}")
        .build();
    assert_eq!(
        writer.write_element(&bad_nonchar, &mut out),
        Err(WriteError::InvalidChar(0xFFFE))
    );
    let bad_name = Element::bare("not a name", "jabber:client");
    assert!(matches!(
        writer.write_element(&bad_name, &mut out),
        Err(WriteError::InvalidName(_))
    ));
    let nested = Element::builder("a", "urn:x")
        .append(Element::builder("b", "urn:x").append("ok").build())
        .append(Element::builder("c", "urn:x").append("\u{0}").build())
        .build();
    assert!(writer.write_element(&nested, &mut out).is_err());
    assert_eq!(
        &out[..],
        b"kept",
        "a refused element leaves no partial output"
    );
}

#[test]
fn writer_top_level_element_without_namespace_in_a_stream() {
    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    let header = StreamHeader {
        version: None,
        ..StreamHeader::new(Framing::Stream, StreamNamespace::Client)
    };
    writer.write_header(&header, &mut out).unwrap();
    let plain = Element::bare("x", "");
    writer.write_element(&plain, &mut out).unwrap();
    assert!(out.ends_with(b"<x xmlns=''/>"));
    let f = frames(&out).unwrap();
    assert_eq!(f, vec![Frame::Header(header), Frame::Element(plain)]);
}

#[test]
fn writer_uses_the_xml_prefix_for_elements_in_the_xml_namespace() {
    let e = Element::builder("a", "urn:x")
        .append(Element::builder("b", xmpp_kit::ns::XML).append("t").build())
        .build();
    let mut out = BytesMut::new();
    StreamWriter::new().write_element(&e, &mut out).unwrap();
    assert_eq!(&out[..], b"<a xmlns='urn:x'><xml:b>t</xml:b></a>");
    let mut stream = CLIENT_HEADER.to_vec();
    stream.extend_from_slice(&out);
    assert_eq!(frames(&stream).unwrap()[1], Frame::Element(e));
}

#[test]
fn writer_prefixes_namespaced_attributes() {
    let e = Element::builder("x", "urn:example")
        .attr_ns(
            rxml::Namespace::from("urn:other"),
            rxml::NcName::try_from("a").unwrap(),
            "1",
        )
        .build();
    let mut out = BytesMut::new();
    StreamWriter::new().write_element(&e, &mut out).unwrap();
    let written = std::str::from_utf8(&out).unwrap();
    assert_eq!(
        written,
        "<x xmlns='urn:example' xmlns:ns0='urn:other' ns0:a='1'/>"
    );
    let back: Element = written.parse().unwrap();
    assert_eq!(back, e);
}

#[test]
fn writer_declares_one_prefix_per_attribute_namespace() {
    let attr = |name: &str| rxml::NcName::try_from(name).unwrap();
    let e = Element::builder("x", "urn:example")
        .attr_ns(rxml::Namespace::from("urn:other"), attr("a"), "1")
        .attr_ns(rxml::Namespace::from("urn:other"), attr("b"), "2")
        .attr_ns(rxml::Namespace::from("urn:third"), attr("c"), "3")
        .build();
    let mut out = BytesMut::new();
    StreamWriter::new().write_element(&e, &mut out).unwrap();
    let written = std::str::from_utf8(&out).unwrap();
    assert_eq!(
        written,
        "<x xmlns='urn:example' xmlns:ns0='urn:other' ns0:a='1' ns0:b='2' \
         xmlns:ns1='urn:third' ns1:c='3'/>"
    );
    let mut stream = CLIENT_HEADER.to_vec();
    stream.extend_from_slice(&out);
    assert_eq!(frames(&stream).unwrap()[1], Frame::Element(e));
}
