//! xmpp-kit next to tokio-xmpp 6 / xmpp-parsers and raw rxml, in one
//! criterion run, on the same generated corpus (`benches/corpus`) fed in the
//! same chunk sizes.
//!
//! Run it all, with the table and ratios at the end:
//! `scripts/perf-compare.sh` (from the repository root). This bench alone:
//! `cargo bench --manifest-path benches/compare/Cargo.toml`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use xmpp_kit::xml::StreamWriter;
use xmpp_kit_compare as paths;

fn compare(c: &mut Criterion) {
    let data = paths::corpus();
    let rt = paths::runtime();
    let stanzas = paths::stanza_count(&data);
    eprintln!(
        "corpus: {} bytes, {stanzas} stanzas, {:.0} bytes per stanza",
        data.len(),
        data.len() as f64 / stanzas as f64
    );
    // Every path must see the same stanzas.
    for chunk in paths::CHUNKS {
        assert_eq!(paths::xmpp_kit_stanzas(&data, chunk), stanzas);
        assert_eq!(paths::tokio_xmpp_stanzas(&rt, &data, chunk), stanzas);
    }

    let mut group = c.benchmark_group("bytes_to_stanzas");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for chunk in paths::CHUNKS {
        group.bench_with_input(
            BenchmarkId::new("rxml_parser_events", chunk),
            &chunk,
            |b, &chunk| b.iter(|| paths::rxml_events(rxml::Parser::new(), &data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("rxml_raw_events", chunk),
            &chunk,
            |b, &chunk| b.iter(|| paths::rxml_events(rxml::RawParser::new(), &data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("xmpp_kit_frames", chunk),
            &chunk,
            |b, &chunk| b.iter(|| paths::xmpp_kit_frames(&data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("xmpp_kit_stanzas", chunk),
            &chunk,
            |b, &chunk| b.iter(|| paths::xmpp_kit_stanzas(&data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("tokio_xmpp_stanzas", chunk),
            &chunk,
            |b, &chunk| b.iter(|| paths::tokio_xmpp_stanzas(&rt, &data, chunk)),
        );
    }
    group.finish();

    // The same messages (every <message/> of the corpus), typed by each
    // library, written by each library into a BytesMut.
    let kit_messages = paths::xmpp_kit_messages(&data);
    let tx_messages = paths::tokio_xmpp_messages(&rt, &data);
    assert_eq!(kit_messages.len(), tx_messages.len());
    let writer = StreamWriter::new();
    let mut out = BytesMut::with_capacity(data.len() * 2);
    let kit_bytes = paths::xmpp_kit_write(&kit_messages, &writer, &mut out);
    let mut tx_writer = paths::TokioXmppWriter::new();
    let tx_bytes = tx_writer.write(&tx_messages, &mut out);
    eprintln!(
        "messages: {}, written as {kit_bytes} bytes by xmpp-kit, {tx_bytes} by tokio-xmpp",
        kit_messages.len()
    );

    let mut group = c.benchmark_group("messages_to_bytes");
    group.throughput(Throughput::Bytes(kit_bytes as u64));
    group.bench_function("xmpp_kit_typed_messages", |b| {
        b.iter(|| black_box(paths::xmpp_kit_write(&kit_messages, &writer, &mut out)))
    });
    group.throughput(Throughput::Bytes(tx_bytes as u64));
    group.bench_function("tokio_xmpp_typed_messages", |b| {
        b.iter(|| black_box(tx_writer.write(&tx_messages, &mut out)))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = compare
}
criterion_main!(benches);
