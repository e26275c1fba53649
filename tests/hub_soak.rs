//! Soak under faults: the hub on its durable SQLite store, clients that
//! exchange messages through a TCP proxy which cuts their connections at
//! random points (after a random number of bytes: mid-stanza,
//! mid-TLS-record, mid-negotiation; or after a random time; with FIN or
//! RST; a quarter of the time leaving the hub's side open for a while, as
//! a network failure the hub does not notice), readers that now and then
//! stop reading for a few seconds, and the clients reconnecting and
//! resuming (XEP-0198) by themselves.
//!
//! At the end every message the hub acknowledged (a confirmed send) has
//! reached its recipient exactly once, and the others at most once
//! (README, "The hub's guarantees"); per sender and recipient they arrive
//! in order, except those stamped as delayed (XEP-0203), which the hub
//! kept as offline messages when the recipient's parked queue was full and
//! which come late. Every reconnection resumed its session, no send
//! failed, nothing hung; the spool and the stored sessions are empty, and
//! the process's heap is back near where it was before the soak.
//!
//! ```sh
//! cargo test --all-features --test hub_soak -- --nocapture          # 60 s
//! XMPP_KIT_SOAK_SECS=300 XMPP_KIT_SOAK_SEED=42 cargo test --release --all-features --test hub_soak -- --nocapture
//! ```
//!
//! The seed fixes the proxy's cut plans and the clients' traffic (who
//! sends how much to whom, and when); thread scheduling still varies from
//! run to run, so a seed reproduces the kind of run, not its exact events.
//!
//! Memory is counted by a process-wide allocator (the crate forbids
//! `unsafe`, so it is `peak_alloc`, a `GlobalAlloc` wrapper over `System`
//! with atomic current and peak counters): the hub runs in this process,
//! and the clients, the proxy and the test's ledger are all gone when the
//! final level is read. This file holds a single test, so nothing else
//! allocates meanwhile. SQLite's own caches are allocated by its C code
//! and not counted.
#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use peak_alloc::PeakAlloc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use xmpp_kit::ext::delay;
use xmpp_kit::hub::{Hub, HubLimits};
use xmpp_kit::jid::{BareJid, Jid};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::backoff::ReconnectPolicy;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientEvent, ClientEvents, ClientHandle};
use xmpp_kit::stanza::{Message, MessageType, Presence, Stanza};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const DOMAIN: &str = "soak.test";
const PASSWORD: &str = "soak-password";
/// Every client binds the same resource each time, so a session that
/// could not be resumed is replaced by the next bind, not left parked.
const RESOURCE: &str = "soak";
/// How long the hub keeps a lost session for its client. Clients come back
/// within a second or two (backoff at most 1 s), or once their application
/// has read what waits for it (a client does not read its socket while its
/// application lags: see the readers' pauses); what is parked when the
/// soak ends expires this long after.
const RESUME_WINDOW: Duration = Duration::from_secs(20);
/// The longest any single step may take before the test fails as hung.
const STEP: Duration = Duration::from_secs(30);
/// The warm-up round before the baseline is read.
const WARM_UP: Duration = Duration::from_secs(4);

/// Heap allowed above the baseline once everything is over. After the
/// warm-up the structures that keep their capacity (the router's maps for
/// the same accounts, tokio's timer wheel and I/O slab, prepared-statement
/// caches) are near their working size; the soak adds more of the same:
/// rustls' server session cache (at most 256 tickets of a few hundred
/// bytes) and maps grown for more messages in flight at once. Measured:
/// +80 to +260 KiB after 30 s to 5 min, and flat at +113 KiB over five
/// more 40 s rounds in the same process (a leak would climb). 1 MiB is
/// four times the worst of those, and far below what keeping a few bytes
/// per message would cost (a 60 s soak moves 90 000 to 180 000 messages).
const LEAK_TOLERANCE: usize = 1024 * 1024;
/// Heap allowed above the baseline during the soak: the clients (TLS
/// buffers, queues: a few hundred KiB each), the test's ledger (two bits
/// per message), and the hub's bounded queues (per session: a mailbox of
/// `session_queue` stanzas, a parked queue of `parked_queue`, each stanza
/// ~1 KiB in memory), which are the hub's real worst case:
/// 8 x (512 + 1000) x 1 KiB ~ 12 MiB. 64 MiB leaves room for allocator
/// noise and slow drains on a loaded machine, and still fails a hub that
/// keeps what it delivered (a 5 min soak moves 400 000 to 800 000
/// messages).
const SOAK_BOUND: usize = 64 * 1024 * 1024;

