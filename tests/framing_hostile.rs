//! Hostile inputs: each gets the right typed error and stream error
//! condition, nothing panics, and the parser's memory stays bounded by its
//! limits while it reads them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

//!
//! Memory is measured with a process-wide peak-tracking allocator, so this
//! file holds a single test: the test runner then runs nothing in parallel
//! that could allocate at the same time.

use peak_alloc::PeakAlloc;

use xmpp_kit::stream::StreamErrorCondition as C;
use xmpp_kit::xml::{Frame, LimitKind, Limits, ParseError, StreamParser};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

/// Bytes fed per call, like a socket read.
const CHUNK: usize = 64 * 1024;

/// Feeds the input produced by `input` chunk by chunk until the parser fails
/// or `max_bytes` have been fed. Returns the error (if any) and the peak of
/// memory allocated by this thread above the level before the parser existed.
fn run(
    input: &mut dyn Iterator<Item = Vec<u8>>,
    authenticated: bool,
) -> (Option<ParseError>, usize) {
    let base = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let mut parser = StreamParser::new(Limits::default());
    let mut error = None;
    'outer: for chunk in input {
        for piece in chunk.chunks(CHUNK) {
            parser.feed(piece);
            loop {
                match parser.next_frame() {
                    Ok(Some(Frame::Header(_))) => parser.set_authenticated(authenticated),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        error = Some(e);
                        break 'outer;
                    }
                }
            }
        }
    }
    let peak = ALLOCATOR.peak_usage().saturating_sub(base);
    drop(parser);
    (error, peak)
}

/// An input made of a prefix, `count` repetitions of `unit`, and a suffix,
/// produced lazily so that a 10 MB input never exists in one piece.
fn repeated(
    prefix: &str,
    unit: &str,
    count: usize,
    suffix: &str,
) -> Box<dyn Iterator<Item = Vec<u8>>> {
    let per_chunk = (CHUNK / unit.len().max(1)).max(1);
    let unit = unit.to_owned();
    let chunks = (0..count.div_ceil(per_chunk)).map(move |i| {
        let n = per_chunk.min(count - i * per_chunk);
        unit.repeat(n).into_bytes()
    });
    Box::new(
        std::iter::once(prefix.as_bytes().to_vec())
            .chain(chunks)
            .chain(std::iter::once(suffix.as_bytes().to_vec())),
    )
}

fn once(s: &[u8]) -> Box<dyn Iterator<Item = Vec<u8>>> {
    Box::new(std::iter::once(s.to_vec()))
}

fn in_stream(stanza: &str) -> Box<dyn Iterator<Item = Vec<u8>>> {
    once(format!("{HEADER}{stanza}").as_bytes())
}

struct Case {
    name: &'static str,
    input: Box<dyn Iterator<Item = Vec<u8>>>,
    authenticated: bool,
    condition: C,
    check: fn(&ParseError) -> bool,
}

fn case(
    name: &'static str,
    input: Box<dyn Iterator<Item = Vec<u8>>>,
    condition: C,
    check: fn(&ParseError) -> bool,
) -> Case {
    Case {
        name,
        input,
        authenticated: true,
        condition,
        check,
    }
}

fn limit_is(e: &ParseError, kind: LimitKind) -> bool {
    matches!(e, ParseError::LimitExceeded { kind: k, .. } if *k == kind)
}

const BILLION_LAUGHS: &str = "<?xml version='1.0'?><!DOCTYPE lolz [\
    <!ENTITY lol 'lol'>\
    <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\
    <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>\
    <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\
    <!ENTITY lol9 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>]>\
    <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol9;";

