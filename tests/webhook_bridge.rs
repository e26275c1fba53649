//! The webhook bridge example (`examples/webhook_bridge.rs`) as a child
//! process, between an embedded hub and an HTTP receiver in the test that
//! fails at first: deliveries after the receiver recovers, in order and
//! signed; durability across a SIGKILL; the queue limit; the HTTP API
//! (authentication, size limit, bounces); publishing to a pubsub service
//! played by the test.
//!
//! The test builds the example itself (`cargo build --example
//! webhook_bridge` with this test's features, a no-op when it is up to
//! date), so `cargo test --all-features --test webhook_bridge` is enough.
#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt as _;
use hmac::Hmac;
use hmac::digest::{KeyInit as _, Mac as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::ext::pubsub::{Item, PubSub};
use xmpp_kit::hub::Hub;
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientEvent};
use xmpp_kit::rt::component::{Component, ComponentEvent};
use xmpp_kit::stanza::{
    DefinedCondition, Iq, IqKind, Message, MessageType, Presence, Stanza, StanzaError,
};

const DOMAIN: &str = "localhost";
const PASSWORD: &str = "webhook-test-pw";
const BRIDGE: &str = "bridge.localhost";
/// A pubsub service played by the test.
const FAKE_PUBSUB: &str = "fake-pubsub.localhost";
/// A component that never answers.
const SILENT: &str = "silent.localhost";
/// A component the hub knows that is not connected.
const ABSENT: &str = "absent.localhost";
const SECRET: &str = "component-secret";
const TOKEN: &str = "test-token-0123456789abcdef";
/// How long one step may take (generous: the machine may be loaded).
const WAIT: Duration = Duration::from_secs(30);
/// The bridge stops by itself after this long, should the test die.
const BRIDGE_RUN_FOR: &str = "55";

// ---------------------------------------------------------------------------
// The bridge as a child process.

/// The example, built once per test run with this test's features.
fn bridge_binary() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build_bridge)
}

