//! Bytes -> frames throughput of `StreamParser`, next to raw rxml on the same
//! corpus in the same run, and `StreamWriter` serialization.
//!
//! Run: `cargo bench --bench framing`. The corpus (see `benches/corpus`) is
//! generated deterministically; every benchmark reads it in chunks of 1 KiB,
//! 4 KiB and 64 KiB, as a socket would deliver it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod corpus;
mod reading;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reading::{limits, rxml_events, xmpp_kit_frames, xmpp_kit_stanzas};
use xmpp_kit::stanza::Stanza;
use xmpp_kit::xml::{Frame, StreamNamespace, StreamParser, StreamWriter};

const STANZAS: u64 = 2000;
const SEED: u64 = 0x5EED_F00D;
const CHUNKS: [usize; 3] = [1024, 4096, 65536];

fn parse_all(data: &[u8]) -> Vec<minidom::Element> {
    let mut parser = StreamParser::new(limits());
    parser.set_authenticated(true);
    parser.feed(data);
    let mut elements = Vec::new();
    while let Some(frame) = parser.next_frame().expect("corpus parses") {
        if let Frame::Element(e) = frame {
            elements.push(e);
        }
    }
    elements
}

fn framing(c: &mut Criterion) {
    let data = corpus::stream(STANZAS, SEED);
    let elements = parse_all(&data);
    eprintln!(
        "corpus: {} bytes, {} top-level elements, {:.0} bytes per element",
        data.len(),
        elements.len(),
        data.len() as f64 / elements.len() as f64
    );

    let mut group = c.benchmark_group("bytes_to_frames");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for chunk in CHUNKS {
        group.bench_with_input(
            BenchmarkId::new("rxml_parser_events", chunk),
            &chunk,
            |b, &chunk| b.iter(|| rxml_events(rxml::Parser::new(), &data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("rxml_raw_events", chunk),
            &chunk,
            |b, &chunk| b.iter(|| rxml_events(rxml::RawParser::new(), &data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("xmpp_kit_frames", chunk),
            &chunk,
            |b, &chunk| b.iter(|| xmpp_kit_frames(&data, chunk)),
        );
        group.bench_with_input(
            BenchmarkId::new("xmpp_kit_stanzas", chunk),
            &chunk,
            |b, &chunk| b.iter(|| xmpp_kit_stanzas(&data, chunk)),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("frames_to_bytes");
    group.throughput(Throughput::Bytes(data.len() as u64));
    let writer = StreamWriter::new();
    let mut out = BytesMut::with_capacity(data.len() * 2);
    group.bench_function("xmpp_kit_writer", |b| {
        b.iter(|| {
            out.clear();
            for e in &elements {
                writer.write_element(e, &mut out).expect("writable");
            }
            black_box(out.len())
        })
    });
    group.bench_function("minidom_write_to", |b| {
        let mut sink = Vec::with_capacity(data.len() * 2);
        b.iter(|| {
            sink.clear();
            for e in &elements {
                e.write_to(&mut sink).expect("writable");
            }
            black_box(sink.len())
        })
    });
    group.finish();

    // Typed stanzas to bytes: the chat messages of the corpus, as an
    // application would send them.
    let messages: Vec<Stanza> = elements
        .iter()
        .filter(|e| e.is("message", "jabber:client"))
        .map(|e| Stanza::try_from(e.clone()).expect("valid"))
        .collect();
    let message_bytes: usize = messages
        .iter()
        .map(|m| {
            let mut out = BytesMut::new();
            writer
                .write_element(&m.to_element_in(StreamNamespace::Client), &mut out)
                .expect("writable");
            out.len()
        })
        .sum();
    let mut group = c.benchmark_group("stanzas_to_bytes");
    group.throughput(Throughput::Bytes(message_bytes as u64));
    group.bench_function("xmpp_kit_typed_messages", |b| {
        b.iter(|| {
            out.clear();
            for m in &messages {
                writer
                    .write_stanza(m, StreamNamespace::Client, &mut out)
                    .expect("writable");
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, framing);
criterion_main!(benches);
