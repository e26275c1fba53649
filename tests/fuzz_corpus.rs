//! Replays every input under `fuzz/corpus/<target>/` through the same
//! harness the fuzzer runs, so that inputs the fuzzer found (and the seeds)
//! keep passing on stable Rust without cargo-fuzz.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        harness(&data);
        count += 1;
    }
    assert!(count > 0, "no corpus in {}", dir.display());
}

#[test]
fn framer_corpus() {
    replay("framer", harness::framer);
}

#[test]
fn stanza_corpus() {
    replay("stanza", harness::stanza);
}

#[test]
fn client_corpus() {
    replay("client", harness::client);
}

#[test]
fn component_corpus() {
    replay("component", harness::component);
}

#[test]
fn server_corpus() {
    replay("server", harness::server);
}

#[test]
fn sasl_server_corpus() {
    replay("sasl_server", harness::sasl_server);
}

#[test]
fn sasl_client_corpus() {
    replay("sasl_client", harness::sasl_client);
}
