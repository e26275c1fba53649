//! `<message/>` (RFC 6120 section 8, RFC 6121 section 5).

use std::str::FromStr;

use minidom::Element;
use rxml::AttrMap;

use super::{
    Attrs, Common, StanzaError, StanzaParseError, Text, WriteParts, append_texts, default_text,
    expect, find_error, find_payload, lazy_text, split, start_element,
};
use crate::ext::{self, Payload, PayloadError};
use crate::jid::Jid;
use crate::xml::{LazyElement, StanzaName, StanzaParts, StreamNamespace};

/// The type of a message (RFC 6121 section 5.2.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// One-to-one chat.
    Chat,
    /// An error answering a message that was sent.
    Error,
    /// A message in a multi-user chat room.
    Groupchat,
    /// An alert or notification that expects no reply.
    Headline,
    /// A standalone message; also what a missing or unknown type means.
    #[default]
    Normal,
}

impl MessageType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Error => "error",
            Self::Groupchat => "groupchat",
            Self::Headline => "headline",
            Self::Normal => "normal",
        }
    }
}

impl FromStr for MessageType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "chat" => Self::Chat,
            "error" => Self::Error,
            "groupchat" => Self::Groupchat,
            "headline" => Self::Headline,
            "normal" => Self::Normal,
            _ => return Err(()),
        })
    }
}

/// The `<thread/>` of a message (RFC 6121 section 5.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Thread {
    /// The thread identifier.
    pub id: String,
    /// The parent thread, if this one was spun off from it.
    pub parent: Option<String>,
}

/// A `<message/>` stanza.
///
/// ```
/// use xmpp_kit::stanza::{Message, MessageType};
///
/// let m = Message::chat("romeo@example.net".parse()?, "Wherefore art thou?");
/// assert_eq!(m.kind, MessageType::Chat);
/// assert_eq!(m.body(), Some("Wherefore art thou?"));
/// # Ok::<(), xmpp_kit::JidError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The recipient.
    pub to: Option<Jid>,
    /// The sender (stamped by the server on routed stanzas).
    pub from: Option<Jid>,
    /// The stanza id.
    pub id: Option<String>,
    /// The message type; unknown types read as [`MessageType::Normal`].
    pub kind: MessageType,
    /// The default language of the texts (`xml:lang`).
    pub lang: Option<String>,
    /// The bodies, one per language.
    pub bodies: Vec<Text>,
    /// The subjects, one per language.
    pub subjects: Vec<Text>,
    /// The conversation thread.
    pub thread: Option<Thread>,
    /// The error, for a message of type `error`.
    pub error: Option<StanzaError>,
    /// Every other child element, in order: extension payloads. Those read
    /// from a stream are kept as the bytes they arrived as until looked
    /// into (see [`LazyElement`]); push an [`Element`] with `.into()`.
    pub payloads: Vec<LazyElement>,
    /// Attributes the type does not model, kept for re-serialization.
    pub other_attrs: AttrMap,
}

impl Default for Message {
    fn default() -> Self {
        Self::new(MessageType::Normal)
    }
}

impl Message {
    /// An empty message of the given type.
    pub fn new(kind: MessageType) -> Self {
        Self {
            to: None,
            from: None,
            id: None,
            kind,
            lang: None,
            bodies: Vec::new(),
            subjects: Vec::new(),
            thread: None,
            error: None,
            payloads: Vec::new(),
            other_attrs: AttrMap::new(),
        }
    }

    /// A chat message to `to` with a body.
    pub fn chat(to: Jid, body: impl Into<String>) -> Self {
        Self::new(MessageType::Chat).with_to(to).with_body(body)
    }

    /// A normal message to `to` with a body.
    pub fn normal(to: Jid, body: impl Into<String>) -> Self {
        Self::new(MessageType::Normal).with_to(to).with_body(body)
    }

    /// A groupchat message to a room with a body.
    pub fn groupchat(room: Jid, body: impl Into<String>) -> Self {
        Self::new(MessageType::Groupchat)
            .with_to(room)
            .with_body(body)
    }

    /// A headline (a notification expecting no reply) to `to`.
    pub fn headline(to: Jid) -> Self {
        Self::new(MessageType::Headline).with_to(to)
    }

    /// Sets the recipient.
    #[must_use]
    pub fn with_to(mut self, to: Jid) -> Self {
        self.to = Some(to);
        self
    }

    /// Sets the sender.
    #[must_use]
    pub fn with_from(mut self, from: Jid) -> Self {
        self.from = Some(from);
        self
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds a body without its own language.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.bodies.push(Text::new(body));
        self
    }

