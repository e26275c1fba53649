//! Prints the comparison table, with ratios and the targets, from
//! the last criterion run of `benches/compare.rs` and the last `allocs` run.
//!
//! Run: `cargo run --release --manifest-path benches/compare/Cargo.toml --bin report`
//! (`scripts/perf-compare.sh` runs the benches, `allocs`, then this).
//! Throughput is criterion's median estimate, in MiB/s.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use xmpp_kit_compare::CHUNKS;

fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// (median ns per iteration, bytes per iteration) of one benchmark.
fn read(group: &str, id: &str, param: Option<usize>) -> Option<(f64, f64)> {
    let mut dir = criterion_dir().join(group).join(id);
    if let Some(p) = param {
        dir = dir.join(p.to_string());
    }
    let json = |name: &str| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join("new").join(name)).ok()?;
        serde_json::from_str(&text).ok()
    };
    let ns = json("estimates.json")?["median"]["point_estimate"].as_f64()?;
    let bytes = json("benchmark.json")?["throughput"]["Bytes"].as_f64()?;
    Some((ns, bytes))
}

fn mib_s((ns, bytes): (f64, f64)) -> f64 {
    bytes / (ns / 1e9) / (1024.0 * 1024.0)
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn allocs() -> HashMap<String, f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare-allocs.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            let key = parts.next()?;
            let calls = parts.next()?.parse().ok()?;
            Some((key.to_owned(), calls))
        })
        .collect()
}

