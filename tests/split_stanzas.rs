//! Property tests of split stanzas ([`StreamParser::set_split_stanzas`]):
//! - for any chunking, split mode gives the frames normal mode gives, a
//!   stanza's parts making the stanza's element again (whitespace between
//!   its children aside);
//! - a child kept as bytes is exactly the bytes of that child in the input,
//!   answers for its name and namespace like its tree, and parses alone to
//!   that tree; which children are kept that way follows the namespace
//!   rules (self-contained ones only);
//! - a fault inside a child kept as bytes (duplicate attribute, undeclared
//!   prefix, a limit) fails split mode with normal mode's error, after the
//!   same frames;
//! - `buffered_len` and `reset` at a stream restart behave alike in both
//!   modes.
//!
//! Streams are built as text, not with the writer, so that prefixes,
//! declarations, quoting and references are ours to choose. A small model
//! resolves namespaces while rendering, to know the byte range of each
//! stanza child and whether it is self-contained.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::ops::Range;

use minidom::{Element, Node};
use proptest::prelude::*;
use xmpp_kit::xml::{
    Frame, Framing, LazyElement, LimitKind, Limits, ParseError, StanzaName, StanzaParts,
    StreamHeader, StreamNamespace, StreamParser,
};

const STREAMS_NS: &str = "http://etherx.jabber.org/streams";
const FRAMING_NS: &str = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL_NS: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const HEADER_NS: &str = "urn:header";
const STANZA_NS: &str = "urn:stanza";
const LOCAL_NS: &str = "urn:local";

// ---- running the parser --------------------------------------------------

/// What a parser gave for a whole input.
#[derive(Debug, Default)]
struct Run {
    /// Frames, runs of keepalives merged (how many keepalive frames a run of
    /// whitespace gives depends on how it arrived).
    frames: Vec<Frame>,
    error: Option<ParseError>,
    /// At each `<success/>`: `buffered_len()` before `reset()`, after it,
    /// and the bytes fed so far.
    restarts: Vec<(usize, usize, usize)>,
    /// `buffered_len()` after each call of `next_frame()` that gave a
    /// frame (`true`) or asked for more bytes (`false`).
    buffered: Vec<(bool, usize)>,
}

/// Feeds `data` cut at `cuts` (taken modulo its length), taking every frame
/// after each piece, authenticating after a header and restarting the
/// stream after `<success/>` like a connection does.
fn run(data: &[u8], cuts: &[usize], split: bool, limits: &Limits) -> Run {
    let mut parser = StreamParser::new(limits.clone());
    parser.set_split_stanzas(split);
    let mut out = Run::default();
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
                    match &frame {
                        Frame::Header(_) => parser.set_authenticated(true),
                        Frame::Element(e) if e.is("success", SASL_NS) => {
                            let before = parser.buffered_len();
                            parser.reset();
                            parser.set_authenticated(true);
                            out.restarts.push((before, parser.buffered_len(), end));
                        }
                        _ => {}
                    }
                    out.buffered.push((true, parser.buffered_len()));
                    if !(frame == Frame::Keepalive && out.frames.last() == Some(&Frame::Keepalive))
                    {
                        out.frames.push(frame);
                    }
                }
                Ok(None) => {
                    out.buffered.push((false, parser.buffered_len()));
                    break;
                }
                Err(e) => {
                    // Sticky.
                    assert_eq!(parser.next_frame(), Err(e.clone()));
                    out.error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    out
}

fn bytewise(data: &[u8]) -> Vec<usize> {
    (0..data.len()).collect()
}

/// A frame, comparable across the two modes.
#[derive(Debug, PartialEq)]
enum Seen {
    Header(StreamHeader),
    /// A top-level element that is not a stanza.
    Element(Element),
    /// A stanza, as an element without whitespace text directly under it.
    Stanza(Element),
    Keepalive,
    Close,
}

