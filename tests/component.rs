//! XEP-0114 component streams: the example exchange of XEP-0114 section 3
//! as a scripted transcript against the connecting role, then the two
//! roles of `ComponentConnection` against each other in memory (a small
//! pair loop moves bytes between them until both are idle).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use xmpp_kit::Jid;
use xmpp_kit::component::{
    AcceptConfig, CloseReason, ComponentConfig, ComponentConnection, ComponentError, Event, Output,
    SendError,
};
use xmpp_kit::stanza::{Iq, IqKind, Message, Stanza};
use xmpp_kit::stream::StreamErrorCondition;

const DOMAIN: &str = "gw.example.com";
const SECRET: &str = "s3cr3t";

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

/// Lowercase hex SHA-1, computed here with the sha1 crate directly, not
/// with the library's own handshake code.
fn sha1_hex(data: &str) -> String {
    Sha1::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one side produced, checked against the contract as it comes.
#[derive(Default)]
struct Side {
    wire: Vec<u8>,
    events: Vec<Event>,
    closed: Option<CloseReason>,
}

impl Side {
    /// Drains `connection`, returning the bytes it transmitted.
    fn drain(&mut self, connection: &mut ComponentConnection) -> Vec<u8> {
        let mut bytes = Vec::new();
        while let Some(output) = connection.poll_output() {
            assert!(self.closed.is_none(), "output after Closed: {output:?}");
            match output {
                Output::Transmit(b) => bytes.extend_from_slice(&b),
                Output::Event(e) => self.events.push(e),
                Output::Closed(reason) => self.closed = Some(reason),
                other => panic!("unexpected output {other:?}"),
            }
        }
        if self.closed.is_some() {
            assert!(connection.is_closed());
            assert_eq!(connection.poll_timeout(), None, "a timer after Closed");
        }
        self.wire.extend_from_slice(&bytes);
        bytes
    }

    fn wire(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }

    fn error(&self) -> Option<&ComponentError> {
        match &self.closed {
            Some(CloseReason::Error(e)) => Some(e),
            _ => None,
        }
    }

    fn stanzas(&self) -> Vec<&Stanza> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Stanza(s) => Some(s),
                _ => None,
            })
            .collect()
    }
}

/// A component and the server side it connects to, over an in-memory
/// transport.
struct Pair {
    now: Instant,
    component: ComponentConnection,
    server: ComponentConnection,
    c: Side,
    s: Side,
    /// Feed every byte on its own.
    bytewise: bool,
}

impl Pair {
    fn new() -> Self {
        Self::with(
            ComponentConfig::new(DOMAIN, SECRET, [1; 32]),
            AcceptConfig::new([2; 32]),
        )
    }

    fn with(component: ComponentConfig, server: AcceptConfig) -> Self {
        let now = Instant::now();
        Self {
            now,
            component: ComponentConnection::connect(component, now),
            server: ComponentConnection::accept(server, now),
            c: Side::default(),
            s: Side::default(),
            bytewise: false,
        }
    }

