//! Property tests of the connection machines, driven by arbitrary sequences
//! of operations:
//!
//! 1. our client against our server, in memory (byte queues delivered in
//!    chunks of any size, a simulated clock, fake TLS, cuts and XEP-0198
//!    resumption), with the server counting stanzas on receipt or only once
//!    the application confirms them;
//! 2. the server alone against a hostile client that mixes garbage with
//!    plausible XMPP fragments;
//! 3. the two roles of the XEP-0114 component machine against each other.
//!
//! The machines are checked after every step: nothing follows `Closed` (nor
//! our own closing tag on the wire), a closed machine asks for no timer, a
//! handled timeout is consumed, buffers and queues stay within their limits,
//! the XEP-0198 counters agree with what the applications saw; and at the
//! end, what was acknowledged arrived exactly once, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use xmpp_kit::client::{
    self, ClientConfig, ClientConnection, ConnectionError, ResumeState, TlsInfo, TlsMode,
};
use xmpp_kit::component::{self, ComponentConfig, ComponentConnection, ComponentError};
use xmpp_kit::jid::{FullJid, Jid};
use xmpp_kit::sasl::{
    ChannelBinding, ChannelBindingType, Mechanism, ScramCredentials, ScramHash, ServerCredentials,
};
use xmpp_kit::server::{self, AcceptConfig, ListenConfig, ServerConnection, ServerError};
use xmpp_kit::stanza::{Message, Stanza};
use xmpp_kit::stream::{SmError, StanzaToken, StreamErrorCondition};

// ---- shared ---------------------------------------------------------------

const PASSWORD: &str = "pw";
/// The end of a stream: RFC 6120, or RFC 7395 (WebSocket framing).
const CLOSE_TAGS: [&[u8]; 2] = [
    b"</stream:stream>",
    b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
];

/// One account, `juliet` / `pw`, for PLAIN only (SCRAM's PBKDF2 is slow in
/// debug builds and is not what these tests are about).
struct Accounts;

impl ServerCredentials for Accounts {
    fn scram(&self, _username: &str, _hash: ScramHash) -> Option<ScramCredentials> {
        None
    }
    fn verify_plain(&self, username: &str, password: &str) -> bool {
        username == "juliet" && password == PASSWORD
    }
}

fn juliet() -> FullJid {
    "juliet@example.com/balcony".parse().unwrap()
}

fn tls_info() -> TlsInfo {
    TlsInfo {
        channel_bindings: vec![ChannelBinding {
            kind: ChannelBindingType::TlsExporter,
            data: b"the same exporter bytes on both ends".to_vec(),
        }],
    }
}

