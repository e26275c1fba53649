//! A load generator for any XMPP server, built on the tokio [`Client`]
//! alone: it measures message throughput, latency and the server's CPU and
//! memory, so that servers can be compared on the same machine.
//!
//! ```text
//! # 10 sender/receiver pairs, 2000 messages each, 64 in flight per pair
//! cargo run --release --example loadgen -- --server 127.0.0.1:5222 \
//!     --domain localhost --ca-file ca.pem --pid "$(pidof prosody)" --label prosody
//! # 1000 idle clients: the server's memory per connection
//! cargo run --release --example loadgen -- --server 127.0.0.1:5222 \
//!     --domain localhost --ca-file ca.pem --idle 1000 --pid 1234
//! ```
//!
//! The accounts must exist: `{prefix}{i}@{domain}` with one password
//! (`load0@localhost` ... with `load-pw` by default). The interop runner
//! starts our hub, Prosody and ejabberd with such accounts
//! (`cargo test --release --all-features --test interop -- --serve
//! --accounts 2000`), and `scripts/loadbench.sh` runs this tool against
//! all three.
//!
//! Two modes:
//! - **flood** (the default): pair `i` is the sender `{prefix}{2i}` and
//!   the receiver `{prefix}{2i+1}` (bound to the resource `load`). Every
//!   sender sends its messages as fast as it may with at most `--window`
//!   of them sent but not yet received (the receiver hands the sender a
//!   credit for each message it gets). Each message id carries its send
//!   time, so receivers measure the latency. Logins are not timed.
//! - **idle** (`--idle N`): logs `N` clients in (a bounded number at a
//!   time), waits until all are online and a little more, and reports the
//!   server's memory growth per connection.
//!
//! With `--pid` (the server's process id; repeatable, values are summed)
//! the server's CPU time and resident memory are read from `/proc` before
//! and after the measured phase. The last line of output is one
//! `RESULT key=value ...` line for scripts. The whole run ends after
//! `--timeout` seconds at the latest, with exit status 1 and what was
//! delivered until then; login failures also end it with status 1.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio::sync::Semaphore;
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::backoff::ReconnectPolicy;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientEvent, ClientEvents, ClientHandle};
use xmpp_kit::stanza::{Message, MessageType, Presence, Stanza};

use common::log;

const USAGE: &str = "\
Usage: loadgen --server HOST:PORT [OPTIONS]

Floods an XMPP server with messages between pairs of clients (default),
or logs many idle clients in (--idle N), and reports throughput, latency
and the server's CPU and memory.

Connection:
  --server HOST:PORT        the server's client port (required)
  --domain DOMAIN           the accounts' domain (default localhost)
  --ca-file FILE            trust only the CA certificates of this PEM
                            file (repeatable; default: the system's roots)
  --direct-tls              TLS from the first byte (XEP-0368) instead of
                            STARTTLS
  --no-sm                   do not enable XEP-0198 stream management
  --user-prefix PREFIX      accounts are PREFIX0, PREFIX1, ... (default load)
  --password PASSWORD       every account's password (default load-pw)
Flood:
  --pairs P                 sender/receiver pairs (default 10)
  --messages M              messages per pair (default 2000)
  --window W                messages in flight per pair (default 64)
  --body-size BYTES         body length (default 100)
Idle:
  --idle N                  log N clients in and measure memory instead
  --settle SECS             wait this long once all are online (default 3)
Both:
  --login-concurrency C     logins at once (default 50)
  --pid PID                 the server's process, for CPU and memory
                            (repeatable: the values are summed)
  --label NAME              a name for the run in the RESULT line
  --threads N               client runtime threads (default: all cores)
  --timeout SECS            end the whole run after this long (default 300)
  -h, --help                print this help
";

/// How long closing the clients may take at the end.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);
/// The resource receivers bind.
const RESOURCE: &str = "load";

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    server: String,
    domain: String,
    ca_files: Vec<PathBuf>,
    direct_tls: bool,
    stream_management: bool,
    user_prefix: String,
    password: String,
    pairs: usize,
    messages: u64,
    window: usize,
    body_size: usize,
    idle: Option<usize>,
    settle: Duration,
    login_concurrency: usize,
    pids: Vec<u32>,
    label: String,
    threads: Option<usize>,
    timeout: Duration,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("loadgen: {message}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.idle {
            Some(clients) => idle(&args, clients).await,
            None => flood(&args).await,
        }
    });
    // Client tasks still running (after a timeout) are dropped, not awaited.
    runtime.shutdown_timeout(Duration::from_secs(1));
    common::exit("loadgen", result)
}