fn build_bridge() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test>: the examples are in target/<profile>/examples.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_owned();
    let path = profile_dir
        .join("examples")
        .join(format!("webhook_bridge{}", std::env::consts::EXE_SUFFIX));
    let features: Vec<&str> = [
        ("default", cfg!(feature = "default")),
        ("tls", cfg!(feature = "tls")),
        ("futures-io", cfg!(feature = "futures-io")),
        ("tokio", cfg!(feature = "tokio")),
        ("blocking", cfg!(feature = "blocking")),
        ("websocket", cfg!(feature = "websocket")),
        ("hub", cfg!(feature = "hub")),
        ("sqlite", cfg!(feature = "sqlite")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", "webhook_bridge"])
        .args(["--no-default-features", "--features", &features.join(",")]);
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        other => panic!("unexpected profile directory {other:?}: build the example by hand"),
    }
    if let Some(target_dir) = profile_dir.parent() {
        command.arg("--target-dir").arg(target_dir);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the example: {e}"));
    assert!(status.success(), "building the example failed: {status}");
    // Testing an old binary would test old code.
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("the example is not at {}: {e}", path.display()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webhook_bridge.rs");
    let modified = std::fs::metadata(&source)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        modified <= built,
        "the example binary is older than its source"
    );
    path
}

/// A running bridge: stdout line by line, stderr kept; killed when
/// dropped.
struct Bridge {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Bridge {
    fn spawn(args: &[String], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(bridge_binary());
        command
            .args(args)
            .env_remove("WEBHOOK_BRIDGE_TOKEN")
            .env_remove("WEBHOOK_BRIDGE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the bridge starts");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let errors = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&errors);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            kept.lock().unwrap().push_str(&text);
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr: errors,
        }
    }

    /// Waits until `count` lines starting with `prefix` were printed;
    /// returns the last of them.
    async fn wait_lines(&mut self, prefix: &str, count: usize) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let matching: Vec<&String> =
                self.seen.iter().filter(|l| l.starts_with(prefix)).collect();
            if matching.len() >= count {
                return matching[count - 1].clone();
            }
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) => {
                    // Give stderr's reader a moment to finish.
                    let _ = self.child.wait();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    panic!(
                        "the bridge ended before printing {count} {prefix:?} line(s): stdout {:#?}, stderr {}",
                        self.seen,
                        self.stderr.lock().unwrap()
                    );
                }
                Err(_) => panic!(
                    "the bridge did not print {count} {prefix:?} line(s) in time: stdout {:#?}, stderr {}",
                    self.seen,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    async fn wait_line(&mut self, prefix: &str) -> String {
        self.wait_lines(prefix, 1).await
    }

    /// Waits until it is online and serving HTTP; returns the HTTP address.
    async fn ready(&mut self) -> SocketAddr {
        let listening = self.wait_line("http: listening on ").await;
        self.wait_line(&format!("online as {BRIDGE}")).await;
        listening
            .trim_start_matches("http: listening on ")
            .parse()
            .unwrap()
    }

    /// Waits until it exits by itself: its status and stderr.
    async fn finish(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the bridge did not exit in time: {:#?}",
                self.seen
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // stderr's reader ends at the pipe's end, just after the exit.
        let deadline = Instant::now() + WAIT;
        while Arc::strong_count(&self.stderr) > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr)
    }

    /// SIGKILL, and wait until it is gone.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory for queue files, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("xmpp-kit-webhook-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bridge's command line for `hub`, delivering to `receiver`.
fn bridge_args(hub: &Hub, receiver: &Receiver, queue: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--server",
        &hub.component_addr().unwrap().to_string(),
        "--domain",
        BRIDGE,
        "--secret",
        SECRET,
        "--http-listen",
        "127.0.0.1:0",
        "--callback",
        &receiver.url,
        "--queue",
        queue,
        "--run-for",
        BRIDGE_RUN_FOR,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

const TOKEN_ENV: (&str, &str) = ("WEBHOOK_BRIDGE_TOKEN", TOKEN);

// ---------------------------------------------------------------------------
// The hub and its clients.

async fn start_hub() -> Hub {
    let mut builder = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .components("127.0.0.1:0");
    for component in [BRIDGE, FAKE_PUBSUB, SILENT, ABSENT] {
        builder = builder.component(component, SECRET);
    }
    for user in ["alice", "bob", "carol"] {
        builder = builder.user(&format!("{user}@{DOMAIN}"), PASSWORD);
    }
    builder.start().await.expect("the hub starts")
}

/// `user` logged in and available.
async fn online(hub: &Hub, user: &str) -> Client {
    let client = ClientBuilder::new(&format!("{user}@{DOMAIN}"), PASSWORD)
        .server(&hub.c2s_addr().unwrap().to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(hub.ca_pem().unwrap().as_bytes().to_vec());
    let client = tokio::time::timeout(WAIT, client.connect())
        .await
        .expect("login in time")
        .unwrap_or_else(|e| panic!("{user} cannot log in: {e}"));
    client.send(Presence::available()).await.unwrap();
    // The hub handles a client's stanzas in order: once it answered this
    // ping, it knows the client is available.
    let ping = Iq::get(Some(jid(DOMAIN)), Ping.to_element());
    tokio::time::timeout(WAIT, client.request(ping))
        .await
        .expect("a pong in time")
        .unwrap();
    client
}

/// The next message `client` receives.
async fn next_message(client: &mut Client) -> Message {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => panic!("no message in time"),
            Ok(Some(ClientEvent::Stanza(Stanza::Message(message)))) => return message,
            Ok(Some(ClientEvent::Disconnected { error, .. })) => panic!("disconnected: {error}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the client ended"),
        }
    }
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------
// The receiver.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answers 500.
    Fail,
    /// Closes every connection at once, before reading anything.
    HangUp,
    /// Answers 200 and records the delivery.
    Accept,
}

#[derive(Debug, Clone)]
struct Delivery {
    /// `X-Delivery-Id`.
    id: String,
    json: Value,
    /// `X-Signature` is the HMAC of the body with the token.
    signed: bool,
    content_type: String,
}

#[derive(Debug)]
struct Seen {
    mode: Mode,
    /// The delivery ids of the requests answered 500.
    failed: Vec<String>,
    hang_ups: usize,
    deliveries: Vec<Delivery>,
}

/// An HTTP receiver on 127.0.0.1 that does what its [`Mode`] says.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?source=xmpp", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen {
            mode,
            failed: Vec::new(),
            hang_ups: 0,
            deliveries: Vec::new(),
        }));
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                {
                    let mut seen = shared.lock().unwrap();
                    if seen.mode == Mode::HangUp {
                        seen.hang_ups += 1;
                        drop(stream);
                        continue;
                    }
                }
                let seen = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let seen = Arc::clone(&seen);
                        async move { Ok::<_, Infallible>(receive(request, &seen).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, seen, task }
    }

    fn set_mode(&self, mode: Mode) {
        self.seen.lock().unwrap().mode = mode;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().deliveries.clone()
    }

    /// Polls until `done` holds.
    async fn wait_until(&self, what: &str, done: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                if done(&seen) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the receiver did not see {what} in time: {seen:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn header(request: &Request<Incoming>, name: &str) -> String {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn receive(request: Request<Incoming>, seen: &Mutex<Seen>) -> Response<Full<Bytes>> {
    let id = header(&request, "x-delivery-id");
    let signature = header(&request, "x-signature");
    let content_type = header(&request, "content-type");
    assert_eq!(request.uri().path(), "/hook");
    assert_eq!(request.uri().query(), Some("source=xmpp"));
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let delivery = Delivery {
        id: id.clone(),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed: signature == sign(&body),
        content_type,
    };
    let mut seen = seen.lock().unwrap();
    let status = if seen.mode == Mode::Accept {
        seen.deliveries.push(delivery);
        StatusCode::OK
    } else {
        seen.failed.push(id);
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

/// The signature a receiver expects: `sha256=` and the hex HMAC-SHA256 of
/// the raw body keyed with the token.
fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Checks every delivery: signed, JSON, its id in the header and the body,
/// to and from as expected; returns the bodies in order.
fn check_deliveries(deliveries: &[Delivery], from_user: &str) -> Vec<String> {
    let ids: HashSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), deliveries.len(), "duplicates: {deliveries:#?}");
    for delivery in deliveries {
        assert!(delivery.signed, "a bad signature: {delivery:#?}");
        assert_eq!(delivery.content_type, "application/json");
        assert_eq!(delivery.id.len(), 32, "{delivery:#?}");
        assert_eq!(delivery.json["id"], delivery.id.as_str());
        let from = delivery.json["from"].as_str().unwrap();
        assert!(
            from.starts_with(&format!("{from_user}@{DOMAIN}/")),
            "{delivery:#?}"
        );
        let to = delivery.json["to"].as_str().unwrap();
        assert!(to.ends_with(&format!("@{BRIDGE}")), "{delivery:#?}");
        let stamp = delivery.json["stamp"].as_str().unwrap();
        assert!(
            stamp.len() == "2024-01-01T00:00:00.000Z".len() && stamp.ends_with('Z'),
            "{stamp}"
        );
    }
    deliveries
        .iter()
        .map(|d| d.json["body"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// An HTTP client for the bridge's API.

async fn post(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (StatusCode, Value) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::post(target).header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).unwrap();
    let response = tokio::time::timeout(WAIT, sender.send_request(request))
        .await
        .expect("an answer in time")
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("the answer ({status}) is not JSON: {body:?}"));
    (status, json)
}

const AUTHORIZED: (&str, &str) = ("authorization", "Bearer test-token-0123456789abcdef");

// ---------------------------------------------------------------------------
// The tests.

/// 50 messages to addresses at the bridge, while the receiver answers 500:
/// once it recovers, each arrives exactly once, in order, signed; the
/// failed attempts carried the first entry's delivery id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_reach_the_receiver_once_it_recovers() {
    const COUNT: usize = 50;
    let scratch = Scratch::new("recover");
    let hub = start_hub().await;
    let receiver = Receiver::start(Mode::Fail).await;
    let args = bridge_args(&hub, &receiver, &scratch.path("queue.sqlite3"), &[]);
    let mut bridge = Bridge::spawn(&args, &[TOKEN_ENV]);
    bridge.ready().await;
    let alice = online(&hub, "alice").await;

    for i in 0..COUNT {
        let to = jid(&format!("n{i}@{BRIDGE}"));
        alice
            .send(Message::chat(to, format!("message {i}")))
            .await
            .unwrap();
    }
    bridge.wait_lines("queued ", COUNT).await;
    receiver
        .wait_until("two failed attempts", |seen| seen.failed.len() >= 2)
        .await;
    receiver.set_mode(Mode::Accept);
    receiver
        .wait_until("every message", |seen| seen.deliveries.len() >= COUNT)
        .await;
    bridge.wait_lines("delivered ", COUNT).await;

    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), COUNT, "duplicates: {deliveries:#?}");
    let bodies = check_deliveries(&deliveries, "alice");
    let expected: Vec<String> = (0..COUNT).map(|i| format!("message {i}")).collect();
    assert_eq!(bodies, expected, "in order");
    for (i, delivery) in deliveries.iter().enumerate() {
        assert_eq!(delivery.json["to"], format!("n{i}@{BRIDGE}").as_str());
    }
    // Retries keep the delivery id.
    let failed = receiver.seen.lock().unwrap().failed.clone();
    assert!(
        failed.iter().all(|id| *id == deliveries[0].id),
        "{failed:?} vs {}",
        deliveries[0].id
    );
}

/// Messages queued while the receiver hangs up survive a SIGKILL of the
/// bridge: a new bridge on the same queue file delivers them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_survive_a_killed_bridge() {
    const COUNT: usize = 10;
    let scratch = Scratch::new("durable");
    let queue = scratch.path("queue.sqlite3");
    let hub = start_hub().await;
    let receiver = Receiver::start(Mode::HangUp).await;
    let args = bridge_args(&hub, &receiver, &queue, &[]);
    let mut first = Bridge::spawn(&args, &[TOKEN_ENV]);
    first.ready().await;
    let alice = online(&hub, "alice").await;
    for i in 0..COUNT {
        alice
            .send(Message::chat(
                jid(&format!("durable@{BRIDGE}")),
                format!("kept {i}"),
            ))
            .await
            .unwrap();
    }
    first.wait_lines("queued ", COUNT).await;
    receiver
        .wait_until("a failed attempt", |seen| seen.hang_ups >= 1)
        .await;
    first.kill();

    receiver.set_mode(Mode::Accept);
    let mut second = Bridge::spawn(&args, &[TOKEN_ENV]);
    let waiting = second.wait_line("queue ").await;
    assert!(waiting.contains(&format!(": {COUNT} waiting")), "{waiting}");
    receiver
        .wait_until("every message", |seen| seen.deliveries.len() >= COUNT)
        .await;
    second.wait_lines("delivered ", COUNT).await;
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), COUNT, "duplicates: {deliveries:#?}");
    let bodies = check_deliveries(&deliveries, "alice");
    let expected: Vec<String> = (0..COUNT).map(|i| format!("kept {i}")).collect();
    assert_eq!(bodies, expected);
    // The new bridge also took over the component.
    second.wait_line(&format!("online as {BRIDGE}")).await;
}

