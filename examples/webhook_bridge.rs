//! A bridge between HTTP and XMPP push, as an XEP-0114 external component
//! (tokio): web applications send XMPP messages and publish pubsub items
//! with authenticated HTTP POSTs, and every message sent to the bridge's
//! domain is kept in a durable queue and POSTed to a webhook.
//!
//! ```text
//! WEBHOOK_BRIDGE_TOKEN='a long random token' cargo run --example webhook_bridge -- \
//!     --server 127.0.0.1:5347 --domain bridge.localhost --secret-file component-secret \
//!     --http-listen 127.0.0.1:8080 --callback http://127.0.0.1:9000/xmpp \
//!     --queue webhook_bridge.sqlite3
//! curl -H "Authorization: Bearer $WEBHOOK_BRIDGE_TOKEN" --data 'Deploy finished' \
//!     http://127.0.0.1:8080/message/alice@localhost
//! ```
//!
//! Any server that accepts components can host it: the embedded hub
//! (`Hub::builder("localhost").component("bridge.localhost", secret)`),
//! Prosody (`Component "bridge.localhost"` with a `component_secret`) or
//! ejabberd (an `ejabberd_service` listener). The XEP-0114 stream is not
//! encrypted: run the bridge on the server's host or a private network.
//!
//! # HTTP to XMPP
//!
//! Every request needs `Authorization: Bearer TOKEN`, the token of
//! `--token-file` or of the environment variable `WEBHOOK_BRIDGE_TOKEN` (at
//! least 16 characters). It is compared in constant time (as SHA-256
//! digests, so its length does not leak either). A missing or wrong token
//! gets 401 before the body is read. Bodies are at most 64 KiB (413
//! beyond). At most 64 HTTP connections are served at once (more wait in the
//! listen backlog), so at most 64 requests are in flight; a connection idle
//! for 30 s (or `--timeout` + 10 s if longer) is closed. Errors are JSON:
//! `{"error": "what went wrong", ...}`.
//!
//! `POST /message/{jid}`: the body (UTF-8 text) is sent as a chat message to
//! `jid` (a full JID's `/` may stay as it is) from `bridge@DOMAIN`. Query
//! parameters: `type=chat|normal|headline` (default `chat`), `from=NAME` to
//! send from `NAME@DOMAIN`. Answers:
//! - 202 `{"id": ID}` (the message's stanza id): the XMPP server has read
//!   the message. XEP-0114 has no acknowledgements, so the bridge sends a
//!   ping to the recipient's domain right after the message and answers
//!   once that ping is answered: streams are ordered, so the server has taken
//!   the message by then, and an error it returned at once (an unknown or
//!   offline account, say) came back first. 202 does not mean that the
//!   recipient read it: XMPP has no end-to-end acknowledgement.
//! - 502 `{"error", "condition", "text", "id"}`: the server bounced the
//!   message (`condition` is the XMPP error condition, such as
//!   `service-unavailable`).
//! - 503: not connected to the XMPP server (the bridge is reconnecting), or
//!   the stream is congested: try again later (`Retry-After` says when).
//! - 504 `{"error", "id"}`: sent, but no confirmation within `--timeout`
//!   (default 10 s): it may or may not arrive.
//! - 400: an invalid JID, query, or body (empty, not UTF-8, or with
//!   characters XML cannot carry).
//!
//! `POST /publish/{service}/{node}`: publishes an item to the XEP-0060 node
//! `node` (which may contain `/`) of the pubsub service `service` (a JID such
//! as `pubsub.localhost`) with an iq set from `bridge@DOMAIN` (or `from=NAME`).
//! The body is the item's payload: one XML element with a namespace
//! (`Content-Type` `application/xml`, `text/xml`, `*+xml` or none), in the
//! restricted XML of XMPP streams (UTF-8, no DTD, comments or processing
//! instructions but an XML declaration, at most 32 levels deep), or text
//! (`Content-Type: text/plain`) that is wrapped into
//! `<entry xmlns='urn:xmpp-kit:webhook'>TEXT</entry>`. Query: `item_id=ID`
//! (default: the service picks one). Whether the node must exist and who may
//! publish is the service's configuration. Answers:
//! - 200 `{"id": ITEM_ID, "node", "service"}` once the service answered with
//!   a result (`id` is null if neither the request nor the result named one).
//! - 502 `{"error", "condition", "text"}` when the service answered an error
//!   (`item-not-found`, `forbidden`, or `service-unavailable` and
//!   `remote-server-not-found` when there is no such service).
//! - 504 when it did not answer within `--timeout`: the item may still have
//!   been published.
//! - 400 for a bad JID, an empty node or malformed XML, 415 for another
//!   content type, 503 as above.
//!
//! # XMPP to HTTP
//!
//! Every message to `DOMAIN` or to any address at it (`anything@DOMAIN`),
//! of any type but `error`, with a body, goes to the queue; messages without
//! a body (chat states, receipts) are dropped with a log line. Pings and
//! disco#info queries are answered, other requests refused with
//! `service-unavailable`, presences ignored.
//!
//! The queue is an SQLite database (`--queue`, WAL, `synchronous=FULL`) of
//! at most `--queue-limit` entries (default 10000). A message is accepted
//! when its entry is committed: there is nothing else to acknowledge, since
//! the component protocol has no acknowledgements. When the queue is full
//! the sender gets a `resource-constraint` error (type `wait`) and nothing
//! is stored; when the database fails, `internal-server-error`. A message
//! the server had written to the stream when the bridge died, but that was
//! not yet committed, is lost without an error: neither side can know.
//!
//! Each entry is POSTed to `--callback` as JSON
//! `{"id", "from", "to", "body", "stamp"}`: `id` is the delivery id (32 hex
//! digits, random, the same for every attempt and across restarts), `from`
//! the sender as stamped by the server, `to` the address at `DOMAIN`, `stamp`
//! the arrival at the bridge (XEP-0082, UTC, milliseconds). Headers:
//! `Content-Type: application/json`, `X-Delivery-Id: ID` and
//! `X-Signature: sha256=HEX`, the HMAC-SHA256 of the exact body bytes keyed
//! with the token (receivers compute it over the raw body and compare in
//! constant time).
//!
//! Delivery rules:
//! - A 2xx answer within 10 s is a success; the entry is then deleted. The
//!   response body is read (up to 64 KiB) and ignored.
//! - Anything else (another status, a refused or broken connection, 10 s
//!   without an answer) is a failed attempt: the same entry is tried again
//!   after 0.5 s, doubling up to 60 s, each delay with jitter (between half
//!   and all of it). A success starts the delays over.
//! - One POST at a time, in arrival order. The oldest entry blocks the
//!   others until it is delivered: a receiver that refuses one entry for
//!   good (a 4xx) stops the queue until it is fixed (or the row is deleted
//!   by hand: `sqlite3 QUEUE "DELETE FROM queue WHERE id = 'ID'"`).
//! - Entries never expire: during a long outage they wait, and once the
//!   queue is full new messages are refused on the XMPP side, so senders
//!   learn of the outage instead of losing messages silently.
//! - At least once: an entry is deleted only after a 2xx. Duplicates happen
//!   only when the receiver took a request but the bridge did not see its
//!   2xx (the answer was lost or late, or the bridge died before deleting
//!   the entry); they carry the same `X-Delivery-Id`, on which receivers
//!   deduplicate.
//! - A restart reads the queue back: what waits is delivered first, in
//!   order. One bridge per queue file: the bridge holds SQLite's exclusive
//!   lock, and a second one fails at start.
//!
//! Callbacks are plain `http://`: HTTPS needs a TLS client (hyper-rustls or
//! reqwest with a TLS feature), which this example leaves out to stay small.
//! The signature authenticates the payload but does not hide it: keep the
//! receiver on the same host or a private network, or put a TLS-terminating
//! proxy next to the bridge.
//!
//! # Running
//!
//! The bridge reconnects after the XMPP stream ends (1 s doubling to 60 s,
//! with jitter), also at start; HTTP requests get 503 meanwhile and queued
//! deliveries go on. A wrong secret or a domain the server does not know
//! ends it with exit status 1 instead of retrying forever. `--run-for SECS`
//! stops it after SECS seconds; Ctrl-C and SIGTERM stop it cleanly too
//! (the XMPP stream is closed, HTTP requests in progress are answered).
//! Undelivered entries stay in the queue either way. It logs one line per event on
//! stdout.
//!
//! Command-line arguments are visible to other users of the machine: prefer
//! `--secret-file` or `WEBHOOK_BRIDGE_SECRET` to `--secret`; the token is
//! only read from a file or the environment.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt as _;
use hmac::Hmac;
use hmac::digest::{KeyInit as _, Mac as _};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use minidom::Element;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng as _};
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use xmpp_kit::component::{ComponentError, SendError};
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::delay::DateTime;
use xmpp_kit::ext::disco::Identity;
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::ext::pubsub::{Item, PubSub};
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::backoff::{Backoff, ReconnectPolicy};
use xmpp_kit::rt::component::{Component, ComponentClientError, ComponentEvent};
use xmpp_kit::stanza::{DefinedCondition, Iq, IqKind, Message, MessageType, Stanza, StanzaError};
use xmpp_kit::stream::StreamErrorCondition;
use xmpp_kit::xml::{Frame, Limits, StreamParser};