// ---- a small seeded generator -------------------------------------------

/// SplitMix64: small, fast, and good enough to draw cut points.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % hi.saturating_sub(lo).max(1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// An independent generator for another task.
    fn fork(&mut self) -> Self {
        Self(self.next())
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

// ---- the fault-injecting proxy ------------------------------------------

/// When the proxy cuts one connection.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// After this many bytes, both directions together; the last chunk is
    /// forwarded only up to there.
    AfterBytes(u64),
    /// After this long.
    After(Duration),
}

/// How the proxy ends a connection it cuts.
#[derive(Debug, Clone, Copy)]
struct Plan {
    cut: Cut,
    /// RST (`SO_LINGER` 0) rather than FIN.
    reset: bool,
    /// The hub's side stays open (silent, unread) this long after the
    /// client's was cut: a network failure the hub does not notice, while
    /// the client already resumes on a new connection.
    half_open: Option<Duration>,
}

impl Plan {
    fn draw(rng: &mut Rng) -> Self {
        let cut = match rng.range(0, 100) {
            // Often inside the negotiation (TLS, SASL, resumption).
            0..30 => Cut::AfterBytes(rng.range(0, 12_000)),
            30..65 => Cut::AfterBytes(rng.range(12_000, 400_000)),
            _ => Cut::After(Duration::from_millis(rng.range(10, 4_000))),
        };
        Self {
            cut,
            reset: rng.chance(50),
            half_open: rng
                .chance(25)
                .then(|| Duration::from_millis(rng.range(500, 10_000))),
        }
    }
}

#[derive(Debug, Default)]
struct ProxyStats {
    connections: AtomicU64,
    cuts: AtomicU64,
    live: AtomicUsize,
}

/// A TCP proxy in front of the hub that cuts connections per their plan
/// until it is calmed.
struct Proxy {
    addr: SocketAddr,
    stats: Arc<ProxyStats>,
    calm: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr, mut rng: Rng) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let calm = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stats = Arc::clone(&stats);
            let calm = Arc::clone(&calm);
            async move {
                loop {
                    let Ok((down, _)) = listener.accept().await else {
                        continue;
                    };
                    let plan = Plan::draw(&mut rng);
                    stats.connections.fetch_add(1, Ordering::Relaxed);
                    stats.live.fetch_add(1, Ordering::SeqCst);
                    let stats = Arc::clone(&stats);
                    let calm = Arc::clone(&calm);
                    tokio::spawn(async move {
                        if relay(down, upstream, plan, &calm).await {
                            stats.cuts.fetch_add(1, Ordering::Relaxed);
                        }
                        stats.live.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        });
        Self {
            addr,
            stats,
            calm,
            task,
        }
    }

    /// No more cuts: connections live until their ends close them.
    fn calm(&self, calm: bool) {
        self.calm.store(calm, Ordering::SeqCst);
    }
}

enum PipeEnd {
    /// The source closed; the close was passed on.
    Closed,
    /// A socket failed (the peer reset it).
    Failed,
    /// The byte budget ran out: cut here.
    Cut,
}

/// Copies `from` to `to`, spending `budget` (shared by both directions)
/// while the proxy is not calm.
async fn pipe(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    budget: &AtomicU64,
    calm: &AtomicBool,
) -> PipeEnd {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return PipeEnd::Closed;
            }
            Ok(n) => n,
            Err(_) => return PipeEnd::Failed,
        };
        let left = budget.load(Ordering::SeqCst);
        if !calm.load(Ordering::SeqCst) && n as u64 >= left {
            // Mid-chunk: whatever record or stanza this was, it is cut.
            let _ = to.write_all(&buf[..left as usize]).await;
            return PipeEnd::Cut;
        }
        budget.fetch_sub((n as u64).min(left), Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            return PipeEnd::Failed;
        }
    }
}

