//! The incremental stream parser: bytes in, [`Frame`]s out.

use bytes::{Buf, BytesMut};
use minidom::Element;
use rxml::error::EndOrError;
use rxml::{AttrMap, Namespace, NcName, Options, Parse, RawEvent, RawParser, WithOptions};

use super::error::{LimitKind, ParseError};
use super::limits::Limits;
use super::split::{StanzaName, StanzaParts};
use crate::ns;

mod splitting;

use splitting::{SplitChild, SplitStanza};

/// How the stream is framed on the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// One XML document for the whole stream, opened by `<stream:stream>`
    /// (RFC 6120, TCP).
    Stream,
    /// RFC 7395 WebSocket framing: `<open/>`, then every top-level element
    /// is a document of its own, then `<close/>`.
    WebSocket,
}

/// The content namespace of a stream: the default namespace of its stanzas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamNamespace {
    /// `jabber:client`, client-to-server streams.
    Client,
    /// `jabber:server`, server-to-server streams.
    Server,
    /// `jabber:component:accept`, XEP-0114 component streams.
    ComponentAccept,
}

impl StreamNamespace {
    /// The namespace name, such as `"jabber:client"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => ns::JABBER_CLIENT,
            Self::Server => ns::JABBER_SERVER,
            Self::ComponentAccept => ns::COMPONENT_ACCEPT,
        }
    }

    /// Every content namespace.
    pub(crate) const ALL: [Self; 3] = [Self::Client, Self::Server, Self::ComponentAccept];

    /// The content namespace `element` is in, if it is in one.
    pub(crate) fn of(element: &Element) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|namespace| element.has_ns(namespace.as_str()))
    }

    /// The variant for a namespace name, if it is one XMPP defines for streams.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            ns::JABBER_CLIENT => Some(Self::Client),
            ns::JABBER_SERVER => Some(Self::Server),
            ns::COMPONENT_ACCEPT => Some(Self::ComponentAccept),
            _ => None,
        }
    }
}

/// The attributes of a stream header (`<stream:stream>` or RFC 7395 `<open/>`).
///
/// Addresses are kept as the peer sent them; the connection that reads the
/// header validates them as JIDs, because the right stream error depends on
/// its role (`host-unknown`, `improper-addressing`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// Whether this was `<stream:stream>` or a WebSocket `<open/>`.
    pub framing: Framing,
    /// The content namespace. An RFC 7395 `<open/>` declares none; its
    /// stanzas carry their own, so this is [`StreamNamespace::Client`].
    pub namespace: StreamNamespace,
    /// The `to` attribute.
    pub to: Option<String>,
    /// The `from` attribute.
    pub from: Option<String>,
    /// The `id` attribute (the stream id, set by the receiving entity).
    pub id: Option<String>,
    /// The `version` attribute; `"1.0"` for RFC 6120 streams.
    pub version: Option<String>,
    /// The `xml:lang` attribute.
    pub lang: Option<String>,
}

impl StreamHeader {
    /// A header with the given framing and content namespace, `version`
    /// `1.0` (RFC 6120 section 4.7.5) and no other attribute; set the
    /// addresses, id and language with struct update syntax:
    ///
    /// ```
    /// use xmpp_kit::xml::{Framing, StreamHeader, StreamNamespace};
    /// let header = StreamHeader {
    ///     to: Some("example.com".into()),
    ///     ..StreamHeader::new(Framing::Stream, StreamNamespace::Client)
    /// };
    /// assert_eq!(header.version.as_deref(), Some("1.0"));
    /// ```
    pub fn new(framing: Framing, namespace: StreamNamespace) -> Self {
        Self {
            framing,
            namespace,
            to: None,
            from: None,
            id: None,
            version: Some("1.0".to_owned()),
            lang: None,
        }
    }
}

/// One unit of a parsed XML stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// The stream header. After [`StreamParser::reset`] (a stream restart)
    /// the next header arrives as a new `Header` frame.
    Header(StreamHeader),
    /// A complete top-level element: a stanza (`message`, `presence`, `iq`)
    /// or a nonza (`stream:features`, SASL, STARTTLS, stream management,
    /// `stream:error`, ...). Children that are unprefixed inherit the
    /// stream's content namespace, as XML namespaces say.
    Element(Element),
    /// Whitespace between top-level elements: a keepalive. How many frames a
    /// run of whitespace gives depends on how it arrived.
    Keepalive,
    /// The peer closed the stream (`</stream:stream>` or RFC 7395 `<close/>`).
    /// Nothing but whitespace may follow.
    Close,
    /// A stanza, split into its parts as it was read, with its extension
    /// payloads kept as bytes: given instead of [`Frame::Element`] for
    /// stanzas once [`StreamParser::set_split_stanzas`] is on.
    Stanza(StanzaParts),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No root element seen yet.
    AwaitHeader,
    /// Inside `<stream:stream>`: top-level elements are its children.
    Stream,
    /// RFC 7395: every top-level element is a document of its own.
    Framed,
    /// The stream has ended.
    Closed,
    /// A lone element, parsed again from bytes the framer kept
    /// ([`parse_fragment`]): it is the whole document.
    Fragment,
}

