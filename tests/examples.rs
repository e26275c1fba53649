//! The examples, run as they are (child processes) against our own test
//! server: each must do what its header says.
//!
//! `cargo test --all-features` builds the examples before running the
//! tests. `cargo test --all-features --test examples` alone does not: build
//! them first with `cargo build --all-features --examples`. A missing or
//! outdated example binary fails the test rather than skipping it.
#![cfg(all(feature = "tokio", feature = "blocking"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod rt_support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use rt_support::{COMPONENT_SECRET, DOMAIN, PASSWORD, TestServer};
use tokio::sync::mpsc;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{self, DiscoInfo};
use xmpp_kit::ext::ping::{self, Ping};
use xmpp_kit::jid::{FullJid, Jid};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::stanza::{DefinedCondition, Iq, IqKind, Message, Stanza};

/// How long the test waits for one step.
const LIMIT: Duration = Duration::from_secs(20);
/// How long an example may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// The built example `name`, next to the test binary: `target/debug/deps/`
/// holds this test, `target/debug/examples/` the examples.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "the example {name} is not built ({} is missing): run `cargo test --all-features`, \
                 which builds the examples before the tests (or `cargo build --all-features --examples` \
                 before `cargo test --test examples`)",
                path.display()
            )
        });
    // Testing an old binary would test old code: refuse it when a source
    // it was built from (cargo lists them next to it) changed since.
    let mut sources = built_from(&path.with_extension("d"));
    sources.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{name}.rs")),
    );
    for source in sources {
        let modified = std::fs::metadata(&source)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert!(
            modified <= built,
            "the example {name} is older than {}: run `cargo test --all-features`, which \
             rebuilds the examples before the tests",
            source.display()
        );
    }
    path
}

/// The sources of a cargo dep-info file (`target: source source ...`,
/// spaces in paths escaped as `\ `); none if there is no such file.
fn built_from(dep_info: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(dep_info) else {
        return Vec::new();
    };
    let Some((_target, sources)) = text.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    let mut current = String::new();
    let mut chars = sources.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' if !current.is_empty() => paths.push(PathBuf::from(std::mem::take(&mut current))),
            ' ' => {}
            c => current.push(c),
        }
    }
    paths.extend((!current.is_empty()).then(|| PathBuf::from(current)));
    paths
}

/// How an example ended.
#[derive(Debug)]
struct Outcome {
    status: ExitStatus,
    /// Killed after [`CHILD_LIMIT`].
    timed_out: bool,
    stdout: Vec<String>,
    stderr: String,
}

impl Outcome {
    fn assert_success(&self, name: &str) {
        assert!(
            !self.timed_out && self.status.success(),
            "{name} failed: {self:#?}"
        );
    }
}

/// An example running as a child process. Its stdout comes line by line;
/// a watchdog kills it after [`CHILD_LIMIT`], or as soon as this handle is
/// dropped (a failed assertion), so no test hangs or leaves it behind.
struct Example {
    name: &'static str,
    lines: mpsc::UnboundedReceiver<String>,
    stdout: Vec<String>,
    stop: Arc<AtomicBool>,
    exit: Option<tokio::task::JoinHandle<(ExitStatus, bool, String)>>,
}