fn seed(tag: u8, n: u32) -> [u8; 32] {
    let mut seed = [tag; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed
}

/// A message body carrying its index: `c12 xxxx`.
fn body(prefix: char, idx: u64, pad: u8) -> String {
    format!("{prefix}{idx} {}", "x".repeat(usize::from(pad)))
}

fn index_of(body: &str, prefix: char) -> Option<u64> {
    body.split(' ').next()?.strip_prefix(prefix)?.parse().ok()
}

/// The wire of one direction of one connection: nothing may follow the
/// sender's closing tag (RFC 6120 section 4.4).
#[derive(Default)]
struct Wire {
    closed: bool,
}

impl Wire {
    fn sent(&mut self, who: &str, bytes: &[u8]) {
        assert!(
            !self.closed || bytes.is_empty(),
            "{who} wrote after its closing tag: {:?}",
            String::from_utf8_lossy(bytes)
        );
        for tag in CLOSE_TAGS {
            if let Some(at) = find(bytes, tag) {
                assert_eq!(
                    at + tag.len(),
                    bytes.len(),
                    "{who} wrote after its closing tag: {:?}",
                    String::from_utf8_lossy(bytes)
                );
                self.closed = true;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn take_front(queue: &mut VecDeque<u8>, k: usize) -> Vec<u8> {
    let k = k.min(queue.len());
    queue.drain(..k).collect()
}

/// Durations for `Advance`: mostly short, now and then long enough for the
/// keepalive, negotiation and idle deadlines.
fn advance_ms() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..3_000, 2 => 0u64..20_000, 1 => 0u64..120_000]
}

// ---- 1. client against server ---------------------------------------------

const SERVER_MAX_UNACKED: usize = 8;
const SERVER_MAX_OUTBOUND: usize = 2048;
const CLIENT_MAX_UNACKED: usize = 6;
/// Beyond the configured byte limit: the stanza accepted last, its `<r/>`,
/// and the stream error and closing tag that end the stream.
const OUTBOUND_SLACK: usize = 1024;

#[derive(Debug, Clone)]
enum PairOp {
    /// Deliver up to this many bytes from the client to the server.
    ToServer(usize),
    /// Deliver up to this many bytes from the server to the client.
    ToClient(usize),
    /// Deliver everything both ways until both are quiet.
    Pump,
    /// Advance the clock, handling every deadline on the way.
    Advance(u64),
    /// The client's application sends messages.
    ClientSend {
        count: u8,
        pad: u8,
    },
    /// The server's application sends messages, without draining between.
    ServerSend {
        count: u8,
        pad: u8,
    },
    ClientClose,
    ServerClose,
    ClientEof,
    ServerEof,
    /// The wire is cut: in-flight bytes are lost, both machines end, and a
    /// new connection resumes (or starts afresh).
    Cut,
    /// With `confirm_stanzas`: the server's application confirms the oldest
    /// stanzas it received.
    Confirm(u8),
    ClientRequestAck,
}

fn pair_op() -> impl Strategy<Value = PairOp> {
    prop_oneof![
        8 => (1usize..600).prop_map(PairOp::ToServer),
        8 => (1usize..600).prop_map(PairOp::ToClient),
        8 => Just(PairOp::Pump),
        3 => advance_ms().prop_map(PairOp::Advance),
        5 => (1u8..4, 0u8..200).prop_map(|(count, pad)| PairOp::ClientSend { count, pad }),
        5 => prop_oneof![3 => 1u8..5, 1 => 1u8..14]
            .prop_flat_map(|count| (Just(count), 0u8..200))
            .prop_map(|(count, pad)| PairOp::ServerSend { count, pad }),
        4 => (1u8..4).prop_map(PairOp::Confirm),
        1 => Just(PairOp::ClientRequestAck),
        // The disruptions, about one step in ten.
        1 => Just(PairOp::ClientClose),
        1 => Just(PairOp::ServerClose),
        1 => Just(PairOp::ClientEof),
        1 => Just(PairOp::ServerEof),
        2 => Just(PairOp::Cut),
    ]
}

/// What the model knows of one XEP-0198 session (by the server's id).
#[derive(Debug, Default)]
struct SessionModel {
    /// The server's counters as they must be.
    handled: u32,
    sent: u32,
    acked: u32,
    /// The server application's messages not yet acknowledged, in order.
    pending: VecDeque<StanzaToken>,
    /// Stanzas of this session the client received: its `h`.
    client_received: u32,
    /// The token namespace (connection number) the session started in.
    ns: u32,
}

struct PairWorld {
    now: Instant,
    starttls: bool,
    confirm: bool,
    conn: u32,
    client: ClientConnection,
    server: ServerConnection,
    accept: AcceptConfig,
    c2s: VecDeque<u8>,
    s2c: VecDeque<u8>,
    client_wire: Wire,
    server_wire: Wire,
    client_tls: bool,
    server_tls: bool,
    client_closed: Option<client::CloseReason>,
    server_closed: Option<server::CloseReason>,
    /// The server application's parked sessions, for resumption.
    parked: HashMap<String, ResumeState>,
    /// Bytes a resumption may retransmit beyond the byte limit at once.
    resume_allowance: usize,

    next_c: u64,
    next_s: u64,
    /// Token namespaces: tokens restart with every fresh connection and
    /// continue across a resumption.
    c_ns: u32,
    s_ns: u32,
    c_tokens: HashMap<(u32, StanzaToken), u64>,
    /// The client connection was created to resume a session and has not
    /// been refused: it must hand that session on.
    c_resuming: bool,
    /// The client application's messages not yet acknowledged, in order.
    c_pending: VecDeque<StanzaToken>,
    /// Given back by `ResumeFailed`, or lost with a session that could not
    /// be resumed: delivered at most once.
    c_lost: usize,
    s_tokens: HashMap<(u32, StanzaToken), u64>,
    s_session_of: HashMap<u64, String>,
    sessions: HashMap<String, SessionModel>,
    /// What the server's application received and (with `confirm`) has
    /// not confirmed yet.
    s_unconfirmed: VecDeque<u64>,
    /// Delivered to each application, for good.
    server_got: Vec<u64>,
    server_got_set: HashSet<u64>,
    client_got: Vec<u64>,
    client_got_set: HashSet<u64>,
    c_acked: usize,
    s_acked: usize,
    resumed: usize,
}

impl PairWorld {
    fn new(starttls: bool, confirm: bool) -> Self {
        let now = Instant::now();
        let mut accept = AcceptConfig::new("example.com", Arc::new(Accounts));
        accept.mechanisms = vec![Mechanism::Plain];
        accept.max_unacked = SERVER_MAX_UNACKED;
        accept.max_outbound_bytes = SERVER_MAX_OUTBOUND;
        accept.ack_request_every = 3;
        accept.ack_request_after = Duration::from_secs(2);
        accept.confirm_stanzas = confirm;
        let mut world = Self {
            now,
            starttls,
            confirm,
            conn: 0,
            client: ClientConnection::new(Self::client_config(0, starttls), now),
            server: ServerConnection::new(ListenConfig::new([0; 32]), now),
            accept,
            c2s: VecDeque::new(),
            s2c: VecDeque::new(),
            client_wire: Wire::default(),
            server_wire: Wire::default(),
            client_tls: false,
            server_tls: false,
            client_closed: None,
            server_closed: None,
            parked: HashMap::new(),
            resume_allowance: 0,
            next_c: 0,
            next_s: 0,
            c_ns: 0,
            s_ns: 0,
            c_tokens: HashMap::new(),
            c_resuming: false,
            c_pending: VecDeque::new(),
            c_lost: 0,
            s_tokens: HashMap::new(),
            s_session_of: HashMap::new(),
            sessions: HashMap::new(),
            s_unconfirmed: VecDeque::new(),
            server_got: Vec::new(),
            server_got_set: HashSet::new(),
            client_got: Vec::new(),
            client_got_set: HashSet::new(),
            c_acked: 0,
            s_acked: 0,
            resumed: 0,
        };
        world.connect(None);
        world
    }

    fn client_config(conn: u32, starttls: bool) -> ClientConfig {
        let mut config = ClientConfig::new(juliet().into(), PASSWORD, seed(1, conn));
        config.tls = if starttls {
            TlsMode::RequireStartTls
        } else {
            TlsMode::DirectTls
        };
        config.sm_ack_after = 3;
        config.sm_ack_interval = Duration::from_secs(4);
        config.max_unacked = CLIENT_MAX_UNACKED;
        config.ping_after = Duration::from_secs(20);
        config.ping_timeout = Duration::from_secs(10);
        config
    }

    /// A new connection on both sides: the client resumes with `state`.
    fn connect(&mut self, state: Option<ResumeState>) {
        let conn = self.conn;
        let config = Self::client_config(conn, self.starttls);
        let tls = (!self.starttls).then(tls_info);
        self.c_resuming = state.is_some();
        self.client = match (state, tls) {
            (Some(state), tls) => ClientConnection::resume(config, self.now, state, tls),
            (None, Some(tls)) => {
                self.c_ns = conn;
                ClientConnection::new_direct_tls(config, self.now, tls)
            }
            (None, None) => {
                self.c_ns = conn;
                ClientConnection::new(config, self.now)
            }
        };
        let mut listen = ListenConfig::new(seed(2, conn));
        if !self.starttls {
            listen.direct_tls = Some(tls_info());
        }
        self.server = ServerConnection::new(listen, self.now);
        self.s_ns = conn;
        self.c2s.clear();
        self.s2c.clear();
        self.client_wire = Wire::default();
        self.server_wire = Wire::default();
        self.client_tls = false;
        self.server_tls = false;
        self.client_closed = None;
        self.server_closed = None;
        self.drain();
    }

    fn drain(&mut self) {
        // Draining one side never makes the other produce output.
        self.drain_client();
        self.drain_server();
        if self.client_tls && self.server_tls && self.c2s.is_empty() && self.s2c.is_empty() {
            self.client_tls = false;
            self.server_tls = false;
            let _ = self.server.tls_established(self.now, tls_info());
            let _ = self.client.tls_established(self.now, tls_info());
            self.drain_client();
            self.drain_server();
        }
    }

    fn drain_client(&mut self) {
        while let Some(output) = self.client.poll_output() {
            assert!(
                self.client_closed.is_none(),
                "client output after Closed: {output:?}"
            );
            match output {
                client::Output::Transmit(bytes) => {
                    self.client_wire.sent("the client", &bytes);
                    self.c2s.extend(bytes.iter());
                }
                client::Output::StartTls => self.client_tls = true,
                client::Output::Event(event) => self.client_event(event),
                client::Output::Closed(reason) => {
                    let crossed = self.server_wire.closed;
                    assert!(
                        client_reason_ok(&reason, crossed),
                        "client closed: {reason:?}"
                    );
                    self.client_closed = Some(reason);
                }
                other => panic!("unexpected client output {other:?}"),
            }
        }
        if self.client_closed.is_some() {
            assert!(self.client.is_closed());
            assert_eq!(self.client.poll_timeout(), None, "a closed client's timer");
        }
    }

    fn client_event(&mut self, event: client::Event) {
        match event {
            client::Event::Online { jid, .. } => assert_eq!(jid, juliet()),
            client::Event::Stanza(Stanza::Message(m)) => {
                let idx = m
                    .body()
                    .and_then(|b| index_of(b, 's'))
                    .expect("our message");
                assert!(
                    self.client_got.last().is_none_or(|last| *last < idx),
                    "the client got s{idx} after {:?}: duplicated or out of order",
                    self.client_got.last()
                );
                self.client_got.push(idx);
                self.client_got_set.insert(idx);
                if let Some(id) = self.s_session_of.get(&idx) {
                    let session = self.sessions.get_mut(id).unwrap();
                    session.client_received = session.client_received.wrapping_add(1);
                }
            }
            client::Event::Acked(tokens) => {
                for token in tokens {
                    assert_eq!(
                        self.c_pending.pop_front(),
                        Some(token),
                        "the client's acks confirm its messages once and in order"
                    );
                    let idx = self.c_tokens[&(self.c_ns, token)];
                    assert!(
                        self.server_got_set.contains(&idx),
                        "c{idx} acknowledged but never delivered to the server's application"
                    );
                    self.c_acked += 1;
                }
            }
            client::Event::ResumeFailed { unacked } => {
                let unacked: Vec<StanzaToken> = unacked
                    .into_iter()
                    .map(|(t, _)| t)
                    .filter(|t| self.c_tokens.contains_key(&(self.c_ns, *t)))
                    .collect();
                assert_eq!(unacked, Vec::from(self.c_pending.clone()));
                self.c_resuming = false;
                self.c_lost += self.c_pending.len();
                self.c_pending.clear();
            }
            other => panic!("unexpected client event {other:?}"),
        }
    }

    /// The model of the session the server is in, created when it first
    /// shows.
    fn server_session(&mut self) -> Option<String> {
        let (id, _) = self.server.sm_counters()?;
        let id = id.to_owned();
        let ns = self.s_ns;
        self.sessions
            .entry(id.clone())
            .or_insert_with(|| SessionModel {
                ns,
                ..SessionModel::default()
            });
        Some(id)
    }

    fn drain_server(&mut self) {
        let mut bytes = 0;
        while let Some(output) = self.server.poll_output() {
            assert!(
                self.server_closed.is_none(),
                "server output after Closed: {output:?}"
            );
            match output {
                server::Output::Transmit(b) => {
                    self.server_wire.sent("the server", &b);
                    bytes += b.len();
                    self.s2c.extend(b.iter());
                }
                server::Output::StartTls => self.server_tls = true,
                server::Output::Event(event) => self.server_event(event),
                server::Output::Closed(reason) => {
                    let crossed = self.client_wire.closed;
                    assert!(
                        server_reason_ok(&reason, crossed),
                        "server closed: {reason:?}"
                    );
                    self.server_closed = Some(reason);
                }
                other => panic!("unexpected server output {other:?}"),
            }
        }
        assert!(
            bytes <= SERVER_MAX_OUTBOUND + OUTBOUND_SLACK + self.resume_allowance,
            "{bytes} bytes waited in the server's output"
        );
        self.resume_allowance = 0;
        if self.server_closed.is_some() {
            assert!(self.server.is_closed());
            assert_eq!(self.server.poll_timeout(), None, "a closed server's timer");
        }
    }

    fn server_event(&mut self, event: server::Event) {
        match event {
            server::Event::Header { .. } => {
                self.server.accept(self.now, self.accept.clone()).unwrap();
            }
            server::Event::Authenticated { username } => assert_eq!(username, "juliet"),
            server::Event::Bind { .. } => {
                self.server.complete_bind(self.now, Ok(juliet())).unwrap();
            }
            server::Event::Resume { previd, h } => {
                let state = self.parked.remove(&previd);
                if let Some(state) = &state {
                    let session = self.sessions.get_mut(&previd).unwrap();
                    assert_eq!(h, session.client_received, "the client's h");
                    let newly = h.wrapping_sub(state.outbound_acked) as usize;
                    assert!(newly <= session.pending.len(), "h too high");
                    // What `h` confirms comes as `Acked` once resumed.
                    self.s_ns = session.ns;
                    self.resumed += 1;
                    self.resume_allowance = SERVER_MAX_UNACKED * 512;
                }
                self.server.complete_resume(self.now, state).unwrap();
            }
            server::Event::Online { jid, .. } => assert_eq!(jid, juliet()),
            server::Event::Stanza(Stanza::Message(m)) => {
                let idx = m
                    .body()
                    .and_then(|b| index_of(b, 'c'))
                    .expect("our message");
                assert_eq!(m.from, Some(juliet().into()), "from is stamped");
                if self.confirm {
                    self.s_unconfirmed.push_back(idx);
                } else {
                    self.persist(idx);
                }
            }
            server::Event::Acked(tokens) => {
                let ns = self.s_ns;
                let id = self.server_session().expect("acks need a session");
                let session = self.sessions.get_mut(&id).unwrap();
                for token in tokens {
                    assert_eq!(
                        session.pending.pop_front(),
                        Some(token),
                        "the server's acks confirm its messages once and in order"
                    );
                    session.acked = session.acked.wrapping_add(1);
                    let idx = self.s_tokens[&(ns, token)];
                    assert!(
                        self.client_got_set.contains(&idx),
                        "s{idx} acknowledged but never delivered to the client's application"
                    );
                    self.s_acked += 1;
                }
            }
            other => panic!("unexpected server event {other:?}"),
        }
    }

    /// The server's application has a client message for good.
    fn persist(&mut self, idx: u64) {
        assert!(
            self.server_got.last().is_none_or(|last| *last < idx),
            "the server got c{idx} after {:?}: duplicated or out of order",
            self.server_got.last()
        );
        self.server_got.push(idx);
        self.server_got_set.insert(idx);
        if let Some(id) = self.server_session() {
            let session = self.sessions.get_mut(&id).unwrap();
            session.handled = session.handled.wrapping_add(1);
        }
    }

    fn confirm(&mut self, n: usize) {
        for _ in 0..n {
            let Some(idx) = self.s_unconfirmed.pop_front() else {
                return;
            };
            self.server.confirm_stanza();
            self.persist(idx);
        }
        self.drain();
    }

    fn client_send(&mut self, count: u8, pad: u8) {
        for _ in 0..count {
            let idx = self.next_c;
            self.next_c += 1;
            let to: Jid = "romeo@example.net".parse().unwrap();
            if let Ok(token) = self
                .client
                .send(self.now, Message::chat(to, body('c', idx, pad)))
            {
                self.c_tokens.insert((self.c_ns, token), idx);
                self.c_pending.push_back(token);
            }
            assert!(
                self.c_pending.len() <= CLIENT_MAX_UNACKED,
                "{} client messages wait for an ack",
                self.c_pending.len()
            );
        }
        self.drain();
    }

    fn server_send(&mut self, count: u8, pad: u8) {
        for _ in 0..count {
            let idx = self.next_s;
            self.next_s += 1;
            let message = Message::chat(juliet().into(), body('s', idx, pad));
            if let Ok(token) = self.server.send(self.now, message) {
                let ns = self.s_ns;
                self.s_tokens.insert((ns, token), idx);
                if let Some(id) = self.server_session() {
                    let session = self.sessions.get_mut(&id).unwrap();
                    session.sent = session.sent.wrapping_add(1);
                    session.pending.push_back(token);
                    self.s_session_of.insert(idx, id);
                }
            }
        }
        self.drain();
    }

    fn deliver_c2s(&mut self, k: usize) -> bool {
        let bytes = take_front(&mut self.c2s, k);
        if bytes.is_empty() {
            return false;
        }
        let _ = self.server.handle_input(self.now, &bytes);
        self.drain();
        true
    }

    fn deliver_s2c(&mut self, k: usize) -> bool {
        let bytes = take_front(&mut self.s2c, k);
        if bytes.is_empty() {
            return false;
        }
        let _ = self.client.handle_input(self.now, &bytes);
        self.drain();
        true
    }

    fn pump(&mut self) {
        for _ in 0..1000 {
            let moved = self.deliver_c2s(usize::MAX) | self.deliver_s2c(usize::MAX);
            if !moved {
                return;
            }
        }
        panic!("the pair does not settle");
    }

    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        for _ in 0..1000 {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|next| *next <= target) else {
                self.now = target;
                return;
            };
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.drain();
            for (who, timeout) in [
                ("client", self.client.poll_timeout()),
                ("server", self.server.poll_timeout()),
            ] {
                assert!(
                    timeout.is_none_or(|t| t > self.now),
                    "the {who} still asks for a timeout it was just given"
                );
            }
        }
        panic!("timers do not settle");
    }

    fn cut(&mut self) {
        self.c2s.clear();
        self.s2c.clear();
        self.client.handle_eof(self.now);
        self.server.handle_eof(self.now);
        self.drain();
        // What was not confirmed is not safe: it must come again.
        self.s_unconfirmed.clear();
        if let Some(state) = self.server.take_resume_state() {
            let session = &self.sessions[&state.id];
            let unacked: Vec<StanzaToken> = state
                .unacked
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| self.s_tokens.contains_key(&(session.ns, *t)))
                .collect();
            assert_eq!(unacked, Vec::from(session.pending.clone()));
            assert_eq!(state.inbound, session.handled);
            assert_eq!(state.outbound_acked, session.acked);
            self.parked.insert(state.id.clone(), state);
        }
        let state = self.client.take_resume_state();
        match &state {
            Some(state) => {
                let unacked: Vec<StanzaToken> = state
                    .unacked
                    .iter()
                    .map(|(t, _)| *t)
                    .filter(|t| self.c_tokens.contains_key(&(self.c_ns, *t)))
                    .collect();
                assert_eq!(unacked, Vec::from(self.c_pending.clone()));
            }
            None => {
                assert!(
                    !self.c_resuming,
                    "a resuming client lost the session it was resuming"
                );
                self.c_lost += self.c_pending.len();
                self.c_pending.clear();
            }
        }
        self.conn += 1;
        self.connect(state);
    }

    fn step(&mut self, op: &PairOp) {
        match *op {
            PairOp::ToServer(k) => {
                self.deliver_c2s(k);
            }
            PairOp::ToClient(k) => {
                self.deliver_s2c(k);
            }
            PairOp::Pump => self.pump(),
            PairOp::Advance(ms) => self.advance(Duration::from_millis(ms)),
            PairOp::ClientSend { count, pad } => self.client_send(count, pad),
            PairOp::ServerSend { count, pad } => self.server_send(count, pad),
            PairOp::ClientClose => {
                self.client.close(self.now);
                self.drain();
            }
            PairOp::ServerClose => {
                self.server.close(self.now);
                self.drain();
            }
            PairOp::ClientEof => {
                self.client.handle_eof(self.now);
                self.drain();
            }
            PairOp::ServerEof => {
                self.server.handle_eof(self.now);
                self.drain();
            }
            PairOp::Cut => self.cut(),
            PairOp::Confirm(n) => self.confirm(usize::from(n)),
            PairOp::ClientRequestAck => {
                self.client.request_ack(self.now);
                self.drain();
            }
        }
        self.check();
    }

    /// The server's counters are the model's.
    fn check(&mut self) {
        let Some(c) = self.server.sm_counters().map(|(_, c)| c) else {
            return;
        };
        let id = self.server_session().unwrap();
        let session = &self.sessions[&id];
        assert_eq!(c.handled, session.handled, "handled");
        assert_eq!(c.sent, session.sent, "sent");
        assert_eq!(c.acked, session.acked, "acked");
        assert!(c.sent.wrapping_sub(c.acked) as usize <= SERVER_MAX_UNACKED);
    }

    /// Lets the pair run with no more cuts (but reconnecting a connection
    /// that ended) until everything is acknowledged, then checks that
    /// nothing was lost.
    fn finish(&mut self) {
        for _ in 0..6 {
            if self.client.is_closed() || self.server.is_closed() {
                self.cut();
            }
            for _ in 0..40 {
                self.pump();
                self.confirm(usize::MAX);
                let settled = self.c_pending.is_empty()
                    && self
                        .server_session()
                        .is_none_or(|id| self.sessions[&id].pending.is_empty());
                if settled && self.client.is_online() && self.server.is_online() {
                    break;
                }
                // The next ack request (or keepalive), if it is near.
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(next) if next <= self.now + Duration::from_secs(30) => {
                        self.advance(next.saturating_duration_since(self.now));
                    }
                    _ => break,
                }
                self.check();
            }
            if self.client.is_online() && self.server.is_online() {
                break;
            }
        }
        assert!(
            self.client.is_online() && self.server.is_online(),
            "the pair does not come back online: {:?} / {:?}",
            self.client_closed,
            self.server_closed
        );
        assert!(self.client.stream_management());
        self.check();
        assert!(
            self.c_pending.is_empty(),
            "client messages never acknowledged: {:?}",
            self.c_pending
        );
        let id = self.server_session().expect("stream management");
        let session = &self.sessions[&id];
        assert!(
            session.pending.is_empty(),
            "server messages of session {id} never acknowledged: {:?}",
            session.pending
        );
    }
}

