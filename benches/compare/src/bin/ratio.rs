//! A quick same-process A/B of the reading paths, robust on a busy machine:
//! the paths run in turn, round after round, and each keeps its fastest
//! round (the one least disturbed by other processes).
//!
//! Run: `cargo run --release --manifest-path benches/compare/Cargo.toml --bin ratio [ROUNDS]`.
//! Criterion (`scripts/perf-compare.sh`) gives the full figures; this is for
//! checking one change quickly.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use xmpp_kit_compare as paths;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let data = paths::corpus();
    let rt = paths::runtime();
    let mib = data.len() as f64 / (1024.0 * 1024.0);
    println!("fastest of {rounds} rounds, MiB/s");
    println!(
        "| chunk | rxml Parser | xmpp-kit frames | xmpp-kit typed | tokio-xmpp typed | typed/tokio | typed/rxml | typed, every payload parsed | that/tokio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for chunk in paths::CHUNKS {
        let mut best = [Duration::MAX; 5];
        for _ in 0..rounds {
            let runs: [&dyn Fn() -> usize; 5] = [
                &|| paths::rxml_events(rxml::Parser::new(), &data, chunk),
                &|| paths::xmpp_kit_frames(&data, chunk),
                &|| paths::xmpp_kit_stanzas(&data, chunk),
                &|| paths::tokio_xmpp_stanzas(&rt, &data, chunk),
                &|| paths::xmpp_kit_stanzas_parsed(&data, chunk),
            ];
            for (i, run) in runs.iter().enumerate() {
                let start = Instant::now();
                std::hint::black_box(run());
                best[i] = best[i].min(start.elapsed());
            }
        }
        let t = best.map(|d| mib / d.as_secs_f64());
        println!(
            "| {chunk} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} | {:.2} |",
            t[0],
            t[1],
            t[2],
            t[3],
            t[2] / t[3],
            t[2] / t[0],
            t[4],
            t[4] / t[3]
        );
    }
}
