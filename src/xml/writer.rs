//! Serialization of stream headers, elements and the stream close.

use bytes::{BufMut, BytesMut};
use minidom::{Element, Node};
use rxml::Namespace;

use super::error::WriteError;
use super::lazy::LazyElement;
use super::parser::{Framing, StreamHeader, StreamNamespace};
use crate::ns;

/// Writes an XMPP stream: header, top-level elements, close.
///
/// Output goes straight into a caller's [`BytesMut`]. Once a `<stream:stream>`
/// header has been written, elements in the stream's content namespace are
/// written without a namespace declaration and `stream:features` /
/// `stream:error` use the declared `stream` prefix; a child declares a
/// namespace only where it differs from its parent's. Before any header,
/// and with RFC 7395 WebSocket framing, every top-level element declares its
/// own namespace, as a standalone document must.
///
/// Text and attribute values are escaped so that they parse back exactly:
/// `&`, `<`, `>` in text, quotes in attributes, and carriage returns, tabs
/// and line feeds where XML would otherwise normalize them away. Names and
/// characters that XML 1.0 cannot carry are refused with a [`WriteError`]
/// and nothing is written.
///
/// ```
/// use bytes::BytesMut;
/// use minidom::Element;
/// use xmpp_kit::xml::{Framing, StreamHeader, StreamNamespace, StreamWriter};
///
/// let mut writer = StreamWriter::new();
/// let mut out = BytesMut::new();
/// let header = StreamHeader {
///     to: Some("example.com".into()),
///     lang: Some("en".into()),
///     ..StreamHeader::new(Framing::Stream, StreamNamespace::Client)
/// };
/// writer.write_header(&header, &mut out)?;
/// out.clear();
///
/// let message = Element::builder("message", "jabber:client")
///     .attr(rxml::NcName::try_from("to").unwrap(), "juliet@example.com")
///     .append(Element::builder("body", "jabber:client").append("Fish & chips"))
///     .build();
/// writer.write_element(&message, &mut out)?;
/// assert_eq!(
///     &out[..],
///     b"<message to='juliet@example.com'><body>Fish &amp; chips</body></message>"
/// );
/// # Ok::<(), xmpp_kit::xml::WriteError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamWriter {
    /// The open stream, once a header has been written.
    stream: Option<(Framing, StreamNamespace)>,
}

/// The children of an element being written, in order: for a stanza,
/// payload elements written by reference before and after the element's
/// own nodes; for any other element, its nodes alone.
struct Children<'a> {
    before: std::slice::Iter<'a, LazyElement>,
    nodes: std::slice::Iter<'a, Node>,
    after: std::slice::Iter<'a, LazyElement>,
}