/// How an honest connection may end. `crossed`: the peer closed its
/// stream, and the close may have crossed a stream restart (a parser reset
/// after `<success/>` or `<proceed/>` then meets `</stream:stream>` alone,
/// or plaintext during the TLS handshake).
fn client_reason_ok(reason: &client::CloseReason, crossed: bool) -> bool {
    match reason {
        client::CloseReason::Closed | client::CloseReason::PeerClosed => true,
        client::CloseReason::Error(e) => match e {
            ConnectionError::Eof | ConnectionError::Timeout(_) => true,
            ConnectionError::Xml(_) | ConnectionError::StartTlsInjection => crossed,
            ConnectionError::StreamError(e) => {
                matches!(
                    e.condition,
                    StreamErrorCondition::ResourceConstraint
                        | StreamErrorCondition::ConnectionTimeout
                ) || crossed && e.condition == StreamErrorCondition::NotWellFormed
            }
            _ => false,
        },
        _ => false,
    }
}

fn server_reason_ok(reason: &server::CloseReason, crossed: bool) -> bool {
    match reason {
        server::CloseReason::Closed | server::CloseReason::PeerClosed => true,
        server::CloseReason::Error(e) => match e {
            ServerError::Eof | ServerError::Timeout(_) => true,
            ServerError::Xml(_) | ServerError::StartTlsInjection => crossed,
            ServerError::Sent(e) | ServerError::Received(e) => {
                matches!(
                    e.condition,
                    StreamErrorCondition::ResourceConstraint
                        | StreamErrorCondition::ConnectionTimeout
                ) || crossed && e.condition == StreamErrorCondition::NotWellFormed
            }
            _ => false,
        },
        _ => false,
    }
}

