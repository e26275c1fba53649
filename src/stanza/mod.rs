//! Typed stanzas: [`Message`], [`Presence`], [`Iq`] and the [`Stanza`] enum.
//!
//! A stanza is typed from the parts the framer splits it into
//! ([`StanzaParts`], given by a
//! [`StreamParser`](crate::xml::StreamParser) with
//! [`set_split_stanzas`](crate::xml::StreamParser::set_split_stanzas), as
//! every connection of this crate reads), or from a [`minidom::Element`],
//! by moving its parts, not copying them: addressing, id, type and
//! `xml:lang` become typed fields, the children defined by RFC 6120/6121
//! (body, subject, thread, show, status, priority, error) become typed
//! fields, and every other child is kept as a payload, parsed on demand with
//! [`ext::Payload`]. A payload read from a stream stays the bytes it arrived
//! as until it is looked into ([`LazyElement`]), and is written back as
//! those bytes when the stanza is forwarded. Unknown attributes are kept
//! too, so nothing a peer sent is dropped when a stanza is forwarded.
//!
//! ```
//! use xmpp_kit::stanza::{Message, Stanza};
//! use xmpp_kit::ext::chatstates::ChatState;
//!
//! let message = Message::chat("juliet@example.com".parse()?, "Art thou not Romeo?")
//!     .with_id("m1")
//!     .with_payload(&ChatState::Active);
//! let element = minidom::Element::from(message.clone());
//! let Stanza::Message(back) = Stanza::try_from(element)? else { unreachable!() };
//! assert_eq!(back, message);
//! assert_eq!(back.body(), Some("Art thou not Romeo?"));
//! assert_eq!(back.payload::<ChatState>(), Some(Ok(ChatState::Active)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A stanza that is well-formed XML but breaks the rules (an iq without
//! id, a get with two payloads, an unknown presence type, a malformed JID)
//! gives a [`StanzaParseError`] that hands the element back and builds the
//! error reply, so a connection answers with a stanza error instead of
//! killing the stream.

mod error;
mod iq;
mod message;
mod presence;

use minidom::Element;
use rxml::AttrMap;

pub use error::{DefinedCondition, ErrorType, StanzaError};
pub use iq::{Iq, IqKind};
pub use message::{Message, MessageType, Thread};
pub use presence::{Presence, PresenceType, Show};

use crate::ext::{self, Payload, PayloadError};
use crate::jid::Jid;
use crate::ns;
use crate::xml::{LazyElement, StanzaName, StanzaParts, StreamNamespace};

/// Any of the three stanzas.
#[derive(Debug, Clone, PartialEq)]
pub enum Stanza {
    /// A `<message/>`.
    Message(Message),
    /// A `<presence/>`.
    Presence(Presence),
    /// An `<iq/>`.
    Iq(Iq),
}

impl Stanza {
    /// Whether `element` is a stanza: `message`, `presence` or `iq` in a
    /// content namespace. Other top-level elements are nonzas.
    pub fn is_stanza(element: &Element) -> bool {
        matches!(element.name(), "message" | "presence" | "iq") && error::is_content_ns(element)
    }

    /// The recipient (`to`).
    pub fn recipient(&self) -> Option<&Jid> {
        match self {
            Self::Message(s) => s.to.as_ref(),
            Self::Presence(s) => s.to.as_ref(),
            Self::Iq(s) => s.to.as_ref(),
        }
    }

    /// The sender (`from`).
    pub fn sender(&self) -> Option<&Jid> {
        match self {
            Self::Message(s) => s.from.as_ref(),
            Self::Presence(s) => s.from.as_ref(),
            Self::Iq(s) => s.from.as_ref(),
        }
    }