/// With --queue-limit 5 and a failing receiver, the sixth message is
/// refused with resource-constraint and never delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_with_resource_constraint() {
    let scratch = Scratch::new("full");
    let hub = start_hub().await;
    let receiver = Receiver::start(Mode::Fail).await;
    let args = bridge_args(
        &hub,
        &receiver,
        &scratch.path("queue.sqlite3"),
        &["--queue-limit", "5"],
    );
    let mut bridge = Bridge::spawn(&args, &[TOKEN_ENV]);
    bridge.ready().await;
    let mut alice = online(&hub, "alice").await;
    for i in 0..6 {
        let message = Message::chat(jid(&format!("inbox@{BRIDGE}")), format!("full {i}"))
            .with_id(format!("full-{i}"));
        alice.send(message).await.unwrap();
    }
    let refused = next_message(&mut alice).await;
    assert_eq!(refused.kind, MessageType::Error, "{refused:?}");
    assert_eq!(
        refused.id.as_deref(),
        Some("full-5"),
        "only the sixth: {refused:?}"
    );
    assert_eq!(
        refused.error.as_ref().map(|e| e.condition),
        Some(DefinedCondition::ResourceConstraint)
    );
    assert_eq!(
        refused.from.as_ref().map(Jid::as_str),
        Some("inbox@bridge.localhost")
    );
    bridge.wait_line("queue full: refused a message").await;

    receiver.set_mode(Mode::Accept);
    receiver
        .wait_until("five messages", |seen| seen.deliveries.len() >= 5)
        .await;
    bridge.wait_lines("delivered ", 5).await;
    let bodies = check_deliveries(&receiver.deliveries(), "alice");
    let expected: Vec<String> = (0..5).map(|i| format!("full {i}")).collect();
    assert_eq!(bodies, expected);
}

