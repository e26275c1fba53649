//! The reading paths every benchmark compares, over the corpus of
//! `benches/corpus`: raw rxml events, xmpp-kit bytes to frames and bytes
//! to typed stanzas. Shared by `benches/framing.rs` and the peer comparison
//! (`benches/compare`), so both measure the same code.
//!
//! Each path takes the whole corpus from memory in chunks of a given size,
//! as a socket would deliver it, and counts what it produced.

#![allow(dead_code, unreachable_pub)]

use std::hint::black_box;

use rxml::Parse;
use xmpp_kit::stanza::Stanza;
use xmpp_kit::xml::{Frame, Limits, StreamParser};

/// The crate's limits, with room for the corpus's largest items.
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_stanza_bytes = 1 << 20;
    limits
}

/// Every event of an rxml parser over the corpus, counted: the floor any
/// library built on rxml works from. `rxml::Parser` (namespace-resolved,
/// what tokio-xmpp drives) is the reference; `rxml::RawParser` is what
/// xmpp-kit's framer drives.
pub fn rxml_events<P: Parse>(mut parser: P, data: &[u8], chunk: usize) -> usize
where
    P::Output: std::fmt::Debug,
{
    let mut events = 0;
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        loop {
            match parser.parse(&mut rest, false) {
                Ok(Some(ev)) => {
                    black_box(&ev);
                    events += 1;
                }
                Err(rxml::error::EndOrError::NeedMoreData) => break,
                other => panic!("corpus failed to parse: {other:?}"),
            }
        }
    }
    events
}

/// xmpp-kit, bytes to frames (a `minidom::Element` per top-level element);
/// counts the elements.
pub fn xmpp_kit_frames(data: &[u8], chunk: usize) -> usize {
    let mut parser = StreamParser::new(limits());
    parser.set_authenticated(true);
    let mut frames = 0;
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        while let Some(frame) = parser.next_frame().expect("corpus parses") {
            black_box(&frame);
            if let Frame::Element(_) = frame {
                frames += 1;
            }
        }
    }
    frames
}

/// xmpp-kit, bytes to typed stanzas, as its connections read them: the
/// framer splitting stanzas (`set_split_stanzas`), then `Stanza::try_from`
/// on each stanza's parts. Payloads stay as the bytes they arrived as until
/// looked into; [`xmpp_kit_stanzas_parsed`] looks into every one.
pub fn xmpp_kit_stanzas(data: &[u8], chunk: usize) -> usize {
    read_stanzas(data, chunk, |stanza| {
        black_box(&stanza);
    })
}

/// [`xmpp_kit_stanzas`], then every payload parsed into its element tree:
/// the cost when an application looks into everything.
pub fn xmpp_kit_stanzas_parsed(data: &[u8], chunk: usize) -> usize {
    read_stanzas(data, chunk, |stanza| {
        let payloads: &[xmpp_kit::xml::LazyElement] = match &stanza {
            Stanza::Message(m) => &m.payloads,
            Stanza::Presence(p) => &p.payloads,
            Stanza::Iq(iq) => iq.payload().map(std::slice::from_ref).unwrap_or_default(),
        };
        for payload in payloads {
            black_box(payload.as_element());
        }
        black_box(&stanza);
    })
}

fn read_stanzas(data: &[u8], chunk: usize, mut each: impl FnMut(Stanza)) -> usize {
    let mut parser = StreamParser::new(limits());
    parser.set_authenticated(true);
    parser.set_split_stanzas(true);
    let mut stanzas = 0;
    for piece in data.chunks(chunk) {
        parser.feed(piece);
        while let Some(frame) = parser.next_frame().expect("corpus parses") {
            if let Frame::Stanza(parts) = frame {
                let stanza = Stanza::try_from(parts).expect("corpus stanzas are valid");
                each(stanza);
                stanzas += 1;
            }
        }
    }
    stanzas
}