    /// The id, if any (an iq always has one).
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Message(s) => s.id.as_deref(),
            Self::Presence(s) => s.id.as_deref(),
            Self::Iq(s) => Some(&s.id),
        }
    }

    /// Sets the id if the stanza has none (or an empty one), from `ids`.
    pub fn assign_id(&mut self, ids: &mut IdGenerator) {
        let slot = match self {
            Self::Message(s) => &mut s.id,
            Self::Presence(s) => &mut s.id,
            Self::Iq(s) => {
                if s.id.is_empty() {
                    s.id = ids.next_id();
                }
                return;
            }
        };
        if slot.as_deref().is_none_or(str::is_empty) {
            *slot = Some(ids.next_id());
        }
    }

    /// Serializes into the given content namespace.
    pub fn to_element_in(&self, namespace: StreamNamespace) -> Element {
        match self {
            Self::Message(s) => s.to_element_in(namespace),
            Self::Presence(s) => s.to_element_in(namespace),
            Self::Iq(s) => s.to_element_in(namespace),
        }
    }

    /// The stanza split for writing without copying its payloads: see
    /// [`WriteParts`].
    pub(crate) fn parts_in(&self, namespace: StreamNamespace) -> WriteParts<'_> {
        match self {
            Self::Message(s) => s.parts_in(namespace),
            Self::Presence(s) => s.parts_in(namespace),
            Self::Iq(s) => s.parts_in(namespace),
        }
    }

    /// The error stanza answering this one, or `None` when this one is
    /// itself an error (errors are never answered, RFC 6120 section 8.3.1).
    pub fn error_reply(&self, error: StanzaError) -> Option<Self> {
        match self {
            Self::Message(s) => s.error_reply(error).map(Self::Message),
            Self::Presence(s) => s.error_reply(error).map(Self::Presence),
            Self::Iq(s) => s.error_reply(error).map(Self::Iq),
        }
    }
}

impl TryFrom<Element> for Stanza {
    type Error = StanzaParseError;

    fn try_from(element: Element) -> Result<Self, StanzaParseError> {
        Self::try_from(split(element)?)
    }
}

/// A stanza as the framer splits it, typed: its payloads stay as they are
/// (kept as bytes where the framer kept them).
impl TryFrom<StanzaParts> for Stanza {
    type Error = StanzaParseError;

    fn try_from(parts: StanzaParts) -> Result<Self, StanzaParseError> {
        match parts.name {
            StanzaName::Message => Message::try_from(parts).map(Self::Message),
            StanzaName::Presence => Presence::try_from(parts).map(Self::Presence),
            StanzaName::Iq => Iq::try_from(parts).map(Self::Iq),
        }
    }
}

/// Takes a stanza element apart; any other element is an error.
pub(crate) fn split(element: Element) -> Result<StanzaParts, StanzaParseError> {
    StanzaParts::from_element(element)
        .map_err(|element| StanzaParseError::new(not_a_stanza(&element), element))
}

/// The parts of a stanza named `name`; any other is an error.
pub(crate) fn expect(
    parts: StanzaParts,
    name: StanzaName,
) -> Result<StanzaParts, StanzaParseError> {
    if parts.name == name {
        return Ok(parts);
    }
    let element = parts.into_element();
    Err(StanzaParseError::new(
        PayloadError::WrongElement {
            expected: name.as_str(),
            namespace: ns::JABBER_CLIENT,
            found: element.name().to_owned(),
            found_namespace: element.ns(),
        },
        element,
    ))
}

impl From<Stanza> for Element {
    fn from(stanza: Stanza) -> Self {
        match stanza {
            Stanza::Message(s) => s.into(),
            Stanza::Presence(s) => s.into(),
            Stanza::Iq(s) => s.into(),
        }
    }
}

impl From<Message> for Stanza {
    fn from(s: Message) -> Self {
        Self::Message(s)
    }
}

impl From<Presence> for Stanza {
    fn from(s: Presence) -> Self {
        Self::Presence(s)
    }
}

impl From<Iq> for Stanza {
    fn from(s: Iq) -> Self {
        Self::Iq(s)
    }
}

/// A stanza as [`StreamWriter::write_stanza`](crate::xml::StreamWriter::write_stanza)
/// writes it: `to_element_in` is `head` with the elements of `before` as
/// its first children and those of `after` as its last. The payload
/// elements are borrowed, not copied.
pub(crate) struct WriteParts<'a> {
    /// The stanza element with its typed children, without the payloads.
    pub(crate) head: Element,
    /// Payload elements that come before the children of `head`.
    pub(crate) before: &'a [LazyElement],
    /// Payload elements that come after the children of `head`.
    pub(crate) after: &'a [LazyElement],
}

impl WriteParts<'_> {
    /// The whole stanza element, the payloads copied in (and parsed, where
    /// they are bytes).
    pub(crate) fn into_element(self) -> Element {
        let mut element = self.head;
        let own = element.take_nodes();
        for payload in self.before {
            element.append_child(payload.as_element().clone());
        }
        for node in own {
            element.append_node(node);
        }
        for payload in self.after {
            element.append_child(payload.as_element().clone());
        }
        element
    }
}

