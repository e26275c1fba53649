//! Property tests of the framing layer:
//! - any split of a stream into chunks, down to single bytes, gives the same
//!   frames (and the same error) as feeding it whole;
//! - what [`StreamWriter`] writes parses back to equal elements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use bytes::BytesMut;
use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::stream::StreamErrorCondition;
use xmpp_kit::xml::{
    Frame, Framing, Limits, ParseError, StreamHeader, StreamNamespace, StreamParser, StreamWriter,
};

/// Frames until the input is exhausted or an error, with runs of keepalives
/// merged (how many keepalive frames whitespace gives depends on how it was
/// split; that it is whitespace does not), and the error if any.
#[derive(Debug)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<ParseError>,
}

impl Outcome {
    /// Equal frames and equal failure. When the input holds several faults,
    /// which one the tokenizer meets first can depend on the split (rxml
    /// checks the characters of a buffered run before decoding it), so only
    /// whether both failed is compared here; `exact` compares the errors.
    ///
    /// A keepalive right before an error is dropped too: whitespace that
    /// arrived in an earlier read was reported before the garbage after it
    /// was seen, which feeding everything at once cannot do.
    fn same(&self, other: &Self) -> bool {
        self.frames_before_error() == other.frames_before_error()
            && self.error.is_some() == other.error.is_some()
    }

    fn frames_before_error(&self) -> &[Frame] {
        match (self.error.is_some(), self.frames.split_last()) {
            (true, Some((Frame::Keepalive, rest))) => rest,
            _ => &self.frames,
        }
    }

    fn exact(
        &self,
    ) -> (
        &[Frame],
        Option<(std::mem::Discriminant<ParseError>, StreamErrorCondition)>,
    ) {
        let error = self
            .error
            .as_ref()
            .map(|e| (std::mem::discriminant(e), e.condition()));
        (&self.frames, error)
    }
}

fn parse_in_chunks(data: &[u8], cuts: &[usize]) -> Outcome {
    let mut parser = StreamParser::new(Limits::default());
    let mut frames = Vec::new();
    let mut error = None;
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    ends.push(data.len());
    ends.sort_unstable();
    'feed: for end in ends {
        parser.feed(&data[start..end]);
        start = end;
        loop {
            match parser.next_frame() {
                Ok(Some(frame)) => {
                    if let Frame::Header(_) = frame {
                        parser.set_authenticated(true);
                    }
                    if !(frame == Frame::Keepalive && frames.last() == Some(&Frame::Keepalive)) {
                        frames.push(frame);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    Outcome { frames, error }
}

fn parse_bytewise(data: &[u8]) -> Outcome {
    let cuts: Vec<usize> = (0..data.len()).collect();
    parse_in_chunks(data, &cuts)
}

// ---- generators -------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("message".to_owned()),
        Just("body".to_owned()),
        Just("item".to_owned()),
        "[a-zA-Z_][a-zA-Z0-9._-]{0,8}",
    ]
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("jabber:client".to_owned()),
        Just("urn:xmpp:test".to_owned()),
        Just("http://jabber.org/protocol/pubsub#event".to_owned()),
        Just("http://etherx.jabber.org/streams".to_owned()),
        Just(String::new()),
    ]
}

/// Text with everything that needs escaping, whitespace XML normalizes,
/// and multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    "[a-z0-9 <>&'\"\t\n\r\u{e9}\u{3c0}\u{1F3AD}\u{FFFD}\\]]{1,16}"
}

#[derive(Debug, Clone)]
enum Child {
    Text(String),
    Element(Element),
}

fn element() -> impl Strategy<Value = Element> {
    let leaf =
        (name(), namespace(), attributes()).prop_map(|(n, ns, attrs)| build(n, ns, attrs, vec![]));
    leaf.prop_recursive(4, 24, 4, |inner| {
        (
            name(),
            namespace(),
            attributes(),
            prop::collection::vec(
                prop_oneof![text().prop_map(Child::Text), inner.prop_map(Child::Element)],
                0..4,
            ),
        )
            .prop_map(|(n, ns, attrs, children)| build(n, ns, attrs, children))
    })
}

type Attribute = (u8, String, String);

fn attributes() -> impl Strategy<Value = Vec<Attribute>> {
    prop::collection::vec((0u8..6, "[a-z][a-z0-9]{0,3}", text()), 0..4)
}

fn build(name: String, ns: String, attrs: Vec<Attribute>, children: Vec<Child>) -> Element {
    let mut e = Element::bare(name, ns);
    for (kind, attr_name, value) in attrs {
        let attr_ns = match kind {
            0 => rxml::Namespace::from("urn:xmpp:attr"),
            1 => rxml::Namespace::XML,
            _ => rxml::Namespace::NONE,
        };
        let attr_name = rxml::NcName::try_from(attr_name).unwrap();
        e.attrs_mut().insert(attr_ns, attr_name, value);
    }
    for child in children {
        match child {
            Child::Text(t) => e.append_text(t),
            Child::Element(c) => {
                e.append_child(c);
            }
        }
    }
    e
}