use common::log;

const USAGE: &str = "\
Usage: webhook_bridge --domain DOMAIN --callback URL [OPTIONS]

An XEP-0114 component that sends XMPP messages and publishes pubsub items
for authenticated HTTP POSTs, and POSTs every message sent to DOMAIN to the
callback URL from a durable queue. The token comes from --token-file or
WEBHOOK_BRIDGE_TOKEN; the component secret from --secret, --secret-file or
WEBHOOK_BRIDGE_SECRET.

Options:
  --server HOST:PORT     the server's component port (default 127.0.0.1:5347)
  --domain DOMAIN        the component's domain, such as bridge.localhost
  --secret SECRET        the component secret (visible to other users)
  --secret-file PATH     read the component secret from PATH
  --http-listen ADDR     where the HTTP API listens (default 127.0.0.1:8080)
  --token-file PATH      read the bearer token (16 characters or more) from PATH
  --callback URL         where incoming messages are POSTed (http:// only)
  --queue PATH           the SQLite queue (default webhook_bridge.sqlite3)
  --queue-limit N        at most N queued messages (default 10000)
  --timeout SECS         how long XMPP answers may take (default 10)
  --run-for SECS         stop after SECS seconds
  -h, --help             print this help
";

/// Where servers usually accept components.
const DEFAULT_SERVER: &str = "127.0.0.1:5347";
/// Where the HTTP API listens by default.
const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// The queue file by default.
const DEFAULT_QUEUE: &str = "webhook_bridge.sqlite3";
/// The queue's size by default.
const DEFAULT_QUEUE_LIMIT: u64 = 10_000;
/// How long XMPP answers may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The environment variable with the bearer token.
const TOKEN_ENV: &str = "WEBHOOK_BRIDGE_TOKEN";
/// The environment variable with the component secret.
const SECRET_ENV: &str = "WEBHOOK_BRIDGE_SECRET";
/// The shortest token accepted.
const MIN_TOKEN_LEN: usize = 16;
/// The largest request body.
const MAX_BODY: usize = 64 * 1024;
/// How much of a larger body is read and dropped before answering 413.
const MAX_DRAIN: usize = 1024 * 1024;
/// The most HTTP connections served at once.
const MAX_CONNECTIONS: usize = 64;
/// How long an HTTP connection may stay idle (at least).
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// How long a callback may take, from connecting to the end of the answer.
const CALLBACK_LIMIT: Duration = Duration::from_secs(10);
/// The largest callback answer read (a larger one closes the connection).
const MAX_ANSWER: usize = 64 * 1024;
/// The first delay between delivery attempts.
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// The largest delay between delivery attempts (and connection attempts).
const RETRY_MAX: Duration = Duration::from_secs(60);
/// How long connecting to the XMPP server may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// How long closing (the XMPP stream, the HTTP connections) may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);
/// HTTP requests waiting for the XMPP side.
const COMMAND_QUEUE: usize = MAX_CONNECTIONS;
/// How long the answer to the ping after a bounced message is waited for.
const SPENT_LIMIT: Duration = Duration::from_secs(60);
/// The sender of messages and publishes without `from=NAME`.
const DEFAULT_SENDER: &str = "bridge";
/// The namespace of the element that wraps text items.
const ENTRY_NS: &str = "urn:xmpp-kit:webhook";

/// The command line.
struct Args {
    server: String,
    domain: String,
    secret: String,
    http_listen: String,
    token: String,
    callback: Callback,
    queue: PathBuf,
    queue_limit: u64,
    timeout: Duration,
    run_for: Option<Duration>,
}

fn main() -> ExitCode {
    match parse_args() {
        Ok(Some(args)) => common::block_on("webhook_bridge", run(args)),
        Ok(None) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("webhook_bridge: {message}\n\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the command line and the environment: `None` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        args.push(
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?,
        );
    }
    let mut args = args.into_iter();
    let mut server = None;
    let mut domain = None;
    let mut secret = None;
    let mut secret_file = None;
    let mut http_listen = None;
    let mut token_file = None;
    let mut callback = None;
    let mut queue = None;
    let mut queue_limit = None;
    let mut timeout = None;
    let mut run_for = None;
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--server" => &mut server,
            "--domain" => &mut domain,
            "--secret" => &mut secret,
            "--secret-file" => &mut secret_file,
            "--http-listen" => &mut http_listen,
            "--token-file" => &mut token_file,
            "--callback" => &mut callback,
            "--queue" => &mut queue,
            "--queue-limit" => &mut queue_limit,
            "--timeout" => &mut timeout,
            "--run-for" => &mut run_for,
            other => return Err(format!("unknown argument {other:?}")),
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        if slot.replace(value).is_some() {
            return Err(format!("{arg} is given twice"));
        }
    }
    let domain = domain.ok_or("--domain is required")?;
    let secret = match (secret, secret_file) {
        (Some(_), Some(_)) => return Err("give --secret or --secret-file, not both".into()),
        (Some(secret), None) => secret,
        (None, Some(path)) => read_secret_file(&path, "--secret-file")?,
        (None, None) => std::env::var(SECRET_ENV).map_err(|_| {
            format!("the component secret is missing: --secret, --secret-file or {SECRET_ENV}")
        })?,
    };
    if secret.is_empty() {
        return Err("the component secret is empty".into());
    }
    let token = match token_file {
        Some(path) => read_secret_file(&path, "--token-file")?,
        None => std::env::var(TOKEN_ENV)
            .map_err(|_| format!("the bearer token is missing: --token-file or {TOKEN_ENV}"))?,
    };
    if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace) {
        return Err(format!(
            "the bearer token must have {MIN_TOKEN_LEN} characters or more and no spaces"
        ));
    }
    let callback = parse_callback(&callback.ok_or("--callback is required")?)?;
    let queue_limit = match queue_limit {
        Some(n) => match n.parse::<u64>() {
            Ok(n) if n > 0 && i64::try_from(n).is_ok() => n,
            _ => return Err(format!("--queue-limit needs a number above 0, not {n:?}")),
        },
        None => DEFAULT_QUEUE_LIMIT,
    };
    Ok(Some(Args {
        server: server.unwrap_or_else(|| DEFAULT_SERVER.to_owned()),
        domain,
        secret,
        http_listen: http_listen.unwrap_or_else(|| DEFAULT_HTTP.to_owned()),
        token,
        callback,
        queue: PathBuf::from(queue.unwrap_or_else(|| DEFAULT_QUEUE.to_owned())),
        queue_limit,
        timeout: timeout
            .map(|s| seconds(&s, "--timeout"))
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT),
        run_for: run_for.map(|s| seconds(&s, "--run-for")).transpose()?,
    }))
}