fn run_pair(starttls: bool, confirm: bool, ops: &[PairOp]) -> PairWorld {
    let mut world = PairWorld::new(starttls, confirm);
    for op in ops {
        world.step(op);
    }
    world.finish();
    world
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Client against server, the server counting a stanza once parsed.
    #[test]
    fn client_and_server_deliver_exactly_once(
        starttls in any::<bool>(),
        ops in proptest::collection::vec(pair_op(), 1..120),
    ) {
        run_pair(starttls, false, &ops);
    }

    /// Client against server, the server counting a stanza only once its
    /// application confirms it (`AcceptConfig::confirm_stanzas`).
    #[test]
    fn client_and_server_deliver_exactly_once_with_confirmed_stanzas(
        starttls in any::<bool>(),
        ops in proptest::collection::vec(pair_op(), 1..120),
    ) {
        run_pair(starttls, true, &ops);
    }
}

// ---- 2. the server against a hostile client -------------------------------

const LONE_NEGOTIATION: Duration = Duration::from_secs(10);
const LONE_MAX_UNACKED: usize = 6;
const LONE_MAX_OUTBOUND: usize = 1024;
/// The id of the one parked session the hostile client may resume.
const PARKED_ID: &str = "parked-session";

/// An `h`: absolute, or relative to the server's last acknowledged count
/// (for `<a/>`) or to the parked session's (for `<resume/>`), so that
/// acknowledgements just right, too low and too high all come up.
#[derive(Debug, Clone, Copy)]
enum AckH {
    Abs(u32),
    Rel(i8),
}

fn ack_h() -> impl Strategy<Value = AckH> {
    prop_oneof![
        1 => any::<u32>().prop_map(AckH::Abs),
        4 => (-3i8..12).prop_map(AckH::Rel),
    ]
}

/// What a hostile client writes: plausible XMPP, or garbage.
#[derive(Debug, Clone)]
enum Frag {
    /// 0: RFC 6120 header; 1: without the XML declaration; 2: RFC 7395
    /// `<open/>`; 3: `jabber:server`; 4: no `to`, no version.
    Header(u8),
    StartTls,
    Auth {
        good: bool,
    },
    AuthNotBase64,
    Abort,
    Bind,
    Session,
    Enable,
    R,
    A(AckH),
    Resume {
        known: bool,
        h: AckH,
    },
    Message(u8),
    SpoofedMessage,
    Presence,
    /// An iq get without a payload: invalid, answered with an error.
    BadIq,
    Close,
    WsClose,
    /// Well-formed but out of place, or not well-formed.
    Odd(u8),
    Bytes(Vec<u8>),
}

impl Frag {
    /// Whether it is complete, well-formed and at the top level wherever
    /// it lands (so that the parser is at the top level after it). A
    /// header is, where one is expected; elsewhere it opens an element.
    fn clean(&self) -> bool {
        !matches!(self, Self::Odd(_) | Self::Bytes(_) | Self::Header(_))
    }

    /// Whether the server may count it as a stanza (an invalid one is
    /// counted too: it is answered with an error).
    fn is_stanza(&self) -> bool {
        match self {
            Self::Bind
            | Self::Session
            | Self::Message(_)
            | Self::SpoofedMessage
            | Self::Presence
            | Self::BadIq => true,
            Self::Odd(i) => ["<message", "<iq", "<presence"]
                .iter()
                .any(|name| ODD[usize::from(*i)].starts_with(name)),
            _ => false,
        }
    }
}

const ODD: &[&str] = &[
    "<",
    "<message",
    "<x><x><x>",
    "</iq>",
    "&bogus;",
    "hello",
    "<?pi x?>",
    "<!-- a comment -->",
    "<!DOCTYPE x>",
    "<iq type='set' id='x'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>",
    "<a xmlns='urn:xmpp:sm:3' h='-1'/>",
    "<a xmlns='urn:xmpp:sm:3'/>",
    "<enable xmlns='urn:xmpp:sm:2'/>",
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
    "<unknown xmlns='urn:example'/>",
    "<message xmlns='jabber:client' to='romeo@example.net' type='chat'><body>\u{0}</body></message>",
    "<message xmlns='jabber:client' to='not a jid@@' type='chat'/>",
    "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    " \n\t ",
];

fn frag() -> impl Strategy<Value = Frag> {
    prop_oneof![
        1 => (0u8..5).prop_map(Frag::Header),
        1 => Just(Frag::StartTls),
        3 => any::<bool>().prop_map(|good| Frag::Auth { good }),
        1 => Just(Frag::AuthNotBase64),
        1 => Just(Frag::Abort),
        2 => Just(Frag::Bind),
        1 => Just(Frag::Session),
        2 => Just(Frag::Enable),
        2 => Just(Frag::R),
        4 => ack_h().prop_map(Frag::A),
        2 => (any::<bool>(), ack_h()).prop_map(|(known, h)| Frag::Resume { known, h }),
        3 => any::<u8>().prop_map(Frag::Message),
        1 => Just(Frag::SpoofedMessage),
        1 => Just(Frag::Presence),
        1 => Just(Frag::BadIq),
        1 => Just(Frag::Close),
        1 => Just(Frag::WsClose),
        1 => (0..ODD.len() as u8).prop_map(Frag::Odd),
        1 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(Frag::Bytes),
    ]
}