/// Reads the command line: `None` when help was asked for.
fn parse_args() -> Result<Option<Args>, String> {
    let mut raw = Vec::new();
    for arg in std::env::args_os().skip(1) {
        raw.push(
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?,
        );
    }
    let mut args = Args {
        server: String::new(),
        domain: "localhost".to_owned(),
        ca_files: Vec::new(),
        direct_tls: false,
        stream_management: true,
        user_prefix: "load".to_owned(),
        password: "load-pw".to_owned(),
        pairs: 10,
        messages: 2000,
        window: 64,
        body_size: 100,
        idle: None,
        settle: Duration::from_secs(3),
        login_concurrency: 50,
        pids: Vec::new(),
        label: String::new(),
        threads: None,
        timeout: Duration::from_secs(300),
    };
    let mut raw = raw.into_iter();
    while let Some(arg) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--server" => args.server = value()?,
            "--domain" => args.domain = value()?,
            "--ca-file" | "--ca" => args.ca_files.push(PathBuf::from(value()?)),
            "--direct-tls" => args.direct_tls = true,
            "--no-sm" => args.stream_management = false,
            "--user-prefix" => args.user_prefix = value()?,
            "--password" => args.password = value()?,
            "--pairs" => args.pairs = positive(&arg, &value()?)?,
            "--messages" => args.messages = positive(&arg, &value()?)?,
            "--window" => args.window = positive(&arg, &value()?)?,
            "--body-size" => args.body_size = number(&arg, &value()?)?,
            "--idle" => args.idle = Some(positive(&arg, &value()?)?),
            "--settle" => args.settle = Duration::from_secs(number(&arg, &value()?)?),
            "--login-concurrency" => args.login_concurrency = positive(&arg, &value()?)?,
            "--pid" => args.pids.push(positive(&arg, &value()?)?),
            "--label" => args.label = value()?,
            "--threads" => args.threads = Some(positive(&arg, &value()?)?),
            "--timeout" => args.timeout = Duration::from_secs(positive(&arg, &value()?)?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.server.is_empty() {
        return Err("--server HOST:PORT is required".to_owned());
    }
    if args.label.is_empty() {
        args.label.clone_from(&args.server);
    }
    Ok(Some(args))
}

/// A number, 0 allowed.
fn number<T: std::str::FromStr>(option: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{option} needs a number, not {text:?}"))
}

/// A number above 0.
fn positive<T: std::str::FromStr + PartialOrd + Default>(
    option: &str,
    text: &str,
) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(format!("{option} needs a number above 0, not {text:?}")),
    }
}

// ---------------------------------------------------------------- logins

/// The address of account `index`.
fn account(args: &Args, index: usize) -> String {
    format!("{}{index}@{}", args.user_prefix, args.domain)
}

/// Logs account `index` in (once: no reconnection, so that a lost
/// connection shows in the figures instead of being hidden).
async fn login(args: &Args, index: usize, resource: Option<&str>) -> Result<Client, String> {
    let jid = account(args, index);
    let mut builder = ClientBuilder::new(&jid, args.password.as_str())
        .server(&args.server)
        .direct_tls(args.direct_tls)
        .stream_management(args.stream_management)
        .reconnect(ReconnectPolicy::never());
    if let Some(resource) = resource {
        builder = builder.resource(resource);
    }
    if !args.ca_files.is_empty() {
        builder = builder.roots(Roots::ExtraOnly);
        for file in &args.ca_files {
            builder = builder.ca_file(file);
        }
    }
    builder
        .connect()
        .await
        .map_err(|error| format!("{jid} could not log in: {error} ({error:?})"))
}