/// A whole number of seconds above 0.
fn seconds(value: &str, option: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{option} needs a number of seconds above 0, not {value:?}"
        )),
    }
}

/// A secret kept in a file: its content without the final line break.
fn read_secret_file(path: &str, option: &str) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{option}: cannot read {path}: {e}"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// Where deliveries go: an `http://` URL taken apart.
#[derive(Debug, Clone)]
struct Callback {
    /// `host:port` as written, for the `Host` header and messages.
    authority: String,
    host: String,
    port: u16,
    /// The path and query.
    target: String,
}

fn parse_callback(url: &str) -> Result<Callback, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("--callback {url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "--callback: https:// needs a TLS client, which this example leaves \
                        out (see its documentation); use http:// to a receiver on this host or \
                        a private network, or a local TLS-terminating proxy"
                    .into(),
            );
        }
        _ => return Err(format!("--callback {url:?} is not an http:// URL")),
    }
    let authority = uri
        .authority()
        .filter(|a| !a.as_str().contains('@'))
        .ok_or_else(|| format!("--callback {url:?} needs a host (and no user name)"))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(Callback {
        authority: authority.as_str().to_owned(),
        host,
        port: authority.port_u16().unwrap_or(80),
        target: uri
            .path_and_query()
            .map_or("/", |target| target.as_str())
            .to_owned(),
    })
}

/// 32 bytes of seed: std's `RandomState` keys come from the operating
/// system's generator (the crate's own helper for this is private).
fn random_seed() -> [u8; 32] {
    use std::hash::{BuildHasher as _, Hasher as _};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_usize(i);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    seed
}

/// A stanza id: 16 random hex digits.
fn random_id(rng: &mut ChaCha20Rng) -> String {
    format!("{:016x}", rng.next_u64())
}

/// A seed drawn from `rng`.
fn seed_from(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    seed
}

async fn run(args: Args) -> Result<(), String> {
    let queue = Queue::open(&args.queue, args.queue_limit)?;
    let waiting = queue
        .len()
        .map_err(|e| format!("cannot read the queue {}: {e}", args.queue.display()))?;
    log(format_args!(
        "queue {}: {waiting} waiting (at most {})",
        args.queue.display(),
        args.queue_limit
    ));
    let queue = Arc::new(Mutex::new(queue));
    let listener = TcpListener::bind(&args.http_listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_listen))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_listen))?;

    let mut rng = ChaCha20Rng::from_seed(random_seed());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let wake = Arc::new(Notify::new());
    let token: Arc<str> = Arc::from(args.token.as_str());

    // HTTP to XMPP.
    let api = Api(Arc::new(ApiInner {
        token_digest: Sha256::digest(token.as_bytes()).into(),
        domain: args.domain.clone(),
        commands: commands_tx,
        timeout: args.timeout,
        ids: Mutex::new(ChaCha20Rng::from_seed(seed_from(&mut rng))),
    }));
    let idle = IDLE_LIMIT.max(args.timeout.saturating_add(Duration::from_secs(10)));
    let listener = LimitedListener {
        listener,
        permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        idle,
    };
    let mut stopped = stop_rx.clone();
    let server = axum::serve(listener, routes(api)).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(async move { server.await });
    log(format_args!("http: listening on {http_addr}"));

    // XMPP to HTTP.
    let deliverer = tokio::spawn(deliver(
        Arc::clone(&queue),
        Arc::clone(&wake),
        args.callback.clone(),
        Arc::clone(&token),
        seed_from(&mut rng),
    ));

    let stopper = Arc::clone(&stop_tx);
    let run_for = args.run_for;
    let stopping = tokio::spawn(async move {
        let interrupted = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let over = async {
            match run_for {
                Some(run_for) => tokio::time::sleep(run_for).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = interrupted => log(format_args!("interrupted, stopping")),
            () = terminated() => log(format_args!("terminated, stopping")),
            () = over => log(format_args!("run time over, stopping")),
        }
        let _ = stopper.send(true);
    });

    let xmpp = Xmpp {
        server: args.server,
        domain: args.domain,
        secret: args.secret,
        commands: commands_rx,
        stop: stop_rx,
        queue,
        wake,
        backoff: Backoff::new(
            policy(Duration::from_secs(1), RETRY_MAX),
            seed_from(&mut rng),
        ),
        rng,
        pending: Pending::default(),
    };
    let result = xmpp.run().await;

    // Whatever ended the XMPP side (a stop, a final error) ends the rest.
    let _ = stop_tx.send(true);
    stopping.abort();
    if tokio::time::timeout(CLOSE_LIMIT, server).await.is_err() {
        log(format_args!(
            "http: connections still open, stopping anyway"
        ));
    }
    deliverer.abort();
    log(format_args!("stopped"));
    result
}

/// Resolves at SIGTERM (what service managers send); never elsewhere.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            terminate.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// Delays from `first`, doubling up to `max`, forever, with jitter.
fn policy(first: Duration, max: Duration) -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new();
    policy.initial = first;
    policy.max = max;
    policy.multiplier = 2;
    policy.max_attempts = None;
    policy
}

// ---------------------------------------------------------------------------
// The queue.

/// One queued message.
#[derive(Debug, Clone)]
struct Entry {
    /// The delivery id.
    id: String,
    from: String,
    to: String,
    body: String,
    stamp: String,
}

impl Entry {
    /// The callback's body.
    fn to_json(&self) -> String {
        json!({
            "id": self.id,
            "from": self.from,
            "to": self.to,
            "body": self.body,
            "stamp": self.stamp,
        })
        .to_string()
    }
}

/// What [`Queue::push`] did.
enum Pushed {
    /// Stored; this many entries wait now.
    Stored(u64),
    /// Refused: the queue is full.
    Full,
}

