//! Fuzz harnesses, shared by the cargo-fuzz targets and by the stable test
//! `tests/fuzz_corpus.rs` that replays `fuzz/corpus/`.
//!
//! Each harness panics only when a property of the crate is broken; any
//! input that the crate rejects with a typed error is fine.

use bytes::BytesMut;
use xmpp_kit::xml::{
    Frame, Framing, Limits, ParseError, StanzaName, StanzaParts, StreamHeader, StreamNamespace,
    StreamParser, StreamWriter,
};

/// Feeds `data` to a [`StreamParser`] in chunks chosen by its first byte,
/// restarting the stream after SASL success like a connection would, and
/// checks that every element it yields survives a write and a re-parse.
///
/// A second parser splitting stanzas ([`StreamParser::set_split_stanzas`])
/// reads the same chunks: it must give the same frames, each stanza as the
/// parts of the element the first one gives, and the same error.
pub(crate) fn framer(data: &[u8]) {
    let Some((&chunking, data)) = data.split_first() else {
        return;
    };
    // Small limits so that the fuzzer reaches them.
    let mut limits = Limits::default();
    limits.max_stanza_bytes = 4096;
    limits.max_stanza_bytes_pre_auth = 1024;
    limits.max_depth = 8;
    limits.max_attributes = 8;
    limits.max_elements = 64;
    limits.max_token_length = 512;
    let chunk = usize::from(chunking % 17) + 1;

    let mut parser = StreamParser::new(limits.clone());
    let mut split = StreamParser::new(limits);
    split.set_split_stanzas(true);
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        split.feed(piece);
        loop {
            let result = parser.next_frame();
            same_frame(&result, split.next_frame());
            match result {
                Ok(Some(Frame::Element(element))) => {
                    round_trip(&element);
                    if element.name() == "success" {
                        parser.reset();
                        parser.set_authenticated(true);
                        split.reset();
                        split.set_authenticated(true);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => {
                    // The error must be sticky and map to a condition.
                    let _ = error.condition();
                    assert_eq!(parser.next_frame(), Err(error.clone()));
                    assert_eq!(split.next_frame(), Err(error));
                    return;
                }
            }
            assert_eq!(parser.buffered_len(), split.buffered_len());
        }
    }
}

/// What the parser splitting stanzas gave (`split`) for what the other
/// gave (`normal`): a stanza as the parts of the same element, with its
/// children kept as bytes named as in the tree and parsing alone to the
/// same tree; anything else equal.
fn same_frame(
    normal: &Result<Option<Frame>, ParseError>,
    split: Result<Option<Frame>, ParseError>,
) {
    let (element, parts) = match (normal, split) {
        (Ok(Some(Frame::Element(element))), Ok(Some(Frame::Stanza(parts)))) => (element, parts),
        (normal, split) => {
            if let Ok(Some(Frame::Element(element))) = normal {
                let stanza = StanzaName::from_name(element.name()).is_some()
                    && StreamNamespace::from_name(&element.ns()).is_some();
                assert!(!stanza, "a stanza was not split: {element:?}");
            }
            assert_eq!(normal, &split, "split mode differs");
            return;
        }
    };
    let trees: Vec<&minidom::Element> = element.children().collect();
    assert_eq!(
        parts.children.len(),
        trees.len(),
        "{parts:?} from {element:?}"
    );
    for (child, tree) in parts.children.iter().zip(trees) {
        assert!(
            child.is(tree.name(), &tree.ns()),
            "{child:?} is not {tree:?}"
        );
        if let Some(bytes) = child.raw_bytes() {
            assert_eq!(&parse_alone(bytes), tree, "kept as {bytes:?}");
        }
    }
    // Taking the element apart gives the same parts (text directly under a
    // stanza is not kept, whitespace or not); they make it whole again.
    let expected = match StanzaParts::from_element(element.clone()) {
        Ok(expected) => expected,
        Err(element) => panic!("split an element that is not a stanza: {element:?}"),
    };
    assert_eq!(parts, expected);
    let mut without_text = element.clone();
    for node in without_text.take_nodes() {
        if let minidom::Node::Element(child) = node {
            without_text.append_child(child);
        }
    }
    assert_eq!(parts.into_element(), without_text);
}

/// The element `bytes` hold, parsed alone in a stream of its own (they
/// declare every namespace they use).
fn parse_alone(bytes: &[u8]) -> minidom::Element {
    let mut parser = StreamParser::new(Limits::default());
    parser.set_authenticated(true);
    parser.feed(
        b"<stream:stream xmlns='jabber:component:accept' \
          xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    parser.feed(bytes);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    match parser.next_frame() {
        Ok(Some(Frame::Element(element))) if parser.buffered_len() == 0 => element,
        other => panic!("kept bytes {bytes:?} alone gave {other:?}"),
    }
}

/// An element the parser produced must be writable, and parse back equal
/// inside a stream like the one it was written for.
fn round_trip(element: &minidom::Element) {
    let header = StreamHeader::new(Framing::Stream, StreamNamespace::Client);
    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    if let Err(e) = writer.write_header(&header, &mut out) {
        panic!("the header could not be written: {e}");
    }
    if let Err(e) = writer.write_element(element, &mut out) {
        panic!("a parsed element could not be written: {e}: {element:?}");
    }
    let mut parser = StreamParser::new(Limits::default());
    parser.set_authenticated(true);
    parser.feed(&out);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    match parser.next_frame() {
        Ok(Some(Frame::Element(back))) => assert_eq!(&back, element, "written as {out:?}"),
        other => panic!("written element did not parse back: {other:?} from {out:?}"),
    }
}

/// Frames `data` (chunked like [`framer`]) and converts every element into a
/// typed stanza. A stanza that converts must survive serialization and a
/// second conversion unchanged; one that does not must give an error whose
/// reply (if any) is itself a valid error stanza.
pub(crate) fn stanza(data: &[u8]) {
    use xmpp_kit::stanza::{Stanza, StanzaError};
    let Some((&chunking, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunking % 31) + 1;
    let mut parser = StreamParser::new(Limits::default());
    parser.set_authenticated(true);
    // What typing each stanza element gives, to compare with typing the
    // same stanzas split as they are read (as connections read them).
    let mut from_elements = Vec::new();
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        loop {
            let frame = parser.next_frame();
            if let Ok(Some(Frame::Element(element))) = &frame
                && Stanza::is_stanza(element)
            {
                from_elements.push(Stanza::try_from(element.clone()));
            }
            match frame {
                Ok(Some(Frame::Element(element))) => match Stanza::try_from(element) {
                    Ok(typed) => {
                        let again = Stanza::try_from(minidom::Element::from(typed.clone()));
                        assert_eq!(
                            again.as_ref(),
                            Ok(&typed),
                            "typed stanza did not round-trip"
                        );
                        // Writing a stanza directly is writing its element.
                        let writer = StreamWriter::new();
                        for namespace in [StreamNamespace::Client, StreamNamespace::ComponentAccept]
                        {
                            let mut direct = BytesMut::new();
                            let mut via_element = BytesMut::new();
                            let written = writer.write_stanza(&typed, namespace, &mut direct);
                            let expected = writer
                                .write_element(&typed.to_element_in(namespace), &mut via_element);
                            assert_eq!(written, expected, "write_stanza differs in its result");
                            assert_eq!(direct, via_element, "write_stanza differs in its bytes");
                        }
                        let payloads: Vec<&minidom::Element> = match &typed {
                            Stanza::Message(m) => {
                                m.payloads.iter().map(|p| p.as_element()).collect()
                            }
                            Stanza::Presence(p) => {
                                p.payloads.iter().map(|p| p.as_element()).collect()
                            }
                            Stanza::Iq(iq) => {
                                iq.payload().map(|p| p.as_element()).into_iter().collect()
                            }
                        };
                        for payload in payloads {
                            every_payload(payload);
                        }
                    }
                    Err(error) => {
                        // Nonzas (stream management, CSI) and broken stanzas
                        // go through the payload parsers too.
                        every_payload(&error.element);
                        let _ = error.condition();
                        if let Some(reply) = error.error_reply() {
                            let reply =
                                Stanza::try_from(reply).expect("the error reply is a valid stanza");
                            assert!(
                                reply
                                    .error_reply(StanzaError::new(error.condition()))
                                    .is_none()
                            );
                        }
                    }
                },
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => break,
            }
        }
    }
    let from_parts = split_typed(data, chunk);
    assert_eq!(
        from_parts.len(),
        from_elements.len(),
        "split typing saw other stanzas"
    );
    for (split, whole) in from_parts.iter().zip(&from_elements) {
        match (split, whole) {
            (Ok(split), Ok(whole)) => assert_eq!(split, whole, "split typing differs"),
            (Err(split), Err(whole)) => {
                assert_eq!(split.error, whole.error, "split typing fails otherwise");
                assert_eq!(
                    *split.element,
                    without_text_under(&whole.element),
                    "split typing gives another element back"
                );
            }
            _ => panic!("split typing gives {split:?}, typing the element {whole:?}"),
        }
    }
}

/// The stanzas of `data` read split, as connections read them, typed from
/// their parts, up to the first parse error.
fn split_typed(
    data: &[u8],
    chunk: usize,
) -> Vec<Result<xmpp_kit::stanza::Stanza, xmpp_kit::stanza::StanzaParseError>> {
    let mut parser = StreamParser::new(Limits::default());
    parser.set_authenticated(true);
    parser.set_split_stanzas(true);
    let mut typed = Vec::new();
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        loop {
            match parser.next_frame() {
                Ok(Some(Frame::Stanza(parts))) => {
                    typed.push(xmpp_kit::stanza::Stanza::try_from(parts));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return typed,
            }
        }
    }
    typed
}

/// `element` without the text directly under it, which split stanzas do
/// not keep.
fn without_text_under(element: &minidom::Element) -> minidom::Element {
    let mut copy = element.clone();
    let nodes = copy.take_nodes();
    for node in nodes {
        if let minidom::Node::Element(child) = node {
            copy.append_child(child);
        }
    }
    copy
}

/// Runs every payload parser of `xmpp_kit::ext` on `element` and on each of
/// its descendants: none may panic, and whatever parses must serialize and
/// parse back to the same value.
fn every_payload(element: &minidom::Element) {
    use xmpp_kit::ext::*;
    let mut stack = vec![element];
    let mut visited = 0;
    while let Some(e) = stack.pop() {
        visited += 1;
        if visited > 256 {
            return;
        }
        check::<caps::Caps>(e);
        check::<carbons::Carbon>(e);
        check::<carbons::Received>(e);
        check::<carbons::Sent>(e);
        check::<chatstates::ChatState>(e);
        check::<csi::Active>(e);
        check::<csi::Inactive>(e);
        check::<csi::Feature>(e);
        check::<data_forms::DataForm>(e);
        check::<delay::Delay>(e);
        check::<disco::DiscoInfo>(e);
        check::<disco::DiscoItems>(e);
        check::<forwarding::Forwarded>(e);
        check::<muc::Muc>(e);
        check::<muc::MucUser>(e);
        check::<oob::Oob>(e);
        check::<oob::IqOob>(e);
        check::<ping::Ping>(e);
        check::<pubsub::PubSub>(e);
        check::<pubsub::PubSubOwner>(e);
        check::<pubsub::Event>(e);
        check::<pubsub::PubSubError>(e);
        check::<receipts::Request>(e);
        check::<receipts::Received>(e);
        check::<roster::Roster>(e);
        check::<sm::Nonza>(e);
        check::<sm::Feature>(e);
        check::<stanza_id::StanzaId>(e);
        check::<stanza_id::OriginId>(e);
        check::<stream_limits::StreamLimits>(e);
        check::<version::VersionQuery>(e);
        stack.extend(e.children());
    }
}

fn check<T: xmpp_kit::ext::Payload + PartialEq + std::fmt::Debug>(element: &minidom::Element) {
    if let Ok(value) = T::parse(element) {
        assert!(
            T::matches(element),
            "{} parsed an element it does not match",
            std::any::type_name::<T>()
        );
        let again = T::parse(&value.to_element());
        assert_eq!(
            again.as_ref(),
            Ok(&value),
            "{} did not round-trip",
            std::any::type_name::<T>()
        );
    }
}

/// Drives a `ClientConnection` with arbitrary server bytes: each input is
/// a sequence of records `[op, len, bytes...]`; `op` chooses between
/// feeding bytes, letting time pass, sending a stanza, closing, and the
/// end of input. Checks that nothing panics and that the connection keeps
/// its contract: nothing follows `Closed`, and a closed connection asks
/// for no timer.
pub(crate) fn client(data: &[u8]) {
    use std::time::{Duration, Instant};
    use xmpp_kit::client::{ClientConfig, ClientConnection, Output, TlsMode};
    use xmpp_kit::stanza::Message;

    let Ok(jid) = "juliet@im.example.com/balcony".parse() else {
        return;
    };
    let mut config = ClientConfig::new(jid, "secret", [1; 32]);
    config.tls = TlsMode::Insecure;
    config.sasl.allow_plain_without_tls = true;
    let mut now = Instant::now();
    let mut client = ClientConnection::new(config, now);
    let mut closed = false;
    for (op, len, chunk) in records(data) {
        match op % 8 {
            0..=3 => {
                let _ = client.handle_input(now, chunk);
            }
            4 => {
                now += Duration::from_secs(u64::from(len));
                client.handle_timeout(now);
            }
            5 => {
                let message = Message::chat("romeo@example.net".parse().expect("valid"), "hi");
                let _ = client.send(now, message);
            }
            6 => client.close(now),
            _ => client.handle_eof(now),
        }
        while let Some(output) = client.poll_output() {
            assert!(!closed, "output after Closed: {output:?}");
            if let Output::Closed(_) = output {
                closed = true;
            }
        }
        assert_eq!(
            client.is_closed(),
            closed,
            "closed without emitting Closed, or the reverse"
        );
        if closed {
            assert_eq!(
                client.poll_timeout(),
                None,
                "a closed connection asks for no timer"
            );
        }
    }
}

/// Drives the accepting role of a `ComponentConnection` (we are the
/// server) with arbitrary component bytes, in records `[op, len, bytes...]`
/// like [`client`]: `op` chooses between feeding bytes, letting time pass,
/// answering the component (accept with the fixed secret `secret`, or
/// reject when `len` is 255) once it has asked with `Event::Connecting`
/// (sending a stanza otherwise), closing, and the end of input. Checks
/// that nothing panics and that the connection keeps its contract:
/// nothing follows `Closed`, and a closed connection asks for no timer.
pub(crate) fn component(data: &[u8]) {
    use std::time::{Duration, Instant};
    use xmpp_kit::component::{AcceptConfig, ComponentConnection, Event, Output};
    use xmpp_kit::stanza::Message;
    use xmpp_kit::stream::StreamErrorCondition;

    let mut now = Instant::now();
    let mut server = ComponentConnection::accept(AcceptConfig::new([3; 32]), now);
    let mut asked = false;
    let mut closed = false;
    for (op, len, chunk) in records(data) {
        match op % 8 {
            0..=3 => {
                let _ = server.handle_input(now, chunk);
            }
            4 => {
                now += Duration::from_secs(u64::from(len));
                server.handle_timeout(now);
            }
            5 if asked => {
                asked = false;
                if len == 255 {
                    let _ = server.reject(now, StreamErrorCondition::Conflict);
                } else {
                    let _ = server.accept_component(now, "secret");
                }
            }
            5 => {
                let to = "bot@gw.example.com".parse().expect("valid");
                let from = "juliet@example.com".parse().expect("valid");
                let _ = server.send(now, Message::chat(to, "hi").with_from(from));
            }
            6 => server.close(now),
            _ => server.handle_eof(now),
        }
        while let Some(output) = server.poll_output() {
            assert!(!closed, "output after Closed: {output:?}");
            match output {
                Output::Closed(_) => closed = true,
                Output::Event(Event::Connecting { .. }) => asked = true,
                _ => {}
            }
        }
        assert_eq!(
            server.is_closed(),
            closed,
            "closed without emitting Closed, or the reverse"
        );
        if closed {
            assert_eq!(
                server.poll_timeout(),
                None,
                "a closed connection asks for no timer"
            );
        }
    }
}

/// Drives a `ServerConnection` with arbitrary client bytes, in records
/// like [`client`]: feed bytes, let time pass, send a stanza to the
/// client, close, end of input. The application side accepts every
/// header, binds the requested resource (refusing `taken` with
/// `conflict`) and refuses resumption. The transport counts as direct TLS
/// so PLAIN (account juliet / secret) is reachable without cryptography.
pub(crate) fn server(data: &[u8]) {
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use xmpp_kit::client::TlsInfo;
    use xmpp_kit::sasl::{Mechanism, ScramCredentials, ScramHash, ServerCredentials};
    use xmpp_kit::server::{AcceptConfig, Event, ListenConfig, Output, ServerConnection};
    use xmpp_kit::stanza::{DefinedCondition, Message};

    struct Accounts;
    impl ServerCredentials for Accounts {
        fn scram(&self, _: &str, _: ScramHash) -> Option<ScramCredentials> {
            None
        }
        fn verify_plain(&self, username: &str, password: &str) -> bool {
            username == "juliet" && password == "secret"
        }
        fn anonymous(&self) -> bool {
            true
        }
    }

    let mut listen = ListenConfig::new([2; 32]);
    listen.direct_tls = Some(TlsInfo::default());
    let mut accept = AcceptConfig::new("example.com", Arc::new(Accounts));
    accept.mechanisms = vec![Mechanism::Plain, Mechanism::Anonymous];
    accept.max_outbound_bytes = 64 * 1024;
    let mut now = Instant::now();
    let mut server = ServerConnection::new(listen, now);
    let mut closed = false;
    for (op, len, chunk) in records(data) {
        match op % 8 {
            0..=3 => {
                let _ = server.handle_input(now, chunk);
            }
            4 => {
                now += Duration::from_secs(u64::from(len));
                server.handle_timeout(now);
            }
            5 => {
                let to = "juliet@example.com/r".parse().expect("valid");
                let _ = server.send(now, Message::chat(to, "hi"));
            }
            6 => server.close(now),
            _ => server.handle_eof(now),
        }
        while let Some(output) = server.poll_output() {
            assert!(!closed, "output after Closed: {output:?}");
            match output {
                Output::Closed(_) => closed = true,
                Output::Event(Event::Header { .. }) => {
                    let _ = server.accept(now, accept.clone());
                }
                Output::Event(Event::Bind { requested }) => {
                    let resource = requested.unwrap_or_else(|| "generated".into());
                    let result = if resource == "taken" {
                        Err(DefinedCondition::Conflict)
                    } else {
                        format!("juliet@example.com/{resource}")
                            .parse()
                            .map_err(|_| DefinedCondition::BadRequest)
                    };
                    let _ = server.complete_bind(now, result);
                }
                Output::Event(Event::Resume { .. }) => {
                    let _ = server.complete_resume(now, None);
                }
                _ => {}
            }
        }
        assert_eq!(
            server.is_closed(),
            closed,
            "closed without emitting Closed, or the reverse"
        );
        if closed {
            assert_eq!(
                server.poll_timeout(),
                None,
                "a closed connection asks for no timer"
            );
        }
    }
}

/// Splits a machine-harness input into records `[op, len, bytes...]`
/// (`bytes` cut short at the end of the input), at most 200 of them.
fn records(mut data: &[u8]) -> impl Iterator<Item = (u8, u8, &[u8])> {
    std::iter::from_fn(move || {
        let [op, len, tail @ ..] = data else {
            return None;
        };
        let (chunk, rest) = tail.split_at(usize::from(*len).min(tail.len()));
        data = rest;
        Some((*op, *len, chunk))
    })
    .take(200)
}

/// The SCRAM verifiers of the only account, `juliet` / `secret`, for the
/// SASL harnesses: 16 iterations so that a client answering a replayed
/// server-first stays fast.
fn juliet(hash: xmpp_kit::sasl::ScramHash) -> xmpp_kit::sasl::ScramCredentials {
    xmpp_kit::sasl::ScramCredentials::derive(hash, "secret", b"salt-of-juliet", 16)
}

/// The channel binding both SASL harnesses use (`tls-exporter`).
fn exporter() -> xmpp_kit::sasl::ChannelBinding {
    use xmpp_kit::sasl::{ChannelBinding, ChannelBindingType};
    ChannelBinding::new(
        ChannelBindingType::TlsExporter,
        b"exporter-of-this-tls".to_vec(),
    )
}

/// Splits a SASL-harness input into messages `[len_lo, len_hi, bytes...]`
/// (`bytes` cut short at the end of the input), at most 16 of them.
fn messages(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let [lo, hi, tail @ ..] = data else {
            return None;
        };
        let len = usize::from(u16::from_le_bytes([*lo, *hi]));
        let (message, rest) = tail.split_at(len.min(tail.len()));
        data = rest;
        Some(message)
    })
    .take(16)
}