/// A stanza that is well-formed XML but not a valid stanza.
///
/// It gives the element back, untouched, and can build the error reply:
///
/// ```
/// use xmpp_kit::stanza::{DefinedCondition, Stanza};
///
/// let bad: minidom::Element =
///     "<iq xmlns='jabber:client' type='get' id='q1' from='romeo@example.net/orchard'/>"
///         .parse()?;
/// let error = Stanza::try_from(bad).unwrap_err();
/// assert_eq!(error.condition(), DefinedCondition::BadRequest);
/// let reply = error.error_reply().expect("a bad get is answered");
/// assert_eq!(reply.attr("type"), Some("error"));
/// assert_eq!(reply.attr("to"), Some("romeo@example.net/orchard"));
/// assert_eq!(reply.attr("id"), Some("q1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid <{}/> stanza: {error}", element.name())]
pub struct StanzaParseError {
    /// What is wrong.
    pub error: PayloadError,
    /// The element as it came (boxed, to keep `Result`s small); for a
    /// stanza read split, the element its parts make (without the text
    /// directly under it, which splitting does not keep).
    pub element: Box<Element>,
}

impl StanzaParseError {
    fn new(error: PayloadError, element: Element) -> Self {
        Self {
            error,
            element: Box::new(element),
        }
    }

    /// Whether the element was a stanza at all. A top-level element that is
    /// not one is answered with the `unsupported-stanza-type` stream error.
    pub fn is_stanza(&self) -> bool {
        Stanza::is_stanza(&self.element)
    }

    /// The stanza error condition to answer with.
    pub fn condition(&self) -> DefinedCondition {
        self.error.condition()
    }

    /// The error stanza to send back: same kind and id, `to` and `from`
    /// swapped, type `error`, with a `bad-request` or `jid-malformed` error
    /// explaining the problem. `None` when the element was not a stanza or
    /// was itself an error.
    pub fn error_reply(&self) -> Option<Element> {
        let error = StanzaError::new(self.condition()).with_text(self.error.to_string());
        error_reply_element(&self.element, &error)
    }
}

/// Builds the error reply to any stanza element: same name, namespace and
/// id, `to` and `from` swapped (a malformed address is left out),
/// `type='error'`, and `error`. For an iq the
/// request payload is echoed (RFC 6120 section 8.3.1 says the original
/// SHOULD be included; for message and presence it is left out so that an
/// error never amplifies traffic). `None` if `element` is not a stanza, is
/// itself of type `error`, or is an iq result or an iq without id.
pub fn error_reply_element(element: &Element, error: &StanzaError) -> Option<Element> {
    if !Stanza::is_stanza(element) || ext::attr(element, "type") == Some("error") {
        return None;
    }
    // An iq result is an answer, and an iq without an id cannot be
    // answered: neither gets an error reply (the connection may treat
    // the latter as a stream error).
    if element.name() == "iq"
        && (ext::attr(element, "id").is_none() || ext::attr(element, "type") == Some("result"))
    {
        return None;
    }
    let namespace = content_ns_of(element);
    let mut reply = Element::bare(element.name(), namespace.as_str());
    // Only valid addresses are carried over: a reply to a malformed `from`
    // goes back over the stream it came on, without `to`.
    let valid = |name| ext::attr(element, name).and_then(|v| v.parse::<Jid>().ok());
    ext::set_opt_attr(&mut reply, "to", valid("from").as_ref().map(Jid::as_str));
    ext::set_opt_attr(&mut reply, "from", valid("to").as_ref().map(Jid::as_str));
    ext::set_opt_attr(&mut reply, "id", ext::attr(element, "id"));
    ext::set_attr(&mut reply, "type", "error");
    // A payload that is itself an `<error/>` of the stanza namespace is not
    // echoed: the reply would then hold two errors.
    if element.name() == "iq"
        && let Some(payload) = element.children().next()
        && !(payload.name() == "error" && error::is_content_ns(payload))
    {
        reply.append_child(payload.clone());
    }
    reply.append_child(error.to_element_in(namespace.as_str()));
    Some(reply)
}

/// Unique stanza ids.
///
/// Ids are the hex form of a bijective mix of a seed and a counter, so they
/// never repeat within one generator and do not reveal the counter. The
/// seed comes from the caller (the core has no randomness of its own);
/// give different connections different seeds.
///
/// ```
/// use xmpp_kit::stanza::IdGenerator;
/// let mut ids = IdGenerator::new(42);
/// let a = ids.next_id();
/// let b = ids.next_id();
/// assert_ne!(a, b);
/// assert_eq!(a.len(), 16);
/// ```
#[derive(Debug, Clone)]
pub struct IdGenerator {
    seed: u64,
    counter: u64,
}