/// Logs the accounts `indexes` in, `concurrency` at a time, each with
/// `resource`. On any failure the others are closed and the first few
/// errors returned.
async fn login_all(
    args: &Args,
    indexes: Vec<(usize, Option<&'static str>)>,
) -> Result<Vec<(usize, Client)>, String> {
    let total = indexes.len();
    let results: Vec<(usize, Result<Client, String>)> = futures::stream::iter(indexes)
        .map(|(index, resource)| async move { (index, login(args, index, resource).await) })
        .buffer_unordered(args.login_concurrency)
        .collect()
        .await;
    let mut clients = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for (index, result) in results {
        match result {
            Ok(client) => clients.push((index, client)),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        clients.sort_by_key(|(index, _)| *index);
        return Ok(clients);
    }
    close_all(
        clients
            .into_iter()
            .map(|(_, client)| client.handle())
            .collect(),
    )
    .await;
    let mut message = format!("{} of {total} logins failed:", errors.len());
    for error in errors.iter().take(5) {
        let _ = write!(message, "\n  {error}");
    }
    if errors.len() > 5 {
        let _ = write!(message, "\n  ...");
    }
    Err(message)
}

/// Closes every client cleanly, within [`CLOSE_LIMIT`] in all.
async fn close_all(handles: Vec<ClientHandle>) {
    let closing = futures::stream::iter(handles)
        .map(|handle| async move { handle.close().await })
        .buffer_unordered(100)
        .collect::<Vec<()>>();
    if tokio::time::timeout(CLOSE_LIMIT, closing).await.is_err() {
        log(format_args!(
            "some clients did not close within {} s",
            CLOSE_LIMIT.as_secs()
        ));
    }
}

// ---------------------------------------------------------------- server process

/// CPU seconds and resident memory of the server's processes.
#[derive(Debug, Clone, Copy)]
struct Usage {
    cpu_s: f64,
    rss_kib: u64,
}

/// The clock ticks per second that `/proc/PID/stat` counts in.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// The summed usage of `pids`, `None` without pids; an error when one
/// cannot be read (the server ended?).
fn usage(pids: &[u32], ticks: f64) -> Result<Option<Usage>, String> {
    if pids.is_empty() {
        return Ok(None);
    }
    let mut total = Usage {
        cpu_s: 0.0,
        rss_kib: 0,
    };
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|error| format!("cannot read /proc/{pid}/stat: {error}"))?;
        // The command name is in parentheses and may hold spaces: the
        // fields counted by proc(5) resume after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // Fields 14 (utime) and 15 (stime), counted from 1 with pid and
        // comm as 1 and 2: here 11 and 12 from 0 (state is 0).
        let ticks_used: Option<u64> = match (fields.get(11), fields.get(12)) {
            (Some(utime), Some(stime)) => utime
                .parse::<u64>()
                .ok()
                .zip(stime.parse::<u64>().ok())
                .map(|(u, s)| u + s),
            _ => None,
        };
        let ticks_used =
            ticks_used.ok_or_else(|| format!("cannot parse /proc/{pid}/stat: {stat:?}"))?;
        total.cpu_s += ticks_used as f64 / ticks;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|error| format!("cannot read /proc/{pid}/status: {error}"))?;
        let rss = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
        total.rss_kib += rss;
    }
    Ok(Some(total))
}

/// Our own CPU seconds (to see whether the load tool was the limit).
fn own_cpu(ticks: f64) -> Option<f64> {
    usage(&[std::process::id()], ticks)
        .ok()
        .flatten()
        .map(|usage| usage.cpu_s)
}

/// A figure for the RESULT line: `na` when unknown.
fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "na".to_owned(), |v| format!("{v:.decimals$}"))
}

// ---------------------------------------------------------------- flood

/// What one receiver saw.
#[derive(Debug, Default)]
struct PairStats {
    /// Which sequence numbers arrived.
    seen: Vec<bool>,
    unique: u64,
    duplicates: u64,
    out_of_order: u64,
    /// The highest sequence number so far.
    highest: Option<u64>,
    /// Latencies in nanoseconds, one per unique message.
    latencies: Vec<u64>,
    last_receive: Option<Instant>,
    /// Messages that were not ours or could not be read.
    strays: u64,
    /// Error messages that came back (to the sender or the receiver).
    errors: u64,
    /// Why a client of the pair went offline, if it did.
    disconnected: Option<String>,
    first_send: Option<Instant>,
    sent: u64,
    send_failed: Option<String>,
}