/// A negotiation as a client would run it (header, STARTTLS unless the
/// transport is TLS already, PLAIN, bind or resume, enable), in one of the
/// framings, now and then with one step replaced by anything: so that most
/// runs reach the online state, where most of the state is.
fn prelude(direct_tls: bool) -> impl Strategy<Value = Vec<LoneOp>> {
    let header = prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)];
    let resume = prop_oneof![3 => Just(None), 1 => (-1i8..6).prop_map(Some)];
    let mutation = prop_oneof![3 => Just(None), 1 => (0usize..8, frag()).prop_map(Some)];
    (header, resume, mutation, 1usize..200).prop_map(move |(v, resume, mutation, chunk)| {
        let mut frags = vec![Frag::Header(v)];
        if !direct_tls {
            frags.extend([Frag::StartTls, Frag::Header(v)]);
        }
        frags.extend([Frag::Auth { good: true }, Frag::Header(v)]);
        match resume {
            Some(delta) => frags.push(Frag::Resume {
                known: true,
                h: AckH::Rel(delta),
            }),
            None => frags.extend([Frag::Bind, Frag::Enable]),
        }
        if let Some((at, frag)) = mutation {
            let at = at % frags.len();
            frags[at] = frag;
        }
        frags
            .into_iter()
            .map(|frag| LoneOp::Feed(frag, chunk))
            .collect()
    })
}

#[derive(Debug, Clone)]
enum LoneOp {
    /// Feed a fragment, split into chunks of this size.
    Feed(Frag, usize),
    Advance(u64),
    ServerSend(u8),
    ServerClose,
    Confirm(u8),
    Eof,
}

fn lone_op() -> impl Strategy<Value = LoneOp> {
    prop_oneof![
        12 => (frag(), 1usize..64).prop_map(|(f, chunk)| LoneOp::Feed(f, chunk)),
        2 => advance_ms().prop_map(LoneOp::Advance),
        3 => (1u8..10).prop_map(LoneOp::ServerSend),
        1 => Just(LoneOp::ServerClose),
        2 => (1u8..4).prop_map(LoneOp::Confirm),
        1 => Just(LoneOp::Eof),
    ]
}

/// The state of an earlier session with `unacked` stanzas unacknowledged,
/// from a scripted client (tokens cannot be made outside the crate).
fn earlier_session(accept: &AcceptConfig, unacked: u8) -> ResumeState {
    let now = Instant::now();
    let mut listen = ListenConfig::new([6; 32]);
    listen.direct_tls = Some(tls_info());
    let mut server = ServerConnection::new(listen, now);
    let script = [
        header_xml(0),
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain(PASSWORD)
        ),
        header_xml(0),
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>".to_owned(),
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>".to_owned(),
    ];
    for xml in script {
        server.handle_input(now, xml.as_bytes()).unwrap();
        while let Some(output) = server.poll_output() {
            match output {
                server::Output::Event(server::Event::Header { .. }) => {
                    server.accept(now, accept.clone()).unwrap();
                }
                server::Output::Event(server::Event::Bind { .. }) => {
                    server.complete_bind(now, Ok(juliet())).unwrap();
                }
                _ => {}
            }
        }
    }
    for i in 0..unacked {
        let to: Jid = juliet().into();
        server
            .send(now, Message::chat(to, format!("p{i}")))
            .unwrap();
    }
    let state = server.take_resume_state().unwrap();
    assert_eq!(state.unacked.len(), usize::from(unacked));
    state
}

/// A header that opens the stream the client's framing asks for.
fn header_xml(variant: u8) -> String {
    match variant {
        0 => "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
              xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
            .to_owned(),
        1 => {
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
              to='example.com' version='1.0' xml:lang='en'>"
                .to_owned()
        }
        2 => "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>"
            .to_owned(),
        3 => {
            "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
              to='example.com' version='1.0'>"
                .to_owned()
        }
        _ => {
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                .to_owned()
        }
    }
}

fn plain(password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0juliet\0{password}"))
}

struct Lone {
    now: Instant,
    start: Instant,
    server: ServerConnection,
    accept: AcceptConfig,
    closed: Option<server::CloseReason>,
    wire: Wire,
    /// What the server wrote during the current step.
    written: Vec<u8>,
    ever_online: bool,
    /// A fragment that may leave the parser inside an element was fed.
    tainted: bool,
    /// The parked session a `<resume/>` may take, once.
    parked: Option<ResumeState>,
    parked_unacked: usize,
    /// Stanza events not confirmed yet.
    unconfirmed: usize,
    /// Stanza fragments fed since the session's counters started, and
    /// where `handled` started.
    stanzas_fed: u32,
    handled_base: Option<u32>,
    too_high_acks: usize,
}

impl Lone {
    fn new(confirm: bool, direct_tls: bool, parked: (u32, u32, u8)) -> Self {
        let now = Instant::now();
        let mut listen = ListenConfig::new([5; 32]);
        listen.negotiation_timeout = LONE_NEGOTIATION;
        if direct_tls {
            listen.direct_tls = Some(tls_info());
        }
        let mut accept = AcceptConfig::new("example.com", Arc::new(Accounts));
        accept.mechanisms = vec![Mechanism::Plain, Mechanism::ScramSha256];
        accept.max_unacked = LONE_MAX_UNACKED;
        accept.max_outbound_bytes = LONE_MAX_OUTBOUND;
        accept.ack_request_every = 2;
        accept.ack_request_after = Duration::from_secs(1);
        accept.confirm_stanzas = confirm;
        let (inbound, outbound_acked, unacked) = parked;
        let mut parked = earlier_session(&accept, unacked);
        parked.id = PARKED_ID.to_owned();
        parked.inbound = inbound;
        parked.outbound_acked = outbound_acked;
        let mut lone = Self {
            now,
            start: now,
            server: ServerConnection::new(listen, now),
            accept,
            closed: None,
            wire: Wire::default(),
            written: Vec::new(),
            ever_online: false,
            tainted: false,
            parked_unacked: parked.unacked.len(),
            parked: Some(parked),
            unconfirmed: 0,
            stanzas_fed: 0,
            handled_base: None,
            too_high_acks: 0,
        };
        lone.drain();
        lone
    }

    fn drain(&mut self) {
        let mut bytes = 0;
        while let Some(output) = self.server.poll_output() {
            assert!(self.closed.is_none(), "output after Closed: {output:?}");
            match output {
                server::Output::Transmit(b) => {
                    self.wire.sent("the server", &b);
                    bytes += b.len();
                    self.written.extend_from_slice(&b);
                }
                server::Output::StartTls => {
                    let _ = self.server.tls_established(self.now, tls_info());
                }
                server::Output::Event(event) => self.event(event),
                server::Output::Closed(reason) => self.closed = Some(reason),
                other => panic!("unexpected output {other:?}"),
            }
        }
        let allowance = self.parked_unacked * 256;
        assert!(
            bytes <= LONE_MAX_OUTBOUND + OUTBOUND_SLACK + allowance,
            "{bytes} bytes waited in the server's output"
        );
        if self.closed.is_some() {
            assert!(self.server.is_closed());
            assert_eq!(self.server.poll_timeout(), None, "a closed server's timer");
        }
    }