/// The durable queue: one SQLite database, used by one bridge at a time.
struct Queue {
    db: Connection,
    limit: u64,
}

impl Queue {
    fn open(path: &FsPath, limit: u64) -> Result<Self, String> {
        let failed = |e: rusqlite::Error| {
            let hint = if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) {
                " (is another bridge using it?)"
            } else {
                ""
            };
            format!("cannot open the queue {}: {e}{hint}", path.display())
        };
        let db = Connection::open(path).map_err(failed)?;
        db.busy_timeout(Duration::from_millis(500))
            .map_err(failed)?;
        // Exclusive before WAL: the lock, once taken, is kept until the
        // bridge ends, and no shared-memory file is needed.
        db.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(failed)?;
        let mode: String = db
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(failed)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "cannot open the queue {}: it cannot use WAL (journal mode {mode})",
                path.display()
            ));
        }
        // A commit reaches the disk before the message counts as accepted.
        db.pragma_update(None, "synchronous", "FULL")
            .map_err(failed)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS queue (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL UNIQUE,
                 sender TEXT NOT NULL,
                 recipient TEXT NOT NULL,
                 body TEXT NOT NULL,
                 stamp TEXT NOT NULL
             );
             BEGIN EXCLUSIVE;
             COMMIT;",
        )
        .map_err(failed)?;
        Ok(Self { db, limit })
    }

    /// Stores `entry` unless the queue is full.
    fn push(&mut self, entry: &Entry) -> rusqlite::Result<Pushed> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let count: i64 = tx.query_row("SELECT count(*) FROM queue", [], |row| row.get(0))?;
        let count = u64::try_from(count).unwrap_or(0);
        if count >= self.limit {
            // Dropping the transaction rolls it back.
            return Ok(Pushed::Full);
        }
        tx.execute(
            "INSERT INTO queue (id, sender, recipient, body, stamp) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![entry.id, entry.from, entry.to, entry.body, entry.stamp],
        )?;
        tx.commit()?;
        Ok(Pushed::Stored(count + 1))
    }

    /// The entry to deliver next.
    fn oldest(&self) -> rusqlite::Result<Option<Entry>> {
        self.db
            .query_row(
                "SELECT id, sender, recipient, body, stamp FROM queue ORDER BY seq LIMIT 1",
                [],
                |row| {
                    Ok(Entry {
                        id: row.get(0)?,
                        from: row.get(1)?,
                        to: row.get(2)?,
                        body: row.get(3)?,
                        stamp: row.get(4)?,
                    })
                },
            )
            .optional()
    }

    /// Deletes a delivered entry; returns how many wait still.
    fn remove(&self, id: &str) -> rusqlite::Result<u64> {
        self.db.execute("DELETE FROM queue WHERE id = ?1", [id])?;
        self.len()
    }

    fn len(&self) -> rusqlite::Result<u64> {
        let count: i64 = self
            .db
            .query_row("SELECT count(*) FROM queue", [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// Runs `f` on the queue in tokio's blocking pool (SQLite waits for the
/// disk).
async fn with_queue<T: Send + 'static>(
    queue: &Arc<Mutex<Queue>>,
    f: impl FnOnce(&mut Queue) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    let queue = Arc::clone(queue);
    tokio::task::spawn_blocking(move || {
        let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut queue)
    })
    .await
    .map_err(|e| format!("the queue task failed: {e}"))?
    .map_err(|e| e.to_string())
}

/// The arrival time, XEP-0082 in UTC with milliseconds.
fn now_stamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    DateTime::from_unix_timestamp(seconds)
        .and_then(|time| time.with_fraction(&format!("{:03}", now.subsec_millis())))
        .map_or_else(
            |_| "1970-01-01T00:00:00Z".to_owned(),
            |time| time.to_string(),
        )
}

// ---------------------------------------------------------------------------
// XMPP to HTTP: delivery.

/// Delivers the queue to the callback, oldest first, for ever.
async fn deliver(
    queue: Arc<Mutex<Queue>>,
    wake: Arc<Notify>,
    callback: Callback,
    token: Arc<str>,
    seed: [u8; 32],
) {
    let mut backoff = Backoff::new(policy(RETRY_FIRST, RETRY_MAX), seed);
    let mut client = HttpClient {
        callback,
        connection: None,
    };
    // The entry being tried and its attempts so far.
    let mut attempts: (String, u32) = (String::new(), 0);
    loop {
        let entry = match with_queue(&queue, |queue| queue.oldest()).await {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                wake.notified().await;
                continue;
            }
            Err(error) => {
                let delay = backoff.next_delay().unwrap_or(RETRY_MAX);
                log(format_args!(
                    "queue: cannot read the next entry: {error}; retrying in {:.1?}",
                    delay
                ));
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        if attempts.0 != entry.id {
            attempts = (entry.id.clone(), 0);
        }
        attempts.1 = attempts.1.saturating_add(1);
        let attempt = attempts.1;
        let body = entry.to_json();
        let outcome = match sign(&token, body.as_bytes()) {
            Ok(signature) => {
                tokio::time::timeout(CALLBACK_LIMIT, client.post(&entry.id, body, &signature))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {CALLBACK_LIMIT:?}")))
            }
            Err(error) => Err(error),
        };
        let failure = match outcome {
            Ok(status) if status.is_success() => {
                let id = entry.id.clone();
                match with_queue(&queue, move |queue| queue.remove(&id)).await {
                    Ok(waiting) => {
                        log(format_args!(
                            "delivered {} (attempt {attempt}, HTTP {}; {waiting} waiting)",
                            entry.id,
                            status.as_u16()
                        ));
                        backoff.reset();
                        continue;
                    }
                    // It will be delivered again: a duplicate, as the
                    // rules allow.
                    Err(error) => format!(
                        "HTTP {} but the entry cannot be deleted: {error}",
                        status.as_u16()
                    ),
                }
            }
            Ok(status) => format!("HTTP {status}"),
            Err(error) => error,
        };
        let delay = backoff.next_delay().unwrap_or(RETRY_MAX);
        log(format_args!(
            "delivery of {} failed (attempt {attempt}): {failure}; retrying in {:.1?}",
            entry.id, delay
        ));
        tokio::time::sleep(delay).await;
    }
}

/// `sha256=HEX`: the HMAC-SHA256 of `body` keyed with the token.
fn sign(token: &str, body: &[u8]) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())
        .map_err(|e| format!("cannot key the signature: {e}"))?;
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut signature = String::from("sha256=");
    for byte in digest.iter() {
        signature.push_str(&format!("{byte:02x}"));
    }
    Ok(signature)
}

