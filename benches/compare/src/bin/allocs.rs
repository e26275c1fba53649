//! Allocations per stanza on each path, counted by a global allocator that
//! wraps the system one.
//!
//! Run: `cargo run --release --manifest-path benches/compare/Cargo.toml --bin allocs`
//! (or `scripts/perf-compare.sh`, which runs it after the benches). Each
//! path runs once to warm up, then once counted, on the whole corpus in
//! 4 KiB chunks. An allocation is a call to `alloc`, `alloc_zeroed` or
//! `realloc` (a `realloc` may move the block, so it counts); the bytes are
//! those requested by them. The figures are also written to
//! `target/compare-allocs.tsv` for the `report` binary.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::BytesMut;
use xmpp_kit::xml::StreamWriter;
use xmpp_kit_compare as paths;

struct Counting;

static CALLS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are only bumped beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` once to warm up and once counted; (allocations, bytes).
fn count(mut f: impl FnMut() -> usize) -> (u64, u64) {
    std::hint::black_box(f());
    let (calls, bytes) = (CALLS.load(Relaxed), BYTES.load(Relaxed));
    std::hint::black_box(f());
    (CALLS.load(Relaxed) - calls, BYTES.load(Relaxed) - bytes)
}

const CHUNK: usize = 4096;

fn main() {
    let data = paths::corpus();
    let rt = paths::runtime();
    let stanzas = paths::stanza_count(&data);

    let kit_messages = paths::xmpp_kit_messages(&data);
    let read_messages = paths::xmpp_kit_read_messages(&data);
    let tx_messages = paths::tokio_xmpp_messages(&rt, &data);
    let messages = kit_messages.len();
    let writer = StreamWriter::new();
    let mut out = BytesMut::with_capacity(data.len() * 2);
    let mut tx_writer = paths::TokioXmppWriter::new();

    // (key, what, per, count of per, result)
    let rows = [
        (
            "rxml_parser_events",
            "rxml Parser, events only",
            "stanza",
            stanzas,
            count(|| paths::rxml_events(rxml::Parser::new(), &data, CHUNK)),
        ),
        (
            "rxml_raw_events",
            "rxml RawParser, events only",
            "stanza",
            stanzas,
            count(|| paths::rxml_events(rxml::RawParser::new(), &data, CHUNK)),
        ),
        (
            "xmpp_kit_frames",
            "xmpp-kit bytes to frames",
            "stanza",
            stanzas,
            count(|| paths::xmpp_kit_frames(&data, CHUNK)),
        ),
        (
            "xmpp_kit_stanzas",
            "xmpp-kit bytes to typed stanzas",
            "stanza",
            stanzas,
            count(|| paths::xmpp_kit_stanzas(&data, CHUNK)),
        ),
        (
            "xmpp_kit_stanzas_parsed",
            "xmpp-kit bytes to typed stanzas, then every payload parsed",
            "stanza",
            stanzas,
            count(|| paths::xmpp_kit_stanzas_parsed(&data, CHUNK)),
        ),
        (
            "lazy_floor",
            "experiment: typed heads, payloads as byte ranges (no trees)",
            "stanza",
            stanzas,
            count(|| paths::lazy_floor(&data, CHUNK)),
        ),
        (
            "tokio_xmpp_stanzas",
            "tokio-xmpp 6 bytes to typed stanzas",
            "stanza",
            stanzas,
            count(|| paths::tokio_xmpp_stanzas(&rt, &data, CHUNK)),
        ),
        (
            "xmpp_kit_typed_messages",
            "xmpp-kit typed messages to bytes",
            "message",
            messages,
            count(|| paths::xmpp_kit_write(&kit_messages, &writer, &mut out)),
        ),
        (
            "xmpp_kit_read_messages",
            "xmpp-kit messages as read (payloads kept as bytes) to bytes",
            "message",
            messages,
            count(|| paths::xmpp_kit_write(&read_messages, &writer, &mut out)),
        ),
        (
            "tokio_xmpp_typed_messages",
            "tokio-xmpp 6 typed messages to bytes",
            "message",
            messages,
            count(|| tx_writer.write(&tx_messages, &mut out)),
        ),
    ];

    println!(
        "Allocations ({} bytes of corpus, {stanzas} stanzas, {messages} messages, {CHUNK}-byte chunks)",
        data.len()
    );
    println!();
    println!("| Path | allocations per item | bytes allocated per item |");
    println!("|---|---|---|");
    let mut tsv = String::new();
    for (key, what, per, n, (calls, bytes)) in &rows {
        let n = (*n).max(1) as f64;
        let (calls, bytes) = (*calls as f64 / n, *bytes as f64 / n);
        println!("| {what} | {calls:.1} per {per} | {bytes:.0} |");
        tsv.push_str(&format!("{key}\t{calls:.3}\t{bytes:.1}\n"));
    }
    by_kind();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare-allocs.tsv");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(tsv.as_bytes()))
        .expect("write target/compare-allocs.tsv");
}

/// The same counts for each kind of stanza in the corpus on its own: where
/// the allocations go.
fn by_kind() {
    type Pick = fn(&str) -> bool;
    let kinds: [(&str, Pick); 5] = [
        ("chat message", |s| {
            s.starts_with("<message") && s.contains("type='chat'")
        }),
        ("presence", |s| s.starts_with("<presence")),
        ("roster result", |s| s.contains("jabber:iq:roster")),
        ("disco#info result", |s| s.contains("disco#info")),
        ("pubsub event", |s| s.contains("pubsub#event")),
    ];
    let all = paths::corpus::stanzas(paths::ITEMS, paths::SEED);
    let rt = paths::runtime();
    println!();
    println!(
        "| Kind (share of stanzas) | rxml RawParser | xmpp-kit frames | xmpp-kit typed | tokio-xmpp typed | experiment: no payload trees |"
    );
    println!("|---|---|---|---|---|---|");
    let total = all.iter().filter(|s| s.starts_with('<')).count().max(1);
    for (kind, pick) in kinds {
        let mut data = paths::corpus::HEADER.to_owned();
        let mut n = 0usize;
        for s in all.iter().filter(|s| pick(s)) {
            data.push_str(s);
            n += 1;
        }
        data.push_str("</stream:stream>");
        let data = data.into_bytes();
        let per = |(calls, _): (u64, u64)| calls as f64 / n.max(1) as f64;
        let raw = per(count(|| {
            paths::rxml_events(rxml::RawParser::new(), &data, CHUNK)
        }));
        let frames = per(count(|| paths::xmpp_kit_frames(&data, CHUNK)));
        let typed = per(count(|| paths::xmpp_kit_stanzas(&data, CHUNK)));
        let tx = per(count(|| paths::tokio_xmpp_stanzas(&rt, &data, CHUNK)));
        let floor = per(count(|| paths::lazy_floor(&data, CHUNK)));
        println!(
            "| {kind} ({:.0}%) | {raw:.1} | {frames:.1} | {typed:.1} | {tx:.1} | {floor:.1} |",
            100.0 * n as f64 / total as f64
        );
    }
}