    fn event(&mut self, event: server::Event) {
        match event {
            server::Event::Header { .. } => {
                let _ = self.server.accept(self.now, self.accept.clone());
            }
            server::Event::Bind { requested } => {
                let jid = requested
                    .filter(|r| !r.is_empty())
                    .and_then(|r| FullJid::new(Some("juliet"), "example.com", &r).ok())
                    .unwrap_or_else(juliet);
                let _ = self.server.complete_bind(self.now, Ok(jid));
            }
            server::Event::Resume { previd, h } => {
                let state = self.parked.take_if(|_| previd == PARKED_ID);
                let Some(state) = state else {
                    let _ = self.server.complete_resume(self.now, None);
                    return;
                };
                let newly = h.wrapping_sub(state.outbound_acked) as usize;
                let too_high = newly > state.unacked.len();
                let inbound = state.inbound;
                let sent = state
                    .outbound_acked
                    .wrapping_add(state.unacked.len() as u32);
                let result = self.server.complete_resume(self.now, Some(state));
                if too_high {
                    // XEP-0198 section 4: undefined-condition.
                    assert!(
                        matches!(result, Err(ServerError::Sm(SmError::AckTooHigh { .. }))),
                        "{result:?}"
                    );
                    self.too_high_acks += 1;
                    self.expect_undefined_condition(false);
                } else {
                    assert_eq!(result, Ok(()));
                    let (id, c) = self.server.sm_counters().unwrap();
                    assert_eq!(id, PARKED_ID);
                    assert_eq!((c.handled, c.sent, c.acked), (inbound, sent, h));
                    self.handled_base = Some(inbound);
                    self.stanzas_fed = 0;
                }
            }
            server::Event::Online { .. } => self.ever_online = true,
            server::Event::Stanza(_) => self.unconfirmed += 1,
            server::Event::Authenticated { .. } | server::Event::Acked(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    }

    /// The stream ended with XEP-0198's `undefined-condition` on the wire
    /// (unless our closing tag was out before: then nothing may follow).
    fn expect_undefined_condition(&mut self, closed_before: bool) {
        self.drain();
        assert!(self.closed.is_some(), "an ack too high is fatal");
        let written = String::from_utf8_lossy(&self.written);
        let error = "<undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>";
        assert_eq!(written.contains(error), !closed_before, "{written}");
    }

    fn xml(&self, frag: &Frag) -> Vec<u8> {
        let acked = self.server.sm_counters().map_or(0, |(_, c)| c.acked);
        let resolve = |h: AckH, base: u32| match h {
            AckH::Abs(h) => h,
            AckH::Rel(delta) => base.wrapping_add_signed(i32::from(delta)),
        };
        let parked_acked = self.parked.as_ref().map_or(0, |p| p.outbound_acked);
        let text = match frag {
            Frag::Header(v) => header_xml(*v),
            Frag::StartTls => "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_owned(),
            Frag::Auth { good } => format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
                plain(if *good { PASSWORD } else { "wrong" })
            ),
            Frag::AuthNotBase64 => {
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!</auth>"
                    .to_owned()
            }
            Frag::Abort => "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_owned(),
            Frag::Bind => "<iq xmlns='jabber:client' type='set' id='b1'><bind \
                 xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>"
                .to_owned(),
            Frag::Session => "<iq xmlns='jabber:client' type='set' id='s1'><session \
                 xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
                .to_owned(),
            Frag::Enable => "<enable xmlns='urn:xmpp:sm:3' resume='true'/>".to_owned(),
            Frag::R => "<r xmlns='urn:xmpp:sm:3'/>".to_owned(),
            Frag::A(h) => format!("<a xmlns='urn:xmpp:sm:3' h='{}'/>", resolve(*h, acked)),
            Frag::Resume { known, h } => format!(
                "<resume xmlns='urn:xmpp:sm:3' previd='{}' h='{}'/>",
                if *known { PARKED_ID } else { "unknown" },
                resolve(*h, parked_acked)
            ),
            Frag::Message(n) => format!(
                "<message xmlns='jabber:client' to='romeo@example.net' type='chat'>\
                 <body>m{n}</body></message>"
            ),
            Frag::SpoofedMessage => "<message xmlns='jabber:client' from='mallory@evil.example/x' \
                 to='romeo@example.net'><body>hi</body></message>"
                .to_owned(),
            Frag::Presence => "<presence xmlns='jabber:client'/>".to_owned(),
            Frag::BadIq => "<iq xmlns='jabber:client' type='get' id='q1'/>".to_owned(),
            Frag::Close => "</stream:stream>".to_owned(),
            Frag::WsClose => "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".to_owned(),
            Frag::Odd(i) => ODD[usize::from(*i)].to_owned(),
            Frag::Bytes(bytes) => return bytes.clone(),
        };
        text.into_bytes()
    }

    fn feed(&mut self, frag: &Frag, chunk: usize) {
        let bytes = self.xml(frag);
        // Whether this is an `<a/>` the server must take as one: the
        // parser is at the top level of an open, managed stream.
        let expect_ack = match frag {
            Frag::A(_) if !self.tainted && !self.server.is_closed() => {
                self.server.sm_counters().map(|(_, c)| {
                    let h: u32 = std::str::from_utf8(&bytes)
                        .unwrap()
                        .split('\'')
                        .nth(3)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let outstanding = c.sent.wrapping_sub(c.acked);
                    (h, h.wrapping_sub(c.acked) > outstanding)
                })
            }
            _ => None,
        };
        if !frag.clean() && !matches!(frag, Frag::Header(_)) {
            self.tainted = true;
        }
        let closed_before = self.wire.closed;
        if frag.is_stanza() {
            self.stanzas_fed += 1;
        }
        for piece in bytes.chunks(chunk.max(1)) {
            let _ = self.server.handle_input(self.now, piece);
            self.drain();
        }
        if let Frag::Header(_) = frag {
            let answered = find(&self.written, b"<stream:stream").is_some()
                || find(&self.written, b"<open ").is_some();
            if !answered {
                self.tainted = true;
            }
        }
        if let Some((h, too_high)) = expect_ack {
            if too_high {
                assert!(
                    matches!(
                        &self.closed,
                        Some(server::CloseReason::Error(ServerError::Sent(e)))
                            if e.condition == StreamErrorCondition::UndefinedCondition
                    ),
                    "an <a h='{h}'/> too high: {:?}",
                    self.closed
                );
                self.too_high_acks += 1;
                self.expect_undefined_condition(closed_before);
            } else {
                let acked = self.server.sm_counters().map(|(_, c)| c.acked);
                assert_eq!(acked, Some(h), "the ack is taken");
            }
        }
    }

    fn step(&mut self, op: &LoneOp) {
        self.written.clear();
        match op {
            LoneOp::Feed(frag, chunk) => self.feed(frag, *chunk),
            LoneOp::Advance(ms) => {
                let target = self.now + Duration::from_millis(*ms);
                for _ in 0..1000 {
                    let Some(next) = self.server.poll_timeout().filter(|t| *t <= target) else {
                        break;
                    };
                    self.now = self.now.max(next);
                    self.server.handle_timeout(self.now);
                    self.drain();
                    assert!(
                        self.server.poll_timeout().is_none_or(|t| t > self.now),
                        "the server still asks for a timeout it was just given"
                    );
                }
                self.now = target;
            }
            LoneOp::ServerSend(count) => {
                for i in 0..*count {
                    let to: Jid = juliet().into();
                    let body = format!("s{i} {}", "y".repeat(100));
                    let _ = self.server.send(self.now, Message::chat(to, body));
                }
                self.drain();
            }
            LoneOp::ServerClose => {
                self.server.close(self.now);
                self.drain();
            }
            LoneOp::Confirm(n) => {
                for _ in 0..(*n).min(u8::try_from(self.unconfirmed).unwrap_or(u8::MAX)) {
                    self.server.confirm_stanza();
                    self.unconfirmed -= 1;
                }
                self.drain();
            }
            LoneOp::Eof => {
                self.server.handle_eof(self.now);
                self.drain();
            }
        }
        self.check();
    }

    fn check(&mut self) {
        if let Some((_, c)) = self.server.sm_counters() {
            let max = LONE_MAX_UNACKED.max(self.parked_unacked);
            assert!(c.sent.wrapping_sub(c.acked) as usize <= max, "{c:?}");
            // Counting starts at <enable/> (stanzas fed before do not count,
            // which only loosens the bound), or at the resumed count.
            let base = *self.handled_base.get_or_insert(0);
            assert!(
                c.handled.wrapping_sub(base) <= self.stanzas_fed,
                "handled {} stanzas of {} fed",
                c.handled.wrapping_sub(base),
                self.stanzas_fed
            );
        }
        if !self.ever_online {
            let deadline = self.start + LONE_NEGOTIATION;
            if self.now >= deadline {
                assert!(
                    self.server.is_closed(),
                    "negotiating past the deadline: {:?}",
                    self.closed
                );
            } else if !self.server.is_closed() {
                assert!(
                    self.server.poll_timeout().is_some_and(|t| t <= deadline),
                    "no timer for the negotiation deadline"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The server against a hostile client: it never panics, never writes
    /// after its close, keeps its buffers bounded, ends an ack too high with
    /// `undefined-condition`, and never negotiates past its deadline.
    #[test]
    fn the_server_survives_a_hostile_client(
        confirm in any::<bool>(),
        (direct_tls, prelude) in any::<bool>().prop_flat_map(|d| (Just(d), prelude(d))),
        parked in (any::<u32>(), prop_oneof![Just(u32::MAX - 1), any::<u32>()], 0u8..5),
        ops in proptest::collection::vec(lone_op(), 1..80),
    ) {
        let mut lone = Lone::new(confirm, direct_tls, parked);
        for op in prelude.iter().chain(&ops) {
            lone.step(op);
        }
    }
}

// ---- 3. the component roles against each other ----------------------------

const COMPONENT: &str = "gw.example.com";
const SECRET: &str = "s3cr3t";
const COMPONENT_MAX_QUEUED: usize = 1500;

#[derive(Debug, Clone)]
enum CompOp {
    /// Deliver up to this many bytes from the component to the server.
    ToServer(usize),
    /// Deliver up to this many bytes from the server to the component.
    ToComponent(usize),
    Pump,
    Advance(u64),
    ComponentSend {
        count: u8,
        pad: u8,
    },
    ServerSend {
        count: u8,
        pad: u8,
    },
    ComponentClose,
    ServerClose,
    ComponentEof,
    ServerEof,
    /// The wire is cut; a new connection follows, the server answering the
    /// component with the right secret or not.
    Cut {
        wrong_secret: bool,
    },
}

fn comp_op() -> impl Strategy<Value = CompOp> {
    prop_oneof![
        8 => (1usize..400).prop_map(CompOp::ToServer),
        8 => (1usize..400).prop_map(CompOp::ToComponent),
        6 => Just(CompOp::Pump),
        3 => advance_ms().prop_map(CompOp::Advance),
        5 => (1u8..8, 0u8..200).prop_map(|(count, pad)| CompOp::ComponentSend { count, pad }),
        5 => (1u8..8, 0u8..200).prop_map(|(count, pad)| CompOp::ServerSend { count, pad }),
        1 => Just(CompOp::ComponentClose),
        1 => Just(CompOp::ServerClose),
        1 => Just(CompOp::ComponentEof),
        1 => Just(CompOp::ServerEof),
        2 => prop_oneof![3 => Just(false), 1 => Just(true)]
            .prop_map(|wrong_secret| CompOp::Cut { wrong_secret }),
    ]
}

/// One side of the component stream, as its application sees it.
#[derive(Default)]
struct CompSide {
    wire: Wire,
    closed: Option<component::CloseReason>,
    online: bool,
    /// Messages `send` accepted, and messages received, by index.
    sent: Vec<u64>,
    got: Vec<u64>,
    /// The application closed it or its input ended.
    ended: bool,
}

impl CompSide {
    fn drain(
        &mut self,
        who: &str,
        connection: &mut ComponentConnection,
        prefix: char,
        wire: &mut VecDeque<u8>,
    ) -> Vec<component::Event> {
        let mut events = Vec::new();
        let mut bytes = 0;
        while let Some(output) = connection.poll_output() {
            assert!(
                self.closed.is_none(),
                "{who}: output after Closed: {output:?}"
            );
            match output {
                component::Output::Transmit(b) => {
                    self.wire.sent(who, &b);
                    bytes += b.len();
                    wire.extend(b.iter());
                }
                component::Output::Event(component::Event::Online { domain }) => {
                    assert_eq!(domain, COMPONENT);
                    self.online = true;
                }
                component::Output::Event(component::Event::Stanza(Stanza::Message(m))) => {
                    let idx = m.body().and_then(|b| index_of(b, prefix)).expect("ours");
                    self.got.push(idx);
                }
                component::Output::Event(event) => events.push(event),
                component::Output::Closed(reason) => self.closed = Some(reason),
                other => panic!("{who}: unexpected output {other:?}"),
            }
        }
        assert!(
            bytes <= COMPONENT_MAX_QUEUED + OUTBOUND_SLACK,
            "{who}: {bytes} bytes waited"
        );
        if self.closed.is_some() {
            assert!(connection.is_closed());
            assert_eq!(
                connection.poll_timeout(),
                None,
                "{who}: a timer after Closed"
            );
        }
        events
    }
}

struct CompWorld {
    now: Instant,
    conn: u32,
    wrong_secret: bool,
    component: ComponentConnection,
    server: ComponentConnection,
    c2s: VecDeque<u8>,
    s2c: VecDeque<u8>,
    c: CompSide,
    s: CompSide,
    next: u64,
    connections: usize,
    online_connections: usize,
}

impl CompWorld {
    fn new(wrong_secret: bool) -> Self {
        let now = Instant::now();
        let mut world = Self {
            now,
            conn: 0,
            wrong_secret,
            component: ComponentConnection::accept(component::AcceptConfig::new([0; 32]), now),
            server: ComponentConnection::accept(component::AcceptConfig::new([0; 32]), now),
            c2s: VecDeque::new(),
            s2c: VecDeque::new(),
            c: CompSide::default(),
            s: CompSide::default(),
            next: 0,
            connections: 0,
            online_connections: 0,
        };
        world.connect(wrong_secret);
        world
    }

    fn connect(&mut self, wrong_secret: bool) {
        let n = self.conn;
        self.conn += 1;
        let mut config = ComponentConfig::new(COMPONENT, SECRET, seed(3, n));
        config.negotiation_timeout = Duration::from_secs(10);
        config.keepalive_interval = Duration::from_secs(5);
        config.idle_timeout = Duration::from_secs(20);
        config.close_timeout = Duration::from_secs(3);
        config.max_queued = COMPONENT_MAX_QUEUED;
        let mut accept = component::AcceptConfig::new(seed(4, n));
        accept.negotiation_timeout = Duration::from_secs(10);
        accept.keepalive_interval = Duration::from_secs(5);
        accept.idle_timeout = Duration::from_secs(20);
        accept.close_timeout = Duration::from_secs(3);
        accept.max_queued = COMPONENT_MAX_QUEUED;
        self.component = ComponentConnection::connect(config, self.now);
        self.server = ComponentConnection::accept(accept, self.now);
        self.wrong_secret = wrong_secret;
        self.c2s.clear();
        self.s2c.clear();
        self.c = CompSide::default();
        self.s = CompSide::default();
        self.connections += 1;
        self.drain();
    }

    fn drain(&mut self) {
        let events = self
            .c
            .drain("the component", &mut self.component, 'v', &mut self.c2s);
        assert!(events.is_empty(), "{events:?}");
        for event in self
            .s
            .drain("the server", &mut self.server, 'k', &mut self.s2c)
        {
            let component::Event::Connecting { domain } = event else {
                panic!("unexpected {event:?}");
            };
            assert_eq!(domain, COMPONENT);
            let secret = if self.wrong_secret { "wrong" } else { SECRET };
            let result = self.server.accept_component(self.now, secret);
            // The component may have closed in the same read as its header.
            assert!(result.is_ok() || self.server.is_closed(), "{result:?}");
            self.s
                .drain("the server", &mut self.server, 'k', &mut self.s2c);
        }
        self.check();
    }

    /// Checks both sides after a step.
    fn check(&self) {
        if self.wrong_secret {
            assert!(!self.c.online && !self.s.online, "a wrong secret let it in");
            assert!(self.c.got.is_empty() && self.s.got.is_empty());
        }
        // The wire is reliable and ordered: each side received a prefix of
        // what the other's `send` accepted, once each.
        for (got, sent, who) in [
            (&self.s.got, &self.c.sent, "the server"),
            (&self.c.got, &self.s.sent, "the component"),
        ] {
            assert!(
                sent.starts_with(got),
                "{who} received {got:?} of {sent:?}: lost, duplicated or reordered"
            );
        }
        for (side, who) in [(&self.c, "component"), (&self.s, "server")] {
            if let Some(reason) = &side.closed {
                assert!(
                    comp_reason_ok(reason, self.wrong_secret),
                    "the {who} closed: {reason:?}"
                );
            }
        }
    }

    fn send(&mut self, from_component: bool, count: u8, pad: u8) {
        for _ in 0..count {
            let idx = self.next;
            self.next += 1;
            let (connection, side, message) = if from_component {
                let to: Jid = "juliet@example.com".parse().unwrap();
                let from: Jid = format!("bot@{COMPONENT}").parse().unwrap();
                let m = Message::chat(to, body('k', idx, pad)).with_from(from);
                (&mut self.component, &mut self.c, m)
            } else {
                let to: Jid = format!("bot@{COMPONENT}").parse().unwrap();
                let from: Jid = "juliet@example.com/x".parse().unwrap();
                let m = Message::chat(to, body('v', idx, pad)).with_from(from);
                (&mut self.server, &mut self.s, m)
            };
            if connection.send(self.now, message).is_ok() {
                side.sent.push(idx);
            }
        }
        self.drain();
    }

    fn deliver_c2s(&mut self, k: usize) -> bool {
        let bytes = take_front(&mut self.c2s, k);
        if bytes.is_empty() {
            return false;
        }
        let _ = self.server.handle_input(self.now, &bytes);
        self.drain();
        true
    }

    fn deliver_s2c(&mut self, k: usize) -> bool {
        let bytes = take_front(&mut self.s2c, k);
        if bytes.is_empty() {
            return false;
        }
        let _ = self.component.handle_input(self.now, &bytes);
        self.drain();
        true
    }

    fn pump(&mut self) {
        for _ in 0..1000 {
            if !(self.deliver_c2s(usize::MAX) | self.deliver_s2c(usize::MAX)) {
                return;
            }
        }
        panic!("the component pair does not settle");
    }

    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        for _ in 0..1000 {
            let next = [self.component.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|next| *next <= target) else {
                self.now = target;
                return;
            };
            self.now = self.now.max(next);
            self.component.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.drain();
            for timeout in [self.component.poll_timeout(), self.server.poll_timeout()] {
                assert!(
                    timeout.is_none_or(|t| t > self.now),
                    "a timeout just handled is asked for again"
                );
            }
        }
        panic!("timers do not settle");
    }

    fn step(&mut self, op: &CompOp) {
        match *op {
            CompOp::ToServer(k) => {
                self.deliver_c2s(k);
            }
            CompOp::ToComponent(k) => {
                self.deliver_s2c(k);
            }
            CompOp::Pump => self.pump(),
            CompOp::Advance(ms) => self.advance(Duration::from_millis(ms)),
            CompOp::ComponentSend { count, pad } => self.send(true, count, pad),
            CompOp::ServerSend { count, pad } => self.send(false, count, pad),
            CompOp::ComponentClose => {
                self.c.ended = true;
                self.component.close(self.now);
                self.drain();
            }
            CompOp::ServerClose => {
                self.s.ended = true;
                self.server.close(self.now);
                self.drain();
            }
            CompOp::ComponentEof => {
                self.c.ended = true;
                self.component.handle_eof(self.now);
                self.drain();
            }
            CompOp::ServerEof => {
                self.s.ended = true;
                self.server.handle_eof(self.now);
                self.drain();
            }
            CompOp::Cut { wrong_secret } => {
                self.c2s.clear();
                self.s2c.clear();
                self.component.handle_eof(self.now);
                self.server.handle_eof(self.now);
                self.drain();
                self.online_connections += usize::from(self.c.online);
                self.connect(wrong_secret);
            }
        }
    }

    /// With neither side ended, running the wire to quiescence brings the
    /// stream online (right secret: every message accepted is delivered)
    /// or refuses it (wrong secret).
    fn finish(&mut self) {
        self.pump();
        let untouched =
            !self.c.ended && !self.s.ended && self.c.closed.is_none() && self.s.closed.is_none();
        if !untouched {
            return;
        }
        if self.wrong_secret {
            for side in [&self.c, &self.s] {
                assert_eq!(
                    side.closed,
                    Some(component::CloseReason::Error(
                        ComponentError::HandshakeFailed
                    ))
                );
            }
        } else {
            assert!(self.c.online && self.s.online);
            assert_eq!(self.s.got, self.c.sent);
            assert_eq!(self.c.got, self.s.sent);
        }
    }
}

/// How a component stream between honest peers may end.
fn comp_reason_ok(reason: &component::CloseReason, wrong_secret: bool) -> bool {
    match reason {
        component::CloseReason::Closed | component::CloseReason::PeerClosed => true,
        component::CloseReason::Error(e) => match e {
            ComponentError::Eof | ComponentError::Timeout(_) => true,
            ComponentError::HandshakeFailed => wrong_secret,
            ComponentError::StreamError(e) | ComponentError::StreamErrorSent(e) => {
                e.condition == StreamErrorCondition::ConnectionTimeout
            }
            // A component that closed while waiting for the answer to its
            // handshake reports the refusal as a rejection.
            ComponentError::Rejected(condition) => {
                *condition == StreamErrorCondition::ConnectionTimeout
                    || wrong_secret && *condition == StreamErrorCondition::NotAuthorized
            }
            _ => false,
        },
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The component machine in both roles: nothing after `Closed`, bounded
    /// buffers, messages in order while connected, a wrong secret always
    /// refused.
    #[test]
    fn component_roles_deliver_in_order_and_refuse_a_wrong_secret(
        wrong_secret in prop_oneof![3 => Just(false), 1 => Just(true)],
        ops in proptest::collection::vec(comp_op(), 1..100),
    ) {
        let mut world = CompWorld::new(wrong_secret);
        for op in &ops {
            world.step(op);
        }
        world.finish();
    }
}

// ---- regressions: cases the properties found, shrunk ------------------------

fn send(count: u8) -> PairOp {
    PairOp::ClientSend { count, pad: 0 }
}

/// The client closed before the server's header came: it took that header
/// for "a second stream header" and wrote a stream error after its closing
/// tag.
#[test]
fn regression_a_client_closing_during_negotiation_ends_cleanly() {
    let mut world = PairWorld::new(false, false);
    world.step(&PairOp::ClientClose);
    world.step(&PairOp::Pump);
    assert_eq!(world.client_closed, Some(client::CloseReason::Closed));
    assert_eq!(world.server_closed, Some(server::CloseReason::PeerClosed));
    run_pair(false, false, &[PairOp::ClientClose]);
}

/// The server closed before the client's header came: it wrote a bare
/// `</stream:stream>` (no stream was open), then answered the client's
/// header with a stream error after its closing tag.
#[test]
fn regression_a_server_closing_before_the_header_opens_its_stream_first() {
    let mut world = PairWorld::new(false, false);
    world.step(&PairOp::ServerClose);
    world.step(&PairOp::Pump);
    assert_eq!(world.client_closed, Some(client::CloseReason::PeerClosed));
    assert_eq!(world.server_closed, Some(server::CloseReason::Closed));
    run_pair(true, false, &[PairOp::ServerClose]);
}

/// While resuming, `send` did not count the session's unacknowledged
/// stanzas: once resumed, the queue did not fit, the rest stayed queued
/// for good, and later stanzas overtook them.
#[test]
fn regression_sends_while_resuming_stay_within_max_unacked() {
    let ops = [
        PairOp::Pump,
        send(3),
        PairOp::Cut,
        PairOp::ToServer(1),
        send(1),
        send(1),
        send(2),
    ];
    let world = run_pair(false, false, &ops);
    assert_eq!(world.c_acked, CLIENT_MAX_UNACKED);
    assert_eq!(world.server_got, [0, 1, 2, 3, 4, 5]);
}

/// A connection cut while it was itself resuming gave back no resume
/// state: the session and its unacknowledged stanzas were lost without a
/// word.
#[test]
fn regression_a_resumption_cut_short_hands_the_session_on() {
    let ops = [
        PairOp::Pump,
        send(2),
        PairOp::ServerSend { count: 2, pad: 0 },
        PairOp::Cut,
        PairOp::ToServer(1),
        PairOp::Cut,
    ];
    let world = run_pair(false, false, &ops);
    assert_eq!(world.c_lost, 0);
    assert_eq!(world.server_got, [0, 1]);
    assert_eq!(world.client_got, [0, 1]);
    assert_eq!((world.c_acked, world.s_acked), (2, 2));
    assert_eq!(world.resumed, 1);
}

/// With `confirm_stanzas`, an `<r/>` answered once the stanzas are
/// confirmed was answered after the server's closing tag.
#[test]
fn regression_an_owed_ack_is_not_written_after_the_servers_close() {
    let ops = [
        send(3),
        PairOp::Pump,
        PairOp::ServerClose,
        PairOp::Advance(0),
        PairOp::Confirm(3),
    ];
    run_pair(false, true, &ops);
}

/// A malformed `<a/>` after the server's close was answered with
/// `<failed/>` after its closing tag.
#[test]
fn regression_the_server_writes_nothing_after_its_closing_tag() {
    let mut ops = vec![
        Frag::Header(0),
        Frag::StartTls,
        Frag::Header(0),
        Frag::Auth { good: true },
        Frag::Header(0),
        Frag::Bind,
        Frag::Enable,
    ]
    .into_iter()
    .map(|frag| LoneOp::Feed(frag, 1))
    .collect::<Vec<_>>();
    ops.push(LoneOp::ServerClose);
    ops.push(LoneOp::Feed(Frag::Odd(10), 1));
    let mut lone = Lone::new(false, false, (0, u32::MAX - 1, 0));
    for op in &ops {
        lone.step(op);
    }
    assert!(lone.ever_online && lone.wire.closed);
}

/// The same for the client, against a server that goes on after the
/// client's close with something that is not a stanza: the client ends
/// without writing a stream error after its closing tag.
#[test]
fn regression_the_client_writes_nothing_after_its_closing_tag() {
    let mut world = PairWorld::new(false, false);
    world.step(&PairOp::Pump);
    assert!(world.client.is_online());
    world.client.close(world.now);
    let mut written = Vec::new();
    while let Some(output) = world.client.poll_output() {
        if let client::Output::Transmit(bytes) = output {
            written.extend_from_slice(&bytes);
        }
    }
    assert!(written.ends_with(b"</stream:stream>"));
    let _ = world
        .client
        .handle_input(world.now, b"<bogus xmlns='urn:example'/>");
    let mut outputs = Vec::new();
    while let Some(output) = world.client.poll_output() {
        outputs.push(output);
    }
    assert!(
        matches!(
            outputs.as_slice(),
            [client::Output::Closed(client::CloseReason::Error(
                ConnectionError::Protocol(_)
            ))]
        ),
        "{outputs:?}"
    );
}