/// Drives a `SaslServer` with arbitrary client messages. The first byte
/// picks the mechanism (of `Mechanism::ALL`) and whether a `-PLUS` was
/// offered; the rest is a sequence of [`messages`]: the initial response,
/// then each `<response/>`.
///
/// Checks that nothing panics, that only the real account (or the
/// identities the store vouches for) ever authenticates, that an
/// exchange ends for good after a success or an error, and that a
/// challenge is never much larger than the message it answers.
pub(crate) fn sasl_server(data: &[u8]) {
    use xmpp_kit::sasl::{
        Mechanism, SaslError, SaslServer, ScramCredentials, ScramHash, ServerCredentials,
        ServerStep,
    };

    struct Accounts;
    impl ServerCredentials for Accounts {
        fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
            (username == "juliet").then(|| juliet(hash))
        }
        fn verify_plain(&self, username: &str, password: &str) -> bool {
            username == "juliet" && password == "secret"
        }
        fn external(&self, authzid: Option<&str>) -> Option<String> {
            matches!(authzid, None | Some("juliet")).then(|| "juliet".to_owned())
        }
        fn anonymous(&self) -> bool {
            true
        }
    }

    let Some((&choice, data)) = data.split_first() else {
        return;
    };
    let all = Mechanism::ALL;
    let mechanism = all[usize::from(choice) % all.len()];
    let plus_offered = choice & 0x80 != 0;
    let mut server = SaslServer::new(mechanism, &[exporter()], plus_offered, "server-nonce");
    let mut ended = false;
    for message in messages(data) {
        let step = server.step(message, &Accounts);
        if ended {
            assert_eq!(
                step,
                Err(SaslError::UnexpectedStep),
                "a step after the end of the exchange"
            );
            continue;
        }
        match step {
            Ok(ServerStep::Challenge(challenge)) => {
                // The server-first message echoes the client's nonce, so it
                // grows with the input, but never by more than its own
                // fields (server nonce, salt, iteration count).
                assert!(
                    challenge.len() <= message.len() + 128,
                    "a challenge of {} bytes for {} bytes",
                    challenge.len(),
                    message.len()
                );
            }
            Ok(ServerStep::Success { authcid, .. }) => {
                let expected = if mechanism == Mechanism::Anonymous {
                    ""
                } else {
                    "juliet"
                };
                assert_eq!(authcid, expected, "{mechanism:?} authenticated a stranger");
                ended = true;
            }
            Err(error) => {
                let _ = error.to_failure();
                ended = true;
            }
        }
    }
}