/// Relays one client connection to the hub until either end closes it or
/// the plan cuts it; `true` when it was cut.
async fn relay(down: TcpStream, upstream: SocketAddr, plan: Plan, calm: &AtomicBool) -> bool {
    let Ok(Ok(up)) = tokio::time::timeout(STEP, TcpStream::connect(upstream)).await else {
        return false;
    };
    let _ = down.set_nodelay(true);
    let _ = up.set_nodelay(true);
    let budget = AtomicU64::new(match plan.cut {
        Cut::AfterBytes(n) => n,
        Cut::After(_) => u64::MAX,
    });
    let (mut down_read, mut down_write) = down.into_split();
    let (mut up_read, mut up_write) = up.into_split();
    let timer = async {
        match plan.cut {
            Cut::After(delay) => {
                tokio::time::sleep(delay).await;
                if calm.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
            }
            Cut::AfterBytes(_) => std::future::pending::<()>().await,
        }
    };
    let cut = {
        let to_hub = pipe(&mut down_read, &mut up_write, &budget, calm);
        let to_client = pipe(&mut up_read, &mut down_write, &budget, calm);
        tokio::pin!(timer, to_hub, to_client);
        let (mut hub_done, mut client_done) = (false, false);
        loop {
            tokio::select! {
                () = &mut timer => break true,
                end = &mut to_hub, if !hub_done => match end {
                    PipeEnd::Closed => hub_done = true,
                    PipeEnd::Failed => break false,
                    PipeEnd::Cut => break true,
                },
                end = &mut to_client, if !client_done => match end {
                    PipeEnd::Closed => client_done = true,
                    PipeEnd::Failed => break false,
                    PipeEnd::Cut => break true,
                },
            }
            if hub_done && client_done {
                break false;
            }
        }
    };
    if cut && plan.reset {
        // Dropping the sockets now sends RST instead of FIN.
        #[allow(deprecated)] // zero linger never blocks on drop
        {
            let _ = down_read.as_ref().set_linger(Some(Duration::ZERO));
            let _ = up_read.as_ref().set_linger(Some(Duration::ZERO));
        }
    }
    if let (true, Some(hold)) = (cut, plan.half_open) {
        drop((down_read, down_write));
        tokio::time::sleep(hold).await;
    }
    cut
}

// ---- the clients and the ledger -----------------------------------------

/// A set of sequence numbers, a bit each: the ledger stays small (a soak
/// moves hundreds of thousands of messages), so the heap samples show the
/// hub and the clients, not the test's bookkeeping.
#[derive(Debug, Default)]
struct Bits(Vec<u64>);

impl Bits {
    /// Adds `seq`; whether it was there already.
    fn insert(&mut self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let had = self.0[word] >> bit & 1 == 1;
        self.0[word] |= 1 << bit;
        had
    }

    fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The members that `other` lacks.
    fn missing_from<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = u32> + 'a {
        self.0.iter().enumerate().flat_map(move |(i, &word)| {
            let lacking = word & !other.0.get(i).copied().unwrap_or(0);
            (0..64)
                .filter(move |bit| lacking >> bit & 1 == 1)
                .map(move |bit| i as u32 * 64 + bit)
        })
    }
}

/// What one sender sent one recipient, and what arrived.
#[derive(Debug, Default)]
struct Pair {
    /// Sequence numbers given out.
    sent: u32,
    /// Those the hub acknowledged.
    acked: Bits,
    /// Those that arrived.
    seen: Bits,
    delivered: u64,
    /// Arrived stamped as delayed (XEP-0203: the hub kept them as offline
    /// messages): late, not in order.
    delayed: u64,
    /// The highest sequence number arrived without a delay.
    highest: Option<u32>,
}

/// Who sent what to whom, and what arrived.
#[derive(Debug)]
struct Ledger {
    round: u32,
    /// `pairs[from][to]`.
    pairs: Vec<Vec<Pair>>,
    /// Messages that arrived again.
    duplicates: Vec<String>,
    /// Messages that arrived after a later one of the same sender (among
    /// those not marked as delayed).
    out_of_order: Vec<String>,
    /// Soak messages of another round, never sent, or addressed to someone
    /// else.
    strays: Vec<String>,
    /// Error stanzas the clients got.
    bounces: Vec<String>,
}

impl Ledger {
    fn new(round: u32, clients: usize) -> Self {
        Self {
            round,
            pairs: (0..clients)
                .map(|_| (0..clients).map(|_| Pair::default()).collect())
                .collect(),
            duplicates: Vec::new(),
            out_of_order: Vec::new(),
            strays: Vec::new(),
            bounces: Vec::new(),
        }
    }

    /// The next sequence number from `from` to `to`.
    fn next_seq(&mut self, from: usize, to: usize) -> u32 {
        let pair = &mut self.pairs[from][to];
        pair.sent += 1;
        pair.sent - 1
    }

    fn acked(&mut self, from: usize, to: usize, seq: u32) {
        self.pairs[from][to].acked.insert(seq);
    }