/// An RFC 7395 framing element being read (its end is its frame boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FramingElement {
    Open,
    Close,
}

/// The element head being read: name and attributes arrive as separate
/// events and are resolved when the head closes.
#[derive(Debug)]
struct Head {
    prefix: Option<NcName>,
    local: NcName,
    attributes: usize,
    /// The stream offset where the element starts.
    start: u64,
}

/// A namespace declaration in scope; `prefix: None` is the default namespace.
/// The name is the tokenizer's own string, moved in: declaring costs no
/// allocation.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    prefix: Option<NcName>,
    namespace: String,
}

/// The namespace an element or attribute name resolved to: a built-in one
/// or a declaration in scope (an index into the bindings), so that it can
/// be held while the parser is changed.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Static(&'static str),
    Bound(usize),
}

/// Sets of the [`Templates`] cache, and entries in each set.
const TEMPLATE_SETS: usize = 16;
const TEMPLATE_WAYS: usize = 4;
/// Longest name plus namespace name, in bytes, that a template is kept for,
/// so that the cache stays small whatever names a peer sends.
const TEMPLATE_MAX_KEY: usize = 256;

/// A small set-associative cache of empty elements by name and namespace. An
/// element is made as a clone of its template: the clone shares the
/// template's namespace (`minidom` keeps it behind an `Arc`), so it costs one
/// allocation (the name) instead of three (name, namespace string, `Arc`).
/// Stanzas repeat a small vocabulary, so nearly every element hits. At most
/// 64 templates of at most [`TEMPLATE_MAX_KEY`] bytes are kept.
#[derive(Debug, Default)]
struct Templates {
    slots: Vec<Option<Element>>,
}

impl Templates {
    /// An empty element named `local` in `namespace`.
    fn element(&mut self, local: &str, namespace: &str) -> Element {
        if local.len() + namespace.len() > TEMPLATE_MAX_KEY {
            return Element::bare(local, namespace);
        }
        if self.slots.is_empty() {
            self.slots
                .resize_with(TEMPLATE_SETS * TEMPLATE_WAYS, || None);
        }
        let start = template_set(local, namespace) * TEMPLATE_WAYS;
        let Some(set) = self.slots.get_mut(start..start + TEMPLATE_WAYS) else {
            return Element::bare(local, namespace);
        };
        for template in set.iter().flatten() {
            if template.is(local, namespace) {
                return template.clone();
            }
        }
        // A miss: the oldest entry of the set makes room.
        let element = Element::bare(local, namespace);
        set.rotate_right(1);
        if let Some(first) = set.first_mut() {
            *first = Some(element.clone());
        }
        element
    }
}

/// Capacity of [`PendingText`]'s buffer that is kept for the next text.
const PENDING_TEXT_KEEP: usize = 4096;

/// Text of the innermost open element that is not appended to it yet.
///
/// The tokenizer splits a text at every reference (`&amp;`), and appending
/// the pieces one by one reallocates the text node again and again. So the
/// first piece is kept as it came, further ones are joined in a reused
/// buffer, and the text is appended once, when an element starts or ends:
/// a text of one piece costs no allocation here, one of several pieces one.
#[derive(Debug, Default)]
struct PendingText {
    first: Option<String>,
    joined: String,
}

impl PendingText {
    fn push(&mut self, text: String) {
        match &self.first {
            None => self.first = Some(text),
            Some(first) => {
                if self.joined.is_empty() {
                    self.joined.push_str(first);
                }
                self.joined.push_str(&text);
            }
        }
    }

    fn take(&mut self) -> Option<String> {
        let first = self.first.take()?;
        if self.joined.is_empty() {
            return Some(first);
        }
        if self.joined.capacity() > PENDING_TEXT_KEEP {
            // Too big to keep: handed over as it is.
            return Some(std::mem::take(&mut self.joined));
        }
        let text = self.joined.as_str().to_owned();
        self.joined.clear();
        Some(text)
    }
}