/// POST /message: the right token sends (202 with the stanza id), a wrong
/// or missing one gets 401 and sends nothing, an oversized body 413, a bad
/// JID 400, a message to an offline account comes back as 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_posts_become_messages() {
    let scratch = Scratch::new("http");
    let token_file = scratch.path("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let hub = start_hub().await;
    let receiver = Receiver::start(Mode::Accept).await;
    let args = bridge_args(
        &hub,
        &receiver,
        &scratch.path("queue.sqlite3"),
        &["--token-file", &token_file],
    );
    let mut bridge = Bridge::spawn(&args, &[]);
    let http = bridge.ready().await;
    let mut bob = online(&hub, "bob").await;

    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], "hello bob").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    let message = next_message(&mut bob).await;
    assert_eq!(message.body(), Some("hello bob"));
    assert_eq!(message.kind, MessageType::Chat);
    assert_eq!(message.id.as_deref(), Some(id.as_str()));
    assert_eq!(
        message.from.as_ref().map(Jid::as_str),
        Some("bridge@bridge.localhost")
    );

    let (status, answer) = post(
        http,
        "/message/bob@localhost?type=headline&from=alerts",
        &[AUTHORIZED],
        "disk full",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let message = next_message(&mut bob).await;
    assert_eq!(message.body(), Some("disk full"));
    assert_eq!(message.kind, MessageType::Headline);
    assert_eq!(
        message.from.as_ref().map(Jid::as_str),
        Some("alerts@bridge.localhost")
    );

    // Refused: nothing of these reaches bob.
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-token-0123456789abcdef")],
        vec![("authorization", "Bearer")],
        vec![("authorization", "Basic dGVzdDp0ZXN0")],
    ] {
        let (status, answer) = post(http, "/message/bob@localhost", &headers, "never sent").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {answer}");
        assert!(answer["error"].is_string());
    }
    let oversized = vec![b'x'; 64 * 1024 + 1];
    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], oversized).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let (status, answer) = post(http, "/message/not@@a@jid", &[AUTHORIZED], "never sent").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = post(
        http,
        "/message/bob@localhost?type=groupchat",
        &[AUTHORIZED],
        "never sent",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The next message bob gets is this one: the refused ones sent nothing.
    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], "after").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(next_message(&mut bob).await.body(), Some("after"));

    // carol is not online: the hub keeps the message for her (202).
    let (status, answer) = post(http, "/message/carol@localhost", &[AUTHORIZED], "hi").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // No such account: the hub bounces the message before it answers the
    // ping that follows it.
    let (status, answer) = post(http, "/message/nobody@localhost", &[AUTHORIZED], "hi").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["condition"], "service-unavailable");
    assert!(answer["id"].is_string());

    bridge
        .wait_line("http: POST /message/nobody@localhost -> 502")
        .await;
    assert!(receiver.deliveries().is_empty());
}