impl PairStats {
    /// Records message `seq`, `latency_nanos` after it was sent; true
    /// when it is new.
    fn receive(&mut self, seq: u64, latency_nanos: u64, now: Instant) -> bool {
        let Some(slot) = usize::try_from(seq)
            .ok()
            .and_then(|seq| self.seen.get_mut(seq))
        else {
            self.strays += 1;
            return false;
        };
        if *slot {
            self.duplicates += 1;
            return false;
        }
        *slot = true;
        self.unique += 1;
        if self.highest.is_some_and(|highest| seq < highest) {
            self.out_of_order += 1;
        } else {
            self.highest = Some(seq);
        }
        self.latencies.push(latency_nanos);
        self.last_receive = Some(now);
        true
    }
}

type Stats = Arc<Mutex<PairStats>>;

fn lock(stats: &Stats) -> std::sync::MutexGuard<'_, PairStats> {
    stats.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The id of message `seq` of `pair`, sent `nanos` after `epoch`.
fn message_id(pair: usize, seq: u64, nanos: u64) -> String {
    format!("lg-{pair}-{seq}-{nanos}")
}

/// `(pair, seq, nanos)` from a [`message_id`].
fn parse_id(id: &str) -> Option<(usize, u64, u64)> {
    let mut parts = id.strip_prefix("lg-")?.split('-');
    let pair = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let nanos = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((pair, seq, nanos))
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Reads the receiver's events until all `messages` of `pair` arrived,
/// giving the sender a credit for each new one.
async fn receive(
    mut events: ClientEvents,
    pair: usize,
    messages: u64,
    epoch: Instant,
    credits: Arc<Semaphore>,
    stats: Stats,
) {
    while let Some(event) = events.next().await {
        match event {
            ClientEvent::Stanza(Stanza::Message(message)) => {
                let now = Instant::now();
                let now_nanos = nanos_since(epoch);
                let mut stats = lock(&stats);
                if message.kind == MessageType::Error {
                    stats.errors += 1;
                    continue;
                }
                match message.id.as_deref().and_then(parse_id) {
                    Some((from_pair, seq, sent)) if from_pair == pair => {
                        if stats.receive(seq, now_nanos.saturating_sub(sent), now) {
                            credits.add_permits(1);
                        }
                    }
                    _ => stats.strays += 1,
                }
                if stats.unique == messages {
                    return;
                }
            }
            ClientEvent::Disconnected { error, .. } => {
                lock(&stats).disconnected = Some(format!("receiver: {error}"));
                return;
            }
            _ => {}
        }
    }
}

/// One pair's sending side.
struct Sending {
    sender: ClientHandle,
    to: Jid,
    pair: usize,
    credits: Arc<Semaphore>,
    stats: Stats,
}

/// Sends the pair's messages, at most `window` ahead of the receiver.
async fn send(sending: Sending, messages: u64, body: Arc<str>, epoch: Instant) {
    let Sending {
        sender,
        to,
        pair,
        credits,
        stats,
    } = sending;
    for seq in 0..messages {
        match credits.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return, // closed: the run is over
        }
        let nanos = nanos_since(epoch);
        if seq == 0 {
            lock(&stats).first_send = Some(Instant::now());
        }
        let message = Message::chat(to.clone(), &*body).with_id(message_id(pair, seq, nanos));
        let result = sender.send(message).await;
        let mut stats = lock(&stats);
        match result {
            Ok(()) => stats.sent += 1,
            Err(error) => {
                stats.send_failed = Some(format!("{error} ({error:?})"));
                return;
            }
        }
    }
}

/// Reads the sender's events: errors bounced to it, a lost connection.
async fn drain_sender(mut events: ClientEvents, stats: Stats) {
    while let Some(event) = events.next().await {
        match event {
            ClientEvent::Stanza(Stanza::Message(message)) if message.kind == MessageType::Error => {
                lock(&stats).errors += 1;
            }
            ClientEvent::Disconnected { error, .. } => {
                lock(&stats).disconnected = Some(format!("sender: {error}"));
                return;
            }
            _ => {}
        }
    }
}

/// The `p`th percentile (nearest rank) of sorted values, in ms.
fn percentile_ms(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).map(|nanos| *nanos as f64 / 1e6)
}