/// An HTTP/1.1 client for the callback, keeping one connection alive.
struct HttpClient {
    callback: Callback,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    /// POSTs one delivery; the answer's status.
    async fn post(
        &mut self,
        id: &str,
        body: String,
        signature: &str,
    ) -> Result<StatusCode, String> {
        // The connection is put back only after a complete exchange.
        let reused = match self.connection.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match reused {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        sender
            .ready()
            .await
            .map_err(|e| format!("the connection failed: {e}"))?;
        let request = Request::post(self.callback.target.as_str())
            .header(header::HOST, self.callback.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "xmpp-kit-webhook-bridge")
            .header("x-delivery-id", id)
            .header("x-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot make the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("the request failed: {e}"))?;
        let status = response.status();
        if Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .is_ok()
        {
            self.connection = Some(sender);
        }
        Ok(status)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let callback = &self.callback;
        let stream = TcpStream::connect((callback.host.as_str(), callback.port))
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", callback.authority))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("cannot talk HTTP to {}: {e}", callback.authority))?;
        // Ends when the sender is dropped or the peer closes.
        drop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        Ok(sender)
    }
}

// ---------------------------------------------------------------------------
// The XMPP side.

/// Why an HTTP request could not be carried out on the XMPP side.
#[derive(Debug)]
enum Failure {
    /// Not connected to the server.
    Offline,
    /// The stream's output queue is full.
    Busy,
    /// The stanza was refused before it was sent.
    Refused(String),
    /// The server or the service answered with an error.
    Error(StanzaError),
    /// Sent, but the confirmation could not be asked for.
    Unconfirmed(String),
}

/// What the HTTP side asks of the XMPP side.
enum Command {
    /// Send a message; answer once the server confirmed it.
    Message {
        message: Box<Message>,
        reply: oneshot::Sender<Result<(), Failure>>,
    },
    /// Send an iq request; answer with its answer.
    Request {
        iq: Box<Iq>,
        reply: oneshot::Sender<Result<Iq, Failure>>,
    },
}

impl Command {
    fn refuse(self, failure: Failure) {
        match self {
            Self::Message { reply, .. } => {
                let _ = reply.send(Err(failure));
            }
            Self::Request { reply, .. } => {
                let _ = reply.send(Err(failure));
            }
        }
    }
}

/// Who waits for an iq answer.
enum Waiter {
    /// The ping after a message: any answer confirms the message.
    Barrier {
        message_id: String,
        reply: oneshot::Sender<Result<(), Failure>>,
    },
    /// An HTTP request's iq.
    Request {
        reply: oneshot::Sender<Result<Iq, Failure>>,
    },
    /// The ping after a message that bounced: its answer is still to come,
    /// and is dropped (or forgotten after [`SPENT_LIMIT`]).
    Spent(Instant),
}

/// The iqs sent and not yet answered, by id, with the address they went
/// to (an answer from elsewhere is not theirs).
#[derive(Default)]
struct Pending {
    iqs: HashMap<String, (Jid, Waiter)>,
    /// Messages waiting for their confirmation: message id to ping id and
    /// recipient.
    messages: HashMap<String, (String, Jid)>,
}

impl Pending {
    /// An iq answer: true if someone waited for it.
    fn answer(&mut self, iq: Iq) -> bool {
        let ours = self
            .iqs
            .get(&iq.id)
            .is_some_and(|(to, _)| iq.from.as_ref() == Some(to));
        if !ours {
            return false;
        }
        match self.iqs.remove(&iq.id) {
            Some((_, Waiter::Barrier { message_id, reply })) => {
                self.messages.remove(&message_id);
                // Even an error means the server read what came before.
                let _ = reply.send(Ok(()));
            }
            Some((_, Waiter::Request { reply })) => {
                let _ = reply.send(Ok(iq));
            }
            Some((_, Waiter::Spent(_))) | None => {}
        }
        true
    }

    /// A message error: true if it bounced a message waiting for its
    /// confirmation.
    /// Only the recipient or its server may bounce a message.
    fn bounce(&mut self, message: &Message) -> bool {
        let Some(id) = message.id.as_ref() else {
            return false;
        };
        let bounced = self.messages.get(id).is_some_and(|(_, to)| {
            message.from.as_ref().is_some_and(|from| {
                from.bare_str() == to.bare_str() || from.as_str() == to.domain()
            })
        });
        if !bounced {
            return false;
        }
        let Some((ping, _)) = self.messages.remove(id) else {
            return false;
        };
        if let Some((to, Waiter::Barrier { reply, .. })) = self.iqs.remove(&ping) {
            let error = message
                .error
                .clone()
                .unwrap_or_else(|| StanzaError::new(DefinedCondition::UndefinedCondition));
            let _ = reply.send(Err(Failure::Error(error)));
            self.iqs.insert(ping, (to, Waiter::Spent(Instant::now())));
        }
        true
    }

    /// Forgets the waiters whose HTTP request gave up.
    fn sweep(&mut self) {
        self.iqs.retain(|_, (_, waiter)| match waiter {
            Waiter::Barrier { reply, .. } => !reply.is_closed(),
            Waiter::Request { reply } => !reply.is_closed(),
            Waiter::Spent(since) => since.elapsed() < SPENT_LIMIT,
        });
        let iqs = &self.iqs;
        self.messages.retain(|_, (ping, _)| iqs.contains_key(ping));
    }

    /// The stream ended: every waiter learns it (its sender is dropped).
    fn clear(&mut self) {
        self.iqs.clear();
        self.messages.clear();
    }
}

/// The component's side: connects and reconnects, queues incoming
/// messages, carries out the HTTP requests.
struct Xmpp {
    server: String,
    domain: String,
    secret: String,
    commands: mpsc::Receiver<Command>,
    stop: watch::Receiver<bool>,
    queue: Arc<Mutex<Queue>>,
    wake: Arc<Notify>,
    /// Delivery and ping ids.
    rng: ChaCha20Rng,
    backoff: Backoff,
    pending: Pending,
}

/// Why [`Xmpp::serve`] returned.
enum Served {
    Stop,
    Ended(String),
}

/// The next thing for [`Xmpp::serve`] to do.
#[allow(clippy::large_enum_variant)] // moved once, at once; boxing costs an allocation
enum Step {
    Event(Option<ComponentEvent>),
    Command(Option<Command>),
    Sweep,
    Stop,
}

impl Xmpp {
    /// Runs until stopped; `Err` when the server refuses the component for
    /// good (a wrong secret, an unknown domain).
    async fn run(mut self) -> Result<(), String> {
        loop {
            let Some(mut component) = self.connect().await? else {
                return Ok(());
            };
            self.backoff.reset();
            log(format_args!("online as {}", component.domain()));
            let served = self.serve(&mut component).await;
            self.pending.clear();
            match served {
                Served::Stop => {
                    if tokio::time::timeout(CLOSE_LIMIT, component.close())
                        .await
                        .is_err()
                    {
                        log(format_args!("the server did not close its side in time"));
                    } else {
                        log(format_args!("closed"));
                    }
                    return Ok(());
                }
                Served::Ended(reason) => {
                    log(format_args!("the XMPP stream ended: {reason}"));
                }
            }
        }
    }

    /// Connects, retrying with backoff; `None` when stopped meanwhile.
    async fn connect(&mut self) -> Result<Option<Component>, String> {
        loop {
            let (server, domain, secret) = (
                self.server.clone(),
                self.domain.clone(),
                self.secret.clone(),
            );
            let attempt = async move {
                tokio::time::timeout(CONNECT_LIMIT, Component::connect(&server, &domain, &secret))
                    .await
            };
            let Some(outcome) = self.offline(attempt).await else {
                return Ok(None);
            };
            let reason = match outcome {
                Ok(Ok(component)) => return Ok(Some(component)),
                Ok(Err(error)) if final_error(&error) => {
                    return Err(format!(
                        "cannot connect to {} as {}: {error}",
                        self.server, self.domain
                    ));
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "no answer in time".to_owned(),
            };
            let delay = self.backoff.next_delay().unwrap_or(RETRY_MAX);
            log(format_args!(
                "cannot connect to {} as {}: {reason}; retrying in {delay:.1?}",
                self.server, self.domain
            ));
            if self.offline(tokio::time::sleep(delay)).await.is_none() {
                return Ok(None);
            }
        }
    }

    /// Runs `future` while answering HTTP requests with 503; `None` when
    /// stopped first.
    async fn offline<T>(&mut self, future: impl Future<Output = T>) -> Option<T> {
        let mut future = std::pin::pin!(future);
        loop {
            tokio::select! {
                output = &mut future => return Some(output),
                command = self.commands.recv() => match command {
                    Some(command) => command.refuse(Failure::Offline),
                    None => return None,
                },
                _ = self.stop.wait_for(|stop| *stop) => return None,
            }
        }
    }

    /// Serves one stream until it ends or the bridge stops.
    async fn serve(&mut self, component: &mut Component) -> Served {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            let step = tokio::select! {
                event = component.next() => Step::Event(event),
                command = self.commands.recv() => Step::Command(command),
                _ = sweep.tick() => Step::Sweep,
                _ = self.stop.wait_for(|stop| *stop) => Step::Stop,
            };
            match step {
                Step::Event(Some(ComponentEvent::Stanza(stanza))) => {
                    self.incoming(component, stanza).await;
                }
                Step::Event(Some(ComponentEvent::Ended(None))) => {
                    return Served::Ended("the server closed it".into());
                }
                Step::Event(Some(ComponentEvent::Ended(Some(error)))) => {
                    return Served::Ended(error.to_string());
                }
                Step::Event(Some(other)) => log(format_args!("event: {other:?}")),
                Step::Event(None) => return Served::Ended("the connection is gone".into()),
                Step::Command(Some(command)) => self.outgoing(component, command).await,
                Step::Command(None) | Step::Stop => return Served::Stop,
                Step::Sweep => self.pending.sweep(),
            }
        }
    }

    async fn incoming(&mut self, component: &Component, stanza: Stanza) {
        match stanza {
            Stanza::Message(message) => self.message(component, message).await,
            Stanza::Iq(iq) => match iq.kind {
                IqKind::Result(_) | IqKind::Error { .. } => {
                    let (kind, from) = (iq.kind.as_str(), address(iq.from.as_ref()).to_owned());
                    if !self.pending.answer(iq) {
                        log(format_args!(
                            "ignored an iq {kind} from {from} that no request waits for (late?)"
                        ));
                    }
                }
                IqKind::Get(_) | IqKind::Set(_) => {
                    let identity =
                        Identity::new("component", "generic").with_name("webhook bridge");
                    if let Some(reply) = common::answer(&iq, identity) {
                        send_reply(component, reply).await;
                    }
                }
            },
            Stanza::Presence(presence) => {
                let kind = presence.kind.as_str().unwrap_or("available");
                log(format_args!(
                    "ignored a presence ({kind}) from {}",
                    address(presence.from.as_ref())
                ));
            }
        }
    }

    /// A message for the bridge: into the queue, or an error to the sender.
    async fn message(&mut self, component: &Component, message: Message) {
        let from = address(message.from.as_ref());
        if message.kind == MessageType::Error {
            if !self.pending.bounce(&message) {
                let condition = message
                    .error
                    .as_ref()
                    .map_or("unknown", |error| error.condition.as_str());
                log(format_args!("error message from {from}: {condition}"));
            }
            return;
        }
        let (Some(sender), Some(recipient), Some(body)) =
            (message.from.as_ref(), message.to.as_ref(), message.body())
        else {
            log(format_args!(
                "ignored a {} message without body from {from}",
                message.kind.as_str()
            ));
            return;
        };
        let entry = Entry {
            id: format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64()),
            from: sender.to_string(),
            to: recipient.to_string(),
            body: body.to_owned(),
            stamp: now_stamp(),
        };
        let (id, to) = (entry.id.clone(), entry.to.clone());
        let refusal = match with_queue(&self.queue, move |queue| queue.push(&entry)).await {
            Ok(Pushed::Stored(waiting)) => {
                log(format_args!(
                    "queued {id} from {from} to {to} ({waiting} waiting)"
                ));
                self.wake.notify_one();
                return;
            }
            Ok(Pushed::Full) => {
                log(format_args!(
                    "queue full: refused a message from {from} to {to}"
                ));
                StanzaError::new(DefinedCondition::ResourceConstraint)
                    .with_text("the bridge's queue is full; try again later")
            }
            Err(error) => {
                log(format_args!(
                    "queue: cannot store a message from {from} to {to}: {error}"
                ));
                StanzaError::new(DefinedCondition::InternalServerError)
                    .with_text("the bridge cannot store the message")
            }
        };
        if let Some(reply) = message.error_reply(refusal) {
            send_reply(component, reply).await;
        }
    }

    /// Carries out an HTTP request.
    async fn outgoing(&mut self, component: &Component, command: Command) {
        match command {
            Command::Message { message, reply } => {
                let (Some(to), Some(message_id)) = (message.to.clone(), message.id.clone()) else {
                    let _ = reply.send(Err(Failure::Refused("no recipient or id".into())));
                    return;
                };
                // The confirmation: a ping to the recipient's domain.
                let Ok(domain) = to.domain().parse::<Jid>() else {
                    let _ = reply.send(Err(Failure::Refused("invalid domain".into())));
                    return;
                };
                let Ok(own) = self.domain.parse::<Jid>() else {
                    let _ = reply.send(Err(Failure::Refused("invalid own domain".into())));
                    return;
                };
                if let Err(error) = component.send(*message).await {
                    let _ = reply.send(Err(failure(error)));
                    return;
                }
                let ping_id = random_id(&mut self.rng);
                let ping = Iq::get(Some(domain.clone()), Ping.to_element())
                    .with_id(ping_id.clone())
                    .with_from(own);
                if let Err(error) = component.send(ping).await {
                    let _ = reply.send(Err(Failure::Unconfirmed(error.to_string())));
                    return;
                }
                self.pending
                    .messages
                    .insert(message_id.clone(), (ping_id.clone(), to));
                self.pending
                    .iqs
                    .insert(ping_id, (domain, Waiter::Barrier { message_id, reply }));
            }
            Command::Request { iq, reply } => {
                let (Some(to), id) = (iq.to.clone(), iq.id.clone()) else {
                    let _ = reply.send(Err(Failure::Refused("no recipient".into())));
                    return;
                };
                match component.send(*iq).await {
                    Ok(()) => {
                        self.pending.iqs.insert(id, (to, Waiter::Request { reply }));
                    }
                    Err(error) => {
                        let _ = reply.send(Err(failure(error)));
                    }
                }
            }
        }
    }
}

/// Errors that retrying cannot mend: a wrong secret, a domain the server
/// does not serve.
fn final_error(error: &ComponentClientError) -> bool {
    matches!(
        error,
        ComponentClientError::Component(
            ComponentError::HandshakeFailed
                | ComponentError::Rejected(
                    StreamErrorCondition::HostUnknown | StreamErrorCondition::NotAuthorized
                )
        )
    )
}

fn failure(error: ComponentClientError) -> Failure {
    match error {
        ComponentClientError::Send(SendError::QueueFull(_)) => Failure::Busy,
        ComponentClientError::Send(SendError::Closed) | ComponentClientError::Disconnected => {
            Failure::Offline
        }
        ComponentClientError::Send(error) => Failure::Refused(error.to_string()),
        _ => Failure::Offline,
    }
}

/// Sends an answer to someone else's stanza; a failure is only logged.
async fn send_reply(component: &Component, reply: impl Into<Stanza>) {
    if let Err(error) = component.send(reply).await {
        log(format_args!("could not answer: {error}"));
    }
}

fn address(jid: Option<&Jid>) -> &str {
    jid.map_or("?", Jid::as_str)
}

// ---------------------------------------------------------------------------
// HTTP to XMPP: the API.

/// What the HTTP handlers share.
#[derive(Clone)]
struct Api(Arc<ApiInner>);

struct ApiInner {
    token_digest: [u8; 32],
    domain: String,
    commands: mpsc::Sender<Command>,
    timeout: Duration,
    /// Stanza ids: random, so that no one can guess the next one.
    ids: Mutex<ChaCha20Rng>,
}

fn routes(api: Api) -> Router {
    Router::new()
        .route("/message/{*jid}", post(post_message))
        .route("/publish/{service}/{*node}", post(post_publish))
        .method_not_allowed_fallback(async || {
            error(StatusCode::METHOD_NOT_ALLOWED, "only POST is allowed here")
        })
        .fallback(async || {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint: POST /message/{jid} or /publish/{service}/{node}",
            )
        })
        .with_state(api)
}