    fn feed(connection: &mut ComponentConnection, now: Instant, bytes: &[u8], bytewise: bool) {
        if bytewise {
            for byte in bytes {
                let _ = connection.handle_input(now, std::slice::from_ref(byte));
            }
        } else {
            let _ = connection.handle_input(now, bytes);
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn pump(&mut self) {
        loop {
            let to_server = self.c.drain(&mut self.component);
            let to_component = self.s.drain(&mut self.server);
            if to_server.is_empty() && to_component.is_empty() {
                break;
            }
            Self::feed(&mut self.server, self.now, &to_server, self.bytewise);
            Self::feed(&mut self.component, self.now, &to_component, self.bytewise);
        }
    }

    /// Answers every `Connecting` event with `secret`, and pumps.
    fn accept_with(&mut self, secret: &str) {
        self.pump();
        assert_eq!(
            self.s.events.first(),
            Some(&Event::Connecting {
                domain: DOMAIN.into()
            })
        );
        self.server.accept_component(self.now, secret).unwrap();
        self.pump();
    }

    fn online() -> Self {
        let mut pair = Self::new();
        pair.accept_with(SECRET);
        pair.assert_online();
        pair
    }

    fn assert_online(&self) {
        let online = Event::Online {
            domain: DOMAIN.into(),
        };
        assert!(self.c.events.contains(&online), "{:?}", self.c.events);
        assert!(self.s.events.contains(&online), "{:?}", self.s.events);
        assert!(self.component.is_online() && self.server.is_online());
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.component.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }
}

// ---- XEP-0114 example ---------------------------------------------------------

/// XEP-0114 section 3, examples 1 to 4. The XEP does not print the secret;
/// `test` is the one that gives its handshake value for stream id
/// `3BF96D32`.
#[test]
fn xep_0114_example_exchange() {
    let now = Instant::now();
    let config = ComponentConfig::new("plays.shakespeare.lit", "test", [0; 32]);
    let mut component = ComponentConnection::connect(config, now);
    let mut side = Side::default();

    // Example 1: the component's header, without a version.
    let header = side.drain(&mut component);
    assert_eq!(
        String::from_utf8(header).unwrap(),
        "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
         xmlns:stream='http://etherx.jabber.org/streams' to='plays.shakespeare.lit'>"
    );
    assert!(!component.is_online());

    // Example 2: the server's header with the stream id.
    component
        .handle_input(
            now,
            b"<stream:stream\n    xmlns:stream='http://etherx.jabber.org/streams'\n    \
              xmlns='jabber:component:accept'\n    from='plays.shakespeare.lit'\n    id='3BF96D32'>",
        )
        .unwrap();
    assert_eq!(component.stream_id(), Some("3BF96D32"));

    // Example 3: the handshake, SHA-1 of stream id + secret in lowercase hex.
    let expected = sha1_hex("3BF96D32test");
    assert_eq!(expected, "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e");
    let handshake = side.drain(&mut component);
    assert_eq!(
        String::from_utf8(handshake).unwrap(),
        format!("<handshake>{expected}</handshake>")
    );
    assert!(side.events.is_empty());

    // Example 4: the empty handshake, and the stream is online.
    component.handle_input(now, b"<handshake/>").unwrap();
    side.drain(&mut component);
    assert_eq!(
        side.events,
        [Event::Online {
            domain: "plays.shakespeare.lit".into()
        }]
    );

    // Stanzas in jabber:component:accept, both addresses required.
    component
        .handle_input(
            now,
            b"<message from='juliet@capulet.lit/balcony' to='romeo@plays.shakespeare.lit'>\
              <body>Wherefore art thou?</body></message>",
        )
        .unwrap();
    let reply = Message::chat(jid("juliet@capulet.lit/balcony"), "Here")
        .with_from(jid("romeo@plays.shakespeare.lit"))
        .with_id("r1");
    component.send(now, reply).unwrap();
    let written = String::from_utf8(side.drain(&mut component)).unwrap();
    assert_eq!(
        written,
        "<message from='romeo@plays.shakespeare.lit' id='r1' to='juliet@capulet.lit/balcony' \
         type='chat'><body>Here</body></message>"
    );
    let Some(Event::Stanza(Stanza::Message(message))) = side.events.last() else {
        panic!("{:?}", side.events);
    };
    assert_eq!(message.body(), Some("Wherefore art thou?"));

    // The server closes; we answer and are done.
    component.handle_input(now, b"</stream:stream>").unwrap();
    assert_eq!(side.drain(&mut component), b"</stream:stream>");
    assert_eq!(side.closed, Some(CloseReason::PeerClosed));
}

/// A server that refuses the domain (after its header) gives a typed
/// rejection, not a generic stream error.
#[test]
fn server_refusal_is_typed() {
    for (condition, name) in [
        (StreamErrorCondition::HostUnknown, "host-unknown"),
        (StreamErrorCondition::Conflict, "conflict"),
    ] {
        let now = Instant::now();
        let mut component =
            ComponentConnection::connect(ComponentConfig::new(DOMAIN, SECRET, [0; 32]), now);
        let mut side = Side::default();
        side.drain(&mut component);
        let refusal = format!(
            "<stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams' from='{DOMAIN}' id='x1'>\
             <stream:error><{name} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>\
             </stream:stream>"
        );
        let error = component.handle_input(now, refusal.as_bytes()).unwrap_err();
        assert_eq!(error, ComponentError::Rejected(condition));
        side.drain(&mut component);
        assert_eq!(side.error(), Some(&ComponentError::Rejected(condition)));
        // Sticky.
        assert_eq!(component.handle_input(now, b" "), Err(error));
    }
}

#[test]
fn invalid_domain_fails_at_once() {
    let now = Instant::now();
    let mut component =
        ComponentConnection::connect(ComponentConfig::new("not a domain@", SECRET, [0; 32]), now);
    let mut side = Side::default();
    assert!(side.drain(&mut component).is_empty());
    assert!(matches!(side.error(), Some(ComponentError::Protocol(_))));
}

// ---- both roles ---------------------------------------------------------------

#[test]
fn handshake_succeeds_bytewise() {
    let mut pair = Pair::new();
    pair.bytewise = true;
    pair.accept_with(SECRET);
    pair.assert_online();
    assert_eq!(pair.component.stream_id(), pair.server.stream_id());
    let id = pair.server.stream_id().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    // The handshake on the wire is the XEP-0114 digest of that id.
    assert!(pair.c.wire().contains(&format!(
        "<handshake>{}</handshake>",
        sha1_hex(&(id + SECRET))
    )));
    assert!(pair.s.wire().contains("<handshake/>"));
    // No version on the stream header (only the XML declaration has one).
    assert_eq!(pair.s.wire().matches("version=").count(), 1);
    assert_eq!(pair.server.domain(), Some(DOMAIN));
    assert!(pair.server.is_accepting() && !pair.component.is_accepting());

    // Stanzas keep flowing byte by byte.
    let message =
        Message::chat(jid("juliet@example.com"), "hi").with_from(jid("bot@gw.example.com"));
    pair.component.send(pair.now, message).unwrap();
    pair.pump();
    assert_eq!(pair.s.stanzas().len(), 1);
}

#[test]
fn the_stream_id_is_fresh_per_seed() {
    let a = Pair::online();
    let mut b = Pair::with(
        ComponentConfig::new(DOMAIN, SECRET, [1; 32]),
        AcceptConfig::new([3; 32]),
    );
    b.accept_with(SECRET);
    b.assert_online();
    assert_ne!(a.server.stream_id(), b.server.stream_id());
    // The same seed gives the same id: tests and fuzz seeds are reproducible.
    assert_eq!(a.server.stream_id(), Pair::online().server.stream_id());
}

#[test]
fn stanzas_flow_both_ways() {
    let mut pair = Pair::online();
    let out = Message::chat(jid("juliet@example.com"), "from the gateway")
        .with_from(jid("bot@gw.example.com/x"));
    pair.component.send(pair.now, out).unwrap();
    let iq = Iq::get(
        Some(jid("bot@gw.example.com")),
        minidom::Element::bare("query", "jabber:iq:version"),
    )
    .with_id("v1")
    .with_from(jid("juliet@example.com/balcony"));
    pair.server.send(pair.now, iq).unwrap();
    pair.pump();

    let at_server = pair.s.stanzas();
    let [Stanza::Message(m)] = at_server.as_slice() else {
        panic!("{at_server:?}");
    };
    assert_eq!(m.body(), Some("from the gateway"));
    assert_eq!(m.from, Some(jid("bot@gw.example.com/x")));
    assert!(m.id.is_some(), "an id is assigned");

    let at_component = pair.c.stanzas();
    let [Stanza::Iq(iq)] = at_component.as_slice() else {
        panic!("{at_component:?}");
    };
    assert_eq!(iq.id, "v1");
    assert!(matches!(iq.kind, IqKind::Get(_)));
    assert_eq!(iq.from, Some(jid("juliet@example.com/balcony")));
    assert!(pair.component.is_online() && pair.server.is_online());
}

#[test]
fn wrong_secret_is_refused_on_both_sides() {
    let mut pair = Pair::new();
    pair.accept_with("not the secret");
    assert!(
        pair.s.wire().contains("<not-authorized"),
        "{}",
        pair.s.wire()
    );
    assert_eq!(pair.c.error(), Some(&ComponentError::HandshakeFailed));
    assert_eq!(pair.s.error(), Some(&ComponentError::HandshakeFailed));
    assert!(
        !pair
            .c
            .events
            .iter()
            .any(|e| matches!(e, Event::Online { .. }))
    );
    assert!(
        !pair
            .s
            .events
            .iter()
            .any(|e| matches!(e, Event::Online { .. }))
    );
}

#[test]
fn the_server_can_reject_a_component() {
    for condition in [
        StreamErrorCondition::HostUnknown,
        StreamErrorCondition::Conflict,
    ] {
        let mut pair = Pair::new();
        // Queued before the answer, dropped with the stream.
        let early =
            Message::chat(jid("juliet@example.com"), "early").with_from(jid("gw.example.com"));
        pair.component.send(pair.now, early).unwrap();
        pair.pump();
        assert!(matches!(pair.s.events[..], [Event::Connecting { .. }]));
        pair.server.reject(pair.now, condition).unwrap();
        pair.pump();
        // A header, the error and the close, as RFC 6120 section 4.7.1 wants.
        let wire = pair.s.wire();
        assert!(
            wire.starts_with("<?xml version='1.0'?><stream:stream"),
            "{wire}"
        );
        assert!(wire.contains(&format!("<{condition} ")), "{wire}");
        assert!(wire.ends_with("</stream:stream>"), "{wire}");
        assert_eq!(pair.s.error(), Some(&ComponentError::Rejected(condition)));
        assert_eq!(pair.c.error(), Some(&ComponentError::Rejected(condition)));
        assert!(!pair.c.wire().contains("early"));
        // A second decision is refused.
        assert!(pair.server.accept_component(pair.now, SECRET).is_err());
    }
}

#[test]
fn a_decision_needs_a_component() {
    let now = Instant::now();
    let mut server = ComponentConnection::accept(AcceptConfig::new([0; 32]), now);
    assert!(matches!(
        server.accept_component(now, SECRET),
        Err(ComponentError::Protocol(_))
    ));
    assert!(server.poll_output().is_none(), "nothing changed");
    assert!(!server.is_closed());
}

#[test]
fn send_requires_both_addresses() {
    let mut pair = Pair::online();
    let now = pair.now;
    let no_from = Message::chat(jid("juliet@example.com"), "x");
    assert_eq!(
        pair.component.send(now, no_from.clone()),
        Err(SendError::MissingAddress)
    );
    assert_eq!(
        pair.server.send(now, no_from),
        Err(SendError::MissingAddress)
    );
    let mut no_to = Message::chat(jid("juliet@example.com"), "x").with_from(jid("gw.example.com"));
    no_to.to = None;
    assert_eq!(
        pair.component.send(now, no_to),
        Err(SendError::MissingAddress)
    );
    let foreign = Message::chat(jid("juliet@example.com"), "x").with_from(jid("x@other.example"));
    assert_eq!(
        pair.component.send(now, foreign),
        Err(SendError::InvalidFrom)
    );
    pair.pump();
    assert!(pair.s.stanzas().is_empty());
    assert!(pair.component.is_online() && pair.server.is_online());
}

#[test]
fn a_stanza_without_addresses_is_improper_addressing() {
    for raw in [
        "<message to='juliet@example.com'><body>x</body></message>",
        "<message from='bot@gw.example.com'><body>x</body></message>",
        "<presence from='bot@gw.example.com' to='juliet@@example.com'/>",
        // Invalid as a stanza too (no id): the addressing is what counts.
        "<iq from='bot@gw.example.com' type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
    ] {
        let mut pair = Pair::online();
        // Forced onto the wire, past the component's own checks.
        pair.server
            .handle_input(pair.now, raw.as_bytes())
            .unwrap_err();
        pair.pump();
        let wire = pair.s.wire();
        assert!(wire.contains("<improper-addressing"), "{wire}");
        assert!(wire.ends_with("</stream:stream>"));
        assert!(matches!(pair.s.error(), Some(ComponentError::Protocol(_))));
        // The component hears the stream error.
        let Some(ComponentError::StreamError(e)) = pair.c.error() else {
            panic!("{:?}", pair.c.closed);
        };
        assert_eq!(e.condition, StreamErrorCondition::ImproperAddressing);
    }
}

#[test]
fn a_foreign_from_is_invalid_from() {
    let mut pair = Pair::online();
    pair.server
        .handle_input(
            pair.now,
            b"<message from='x@other.example' to='juliet@example.com'/>",
        )
        .unwrap_err();
    pair.pump();
    assert!(pair.s.wire().contains("<invalid-from"));
}

#[test]
fn an_invalid_stanza_gets_a_stanza_error() {
    let mut pair = Pair::online();
    // An iq get without payload: well-formed, addressed, invalid.
    pair.server
        .handle_input(
            pair.now,
            b"<iq type='get' id='q1' from='bot@gw.example.com' to='example.com'/>",
        )
        .unwrap();
    pair.pump();
    assert!(pair.component.is_online() && pair.server.is_online());
    assert!(pair.s.stanzas().is_empty());
    let at_component = pair.c.stanzas();
    let [Stanza::Iq(reply)] = at_component.as_slice() else {
        panic!("{at_component:?}");
    };
    assert_eq!(reply.id, "q1");
    assert!(matches!(reply.kind, IqKind::Error { .. }));
    assert_eq!(reply.to, Some(jid("bot@gw.example.com")));
    assert_eq!(reply.from, Some(jid("example.com")));
}

#[test]
fn elements_before_the_handshake_are_refused() {
    let mut pair = Pair::new();
    pair.pump();
    pair.server
        .handle_input(
            pair.now,
            b"<message from='bot@gw.example.com' to='juliet@example.com'/>",
        )
        .unwrap_err();
    pair.pump();
    let wire = pair.s.wire();
    assert!(
        wire.starts_with("<?xml version='1.0'?><stream:stream"),
        "{wire}"
    );
    assert!(wire.contains("<not-authorized"), "{wire}");
    assert!(matches!(pair.s.error(), Some(ComponentError::Protocol(_))));
}

#[test]
fn the_wrong_namespace_is_refused() {
    let now = Instant::now();
    let mut server = ComponentConnection::accept(AcceptConfig::new([0; 32]), now);
    let mut side = Side::default();
    server
        .handle_input(
            now,
            b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
              to='gw.example.com' version='1.0'>",
        )
        .unwrap_err();
    side.drain(&mut server);
    assert!(side.wire().contains("<invalid-namespace"));
    assert!(side.events.is_empty());
}

#[test]
fn stanzas_sent_early_wait_for_the_handshake() {
    let mut config = ComponentConfig::new(DOMAIN, SECRET, [1; 32]);
    config.max_queued = 300;
    let mut pair = Pair::with(config, AcceptConfig::new([2; 32]));
    let mut tokens = Vec::new();
    let mut refused = None;
    for i in 0..10 {
        let m = Message::chat(jid("juliet@example.com"), format!("n{i}"))
            .with_from(jid("bot@gw.example.com"))
            .with_id(format!("m{i}"));
        match pair.component.send(pair.now, m) {
            Ok(t) => tokens.push(t),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    // The header is still unpolled, so fewer fit.
    assert!(
        matches!(refused, Some(SendError::QueueFull(n)) if n <= 300),
        "{refused:?}"
    );
    assert!(!tokens.is_empty());
    assert!(!pair.c.wire().contains("<message"));
    pair.accept_with(SECRET);
    pair.assert_online();
    let bodies: Vec<_> = pair
        .s
        .stanzas()
        .iter()
        .map(|s| match s {
            Stanza::Message(m) => m.body().unwrap().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<_> = (0..tokens.len()).map(|i| format!("n{i}")).collect();
    assert_eq!(bodies, expected);
    // Polled out: room again.
    let m = Message::chat(jid("juliet@example.com"), "late").with_from(jid("bot@gw.example.com"));
    pair.component.send(pair.now, m).unwrap();
}

#[test]
fn negotiation_times_out() {
    // The server never decides.
    let mut pair = Pair::new();
    pair.pump();
    assert!(pair.server.poll_timeout().is_some());
    pair.advance(Duration::from_secs(29));
    pair.pump();
    assert!(pair.c.closed.is_none() && pair.s.closed.is_none());
    pair.advance(Duration::from_secs(1));
    pair.pump();
    assert!(pair.s.wire().contains("<connection-timeout"));
    assert_eq!(
        pair.s.error(),
        Some(&ComponentError::Timeout(
            "the handshake did not finish in time"
        ))
    );
    assert!(pair.c.closed.is_some());

    // The component whose server never answers.
    let now = Instant::now();
    let mut component =
        ComponentConnection::connect(ComponentConfig::new(DOMAIN, SECRET, [0; 32]), now);
    let mut side = Side::default();
    side.drain(&mut component);
    let deadline = component.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(30));
    component.handle_timeout(deadline);
    side.drain(&mut component);
    assert!(matches!(side.error(), Some(ComponentError::Timeout(_))));
}

fn short_timers() -> Pair {
    let mut component = ComponentConfig::new(DOMAIN, SECRET, [1; 32]);
    component.keepalive_interval = Duration::from_secs(10);
    component.idle_timeout = Duration::from_secs(30);
    let mut server = AcceptConfig::new([2; 32]);
    server.keepalive_interval = Duration::from_secs(10);
    server.idle_timeout = Duration::from_secs(30);
    let mut pair = Pair::with(component, server);
    pair.accept_with(SECRET);
    pair.assert_online();
    pair
}

#[test]
fn keepalives_keep_a_quiet_stream_alive() {
    let mut pair = short_timers();
    assert_eq!(
        pair.component.poll_timeout(),
        Some(pair.now + Duration::from_secs(10))
    );
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.c.drain(&mut pair.component), b" ");
    assert_eq!(pair.s.drain(&mut pair.server), b" ");
    // Keep moving them (the loop feeds each side's whitespace to the other).
    for _ in 0..20 {
        pair.pump();
        pair.advance(Duration::from_secs(10));
    }
    pair.pump();
    assert!(pair.component.is_online() && pair.server.is_online());
}

#[test]
fn a_silent_peer_times_out() {
    let mut pair = short_timers();
    // The server is gone: nothing reaches the component any more.
    for _ in 0..2 {
        pair.now += Duration::from_secs(10);
        pair.component.handle_timeout(pair.now);
        assert_eq!(pair.c.drain(&mut pair.component), b" ", "keepalive");
    }
    pair.now += Duration::from_secs(10);
    assert_eq!(pair.component.poll_timeout(), Some(pair.now));
    pair.component.handle_timeout(pair.now);
    pair.c.drain(&mut pair.component);
    assert_eq!(
        pair.c.error(),
        Some(&ComponentError::Timeout(
            "the peer sent nothing for too long"
        ))
    );
}

#[test]
fn the_component_closes_cleanly() {
    let mut pair = Pair::online();
    pair.component.close(pair.now);
    assert_eq!(
        pair.component.send(
            pair.now,
            Message::chat(jid("a@b.c"), "x").with_from(jid("gw.example.com"))
        ),
        Err(SendError::Closed)
    );
    pair.pump();
    assert_eq!(pair.c.closed, Some(CloseReason::Closed));
    assert_eq!(pair.s.closed, Some(CloseReason::PeerClosed));
    assert!(pair.c.wire().ends_with("</stream:stream>"));
    assert!(pair.s.wire().ends_with("</stream:stream>"));
}

#[test]
fn the_server_closes_cleanly() {
    let mut pair = Pair::online();
    pair.server.close(pair.now);
    // Stanzas already on their way still arrive while closing.
    let m = Message::chat(jid("juliet@example.com"), "last words").with_from(jid("gw.example.com"));
    pair.component.send(pair.now, m).unwrap();
    pair.pump();
    assert_eq!(pair.s.closed, Some(CloseReason::Closed));
    assert_eq!(pair.c.closed, Some(CloseReason::PeerClosed));
    assert_eq!(pair.s.stanzas().len(), 1);
}

#[test]
fn close_waits_a_bounded_time() {
    let mut pair = Pair::online();
    pair.component.close(pair.now);
    pair.c.drain(&mut pair.component);
    // The server never answers.
    let deadline = pair.component.poll_timeout().unwrap();
    assert_eq!(deadline, pair.now + Duration::from_secs(5));
    pair.component.handle_timeout(deadline);
    pair.c.drain(&mut pair.component);
    assert_eq!(pair.c.closed, Some(CloseReason::Closed));
}

#[test]
fn eof_is_an_error_unless_closing() {
    let mut pair = Pair::online();
    pair.server.handle_eof(pair.now);
    pair.s.drain(&mut pair.server);
    assert_eq!(pair.s.error(), Some(&ComponentError::Eof));
    pair.component.close(pair.now);
    pair.component.handle_eof(pair.now);
    pair.c.drain(&mut pair.component);
    assert_eq!(pair.c.closed, Some(CloseReason::Closed));
}

/// "A component talking to itself": a stanza from the component to its
/// own domain goes to the server side, whose application (the test, as a
/// router) sends it back down the same stream.
#[test]
fn a_stanza_to_its_own_domain_comes_back() {
    let mut pair = Pair::online();
    let note = Message::chat(jid("echo@gw.example.com"), "note to self")
        .with_from(jid("bot@gw.example.com"))
        .with_id("self-1");
    pair.component.send(pair.now, note.clone()).unwrap();
    pair.pump();

    // The router: whatever is addressed to the component's domain goes
    // back to that component.
    let routed: Vec<Stanza> = pair.s.stanzas().into_iter().cloned().collect();
    assert_eq!(routed.len(), 1);
    for stanza in routed {
        let to = stanza.recipient().unwrap();
        assert_eq!(Some(to.domain()), pair.server.domain());
        pair.server.send(pair.now, stanza).unwrap();
    }
    pair.pump();

    let back = pair.c.stanzas();
    let [Stanza::Message(m)] = back.as_slice() else {
        panic!("{back:?}");
    };
    assert_eq!(m.body(), Some("note to self"));
    assert_eq!(m.id.as_deref(), Some("self-1"));
    assert_eq!(m.from, Some(jid("bot@gw.example.com")));
    assert_eq!(m.to, Some(jid("echo@gw.example.com")));
}

#[test]
fn a_header_without_a_component_domain_is_host_unknown() {
    for to in ["", " to='bot@gw.example.com'", " to='gw..example'"] {
        let now = Instant::now();
        let mut server = ComponentConnection::accept(AcceptConfig::new([0; 32]), now);
        let mut side = Side::default();
        let header = format!(
            "<stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams'{to}>"
        );
        server.handle_input(now, header.as_bytes()).unwrap_err();
        side.drain(&mut server);
        assert!(
            side.wire().contains("<host-unknown"),
            "{to}: {}",
            side.wire()
        );
        assert!(side.events.is_empty());
    }
}

#[test]
fn debug_output_keeps_the_secret() {
    let config = ComponentConfig::new(DOMAIN, "hunter2", [0; 32]);
    assert!(!format!("{config:?}").contains("hunter2"));
    let connection = ComponentConnection::connect(config, Instant::now());
    assert!(!format!("{connection:?}").contains("hunter2"));
}