fn is_stanza(e: &Element) -> bool {
    StanzaName::from_name(e.name()).is_some() && StreamNamespace::from_name(&e.ns()).is_some()
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `e` without the whitespace-only text nodes directly under it.
fn strip(mut e: Element) -> Element {
    for node in e.take_nodes() {
        match node {
            Node::Text(t) if t.chars().all(is_xml_space) => {}
            node => e.append_node(node),
        }
    }
    e
}

/// A frame of normal mode: its stanzas are elements.
fn seen_normal(frame: &Frame) -> Seen {
    match frame {
        Frame::Header(h) => Seen::Header(h.clone()),
        Frame::Element(e) if is_stanza(e) => Seen::Stanza(strip(e.clone())),
        Frame::Element(e) => Seen::Element(e.clone()),
        Frame::Keepalive => Seen::Keepalive,
        Frame::Close => Seen::Close,
        other => panic!("normal mode gave {other:?}"),
    }
}

/// A frame of split mode: its stanzas are parts.
fn seen_split(frame: &Frame) -> Seen {
    match frame {
        Frame::Header(h) => Seen::Header(h.clone()),
        Frame::Stanza(parts) => Seen::Stanza(parts.clone().into_element()),
        Frame::Element(e) => Seen::Element(e.clone()),
        Frame::Keepalive => Seen::Keepalive,
        Frame::Close => Seen::Close,
        other => panic!("split mode gave {other:?}"),
    }
}

/// The frames of normal mode and split mode, side by side.
fn seen(normal: &Run, split: &Run) -> (Vec<Seen>, Vec<Seen>) {
    (
        normal.frames.iter().map(seen_normal).collect(),
        split.frames.iter().map(seen_split).collect(),
    )
}

/// Both modes left the same bytes unparsed at every step; asking for more
/// input, the parser has taken everything fed (but a byte that cannot tell
/// the encoding yet).
fn check_buffered(normal: &Run, split: &Run) {
    assert_eq!(normal.buffered, split.buffered);
    for &(frame, buffered) in &normal.buffered {
        assert!(frame || buffered <= 1, "{:?}", normal.buffered);
    }
}

/// The frames before an error, a keepalive right before it dropped:
/// whitespace that arrived in an earlier piece was reported before what
/// follows it was seen, which a single piece cannot do.
fn before_error(run: &Run) -> &[Frame] {
    match (run.error.is_some(), run.frames.split_last()) {
        (true, Some((Frame::Keepalive, rest))) => rest,
        _ => &run.frames,
    }
}

// ---- a model of the streams ---------------------------------------------

/// Namespace names as written in a declaration, and their value.
fn namespace(index: u8, prefixed: bool) -> (String, String) {
    let (written, value) = match index % 10 {
        0 => ("urn:a", "urn:a"),
        1 => ("urn:b", "urn:b"),
        2 => ("jabber:client", "jabber:client"),
        3 => ("jabber:server", "jabber:server"),
        4 => (
            "http://jabber.org/protocol/chatstates",
            "http://jabber.org/protocol/chatstates",
        ),
        5 => ("urn:a&amp;b", "urn:a&b"),
        6 => ("urn:&#x3C0;&#960;", "urn:\u{3c0}\u{3c0}"),
        7 => ("urn:q&apos;&quot;", "urn:q'\""),
        8 => {
            let long = format!("urn:long:{}", "n".repeat(300));
            return (long.clone(), long);
        }
        // `xmlns=''` undeclares the default namespace; a prefix cannot be
        // undeclared.
        _ if prefixed => ("urn:b", "urn:b"),
        _ => ("", ""),
    };
    (written.to_owned(), value.to_owned())
}

const NAMES: &[&str] = &[
    "body", "error", "x", "query", "item", "thread", "active", "e-1", "n.a_m", "message",
];
/// Prefixes of element names: the default namespace, two that payloads
/// declare, the one the header may declare, the one the stanza may declare.
const ELEMENT_PREFIXES: &[Option<&str>] = &[None, Some("p"), Some("q"), Some("hp"), Some("sp")];
/// Prefixes of attributes (`xml` is bound by XML itself).
const ATTR_PREFIXES: &[Option<&str>] = &[
    None,
    Some("xml"),
    Some("p"),
    Some("q"),
    Some("hp"),
    Some("sp"),
];
const ATTR_NAMES: &[&str] = &["a", "b", "id", "to", "lang", "type"];
/// Attribute values as written: references, both quotes escaped, and
/// whitespace that attribute-value normalization turns into spaces.
const VALUES: &[&str] = &[
    "1",
    "",
    "x&amp;y",
    "&lt;&gt;&quot;&apos;",
    "caf&#233;&#x20;\u{3c0}",
    "tab\there",
    "line\nbreak",
    "juliet@example.com/balcony",
];
/// Text as written: references, CDATA, whitespace, non-ASCII.
const TEXTS: &[&str] = &[
    "hello",
    "a &amp; b",
    "&lt;tag&gt;",
    "caf&#233; &#x3C0;",
    "<![CDATA[<x> & y]]>",
    " \n\t ",
    "\u{1F3AD}",
    "]",
    "x&quot;&apos;",
    "\r\n",
];
/// Whitespace directly under a stanza.
const SPACES: &[&str] = &["", " ", "\n\t", "  \r\n"];

/// An element to render: choices that the renderer turns into valid XML
/// (declaring a prefix where it would be undeclared).
#[derive(Debug, Clone)]
struct Shape {
    /// Index into [`ELEMENT_PREFIXES`].
    prefix: u8,
    name: u8,
    /// Declarations: (0 default / 1 `p` / 2 `q`, namespace index).
    decls: Vec<(u8, u8)>,
    /// Attributes: (index into [`ATTR_PREFIXES`], name, value, whether it
    /// comes before the declarations).
    attrs: Vec<(u8, u8, u8, bool)>,
    content: Vec<Piece>,
    /// Bits: double quotes, newlines between attributes, space before the
    /// end of a tag, `<x></x>` for an empty element.
    style: u8,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(u8),
    Element(Shape),
}

type Head = (u8, u8, Vec<(u8, u8)>, Vec<(u8, u8, u8, bool)>, u8);

fn head() -> impl Strategy<Value = Head> {
    (
        0..ELEMENT_PREFIXES.len() as u8,
        0..NAMES.len() as u8,
        prop::collection::vec((0u8..3, any::<u8>()), 0..3),
        prop::collection::vec(
            (
                0..ATTR_PREFIXES.len() as u8,
                0..ATTR_NAMES.len() as u8,
                0..VALUES.len() as u8,
                any::<bool>(),
            ),
            0..3,
        ),
        any::<u8>(),
    )
}

fn shape_of((prefix, name, decls, attrs, style): Head, content: Vec<Piece>) -> Shape {
    Shape {
        prefix,
        name,
        decls,
        attrs,
        content,
        style,
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = (head(), prop::collection::vec(0..TEXTS.len() as u8, 0..2))
        .prop_map(|(h, texts)| shape_of(h, texts.into_iter().map(Piece::Text).collect()));
    leaf.prop_recursive(4, 16, 3, |inner| {
        (
            head(),
            prop::collection::vec(
                prop_oneof![
                    (0..TEXTS.len() as u8).prop_map(Piece::Text),
                    inner.prop_map(Piece::Element)
                ],
                0..4,
            ),
        )
            .prop_map(|(h, content)| shape_of(h, content))
    })
}

/// A stanza child: most declare their own namespace, as payloads do.
fn child() -> impl Strategy<Value = Shape> {
    (shape(), 0u8..6, any::<u8>()).prop_map(|(mut shape, form, ns)| {
        match form {
            // `<x xmlns='...'>`: a payload.
            0..=2 => {
                shape.prefix = 0;
                shape.decls.insert(0, (0, ns));
            }
            // `<p:x xmlns:p='...'>`.
            3 => {
                shape.prefix = 1;
                shape.decls.insert(0, (1, ns));
            }
            // As generated: the content namespace, outer prefixes, ...
            _ => {}
        }
        shape
    })
}

#[derive(Debug, Clone)]
struct StanzaShape {
    name: u8,
    /// 0 the default namespace of the header (RFC 6120 framing), 1-3
    /// `xmlns=` jabber:client, jabber:server, jabber:component:accept, 4-5
    /// prefixed `cl:` for jabber:client, jabber:server.
    form: u8,
    /// With a prefixed stanza: 0 nothing, 1 `xmlns=''`, 2 `xmlns='urn:other'`.
    default: u8,
    declare_sp: bool,
    /// (kind, value): 0 to, 1 from, 2 id, 3 type, 4 xml:lang, 5 an extra
    /// one, 6 `sp:`, 7 `hp:`.
    attrs: Vec<(u8, u8)>,
    children: Vec<(u8, Shape)>,
    trailing: u8,
    style: u8,
}

fn stanza() -> impl Strategy<Value = StanzaShape> {
    (
        0u8..3,
        0u8..6,
        0u8..3,
        any::<bool>(),
        prop::collection::vec((0u8..8, 0..VALUES.len() as u8), 0..5),
        prop::collection::vec((0..SPACES.len() as u8, child()), 0..4),
        0..SPACES.len() as u8,
        any::<u8>(),
    )
        .prop_map(
            |(name, form, default, declare_sp, attrs, children, trailing, style)| StanzaShape {
                name,
                form,
                default,
                declare_sp,
                attrs,
                children,
                trailing,
                style,
            },
        )
}

/// Top-level elements that are not stanzas, with their depth, most
/// attributes on one element and element count.
const NONZAS: &[(&str, usize, usize, usize)] = &[
    ("<r xmlns='urn:xmpp:sm:3'/>", 1, 1, 1),
    ("<a xmlns='urn:xmpp:sm:3' h='3'/>", 1, 2, 1),
    (
        "<message xmlns='urn:other'><body>not a stanza</body></message>",
        2,
        1,
        2,
    ),
    (
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
         <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
        2,
        1,
        2,
    ),
    ("<iq xmlns='jabber:iq:not-content' type='get'/>", 1, 2, 1),
    // A stanza below the top level is not split.
    (
        "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' \
         to='a@b'><body>hi</body><x xmlns='urn:x'/></message></forwarded>",
        3,
        2,
        4,
    ),
];
const SUCCESS: &str = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

#[derive(Debug, Clone)]
enum Item {
    Stanza(StanzaShape),
    Nonza(u8),
    Space(u8),
    /// `<success/>` and the new stream's header.
    Restart,
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        6 => stanza().prop_map(Item::Stanza),
        1 => (0..NONZAS.len() as u8).prop_map(Item::Nonza),
        1 => (1..SPACES.len() as u8).prop_map(Item::Space),
    ]
}

#[derive(Debug, Clone)]
struct StreamShape {
    framing: Framing,
    /// The header's content namespace (RFC 6120 framing).
    content: StreamNamespace,
    /// Whether the header declares `hp`.
    header_prefix: bool,
    xml_declaration: bool,
    items: Vec<Item>,
    close: bool,
}

fn stream_with(items: impl Strategy<Value = Vec<Item>>) -> impl Strategy<Value = StreamShape> {
    (
        prop_oneof![Just(Framing::Stream), Just(Framing::WebSocket)],
        prop_oneof![
            3 => Just(StreamNamespace::Client),
            1 => Just(StreamNamespace::Server),
            1 => Just(StreamNamespace::ComponentAccept),
        ],
        any::<bool>(),
        any::<bool>(),
        items,
        any::<bool>(),
    )
        .prop_map(
            |(framing, content, header_prefix, xml_declaration, items, close)| StreamShape {
                framing,
                content,
                header_prefix,
                xml_declaration,
                items,
                close,
            },
        )
}

fn stream() -> impl Strategy<Value = StreamShape> {
    stream_with(prop::collection::vec(item(), 0..6))
}

/// How the framer should give a stanza child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// In the stanza's namespace: a tree.
    Content,
    /// Declares all it uses: kept as bytes.
    Raw,
    /// Uses a declaration from outside, or no namespace: a tree.
    Outer,
}

