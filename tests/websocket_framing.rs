//! RFC 7395 (XMPP over WebSocket) framing in the client and server
//! machines: `<open/>` headers, one document per element, `<close/>`.
//! Our client against our server in memory (the WebSocket transport itself
//! is not involved: the machines only deal in XMPP bytes), and scripted
//! peers for what our own peer never sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use xmpp_kit::client::{
    self, ClientConfig, ClientConnection, ConnectionError, StanzaState, TlsInfo, TlsMode,
};
use xmpp_kit::jid::FullJid;
use xmpp_kit::sasl::{
    ChannelBinding, ChannelBindingType, Mechanism, ScramCredentials, ScramHash, ServerCredentials,
};
use xmpp_kit::server::{
    self, AcceptConfig, ListenConfig, ServerConnection, ServerError, TlsPolicy,
};
use xmpp_kit::stanza::{Message, Stanza};
use xmpp_kit::stream::StreamErrorCondition;
use xmpp_kit::xml::Framing;

const OPEN: &str = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'";
const CLOSE: &str = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
const NS_STREAM: &str = "http://etherx.jabber.org/streams";

/// Accounts stored as SCRAM credentials only.
struct Store {
    users: HashMap<String, Vec<ScramCredentials>>,
    anonymous: bool,
}

impl Store {
    fn new() -> Self {
        let mut users = HashMap::new();
        users.insert(
            "juliet".to_owned(),
            [ScramHash::Sha1, ScramHash::Sha256]
                .into_iter()
                .map(|h| ScramCredentials::derive(h, "r0m30myr0m30", b"salt-of-juliet", 4096))
                .collect(),
        );
        Self {
            users,
            anonymous: false,
        }
    }
}

impl ServerCredentials for Store {
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
        self.users
            .get(username)?
            .iter()
            .find(|c| c.hash == hash)
            .cloned()
    }
    fn verify_plain(&self, username: &str, password: &str) -> bool {
        self.users
            .get(username)
            .and_then(|c| c.first())
            .is_some_and(|c| c.verify_password(password))
    }
    fn external(&self, _authzid: Option<&str>) -> Option<String> {
        None
    }
    fn anonymous(&self) -> bool {
        self.anonymous
    }
}

/// The default accounts, derived once (PBKDF2 is slow in debug builds).
fn accept_config() -> AcceptConfig {
    static STORE: std::sync::OnceLock<Arc<Store>> = std::sync::OnceLock::new();
    let store = STORE.get_or_init(|| Arc::new(Store::new())).clone();
    AcceptConfig::new("example.com", store)
}

/// What `wss://` gives both ends.
fn tls_info() -> TlsInfo {
    TlsInfo {
        channel_bindings: vec![ChannelBinding {
            kind: ChannelBindingType::TlsExporter,
            data: b"the same exporter bytes on both ends".to_vec(),
        }],
    }
}

fn ws_config() -> ClientConfig {
    let mut config = ClientConfig::new(
        "juliet@example.com/balcony".parse().unwrap(),
        "r0m30myr0m30",
        [9; 32],
    );
    config.framing = Framing::WebSocket;
    config
}

fn listen(direct_tls: bool) -> ListenConfig {
    let mut listen = ListenConfig::new([3; 32]);
    listen.direct_tls = direct_tls.then(tls_info);
    listen
}

/// A client and a server joined by byte queues, keeping a copy of
/// everything that crossed the wire in each direction.
struct Pair {
    now: Instant,
    client: ClientConnection,
    server: ServerConnection,
    accept: AcceptConfig,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    c2s_wire: String,
    s2c_wire: String,
    /// Deliver bytes one at a time instead of in whole writes.
    byte_by_byte: bool,
    client_events: Vec<client::Event>,
    server_events: Vec<server::Event>,
    client_closed: Option<client::CloseReason>,
    server_closed: Option<server::CloseReason>,
}

impl Pair {
    fn new(client: ClientConnection, listen: ListenConfig, accept: AcceptConfig) -> Self {
        let now = Instant::now();
        Self {
            now,
            client,
            server: ServerConnection::new(listen, now),
            accept,
            c2s: Vec::new(),
            s2c: Vec::new(),
            c2s_wire: String::new(),
            s2c_wire: String::new(),
            byte_by_byte: false,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_closed: None,
            server_closed: None,
        }
    }

