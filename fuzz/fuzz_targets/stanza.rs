//! Fuzz target: elements from the framer to typed stanzas and back
//! (`xmpp_kit::stanza`). Run with `cargo +nightly fuzz run stanza`.
#![no_main]

// Each target uses part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::stanza(data));
