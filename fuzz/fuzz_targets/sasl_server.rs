//! Fuzz target: `SaslServer` of every mechanism driven by arbitrary client
//! messages. Run with `cargo +nightly fuzz run sasl_server`.
#![no_main]

// Each target uses part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::sasl_server(data));