    /// `wss://`: both ends start with TLS up.
    fn secure() -> Self {
        let now = Instant::now();
        let client = ClientConnection::new_direct_tls(ws_config(), now, tls_info());
        Self::new(client, listen(true), accept_config())
    }

    fn drain_client(&mut self) -> bool {
        let mut any = false;
        while let Some(o) = self.client.poll_output() {
            any = true;
            match o {
                client::Output::Transmit(b) => {
                    self.c2s_wire.push_str(std::str::from_utf8(&b).unwrap());
                    self.c2s.extend_from_slice(&b);
                }
                client::Output::Event(e) => self.client_events.push(e),
                client::Output::Closed(r) => self.client_closed = Some(r),
                other => panic!("no STARTTLS over WebSocket: {other:?}"),
            }
        }
        any
    }

    fn drain_server(&mut self) -> bool {
        let mut any = false;
        while let Some(o) = self.server.poll_output() {
            any = true;
            match o {
                server::Output::Transmit(b) => {
                    self.s2c_wire.push_str(std::str::from_utf8(&b).unwrap());
                    self.s2c.extend_from_slice(&b);
                }
                server::Output::Event(e) => {
                    match &e {
                        server::Event::Header { .. } => {
                            // May fail: the policy can refuse this stream.
                            let _ = self.server.accept(self.now, self.accept.clone());
                        }
                        server::Event::Bind { requested } => {
                            let jid: FullJid = format!(
                                "juliet@example.com/{}",
                                requested.clone().unwrap_or_else(|| "generated".into())
                            )
                            .parse()
                            .unwrap();
                            self.server.complete_bind(self.now, Ok(jid)).unwrap();
                        }
                        _ => {}
                    }
                    self.server_events.push(e);
                }
                server::Output::Closed(r) => self.server_closed = Some(r),
                other => panic!("no STARTTLS over WebSocket: {other:?}"),
            }
        }
        any
    }

    /// Moves bytes until neither side has anything to say.
    fn run(&mut self) {
        for _ in 0..100_000 {
            let mut progress = self.drain_client() | self.drain_server();
            if !self.c2s.is_empty() {
                let bytes = std::mem::take(&mut self.c2s);
                if self.byte_by_byte {
                    for b in bytes.chunks(1) {
                        let _ = self.server.handle_input(self.now, b);
                        self.drain_server();
                    }
                } else {
                    let _ = self.server.handle_input(self.now, &bytes);
                }
                progress = true;
            }
            if !self.s2c.is_empty() {
                let bytes = std::mem::take(&mut self.s2c);
                if self.byte_by_byte {
                    for b in bytes.chunks(1) {
                        let _ = self.client.handle_input(self.now, b);
                        self.drain_client();
                    }
                } else {
                    let _ = self.client.handle_input(self.now, &bytes);
                }
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    fn client_online(&self) -> Option<String> {
        self.client_events.iter().find_map(|e| match e {
            client::Event::Online { jid, .. } => Some(jid.to_string()),
            _ => None,
        })
    }

    fn server_bodies(&self) -> Vec<String> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                server::Event::Stanza(Stanza::Message(m)) => m.body().map(str::to_owned),
                _ => None,
            })
            .collect()
    }

    fn client_bodies(&self) -> Vec<String> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                client::Event::Stanza(Stanza::Message(m)) => m.body().map(str::to_owned),
                _ => None,
            })
            .collect()
    }
}