/// One child while writing.
enum Child<'a> {
    Text(&'a str),
    Element(&'a Element),
    /// An element kept as the bytes it arrived as, which declare every
    /// namespace they use: written as they are.
    Raw(&'a [u8]),
}

impl<'a> Child<'a> {
    fn payload(payload: &'a LazyElement) -> Self {
        match payload.raw_bytes() {
            Some(bytes) => Self::Raw(bytes),
            None => Self::Element(payload.as_element()),
        }
    }
}

impl<'a> Children<'a> {
    fn new(before: &'a [LazyElement], element: &'a Element, after: &'a [LazyElement]) -> Self {
        Self {
            before: before.iter(),
            nodes: element.nodes(),
            after: after.iter(),
        }
    }

    fn is_empty(&self) -> bool {
        self.before.len() == 0 && self.nodes.len() == 0 && self.after.len() == 0
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Child<'a>;

    fn next(&mut self) -> Option<Child<'a>> {
        if let Some(payload) = self.before.next() {
            return Some(Child::payload(payload));
        }
        match self.nodes.next() {
            Some(Node::Text(text)) => Some(Child::Text(text)),
            Some(Node::Element(element)) => Some(Child::Element(element)),
            None => self.after.next().map(Child::payload),
        }
    }
}

/// Per open element while writing: what its children inherit.
struct Open<'a> {
    nodes: Children<'a>,
    /// Start and end of the element's qualified name in the output, to
    /// repeat it in the end tag.
    name: (usize, usize),
    /// Index into the declared-namespace list of the default namespace the
    /// children inherit, or `None` for the stream's.
    default_ns: Option<usize>,
}

impl StreamWriter {
    /// A writer with no stream open: elements carry their own namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a stream header (`<?xml?>` and `<stream:stream>`, or an
    /// RFC 7395 `<open/>`), after which elements are written for that
    /// stream. Writing a new header is how a stream restart is written.
    ///
    /// # Errors
    /// [`WriteError::InvalidChar`] if an attribute holds a character XML
    /// cannot carry; nothing is written then.
    pub fn write_header(
        &mut self,
        header: &StreamHeader,
        out: &mut BytesMut,
    ) -> Result<(), WriteError> {
        let start = out.len();
        let result = write_header(header, out);
        match result {
            Ok(()) => self.stream = Some((header.framing, header.namespace)),
            Err(_) => out.truncate(start),
        }
        result
    }

    /// Writes one top-level element.
    ///
    /// # Errors
    /// A [`WriteError`] if a name or character cannot be written as XML;
    /// nothing is written then.
    pub fn write_element(&self, element: &Element, out: &mut BytesMut) -> Result<(), WriteError> {
        self.write_with_children(&[], element, &[], out)
    }

    /// Writes `element` as a top-level element with the elements of
    /// `before` as its first children and those of `after` as its last,
    /// written by reference; those kept as bytes are written as they came.
    pub(crate) fn write_with_children(
        &self,
        before: &[LazyElement],
        element: &Element,
        after: &[LazyElement],
        out: &mut BytesMut,
    ) -> Result<(), WriteError> {
        let start = out.len();
        let (default_ns, stream_prefix) = match self.stream {
            Some((Framing::Stream, content)) => (content.as_str(), true),
            Some((_, _)) if element.has_ns("") => {
                return Err(WriteError::MissingNamespace(element.name().to_owned()));
            }
            _ => ("", false),
        };
        let result = write_tree(before, element, after, default_ns, stream_prefix, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Writes the end of the stream (`</stream:stream>` or `<close/>`). The
    /// writer then has no stream open.
    pub fn write_close(&mut self, out: &mut BytesMut) {
        match self.stream.take() {
            Some((Framing::WebSocket, _)) => {
                out.put_slice(b"<close xmlns='");
                out.put_slice(ns::FRAMING.as_bytes());
                out.put_slice(b"'/>");
            }
            _ => out.put_slice(b"</stream:stream>"),
        }
    }
}

fn write_header(header: &StreamHeader, out: &mut BytesMut) -> Result<(), WriteError> {
    match header.framing {
        Framing::WebSocket => {
            out.put_slice(b"<open xmlns='");
            out.put_slice(ns::FRAMING.as_bytes());
            out.put_u8(b'\'');
        }
        _ => {
            out.put_slice(b"<?xml version='1.0'?><stream:stream xmlns='");
            out.put_slice(header.namespace.as_str().as_bytes());
            out.put_slice(b"' xmlns:stream='");
            out.put_slice(ns::STREAM.as_bytes());
            out.put_u8(b'\'');
        }
    }
    let attributes = [
        ("to", &header.to),
        ("from", &header.from),
        ("id", &header.id),
        ("version", &header.version),
        ("xml:lang", &header.lang),
    ];
    for (name, value) in attributes {
        if let Some(value) = value {
            out.put_u8(b' ');
            out.put_slice(name.as_bytes());
            out.put_slice(b"='");
            escape_attribute(value, out)?;
            out.put_u8(b'\'');
        }
    }
    match header.framing {
        Framing::WebSocket => out.put_slice(b"/>"),
        _ => out.put_u8(b'>'),
    }
    Ok(())
}

/// Writes `root` and its subtree, with the elements of `before` and `after`
/// written as its first and last children.
fn write_tree<'a>(
    before: &'a [LazyElement],
    root: &'a Element,
    after: &'a [LazyElement],
    stream_ns: &str,
    stream_prefix: bool,
    out: &mut BytesMut,
) -> Result<(), WriteError> {
    // Default namespaces declared by open elements, innermost last.
    let mut declared: Vec<String> = Vec::new();
    let mut stack: Vec<Open<'a>> = Vec::new();
    let mut next = Some((root, None));
    let mut extra = Some((before, after));
    loop {
        if let Some((element, inherited)) = next.take() {
            let inherited_ns = match inherited {
                Some(i) => declared.get(i).map_or("", String::as_str),
                None => stream_ns,
            };
            let (name, new_ns) = open_element(element, inherited_ns, stream_prefix, out)?;
            let mut default_ns = inherited;
            if let Some(ns) = new_ns {
                declared.push(ns);
                default_ns = Some(declared.len() - 1);
            }
            // Only the root has extra children.
            let (before, after) = extra.take().unwrap_or_default();
            let nodes = Children::new(before, element, after);
            if nodes.is_empty() {
                out.put_slice(b"/>");
                if new_ns_declared(default_ns, inherited) {
                    declared.pop();
                }
            } else {
                out.put_u8(b'>');
                stack.push(Open {
                    nodes,
                    name,
                    default_ns,
                });
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        match top.nodes.next() {
            Some(Child::Text(text)) => escape_text(text, out)?,
            Some(Child::Raw(bytes)) => out.put_slice(bytes),
            Some(Child::Element(child)) => next = Some((child, top.default_ns)),
            None => {
                let (start, end) = top.name;
                let own = top.default_ns;
                stack.pop();
                let parent = stack.last().and_then(|o| o.default_ns);
                if new_ns_declared(own, parent) {
                    declared.pop();
                }
                out.put_slice(b"</");
                out.extend_from_within(start..end);
                out.put_u8(b'>');
            }
        }
    }
}

fn new_ns_declared(own: Option<usize>, inherited: Option<usize>) -> bool {
    own.is_some() && own != inherited
}

/// Writes an element's start tag up to its attributes. Returns the span of
/// its qualified name in `out`, and its namespace if it declares a new
/// default namespace.
fn open_element(
    element: &Element,
    inherited_ns: &str,
    stream_prefix: bool,
    out: &mut BytesMut,
) -> Result<((usize, usize), Option<String>), WriteError> {
    let name = element.name();
    if rxml::strings::validate_ncname(name).is_err() {
        return Err(WriteError::InvalidName(name.to_owned()));
    }
    out.put_u8(b'<');
    let start = out.len();
    let mut new_ns = None;
    let mut prefix_len = 0;
    if element.has_ns(inherited_ns) {
        out.put_slice(name.as_bytes());
    } else if element.has_ns(ns::XML) {
        // The `xml` prefix is bound by definition and may not be the default.
        out.put_slice(b"xml:");
        prefix_len = "xml:".len();
        out.put_slice(name.as_bytes());
    } else if element.has_ns(ns::STREAM) {
        out.put_slice(b"stream:");
        prefix_len = "stream:".len();
        out.put_slice(name.as_bytes());
        if !stream_prefix {
            out.put_slice(b" xmlns:stream='");
            out.put_slice(ns::STREAM.as_bytes());
            out.put_u8(b'\'');
        }
    } else {
        let namespace = element.ns();
        out.put_slice(name.as_bytes());
        out.put_slice(b" xmlns='");
        escape_attribute(&namespace, out)?;
        out.put_u8(b'\'');
        new_ns = Some(namespace);
    }
    let end = start + prefix_len + name.len();
    write_attributes(element, out)?;
    Ok(((start, end), new_ns))
}

fn write_attributes(element: &Element, out: &mut BytesMut) -> Result<(), WriteError> {
    // Attributes iterate grouped by namespace; each namespace other than
    // none and `xml` gets one prefix, `ns0`, `ns1`, ..., declared here.
    let mut declared: Option<(&Namespace<'_>, usize)> = None;
    let mut prefixes = 0usize;
    for ((namespace, name), value) in element.attrs() {
        out.put_u8(b' ');
        if namespace.is_none() {
            out.put_slice(name.as_bytes());
        } else if *namespace == Namespace::XML {
            out.put_slice(b"xml:");
            out.put_slice(name.as_bytes());
        } else if *namespace == Namespace::XMLNS {
            return Err(WriteError::ReservedNamespace(name.to_string()));
        } else {
            let prefix = match declared {
                Some((ns, prefix)) if ns == namespace => prefix,
                _ => {
                    let prefix = prefixes;
                    prefixes += 1;
                    declared = Some((namespace, prefix));
                    out.put_slice(b"xmlns:");
                    write_prefix(prefix, out);
                    out.put_slice(b"='");
                    escape_attribute(namespace.as_str(), out)?;
                    out.put_slice(b"' ");
                    prefix
                }
            };
            write_prefix(prefix, out);
            out.put_u8(b':');
            out.put_slice(name.as_bytes());
        }
        out.put_slice(b"='");
        escape_attribute(value, out)?;
        out.put_u8(b'\'');
    }
    Ok(())
}

/// Writes the generated attribute prefix `ns<n>`.
fn write_prefix(n: usize, out: &mut BytesMut) {
    use std::fmt::Write as _;
    // Writing into a BytesMut cannot fail.
    let _ = write!(out, "ns{n}");
}

/// What a byte needs in text (`TEXT`) or in a single-quoted attribute (`ATTR`).
const PLAIN: u8 = 0;
const ESCAPE: u8 = 1;
const INVALID: u8 = 2;
/// 0xEF starts U+FFFE and U+FFFF, which XML 1.0 excludes.
const CHECK_EF: u8 = 3;

// Evaluated at compile time only: an out-of-range index would fail the build.
#[allow(clippy::indexing_slicing)]
const fn table(attribute: bool) -> [u8; 256] {
    let mut t = [PLAIN; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = INVALID;
        b += 1;
    }
    t[b'\n' as usize] = if attribute { ESCAPE } else { PLAIN };
    t[b'\t' as usize] = if attribute { ESCAPE } else { PLAIN };
    t[b'\r' as usize] = ESCAPE;
    t[b'&' as usize] = ESCAPE;
    t[b'<' as usize] = ESCAPE;
    t[b'>' as usize] = ESCAPE;
    if attribute {
        t[b'\'' as usize] = ESCAPE;
    }
    t[0xEF] = CHECK_EF;
    t
}

static TEXT: [u8; 256] = table(false);
static ATTR: [u8; 256] = table(true);

fn escape_text(s: &str, out: &mut BytesMut) -> Result<(), WriteError> {
    escape(s, &TEXT, out)
}

fn escape_attribute(s: &str, out: &mut BytesMut) -> Result<(), WriteError> {
    escape(s, &ATTR, out)
}

fn escape(s: &str, table: &[u8; 256], out: &mut BytesMut) -> Result<(), WriteError> {
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let class = table.get(usize::from(b)).copied().unwrap_or(PLAIN);
        if class == PLAIN {
            continue;
        }
        if class == CHECK_EF {
            // EF BF BE / EF BF BF encode U+FFFE / U+FFFF.
            if let Some([0xBF, 0xBE | 0xBF]) = bytes.get(i + 1..i + 3) {
                let cp = 0xFFF0 | u32::from(bytes.get(i + 2).copied().unwrap_or(0) & 0x0F);
                return Err(WriteError::InvalidChar(cp));
            }
            continue;
        }
        if class == INVALID {
            return Err(WriteError::InvalidChar(u32::from(b)));
        }
        out.put_slice(bytes.get(run_start..i).unwrap_or_default());
        out.put_slice(match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\'' => b"&apos;",
            b'\t' => b"&#9;",
            b'\n' => b"&#10;",
            _ => b"&#13;",
        });
        run_start = i + 1;
    }
    out.put_slice(bytes.get(run_start..).unwrap_or_default());
    Ok(())
}