/// The set of a name and namespace name: FNV-1a over the name and the last
/// bytes of the namespace name (where namespaces of one family differ).
fn template_set(local: &str, namespace: &str) -> usize {
    let tail = namespace
        .len()
        .checked_sub(8)
        .and_then(|start| namespace.as_bytes().get(start..))
        .unwrap_or(namespace.as_bytes());
    let mut hash: u32 = 0x811c_9dc5;
    for &b in local.as_bytes().iter().chain(tail) {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    hash ^= namespace.len() as u32;
    (hash ^ (hash >> 16)) as usize % TEMPLATE_SETS
}

/// An incremental XMPP stream parser (sans-IO).
///
/// Feed it bytes as they arrive, in chunks of any size, and take
/// [`Frame`]s out: the stream header, each complete top-level element as a
/// [`minidom::Element`], whitespace keepalives and the stream's end. Any split
/// of the input gives the same frames (consecutive keepalives aside).
///
/// It accepts both RFC 6120 streams (`<stream:stream>`) and RFC 7395
/// WebSocket framing (`<open/>`, one document per element, `<close/>`),
/// decided by the first element. The content namespace is read from the
/// header at run time.
///
/// Restricted XML is refused (RFC 6120 section 11.1): no DTD, no entity
/// declarations or references beyond the predefined ones, no processing
/// instructions, no comments. [`Limits`] are enforced as bytes arrive, before
/// they are buffered. Errors are typed, map to a stream error condition with
/// [`ParseError::condition`], and are sticky.
///
/// # Example
///
/// ```
/// use xmpp_kit::xml::{Frame, Limits, StreamParser};
///
/// let mut parser = StreamParser::new(Limits::default());
/// parser.feed(b"<stream:stream xmlns='jabber:client' \
///     xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>");
/// parser.feed(b"<message to='juliet@example.com'><body>Wherefore art thou?</body></mes");
///
/// let Some(Frame::Header(header)) = parser.next_frame()? else { panic!() };
/// assert_eq!(header.to.as_deref(), Some("example.com"));
/// // The message is not complete yet.
/// assert_eq!(parser.next_frame()?, None);
///
/// parser.feed(b"sage> </stream:stream>");
/// let Some(Frame::Element(message)) = parser.next_frame()? else { panic!() };
/// assert!(message.is("message", "jabber:client"));
/// assert_eq!(parser.next_frame()?, Some(Frame::Keepalive));
/// assert_eq!(parser.next_frame()?, Some(Frame::Close));
/// # Ok::<(), xmpp_kit::xml::ParseError>(())
/// ```
///
/// # Stream restarts
///
/// After STARTTLS `<proceed/>` or SASL `<success/>`, call [`reset`](Self::reset)
/// as soon as that element's frame is returned, before asking for the next
/// frame: bytes already fed that follow the element are kept and parsed as
/// the start of the new stream. [`buffered_len`](Self::buffered_len) tells
/// whether any such bytes are waiting (after `<proceed/>` they are an
/// injection attempt).
#[derive(Debug)]
pub struct StreamParser {
    limits: Limits,
    authenticated: bool,
    raw: RawParser,
    /// Bytes fed and not yet let go of: from `held` (bytes of the current
    /// frame are kept until it ends, so that payloads can be kept as
    /// bytes) to the last byte fed. Those from `consumed` on are not handed
    /// to the tokenizer yet.
    input: BytesMut,
    /// The stream offset of the first byte of `input`.
    held: u64,
    /// Whether stanzas are given as [`Frame::Stanza`].
    split: bool,
    /// The stanza being split, when the top-level element being read is one.
    stanza: Option<SplitStanza>,
    /// The children of the stanza being split (capacity reused).
    split_children: Vec<SplitChild>,
    /// The stream offset where the current event starts.
    event_start: u64,
    phase: Phase,
    framing_element: Option<FramingElement>,
    bindings: Vec<Binding>,
    /// For each open element, the length of `bindings` before its declarations.
    scopes: Vec<usize>,
    head: Option<Head>,
    /// Raw attributes of the head being read (namespace declarations excluded).
    raw_attributes: Vec<(Option<NcName>, NcName, String)>,
    /// The open elements of the top-level element being built.
    stack: Vec<Element>,
    /// Empty elements to clone, by name and namespace.
    templates: Templates,
    /// Text of the innermost element of `stack` not appended to it yet.
    pending_text: PendingText,
    /// Elements started in the top-level element being built.
    elements: usize,
    /// Whether the first bytes of the current stream were checked for a
    /// UTF-16 or UTF-32 encoding.
    sniffed: bool,
    /// Bytes the tokenizer has consumed.
    consumed: u64,
    /// Bytes accounted to events the tokenizer has returned.
    evented: u64,
    /// `evented` at the end of the last frame.
    frame_start: u64,
    error: Option<ParseError>,
}

impl StreamParser {
    /// Creates a parser expecting a stream header, enforcing `limits`.
    ///
    /// It starts in the pre-authentication state; see
    /// [`set_authenticated`](Self::set_authenticated). Unusable limits (see
    /// [`Limits::validate`]) are not refused here: a zero limit makes every
    /// stream fail with [`ParseError::LimitExceeded`].
    pub fn new(limits: Limits) -> Self {
        Self {
            raw: new_tokenizer(&limits),
            limits,
            authenticated: false,
            input: BytesMut::new(),
            held: 0,
            split: false,
            stanza: None,
            split_children: Vec::new(),
            event_start: 0,
            phase: Phase::AwaitHeader,
            framing_element: None,
            bindings: Vec::new(),
            scopes: Vec::new(),
            head: None,
            raw_attributes: Vec::new(),
            stack: Vec::new(),
            templates: Templates::default(),
            pending_text: PendingText::default(),
            elements: 0,
            sniffed: false,
            consumed: 0,
            evented: 0,
            frame_start: 0,
            error: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Switches between the pre-authentication stanza size limit and the
    /// general one. Call it with `true` once the peer has authenticated.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// Gives stanzas (`message`, `presence` and `iq` elements in a content
    /// namespace) as [`Frame::Stanza`] instead of [`Frame::Element`]: their
    /// attributes sorted out and their children kept, each extension
    /// payload that declares its own namespace as the bytes it arrived as
    /// ([`LazyElement`](super::LazyElement)), without building an element tree for it. Routing
    /// such a stanza on costs no tree at all. Off by default; the
    /// connections of this crate turn it on.
    ///
    /// ```
    /// use xmpp_kit::xml::{Frame, Limits, StanzaName, StreamParser};
    ///
    /// let mut parser = StreamParser::new(Limits::default());
    /// parser.set_split_stanzas(true);
    /// parser.feed(b"<stream:stream xmlns='jabber:client' \
    ///     xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>\
    ///     <message to='juliet@example.com' id='m1'><body>Hi</body>\
    ///     <active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    /// let Some(Frame::Header(_)) = parser.next_frame()? else { panic!() };
    /// let Some(Frame::Stanza(message)) = parser.next_frame()? else { panic!() };
    /// assert_eq!(message.name, StanzaName::Message);
    /// assert_eq!(message.to.as_deref(), Some("juliet@example.com"));
    /// let [body, state] = &message.children[..] else { panic!() };
    /// assert_eq!(body.text(), "Hi");
    /// assert_eq!(
    ///     state.raw_bytes(),
    ///     Some(&b"<active xmlns='http://jabber.org/protocol/chatstates'/>"[..])
    /// );
    /// # Ok::<(), xmpp_kit::xml::ParseError>(())
    /// ```
    pub fn set_split_stanzas(&mut self, split: bool) {
        self.split = split;
    }

    /// Appends bytes received from the peer. Call
    /// [`next_frame`](Self::next_frame) until it returns `Ok(None)` after
    /// each call; that consumes everything fed so far.
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_none() {
            self.input.extend_from_slice(data);
        }
    }

    /// Bytes fed that the parser has not looked at yet. They are kept across
    /// [`reset`](Self::reset).
    pub fn buffered_len(&self) -> usize {
        self.unparsed().len()
    }

    /// The bytes fed that the tokenizer has not been given yet.
    fn unparsed(&self) -> &[u8] {
        self.input
            .get(self.input_index(self.consumed)..)
            .unwrap_or_default()
    }

    /// Where stream offset `offset` is in `input` (offsets before it are
    /// at its start).
    fn input_index(&self, offset: u64) -> usize {
        usize::try_from(offset.saturating_sub(self.held)).unwrap_or(usize::MAX)
    }

    /// Lets go of the bytes before stream offset `to`.
    fn release(&mut self, to: u64) {
        let n = self.input_index(to).min(self.input.len());
        self.input.advance(n);
        self.held += n as u64;
    }

    /// The kept bytes from stream offset `start` to `end`.
    fn held_bytes(&self, start: u64, end: u64) -> &[u8] {
        self.input
            .get(self.input_index(start)..self.input_index(end))
            .unwrap_or_default()
    }

    /// Whether the peer has closed the stream.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The framing of the stream, once its header has been read.
    pub fn framing(&self) -> Option<Framing> {
        match self.phase {
            Phase::Stream => Some(Framing::Stream),
            Phase::Framed => Some(Framing::WebSocket),
            Phase::AwaitHeader | Phase::Closed | Phase::Fragment => None,
        }
    }

    /// Starts over for a stream restart: the next frame will be a new stream
    /// header. Bytes fed but not yet parsed are kept. A sticky error stays.
    pub fn reset(&mut self) {
        self.raw = new_tokenizer(&self.limits);
        self.phase = Phase::AwaitHeader;
        self.framing_element = None;
        self.bindings.clear();
        self.scopes.clear();
        self.head = None;
        self.raw_attributes.clear();
        self.stack.clear();
        self.stanza = None;
        self.split_children.clear();
        self.pending_text = PendingText::default();
        self.sniffed = false;
        // Bytes the old tokenizer took but gave no event for go to the new one.
        self.consumed = self.evented;
        self.frame_start = self.evented;
        self.release(self.evented);
    }

    /// Returns the next complete frame, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    /// A [`ParseError`] when the peer's data is not an acceptable XMPP
    /// stream. The error is sticky: later calls return it again.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ParseError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        loop {
            if self.phase == Phase::Closed {
                return self.after_close();
            }
            if !self.sniffed {
                match sniff_encoding(self.unparsed()) {
                    Sniff::NeedMore => return Ok(None),
                    Sniff::Utf8 => self.sniffed = true,
                    Sniff::Other(name) => {
                        return self.fail(ParseError::UnsupportedEncoding(format!(
                            "the stream is {name}, only UTF-8 is allowed"
                        )));
                    }
                }
            }
            // Poll even with no input left: the tokenizer may hold a queued
            // event, such as the end of an empty-element tag `<r/>`.
            let max = self.max_stanza_bytes();
            let in_flight = self.in_flight();
            // Never let the tokenizer take a byte past the limit.
            let at = self.input_index(self.consumed);
            let unparsed = self.input.get(at..).unwrap_or_default();
            let available = unparsed.len();
            let take = available.min(max.saturating_sub(in_flight));
            let chunk = unparsed.get(..take).unwrap_or_default();
            let mut rest = chunk;
            let result = self.raw.parse(&mut rest, false);
            let used = chunk.len() - rest.len();
            self.consumed += used as u64;
            match result {
                Ok(Some(event)) => {
                    self.event_start = self.evented;
                    self.evented += event.metrics().len() as u64;
                    match self.handle_event(event) {
                        Ok(Some(frame)) => return Ok(Some(frame)),
                        Ok(None) => {}
                        Err(e) => return self.fail(e),
                    }
                }
                Err(EndOrError::NeedMoreData) => {
                    if used == available {
                        return Ok(None);
                    }
                    // The budget is spent and the element goes on.
                    return self.fail(limit(LimitKind::StanzaBytes, max));
                }
                Err(EndOrError::Error(e)) => {
                    let e = ParseError::from_rxml(e, self.limits.max_token_length);
                    return self.fail(e);
                }
                // Only reported with `at_eof`, which this parser never sets.
                Ok(None) => return Ok(None),
            }
        }
    }

    fn max_stanza_bytes(&self) -> usize {
        if self.authenticated {
            self.limits.max_stanza_bytes
        } else {
            self.limits.max_stanza_bytes_pre_auth
        }
    }

    fn in_flight(&self) -> usize {
        usize::try_from(self.consumed.saturating_sub(self.frame_start)).unwrap_or(usize::MAX)
    }

    fn fail(&mut self, error: ParseError) -> Result<Option<Frame>, ParseError> {
        self.error = Some(error.clone());
        self.input = BytesMut::new();
        self.held = self.consumed;
        self.stack = Vec::new();
        self.stanza = None;
        self.split_children = Vec::new();
        self.raw_attributes = Vec::new();
        self.templates = Templates::default();
        self.pending_text = PendingText::default();
        Err(error)
    }

    fn after_close(&mut self) -> Result<Option<Frame>, ParseError> {
        if self.unparsed().iter().all(|b| is_xml_space(*b)) {
            self.input.clear();
            self.held = self.consumed;
            Ok(None)
        } else {
            self.fail(ParseError::DataAfterClose)
        }
    }

    /// Ends the frame of a top-level element: in RFC 7395 framing the next
    /// element is a document of its own, so a fresh tokenizer reads it;
    /// otherwise text is reported as it arrives again (keepalives).
    fn end_top_level(&mut self, frame: Frame) -> Option<Frame> {
        if self.phase == Phase::Framed {
            self.raw = new_tokenizer(&self.limits);
        } else {
            self.raw.set_text_buffering(false);
        }
        self.end_frame(frame)
    }

    fn end_frame(&mut self, frame: Frame) -> Option<Frame> {
        self.frame_start = self.evented;
        self.release(self.evented);
        Some(frame)
    }

    /// Depth of an element within its top-level element, given how many
    /// elements are open including it.
    fn stanza_depth(&self, open: usize) -> usize {
        match self.phase {
            Phase::Stream => open.saturating_sub(1),
            _ => open,
        }
    }

    fn handle_event(&mut self, event: RawEvent) -> Result<Option<Frame>, ParseError> {
        match event {
            RawEvent::XmlDeclaration(..) => Ok(None),
            RawEvent::ElementHeadOpen(_, (prefix, local)) => {
                let depth = self.stanza_depth(self.scopes.len() + 1);
                if depth > self.limits.max_depth {
                    return Err(limit(LimitKind::Depth, self.limits.max_depth));
                }
                if depth == 1 {
                    self.raw.set_text_buffering(true);
                    self.elements = 0;
                }
                self.elements += 1;
                if self.elements > self.limits.max_elements {
                    return Err(limit(LimitKind::Elements, self.limits.max_elements));
                }
                self.scopes.push(self.bindings.len());
                self.head = Some(Head {
                    prefix,
                    local,
                    attributes: 0,
                    start: self.event_start,
                });
                Ok(None)
            }
            RawEvent::Attribute(_, (prefix, local), value) => {
                let Some(head) = self.head.as_mut() else {
                    return Err(ParseError::BadFormat("attribute outside an element head"));
                };
                head.attributes += 1;
                if head.attributes > self.limits.max_attributes {
                    return Err(limit(LimitKind::Attributes, self.limits.max_attributes));
                }
                match (prefix, local) {
                    (None, local) if local.as_str() == "xmlns" => self.declare(None, value),
                    (Some(prefix), local) if prefix.as_str() == "xmlns" => {
                        self.declare(Some(local), value)
                    }
                    (prefix, local) => {
                        self.raw_attributes.push((prefix, local, value));
                        Ok(None)
                    }
                }
            }
            RawEvent::ElementHeadClose(_) => self.head_close(),
            RawEvent::Text(_, text) => self.text(text),
            RawEvent::ElementFoot(_) => self.foot(),
        }
    }

    fn head_close(&mut self) -> Result<Option<Frame>, ParseError> {
        let Some(head) = self.head.take() else {
            return Err(ParseError::BadFormat("element head closed twice"));
        };
        let namespace = self.resolve(head.prefix.as_ref())?;
        if let Some(text) = self.stanza.as_mut().and_then(|s| s.text.take()) {
            // The text-only child has a child after all: a tree it is.
            self.open_text_as_tree(text);
        }
        if self.stanza.is_some() && self.stack.is_empty() {
            return self.split_child_head(head, namespace);
        }
        let open = self.scopes.len();
        if self.split
            && self.stack.is_empty()
            && self.framing_element.is_none()
            && matches!(self.phase, Phase::Stream | Phase::Framed)
            && self.stanza_depth(open) == 1
            && let Some(name) = StanzaName::from_name(head.local.as_str())
            && let Some(content) = StreamNamespace::from_name(self.ns_str(namespace))
        {
            return self.start_stanza(name, content);
        }
        let attributes = self.resolve_attributes()?;
        match self.phase {
            Phase::AwaitHeader => self.stream_header(namespace, &head.local, &attributes),
            Phase::Framed if open == 1 => {
                if self.ns_str(namespace) == ns::FRAMING {
                    match head.local.as_str() {
                        "open" => {
                            self.framing_element = Some(FramingElement::Open);
                            let header = header_from(
                                Framing::WebSocket,
                                StreamNamespace::Client,
                                &attributes,
                            );
                            return Ok(self.end_frame(Frame::Header(header)));
                        }
                        "close" => {
                            self.framing_element = Some(FramingElement::Close);
                            return Ok(None);
                        }
                        _ => {}
                    }
                }
                if self.ns_str(namespace).is_empty() {
                    return Err(ParseError::InvalidNamespace(
                        "a top-level element in RFC 7395 framing must declare its namespace"
                            .to_owned(),
                    ));
                }
                self.open_element(namespace, &head.local, attributes);
                Ok(None)
            }
            Phase::Stream | Phase::Framed | Phase::Fragment => {
                if self.framing_element.is_some() {
                    return Err(ParseError::BadFormat(
                        "RFC 7395 <open/> and <close/> take no children",
                    ));
                }
                self.open_element(namespace, &head.local, attributes);
                Ok(None)
            }
            Phase::Closed => Err(ParseError::DataAfterClose),
        }
    }

    fn stream_header(
        &mut self,
        namespace: Resolved,
        local: &NcName,
        attributes: &AttrMap,
    ) -> Result<Option<Frame>, ParseError> {
        match (self.ns_str(namespace), local.as_str()) {
            (ns::STREAM, "stream") => {
                let Some(default) = self.lookup(None) else {
                    return Err(ParseError::InvalidNamespace(
                        "the stream header declares no content namespace".to_owned(),
                    ));
                };
                let Some(content) = StreamNamespace::from_name(default) else {
                    return Err(ParseError::InvalidNamespace(format!(
                        "unsupported content namespace {default:?}"
                    )));
                };
                self.phase = Phase::Stream;
                self.raw.set_text_buffering(false);
                let header = header_from(Framing::Stream, content, attributes);
                Ok(self.end_frame(Frame::Header(header)))
            }
            (ns::FRAMING, "open") => {
                self.phase = Phase::Framed;
                self.framing_element = Some(FramingElement::Open);
                let header = header_from(Framing::WebSocket, StreamNamespace::Client, attributes);
                Ok(self.end_frame(Frame::Header(header)))
            }
            (other, "stream") => Err(ParseError::InvalidNamespace(format!(
                "stream element in namespace {other:?}, expected {:?}",
                ns::STREAM
            ))),
            _ => Err(ParseError::BadFormat(
                "the first element is not a stream header",
            )),
        }
    }

    fn open_element(&mut self, namespace: Resolved, local: &NcName, attributes: AttrMap) {
        let namespace = ns_of(&self.bindings, namespace);
        let mut element = if self.phase == Phase::Fragment {
            // A one-off parse: templates would cost more than they save.
            Element::bare(local.as_str(), namespace)
        } else {
            self.templates.element(local.as_str(), namespace)
        };
        *element.attrs_mut() = attributes;
        self.append_pending_text();
        self.stack.push(element);
    }

    /// Appends the pending text to the innermost open element.
    fn append_pending_text(&mut self) {
        if let Some(text) = self.pending_text.take()
            && let Some(top) = self.stack.last_mut()
        {
            top.append_text(text);
        }
    }

    fn text(&mut self, text: String) -> Result<Option<Frame>, ParseError> {
        if !self.stack.is_empty() {
            self.pending_text.push(text);
            return Ok(None);
        }
        if let Some(stanza) = &self.stanza {
            if stanza.text.is_some() {
                self.pending_text.push(text);
            }
            // Otherwise between a stanza's children, or inside one kept as
            // bytes.
            return Ok(None);
        }
        if !text.bytes().all(is_xml_space) {
            return Err(ParseError::BadFormat("text outside a top-level element"));
        }
        if self.phase == Phase::Stream && self.framing_element.is_none() {
            return Ok(self.end_frame(Frame::Keepalive));
        }
        Ok(None)
    }

    fn foot(&mut self) -> Result<Option<Frame>, ParseError> {
        if let Some(mark) = self.scopes.pop() {
            self.bindings.truncate(mark);
        }
        if self.stanza.is_some() && self.stack.is_empty() {
            return self.split_foot();
        }
        self.append_pending_text();
        if let Some(element) = self.stack.pop() {
            if let Some(parent) = self.stack.last_mut() {
                parent.append_child(element);
                return Ok(None);
            }
            if self.stanza.is_some() {
                // A child of a split stanza, in its namespace.
                self.split_children.push(SplitChild::Done(element.into()));
                return Ok(None);
            }
            return Ok(self.end_top_level(Frame::Element(element)));
        }
        match (self.phase, self.framing_element.take()) {
            (Phase::Framed, Some(FramingElement::Open)) => {
                self.raw = new_tokenizer(&self.limits);
                self.frame_start = self.evented;
                self.release(self.evented);
                Ok(None)
            }
            (Phase::Framed, Some(FramingElement::Close)) | (Phase::Stream, None) => {
                self.phase = Phase::Closed;
                Ok(self.end_frame(Frame::Close))
            }
            _ => Err(ParseError::BadFormat("unbalanced element end")),
        }
    }

    /// Records a namespace declaration of the element head being read.
    fn declare(
        &mut self,
        prefix: Option<NcName>,
        uri: String,
    ) -> Result<Option<Frame>, ParseError> {
        let own = self.scopes.last().copied().unwrap_or(0);
        let declared_twice = self
            .bindings
            .get(own..)
            .unwrap_or_default()
            .iter()
            .any(|b| b.prefix == prefix);
        if declared_twice {
            return Err(ParseError::DuplicateAttribute(match &prefix {
                Some(p) => format!("xmlns:{}", p.as_str()),
                None => "xmlns".to_owned(),
            }));
        }
        self.bindings.push(Binding {
            prefix,
            namespace: uri,
        });
        Ok(None)
    }

    /// The innermost declaration of `prefix` in scope, by index.
    fn position(&self, prefix: Option<&NcName>) -> Option<usize> {
        self.bindings
            .iter()
            .rposition(|b| b.prefix.as_ref() == prefix)
    }

    fn lookup(&self, prefix: Option<&NcName>) -> Option<&str> {
        self.position(prefix)
            .map(|index| self.ns_str(Resolved::Bound(index)))
    }

    fn resolve(&self, prefix: Option<&NcName>) -> Result<Resolved, ParseError> {
        match prefix {
            None => Ok(self
                .position(None)
                .map_or(Resolved::Static(""), Resolved::Bound)),
            Some(p) if p.as_str() == "xml" => Ok(Resolved::Static(rxml::XMLNS_XML)),
            Some(p) => match self.position(Some(p)) {
                // `xmlns=''` undeclares the default namespace; an empty
                // prefixed declaration is refused by the tokenizer.
                Some(index) => Ok(Resolved::Bound(index)),
                None => Err(ParseError::UndeclaredPrefix(p.as_str().to_owned())),
            },
        }
    }

    fn ns_str(&self, namespace: Resolved) -> &str {
        ns_of(&self.bindings, namespace)
    }

    fn resolve_attributes(&mut self) -> Result<AttrMap, ParseError> {
        let mut map = AttrMap::new();
        // Reuse the scratch vector's capacity across elements.
        let mut raw = std::mem::take(&mut self.raw_attributes);
        let mut result = Ok(());
        for (prefix, local, value) in raw.drain(..) {
            let namespace = match prefix {
                None => ns::NO_NAMESPACE.clone(),
                Some(p) => match self.resolve(Some(&p)) {
                    Ok(namespace) => self.attr_namespace(namespace),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                },
            };
            // Cheap: short names are stored inline.
            let name = local.clone();
            if map.insert(namespace, local, value).is_some() {
                result = Err(ParseError::DuplicateAttribute(name.as_str().to_owned()));
                break;
            }
        }
        raw.clear();
        self.raw_attributes = raw;
        result.map(|()| map)
    }
}