/// Takes a client's output as text, and its close reason if it ended.
fn drain(client: &mut ClientConnection) -> (String, Option<client::CloseReason>) {
    let mut sent = String::new();
    let mut closed = None;
    while let Some(o) = client.poll_output() {
        match o {
            client::Output::Transmit(b) => sent.push_str(std::str::from_utf8(&b).unwrap()),
            client::Output::Closed(r) => closed = Some(r),
            client::Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    (sent, closed)
}

/// Takes a server's output as text, answering a header with `accept`.
fn drain_server(
    server: &mut ServerConnection,
    now: Instant,
    accept: &AcceptConfig,
) -> (String, Option<server::CloseReason>) {
    let mut sent = String::new();
    let mut closed = None;
    while let Some(o) = server.poll_output() {
        match o {
            server::Output::Transmit(b) => sent.push_str(std::str::from_utf8(&b).unwrap()),
            server::Output::Closed(r) => closed = Some(r),
            server::Output::Event(server::Event::Header { .. }) => {
                let _ = server.accept(now, accept.clone());
            }
            server::Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    (sent, closed)
}

/// Asserts that `wire` is RFC 7395 framed throughout: `opens` `<open/>`
/// headers, no RFC 6120 header or XML declaration, and a `<close/>` at the
/// end.
fn assert_websocket_wire(wire: &str, opens: usize) {
    assert!(wire.starts_with(OPEN), "{wire}");
    assert_eq!(wire.matches(OPEN).count(), opens, "{wire}");
    assert!(!wire.contains("<stream:stream"), "{wire}");
    assert!(!wire.contains("</stream:stream"), "{wire}");
    assert!(!wire.contains("<?xml"), "{wire}");
    assert!(!wire.contains("starttls"), "{wire}");
    assert!(wire.ends_with(CLOSE), "{wire}");
    assert_eq!(wire.matches("<close").count(), 1, "{wire}");
}

fn full_session(byte_by_byte: bool) {
    let mut pair = Pair::secure();
    pair.byte_by_byte = byte_by_byte;
    let mut config = ws_config();
    config.sm_ack_after = 1;
    config.lang = Some("en".into());
    pair.client = ClientConnection::new_direct_tls(config, pair.now, tls_info());
    pair.run();
    assert_eq!(
        pair.client_online().as_deref(),
        Some("juliet@example.com/balcony"),
        "{:?}\n{}\n{}",
        pair.client_closed,
        pair.c2s_wire,
        pair.s2c_wire
    );
    assert!(pair.server.is_online());
    assert_eq!(pair.server.username(), Some("juliet"));
    // SCRAM with channel binding, as `wss://` gives one.
    assert!(
        pair.c2s_wire.contains("mechanism='SCRAM-SHA-256-PLUS'"),
        "{}",
        pair.c2s_wire
    );
    assert!(pair.client.stream_management());

    // A message each way; the client asks for an ack after each stanza.
    let m = Message::chat("romeo@example.net".parse().unwrap(), "to romeo");
    let token = pair.client.send(pair.now, m).unwrap();
    let reply = Message::chat("juliet@example.com/balcony".parse().unwrap(), "to juliet")
        .with_from("romeo@example.net/orchard".parse().unwrap());
    pair.server.send(pair.now, reply).unwrap();
    pair.run();
    assert_eq!(pair.server_bodies(), ["to romeo"]);
    assert_eq!(pair.client_bodies(), ["to juliet"]);
    assert!(
        pair.client_events
            .iter()
            .any(|e| matches!(e, client::Event::Acked(t) if t == &[token])),
        "{:?}",
        pair.client_events
    );
    assert_eq!(pair.client.stanza_state(token), StanzaState::Acked);

    // Every top-level element is a document of its own.
    assert!(
        pair.c2s_wire.contains("<message xmlns='jabber:client'"),
        "{}",
        pair.c2s_wire
    );
    assert!(
        pair.c2s_wire.contains("<enable xmlns='urn:xmpp:sm:3'"),
        "{}",
        pair.c2s_wire
    );
    assert!(
        pair.s2c_wire
            .contains(&format!("<stream:features xmlns:stream='{NS_STREAM}'")),
        "{}",
        pair.s2c_wire
    );
    assert!(
        pair.s2c_wire.contains("<message xmlns='jabber:client'"),
        "{}",
        pair.s2c_wire
    );

    if byte_by_byte {
        // The server closes; the client answers with its own <close/>.
        pair.server.close(pair.now);
        pair.run();
        assert_eq!(pair.client_closed, Some(client::CloseReason::PeerClosed));
        assert_eq!(pair.server_closed, Some(server::CloseReason::Closed));
    } else {
        pair.client.close(pair.now);
        pair.run();
        assert_eq!(pair.client_closed, Some(client::CloseReason::Closed));
        assert_eq!(pair.server_closed, Some(server::CloseReason::PeerClosed));
    }
    assert!(pair.client.is_closed() && pair.server.is_closed());

    // Two headers each way: the first, and the restart after SASL.
    assert_websocket_wire(&pair.c2s_wire, 2);
    assert_websocket_wire(&pair.s2c_wire, 2);
    assert!(
        pair.c2s_wire.starts_with(&format!(
            "{OPEN} to='example.com' from='juliet@example.com' version='1.0' xml:lang='en'/>"
        )),
        "{}",
        pair.c2s_wire
    );
    // RFC 7395 section 3.3.2: the server's <open/> carries from, id and
    // version, and features come as an element of their own.
    let server_open = &pair.s2c_wire[..pair.s2c_wire.find("/>").unwrap() + 2];
    assert!(
        server_open.starts_with(&format!("{OPEN} from='example.com' id='")),
        "{server_open}"
    );
    assert!(server_open.ends_with(" version='1.0'/>"), "{server_open}");
    assert!(
        pair.s2c_wire[server_open.len()..].starts_with("<stream:features"),
        "{}",
        pair.s2c_wire
    );
}

#[test]
fn websocket_session_over_direct_tls() {
    full_session(false);
}

#[test]
fn websocket_session_fed_byte_by_byte() {
    full_session(true);
}

#[test]
fn insecure_websocket_without_tls() {
    for policy in [TlsPolicy::Optional, TlsPolicy::Disabled] {
        let now = Instant::now();
        let mut config = ws_config();
        config.tls = TlsMode::Insecure;
        let mut accept = accept_config();
        accept.tls = policy;
        let mut pair = Pair::new(ClientConnection::new(config, now), listen(false), accept);
        pair.run();
        assert_eq!(
            pair.client_online().as_deref(),
            Some("juliet@example.com/balcony"),
            "{policy:?}: {:?}\n{}",
            pair.client_closed,
            pair.s2c_wire
        );
        // No STARTTLS offer, and no PLAIN without TLS.
        assert!(!pair.s2c_wire.contains("starttls"), "{}", pair.s2c_wire);
        assert!(!pair.s2c_wire.contains(">PLAIN<"), "{}", pair.s2c_wire);
        pair.client
            .send(
                pair.now,
                Message::chat("romeo@example.net".parse().unwrap(), "hi"),
            )
            .unwrap();
        pair.client.close(pair.now);
        pair.run();
        assert_eq!(pair.server_bodies(), ["hi"]);
        assert_eq!(pair.client_closed, Some(client::CloseReason::Closed));
        assert_eq!(pair.server_closed, Some(server::CloseReason::PeerClosed));
        assert_websocket_wire(&pair.c2s_wire, 2);
        assert_websocket_wire(&pair.s2c_wire, 2);
    }
}

#[test]
fn require_starttls_over_websocket_fails_with_tls_not_offered() {
    // Against our server: it never offers STARTTLS over WebSocket.
    let now = Instant::now();
    let mut accept = accept_config();
    accept.tls = TlsPolicy::Optional;
    let mut pair = Pair::new(
        ClientConnection::new(ws_config(), now),
        listen(false),
        accept,
    );
    pair.run();
    assert_eq!(
        pair.client_closed,
        Some(client::CloseReason::Error(ConnectionError::TlsNotOffered))
    );
    assert!(!pair.c2s_wire.contains("<auth"), "{}", pair.c2s_wire);

    // Against a server that offers it anyway: still not negotiated.
    let mut client = ClientConnection::new(ws_config(), now);
    let _ = drain(&mut client);
    let _ = client.handle_input(
        now,
        format!(
            "{OPEN} from='example.com' id='x' version='1.0'/>\
             <stream:features xmlns:stream='{NS_STREAM}'>\
             <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
             </stream:features>"
        )
        .as_bytes(),
    );
    let (sent, closed) = drain(&mut client);
    assert!(!sent.contains("starttls"), "{sent}");
    assert_eq!(
        closed,
        Some(client::CloseReason::Error(ConnectionError::TlsNotOffered))
    );
}

#[test]
fn server_requiring_tls_on_plain_websocket_sends_policy_violation_then_close() {
    let now = Instant::now();
    let mut config = ws_config();
    config.tls = TlsMode::Insecure;
    // `AcceptConfig::new` requires TLS.
    let mut pair = Pair::new(
        ClientConnection::new(config, now),
        listen(false),
        accept_config(),
    );
    pair.run();
    let Some(server::CloseReason::Error(ServerError::Sent(error))) = &pair.server_closed else {
        panic!("{:?}", pair.server_closed)
    };
    assert_eq!(error.condition, StreamErrorCondition::PolicyViolation);
    let Some(client::CloseReason::Error(ConnectionError::StreamError(error))) = &pair.client_closed
    else {
        panic!("{:?}", pair.client_closed)
    };
    assert_eq!(error.condition, StreamErrorCondition::PolicyViolation);
    // <open/>, then the error as a document of its own, then <close/>.
    let wire = &pair.s2c_wire;
    assert!(wire.starts_with(OPEN), "{wire}");
    assert!(!wire.contains("<stream:features"), "{wire}");
    assert!(
        wire.contains(&format!(
            "/><stream:error xmlns:stream='{NS_STREAM}'><policy-violation"
        )),
        "{wire}"
    );
    assert!(wire.ends_with(&format!("</stream:error>{CLOSE}")), "{wire}");
}

#[test]
fn server_stream_error_in_websocket_framing_is_followed_by_close() {
    let now = Instant::now();
    let accept = accept_config();
    let script = [
        // A stanza before authentication.
        "<message xmlns='jabber:client' to='romeo@example.net'><body>hi</body></message>",
        // STARTTLS, which WebSocket framing does not have.
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        // A top-level element without a namespace (not a document).
        "<message to='romeo@example.net'/>",
    ];
    let conditions = ["not-authorized", "policy-violation", "invalid-namespace"];
    for (element, condition) in script.into_iter().zip(conditions) {
        let mut server = ServerConnection::new(listen(true), now);
        let open = format!("{OPEN} to='example.com' version='1.0'/>");
        for b in open.as_bytes().chunks(1) {
            server.handle_input(now, b).unwrap();
        }
        let (sent, closed) = drain_server(&mut server, now, &accept);
        assert!(closed.is_none(), "{sent}");
        assert!(sent.starts_with(OPEN), "{sent}");
        let _ = server.handle_input(now, element.as_bytes());
        let (sent, closed) = drain_server(&mut server, now, &accept);
        assert!(
            sent.starts_with(&format!(
                "<stream:error xmlns:stream='{NS_STREAM}'><{condition}"
            )),
            "{condition}: {sent}"
        );
        assert!(sent.ends_with(&format!("</stream:error>{CLOSE}")), "{sent}");
        assert!(!sent.contains("</stream:stream>"), "{sent}");
        assert!(
            matches!(closed, Some(server::CloseReason::Error(_))),
            "{closed:?}"
        );
    }
}

#[test]
fn client_stream_error_in_websocket_framing_is_followed_by_close() {
    let now = Instant::now();
    let mut client = ClientConnection::new_direct_tls(ws_config(), now, tls_info());
    let _ = drain(&mut client);
    // Text outside a top-level element is not allowed.
    let _ = client.handle_input(
        now,
        format!("{OPEN} from='example.com' id='x' version='1.0'/>hello").as_bytes(),
    );
    let (sent, closed) = drain(&mut client);
    assert!(
        sent.starts_with(&format!("<stream:error xmlns:stream='{NS_STREAM}'>")),
        "{sent}"
    );
    assert!(sent.ends_with(&format!("</stream:error>{CLOSE}")), "{sent}");
    assert!(
        matches!(
            closed,
            Some(client::CloseReason::Error(ConnectionError::Xml(_)))
        ),
        "{closed:?}"
    );
}

#[test]
fn client_refuses_a_server_in_the_other_framing() {
    let now = Instant::now();
    let stream_header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='x' version='1.0'>";
    let open_header = format!("{OPEN} from='example.com' id='x' version='1.0'/>");
    for (framing, answer, close) in [
        (Framing::WebSocket, stream_header.to_owned(), CLOSE),
        (Framing::Stream, open_header, "</stream:stream>"),
    ] {
        let mut config = ws_config();
        config.framing = framing;
        let mut client = ClientConnection::new_direct_tls(config, now, tls_info());
        let (header, _) = drain(&mut client);
        assert_eq!(header.starts_with(OPEN), framing == Framing::WebSocket);
        let result = client.handle_input(now, answer.as_bytes());
        assert!(
            matches!(result, Err(ConnectionError::Protocol(ref why)) if why.contains("framing")),
            "{result:?}"
        );
        let (sent, closed) = drain(&mut client);
        assert!(sent.contains("<invalid-namespace"), "{sent}");
        assert!(sent.ends_with(close), "{sent}");
        assert!(
            matches!(
                closed,
                Some(client::CloseReason::Error(ConnectionError::Protocol(_)))
            ),
            "{closed:?}"
        );
        // Sticky.
        assert_eq!(client.handle_input(now, b" "), result);
    }
}

#[test]
fn server_refuses_a_restart_in_the_other_framing() {
    let now = Instant::now();
    let mut store = Store::new();
    store.anonymous = true;
    let mut accept = AcceptConfig::new("example.com", Arc::new(store));
    accept.mechanisms = vec![Mechanism::Anonymous];
    let mut server = ServerConnection::new(listen(true), now);
    server
        .handle_input(
            now,
            format!(
                "{OPEN} to='example.com' version='1.0'/>\
                 <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>"
            )
            .as_bytes(),
        )
        .unwrap();
    let (sent, closed) = drain_server(&mut server, now, &accept);
    assert!(closed.is_none(), "{sent}");
    assert!(
        sent.ends_with("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
        "{sent}"
    );
    let _ = server.handle_input(
        now,
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
          xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
    );
    let (sent, closed) = drain_server(&mut server, now, &accept);
    assert!(
        sent.starts_with(&format!(
            "<stream:error xmlns:stream='{NS_STREAM}'><invalid-namespace"
        )),
        "{sent}"
    );
    assert!(sent.ends_with(CLOSE), "{sent}");
    let Some(server::CloseReason::Error(ServerError::Sent(error))) = closed else {
        panic!("{closed:?}")
    };
    assert_eq!(error.condition, StreamErrorCondition::InvalidNamespace);
}

/// The server side of RFC 7395 section 3.3, as the RFC writes it (double
/// quotes, an unprefixed `features`), against our client over `wss://`.
#[test]
fn client_follows_an_rfc_7395_transcript() {
    let now = Instant::now();
    let mut config = ws_config();
    config.sasl.disabled = vec![Mechanism::ScramSha256Plus, Mechanism::ScramSha1Plus];
    let mut client = ClientConnection::new_direct_tls(config, now, TlsInfo::default());
    let (sent, _) = drain(&mut client);
    assert_eq!(
        sent,
        format!("{OPEN} to='example.com' from='juliet@example.com' version='1.0'/>")
    );
    client
        .handle_input(
            now,
            b"<open xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" from=\"example.com\" \
              id=\"++TR84Sm6A3hnt3Q065SnAbbk3Y=\" version=\"1.0\" xml:lang=\"en\" />\
              <features xmlns=\"http://etherx.jabber.org/streams\">\
              <mechanisms xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">\
              <mechanism>PLAIN</mechanism></mechanisms></features>",
        )
        .unwrap();
    let (sent, _) = drain(&mut client);
    assert_eq!(
        sent,
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\
         AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    );
    client
        .handle_input(
            now,
            b"<success xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\"/>",
        )
        .unwrap();
    let (sent, _) = drain(&mut client);
    assert!(sent.starts_with(OPEN), "a new <open/> after SASL: {sent}");
    client
        .handle_input(
            now,
            b"<open xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" from=\"example.com\" \
              id=\"gPybzaOzBmaADgxKXu9UClbprp0=\" version=\"1.0\" xml:lang=\"en\" />\
              <stream:features xmlns:stream=\"http://etherx.jabber.org/streams\">\
              <bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"/></stream:features>",
        )
        .unwrap();
    let (sent, _) = drain(&mut client);
    assert!(
        sent.starts_with("<iq xmlns='jabber:client' type='set'")
            || sent.starts_with("<iq xmlns='jabber:client' id="),
        "{sent}"
    );
    assert!(
        sent.contains("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"),
        "{sent}"
    );
    // The server closes during negotiation: the client answers in kind.
    client
        .handle_input(
            now,
            b"<close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\"/>",
        )
        .unwrap();
    let (sent, closed) = drain(&mut client);
    assert_eq!(sent, CLOSE);
    assert_eq!(closed, Some(client::CloseReason::PeerClosed));
}

#[test]
fn stream_framing_is_unchanged_by_default() {
    let config = ClientConfig::new("juliet@example.com".parse().unwrap(), "x", [1; 32]);
    assert_eq!(config.framing, Framing::Stream);
    let now = Instant::now();
    let mut client = ClientConnection::new(config, now);
    let (sent, _) = drain(&mut client);
    assert!(
        sent.starts_with("<?xml version='1.0'?><stream:stream xmlns='jabber:client'"),
        "{sent}"
    );
    let mut server = ServerConnection::new(listen(false), now);
    server.handle_input(now, sent.as_bytes()).unwrap();
    let (answer, _) = drain_server(&mut server, now, &accept_config());
    assert!(
        answer.starts_with("<?xml version='1.0'?><stream:stream"),
        "{answer}"
    );
    assert!(answer.contains("<starttls"), "{answer}");
}