fn cases() -> Vec<Case> {
    use ParseError as E;
    vec![
        case("billion laughs before the header", once(BILLION_LAUGHS.as_bytes()), C::RestrictedXml,
            |e| matches!(e, E::RestrictedXml(_))),
        case("DTD inside the stream", in_stream("<!DOCTYPE x [<!ENTITY a 'b'>]>"), C::RestrictedXml,
            |e| matches!(e, E::RestrictedXml(_))),
        case("entity declaration inside a stanza", in_stream("<message><!ENTITY a 'b'></message>"),
            C::RestrictedXml, |e| matches!(e, E::RestrictedXml(_))),
        case("undeclared entity reference", in_stream("<message><body>&lol;</body></message>"),
            C::RestrictedXml, |e| matches!(e, E::RestrictedXml("entity references"))),
        case("processing instruction before the header",
            once(b"<?php echo 1?><stream:stream/>"), C::RestrictedXml,
            |e| matches!(e, E::RestrictedXml("processing instructions"))),
        case("processing instruction in a stanza", in_stream("<message><?php x?></message>"),
            C::RestrictedXml, |e| matches!(e, E::RestrictedXml("processing instructions"))),
        case("comment at stream level", in_stream("<!-- hello -->"), C::RestrictedXml,
            |e| matches!(e, E::RestrictedXml("comments"))),
        case("comment in a stanza", in_stream("<message><!-- hello --></message>"), C::RestrictedXml,
            |e| matches!(e, E::RestrictedXml("comments"))),
        case("100k-deep nesting", repeated(HEADER, "<a>", 100_000, ""), C::PolicyViolation,
            |e| limit_is(e, LimitKind::Depth)),
        case("10 MB stanza", repeated(&format!("{HEADER}<message><body>"), "0123456789", 1_000_000,
            "</body></message>"), C::PolicyViolation, |e| limit_is(e, LimitKind::StanzaBytes)),
        case("10 MB of whitespace inside a stanza",
            repeated(&format!("{HEADER}<message>"), " ", 10_000_000, ""), C::PolicyViolation,
            |e| limit_is(e, LimitKind::StanzaBytes)),
        case("10k attributes", numbered(&format!("{HEADER}<message"), " a{}='b'", 10_000, "/>"),
            C::PolicyViolation, |e| limit_is(e, LimitKind::Attributes)),
        case("10k namespace declarations", numbered(&format!("{HEADER}<message"), " xmlns:p{}='urn:x'", 10_000, "/>"),
            C::PolicyViolation, |e| limit_is(e, LimitKind::Attributes)),
        case("200k empty elements in one stanza", repeated(&format!("{HEADER}<message>"), "<a/>", 200_000, "</message>"),
            C::PolicyViolation, |e| limit_is(e, LimitKind::Elements)),
        case("1 MB attribute value", repeated(&format!("{HEADER}<message a='"), "x", 1 << 20, "'/>"),
            C::PolicyViolation, |e| limit_is(e, LimitKind::TokenLength) || limit_is(e, LimitKind::StanzaBytes)),
        case("1 MB element name", repeated(&format!("{HEADER}<"), "x", 1 << 20, "/>"),
            C::PolicyViolation, |e| limit_is(e, LimitKind::TokenLength) || limit_is(e, LimitKind::StanzaBytes)),
        case("invalid UTF-8", in_stream_bytes(b"<message><body>\xc3\x28</body></message>"),
            C::UnsupportedEncoding, |e| matches!(e, E::UnsupportedEncoding(_))),
        case("UTF-16 byte order mark", once(b"\xfe\xff\x00<\x00s"), C::UnsupportedEncoding,
            |e| matches!(e, E::UnsupportedEncoding(_))),
        case("UTF-16 without byte order mark", once(b"<\x00s\x00"), C::UnsupportedEncoding,
            |e| matches!(e, E::UnsupportedEncoding(_))),
        case("declared latin1 encoding",
            once(b"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>"),
            C::UnsupportedEncoding, |e| matches!(e, E::UnsupportedEncoding(_))),
        case("NUL byte", in_stream_bytes(b"<message><body>\0</body></message>"), C::NotWellFormed,
            |e| matches!(e, E::NotWellFormed(_))),
        case("NUL character reference", in_stream("<message><body>&#0;</body></message>"),
            C::NotWellFormed, |e| matches!(e, E::NotWellFormed(_))),
        case("undeclared prefix in a stanza", in_stream("<message><foo:bar/></message>"),
            C::BadNamespacePrefix, |e| *e == E::UndeclaredPrefix("foo".into())),
        case("undeclared attribute prefix", in_stream("<message foo:a='1'/>"),
            C::BadNamespacePrefix, |e| *e == E::UndeclaredPrefix("foo".into())),
        case("stream prefix not declared (RFC 6120 4.9.3.2)",
            once(b"<stream:stream xmlns='jabber:client' to='example.com' version='1.0'>"),
            C::BadNamespacePrefix, |e| *e == E::UndeclaredPrefix("stream".into())),
        case("wrong stream namespace",
            once(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.example/streams'>"),
            C::InvalidNamespace, |e| matches!(e, E::InvalidNamespace(_))),
        case("unsupported content namespace",
            once(b"<stream:stream xmlns='jabber:other' xmlns:stream='http://etherx.jabber.org/streams'>"),
            C::InvalidNamespace, |e| matches!(e, E::InvalidNamespace(_))),
        case("no content namespace",
            once(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"),
            C::InvalidNamespace, |e| matches!(e, E::InvalidNamespace(_))),
        case("first element is a stanza", once(b"<message xmlns='jabber:client'/>"),
            C::BadFormat, |e| matches!(e, E::BadFormat(_))),
        case("text at stream level", in_stream("hello"), C::BadFormat,
            |e| matches!(e, E::BadFormat(_))),
        case("garbage after the close", in_stream("<message/></stream:stream>garbage"),
            C::NotWellFormed, |e| *e == E::DataAfterClose),
        case("a stanza after the close", in_stream("</stream:stream><message/>"),
            C::NotWellFormed, |e| *e == E::DataAfterClose),
        case("duplicate attribute", in_stream("<message to='a' to='b'/>"), C::NotWellFormed,
            |e| *e == E::DuplicateAttribute("to".into())),
        case("duplicate attribute through two prefixes",
            in_stream("<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>"),
            C::NotWellFormed, |e| *e == E::DuplicateAttribute("t".into())),
        case("namespace prefix declared twice on one element",
            once(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
                   xmlns:stream='http://etherx.jabber.org/streams'>"),
            C::NotWellFormed, |e| *e == E::DuplicateAttribute("xmlns:stream".into())),
        case("default namespace declared twice", in_stream("<message xmlns='jabber:client' xmlns='urn:x'/>"),
            C::NotWellFormed, |e| *e == E::DuplicateAttribute("xmlns".into())),
        case("mismatched end tag", in_stream("<message></presence>"), C::NotWellFormed,
            |e| matches!(e, E::NotWellFormed(_))),
        case("unquoted attribute", in_stream("<message to=a/>"), C::NotWellFormed,
            |e| matches!(e, E::NotWellFormed(_))),
        case("oversized header", repeated("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' a='",
            "x", 1 << 20, "'>"), C::PolicyViolation,
            |e| limit_is(e, LimitKind::TokenLength) || limit_is(e, LimitKind::StanzaBytes)),
        Case { authenticated: false, ..case("pre-auth stanza over 16 KiB",
            repeated(&format!("{HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"), "AAAA", 8192, "</auth>"),
            C::PolicyViolation, |e| matches!(e, E::LimitExceeded { kind: LimitKind::StanzaBytes, limit: 16384 })) },
    ]
}

fn in_stream_bytes(stanza: &[u8]) -> Box<dyn Iterator<Item = Vec<u8>>> {
    let mut v = HEADER.as_bytes().to_vec();
    v.extend_from_slice(stanza);
    once(&v)
}

/// `count` copies of `unit` with `{}` replaced by a counter, so that
/// every attribute name differs.
fn numbered(
    prefix: &str,
    unit: &str,
    count: usize,
    suffix: &str,
) -> Box<dyn Iterator<Item = Vec<u8>>> {
    let body: String = (0..count)
        .map(|i| unit.replace("{}", &i.to_string()))
        .collect();
    Box::new(
        vec![
            prefix.as_bytes().to_vec(),
            body.into_bytes(),
            suffix.as_bytes().to_vec(),
        ]
        .into_iter(),
    )
}

fn hostile_inputs_get_typed_errors_within_bounded_memory() {
    let limits = Limits::default();
    // What one parser may hold: the bytes of one chunk being fed, the
    // element in flight (at most max_stanza_bytes of markup, max_elements
    // elements at a few hundred bytes each once parsed), and the
    // tokenizer's token buffer.
    let bound = CHUNK
        + 4 * limits.max_stanza_bytes
        + 400 * limits.max_elements
        + 2 * limits.max_token_length;
    let mut failures = Vec::new();
    for c in cases() {
        let (error, peak) = run(&mut { c.input }, c.authenticated);
        match error {
            None => failures.push(format!("{}: no error", c.name)),
            Some(e) => {
                if !(c.check)(&e) {
                    failures.push(format!("{}: wrong error {e:?}", c.name));
                }
                if e.condition() != c.condition {
                    failures.push(format!(
                        "{}: condition {} instead of {}",
                        c.name,
                        e.condition(),
                        c.condition
                    ));
                }
            }
        }
        if peak > bound {
            failures.push(format!(
                "{}: peak memory {peak} bytes above the bound {bound}",
                c.name
            ));
        }
        eprintln!("{:60} peak {:>9} bytes", c.name, peak);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn a_whitespace_flood_at_stream_level_is_keepalives_in_bounded_memory() {
    let (error, peak) = run(&mut repeated(HEADER, " ", 10_000_000, "<message/>"), true);
    assert_eq!(error, None);
    assert!(peak < 4 * CHUNK + 64 * 1024, "peak {peak}");
}

fn the_good_stream_through_the_same_harness_has_no_error() {
    // The harness itself must not report errors on valid input.
    let (error, _) = run(
        &mut in_stream("<message><body>fine</body></message></stream:stream>"),
        true,
    );
    assert_eq!(error, None);
}

/// The only test of this file (see the module docs).
#[test]
fn hostile_inputs() {
    the_good_stream_through_the_same_harness_has_no_error();
    a_whitespace_flood_at_stream_level_is_keepalives_in_bounded_memory();
    hostile_inputs_get_typed_errors_within_bounded_memory();
}