async fn flood(args: &Args) -> Result<(), String> {
    let epoch = Instant::now();
    let deadline = tokio::time::Instant::now() + args.timeout;
    let ticks = clock_ticks();
    // A wrong --pid shows before the logins.
    usage(&args.pids, ticks)?;
    let pairs = args.pairs;
    let expected = pairs as u64 * args.messages;
    log(format_args!(
        "flood: {pairs} pair(s) x {} message(s) of {} bytes, {} in flight per pair, {} to {}",
        args.messages,
        args.body_size,
        args.window,
        if args.direct_tls {
            "direct TLS"
        } else {
            "STARTTLS"
        },
        args.server
    ));

    // Log everyone in first: logins are not part of the measure.
    let mut wanted = Vec::with_capacity(2 * pairs);
    for pair in 0..pairs {
        wanted.push((2 * pair, None));
        wanted.push((2 * pair + 1, Some(RESOURCE)));
    }
    let login_started = Instant::now();
    let logins = tokio::time::timeout_at(deadline, login_all(args, wanted))
        .await
        .map_err(|_| format!("the logins took more than {} s", args.timeout.as_secs()))??;
    log(format_args!(
        "{} clients online in {:.2} s",
        logins.len(),
        login_started.elapsed().as_secs_f64()
    ));
    let mut clients: HashMap<usize, Client> = logins.into_iter().collect();

    let body: Arc<str> = "x".repeat(args.body_size).into();
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    let mut receivers = tokio::task::JoinSet::new();
    let mut started = Vec::new();
    for pair in 0..pairs {
        let (Some(sender), Some(receiver)) =
            (clients.remove(&(2 * pair)), clients.remove(&(2 * pair + 1)))
        else {
            return Err(format!("pair {pair} is missing a client"));
        };
        let stats: Stats = Arc::new(Mutex::new(PairStats {
            seen: vec![false; usize::try_from(args.messages).unwrap_or(usize::MAX)],
            ..PairStats::default()
        }));
        let credits = Arc::new(Semaphore::new(args.window));
        let to = Jid::from(receiver.jid().clone());
        let (receiver, receiver_events) = receiver.split();
        // The receiver says it is available (the servers need no more to
        // deliver to a full JID, but it is what a real client does).
        receiver
            .send(Presence::available())
            .await
            .map_err(|error| format!("cannot send the presence of pair {pair}: {error}"))?;
        let (sender, sender_events) = sender.split();
        receivers.spawn(receive(
            receiver_events,
            pair,
            args.messages,
            epoch,
            Arc::clone(&credits),
            Arc::clone(&stats),
        ));
        drop(tokio::spawn(drain_sender(
            sender_events,
            Arc::clone(&stats),
        )));
        started.push(Sending {
            sender: sender.clone(),
            to,
            pair,
            credits: Arc::clone(&credits),
            stats: Arc::clone(&stats),
        });
        handles.push(sender);
        handles.push(receiver);
        all_stats.push((stats, credits));
    }
    // Let the presences settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = usage(&args.pids, ticks)?;
    let own_before = own_cpu(ticks);
    let flood_started = Instant::now();
    for sending in started {
        drop(tokio::spawn(send(
            sending,
            args.messages,
            Arc::clone(&body),
            epoch,
        )));
    }
    let all_received = async {
        while let Some(joined) = receivers.join_next().await {
            if let Err(error) = joined {
                log(format_args!("a receiver task failed: {error}"));
            }
        }
    };
    let timed_out = tokio::time::timeout_at(deadline, all_received)
        .await
        .is_err();
    let flood_ended = Instant::now();
    let after = usage(&args.pids, ticks)?;
    let own_after = own_cpu(ticks);
    // Stop the senders still waiting for credits.
    for (_, credits) in &all_stats {
        credits.close();
    }

    // The figures.
    let mut delivered = 0;
    let mut sent = 0;
    let mut duplicates = 0;
    let mut out_of_order = 0;
    let mut strays = 0;
    let mut errors = 0;
    let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let mut first_send: Option<Instant> = None;
    let mut last_receive: Option<Instant> = None;
    let mut problems = Vec::new();
    for (pair, (stats, _)) in all_stats.iter().enumerate() {
        let stats = lock(stats);
        delivered += stats.unique;
        sent += stats.sent;
        duplicates += stats.duplicates;
        out_of_order += stats.out_of_order;
        strays += stats.strays;
        errors += stats.errors;
        latencies.extend_from_slice(&stats.latencies);
        first_send = match (first_send, stats.first_send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last_receive = last_receive.max(stats.last_receive);
        if let Some(why) = &stats.disconnected {
            problems.push(format!("pair {pair}: disconnected: {why}"));
        }
        if let Some(why) = &stats.send_failed {
            problems.push(format!("pair {pair}: a send failed: {why}"));
        }
    }
    latencies.sort_unstable();
    let wall = match (first_send, last_receive) {
        (Some(first), Some(last)) if last > first => last - first,
        _ => flood_ended - flood_started,
    };
    let wall_s = wall.as_secs_f64();
    let rate = if wall_s > 0.0 {
        delivered as f64 / wall_s
    } else {
        0.0
    };
    let p50 = percentile_ms(&latencies, 50.0);
    let p90 = percentile_ms(&latencies, 90.0);
    let p99 = percentile_ms(&latencies, 99.0);
    let max = latencies.last().map(|nanos| *nanos as f64 / 1e6);
    let cpu_s = before.zip(after).map(|(b, a)| a.cpu_s - b.cpu_s);
    let cpu_us_per_msg = cpu_s
        .filter(|_| delivered > 0)
        .map(|cpu| cpu * 1e6 / delivered as f64);
    let own_cpu_s = own_before.zip(own_after).map(|(b, a)| a - b);
    let ok = !timed_out && delivered == expected && problems.is_empty();

    log(format_args!("--- {} ({}) ---", args.label, args.server));
    log(format_args!(
        "delivered {delivered}/{expected} (sent {sent}), {duplicates} duplicate(s), {out_of_order} out of order, {errors} error(s), {strays} stray(s)"
    ));
    log(format_args!(
        "flood phase {wall_s:.3} s: {rate:.0} messages/s"
    ));
    log(format_args!(
        "latency ms: p50 {} p90 {} p99 {} max {}",
        figure(p50, 2),
        figure(p90, 2),
        figure(p99, 2),
        figure(max, 2)
    ));
    if let (Some(before), Some(after)) = (before, after) {
        log(format_args!(
            "server: {:.2} CPU s ({} us per message), RSS {} -> {} KiB",
            after.cpu_s - before.cpu_s,
            figure(cpu_us_per_msg, 1),
            before.rss_kib,
            after.rss_kib
        ));
    }
    log(format_args!("load tool: {} CPU s", figure(own_cpu_s, 2)));
    for problem in &problems {
        log(format_args!("{problem}"));
    }
    if timed_out {
        log(format_args!(
            "TIMEOUT: not everything arrived within {} s",
            args.timeout.as_secs()
        ));
    }
    log(format_args!(
        "RESULT label={} server={} mode=flood tls={} pairs={pairs} messages={} window={} body_size={} expected={expected} delivered={delivered} duplicates={duplicates} out_of_order={out_of_order} errors={errors} wall_s={wall_s:.3} msgs_per_s={rate:.0} p50_ms={} p90_ms={} p99_ms={} max_ms={} cpu_s={} cpu_us_per_msg={} rss_kib_before={} rss_kib_after={} client_cpu_s={} status={}",
        args.label,
        args.server,
        if args.direct_tls {
            "direct"
        } else {
            "starttls"
        },
        args.messages,
        args.window,
        args.body_size,
        figure(p50, 3),
        figure(p90, 3),
        figure(p99, 3),
        figure(max, 3),
        figure(cpu_s, 3),
        figure(cpu_us_per_msg, 1),
        before.map_or_else(|| "na".to_owned(), |u| u.rss_kib.to_string()),
        after.map_or_else(|| "na".to_owned(), |u| u.rss_kib.to_string()),
        figure(own_cpu_s, 2),
        if ok {
            "ok"
        } else if timed_out {
            "timeout"
        } else {
            "incomplete"
        },
    ));

    if timed_out {
        // Do not wait for servers that may be stuck.
        return Err(format!(
            "timed out after {} s: {delivered} of {expected} messages delivered",
            args.timeout.as_secs()
        ));
    }
    close_all(handles).await;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{delivered} of {expected} messages delivered, {} problem(s)",
            problems.len()
        ))
    }
}