fn main() {
    const G: &str = "bytes_to_stanzas";
    let tput = |id: &str, chunk: usize| read(G, id, Some(chunk)).map(mib_s);
    let ratio = |a: &str, b: &str, chunk: usize| Some(tput(a, chunk)? / tput(b, chunk)?);

    println!("## Bytes in (MiB/s, criterion median; same corpus, same run)");
    println!();
    println!("| Path | 1 KiB chunks | 4 KiB chunks | 64 KiB chunks |");
    println!("|---|---|---|---|");
    let rows = [
        (
            "rxml_parser_events",
            "rxml `Parser`, namespace-resolved events only",
        ),
        ("rxml_raw_events", "rxml `RawParser`, events only"),
        ("xmpp_kit_frames", "xmpp-kit bytes to frames"),
        ("xmpp_kit_stanzas", "**xmpp-kit bytes to typed stanzas**"),
        ("tokio_xmpp_stanzas", "tokio-xmpp 6 bytes to typed stanzas"),
    ];
    for (id, what) in rows {
        let cells: Vec<String> = CHUNKS.iter().map(|&c| cell(tput(id, c), 1)).collect();
        println!("| {what} | {} |", cells.join(" | "));
    }
    let ratio_rows = [
        (
            "xmpp_kit_stanzas",
            "tokio_xmpp_stanzas",
            "xmpp-kit typed / tokio-xmpp typed",
        ),
        (
            "xmpp_kit_stanzas",
            "rxml_parser_events",
            "xmpp-kit typed / rxml `Parser` events",
        ),
        (
            "xmpp_kit_stanzas",
            "rxml_raw_events",
            "xmpp-kit typed / rxml `RawParser` events",
        ),
        (
            "xmpp_kit_frames",
            "rxml_parser_events",
            "xmpp-kit frames / rxml `Parser` events",
        ),
        (
            "tokio_xmpp_stanzas",
            "rxml_parser_events",
            "tokio-xmpp typed / rxml `Parser` events",
        ),
    ];
    for (a, b, what) in ratio_rows {
        let cells: Vec<String> = CHUNKS.iter().map(|&c| cell(ratio(a, b, c), 2)).collect();
        println!("| ratio {what} | {} |", cells.join(" | "));
    }

    const W: &str = "messages_to_bytes";
    let kit_w = read(W, "xmpp_kit_typed_messages", None);
    let tx_w = read(W, "tokio_xmpp_typed_messages", None);
    // The same messages: compare the time to write them all.
    let write_ratio = match (kit_w, tx_w) {
        (Some((kit_ns, _)), Some((tx_ns, _))) => Some(tx_ns / kit_ns),
        _ => None,
    };
    println!();
    println!("## Bytes out (the corpus's messages, typed, into a `BytesMut`)");
    println!();
    println!("| Path | MiB/s (of its own output) | µs for all messages |");
    println!("|---|---|---|");
    for (what, m) in [
        ("**xmpp-kit typed messages**", kit_w),
        (
            "tokio-xmpp 6 typed messages (xso `AsXml` + rxml `Encoder`)",
            tx_w,
        ),
    ] {
        println!(
            "| {what} | {} | {} |",
            cell(m.map(mib_s), 1),
            cell(m.map(|(ns, _)| ns / 1e3), 1)
        );
    }
    println!(
        "| ratio xmpp-kit / tokio-xmpp (same messages, by time) | {} | |",
        cell(write_ratio, 2)
    );

    let a = allocs();
    let get = |k: &str| a.get(k).copied();
    let alloc_ratio = |x: &str, y: &str| Some(get(x)? / get(y)?);
    println!();
    println!("## Allocations (`--bin allocs`, 4 KiB chunks)");
    println!();
    println!("| Path | allocations per stanza (per message when writing) | ratio to tokio-xmpp |");
    println!("|---|---|---|");
    for (key, other, what) in [
        (
            "rxml_parser_events",
            "tokio_xmpp_stanzas",
            "rxml `Parser` events",
        ),
        (
            "rxml_raw_events",
            "tokio_xmpp_stanzas",
            "rxml `RawParser` events",
        ),
        (
            "xmpp_kit_frames",
            "tokio_xmpp_stanzas",
            "xmpp-kit bytes to frames",
        ),
        (
            "xmpp_kit_stanzas",
            "tokio_xmpp_stanzas",
            "**xmpp-kit bytes to typed stanzas**",
        ),
        (
            "xmpp_kit_stanzas_parsed",
            "tokio_xmpp_stanzas",
            "xmpp-kit bytes to typed stanzas, then every payload parsed",
        ),
        (
            "tokio_xmpp_stanzas",
            "tokio_xmpp_stanzas",
            "tokio-xmpp 6 bytes to typed stanzas",
        ),
        (
            "xmpp_kit_typed_messages",
            "tokio_xmpp_typed_messages",
            "**xmpp-kit typed messages to bytes**",
        ),
        (
            "xmpp_kit_read_messages",
            "tokio_xmpp_typed_messages",
            "xmpp-kit messages as read (payloads as bytes) to bytes",
        ),
        (
            "tokio_xmpp_typed_messages",
            "tokio_xmpp_typed_messages",
            "tokio-xmpp 6 typed messages to bytes",
        ),
    ] {
        println!(
            "| {what} | {} | {} |",
            cell(get(key), 1),
            cell(alloc_ratio(key, other), 2)
        );
    }

    // The targets, each at the worst chunk size.
    let worst = |a: &str, b: &str| {
        CHUNKS
            .iter()
            .map(|&c| ratio(a, b, c))
            .collect::<Option<Vec<f64>>>()
            .and_then(|v| v.into_iter().reduce(f64::min))
    };
    let targets = [
        (
            "bytes to typed stanzas >= 1.6x tokio-xmpp (worst chunk size)",
            worst("xmpp_kit_stanzas", "tokio_xmpp_stanzas"),
            1.6,
            true,
        ),
        (
            "bytes to typed stanzas >= 0.85x rxml `Parser` events (worst chunk size)",
            worst("xmpp_kit_stanzas", "rxml_parser_events"),
            0.85,
            true,
        ),
        (
            "allocations per stanza <= 0.5x tokio-xmpp's",
            alloc_ratio("xmpp_kit_stanzas", "tokio_xmpp_stanzas"),
            0.5,
            false,
        ),
        ("serialization >= 3x tokio-xmpp", write_ratio, 3.0, true),
    ];
    println!();
    println!("## Targets (issue 11)");
    println!();
    println!("| Target | measured | holds |");
    println!("|---|---|---|");
    for (what, value, bound, at_least) in targets {
        let holds = match value {
            Some(v) if at_least => {
                if v >= bound {
                    "yes"
                } else {
                    "no"
                }
            }
            Some(v) => {
                if v <= bound {
                    "yes"
                } else {
                    "no"
                }
            }
            None => "not measured",
        };
        println!("| {what} | {} | {holds} |", cell(value, 2));
    }
}