    /// Adds a subject without its own language.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subjects.push(Text::new(subject));
        self
    }

    /// Adds a payload.
    #[must_use]
    pub fn with_payload<P: Payload>(mut self, payload: &P) -> Self {
        self.payloads.push(payload.to_element().into());
        self
    }

    /// The body in the message's default language (one without its own
    /// `xml:lang`), or else the first body.
    pub fn body(&self) -> Option<&str> {
        default_text(&self.bodies)
    }

    /// The subject, chosen like [`body`](Self::body).
    pub fn subject(&self) -> Option<&str> {
        default_text(&self.subjects)
    }

    /// The first payload of type `P`, parsed; `None` if there is none.
    pub fn payload<P: Payload>(&self) -> Option<Result<P, PayloadError>> {
        find_payload(&self.payloads)
    }

    /// The error reply to this message, or `None` if it is an error itself.
    /// The reply has the same id, swapped addresses and no payloads.
    pub fn error_reply(&self, error: StanzaError) -> Option<Self> {
        if self.kind == MessageType::Error {
            return None;
        }
        let mut reply = Self::new(MessageType::Error);
        reply.to.clone_from(&self.from);
        reply.from.clone_from(&self.to);
        reply.id.clone_from(&self.id);
        reply.error = Some(error);
        Some(reply)
    }

    /// Serializes into the given content namespace.
    pub fn to_element_in(&self, namespace: StreamNamespace) -> Element {
        self.parts_in(namespace).into_element()
    }

    /// The parts [`StreamWriter::write_stanza`](crate::xml::StreamWriter::write_stanza)
    /// writes: the payloads come last.
    pub(crate) fn parts_in(&self, namespace: StreamNamespace) -> WriteParts<'_> {
        WriteParts {
            head: self.head_in(namespace),
            before: &[],
            after: &self.payloads,
        }
    }

    /// The message element with its typed children, without the payloads.
    fn head_in(&self, namespace: StreamNamespace) -> Element {
        let ns = namespace.as_str();
        let kind = (self.kind != MessageType::Normal).then_some(self.kind.as_str());
        let mut e = start_element(
            "message",
            namespace,
            Attrs {
                to: self.to.as_ref(),
                from: self.from.as_ref(),
                id: self.id.as_deref(),
                kind,
                lang: self.lang.as_deref(),
            },
            &self.other_attrs,
        );
        append_texts(&mut e, "subject", ns, &self.subjects);
        append_texts(&mut e, "body", ns, &self.bodies);
        if let Some(thread) = &self.thread {
            let mut t = ext::text_element("thread", ns, thread.id.clone());
            ext::set_opt_attr(&mut t, "parent", thread.parent.clone());
            e.append_child(t);
        }
        if let Some(error) = &self.error {
            e.append_child(error.to_element_in(ns));
        }
        e
    }
}

impl TryFrom<Element> for Message {
    type Error = StanzaParseError;

    fn try_from(element: Element) -> Result<Self, StanzaParseError> {
        Self::try_from(split(element)?)
    }
}

impl TryFrom<StanzaParts> for Message {
    type Error = StanzaParseError;

    fn try_from(parts: StanzaParts) -> Result<Self, StanzaParseError> {
        let parts = expect(parts, StanzaName::Message)?;
        let (common, kind, error) = match read(&parts) {
            Ok(read) => read,
            Err(e) => return Err(StanzaParseError::new(e, parts.into_element())),
        };
        let ns = common.namespace.as_str();
        let mut message = Self {
            to: common.to,
            from: common.from,
            id: parts.id,
            kind,
            lang: parts.lang,
            error,
            other_attrs: parts.other_attrs,
            ..Self::new(kind)
        };
        // The payloads stay where they are; the typed children leave.
        let mut children = parts.children;
        children.retain_mut(|child| {
            if !child.has_ns(ns) {
                return true;
            }
            match child.name() {
                "body" => message.bodies.push(lazy_text(child)),
                "subject" => message.subjects.push(lazy_text(child)),
                "thread" if message.thread.is_none() => {
                    // A text-only thread (as the framer reads it) has no parent.
                    let parent = match child.simple_text() {
                        Some(_) => None,
                        None => ext::attr(child, "parent").map(str::to_owned),
                    };
                    let id = lazy_text(child).text;
                    message.thread = Some(Thread { id, parent });
                }
                "error" if kind == MessageType::Error => {}
                _ => return true,
            }
            false
        });
        message.payloads = children;
        Ok(message)
    }
}

/// Validates a message by reference; returns the parts that can fail.
fn read(parts: &StanzaParts) -> Result<(Common, MessageType, Option<StanzaError>), PayloadError> {
    let common = Common::read(parts)?;
    // RFC 6121 section 5.2.2: a missing or unknown type means normal.
    let kind = parts
        .kind
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let error = if kind == MessageType::Error {
        find_error(&parts.children)
            .map(StanzaError::parse)
            .transpose()?
    } else {
        None
    };
    Ok((common, kind, error))
}

impl From<Message> for Element {
    fn from(message: Message) -> Self {
        message.to_element_in(StreamNamespace::Client)
    }
}