/// Parses `bytes`, one whole element, with the namespace declarations of
/// `context` in scope: the tree of an element the framer kept as bytes.
/// They were read once already, so no limit is needed beyond their length.
pub(crate) fn parse_fragment(bytes: &[u8], context: &[Binding]) -> Result<Element, ParseError> {
    let bound = bytes.len().saturating_add(1);
    let limits = Limits {
        max_stanza_bytes: bound,
        max_stanza_bytes_pre_auth: bound,
        max_depth: bound,
        max_attributes: bound,
        max_elements: bound,
        max_token_length: bound,
    };
    let mut parser = StreamParser::new(limits);
    parser.authenticated = true;
    parser.phase = Phase::Fragment;
    parser.sniffed = true;
    parser.bindings = context.to_vec();
    parser.feed(bytes);
    match parser.next_frame()? {
        Some(Frame::Element(element)) if parser.buffered_len() == 0 => Ok(element),
        _ => Err(ParseError::BadFormat("not one whole element")),
    }
}

/// The namespace name `namespace` stands for.
fn ns_of(bindings: &[Binding], namespace: Resolved) -> &str {
    match namespace {
        Resolved::Static(name) => name,
        Resolved::Bound(index) => bindings.get(index).map_or("", |b| b.namespace.as_str()),
    }
}