/// An answer: its status and JSON body. The headers follow from the
/// status: `WWW-Authenticate` with 401, `Retry-After` with 503.
struct Reply {
    status: StatusCode,
    body: serde_json::Value,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"webhook_bridge\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// `Ok` or `Err`, both answers (`Err` ends the request early).
type Answer = Result<Reply, Reply>;

async fn post_message(
    State(api): State<Api>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    let target = path.as_ref().map_or_else(
        |_| "?".to_owned(),
        |Path(jid)| jid.escape_debug().to_string(),
    );
    let reply = api
        .message(path, query, &headers, body)
        .await
        .unwrap_or_else(|reply| reply);
    log(format_args!(
        "http: POST /message/{target} -> {}",
        reply.status.as_u16()
    ));
    reply
}

async fn post_publish(
    State(api): State<Api>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    let target = path.as_ref().map_or_else(
        |_| "?".to_owned(),
        |Path((service, node))| format!("{}/{}", service.escape_debug(), node.escape_debug()),
    );
    let reply = api
        .publish(path, query, &headers, body)
        .await
        .unwrap_or_else(|reply| reply);
    log(format_args!(
        "http: POST /publish/{target} -> {}",
        reply.status.as_u16()
    ));
    reply
}

impl Api {
    async fn message(
        &self,
        path: Result<Path<String>, PathRejection>,
        query: Option<String>,
        headers: &HeaderMap,
        body: Body,
    ) -> Answer {
        self.authorize(headers)?;
        let Path(jid) = path.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
        let to: Jid = jid
            .parse()
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JID {jid:?}: {e}")))?;
        let query = parse_query(query, &["type", "from"])?;
        let kind = match query.get("type").map(String::as_str) {
            None | Some("chat") => MessageType::Chat,
            Some("normal") => MessageType::Normal,
            Some("headline") => MessageType::Headline,
            Some(other) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("type must be chat, normal or headline, not {other:?}"),
                ));
            }
        };
        let from = self.sender(query.get("from"))?;
        let body = read_body(headers, body).await?;
        let text = text_of(&body)?;
        if text.is_empty() {
            return Err(error(StatusCode::BAD_REQUEST, "the body is empty"));
        }
        let id = self.next_id();
        let message = Message::new(kind)
            .with_to(to)
            .with_from(from)
            .with_id(id.clone())
            .with_body(text);
        let (reply, answer) = oneshot::channel();
        self.command(Command::Message {
            message: Box::new(message),
            reply,
        })?;
        match tokio::time::timeout(self.0.timeout, answer).await {
            Ok(Ok(Ok(()))) => Ok(reply_json(StatusCode::ACCEPTED, json!({ "id": id }))),
            Ok(Ok(Err(failure))) => Err(failure_answer(failure, Some(&id), "the XMPP server")),
            Ok(Err(_)) => Err(reply_json(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "error": "the XMPP stream ended before the server confirmed the message: \
                              it may or may not arrive",
                    "id": id,
                }),
            )),
            Err(_) => Err(reply_json(
                StatusCode::GATEWAY_TIMEOUT,
                json!({
                    "error": "the message was sent, but the server did not confirm it in time: \
                              it may or may not arrive",
                    "id": id,
                }),
            )),
        }
    }

    async fn publish(
        &self,
        path: Result<Path<(String, String)>, PathRejection>,
        query: Option<String>,
        headers: &HeaderMap,
        body: Body,
    ) -> Answer {
        self.authorize(headers)?;
        let Path((service, node)) =
            path.map_err(|e| error(StatusCode::BAD_REQUEST, e.body_text()))?;
        let service_jid: Jid = service.parse().map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("invalid service JID {service:?}: {e}"),
            )
        })?;
        if node.is_empty() {
            return Err(error(StatusCode::BAD_REQUEST, "the node is empty"));
        }
        let query = parse_query(query, &["item_id", "from"])?;
        let item_id = query.get("item_id").cloned();
        if item_id.as_deref() == Some("") {
            return Err(error(StatusCode::BAD_REQUEST, "item_id is empty"));
        }
        let from = self.sender(query.get("from"))?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|value| {
                value
                    .to_str()
                    .unwrap_or("?")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|value| !value.is_empty());
        let body = read_body(headers, body).await?;
        let payload = match content_type.as_deref() {
            Some("text/plain") => Element::builder("entry", ENTRY_NS)
                .append(text_of(&body)?)
                .build(),
            None | Some("application/xml" | "text/xml") => parse_payload(&body)?,
            Some(xml) if xml.ends_with("+xml") => parse_payload(&body)?,
            Some(other) => {
                return Err(error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("the body must be XML or text/plain, not {other}"),
                ));
            }
        };
        let mut item = Item::new(payload);
        item.id.clone_from(&item_id);
        let iq = Iq::set(
            Some(service_jid),
            PubSub::publish(node.clone(), item).to_element(),
        )
        .with_id(self.next_id())
        .with_from(from);
        let (reply, answer) = oneshot::channel();
        self.command(Command::Request {
            iq: Box::new(iq),
            reply,
        })?;
        let answer = match tokio::time::timeout(self.0.timeout, answer).await {
            Ok(Ok(Ok(answer))) => answer,
            Ok(Ok(Err(failure))) => return Err(failure_answer(failure, None, "the service")),
            Ok(Err(_)) => {
                return Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the XMPP stream ended before the service answered: the item may or may \
                     not be published",
                ));
            }
            Err(_) => {
                return Err(error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the service did not answer in time: the item may or may not be published",
                ));
            }
        };
        match answer.kind {
            IqKind::Error { error, .. } => {
                Err(failure_answer(Failure::Error(*error), None, "the service"))
            }
            _ => {
                // The service names the item it made up (XEP-0060 7.1.2).
                let named = match answer.payload_as::<PubSub>() {
                    Some(Ok(PubSub::Publish { items, .. })) => {
                        items.into_iter().find_map(|item| item.id)
                    }
                    _ => None,
                };
                Ok(reply_json(
                    StatusCode::OK,
                    json!({ "id": named.or(item_id), "node": node, "service": service }),
                ))
            }
        }
    }

    /// 401 unless the request carries the token.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Reply> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let good = given.is_some_and(|token| {
            bool::from(
                Sha256::digest(token.as_bytes())
                    .as_slice()
                    .ct_eq(&self.0.token_digest),
            )
        });
        if good {
            return Ok(());
        }
        Err(error(
            StatusCode::UNAUTHORIZED,
            "a valid 'Authorization: Bearer TOKEN' header is required",
        ))
    }

    /// `NAME@DOMAIN`, `bridge@DOMAIN` by default.
    fn sender(&self, name: Option<&String>) -> Result<Jid, Reply> {
        let name = name.map_or(DEFAULT_SENDER, String::as_str);
        let bad = || {
            error(
                StatusCode::BAD_REQUEST,
                format!("from must be a user name (the part before @), not {name:?}"),
            )
        };
        if name.is_empty() || name.contains(['@', '/']) {
            return Err(bad());
        }
        format!("{name}@{}", self.0.domain)
            .parse()
            .map_err(|_| bad())
    }

    fn next_id(&self) -> String {
        random_id(&mut self.0.ids.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Hands a command to the XMPP side: 503 when it is swamped or gone.
    fn command(&self, command: Command) -> Result<(), Reply> {
        self.0
            .commands
            .try_send(command)
            .map_err(|_| unavailable("too many requests wait for the XMPP server; try again later"))
    }
}

/// The query's parameters, only `allowed` ones, each at most once.
fn parse_query(query: Option<String>, allowed: &[&str]) -> Result<HashMap<String, String>, Reply> {
    let mut parameters = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown query parameter {name:?} (known: {})",
                    allowed.join(", ")
                ),
            ));
        }
        if parameters
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("the query parameter {name:?} is given twice"),
            ));
        }
    }
    Ok(parameters)
}