    /// `to` got message `seq` of `from`.
    fn arrived(&mut self, from: usize, to: usize, seq: u32, delayed: bool) {
        let Some(pair) = self.pairs.get_mut(from).and_then(|row| row.get_mut(to)) else {
            self.strays
                .push(format!("{from}>{to} #{seq}: no such pair"));
            return;
        };
        if seq >= pair.sent {
            self.strays
                .push(format!("{from}>{to} #{seq} was never sent"));
            return;
        }
        pair.delivered += 1;
        if pair.seen.insert(seq) {
            self.duplicates
                .push(format!("{from}>{to} #{seq} arrived again"));
        }
        if delayed {
            pair.delayed += 1;
            return;
        }
        if let Some(highest) = pair.highest.filter(|&h| seq < h) {
            self.out_of_order
                .push(format!("{from}>{to} #{seq} after #{highest}"));
        }
        pair.highest = pair.highest.max(Some(seq));
    }

    /// Every acknowledged message arrived.
    fn complete(&self) -> bool {
        self.pairs
            .iter()
            .flatten()
            .all(|pair| pair.acked.missing_from(&pair.seen).next().is_none())
    }
}

/// What happened in a round, besides the ledger.
struct Counters {
    started: Instant,
    sent: AtomicU64,
    send_errors: AtomicU64,
    resumes: AtomicU64,
    /// Reconnections that could not resume (a new session).
    fresh_sessions: AtomicU64,
    disconnects: AtomicU64,
    gave_up: AtomicU64,
    login_retries: AtomicU64,
    /// Times a reader stopped reading for a while.
    pauses: AtomicU64,
    /// Awaits that hit their timeout: a hang.
    hangs: AtomicU64,
    /// What hung, the first send errors, and every connection event, for a
    /// failure's report.
    notes: Mutex<Vec<String>>,
}

impl Counters {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            sent: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            resumes: AtomicU64::new(0),
            fresh_sessions: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
            login_retries: AtomicU64::new(0),
            pauses: AtomicU64::new(0),
            hangs: AtomicU64::new(0),
            notes: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, what: String) {
        let at = self.started.elapsed().as_secs_f64();
        self.notes
            .lock()
            .unwrap()
            .push(format!("{at:8.3} s {what}"));
    }

    fn hang(&self, what: &str) {
        self.hangs.fetch_add(1, Ordering::SeqCst);
        self.note(format!("HUNG: {what}"));
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    fn report(&self) -> String {
        format!(
            "{} sent, {} send errors, {} disconnections, {} resumed, {} fresh sessions, \
             {} gave up, {} login retries, {} reader pauses, {} hangs",
            Self::get(&self.sent),
            Self::get(&self.send_errors),
            Self::get(&self.disconnects),
            Self::get(&self.resumes),
            Self::get(&self.fresh_sessions),
            Self::get(&self.gave_up),
            Self::get(&self.login_retries),
            Self::get(&self.pauses),
            Self::get(&self.hangs),
        )
    }

    /// The round's problems: none of them may happen when every cut is
    /// resumed (the resume window is far above a reconnection's time).
    fn assert_clean(&self, round: u32) {
        let problems = Self::get(&self.hangs)
            + Self::get(&self.gave_up)
            + Self::get(&self.fresh_sessions)
            + Self::get(&self.send_errors);
        if problems > 0 {
            for note in self.notes.lock().unwrap().iter() {
                eprintln!("  {note}");
            }
        }
        assert_eq!(Self::get(&self.hangs), 0, "round {round}: a step hung");
        assert_eq!(
            Self::get(&self.gave_up),
            0,
            "round {round}: a client gave up"
        );
        assert_eq!(
            Self::get(&self.fresh_sessions),
            0,
            "round {round}: a reconnection did not resume its session"
        );
        assert_eq!(
            Self::get(&self.send_errors),
            0,
            "round {round}: sends failed"
        );
    }
}

fn user(i: usize) -> String {
    format!("user{i}@{DOMAIN}")
}

fn full_jid(i: usize) -> Jid {
    format!("user{i}@{DOMAIN}/{RESOURCE}").parse().unwrap()
}

fn body(round: u32, from: usize, to: usize, seq: u32) -> String {
    format!("soak r{round} {from}>{to} #{seq}")
}

/// `(round, from, to, seq)` of a soak message body.
fn parse_body(body: &str) -> Option<(u32, usize, usize, u32)> {
    let rest = body.strip_prefix("soak r")?;
    let (round, rest) = rest.split_once(' ')?;
    let (pair, seq) = rest.split_once(" #")?;
    let (from, to) = pair.split_once('>')?;
    Some((
        round.parse().ok()?,
        from.parse().ok()?,
        to.parse().ok()?,
        seq.parse().ok()?,
    ))
}

async fn within<T>(counters: &Counters, what: &str, f: impl Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(STEP, f).await {
        Ok(value) => Some(value),
        Err(_) => {
            counters.hang(what);
            None
        }
    }
}