impl IdGenerator {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        format!(
            "{:016x}",
            mix(self
                .seed
                .wrapping_add(self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        )
    }
}

/// The splitmix64 finalizer, a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A text in a language: a body, subject or status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text {
    /// The `xml:lang` of the element, if it has its own.
    pub lang: Option<String>,
    /// The text.
    pub text: String,
}

impl Text {
    /// A text without its own language.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            lang: None,
            text: text.into(),
        }
    }
}

// ---- shared by message, presence and iq ----------------------------------

/// What every stanza carries that must be validated before the parts are
/// taken: the addresses (parsed as JIDs) and the namespace.
pub(crate) struct Common {
    pub(crate) to: Option<Jid>,
    pub(crate) from: Option<Jid>,
    pub(crate) namespace: StreamNamespace,
}

impl Common {
    /// Reads the addresses of a stanza by reference, so that a failure
    /// leaves the parts untouched.
    pub(crate) fn read(parts: &StanzaParts) -> Result<Self, PayloadError> {
        let name = parts.name.as_str();
        Ok(Self {
            to: ext::parse_jid_attr(parts.to.as_deref(), "to", name)?,
            from: ext::parse_jid_attr(parts.from.as_deref(), "from", name)?,
            namespace: parts.namespace,
        })
    }
}

fn not_a_stanza(element: &Element) -> PayloadError {
    PayloadError::WrongElement {
        expected: "message, presence or iq",
        namespace: ns::JABBER_CLIENT,
        found: element.name().to_owned(),
        found_namespace: element.ns(),
    }
}

fn content_ns_of(element: &Element) -> StreamNamespace {
    StreamNamespace::of(element).unwrap_or(StreamNamespace::Client)
}

/// The attributes every stanza element may carry, for [`start_element`].
pub(crate) struct Attrs<'a> {
    pub(crate) to: Option<&'a Jid>,
    pub(crate) from: Option<&'a Jid>,
    pub(crate) id: Option<&'a str>,
    pub(crate) kind: Option<&'a str>,
    pub(crate) lang: Option<&'a str>,
}

/// Starts a stanza element with its common attributes and the kept ones.
pub(crate) fn start_element(
    name: &str,
    namespace: StreamNamespace,
    attrs: Attrs<'_>,
    other_attrs: &AttrMap,
) -> Element {
    let mut element = Element::bare(name, namespace.as_str());
    *element.attrs_mut() = other_attrs.clone();
    ext::set_opt_attr(&mut element, "to", attrs.to.map(Jid::as_str));
    ext::set_opt_attr(&mut element, "from", attrs.from.map(Jid::as_str));
    ext::set_opt_attr(&mut element, "id", attrs.id);
    ext::set_opt_attr(&mut element, "type", attrs.kind);
    ext::set_lang(&mut element, attrs.lang);
    element
}

/// The first payload of type `T` among `payloads`, parsed. Payloads kept
/// as bytes are parsed as they are looked at, up to the one found.
pub(crate) fn find_payload<T: Payload>(
    payloads: &[LazyElement],
) -> Option<Result<T, PayloadError>> {
    payloads
        .iter()
        .map(LazyElement::as_element)
        .find(|e| T::matches(e))
        .map(T::parse)
}

/// The first child that is a stanza error (`<error/>` in a content
/// namespace), found by name and namespace without parsing any child kept
/// as bytes.
pub(crate) fn find_error(children: &[LazyElement]) -> Option<&Element> {
    children
        .iter()
        .find(|c| {
            c.name() == "error"
                && StreamNamespace::ALL
                    .iter()
                    .any(|namespace| c.has_ns(namespace.as_str()))
        })
        .map(LazyElement::as_element)
}

/// `<name xml:lang=..>text</name>` children for each text.
pub(crate) fn append_texts(element: &mut Element, name: &str, namespace: &str, texts: &[Text]) {
    for t in texts {
        let mut child = ext::text_element(name, namespace, t.text.clone());
        ext::set_lang(&mut child, t.lang.as_deref());
        element.append_child(child);
    }
}

/// The text without its own `xml:lang` (the stanza's default language),
/// or else the first one.
pub(crate) fn default_text(texts: &[Text]) -> Option<&str> {
    texts
        .iter()
        .find(|t| t.lang.is_none())
        .or_else(|| texts.first())
        .map(|t| t.text.as_str())
}