/// Drives a `SaslClient` with arbitrary server messages. The first byte
/// picks the mechanism and the GS2 flag; the rest is a sequence of
/// [`messages`], each prefixed by its operation in its first byte:
/// `initial_response`, `challenge` or `success` (with the data).
///
/// Checks that nothing panics, that the exchange is over for good after
/// an error, that it is done only after a successful `success`, that
/// nothing is accepted once done, and that a response is never much
/// larger than the challenge it answers.
pub(crate) fn sasl_client(data: &[u8]) {
    use xmpp_kit::sasl::{
        ChannelBindingType, Credentials, Gs2Flag, Mechanism, SaslClient, Selection,
    };

    let Some((&choice, data)) = data.split_first() else {
        return;
    };
    let all = Mechanism::ALL;
    let mechanism = all[usize::from(choice) % all.len()];
    let selection = if mechanism.is_plus() {
        Selection {
            mechanism,
            channel_binding: Some(ChannelBindingType::TlsExporter),
            gs2_flag: Gs2Flag::Used(ChannelBindingType::TlsExporter),
        }
    } else if mechanism.is_scram() && choice & 0x80 != 0 {
        Selection {
            gs2_flag: Gs2Flag::ClientOnly,
            ..Selection::without_binding(mechanism)
        }
    } else {
        Selection::without_binding(mechanism)
    };
    let mut credentials = Credentials::new("juliet", "secret");
    if choice & 0x40 != 0 {
        credentials.authzid = Some("romeo@example.net".to_owned());
    }
    let client = SaslClient::new(&selection, &credentials, &[exporter()], "client-nonce");
    let mut client = match client {
        Ok(client) => client.with_iteration_limits(1, 64),
        Err(error) => panic!("a consistent selection was refused: {error}"),
    };
    let mut failed = false;
    let mut done = false;
    for message in messages(data) {
        let Some((&op, bytes)) = message.split_first() else {
            continue;
        };
        let result = match op % 3 {
            0 => client.initial_response().map(Some),
            1 => client.challenge(bytes).map(Some),
            _ => client.success(bytes).map(|()| None),
        };
        if failed || done {
            assert!(result.is_err(), "the exchange went on after its end");
            assert!(!(failed && client.is_done()), "done after a failure");
            continue;
        }
        match result {
            Ok(Some(response)) => {
                // The client-final message echoes the server's nonce; beyond
                // it, only the channel binding and the proof.
                assert!(
                    response.len() <= bytes.len() + 256,
                    "a response of {} bytes for {} bytes",
                    response.len(),
                    bytes.len()
                );
                assert!(!client.is_done(), "done without a success");
            }
            Ok(None) => {
                assert!(client.is_done(), "a success that did not finish");
                done = true;
            }
            Err(error) => {
                let _ = error.to_failure();
                assert!(!client.is_done(), "done after an error");
                failed = true;
            }
        }
    }
}