impl Example {
    fn spawn(name: &'static str, args: &[&str]) -> Self {
        let mut child = Command::new(example_path(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
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
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let exit = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + CHILD_LIMIT;
            let mut timed_out = false;
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if stopped.load(Ordering::Relaxed) || Instant::now() >= deadline {
                    timed_out = !stopped.load(Ordering::Relaxed);
                    let _ = child.kill();
                    break child.wait().unwrap();
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            (status, timed_out, stderr.join().unwrap_or_default())
        });
        Self {
            name,
            lines,
            stdout: Vec::new(),
            stop,
            exit: Some(exit),
        }
    }

    /// Waits for a stdout line starting with `prefix` and returns it.
    async fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.stdout.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Ok(None) => {
                    let outcome = self.finish_now().await;
                    panic!(
                        "{} ended before printing {prefix:?}: {outcome:#?}",
                        self.name
                    );
                }
                Err(_) => {
                    let outcome = self.finish_now().await;
                    panic!(
                        "{} did not print {prefix:?} in time: {outcome:#?}",
                        self.name
                    );
                }
            }
        }
    }

    /// Kills the example and says how it went.
    async fn finish_now(&mut self) -> Outcome {
        self.stop.store(true, Ordering::Relaxed);
        self.outcome().await
    }

    /// Waits until the example exits by itself (or is killed after
    /// [`CHILD_LIMIT`]).
    async fn finish(mut self) -> Outcome {
        self.outcome().await
    }

    async fn outcome(&mut self) -> Outcome {
        let (status, timed_out, stderr) = self.exit.take().unwrap().await.unwrap();
        // The reader ends at the pipe's end, after the last line.
        while let Some(line) = self.lines.recv().await {
            self.stdout.push(line);
        }
        Outcome {
            status,
            timed_out,
            stdout: std::mem::take(&mut self.stdout),
            stderr,
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A client of the test server, as the adapter tests connect them.
async fn connect(server: &TestServer, user: &str) -> Client {
    let builder = ClientBuilder::new(&format!("{user}@{DOMAIN}"), PASSWORD)
        .server(&server.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file);
    tokio::time::timeout(LIMIT, builder.connect())
        .await
        .expect("connecting in time")
        .expect("connecting")
}

async fn next_message(client: &mut Client) -> Message {
    loop {
        match tokio::time::timeout(LIMIT, client.next()).await.unwrap() {
            Some(ClientEvent::Stanza(Stanza::Message(message))) => return message,
            Some(_) => {}
            None => panic!("the client ended"),
        }
    }
}

async fn request(client: &Client, iq: Iq) -> Result<Iq, ClientError> {
    tokio::time::timeout(LIMIT, client.request(iq))
        .await
        .expect("an answer in time")
}

/// The bot comes online, answers a ping, disco#info and an unknown
/// request, echoes one message and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_bot_answers_and_echoes() {
    let server = TestServer::start(&["alice", "bob"]).await;
    let address = server.starttls.to_string();
    let ca = server.ca.ca_file.to_str().unwrap().to_owned();
    let alice_bare = format!("alice@{DOMAIN}");
    let mut bot = Example::spawn(
        "echo_bot",
        &[
            "--server",
            &address,
            "--ca",
            &ca,
            "--max-messages",
            "1",
            &alice_bare,
            PASSWORD,
        ],
    );
    let online = bot.wait_line("online as ").await;
    let bot_jid: FullJid = online.trim_start_matches("online as ").parse().unwrap();
    assert_eq!(bot_jid.bare_str(), alice_bare);
    let bot_jid = Jid::from(bot_jid);

    let mut bob = connect(&server, "bob").await;

    let pong = request(&bob, Iq::get(Some(bot_jid.clone()), Ping.to_element()))
        .await
        .unwrap();
    assert!(matches!(pong.kind, IqKind::Result(_)), "{pong:?}");

    let info = request(
        &bob,
        Iq::get(Some(bot_jid.clone()), DiscoInfo::request(None).to_element()),
    )
    .await
    .unwrap();
    let info = info.payload_as::<DiscoInfo>().unwrap().unwrap();
    assert!(info.has_identity("client", "bot"), "{info:?}");
    assert!(info.has_feature(ping::NS), "{info:?}");
    assert!(info.has_feature(disco::NS_INFO), "{info:?}");

    let unknown = minidom::Element::builder("query", "urn:xmpp-kit:test:unknown").build();
    match request(&bob, Iq::get(Some(bot_jid.clone()), unknown)).await {
        Err(ClientError::Stanza(error)) => {
            assert_eq!(error.condition, DefinedCondition::ServiceUnavailable);
        }
        other => panic!("{other:?}"),
    }

    // To the bare JID: the server picks the bot's resource.
    bob.send(Message::chat(alice_bare.parse().unwrap(), "echo me, bot"))
        .await
        .unwrap();
    let echo = next_message(&mut bob).await;
    assert_eq!(echo.body(), Some("echo me, bot"));
    assert_eq!(echo.from.as_ref(), Some(&bot_jid));

    let outcome = bot.finish().await;
    outcome.assert_success("echo_bot");
    assert!(
        outcome
            .stdout
            .iter()
            .any(|line| line.contains("echo me, bot")),
        "{outcome:#?}"
    );
    tokio::time::timeout(LIMIT, bob.close()).await.unwrap();
}

/// A sending example (`send_message` or `blocking_send`): delivered and
/// exit 0, then a wrong password: exit 1 saying why.
async fn sender_delivers_and_reports_bad_password(name: &'static str) {
    let server = TestServer::start(&["alice", "bob"]).await;
    let address = server.starttls.to_string();
    let ca = server.ca.ca_file.to_str().unwrap().to_owned();
    let alice = format!("alice@{DOMAIN}");
    let bob_bare = format!("bob@{DOMAIN}");
    let mut bob = connect(&server, "bob").await;
    let body = format!("hello from {name}");

    let sender = Example::spawn(
        name,
        &[
            "--server", &address, "--ca", &ca, &alice, PASSWORD, &bob_bare, &body,
        ],
    );
    let outcome = sender.finish().await;
    outcome.assert_success(name);
    let got = next_message(&mut bob).await;
    assert_eq!(got.body(), Some(body.as_str()));
    assert_eq!(got.from.as_ref().map(Jid::bare_str), Some(alice.as_str()));
    assert!(server.seen(|s| s.bodies.contains(&body)));

    let refused = Example::spawn(
        name,
        &[
            "--server",
            &address,
            "--ca",
            &ca,
            &alice,
            "not-the-password",
            &bob_bare,
            "never delivered",
        ],
    );
    let outcome = refused.finish().await;
    assert!(!outcome.timed_out, "{outcome:#?}");
    assert_eq!(outcome.status.code(), Some(1), "{outcome:#?}");
    assert!(
        outcome.stderr.to_lowercase().contains("authentication"),
        "{outcome:#?}"
    );
    assert!(!server.seen(|s| s.bodies.iter().any(|b| b == "never delivered")));
    tokio::time::timeout(LIMIT, bob.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_delivers_and_reports_bad_password() {
    sender_delivers_and_reports_bad_password("send_message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_send_delivers_and_reports_bad_password() {
    sender_delivers_and_reports_bad_password("blocking_send").await;
}

/// The component comes online, answers a ping and disco#info, echoes one
/// message from the address it was sent to, and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_answers_and_echoes() {
    let server = TestServer::start(&["alice"]).await;
    let address = server.component.to_string();
    let mut component = Example::spawn(
        "component",
        &[
            "--server",
            &address,
            "--max-messages",
            "1",
            "echo.example.test",
            COMPONENT_SECRET,
        ],
    );
    let online = component.wait_line("online as ").await;
    assert_eq!(online, "online as echo.example.test");

    let mut alice = connect(&server, "alice").await;
    let service: Jid = "echo.example.test".parse().unwrap();
    let pong = request(&alice, Iq::get(Some(service.clone()), Ping.to_element()))
        .await
        .unwrap();
    assert!(matches!(pong.kind, IqKind::Result(_)), "{pong:?}");
    let info = request(
        &alice,
        Iq::get(Some(service), DiscoInfo::request(None).to_element()),
    )
    .await
    .unwrap();
    let info = info.payload_as::<DiscoInfo>().unwrap().unwrap();
    assert!(info.has_identity("component", "generic"), "{info:?}");
    assert!(info.has_feature(ping::NS), "{info:?}");

    let user: Jid = "x@echo.example.test".parse().unwrap();
    alice
        .send(Message::chat(user.clone(), "echo me, component"))
        .await
        .unwrap();
    let echo = next_message(&mut alice).await;
    assert_eq!(echo.body(), Some("echo me, component"));
    assert_eq!(echo.from.as_ref(), Some(&user));

    let outcome = component.finish().await;
    outcome.assert_success("component");
    tokio::time::timeout(LIMIT, alice.close()).await.unwrap();
}

/// README's main command: the hub starts, a client logs in as a demo
/// account, receives pushed events, and the hub shuts down cleanly at the
/// end of `--run-for`.
#[cfg(feature = "hub")]
#[tokio::test]
async fn push_hub_serves_clients_and_pushes_events() {
    let dir = std::env::temp_dir().join(format!("xmpp-kit-push-hub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let ca = ca_file.to_str().unwrap().to_owned();
    let mut hub = Example::spawn(
        "push_hub",
        &[
            "--port",
            "0",
            "--component-port",
            "0",
            "--ca-file",
            &ca,
            "--database",
            dir.join("hub.db").to_str().unwrap(),
            "--run-for",
            "6",
        ],
    );
    let serving = hub.wait_line("push_hub: serving ").await;
    // "push_hub: serving localhost on 127.0.0.1:PORT (STARTTLS ...".
    let address = serving
        .split_whitespace()
        .nth(4)
        .expect("the address in the serving line")
        .to_owned();
    hub.wait_line("component push.localhost: online").await;
    let mut alice = ClientBuilder::new("alice@localhost", "alice-pw")
        .server(&address)
        .roots(Roots::ExtraOnly)
        .ca_file(&ca_file)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("alice could not log in to the hub at {address}: {e}"));
    alice
        .send(xmpp_kit::stanza::Presence::available())
        .await
        .unwrap();
    // alice is subscribed from the start: an event arrives within 2 s.
    let event = tokio::time::timeout(Duration::from_secs(5), next_message(&mut alice))
        .await
        .expect("a pushed event");
    assert_eq!(
        event.from.as_ref().map(Jid::as_str),
        Some("events@push.localhost")
    );
    let body = event.body().unwrap_or_default();
    assert!(body.starts_with("event #"), "{body}");
    // The server answers pings too.
    let answer = request(
        &alice,
        Iq::get(Some("localhost".parse().unwrap()), Ping.to_element()),
    )
    .await
    .unwrap();
    assert!(matches!(answer.kind, IqKind::Result(_)));
    // At the end of --run-for, a clean shutdown: alice is told.
    let outcome = hub.finish().await;
    outcome.assert_success("push_hub");
    assert!(
        outcome.stdout.iter().any(|l| l == "push_hub: stopped"),
        "{outcome:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free TCP port on loopback (bound, then released).
#[cfg(feature = "hub")]
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Issue 9's durability promise: the hub process is killed (SIGKILL) in
/// the middle of a flood and started again on the same database; the
/// clients resume their XEP-0198 sessions, and every message the hub
/// acknowledged arrives exactly once, in order.
#[cfg(feature = "hub")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_hub_killed_mid_flood_loses_and_repeats_nothing() {
    use xmpp_kit::rt::backoff::ReconnectPolicy;

    const N: usize = 400;
    let dir = std::env::temp_dir().join(format!("xmpp-kit-hub-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let database = dir.join("hub.db");
    let port = free_port().to_string();
    let component_port = free_port().to_string();
    let args = [
        "--port",
        port.as_str(),
        "--component-port",
        component_port.as_str(),
        "--ca-file",
        ca_file.to_str().unwrap(),
        "--database",
        database.to_str().unwrap(),
        "--run-for",
        "25",
    ];
    let mut hub = Example::spawn("push_hub", &args);
    hub.wait_line("push_hub: serving ").await;
    let address = format!("127.0.0.1:{port}");
    let mut policy = ReconnectPolicy::new();
    policy.initial = Duration::from_millis(100);
    policy.max = Duration::from_millis(500);
    let connect = |user: &str, password: &str| {
        ClientBuilder::new(&format!("{user}@localhost"), password)
            .server(&address)
            .roots(Roots::ExtraOnly)
            .ca_file(&ca_file)
            .reconnect(policy.clone())
            .connect()
    };
    let mut bob = tokio::time::timeout(LIMIT, connect("bob", "bob-pw"))
        .await
        .expect("bob logs in in time")
        .unwrap();
    bob.send_confirmed(xmpp_kit::stanza::Presence::available())
        .await
        .unwrap();
    let alice = tokio::time::timeout(LIMIT, connect("alice", "alice-pw"))
        .await
        .expect("alice logs in in time")
        .unwrap();
    let to: Jid = "bob@localhost".parse().unwrap();

    let collecting = tokio::spawn(async move {
        let mut got: Vec<usize> = Vec::new();
        let mut resumed = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, bob.next()).await {
                Err(_) | Ok(None) => break,
                Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                    let Some(body) = m.body() else { continue };
                    if body == "done" {
                        break;
                    }
                    if let Some(i) = body.strip_prefix("flood-") {
                        got.push(i.parse().unwrap());
                    }
                }
                Ok(Some(ClientEvent::Online { resumed: r, .. })) => {
                    assert!(r, "bob's session was not resumed after the restart");
                    resumed += 1;
                }
                Ok(Some(_)) => {}
            }
        }
        (got, resumed)
    });

    let mut restarted = None;
    for i in 0..N {
        if i == N / 2 {
            // SIGKILL: nothing is flushed or closed.
            let killed = tokio::time::timeout(LIMIT, hub.finish_now())
                .await
                .expect("the hub is killed in time");
            assert!(!killed.status.success(), "{killed:#?}");
            restarted = Some(Example::spawn("push_hub", &args));
        }
        tokio::time::timeout(
            LIMIT,
            alice.send(Message::chat(to.clone(), format!("flood-{i}"))),
        )
        .await
        .unwrap_or_else(|_| panic!("alice could not hand over message {i} in time"))
        .unwrap();
        if i % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut hub = restarted.unwrap();
    hub.wait_line("push_hub: serving ").await;
    // Everything before "done" is acknowledged once "done" is.
    tokio::time::timeout(
        Duration::from_secs(30),
        alice.send_confirmed(Message::chat(to.clone(), "done")),
    )
    .await
    .expect("alice's stanzas acknowledged in time")
    .unwrap();
    let (got, resumed) = collecting.await.unwrap();
    let expected: Vec<usize> = (0..N).collect();
    assert_eq!(got, expected, "each message exactly once, in order");
    assert!(resumed >= 1, "bob never resumed");
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The load generator against the hub: a small flood is delivered in full
/// with a RESULT line, idle clients all come online, and a wrong password
/// ends the run with the typed error and status 1.
#[cfg(feature = "hub")]
#[tokio::test]
async fn loadgen_floods_and_idles_against_the_hub() {
    let dir = std::env::temp_dir().join(format!("xmpp-kit-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let mut builder = xmpp_kit::hub::Hub::builder("localhost")
        .listen("127.0.0.1:0")
        .ca_file(&ca_file);
    for i in 0..4 {
        builder = builder.user(&format!("load{i}@localhost"), "load-pw");
    }
    let hub = builder.start().await.unwrap();
    let address = hub.c2s_addr().unwrap().to_string();
    let ca = ca_file.to_str().unwrap().to_owned();
    // The hub runs in this process: its pid is ours.
    let pid = std::process::id().to_string();
    let common = [
        "--server",
        address.as_str(),
        "--ca-file",
        ca.as_str(),
        "--pid",
        pid.as_str(),
        "--label",
        "test",
        "--timeout",
        "20",
    ];
    let result_of = |outcome: &Outcome| {
        outcome
            .stdout
            .last()
            .filter(|line| line.starts_with("RESULT "))
            .cloned()
            .unwrap_or_else(|| panic!("no RESULT line at the end: {outcome:#?}"))
    };

    let flood = [
        &common[..],
        &["--pairs", "2", "--messages", "50", "--window", "8"],
    ]
    .concat();
    let outcome = Example::spawn("loadgen", &flood).finish().await;
    outcome.assert_success("loadgen");
    let result = result_of(&outcome);
    for field in [
        "label=test",
        "mode=flood",
        "expected=100",
        "delivered=100",
        "duplicates=0",
        "out_of_order=0",
        "status=ok",
    ] {
        assert!(result.split(' ').any(|f| f == field), "{field}: {result}");
    }
    assert!(!result.contains("cpu_us_per_msg=na"), "{result}");

    let idle = [&common[..], &["--idle", "4", "--settle", "0"]].concat();
    let outcome = Example::spawn("loadgen", &idle).finish().await;
    outcome.assert_success("loadgen");
    let result = result_of(&outcome);
    for field in ["mode=idle", "clients=4", "online=4", "status=ok"] {
        assert!(result.split(' ').any(|f| f == field), "{field}: {result}");
    }

    let wrong = [&common[..], &["--pairs", "1", "--password", "wrong"]].concat();
    let outcome = Example::spawn("loadgen", &wrong).finish().await;
    assert!(
        !outcome.timed_out && !outcome.status.success(),
        "{outcome:#?}"
    );
    assert!(
        outcome.stderr.contains("could not log in")
            && outcome.stderr.contains("AuthenticationFailed"),
        "{outcome:#?}"
    );
    hub.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