/// The whole body, at most [`MAX_BODY`] bytes. A larger one is read on
/// (and dropped) up to [`MAX_DRAIN`] bytes, so that the client, still
/// writing, gets the 413 rather than a reset connection.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Bytes, Reply> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_DRAIN as u64) {
        return Err(too_large());
    }
    let mut data = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(chunk.len());
        if total > MAX_DRAIN {
            break;
        }
        if total <= MAX_BODY {
            data.extend_from_slice(&chunk);
        }
    }
    if total > MAX_BODY {
        return Err(too_large());
    }
    Ok(Bytes::from(data))
}

/// The body as text that XML can carry.
fn text_of(body: &[u8]) -> Result<&str, Reply> {
    let text = std::str::from_utf8(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not UTF-8 text"))?;
    // XML 1.0's Char production (Rust's char has no surrogates).
    let xml_char = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    if !text.chars().all(xml_char) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the body holds control characters that XML cannot carry",
        ));
    }
    Ok(text)
}

/// One XML element, parsed by the stream parser with its limits (no DTD,
/// comments or processing instructions; at most 32 levels).
fn parse_payload(body: &[u8]) -> Result<Element, Reply> {
    let bad = |why: String| error(StatusCode::BAD_REQUEST, format!("malformed XML: {why}"));
    let mut xml = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // An XML declaration is not an element: skip it.
    if xml.starts_with(b"<?xml") {
        let end = xml
            .windows(2)
            .position(|pair| pair == b"?>")
            .ok_or_else(|| bad("an unfinished XML declaration".into()))?;
        xml = xml.get(end + 2..).unwrap_or_default();
    }
    let mut limits = Limits::default();
    limits.max_stanza_bytes = MAX_BODY + 1024;
    let mut parser = StreamParser::new(limits);
    parser.set_authenticated(true);
    // RFC 7395 framing: every top-level element is a document of its own.
    parser.feed(b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
    parser.feed(xml);
    let mut element = None;
    loop {
        match parser.next_frame() {
            Ok(Some(Frame::Element(found))) => {
                if element.replace(found).is_some() {
                    return Err(bad("more than one element".into()));
                }
            }
            Ok(Some(Frame::Close)) => return Err(bad("<close/> is not a payload".into())),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    let element = element.ok_or_else(|| bad("no complete element".into()))?;
    if element.ns().is_empty() || element.ns() == "jabber:client" {
        return Err(bad("the element needs its own namespace (xmlns)".into()));
    }
    Ok(element)
}

fn reply_json(status: StatusCode, body: serde_json::Value) -> Reply {
    Reply { status, body }
}

fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    reply_json(status, json!({ "error": message.into() }))
}

fn unavailable(message: &str) -> Reply {
    error(StatusCode::SERVICE_UNAVAILABLE, message)
}

/// The answer for a [`Failure`]; `who` answered the errors.
fn failure_answer(failure: Failure, id: Option<&str>, who: &str) -> Reply {
    match failure {
        Failure::Offline => unavailable("not connected to the XMPP server; try again later"),
        Failure::Busy => unavailable("the XMPP stream is congested; try again later"),
        Failure::Refused(why) => error(
            StatusCode::BAD_REQUEST,
            format!("the stanza cannot be sent: {why}"),
        ),
        Failure::Error(stanza_error) => reply_json(
            StatusCode::BAD_GATEWAY,
            json!({
                "error": format!("{who} answered with an error"),
                "condition": stanza_error.condition.as_str(),
                "text": stanza_error.text(),
                "id": id,
            }),
        ),
        Failure::Unconfirmed(why) => reply_json(
            StatusCode::GATEWAY_TIMEOUT,
            json!({
                "error": format!("sent, but the confirmation could not be asked for: {why}"),
                "id": id,
            }),
        ),
    }
}

// ---------------------------------------------------------------------------
// HTTP connections: bounded in number and idle time.

/// A listener that serves at most as many connections as it has permits.
struct LimitedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedIo, SocketAddr) {
        loop {
            // The semaphore is never closed.
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                return std::future::pending().await;
            };
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let idle = self.idle;
                    return (
                        LimitedIo {
                            stream,
                            idle,
                            deadline: Box::pin(tokio::time::sleep(idle)),
                            _permit: permit,
                        },
                        peer,
                    );
                }
                Err(e) => {
                    // Out of file descriptors, say: wait, do not spin.
                    log(format_args!("http: cannot accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A served connection: holds its permit, fails once idle too long.
struct LimitedIo {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl LimitedIo {
    fn progressed(&mut self) {
        let next = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// While waiting: an error once the deadline passed.
    fn expired<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "idle HTTP connection",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for LimitedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx),
        }
    }
}

impl AsyncWrite for LimitedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, data) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|n| *n > 0) {
                    this.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.expired(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