/// Logs in through the proxy with stream management on, retrying when the
/// proxy cuts the first connection before (the client only reconnects by
/// itself once it was online, and resumes once stream management is).
async fn connect(i: usize, proxy: SocketAddr, ca_pem: &str, counters: &Counters) -> Client {
    let mut policy = ReconnectPolicy::new();
    policy.initial = Duration::from_millis(50);
    policy.max = Duration::from_secs(1);
    let builder = ClientBuilder::new(&user(i), PASSWORD)
        .server(&proxy.to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(ca_pem.as_bytes().to_vec())
        .resource(RESOURCE)
        .reconnect(policy)
        .configure(|config| {
            config.negotiation_timeout = Duration::from_secs(10);
            config.ping_after = Duration::from_secs(10);
            config.ping_timeout = Duration::from_secs(10);
        });
    for _ in 0..50 {
        match tokio::time::timeout(STEP, builder.clone().connect()).await {
            Ok(Ok(client)) => {
                // Confirmed means stream management is on: from now on
                // every cut can be resumed.
                let presence = client.send_confirmed(Presence::available());
                if let Ok(Ok(())) = tokio::time::timeout(STEP, presence).await {
                    return client;
                }
                // Cut before that: a session nobody can resume. Start over.
                counters.login_retries.fetch_add(1, Ordering::Relaxed);
                let closing = tokio::time::timeout(STEP, client.close()).await;
                assert!(closing.is_ok(), "user{i} could not close in time");
            }
            Ok(Err(_)) => {
                counters.login_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => panic!("user{i} could not log in within {STEP:?}"),
        }
    }
    panic!("user{i} could not log in after 50 attempts");
}

/// Sends bursts of messages to random peers until `stop`: each burst's
/// last message is sent confirmed, which confirms the whole burst (acks
/// count stanzas in order).
#[allow(clippy::too_many_arguments)]
async fn send_loop(
    me: usize,
    clients: usize,
    handle: ClientHandle,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Counters>,
) {
    let round = ledger.lock().unwrap().round;
    while !stop.load(Ordering::SeqCst) {
        let burst = rng.range(1, 12);
        let mut sent = Vec::new();
        let mut ok = true;
        for k in 0..burst {
            let to = (me + rng.range(1, clients as u64) as usize) % clients;
            let seq = ledger.lock().unwrap().next_seq(me, to);
            let message = Message::chat(full_jid(to), body(round, me, to, seq));
            counters.sent.fetch_add(1, Ordering::Relaxed);
            sent.push((to, seq));
            let result = if k + 1 == burst {
                within(
                    &counters,
                    &format!("user{me}'s confirmed send"),
                    handle.send_confirmed(message),
                )
                .await
            } else {
                within(&counters, &format!("user{me}'s send"), handle.send(message)).await
            };
            match result {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    if counters.send_errors.fetch_add(1, Ordering::Relaxed) < 20 {
                        counters.note(format!("user{me}: a send failed: {error}"));
                    }
                    ok = false;
                    break;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            let mut ledger = ledger.lock().unwrap();
            for &(to, seq) in &sent {
                ledger.acked(me, to, seq);
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.range(0, 15))).await;
    }
}

/// Reads one client's events until the client ends. Now and then it
/// stops reading for a while (a slow application, at most 4 s every 5 s):
/// the client's event queue fills up and the client stops reading its
/// socket, so cuts also land while events wait, and the hub finds its
/// queues for the client full.
async fn read_loop(
    me: usize,
    mut events: ClientEvents,
    handle: ClientHandle,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Counters>,
) {
    let mut calm_until = Instant::now();
    while let Some(event) = events.next().await {
        if !stop.load(Ordering::SeqCst)
            && Instant::now() >= calm_until
            && rng.chance(1)
            && rng.chance(20)
        {
            counters.pauses.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(rng.range(500, 4_000))).await;
            calm_until = Instant::now() + Duration::from_secs(5);
        }
        match event {
            ClientEvent::Stanza(Stanza::Message(m)) if m.kind == MessageType::Error => {
                let text = format!("user{me} got an error: {m:?}");
                ledger.lock().unwrap().bounces.push(text);
            }
            ClientEvent::Stanza(Stanza::Message(m)) => {
                let Some(text) = m.body() else { continue };
                let mut ledger = ledger.lock().unwrap();
                match parse_body(text) {
                    Some((round, from, to, seq)) if round == ledger.round && to == me => {
                        let delayed = m.payloads.iter().any(|p| p.is("delay", delay::NS));
                        ledger.arrived(from, me, seq, delayed);
                    }
                    _ => ledger.strays.push(format!("user{me} got {text:?}")),
                }
            }
            ClientEvent::Online { resumed: true, .. } => {
                counters.resumes.fetch_add(1, Ordering::Relaxed);
            }
            ClientEvent::Online { resumed: false, .. } => {
                counters.fresh_sessions.fetch_add(1, Ordering::Relaxed);
                counters.note(format!("user{me}: a new session"));
                // A new session: available again (in its own task, as the
                // client may wait for this reader to take its next event).
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(STEP, handle.send(Presence::available())).await;
                });
            }
            ClientEvent::Disconnected {
                reconnecting,
                error,
            } => {
                counters.note(format!("user{me}: {error}"));
                counters.disconnects.fetch_add(1, Ordering::Relaxed);
                if !reconnecting {
                    counters.gave_up.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// What one round found.
#[derive(Debug, Default)]
struct Findings {
    acked: u64,
    delivered: u64,
    /// Acknowledged messages that never arrived.
    missing: Vec<String>,
    /// Messages that arrived more than once.
    duplicates: Vec<String>,
    /// Messages that arrived after a later one of the same sender (among
    /// those not marked as delayed).
    out_of_order: Vec<String>,
    /// Messages marked as delayed (offline storage): not in order.
    delayed: u64,
    strays: Vec<String>,
    bounces: Vec<String>,
}

impl Findings {
    fn of(ledger: &Ledger) -> Self {
        let mut findings = Self {
            duplicates: ledger.duplicates.clone(),
            out_of_order: ledger.out_of_order.clone(),
            strays: ledger.strays.clone(),
            bounces: ledger.bounces.clone(),
            ..Self::default()
        };
        for (from, row) in ledger.pairs.iter().enumerate() {
            for (to, pair) in row.iter().enumerate() {
                findings.acked += pair.acked.len();
                findings.delivered += pair.delivered;
                findings.delayed += pair.delayed;
                findings.missing.extend(
                    pair.acked
                        .missing_from(&pair.seen)
                        .map(|seq| format!("{from}>{to} #{seq} acknowledged, never arrived")),
                );
            }
        }
        findings
    }

    fn assert_clean(&self, round: u32, counters: &Counters) {
        eprintln!(
            "hub_soak: round {round}: {} acknowledged, {} delivered ({} delayed), {} missing, \
             {} duplicated, {} out of order; {}",
            self.acked,
            self.delivered,
            self.delayed,
            self.missing.len(),
            self.duplicates.len(),
            self.out_of_order.len(),
            counters.report()
        );
        let clean = self.missing.is_empty()
            && self.duplicates.is_empty()
            && self.out_of_order.is_empty()
            && self.strays.is_empty()
            && self.bounces.is_empty();
        if !clean {
            for note in counters.notes.lock().unwrap().iter() {
                eprintln!("  {note}");
            }
        }
        let show = |list: &[String]| {
            // Per pair: how many, and the first.
            let mut pairs: Vec<(String, usize, String)> = Vec::new();
            for item in list {
                let pair = item.split(' ').next().unwrap_or_default().to_owned();
                match pairs.iter_mut().find(|(p, _, _)| *p == pair) {
                    Some((_, n, _)) => *n += 1,
                    None => pairs.push((pair, 1, item.clone())),
                }
            }
            pairs
        };
        assert!(
            self.missing.is_empty(),
            "round {round}: {} acknowledged messages lost: {:?}",
            self.missing.len(),
            show(&self.missing)
        );
        assert!(
            self.duplicates.is_empty(),
            "round {round}: {} messages duplicated: {:?}",
            self.duplicates.len(),
            show(&self.duplicates)
        );
        assert!(
            self.out_of_order.is_empty(),
            "round {round}: {} messages out of order: {:?}",
            self.out_of_order.len(),
            show(&self.out_of_order)
        );
        assert!(
            self.strays.is_empty(),
            "round {round}: stray messages: {:?}",
            show(&self.strays)
        );
        assert!(
            self.bounces.is_empty(),
            "round {round}: error stanzas: {:?}",
            show(&self.bounces)
        );
    }
}

/// Shared by the rounds.
struct Rig {
    hub: Hub,
    proxy: Proxy,
    ca_pem: String,
    clients: usize,
    users: Vec<BareJid>,
}

/// One round: clients log in, exchange messages for `duration` while the
/// proxy cuts them, stop, drain, close; then the ledger is checked.
async fn round(
    rig: &Rig,
    number: u32,
    duration: Duration,
    rng: &mut Rng,
) -> (Findings, Arc<Counters>) {
    let counters = Arc::new(Counters::new());
    let ledger = Arc::new(Mutex::new(Ledger::new(number, rig.clients)));
    let stop = Arc::new(AtomicBool::new(false));
    rig.proxy.calm(false);

    let mut handles = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..rig.clients {
        let client = connect(i, rig.proxy.addr, &rig.ca_pem, &counters).await;
        let (handle, events) = client.split();
        tasks.push(tokio::spawn(read_loop(
            i,
            events,
            handle.clone(),
            rng.fork(),
            Arc::clone(&stop),
            Arc::clone(&ledger),
            Arc::clone(&counters),
        )));
        handles.push(handle);
    }
    let mut senders = Vec::new();
    for (i, handle) in handles.iter().enumerate() {
        senders.push(tokio::spawn(send_loop(
            i,
            rig.clients,
            handle.clone(),
            rng.fork(),
            Arc::clone(&stop),
            Arc::clone(&ledger),
            Arc::clone(&counters),
        )));
    }
    tokio::time::sleep(duration).await;

    // Stop sending, stop cutting, and let everyone catch up.
    stop.store(true, Ordering::SeqCst);
    rig.proxy.calm(true);
    for (i, sender) in senders.into_iter().enumerate() {
        // A sender waits at most STEP per send, then gives up.
        let what = format!("user{i}'s sender to stop");
        if let Some(joined) = within(&counters, &what, sender).await {
            joined.expect("the sender does not panic");
        }
    }
    counters.note("senders stopped".to_owned());
    within(&counters, "every acknowledged message to arrive", async {
        while !ledger.lock().unwrap().complete() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    counters.note("drained".to_owned());
    // Late duplicates have a moment to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, handle) in handles.iter().enumerate() {
        within(&counters, &format!("user{i} to close"), handle.close()).await;
    }
    drop(handles);
    for (i, task) in tasks.into_iter().enumerate() {
        let what = format!("user{i}'s events to end");
        if let Some(joined) = within(&counters, &what, task).await {
            joined.expect("the reader does not panic");
        }
    }
    counters.note("closed".to_owned());
    let findings = Findings::of(&ledger.lock().unwrap());
    (findings, counters)
}

/// Waits until the hub holds no session, bound or parked, and the proxy no
/// connection.
async fn settle(rig: &Rig, what: &str) {
    let deadline = Instant::now() + RESUME_WINDOW + STEP;
    loop {
        let online = rig.hub.online();
        let connections = rig.hub.connections();
        let relayed = rig.proxy.stats.live.load(Ordering::SeqCst);
        if online.is_empty() && connections == 0 && relayed == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {online:?} bound, {connections} hub connections, \
             {relayed} proxied, {:?} after the resume window",
            RESUME_WINDOW + STEP
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The spool and the stored sessions are empty: everything was
/// delivered and acknowledged, and no session outlived its client.
fn assert_store_empty(rig: &Rig, what: &str) {
    let store = rig.hub.store();
    for user in &rig.users {
        let spooled = store.spool_count(user).unwrap();
        assert_eq!(
            spooled,
            0,
            "{what}: {spooled} messages left in {user}'s spool: {:?}",
            store
                .spooled(user)
                .unwrap()
                .iter()
                .take(5)
                .map(|s| (&s.stanza, &s.sent))
                .collect::<Vec<_>>()
        );
    }
    let sessions = store.sessions().unwrap();
    assert!(
        sessions.is_empty(),
        "{what}: stored sessions left: {sessions:?}"
    );
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Samples the heap every 250 ms until stopped: the soak's level over
/// time, beside the allocator's exact peak.
fn sample_memory(stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<usize>> {
    tokio::spawn(async move {
        let mut samples = Vec::with_capacity(4096);
        while !stop.load(Ordering::SeqCst) {
            samples.push(ALLOCATOR.current_usage());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        samples
    })
}

/// The highest sample of each sixth of the run, in MiB: a level that
/// climbs from sixth to sixth is a leak in the making.
fn sixths(samples: &[usize]) -> String {
    let size = samples.len().div_ceil(6).max(1);
    samples
        .chunks(size)
        .map(|chunk| {
            let max = chunk.iter().copied().max().unwrap_or(0);
            format!("{:.1}", max as f64 / (1024.0 * 1024.0))
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_soak_with_random_cuts_loses_repeats_and_leaks_nothing() {
    let seed = env_u64("XMPP_KIT_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let secs = env_u64("XMPP_KIT_SOAK_SECS").unwrap_or(60);
    let clients = env_u64("XMPP_KIT_SOAK_CLIENTS").unwrap_or(8).max(2) as usize;
    eprintln!("hub_soak: XMPP_KIT_SOAK_SEED={seed} XMPP_KIT_SOAK_SECS={secs} ({clients} clients)");
    let mut rng = Rng(seed);

    let dir = std::env::temp_dir().join(format!("xmpp-kit-soak-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut limits = HubLimits::default();
    limits.resume_window = RESUME_WINDOW;
    let mut builder = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .limits(limits)
        .database(dir.join("hub.db"))
        .unwrap();
    for i in 0..clients {
        builder = builder.user(&user(i), PASSWORD);
    }
    let hub = tokio::time::timeout(STEP, builder.start())
        .await
        .expect("the hub starts in time")
        .expect("the hub starts");
    let ca_pem = hub.ca_pem().unwrap().to_owned();
    let proxy = tokio::time::timeout(STEP, Proxy::start(hub.c2s_addr().unwrap(), rng.fork()))
        .await
        .expect("the proxy starts in time");
    let rig = Rig {
        hub,
        proxy,
        ca_pem,
        clients,
        users: (0..clients).map(|i| user(i).parse().unwrap()).collect(),
    };

    // Warm-up: the same kind of round, short, so that every cache and map
    // that keeps its capacity is at its working size before the baseline.
    let (warm, warm_counters) = round(&rig, 0, WARM_UP, &mut rng).await;
    settle(&rig, "after the warm-up").await;
    warm.assert_clean(0, &warm_counters);
    warm_counters.assert_clean(0);
    assert_store_empty(&rig, "after the warm-up");
    drop((warm, warm_counters));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();

    // The soak.
    let sampling = Arc::new(AtomicBool::new(false));
    let sampler = sample_memory(Arc::clone(&sampling));
    let cuts_before = rig.proxy.stats.cuts.load(Ordering::SeqCst);
    let connections_before = rig.proxy.stats.connections.load(Ordering::SeqCst);
    let started = Instant::now();
    let (findings, counters) = round(&rig, 1, Duration::from_secs(secs), &mut rng).await;
    let elapsed = started.elapsed();
    sampling.store(true, Ordering::SeqCst);
    let samples = tokio::time::timeout(STEP, sampler)
        .await
        .expect("the sampler stops in time")
        .unwrap();
    let peak = ALLOCATOR.peak_usage();
    let cuts = rig.proxy.stats.cuts.load(Ordering::SeqCst) - cuts_before;
    let connections = rig.proxy.stats.connections.load(Ordering::SeqCst) - connections_before;

    // Everyone gone, parked sessions expired: back to the baseline.
    settle(&rig, "after the soak").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let final_level = ALLOCATOR.current_usage();
    let summary = format!(
        "hub_soak: seed {seed}, {secs} s soak ({:.0} s with the drain), {clients} clients: \
         {} messages sent, {} acknowledged, {} delivered ({} delayed); \
         {connections} connections, {cuts} cut, {} resumed; \
         memory baseline {}, peak {} (+{}), final {} ({:+.0} KiB), \
         sampled max per sixth {} MiB",
        elapsed.as_secs_f64(),
        Counters::get(&counters.sent),
        findings.acked,
        findings.delivered,
        findings.delayed,
        Counters::get(&counters.resumes),
        mib(baseline),
        mib(peak),
        mib(peak.saturating_sub(baseline)),
        mib(final_level),
        (final_level as f64 - baseline as f64) / 1024.0,
        sixths(&samples),
    );
    eprintln!("{summary}");
    findings.assert_clean(1, &counters);
    counters.assert_clean(1);
    assert_store_empty(&rig, "after the soak");
    assert!(findings.acked > 0, "nothing was acknowledged: {summary}");
    assert!(cuts > 0, "the proxy cut nothing: {summary}");
    assert!(
        peak <= baseline + SOAK_BOUND,
        "memory during the soak went {} above the baseline (bound {}): {summary}",
        mib(peak - baseline),
        mib(SOAK_BOUND)
    );
    assert!(
        final_level <= baseline + LEAK_TOLERANCE,
        "memory after the soak is {} above the baseline (tolerance {}): {summary}",
        mib(final_level - baseline),
        mib(LEAK_TOLERANCE)
    );

    let Rig { hub, proxy, .. } = rig;
    proxy.task.abort();
    tokio::time::timeout(STEP, hub.shutdown())
        .await
        .expect("the hub shuts down in time");
    let _ = std::fs::remove_dir_all(&dir);
}
