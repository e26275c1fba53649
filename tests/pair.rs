//! Our client against our server, in memory: a `Pair` in the style of
//! quinn's test pair. Two sans-IO machines joined by byte queues, a
//! simulated clock that jumps to the earliest timeout, a fake TLS that just
//! calls `tls_established` on both sides with the same channel-binding
//! data, and a hook to cut the wire after a number of bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_kit::client::{
    self, ClientConfig, ClientConnection, ConnectionError, ResumeState, TlsInfo, TlsMode,
};
use xmpp_kit::jid::FullJid;
use xmpp_kit::sasl::{
    ChannelBinding, ChannelBindingType, Mechanism, ScramCredentials, ScramHash, ServerCredentials,
};
use xmpp_kit::server::{
    self, AcceptConfig, ListenConfig, ServerConnection, ServerError, TlsPolicy,
};
use xmpp_kit::stanza::{DefinedCondition, Message, Stanza};
use xmpp_kit::stream::StreamErrorCondition;

/// Accounts stored as SCRAM credentials only (never the password).
struct Store {
    users: HashMap<String, Vec<ScramCredentials>>,
    anonymous: bool,
    external: Option<String>,
}

impl Store {
    fn new() -> Self {
        let mut users = HashMap::new();
        users.insert(
            "juliet".to_owned(),
            [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .map(|h| ScramCredentials::derive(h, "r0m30myr0m30", b"salt-of-juliet", 4096))
                .collect(),
        );
        Self {
            users,
            anonymous: false,
            external: None,
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
        self.external.clone()
    }
    fn anonymous(&self) -> bool {
        self.anonymous
    }
}

type BindPolicy = Box<dyn FnMut(Option<String>) -> Result<FullJid, DefinedCondition>>;
type Tamper = Box<dyn FnMut(&str) -> String>;

struct Pair {
    now: Instant,
    client: ClientConnection,
    server: ServerConnection,
    accept: AcceptConfig,
    bind: BindPolicy,
    /// The server's stored sessions, for resumption.
    sessions: HashMap<String, ResumeState>,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    client_tls: bool,
    server_tls: bool,
    client_events: Vec<client::Event>,
    server_events: Vec<server::Event>,
    client_closed: Option<client::CloseReason>,
    server_closed: Option<server::CloseReason>,
    /// Bytes that may still cross the wire in each direction (the cut).
    budget: Option<(usize, usize)>,
    /// Stop the server from reading its output (a client that stops reading).
    server_stalled: bool,
    /// Rewrites server-to-client bytes in flight (a man in the middle).
    tamper_s2c: Option<Tamper>,
}

fn tls_info() -> TlsInfo {
    TlsInfo {
        channel_bindings: vec![ChannelBinding {
            kind: ChannelBindingType::TlsExporter,
            data: b"the same exporter bytes on both ends".to_vec(),
        }],
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        "juliet@example.com/balcony".parse().unwrap(),
        "r0m30myr0m30",
        [9; 32],
    )
}

fn accept_config(store: Store) -> AcceptConfig {
    AcceptConfig::new("example.com", Arc::new(store))
}

/// The default accounts, derived once (PBKDF2 is slow in debug builds).
fn shared_accept() -> AcceptConfig {
    static STORE: std::sync::OnceLock<Arc<Store>> = std::sync::OnceLock::new();
    let store = STORE.get_or_init(|| Arc::new(Store::new())).clone();
    AcceptConfig::new("example.com", store)
}

impl Pair {
    fn new(client: ClientConnection, accept: AcceptConfig, now: Instant) -> Self {
        Self {
            now,
            client,
            server: ServerConnection::new(ListenConfig::new([3; 32]), now),
            accept,
            bind: Box::new(|requested| {
                Ok(format!(
                    "juliet@example.com/{}",
                    requested.unwrap_or_else(|| "generated".into())
                )
                .parse()
                .unwrap())
            }),
            sessions: HashMap::new(),
            c2s: Vec::new(),
            s2c: Vec::new(),
            client_tls: false,
            server_tls: false,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_closed: None,
            server_closed: None,
            budget: None,
            server_stalled: false,
            tamper_s2c: None,
        }
    }

    fn default_pair() -> Self {
        let now = Instant::now();
        Self::new(
            ClientConnection::new(client_config(), now),
            shared_accept(),
            now,
        )
    }

    fn drain_client(&mut self) -> bool {
        let mut any = false;
        while let Some(o) = self.client.poll_output() {
            any = true;
            match o {
                client::Output::Transmit(b) => self.c2s.extend_from_slice(&b),
                client::Output::StartTls => self.client_tls = true,
                client::Output::Event(e) => self.client_events.push(e),
                client::Output::Closed(r) => self.client_closed = Some(r),
                other => panic!("{other:?}"),
            }
        }
        any
    }

    fn drain_server(&mut self) -> bool {
        if self.server_stalled {
            return false;
        }
        let mut any = false;
        while let Some(o) = self.server.poll_output() {
            any = true;
            match o {
                server::Output::Transmit(b) => self.s2c.extend_from_slice(&b),
                server::Output::StartTls => self.server_tls = true,
                server::Output::Event(e) => {
                    match &e {
                        server::Event::Header { .. } => {
                            self.server.accept(self.now, self.accept.clone()).unwrap();
                        }
                        server::Event::Bind { requested } => {
                            let result = (self.bind)(requested.clone());
                            self.server.complete_bind(self.now, result).unwrap();
                        }
                        server::Event::Resume { previd, .. } => {
                            let state = self.sessions.remove(previd);
                            self.server.complete_resume(self.now, state).unwrap();
                        }
                        _ => {}
                    }
                    self.server_events.push(e);
                }
                server::Output::Closed(r) => self.server_closed = Some(r),
                other => panic!("{other:?}"),
            }
        }
        any
    }

    /// Moves bytes until neither side has anything to say.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut progress = self.drain_client() | self.drain_server();
            if self.client_tls && self.server_tls && self.c2s.is_empty() && self.s2c.is_empty() {
                self.client_tls = false;
                self.server_tls = false;
                let _ = self.server.tls_established(self.now, tls_info());
                let _ = self.client.tls_established(self.now, tls_info());
                progress = true;
            }
            if !self.c2s.is_empty() {
                let mut bytes = std::mem::take(&mut self.c2s);
                if let Some((c2s, _)) = &mut self.budget {
                    bytes.truncate(*c2s);
                    *c2s -= bytes.len();
                }
                if !bytes.is_empty() {
                    let _ = self.server.handle_input(self.now, &bytes);
                    progress = true;
                }
            }
            if !self.s2c.is_empty() {
                let mut bytes = std::mem::take(&mut self.s2c);
                if let Some(tamper) = &mut self.tamper_s2c {
                    bytes = tamper(std::str::from_utf8(&bytes).unwrap()).into_bytes();
                }
                if let Some((_, s2c)) = &mut self.budget {
                    bytes.truncate(*s2c);
                    *s2c -= bytes.len();
                }
                if !bytes.is_empty() {
                    let _ = self.client.handle_input(self.now, &bytes);
                    progress = true;
                }
            }
            if !progress {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Jumps the clock to the earliest timeout and handles it.
    fn step_time(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.run();
        true
    }

    fn client_online(&self) -> Option<(String, bool)> {
        self.client_events.iter().find_map(|e| match e {
            client::Event::Online { jid, resumed } => Some((jid.to_string(), *resumed)),
            _ => None,
        })
    }

    fn server_stanzas(&self) -> Vec<String> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                server::Event::Stanza(Stanza::Message(m)) => m.body().map(str::to_owned),
                _ => None,
            })
            .collect()
    }

