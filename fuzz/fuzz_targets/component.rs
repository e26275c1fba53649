//! Fuzz target: `ComponentConnection` (accepting role) driven by arbitrary
//! component bytes, timeouts, decisions and closes. Run with
//! `cargo +nightly fuzz run component`.
#![no_main]

// Each target uses part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::component(data));