fn new_tokenizer(limits: &Limits) -> RawParser {
    let mut raw = RawParser::with_options(Options {
        max_token_length: limits.max_token_length,
        ..Options::default()
    });
    // Text at stream level is a keepalive: report it as soon as it arrives.
    raw.set_text_buffering(false);
    raw
}

enum Sniff {
    NeedMore,
    Utf8,
    Other(&'static str),
}

/// Recognizes UTF-16 and UTF-32 by their byte order mark or by the NUL
/// bytes around the first `<` (XML 1.0 appendix F). The tokenizer would
/// otherwise report them as a stray NUL character.
fn sniff_encoding(start: &[u8]) -> Sniff {
    match start {
        [] | [_] => Sniff::NeedMore,
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] => Sniff::Other("UTF-16 (byte order mark)"),
        [0, 0, ..] => Sniff::Other("UTF-32"),
        [0, b'<', ..] | [b'<', 0, ..] => Sniff::Other("UTF-16"),
        _ => Sniff::Utf8,
    }
}

fn limit(kind: LimitKind, limit: usize) -> ParseError {
    ParseError::LimitExceeded { kind, limit }
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn header_from(framing: Framing, namespace: StreamNamespace, attributes: &AttrMap) -> StreamHeader {
    let get = |name: &str| attributes.get(&ns::NO_NAMESPACE, name).cloned();
    StreamHeader {
        framing,
        namespace,
        to: get("to"),
        from: get("from"),
        id: get("id"),
        version: get("version"),
        lang: attributes.get(&Namespace::XML, "lang").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_give_the_same_elements_as_fresh_ones() {
        let mut templates = Templates::default();
        let names = [
            ("message", "jabber:client"),
            ("body", "jabber:client"),
            ("query", "jabber:iq:roster"),
            ("query", "http://jabber.org/protocol/disco#info"),
            ("x", ""),
        ];
        // Twice round, so the second round hits.
        for _ in 0..2 {
            for (local, namespace) in names {
                let element = templates.element(local, namespace);
                assert_eq!(element, Element::bare(local, namespace));
                assert!(element.is(local, namespace));
            }
        }
        // A change to a made element does not reach its template.
        let mut body = templates.element("body", "jabber:client");
        body.append_text("hi");
        assert_eq!(templates.element("body", "jabber:client").text(), "");
    }

    /// Frames of `body` after a header declaring `q`, stanzas made whole.
    fn frames(body: &str, split: bool) -> Vec<Result<Element, ParseError>> {
        let mut parser = StreamParser::new(Limits::default());
        parser.set_split_stanzas(split);
        parser.feed(
            b"<stream:stream xmlns='jabber:client' \
              xmlns:stream='http://etherx.jabber.org/streams' xmlns:q='urn:q'>",
        );
        parser.feed(body.as_bytes());
        let mut frames = Vec::new();
        loop {
            match parser.next_frame() {
                Ok(Some(Frame::Header(_))) => {}
                Ok(Some(Frame::Element(element))) => frames.push(Ok(element)),
                Ok(Some(Frame::Stanza(parts))) => frames.push(Ok(parts.into_element())),
                Ok(Some(other)) => panic!("{other:?}"),
                Ok(None) => return frames,
                Err(e) => {
                    frames.push(Err(e));
                    return frames;
                }
            }
        }
    }

    /// The attributes of an element inside a stanza child, when the
    /// element's name used a namespace declared outside the child, were
    /// neither checked nor cleared: the next element read took them, or
    /// failed on their prefix, and faults in them went unseen.
    #[test]
    fn split_children_keep_their_attributes() {
        for body in [
            // The body took `a`.
            "<message><q:x a='1'/><body/></message>",
            // The presence took `a`.
            "<message><q:x a='1'/></message><presence/>",
            // Refused: `p` undeclared where `y` is.
            "<message><p:x xmlns:p='urn:p'><z p:a='1'/></p:x><y xmlns='urn:y'/></message>",
            // UndeclaredPrefix("r") instead of DuplicateAttribute("a").
            "<message><q:x a='1' a='2'><r:y/></q:x></message>",
            "<message><x xmlns='urn:x'><q:y a='1' a='2'/><r:z/></x></message>",
        ] {
            assert_eq!(frames(body, true), frames(body, false), "{body}");
        }
    }

    #[test]
    fn templates_stay_bounded() {
        let mut templates = Templates::default();
        for i in 0..1000 {
            let local = format!("e{i}");
            assert!(templates.element(&local, "urn:x").is(&local, "urn:x"));
        }
        let long = "n".repeat(TEMPLATE_MAX_KEY + 1);
        assert!(templates.element(&long, "urn:x").is(&long, "urn:x"));
        assert_eq!(templates.slots.len(), TEMPLATE_SETS * TEMPLATE_WAYS);
        assert!(
            templates
                .slots
                .iter()
                .flatten()
                .all(|t| t.name().len() <= TEMPLATE_MAX_KEY)
        );
    }
}