/// A pubsub service played by the test: answers publishes with a result
/// naming the item (its own id if none was given), refuses the node
/// `forbidden`, and reports what it got.
async fn fake_pubsub(hub: &Hub) -> mpsc::UnboundedReceiver<(String, Option<String>, String)> {
    let address = hub.component_addr().unwrap().to_string();
    let mut component = Component::connect(&address, FAKE_PUBSUB, SECRET)
        .await
        .unwrap();
    let (tx, published) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = component.next().await {
            let ComponentEvent::Stanza(Stanza::Iq(iq)) = event else {
                continue;
            };
            if !matches!(iq.kind, IqKind::Set(_)) {
                continue;
            }
            let reply = match iq.payload_as::<PubSub>() {
                Some(Ok(PubSub::Publish { node, items, .. })) if node == "forbidden" => {
                    drop(items);
                    iq.error_reply(StanzaError::new(DefinedCondition::Forbidden))
                }
                Some(Ok(PubSub::Publish {
                    node, mut items, ..
                })) if items.len() == 1 => {
                    let item = items.remove(0);
                    let payload = item.payload.as_ref().map(String::from).unwrap_or_default();
                    let _ = tx.send((node.clone(), item.id.clone(), payload));
                    let id = item.id.unwrap_or_else(|| "made-by-service".to_owned());
                    let result = PubSub::Publish {
                        node,
                        items: vec![Item::with_id_only(id)],
                        publish_options: None,
                    };
                    Some(Iq::result_for(&iq, Some(result.to_element())))
                }
                _ => iq.error_reply(StanzaError::new(DefinedCondition::BadRequest)),
            };
            if let Some(reply) = reply {
                component.send(reply).await.unwrap();
            }
        }
    });
    published
}