/// An element's text, borrowed when it is a single text node (as it nearly
/// always is), else concatenated like [`Element::text`].
pub(crate) fn text_ref(element: &Element) -> std::borrow::Cow<'_, str> {
    let mut texts = element.texts();
    match (texts.next(), texts.next()) {
        (None, _) => "".into(),
        (Some(one), None) => one.into(),
        _ => element.text().into(),
    }
}

/// A child's text, borrowed: without making a tree for a text-only child
/// the framer read.
pub(crate) fn lazy_text_ref(child: &LazyElement) -> std::borrow::Cow<'_, str> {
    match child.simple_text() {
        Some(text) => text.into(),
        None => text_ref(child),
    }
}

/// A text child as a [`Text`], moved out: without making a tree for a
/// text-only child the framer read.
pub(crate) fn lazy_text(child: &mut LazyElement) -> Text {
    match child.take_text() {
        Some((lang, text)) => Text { lang, text },
        None => text_of(child.as_element_mut()),
    }
}

/// A text child as a [`Text`], its text moved out rather than copied when
/// it is one text node (as it nearly always is); the child is left without
/// it.
pub(crate) fn text_of(child: &mut Element) -> Text {
    let lang = if child.attrs().is_empty() {
        None
    } else {
        ext::lang(child).map(str::to_owned)
    };
    // The text nodes moved out in place: the usual single one costs nothing.
    let mut texts = child.texts_mut();
    let mut text = texts.next().map(std::mem::take).unwrap_or_default();
    for more in texts {
        text.push_str(more);
    }
    Text { lang, text }
}

impl crate::xml::StreamWriter {
    /// Writes one stanza in the content namespace `namespace`, straight
    /// from its typed fields: the stanza element and its typed children are
    /// built without the payload elements, which are written by reference
    /// rather than copied.
    ///
    /// The output is byte for byte that of
    /// [`write_element`](crate::xml::StreamWriter::write_element) on
    /// [`stanza.to_element_in(namespace)`](Stanza::to_element_in), and so
    /// are the errors, except for payloads still kept as the bytes they
    /// arrived as ([`LazyElement::raw_bytes`]): those are written as they
    /// came (they declare every namespace they use), which parses back to
    /// the same element.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use xmpp_kit::stanza::{Message, Stanza};
    /// use xmpp_kit::xml::{StreamNamespace, StreamWriter};
    ///
    /// let stanza = Stanza::from(Message::chat("juliet@example.com".parse()?, "Fish & chips"));
    /// let mut out = BytesMut::new();
    /// StreamWriter::new().write_stanza(&stanza, StreamNamespace::Client, &mut out)?;
    /// assert_eq!(
    ///     &out[..],
    ///     &b"<message xmlns='jabber:client' to='juliet@example.com' type='chat'>\
    ///        <body>Fish &amp; chips</body></message>"[..]
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`WriteError`](crate::xml::WriteError) if a name or character cannot be written as XML;
    /// nothing is written then.
    pub fn write_stanza(
        &self,
        stanza: &Stanza,
        namespace: StreamNamespace,
        out: &mut bytes::BytesMut,
    ) -> Result<(), crate::xml::WriteError> {
        let parts = stanza.parts_in(namespace);
        self.write_with_children(parts.before, &parts.head, parts.after, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_join_every_text_node() {
        let element: Element = "<body xmlns='jabber:client'>a<x xmlns='urn:x'>b</x>c</body>"
            .parse()
            .unwrap();
        assert_eq!(text_ref(&element), "ac");
        assert_eq!(text_of(&mut element.clone()).text, "ac");
        let element: Element = "<body xmlns='jabber:client'>only</body>".parse().unwrap();
        assert!(matches!(
            text_ref(&element),
            std::borrow::Cow::Borrowed("only")
        ));
        assert_eq!(text_of(&mut element.clone()).text, "only");
        let element: Element = "<body xmlns='jabber:client'/>".parse().unwrap();
        assert_eq!(text_ref(&element), "");
        assert_eq!(text_of(&mut element.clone()).text, "");
    }

    #[test]
    fn ids_do_not_repeat() {
        let mut ids = IdGenerator::new(7);
        let all: std::collections::HashSet<String> = (0..10_000).map(|_| ids.next_id()).collect();
        assert_eq!(all.len(), 10_000);
        let mut other = IdGenerator::new(8);
        assert_ne!(IdGenerator::new(7).next_id(), other.next_id());
    }
}
