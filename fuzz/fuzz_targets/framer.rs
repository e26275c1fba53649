//! Fuzz target: the XML stream framer (`xmpp_kit::xml::StreamParser`) and
//! the writer's round trip. Run with `cargo +nightly fuzz run framer`.
#![no_main]

// Each target uses part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::framer(data));