/// POST /publish: results (200 with the item id), errors (502 with the
/// condition), a service that does not answer (504), no such service
/// (502), and bodies refused before anything is sent (400, 415).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_posts_become_pubsub_publishes() {
    let scratch = Scratch::new("publish");
    let hub = start_hub().await;
    let receiver = Receiver::start(Mode::Accept).await;
    let args = bridge_args(
        &hub,
        &receiver,
        &scratch.path("queue.sqlite3"),
        &["--timeout", "4"],
    );
    let mut bridge = Bridge::spawn(&args, &[TOKEN_ENV]);
    let http = bridge.ready().await;
    let mut published = fake_pubsub(&hub).await;
    let address = hub.component_addr().unwrap().to_string();
    let silent = Component::connect(&address, SILENT, SECRET).await.unwrap();
    let service = format!("/publish/{FAKE_PUBSUB}");
    let xml = ("content-type", "application/xml");
    let text = ("content-type", "text/plain; charset=utf-8");

    // An XML payload with an item id, to a node with a slash.
    let (status, answer) = post(
        http,
        &format!("{service}/news/tech?item_id=item-1"),
        &[AUTHORIZED, xml],
        "<?xml version='1.0'?><event xmlns='urn:example:event'><title>Hi</title></event>",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], "item-1");
    assert_eq!(answer["node"], "news/tech");
    let (node, id, payload) = published.recv().await.unwrap();
    assert_eq!(
        (node.as_str(), id.as_deref()),
        ("news/tech", Some("item-1"))
    );
    let payload: minidom::Element = payload.parse().unwrap();
    assert!(payload.is("event", "urn:example:event"), "{payload:?}");
    assert_eq!(
        payload
            .get_child("title", "urn:example:event")
            .map(|t| t.text()),
        Some("Hi".to_owned())
    );

    // Text, wrapped; the service names the item.
    let (status, answer) = post(
        http,
        &format!("{service}/news"),
        &[AUTHORIZED, text],
        "plain news",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], "made-by-service");
    let (_, id, payload) = published.recv().await.unwrap();
    assert_eq!(id, None);
    let payload: minidom::Element = payload.parse().unwrap();
    assert!(payload.is("entry", "urn:xmpp-kit:webhook"), "{payload:?}");
    assert_eq!(payload.text(), "plain news");

    // The service refuses.
    let (status, answer) = post(
        http,
        &format!("{service}/forbidden"),
        &[AUTHORIZED, text],
        "no",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["condition"], "forbidden");

    // A known component that is not connected, and an unknown domain.
    for (to, condition) in [
        (ABSENT, "service-unavailable"),
        ("nowhere.example", "remote-server-not-found"),
    ] {
        let (status, answer) = post(
            http,
            &format!("/publish/{to}/news"),
            &[AUTHORIZED, text],
            "lost",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{to}: {answer}");
        assert_eq!(answer["condition"], condition, "{to}");
    }

    // No answer within --timeout.
    let (status, answer) = post(
        http,
        &format!("/publish/{SILENT}/news"),
        &[AUTHORIZED, text],
        "lost",
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{answer}");

    // Refused before anything is sent.
    for (body, content_type, expected) in [
        (
            "<unclosed xmlns='urn:x'>",
            "application/xml",
            StatusCode::BAD_REQUEST,
        ),
        (
            "<a xmlns='urn:x'/><b xmlns='urn:x'/>",
            "application/xml",
            StatusCode::BAD_REQUEST,
        ),
        (
            "<!-- c --><a xmlns='urn:x'/>",
            "application/xml",
            StatusCode::BAD_REQUEST,
        ),
        (
            "<no-namespace/>",
            "application/xml",
            StatusCode::BAD_REQUEST,
        ),
        ("{}", "application/json", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ] {
        let (status, answer) = post(
            http,
            &format!("{service}/news"),
            &[AUTHORIZED, ("content-type", content_type)],
            body,
        )
        .await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    let (status, _) = post(
        http,
        &format!("{service}/news"),
        &[xml],
        "<a xmlns='urn:x'/>",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(published.try_recv().is_err(), "nothing else was published");
    drop(silent);
}

/// The hub goes away: HTTP requests get 503 while the bridge retries, and
/// once a hub is back on the same port the bridge is online again. A second
/// bridge on the same queue file and one with a wrong secret exit with
/// status 1 at once; SIGTERM stops the bridge cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_reconnects_and_stops_cleanly() {
    let scratch = Scratch::new("reconnect");
    let queue = scratch.path("queue.sqlite3");
    let hub = start_hub().await;
    let component_port = hub.component_addr().unwrap().to_string();
    let receiver = Receiver::start(Mode::Accept).await;
    let args = bridge_args(&hub, &receiver, &queue, &[]);
    let mut bridge = Bridge::spawn(&args, &[TOKEN_ENV]);
    let http = bridge.ready().await;

    // One bridge per queue file.
    let (status, stderr) = Bridge::spawn(&args, &[TOKEN_ENV]).finish().await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another bridge"), "{stderr}");
    // A wrong secret is final.
    let mut wrong = bridge_args(&hub, &receiver, &scratch.path("other.sqlite3"), &[]);
    let secret = wrong.iter().position(|a| a == SECRET).unwrap();
    wrong[secret] = "not-the-secret".to_owned();
    let (status, stderr) = Bridge::spawn(&wrong, &[TOKEN_ENV]).finish().await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("secret"), "{stderr}");

    hub.shutdown().await;
    bridge.wait_line("the XMPP stream ended").await;
    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], "offline").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");

    // A new hub on the same component port.
    let mut builder = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .components(&component_port)
        .component(BRIDGE, SECRET)
        .user(&format!("bob@{DOMAIN}"), PASSWORD);
    builder = builder.user(&format!("alice@{DOMAIN}"), PASSWORD);
    let hub = builder.start().await.expect("the second hub starts");
    bridge.wait_lines(&format!("online as {BRIDGE}"), 2).await;
    let mut bob = online(&hub, "bob").await;
    let (status, answer) = post(http, "/message/bob@localhost", &[AUTHORIZED], "back").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(next_message(&mut bob).await.body(), Some("back"));

    // SIGTERM: the stream is closed, exit status 0.
    let pid = bridge.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    bridge.wait_line("terminated, stopping").await;
    bridge.wait_line("closed").await;
    bridge.wait_line("stopped").await;
    let (status, stderr) = bridge.finish().await;
    assert!(status.success(), "{status}: {stderr}");
}