// ---------------------------------------------------------------- idle

/// Reads an idle client's events; notes when it goes offline.
async fn watch_idle(mut events: ClientEvents, offline: Arc<Mutex<Vec<String>>>, jid: String) {
    while let Some(event) = events.next().await {
        if let ClientEvent::Disconnected { error, .. } = event {
            offline
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!("{jid}: {error}"));
            return;
        }
    }
}

async fn idle(args: &Args, count: usize) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + args.timeout;
    let ticks = clock_ticks();
    log(format_args!(
        "idle: {count} client(s), {} logins at a time, {} to {}",
        args.login_concurrency,
        if args.direct_tls {
            "direct TLS"
        } else {
            "STARTTLS"
        },
        args.server
    ));
    let before = usage(&args.pids, ticks)?;
    let login_started = Instant::now();
    let wanted = (0..count).map(|index| (index, None)).collect();
    let clients = match tokio::time::timeout_at(deadline, login_all(args, wanted)).await {
        Ok(Ok(clients)) => clients,
        Ok(Err(error)) => return Err(error),
        Err(_) => {
            log(format_args!(
                "RESULT label={} server={} mode=idle clients={count} online=na status=timeout",
                args.label, args.server
            ));
            return Err(format!(
                "the logins took more than {} s",
                args.timeout.as_secs()
            ));
        }
    };
    let login_s = login_started.elapsed().as_secs_f64();
    log(format_args!("{count} clients online in {login_s:.2} s"));
    let offline = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::with_capacity(count);
    for (index, client) in clients {
        let (handle, events) = client.split();
        drop(tokio::spawn(watch_idle(
            events,
            Arc::clone(&offline),
            account(args, index),
        )));
        handles.push((index, handle));
    }
    // Everyone says it is available, and the server confirms it read
    // that; then the server settles (garbage collection, buffers).
    let presences = futures::stream::iter(&handles)
        .map(|(index, handle)| async move {
            handle
                .send_confirmed(Presence::available())
                .await
                .map_err(|error| {
                    format!("the presence of {} failed: {error}", account(args, *index))
                })
        })
        .buffer_unordered(args.login_concurrency)
        .collect::<Vec<Result<(), String>>>();
    match tokio::time::timeout_at(deadline, presences).await {
        Ok(results) => {
            if let Some(Err(error)) = results.into_iter().find(Result::is_err) {
                close_all(handles.into_iter().map(|(_, handle)| handle).collect()).await;
                return Err(error);
            }
        }
        Err(_) => return Err("the presences were not confirmed in time".to_owned()),
    }
    let handles: Vec<ClientHandle> = handles.into_iter().map(|(_, handle)| handle).collect();
    tokio::time::sleep(args.settle).await;
    let after = usage(&args.pids, ticks)?;
    let gone = offline
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let online = count - gone.len();
    let per_client = before
        .zip(after)
        .map(|(b, a)| (a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / count as f64);
    let login_cpu = before.zip(after).map(|(b, a)| a.cpu_s - b.cpu_s);

    log(format_args!("--- {} ({}) ---", args.label, args.server));
    log(format_args!(
        "{online}/{count} clients online after {} s; logins took {login_s:.2} s",
        args.settle.as_secs()
    ));
    for why in gone.iter().take(5) {
        log(format_args!("went offline: {why}"));
    }
    if let (Some(before), Some(after)) = (before, after) {
        log(format_args!(
            "server RSS {} -> {} KiB: {} bytes ({} KiB) per idle client; {:.2} CPU s for the logins",
            before.rss_kib,
            after.rss_kib,
            figure(per_client, 0),
            figure(per_client.map(|b| b / 1024.0), 1),
            after.cpu_s - before.cpu_s
        ));
    }
    log(format_args!(
        "RESULT label={} server={} mode=idle tls={} clients={count} online={online} login_s={login_s:.2} login_cpu_s={} rss_kib_before={} rss_kib_after={} bytes_per_client={} status={}",
        args.label,
        args.server,
        if args.direct_tls {
            "direct"
        } else {
            "starttls"
        },
        figure(login_cpu, 2),
        before.map_or_else(|| "na".to_owned(), |u| u.rss_kib.to_string()),
        after.map_or_else(|| "na".to_owned(), |u| u.rss_kib.to_string()),
        figure(per_client, 0),
        if online == count { "ok" } else { "incomplete" },
    ));
    close_all(handles).await;
    if online == count {
        Ok(())
    } else {
        Err(format!("{} of {count} clients went offline", gone.len()))
    }
}
