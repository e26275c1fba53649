//! Fuzz harnesses, shared by the cargo-fuzz targets and by the stable test
//! `tests/fuzz_corpus.rs` that replays `fuzz/corpus/`.
//!
//! Each harness panics only when a property of the crate is broken; any
//! input that the crate rejects with a typed error is fine.

use bytes::BytesMut;
use xmpp_kit::xml::{
    Frame, Framing, Limits, StreamHeader, StreamNamespace, StreamParser, StreamWriter,
};

/// Feeds `data` to a [`StreamParser`] in chunks chosen by its first byte,
/// restarting the stream after SASL success like a connection would, and
/// checks that every element it yields survives a write and a re-parse.
pub(crate) fn framer(data: &[u8]) {
    let Some((&chunking, data)) = data.split_first() else {
        return;
    };
    // Small limits so that the fuzzer reaches them.
    let mut limits = Limits::default();
    limits.max_stanza_bytes = 4096;
    limits.max_stanza_bytes_pre_auth = 1024;
    limits.max_depth = 8;
    limits.max_attributes = 8;
    limits.max_elements = 64;
    limits.max_token_length = 512;
    let chunk = usize::from(chunking % 17) + 1;

    let mut parser = StreamParser::new(limits);
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        loop {
            match parser.next_frame() {
                Ok(Some(Frame::Element(element))) => {
                    round_trip(&element);
                    if element.name() == "success" {
                        parser.reset();
                        parser.set_authenticated(true);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => {
                    // The error must be sticky and map to a condition.
                    let _ = error.condition();
                    assert_eq!(parser.next_frame(), Err(error));
                    return;
                }
            }
        }
    }
}

/// An element the parser produced must be writable, and parse back equal
/// inside a stream like the one it was written for.
fn round_trip(element: &minidom::Element) {
    let header = StreamHeader::new(Framing::Stream, StreamNamespace::Client);
    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    if let Err(e) = writer.write_header(&header, &mut out) {
        panic!("the header could not be written: {e}");
    }
    if let Err(e) = writer.write_element(element, &mut out) {
        panic!("a parsed element could not be written: {e}: {element:?}");
    }
    let mut parser = StreamParser::new(Limits::default());
    parser.set_authenticated(true);
    parser.feed(&out);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    match parser.next_frame() {
        Ok(Some(Frame::Element(back))) => assert_eq!(&back, element, "written as {out:?}"),
        other => panic!("written element did not parse back: {other:?} from {out:?}"),
    }
}
