//! Fuzz target: `ServerConnection` driven by arbitrary client bytes,
//! timeouts, sends and closes. Run with `cargo +nightly fuzz run server`.
#![no_main]

// Each target uses part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::server(data));