#[derive(Debug, Clone)]
struct ChildInfo {
    range: Range<usize>,
    expect: Expect,
    /// Elements in it, itself included.
    elements: usize,
}

/// Largest figures of a stream, to set limits just under a fault.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    depth: usize,
    attributes: usize,
    elements: usize,
    bytes: usize,
}

#[derive(Debug)]
struct Rendered {
    text: String,
    /// For each stanza, in order, its children.
    stanzas: Vec<Vec<ChildInfo>>,
    stats: Stats,
    /// Where each `<success/>` ends.
    successes: Vec<usize>,
}

/// A fault put into one element of one stanza child.
#[derive(Debug, Clone, Copy)]
struct Fault {
    stanza: usize,
    child: usize,
    element: usize,
    kind: FaultKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultKind {
    /// `dup='1' dup='2'`.
    DuplicateAttribute,
    /// Two prefixes for one namespace, one attribute name with each.
    DuplicatePrefixedAttribute,
    /// A child element `<zz:u/>`, `zz` declared nowhere.
    UndeclaredElementPrefix,
    /// An attribute `zz:a`.
    UndeclaredAttributePrefix,
    /// A chain of this many nested elements.
    Depth(usize),
    /// This many more attributes.
    Attributes(usize),
    /// A wrapper with this many empty elements.
    Elements(usize),
    /// Text of this many bytes.
    Bytes(usize),
}

#[derive(Debug, Clone)]
struct Binding {
    prefix: Option<String>,
    namespace: String,
    /// Declared inside the stanza child being rendered.
    inside: bool,
}

/// Renders a stream shape as text, resolving namespaces as it goes.
struct Renderer {
    out: String,
    scope: Vec<Binding>,
    fault: Option<Fault>,
    stanza: usize,
    child: usize,
    element: usize,
    in_child: bool,
    contained: bool,
    depth: usize,
    elements: usize,
    stats: Stats,
    stanzas: Vec<Vec<ChildInfo>>,
    successes: Vec<usize>,
}

impl Renderer {
    fn new(fault: Option<Fault>) -> Self {
        Self {
            out: String::new(),
            scope: Vec::new(),
            fault,
            stanza: 0,
            child: 0,
            element: 0,
            in_child: false,
            contained: true,
            depth: 0,
            elements: 0,
            stats: Stats::default(),
            stanzas: Vec::new(),
            successes: Vec::new(),
        }
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<&Binding> {
        self.scope
            .iter()
            .rev()
            .find(|b| b.prefix.as_deref() == prefix)
    }

    /// The namespace `prefix` stands for, noting whether the child being
    /// rendered still uses only its own declarations.
    fn resolve(&mut self, prefix: Option<&str>) -> String {
        if prefix == Some("xml") {
            return XML_NS.to_owned();
        }
        let (namespace, inside) = match self.lookup(prefix) {
            Some(b) => (b.namespace.clone(), b.inside),
            None => {
                assert!(prefix.is_none(), "the renderer left {prefix:?} undeclared");
                (String::new(), false)
            }
        };
        if self.in_child && !inside {
            self.contained = false;
        }
        namespace
    }

    /// The namespace a prefix stands for, without noting its use.
    fn namespace_of(&self, prefix: &str) -> String {
        if prefix == "xml" {
            return XML_NS.to_owned();
        }
        self.lookup(Some(prefix))
            .map(|b| b.namespace.clone())
            .unwrap_or_default()
    }

    fn declared(&self, decls: &[(Option<String>, String, String)], prefix: &str) -> bool {
        prefix == "xml"
            || decls.iter().any(|d| d.0.as_deref() == Some(prefix))
            || self.lookup(Some(prefix)).is_some()
    }

    fn fault_here(&self) -> Option<FaultKind> {
        let f = self.fault?;
        (self.in_child
            && f.stanza == self.stanza
            && f.child == self.child
            && f.element == self.element)
            .then_some(f.kind)
    }

    fn enter(&mut self, attributes: usize) {
        self.depth += 1;
        self.elements += 1;
        self.stats.depth = self.stats.depth.max(self.depth);
        self.stats.attributes = self.stats.attributes.max(attributes);
    }

    /// Renders an element; returns its namespace.
    fn element(&mut self, shape: &Shape) -> String {
        let fault = self.fault_here();
        self.element += 1;
        let prefix = ELEMENT_PREFIXES[usize::from(shape.prefix)];
        let mut decls: Vec<(Option<String>, String, String)> = Vec::new();
        for &(which, index) in &shape.decls {
            let p = [None, Some("p"), Some("q")][usize::from(which)];
            if decls.iter().any(|d| d.0.as_deref() == p) {
                continue;
            }
            let (written, value) = namespace(index, p.is_some());
            decls.push((p.map(str::to_owned), written, value));
        }
        let wanted = std::iter::once(prefix)
            .chain(shape.attrs.iter().map(|a| ATTR_PREFIXES[usize::from(a.0)]));
        for p in wanted.flatten() {
            if !self.declared(&decls, p) {
                let fallback = if matches!(p, "p" | "q") {
                    "urn:a"
                } else {
                    LOCAL_NS
                };
                decls.push((Some(p.to_owned()), fallback.to_owned(), fallback.to_owned()));
            }
        }
        let mark = self.scope.len();
        for (p, _, value) in &decls {
            self.scope.push(Binding {
                prefix: p.clone(),
                namespace: value.clone(),
                inside: self.in_child,
            });
        }
        let element_ns = self.resolve(prefix);
        // Attributes, each (namespace, name) once; those before the
        // declarations, the declarations, the others.
        let mut seen_names: Vec<(Option<String>, &str)> = Vec::new();
        let (mut early, mut late) = (Vec::new(), Vec::new());
        for &(p, name, value, before) in &shape.attrs {
            let p = ATTR_PREFIXES[usize::from(p)];
            let name = ATTR_NAMES[usize::from(name)];
            let key = (p.map(|p| self.namespace_of(p)), name);
            if seen_names.contains(&key) {
                continue;
            }
            seen_names.push(key);
            if let Some(p) = p {
                self.resolve(Some(p));
            }
            let qname = match p {
                Some(p) => format!("{p}:{name}"),
                None => name.to_owned(),
            };
            let attr = format!("{qname}={}", quote(VALUES[usize::from(value)], shape.style));
            if before { &mut early } else { &mut late }.push(attr);
        }
        let mut written = early;
        for (p, ns, _) in &decls {
            let name = match p {
                Some(p) => format!("xmlns:{p}"),
                None => "xmlns".to_owned(),
            };
            written.push(format!("{name}={}", quote(ns, shape.style)));
        }
        written.extend(late);
        match fault {
            Some(FaultKind::DuplicateAttribute) => {
                written.push("dup='1'".to_owned());
                written.push("dup='2'".to_owned());
            }
            Some(FaultKind::DuplicatePrefixedAttribute) => {
                written.push("xmlns:d1='urn:d'".to_owned());
                written.push("xmlns:d2='urn:d'".to_owned());
                written.push("d1:z='1'".to_owned());
                written.push("d2:z='2'".to_owned());
            }
            Some(FaultKind::UndeclaredAttributePrefix) => written.push("zz:a='1'".to_owned()),
            Some(FaultKind::Attributes(n)) => {
                written.extend((0..n).map(|i| format!("b{i}=''")));
            }
            _ => {}
        }
        self.enter(written.len());
        let qname = match prefix {
            Some(p) => format!("{p}:{}", NAMES[usize::from(shape.name)]),
            None => NAMES[usize::from(shape.name)].to_owned(),
        };
        let gap = if shape.style & 2 != 0 { "\n  " } else { " " };
        let end_space = if shape.style & 4 != 0 { " " } else { "" };
        self.out.push('<');
        self.out.push_str(&qname);
        for w in &written {
            self.out.push_str(gap);
            self.out.push_str(w);
        }
        self.out.push_str(end_space);
        let injected = matches!(
            fault,
            Some(
                FaultKind::UndeclaredElementPrefix
                    | FaultKind::Depth(_)
                    | FaultKind::Elements(_)
                    | FaultKind::Bytes(_)
            )
        );
        if shape.content.is_empty() && !injected && shape.style & 8 == 0 {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            match fault {
                Some(FaultKind::UndeclaredElementPrefix) => self.out.push_str("<zz:u/>"),
                Some(FaultKind::Depth(n)) => {
                    self.out.push_str("<d xmlns='urn:d'>");
                    self.out.push_str(&"<d>".repeat(n - 1));
                    self.out.push_str(&"</d>".repeat(n));
                }
                Some(FaultKind::Elements(n)) => {
                    self.out.push_str("<w xmlns='urn:e'>");
                    self.out.push_str(&"<e/>".repeat(n));
                    self.out.push_str("</w>");
                }
                Some(FaultKind::Bytes(n)) => self.out.push_str(&"x".repeat(n)),
                _ => {}
            }
            for piece in &shape.content {
                match piece {
                    Piece::Text(t) => self.out.push_str(TEXTS[usize::from(*t)]),
                    Piece::Element(e) => {
                        self.element(e);
                    }
                }
            }
            self.out.push_str("</");
            self.out.push_str(&qname);
            self.out.push_str(end_space);
            self.out.push('>');
        }
        self.scope.truncate(mark);
        self.depth -= 1;
        element_ns
    }

    fn stanza(&mut self, s: &StanzaShape, stream: &StreamShape) {
        let mark = self.scope.len();
        let name = ["message", "presence", "iq"][usize::from(s.name)];
        let form = if stream.framing == Framing::WebSocket && s.form == 0 {
            1
        } else {
            s.form
        };
        let mut decls: Vec<(Option<&str>, &str)> = Vec::new();
        let (qname, namespace) = match form {
            0 => (name.to_owned(), stream.content.as_str()),
            1..=3 => {
                let ns = ["jabber:client", "jabber:server", "jabber:component:accept"]
                    [usize::from(form - 1)];
                decls.push((None, ns));
                (name.to_owned(), ns)
            }
            _ => {
                let ns = ["jabber:client", "jabber:server"][usize::from(form - 4)];
                decls.push((Some("cl"), ns));
                match s.default {
                    1 => decls.push((None, "")),
                    2 => decls.push((None, "urn:other")),
                    _ => {}
                }
                (format!("cl:{name}"), ns)
            }
        };
        if s.declare_sp {
            decls.push((Some("sp"), STANZA_NS));
        }
        let mut kinds = Vec::new();
        let mut written = Vec::new();
        for &(kind, value) in &s.attrs {
            if kinds.contains(&kind) {
                continue;
            }
            kinds.push(kind);
            let name = match kind {
                0 => "to",
                1 => "from",
                2 => "id",
                3 => "type",
                4 => "xml:lang",
                5 => "extra",
                6 => {
                    if !s.declare_sp {
                        decls.push((Some("sp"), STANZA_NS));
                    }
                    "sp:extra"
                }
                _ => {
                    if self.lookup(Some("hp")).is_none() {
                        decls.push((Some("hp"), LOCAL_NS));
                    }
                    "hp:extra"
                }
            };
            written.push(format!(
                "{name}={}",
                quote(VALUES[usize::from(value)], s.style)
            ));
        }
        for (p, ns) in &decls {
            self.scope.push(Binding {
                prefix: p.map(str::to_owned),
                namespace: (*ns).to_owned(),
                inside: false,
            });
            let name = match p {
                Some(p) => format!("xmlns:{p}"),
                None => "xmlns".to_owned(),
            };
            written.insert(0, format!("{name}={}", quote(ns, s.style)));
        }
        self.enter(written.len());
        self.out.push('<');
        self.out.push_str(&qname);
        for w in &written {
            self.out.push(' ');
            self.out.push_str(w);
        }
        let mut children = Vec::new();
        if s.children.is_empty() && s.style & 1 == 0 {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for (space, shape) in &s.children {
                self.out.push_str(SPACES[usize::from(*space)]);
                let start = self.out.len();
                self.in_child = true;
                self.contained = true;
                self.element = 0;
                let child_ns = self.element(shape);
                self.in_child = false;
                let expect = if child_ns == namespace {
                    Expect::Content
                } else if self.contained {
                    Expect::Raw
                } else {
                    Expect::Outer
                };
                children.push(ChildInfo {
                    range: start..self.out.len(),
                    expect,
                    elements: self.element,
                });
                self.child += 1;
            }
            self.out.push_str(SPACES[usize::from(s.trailing)]);
            self.out.push_str("</");
            self.out.push_str(&qname);
            self.out.push('>');
        }
        self.child = 0;
        self.depth -= 1;
        self.scope.truncate(mark);
        self.stanzas.push(children);
        self.stanza += 1;
    }

    /// Renders a top-level item, keeping the figures of the largest one.
    fn top_level(&mut self, text: &str, depth: usize, attributes: usize, elements: usize) {
        self.out.push_str(text);
        self.stats.depth = self.stats.depth.max(depth);
        self.stats.attributes = self.stats.attributes.max(attributes);
        self.stats.elements = self.stats.elements.max(elements);
    }

    fn header(&mut self, stream: &StreamShape) {
        match stream.framing {
            Framing::Stream => {
                let hp = if stream.header_prefix {
                    format!(" xmlns:hp='{HEADER_NS}'")
                } else {
                    String::new()
                };
                let text = format!(
                    "<stream:stream xmlns='{}' xmlns:stream='{STREAMS_NS}'{hp} \
                     to='example.com' version='1.0'>",
                    stream.content.as_str()
                );
                self.top_level(&text, 0, 4 + usize::from(stream.header_prefix), 0);
                self.scope = vec![
                    Binding {
                        prefix: None,
                        namespace: stream.content.as_str().to_owned(),
                        inside: false,
                    },
                    Binding {
                        prefix: Some("stream".to_owned()),
                        namespace: STREAMS_NS.to_owned(),
                        inside: false,
                    },
                ];
                if stream.header_prefix {
                    self.scope.push(Binding {
                        prefix: Some("hp".to_owned()),
                        namespace: HEADER_NS.to_owned(),
                        inside: false,
                    });
                }
            }
            _ => {
                let text = format!("<open xmlns='{FRAMING_NS}' to='example.com' version='1.0'/>");
                self.top_level(&text, 1, 3, 1);
                self.scope.clear();
            }
        }
    }
}

fn quote(value: &str, style: u8) -> String {
    if style & 1 != 0 {
        format!("\"{value}\"")
    } else {
        format!("'{value}'")
    }
}

fn render(stream: &StreamShape, fault: Option<Fault>) -> Rendered {
    let mut r = Renderer::new(fault);
    if stream.xml_declaration {
        r.out.push_str("<?xml version='1.0'?>");
    }
    r.header(stream);
    let mut frame_start = 0;
    let mut bytes = r.out.len();
    for item in &stream.items {
        match item {
            Item::Stanza(s) => {
                r.elements = 0;
                r.stanza(s, stream);
                r.stats.elements = r.stats.elements.max(r.elements);
            }
            Item::Nonza(n) => {
                let (text, depth, attributes, elements) = NONZAS[usize::from(*n)];
                r.top_level(text, depth, attributes, elements);
            }
            // Keepalives; RFC 7395 has none (a frame is one element).
            Item::Space(s) if stream.framing == Framing::Stream => {
                r.out.push_str(SPACES[usize::from(*s)]);
            }
            Item::Space(_) => {}
            Item::Restart => {
                r.top_level(SUCCESS, 1, 1, 1);
                r.successes.push(r.out.len());
                r.header(stream);
            }
        }
        bytes = bytes.max(r.out.len() - frame_start);
        frame_start = r.out.len();
    }
    if stream.close {
        match stream.framing {
            Framing::Stream => r.out.push_str("</stream:stream>"),
            _ => r.top_level(&format!("<close xmlns='{FRAMING_NS}'/>"), 1, 1, 1),
        }
        bytes = bytes.max(r.out.len() - frame_start);
    }
    r.stats.bytes = bytes;
    Rendered {
        text: r.out,
        stanzas: r.stanzas,
        stats: r.stats,
        successes: r.successes,
    }
}

// ---- checks --------------------------------------------------------------

/// Parses `bytes`, one element, in a fresh stream of its own.
fn parse_alone(bytes: &[u8]) -> Element {
    let mut parser = StreamParser::new(Limits::default());
    parser.feed(
        b"<stream:stream xmlns='jabber:component:accept' \
          xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    parser.feed(bytes);
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    match parser.next_frame() {
        Ok(Some(Frame::Element(e))) => e,
        other => panic!("{:?} alone gave {other:?}", String::from_utf8_lossy(bytes)),
    }
}

/// Checks each stanza child of split mode against normal mode's tree and
/// the model: kept as bytes exactly when self-contained, those bytes the
/// input's, name and namespace answered without parsing.
fn check_children(data: &str, rendered: &Rendered, normal: &Run, split: &Run) {
    let normal_stanzas = normal.frames.iter().filter_map(|f| match f {
        Frame::Element(e) if is_stanza(e) => Some(e),
        _ => None,
    });
    let split_stanzas = split.frames.iter().filter_map(|f| match f {
        Frame::Stanza(parts) => Some(parts),
        _ => None,
    });
    let mut count = 0;
    for ((tree, parts), infos) in normal_stanzas.zip(split_stanzas).zip(&rendered.stanzas) {
        count += 1;
        // Taking the tree apart gives the parts split mode read.
        assert_eq!(&StanzaParts::from_element(tree.clone()).unwrap(), parts);
        let trees: Vec<&Element> = tree.children().collect();
        assert_eq!(parts.children.len(), infos.len(), "children of {tree:?}");
        assert_eq!(trees.len(), infos.len(), "children of {tree:?}");
        for ((child, tree), info) in parts.children.iter().zip(trees).zip(infos) {
            let wanted = &data.as_bytes()[info.range.clone()];
            assert_eq!(
                child.raw_bytes().is_some(),
                info.expect == Expect::Raw,
                "{info:?} of {:?} read as {child:?}",
                String::from_utf8_lossy(wanted)
            );
            assert_eq!(child.name(), tree.name());
            assert_eq!(child.namespace(), tree.ns());
            assert_eq!(child.ns(), tree.ns());
            assert!(child.is(tree.name(), &tree.ns()));
            assert!(child.has_ns(&tree.ns()));
            assert!(!child.is(tree.name(), "urn:none"));
            assert!(!child.has_ns("urn:none"));
            assert!(!child.is("none", &tree.ns()));
            let Some(bytes) = child.raw_bytes() else {
                assert_eq!(child, tree);
                continue;
            };
            assert_eq!(
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(wanted)
            );
            assert_eq!(&parse_alone(bytes), tree);
            // Looking into it parses it; it stays kept as bytes.
            assert_eq!(child, tree);
            assert_eq!(child.raw_bytes(), Some(wanted));
            assert_eq!(&child.clone().into_element(), tree);
        }
    }
    assert_eq!(count, rendered.stanzas.len(), "a stanza went missing");
}

/// A fault in a stanza child kept as bytes, limits just under it, and the
/// error normal mode must give.
fn fault_for(
    rendered: &Rendered,
    choice: (usize, usize, u8),
) -> Option<(Fault, Limits, ParseError)> {
    let raw: Vec<(usize, usize, usize)> = rendered
        .stanzas
        .iter()
        .enumerate()
        .flat_map(|(s, children)| {
            children
                .iter()
                .enumerate()
                .filter(|(_, c)| c.expect == Expect::Raw)
                .map(move |(c, info)| (s, c, info.elements))
        })
        .collect();
    let (pick, element, kind) = choice;
    let &(stanza, child, elements) = raw.get(pick % raw.len().max(1))?;
    let stats = rendered.stats;
    let mut limits = Limits::default();
    let (kind, error) = match kind % 8 {
        0 => (
            FaultKind::DuplicateAttribute,
            ParseError::DuplicateAttribute("dup".to_owned()),
        ),
        1 => (
            FaultKind::DuplicatePrefixedAttribute,
            ParseError::DuplicateAttribute("z".to_owned()),
        ),
        2 => (
            FaultKind::UndeclaredElementPrefix,
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        3 => (
            FaultKind::UndeclaredAttributePrefix,
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        4 => {
            limits.max_depth = stats.depth;
            (
                FaultKind::Depth(stats.depth + 1),
                ParseError::LimitExceeded {
                    kind: LimitKind::Depth,
                    limit: stats.depth,
                },
            )
        }
        5 => {
            limits.max_attributes = stats.attributes.max(1);
            (
                FaultKind::Attributes(limits.max_attributes + 1),
                ParseError::LimitExceeded {
                    kind: LimitKind::Attributes,
                    limit: limits.max_attributes,
                },
            )
        }
        6 => {
            limits.max_elements = stats.elements.max(1);
            (
                FaultKind::Elements(limits.max_elements),
                ParseError::LimitExceeded {
                    kind: LimitKind::Elements,
                    limit: limits.max_elements,
                },
            )
        }
        _ => {
            let max = stats.bytes + 16;
            limits.max_stanza_bytes = max;
            limits.max_stanza_bytes_pre_auth = max;
            (
                FaultKind::Bytes(max + 1),
                ParseError::LimitExceeded {
                    kind: LimitKind::StanzaBytes,
                    limit: max,
                },
            )
        }
    };
    let fault = Fault {
        stanza,
        child,
        element: element % elements,
        kind,
    };
    Some((fault, limits, error))
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn split_mode_gives_normal_modes_frames(
        stream in stream(),
        cuts in cuts(),
        other_cuts in cuts(),
        bytewise_split in any::<bool>(),
    ) {
        let rendered = render(&stream, None);
        let data = rendered.text.as_bytes();
        let limits = Limits::default();
        let normal = run(data, &cuts, false, &limits);
        prop_assert_eq!(&normal.error, &None, "{}", rendered.text);
        let split_cuts = if bytewise_split { bytewise(data) } else { other_cuts };
        let split = run(data, &split_cuts, true, &limits);
        prop_assert_eq!(&split.error, &None, "{}", rendered.text);
        let (normal_seen, split_seen) = seen(&normal, &split);
        prop_assert_eq!(normal_seen, split_seen, "{}", rendered.text);
        check_children(&rendered.text, &rendered, &normal, &split);
    }

    #[test]
    fn a_fault_inside_a_kept_child_gives_normal_modes_error(
        stream in stream_with(prop::collection::vec(
            prop_oneof![2 => stanza().prop_map(Item::Stanza), 1 => item()],
            1..6,
        )),
        choice in (any::<usize>(), any::<usize>(), any::<u8>()),
        cuts in cuts(),
        other_cuts in cuts(),
    ) {
        let valid = render(&stream, None);
        let Some((fault, limits, error)) = fault_for(&valid, choice) else {
            return Ok(());
        };
        let rendered = render(&stream, Some(fault));
        let data = rendered.text.as_bytes();
        let normal = run(data, &cuts, false, &limits);
        prop_assert_eq!(normal.error.as_ref(), Some(&error), "{}", rendered.text);
        // Same chunks: the same frames exactly.
        let split = run(data, &cuts, true, &limits);
        check_buffered(&normal, &split);
        prop_assert_eq!(&split.error, &normal.error, "{}", rendered.text);
        let (normal_seen, split_seen) = seen(&normal, &split);
        prop_assert_eq!(normal_seen, split_seen, "{}", rendered.text);
        // Other chunks: the same frames, but for a last keepalive.
        let other = run(data, &other_cuts, true, &limits);
        prop_assert_eq!(&other.error, &normal.error, "{}", rendered.text);
        let normal_seen: Vec<Seen> = before_error(&normal).iter().map(seen_normal).collect();
        let other_seen: Vec<Seen> = before_error(&other).iter().map(seen_split).collect();
        prop_assert_eq!(normal_seen, other_seen, "{}", rendered.text);
    }

    #[test]
    fn restarts_keep_the_bytes_after_success_in_both_modes(
        stream in stream_with(prop::collection::vec(
            prop_oneof![4 => item(), 1 => Just(Item::Restart)],
            1..8,
        )),
        cuts in cuts(),
    ) {
        let rendered = render(&stream, None);
        let data = rendered.text.as_bytes();
        let limits = Limits::default();
        let normal = run(data, &cuts, false, &limits);
        let split = run(data, &cuts, true, &limits);
        prop_assert_eq!(&normal.error, &None, "{}", rendered.text);
        prop_assert_eq!(&split.error, &None, "{}", rendered.text);
        let (normal_seen, split_seen) = seen(&normal, &split);
        prop_assert_eq!(&normal_seen, &split_seen, "{}", rendered.text);
        prop_assert_eq!(&normal.restarts, &split.restarts);
        check_buffered(&normal, &split);
        prop_assert_eq!(normal.restarts.len(), rendered.successes.len());
        for (&(_, after, fed), &end) in normal.restarts.iter().zip(&rendered.successes) {
            // Everything fed after `<success/>` waits for the new stream.
            prop_assert_eq!(after, fed - end);
        }
        // Each restart gives a new header, right after `<success/>`.
        let headers = normal_seen.iter().filter(|s| matches!(s, Seen::Header(_))).count();
        prop_assert_eq!(headers, 1 + rendered.successes.len());
        check_children(&rendered.text, &rendered, &normal, &split);
    }
}

// ---- LazyElement ---------------------------------------------------------

/// The first child of a message holding `payload`, read in split mode.
fn payload(payload: &str) -> LazyElement {
    let mut parser = StreamParser::new(Limits::default());
    parser.set_split_stanzas(true);
    parser.feed(
        b"<stream:stream xmlns='jabber:client' \
          xmlns:stream='http://etherx.jabber.org/streams' xmlns:hp='urn:header'>",
    );
    parser.feed(format!("<message>{payload}</message>").as_bytes());
    assert!(matches!(parser.next_frame(), Ok(Some(Frame::Header(_)))));
    let Ok(Some(Frame::Stanza(parts))) = parser.next_frame() else {
        panic!("no stanza");
    };
    parts.children.into_iter().next().expect("a child")
}

fn raw_payload(text: &str) -> LazyElement {
    let lazy = payload(text);
    assert_eq!(lazy.raw_bytes(), Some(text.as_bytes()), "{lazy:?}");
    lazy
}

fn tree(text: &str) -> Element {
    text.parse().unwrap()
}

#[test]
fn deref_mut_turns_a_kept_child_into_a_tree() {
    let mut lazy = raw_payload("<x xmlns='urn:x' a='1'><y/></x>");
    lazy.set_attr(rxml::Namespace::NONE, "b".try_into().unwrap(), "2");
    assert_eq!(lazy.raw_bytes(), None);
    assert_eq!(lazy.attr("a"), Some("1"));
    assert_eq!(lazy.attr("b"), Some("2"));
    assert!(lazy.is("x", "urn:x"));
    let mut expected = tree("<x xmlns='urn:x' a='1'><y/></x>");
    expected.set_attr(rxml::Namespace::NONE, "b".try_into().unwrap(), "2");
    assert_eq!(lazy, expected);

    // Looked into first, then changed.
    let mut lazy = raw_payload("<x xmlns='urn:x'/>");
    assert_eq!(lazy.children().count(), 0);
    assert!(lazy.raw_bytes().is_some());
    lazy.append_child(Element::bare("z", "urn:z"));
    assert_eq!(lazy.raw_bytes(), None);
    assert_eq!(lazy, tree("<x xmlns='urn:x'><z xmlns='urn:z'/></x>"));
}

#[test]
fn a_kept_child_clones_compares_and_debugs_like_its_tree() {
    let text = "<x xmlns='urn:x' a='1'><y>t&amp;t</y></x>";
    let lazy = raw_payload(text);
    let element = tree(text);

    let copy = lazy.clone();
    assert_eq!(copy.raw_bytes(), Some(text.as_bytes()));
    assert_eq!(copy, lazy);

    // Kept as bytes or a tree, it is the same element.
    let from_tree = LazyElement::from(element.clone());
    assert_eq!(from_tree.raw_bytes(), None);
    assert_eq!(lazy, from_tree);
    assert_eq!(from_tree, lazy);
    assert_eq!(lazy, element);
    assert_eq!(element, lazy);
    assert_ne!(lazy, LazyElement::from(tree("<x xmlns='urn:x' a='2'/>")));
    assert_ne!(
        lazy,
        raw_payload("<x xmlns='urn:other' a='1'><y>t&amp;t</y></x>")
    );
    assert_ne!(
        lazy,
        raw_payload("<z xmlns='urn:x' a='1'><y>t&amp;t</y></z>")
    );

    // A clone after the tree was made has it too.
    assert_eq!(
        lazy.get_child("y", "urn:x").map(Element::text),
        Some("t&t".to_owned())
    );
    let copy = lazy.clone();
    assert_eq!(copy.raw_bytes(), Some(text.as_bytes()));
    assert_eq!(copy, element);
    assert_eq!(Element::from(copy), element);

    let debug = format!("{lazy:?}");
    assert!(debug.contains("LazyElement"), "{debug}");
    assert!(debug.contains("\"x\""), "{debug}");
    assert!(debug.contains("urn:x"), "{debug}");
    assert!(debug.contains("t&amp;t"), "{debug}");
    // A tree debugs as the element.
    assert_eq!(format!("{from_tree:?}"), format!("{element:?}"));
}

#[test]
fn a_namespace_written_with_references_reads_decoded() {
    for (text, namespace) in [
        ("<x xmlns='urn:a&amp;b'/>", "urn:a&b"),
        ("<x xmlns=\"urn:&quot;q&quot;\"><y/></x>", "urn:\"q\""),
        ("<x xmlns='urn:&#x3C0;&#960;'/>", "urn:\u{3c0}\u{3c0}"),
        ("<p:x xmlns:p='urn:a&lt;b'/>", "urn:a<b"),
    ] {
        let lazy = raw_payload(text);
        assert_eq!(lazy.namespace(), namespace, "{text}");
        assert!(lazy.is("x", namespace));
        assert!(lazy.has_ns(namespace));
        assert!(lazy.raw_bytes().is_some(), "answered without parsing");
        assert_eq!(lazy.ns(), lazy.as_element().ns());
        assert_eq!(lazy, tree(text));
    }
}

#[test]
fn long_namespaces_and_long_heads_read_right() {
    let long = format!("urn:{}", "l".repeat(300));
    let text = format!("<x xmlns='{long}'><y/></x>");
    let lazy = raw_payload(&text);
    assert_eq!(lazy.namespace(), long);
    assert!(lazy.is("x", &long));
    assert_eq!(lazy, tree(&text));

    // The declaration far into the start tag, after a long attribute.
    let text = format!("<x a='{}' xmlns='urn:far'/>", "v".repeat(2000));
    let lazy = raw_payload(&text);
    assert_eq!(lazy.namespace(), "urn:far");
    assert_eq!(lazy, tree(&text));

    // The namespace name also written earlier in the tag (as a value).
    let text = "<urn xmlns:p='urn' p:a='urn' xmlns='urn'/>";
    let lazy = raw_payload(text);
    assert_eq!(lazy.namespace(), "urn");
    assert_eq!(lazy, tree(text));
}

#[test]
fn children_using_outer_declarations_are_trees_with_them_in_scope() {
    // A prefix of the header, of the stanza's default namespace, no
    // namespace at all: parsed at once, right.
    let lazy = payload("<hp:x/>");
    assert_eq!(lazy.raw_bytes(), None);
    assert!(lazy.is("x", "urn:header"));
    let lazy = payload("<x xmlns='urn:x'><hp:y hp:a='1'/></x>");
    assert_eq!(lazy.raw_bytes(), None);
    let y = lazy.get_child("y", "urn:header").unwrap();
    assert_eq!(y.attr_ns("urn:header", "a"), Some("1"));
    let lazy = payload("<p:x xmlns:p='urn:p'><y/></p:x>");
    assert_eq!(lazy.raw_bytes(), None);
    assert!(lazy.get_child("y", "jabber:client").is_some());
    // `xmlns=''` declared on itself: self-contained.
    let lazy = raw_payload("<x xmlns=''><y/></x>");
    assert!(lazy.is("x", ""));
    assert!(lazy.get_child("y", "").is_some());
}

// ---- regressions -----------------------------------------------------------

/// Runs `body` after a header declaring `q`, in both modes, and compares.
fn both_modes(body: &str) -> (Run, Run) {
    let data = format!(
        "<stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' xmlns:q='urn:q'>{body}"
    );
    let limits = Limits::default();
    let normal = run(data.as_bytes(), &[], false, &limits);
    let split = run(data.as_bytes(), &[], true, &limits);
    let (normal_seen, split_seen) = seen(&normal, &split);
    assert_eq!(normal_seen, split_seen, "{body}");
    assert_eq!(normal.error, split.error, "{body}");
    (normal, split)
}

#[test]
fn attributes_of_a_child_using_an_outer_prefix_stay_on_it() {
    // They were left over for the next element to take.
    let (_, split) = both_modes("<message><q:x a='1'/><body/></message>");
    let Frame::Stanza(parts) = &split.frames[1] else {
        panic!()
    };
    assert_eq!(parts.children[1].attrs().into_iter().count(), 0);
    both_modes("<message><q:x a='1'/></message><presence/>");
    both_modes("<message><x xmlns='urn:x'><q:y a='1'/><z b='2'/></x></message>");
}

#[test]
fn a_fault_in_a_child_using_an_outer_prefix_is_found_where_it_is() {
    // Normal mode finds the duplicate; split mode found a later fault.
    let (normal, _) = both_modes(
        "<message><q:x a='1' a='2'><q:y xmlns:r='urn:r' r:b='1' r:b='2'/><r:z/></q:x></message>",
    );
    assert_eq!(
        normal.error,
        Some(ParseError::DuplicateAttribute("a".to_owned()))
    );
    both_modes("<message><x xmlns='urn:x'><q:y a='1' a='2'/><r:z/></x></message>");
    both_modes("<message><q:x r:a='1'/></message>");
}

#[test]
fn faults_in_the_stanza_and_its_content_children_give_normal_modes_error() {
    for (body, error) in [
        (
            "<message to='a' to='b'/>",
            ParseError::DuplicateAttribute("to".to_owned()),
        ),
        (
            "<message xml:lang='en' xml:lang='fr'/>",
            ParseError::DuplicateAttribute("lang".to_owned()),
        ),
        (
            "<message extra='1' extra='2'/>",
            ParseError::DuplicateAttribute("extra".to_owned()),
        ),
        (
            "<message q:a='1' q:a='2'/>",
            ParseError::DuplicateAttribute("a".to_owned()),
        ),
        (
            "<message zz:a='1'/>",
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        (
            "<zz:message/>",
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        (
            "<message><body a='1' a='2'/></message>",
            ParseError::DuplicateAttribute("a".to_owned()),
        ),
        (
            "<message><body><zz:x/></body></message>",
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        (
            "<message><q:x><zz:y/></q:x></message>",
            ParseError::UndeclaredPrefix("zz".to_owned()),
        ),
        (
            "<message><x xmlns='urn:x' xmlns='urn:y'/></message>",
            ParseError::DuplicateAttribute("xmlns".to_owned()),
        ),
    ] {
        let (normal, _) = both_modes(body);
        assert_eq!(normal.error, Some(error), "{body}");
    }
}