    fn client_stanzas(&self) -> Vec<String> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                client::Event::Stanza(Stanza::Message(m)) => m.body().map(str::to_owned),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn every_password_mechanism_end_to_end() {
    for mechanism in [
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ] {
        let mut accept = shared_accept();
        accept.mechanisms = vec![mechanism];
        let now = Instant::now();
        let mut pair = Pair::new(ClientConnection::new(client_config(), now), accept, now);
        pair.run();
        assert_eq!(
            pair.client_online(),
            Some(("juliet@example.com/balcony".into(), false)),
            "{mechanism}"
        );
        assert!(pair.server.is_online(), "{mechanism}");
        assert_eq!(pair.server.username(), Some("juliet"));
    }
}

#[test]
fn anonymous_and_external_end_to_end() {
    let now = Instant::now();
    let mut store = Store::new();
    store.anonymous = true;
    let mut accept = accept_config(store);
    accept.mechanisms = vec![Mechanism::Anonymous];
    let mut config = ClientConfig::new("example.com".parse().unwrap(), "", [9; 32]);
    config.sasl.use_anonymous = true;
    let mut pair = Pair::new(ClientConnection::new(config, now), accept, now);
    pair.run();
    assert!(pair.client_online().is_some(), "{:?}", pair.client_closed);

    let mut store = Store::new();
    store.external = Some("juliet".into());
    let mut accept = accept_config(store);
    accept.mechanisms = vec![Mechanism::External];
    let mut config = client_config();
    config.sasl.use_external = true;
    let mut pair = Pair::new(ClientConnection::new(config, now), accept, now);
    pair.run();
    assert!(pair.client_online().is_some(), "{:?}", pair.client_closed);
    assert_eq!(pair.server.username(), Some("juliet"));
}

#[test]
fn wrong_password_and_unknown_user_fail_the_same_way_and_finally() {
    let mut errors = Vec::new();
    for (jid, password) in [
        ("juliet@example.com", "wrong"),
        ("nobody@example.com", "r0m30myr0m30"),
    ] {
        let now = Instant::now();
        let config = ClientConfig::new(jid.parse().unwrap(), password, [9; 32]);
        let mut pair = Pair::new(ClientConnection::new(config, now), shared_accept(), now);
        pair.run();
        let Some(client::CloseReason::Error(ConnectionError::AuthenticationFailed(failure))) =
            &pair.client_closed
        else {
            panic!("{:?}", pair.client_closed)
        };
        errors.push(failure.clone());
        assert!(pair.client.poll_timeout().is_none(), "no retry");
        assert!(!pair.server.is_online());
    }
    assert_eq!(
        errors[0], errors[1],
        "an unknown user is not told apart from a wrong password"
    );
}

#[test]
fn mechanism_mismatch_is_a_clear_error() {
    let mut accept = shared_accept();
    accept.mechanisms = vec![Mechanism::ScramSha512];
    let mut config = client_config();
    config.sasl.disabled = vec![Mechanism::ScramSha512];
    let now = Instant::now();
    let mut pair = Pair::new(ClientConnection::new(config, now), accept, now);
    pair.run();
    assert!(matches!(
        pair.client_closed,
        Some(client::CloseReason::Error(ConnectionError::Sasl(_)))
    ));
}

#[test]
fn a_bind_conflict_is_refused_by_the_application() {
    let mut pair = Pair::default_pair();
    pair.bind = Box::new(|_| Err(DefinedCondition::Conflict));
    pair.run();
    let Some(client::CloseReason::Error(ConnectionError::BindFailed(why))) = &pair.client_closed
    else {
        panic!("{:?}", pair.client_closed)
    };
    assert!(why.contains("conflict"), "{why}");
}

#[test]
fn stream_management_enable_ack_and_from_stamping() {
    let mut pair = Pair::default_pair();
    pair.run();
    assert!(pair.client.stream_management());
    let mut tokens = Vec::new();
    for i in 0..6 {
        // The client claims to be someone else; the server stamps the truth.
        let m = Message::chat("romeo@example.net".parse().unwrap(), format!("m{i}"))
            .with_from("mallory@evil.example/x".parse().unwrap());
        tokens.push(pair.client.send(pair.now, m).unwrap());
    }
    pair.run();
    assert_eq!(
        pair.server_stanzas(),
        (0..6).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let stamped = pair.server_events.iter().find_map(|e| match e {
        server::Event::Stanza(s) => s.sender().map(ToString::to_string),
        _ => None,
    });
    assert_eq!(stamped.as_deref(), Some("juliet@example.com/balcony"));
    // The client asked for an ack after 5; the server answered.
    assert!(
        pair.client_events
            .iter()
            .any(|e| matches!(e, client::Event::Acked(t) if t.len() == 5))
    );
    // Server to client, and the server's own acks.
    pair.server
        .send(
            pair.now,
            Message::chat("juliet@example.com/balcony".parse().unwrap(), "hello"),
        )
        .unwrap();
    pair.run();
    assert_eq!(pair.client_stanzas(), vec!["hello".to_owned()]);
}

/// The shared accounts, offering only PLAIN (over the fake TLS): these
/// tests log in hundreds of times and are about resumption, not SASL.
fn plain_accept() -> AcceptConfig {
    let mut accept = shared_accept();
    accept.mechanisms = vec![Mechanism::Plain];
    accept
}

fn plain_pair() -> Pair {
    let now = Instant::now();
    Pair::new(
        ClientConnection::new(client_config(), now),
        plain_accept(),
        now,
    )
}

/// A session, cut after `c2s` bytes one way and `s2c` the other, then
/// resumed: every stanza arrives exactly once each way.
fn cut_and_resume(c2s: usize, s2c: usize) {
    let mut pair = plain_pair();
    pair.run();
    assert!(pair.client_online().is_some());
    pair.budget = Some((c2s, s2c));
    let mut issued = Vec::new();
    for i in 0..4 {
        pair.client
            .send(
                pair.now,
                Message::chat("romeo@example.net".parse().unwrap(), format!("c{i}")),
            )
            .unwrap();
        let token = pair
            .server
            .send(
                pair.now,
                Message::chat(
                    "juliet@example.com/balcony".parse().unwrap(),
                    format!("s{i}"),
                ),
            )
            .unwrap();
        issued.push(token);
        pair.run();
    }
    // The wire is cut: both sides see the end of input.
    pair.client.handle_eof(pair.now);
    pair.server.handle_eof(pair.now);
    pair.run();
    let server_got = pair.server_stanzas();
    let client_got = pair.client_stanzas();
    let client_state = pair.client.take_resume_state().expect("client resumable");
    let server_state = pair.server.take_resume_state().expect("server resumable");

    let now = pair.now;
    let mut next = Pair::new(
        ClientConnection::resume(client_config(), now, client_state, None),
        plain_accept(),
        now,
    );
    next.sessions.insert(server_state.id.clone(), server_state);
    next.run();
    assert_eq!(
        next.client_online(),
        Some(("juliet@example.com/balcony".into(), true)),
        "cut {c2s}/{s2c}"
    );
    let mut all_server = server_got;
    all_server.extend(next.server_stanzas());
    let mut all_client = client_got;
    all_client.extend(next.client_stanzas());
    assert_eq!(
        all_server,
        (0..4).map(|i| format!("c{i}")).collect::<Vec<_>>(),
        "cut {c2s}/{s2c}"
    );
    assert_eq!(
        all_client,
        (0..4).map(|i| format!("s{i}")).collect::<Vec<_>>(),
        "cut {c2s}/{s2c}"
    );
    // The server application hears of every stanza's delivery once: acked
    // on the first connection, by the `h` of the resumption, or later;
    // whatever is left is still waiting for an ack.
    let mut acked: Vec<_> = pair
        .server_events
        .iter()
        .chain(&next.server_events)
        .filter_map(|e| match e {
            server::Event::Acked(tokens) => Some(tokens.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    next.server.handle_eof(next.now);
    next.run();
    let waiting = next
        .server
        .take_resume_state()
        .expect("still resumable")
        .unacked;
    acked.extend(waiting.iter().map(|(token, _)| *token));
    acked.sort_unstable();
    assert_eq!(acked, issued, "cut {c2s}/{s2c}");
}

#[test]
fn resume_after_a_cut_at_every_point_loses_and_duplicates_nothing() {
    // Measure the exchange once, then cut it at every byte in steps.
    let mut probe = plain_pair();
    probe.run();
    probe.budget = Some((usize::MAX, usize::MAX));
    let mut c2s = 0;
    let mut s2c = 0;
    for i in 0..4 {
        probe
            .client
            .send(
                probe.now,
                Message::chat("romeo@example.net".parse().unwrap(), format!("c{i}")),
            )
            .unwrap();
        probe
            .server
            .send(
                probe.now,
                Message::chat(
                    "juliet@example.com/balcony".parse().unwrap(),
                    format!("s{i}"),
                ),
            )
            .unwrap();
        probe.drain_client();
        probe.drain_server();
        c2s += probe.c2s.len();
        s2c += probe.s2c.len();
        probe.run();
    }
    let mut cuts = 0;
    for cut in 0..=c2s.max(s2c) {
        cut_and_resume(cut.min(c2s), cut.min(s2c));
        cut_and_resume(cut.min(c2s), s2c.saturating_sub(cut));
        cuts += 2;
    }
    assert!(cuts > 20);
}

#[test]
fn a_refused_resumption_falls_back_to_a_fresh_session() {
    let mut pair = Pair::default_pair();
    pair.run();
    pair.budget = Some((0, usize::MAX));
    pair.client
        .send(
            pair.now,
            Message::chat("romeo@example.net".parse().unwrap(), "lost?"),
        )
        .unwrap();
    pair.run();
    pair.client.handle_eof(pair.now);
    pair.run();
    let state = pair.client.take_resume_state().unwrap();
    let now = pair.now;
    // The server forgot the session (no entry in `sessions`).
    let mut next = Pair::new(
        ClientConnection::resume(client_config(), now, state, None),
        shared_accept(),
        now,
    );
    next.run();
    assert!(
        next.client_events
            .iter()
            .any(|e| matches!(e, client::Event::ResumeFailed { unacked } if unacked.len() == 1))
    );
    assert_eq!(
        next.client_online(),
        Some(("juliet@example.com/balcony".into(), false))
    );
}

#[test]
fn negotiation_times_out_on_both_sides() {
    let now = Instant::now();
    let mut pair = Pair::new(
        ClientConnection::new(client_config(), now),
        shared_accept(),
        now,
    );
    // The server side never gets the client's bytes after its header.
    pair.budget = Some((40, usize::MAX));
    pair.run();
    while pair.step_time() {}
    assert!(matches!(
        pair.client_closed,
        Some(client::CloseReason::Error(ConnectionError::Timeout(_)))
    ));
    assert!(matches!(
        pair.server_closed,
        Some(server::CloseReason::Error(ServerError::Timeout(_)))
    ));
}

#[test]
fn a_client_that_stops_reading_is_cut_off_with_bounded_memory() {
    let mut pair = Pair::default_pair();
    pair.accept.max_outbound_bytes = 64 * 1024;
    let now = Instant::now();
    let mut fresh = Pair::new(
        ClientConnection::new(client_config(), now),
        pair.accept.clone(),
        now,
    );
    fresh.run();
    fresh.server_stalled = true;
    let mut refused = None;
    for i in 0..10_000 {
        let m = Message::chat(
            "juliet@example.com/balcony".parse().unwrap(),
            "x".repeat(200),
        );
        if let Err(e) = fresh.server.send(fresh.now, m) {
            refused = Some((i, e));
            break;
        }
    }
    let (count, error) = refused.expect("the queue is bounded");
    assert!(count < 1000, "refused after {count}");
    assert!(matches!(error, server::SendError::QueueFull(_)));
    fresh.server_stalled = false;
    fresh.run();
    assert!(matches!(
        fresh.server_closed,
        Some(server::CloseReason::Error(ServerError::Sent(ref e))) if e.condition == StreamErrorCondition::ResourceConstraint
    ));
}

#[test]
fn tls_is_required_by_default_and_plain_is_not_offered_without_it() {
    let mut accept = shared_accept();
    accept.tls = TlsPolicy::Disabled;
    let now = Instant::now();
    let mut pair = Pair::new(
        ClientConnection::new(client_config(), now),
        accept.clone(),
        now,
    );
    pair.run();
    assert_eq!(
        pair.client_closed,
        Some(client::CloseReason::Error(ConnectionError::TlsNotOffered))
    );

    // An insecure client against a server without TLS: SCRAM, never PLAIN.
    let mut config = client_config();
    config.tls = TlsMode::Insecure;
    let mut pair = Pair::new(ClientConnection::new(config, now), accept, now);
    pair.run();
    assert!(pair.client_online().is_some());
    let _ = Duration::ZERO;
}

#[test]
fn a_man_in_the_middle_stripping_plus_is_detected() {
    // Honest pair: -PLUS with the channel binding.
    let mut pair = Pair::default_pair();
    pair.run();
    assert!(pair.client_online().is_some());

    // The same, with every -PLUS mechanism and the XEP-0440 element removed
    // from the server's features on the way: the client says "y" (it could
    // bind but the server seems unable), the server does offer -PLUS, and
    // refuses the downgrade.
    let mut pair = Pair::default_pair();
    pair.tamper_s2c = Some(Box::new(|s| {
        s.replace("<mechanism>SCRAM-SHA-256-PLUS</mechanism>", "")
            .replace("<mechanism>SCRAM-SHA-1-PLUS</mechanism>", "")
            .replace(
                "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/></sasl-channel-binding>",
                "",
            )
    }));
    pair.run();
    assert!(pair.client_online().is_none(), "the downgrade went through");
    assert!(matches!(
        pair.client_closed,
        Some(client::CloseReason::Error(
            ConnectionError::AuthenticationFailed(_)
        ))
    ));
}

#[test]
fn a_flood_to_a_client_that_answers_ack_requests_never_hits_the_unacked_limit() {
    let mut pair = Pair::default_pair();
    let requests = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = requests.clone();
    pair.tamper_s2c = Some(Box::new(move |s| {
        seen.set(seen.get() + s.matches("<r xmlns='urn:xmpp:sm:3'/>").count());
        s.to_owned()
    }));
    pair.run();
    assert!(pair.client.stream_management());
    let to: xmpp_kit::jid::Jid = "juliet@example.com/balcony".parse().unwrap();
    let mut tokens = Vec::new();
    for i in 0..5000 {
        let sent = pair
            .server
            .send(pair.now, Message::chat(to.clone(), format!("f{i}")));
        tokens.push(sent.unwrap_or_else(|e| panic!("stanza {i}: {e}")));
        // The wire moves now and then, not after every stanza.
        if i % 100 == 99 {
            pair.run();
        }
    }
    pair.run();
    // The last few wait below the threshold; the timer asks for them.
    pair.step_time();
    assert_eq!(pair.server_closed, None);
    assert_eq!(pair.client_closed, None);
    assert_eq!(pair.client_stanzas().len(), 5000);
    let acked: Vec<_> = pair
        .server_events
        .iter()
        .filter_map(|e| match e {
            server::Event::Acked(t) => Some(t.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(acked, tokens, "every stanza confirmed once, in order");
    // About one request per exchange, not one per stanza.
    assert!((50..=200).contains(&requests.get()), "{}", requests.get());
}

#[test]
fn a_pong_of_the_client_is_counted_on_both_sides() {
    // The client answers a ping on its own; the server counts the pong, so
    // the client must too, or the server's next <a/> confirms "too many".
    let mut pair = Pair::default_pair();
    pair.run();
    let to: xmpp_kit::jid::Jid = "juliet@example.com/balcony".parse().unwrap();
    let ping: minidom::Element = "<ping xmlns='urn:xmpp:ping'/>".parse().unwrap();
    let ping = xmpp_kit::stanza::Iq::get(Some(to), ping).with_id("p1".to_owned());
    pair.server.send(pair.now, ping).unwrap();
    pair.run();
    let mut tokens = Vec::new();
    for i in 0..5 {
        let m = Message::chat("romeo@example.net".parse().unwrap(), format!("c{i}"));
        tokens.push(pair.client.send(pair.now, m).unwrap());
    }
    pair.client.request_ack(pair.now);
    pair.run();
    assert_eq!(pair.client_closed, None);
    let acked: Vec<_> = pair
        .client_events
        .iter()
        .filter_map(|e| match e {
            client::Event::Acked(t) => Some(t.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(acked, tokens, "the pong is counted but not reported");
}

#[test]
fn an_ack_request_that_crosses_the_close_is_not_answered_after_it() {
    let mut pair = Pair::default_pair();
    pair.run();
    let to: xmpp_kit::jid::Jid = "juliet@example.com/balcony".parse().unwrap();
    for i in 0..5 {
        let m = Message::chat(to.clone(), format!("s{i}"));
        pair.server.send(pair.now, m).unwrap();
    }
    pair.drain_server();
    let in_flight = std::mem::take(&mut pair.s2c);
    assert!(String::from_utf8_lossy(&in_flight).ends_with("<r xmlns='urn:xmpp:sm:3'/>"));
    pair.client.close(pair.now);
    pair.drain_client();
    let closing = std::mem::take(&mut pair.c2s);
    assert!(String::from_utf8_lossy(&closing).ends_with("</stream:stream>"));
    pair.client.handle_input(pair.now, &in_flight).unwrap();
    pair.drain_client();
    assert_eq!(
        String::from_utf8_lossy(&pair.c2s),
        "",
        "nothing after the closing tag"
    );
    assert_eq!(pair.client_stanzas().len(), 5);
    pair.c2s = closing;
    pair.run();
    assert_eq!(pair.server_closed, Some(server::CloseReason::PeerClosed));
}

/// A payload a peer sent is kept as the bytes it arrived as: the server's
/// application reads it as an element all the same, and when it sends the
/// stanza on, the payload goes out byte for byte as it came (quotes,
/// spacing, prefixes and references included).
#[test]
fn payloads_travel_as_the_bytes_they_arrived_as() {
    let now = Instant::now();
    let mut accept = shared_accept();
    // Raw bytes are injected below, which stream management would count.
    accept.stream_management = false;
    let mut pair = Pair::new(ClientConnection::new(client_config(), now), accept, now);
    pair.run();
    assert!(pair.client_online().is_some());
    let x = r#"<x xmlns="urn:example:x"  a = "1"><y>t&amp;u&#x41;</y></x>"#;
    let q = "<z:q xmlns:z='urn:z' z:w='v'/>";
    let stanza = format!(
        "<message to='romeo@example.net' id='r1' type='chat'><body>hi</body>{x} {q}</message>"
    );
    pair.c2s.extend_from_slice(stanza.as_bytes());
    pair.run();
    let received = message_with_id(&pair.server_events, "r1", |e| match e {
        server::Event::Stanza(s) => Some(s),
        _ => None,
    })
    .expect("the message reached the server");
    assert_eq!(received.body(), Some("hi"));
    let [first, second] = &received.payloads[..] else {
        panic!("two payloads: {:?}", received.payloads);
    };
    assert_eq!(first.raw_bytes(), Some(x.as_bytes()));
    assert_eq!(second.raw_bytes(), Some(q.as_bytes()));
    assert!(first.is("x", "urn:example:x") && second.is("q", "urn:z"));
    // Looked into, they are the elements they stand for.
    assert_eq!(first.attr("a"), Some("1"));
    assert_eq!(
        first.get_child("y", "urn:example:x").map(|y| y.text()),
        Some("t&uA".to_owned())
    );
    assert_eq!(second.attr_ns("urn:z", "w"), Some("v"));
    assert_eq!(
        first.raw_bytes(),
        Some(x.as_bytes()),
        "reading keeps the bytes"
    );

    // Sent on, they go out as they came.
    let mut forward = received.clone();
    forward.to = Some("juliet@example.com/balcony".parse().unwrap());
    pair.server.send(pair.now, forward).unwrap();
    pair.drain_server();
    let wire = String::from_utf8(pair.s2c.clone()).unwrap();
    assert!(wire.contains(x) && wire.contains(q), "{wire}");
    pair.run();
    let delivered = message_with_id(&pair.client_events, "r1", |e| match e {
        client::Event::Stanza(s) => Some(s),
        _ => None,
    })
    .expect("the message reached the client");
    assert_eq!(delivered.payloads, received.payloads);
    assert_eq!(delivered.body(), Some("hi"));
}

/// The message with id `id` among the stanzas of `events`.
fn message_with_id<E>(
    events: &[E],
    id: &str,
    stanza: impl Fn(&E) -> Option<&Stanza>,
) -> Option<Message> {
    events.iter().find_map(|e| match stanza(e) {
        Some(Stanza::Message(m)) if m.id.as_deref() == Some(id) => Some(m.clone()),
        _ => None,
    })
}