/// A top-level element: it must have a namespace for RFC 7395 framing.
fn top_element() -> impl Strategy<Value = Element> {
    element().prop_filter("top-level elements declare a namespace", |e| !e.has_ns(""))
}

fn header(framing: Framing) -> StreamHeader {
    StreamHeader {
        framing,
        namespace: StreamNamespace::Client,
        to: Some("example.com".to_owned()),
        from: Some("juliet@example.com/balcony".to_owned()),
        id: Some("s1".to_owned()),
        version: Some("1.0".to_owned()),
        lang: Some("en".to_owned()),
    }
}

/// A whole stream written by our writer, with keepalives between elements.
fn written_stream(
    framing: Framing,
    elements: &[Element],
    keepalives: &[bool],
    close: bool,
) -> Vec<u8> {
    let mut writer = StreamWriter::new();
    let mut out = BytesMut::new();
    writer.write_header(&header(framing), &mut out).unwrap();
    for (i, e) in elements.iter().enumerate() {
        if framing == Framing::Stream && keepalives.get(i).copied().unwrap_or(false) {
            out.extend_from_slice(b" \n");
        }
        writer.write_element(e, &mut out).unwrap();
    }
    if close {
        writer.write_close(&mut out);
    }
    out.to_vec()
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::Stream), Just(Framing::WebSocket)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_frames(
        framing in framing(),
        elements in prop::collection::vec(top_element(), 0..6),
        keepalives in prop::collection::vec(any::<bool>(), 6),
        close in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let data = written_stream(framing, &elements, &keepalives, close);
        let whole = parse_in_chunks(&data, &[]);
        prop_assert_eq!(&whole.error, &None);
        let split = parse_in_chunks(&data, &cuts);
        prop_assert_eq!(split.exact(), whole.exact());
        let bytewise = parse_bytewise(&data);
        prop_assert_eq!(bytewise.exact(), whole.exact());
    }

    #[test]
    fn any_split_of_a_corrupted_stream_gives_the_same_frames_and_error(
        elements in prop::collection::vec(element(), 1..4),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut data = written_stream(Framing::Stream, &elements, &[], true);
        for (at, byte) in edits {
            let i = at % data.len();
            data[i] = byte;
        }
        let whole = parse_in_chunks(&data, &[]);
        let split = parse_in_chunks(&data, &cuts);
        prop_assert!(split.same(&whole), "{:?}\n{:?}", split, whole);
        let bytewise = parse_bytewise(&data);
        prop_assert!(bytewise.same(&whole), "{:?}\n{:?}", bytewise, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_the_same(
        data in prop::collection::vec(any::<u8>(), 0..256),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        // The tokenizer may wait for more input before it rejects what it
        // has (a trailing `]` could start `]]>`), so whether a prefix is
        // already an error depends on where the input stops. A NUL byte,
        // which XML never allows, ends every input in an error: both ways
        // must then give the same frames before it.
        let mut data = data;
        data.push(0);
        let whole = parse_in_chunks(&data, &[]);
        let split = parse_in_chunks(&data, &cuts);
        prop_assert!(split.same(&whole), "{:?}\n{:?}", split, whole);
    }

    #[test]
    fn writer_output_parses_back_to_equal_elements(
        framing in framing(),
        elements in prop::collection::vec(top_element(), 0..6),
    ) {
        let data = written_stream(framing, &elements, &[], true);
        let outcome = parse_in_chunks(&data, &[]);
        prop_assert_eq!(outcome.error, None);
        let mut expected = vec![Frame::Header(header(framing))];
        expected.extend(elements.into_iter().map(Frame::Element));
        expected.push(Frame::Close);
        prop_assert_eq!(outcome.frames, expected);
    }
}

/// The input that showed the tokenizer's waiting: fed whole, ` ' ]` is not
/// an error yet (the `]` could start `]]>`); cut after ` '`, it is.
#[test]
fn an_error_the_tokenizer_waits_to_see_splits_the_same_once_input_ends() {
    let mut data = b" ' ]".to_vec();
    let whole = parse_in_chunks(&data, &[]);
    let split = parse_in_chunks(&data, &[2]);
    assert_ne!(
        whole.error.is_some(),
        split.error.is_some(),
        "rxml still waits"
    );
    data.push(0);
    let whole = parse_in_chunks(&data, &[]);
    let split = parse_in_chunks(&data, &[2]);
    assert!(split.same(&whole), "{split:?}\n{whole:?}");
}
