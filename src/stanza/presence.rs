//! `<presence/>` (RFC 6120 section 8, RFC 6121 sections 3 and 4).

use std::str::FromStr;

use minidom::Element;
use rxml::AttrMap;

use super::{
    Attrs, Common, StanzaError, StanzaParseError, Text, WriteParts, append_texts, default_text,
    expect, find_error, find_payload, lazy_text, lazy_text_ref, split, start_element,
};
use crate::ext::{self, Payload, PayloadError};
use crate::jid::Jid;
use crate::xml::{LazyElement, StanzaName, StanzaParts, StreamNamespace};

/// The type of a presence (RFC 6121 sections 3 and 4.7.1). Availability has
/// no `type` attribute; the subscription types drive the roster handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PresenceType {
    /// Available (no `type` attribute).
    #[default]
    Available,
    /// No longer available.
    Unavailable,
    /// A request to subscribe to the recipient's presence.
    Subscribe,
    /// The sender allows the recipient to subscribe.
    Subscribed,
    /// The sender unsubscribes from the recipient's presence.
    Unsubscribe,
    /// The sender denies or cancels the recipient's subscription.
    Unsubscribed,
    /// A request for the recipient's current presence (server use).
    Probe,
    /// An error answering a presence that was sent.
    Error,
}

impl PresenceType {
    /// The attribute value; `None` for [`Available`](Self::Available).
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Self::Available => return None,
            Self::Unavailable => "unavailable",
            Self::Subscribe => "subscribe",
            Self::Subscribed => "subscribed",
            Self::Unsubscribe => "unsubscribe",
            Self::Unsubscribed => "unsubscribed",
            Self::Probe => "probe",
            Self::Error => "error",
        })
    }

    /// Whether this is one of the four subscription types.
    pub fn is_subscription(self) -> bool {
        matches!(
            self,
            Self::Subscribe | Self::Subscribed | Self::Unsubscribe | Self::Unsubscribed
        )
    }
}

impl FromStr for PresenceType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "unavailable" => Self::Unavailable,
            "subscribe" => Self::Subscribe,
            "subscribed" => Self::Subscribed,
            "unsubscribe" => Self::Unsubscribe,
            "unsubscribed" => Self::Unsubscribed,
            "probe" => Self::Probe,
            "error" => Self::Error,
            _ => return Err(()),
        })
    }
}

/// The availability sub-state (`<show/>`, RFC 6121 section 4.7.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Show {
    /// Temporarily away.
    Away,
    /// Actively interested in chatting.
    Chat,
    /// Do not disturb.
    Dnd,
    /// Away for an extended period.
    Xa,
}

impl Show {
    /// The element text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Away => "away",
            Self::Chat => "chat",
            Self::Dnd => "dnd",
            Self::Xa => "xa",
        }
    }
}

impl FromStr for Show {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "away" => Self::Away,
            "chat" => Self::Chat,
            "dnd" => Self::Dnd,
            "xa" => Self::Xa,
            _ => return Err(()),
        })
    }
}

/// A `<presence/>` stanza.
///
/// ```
/// use xmpp_kit::stanza::{Presence, PresenceType, Show};
///
/// let p = Presence::available().with_show(Show::Away).with_status("at the ball");
/// assert_eq!(p.kind, PresenceType::Available);
/// let subscribe = Presence::subscribe("juliet@example.com".parse()?);
/// assert!(subscribe.kind.is_subscription());
/// # Ok::<(), xmpp_kit::JidError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    /// The recipient (none for a broadcast).
    pub to: Option<Jid>,
    /// The sender.
    pub from: Option<Jid>,
    /// The stanza id.
    pub id: Option<String>,
    /// The presence type.
    pub kind: PresenceType,
    /// The default language of the texts.
    pub lang: Option<String>,
    /// The availability sub-state.
    pub show: Option<Show>,
    /// The status texts, one per language.
    pub statuses: Vec<Text>,
    /// The priority, -128 to 127 (0 when absent).
    pub priority: i8,
    /// The error, for a presence of type `error`.
    pub error: Option<StanzaError>,
    /// Every other child element, in order: extension payloads.
    pub payloads: Vec<LazyElement>,
    /// Attributes the type does not model, kept for re-serialization.
    pub other_attrs: AttrMap,
}

impl Default for Presence {
    fn default() -> Self {
        Self::new(PresenceType::Available)
    }
}

impl Presence {
    /// An empty presence of the given type.
    pub fn new(kind: PresenceType) -> Self {
        Self {
            to: None,
            from: None,
            id: None,
            kind,
            lang: None,
            show: None,
            statuses: Vec::new(),
            priority: 0,
            error: None,
            payloads: Vec::new(),
            other_attrs: AttrMap::new(),
        }
    }

    /// Available presence, to broadcast (the initial presence).
    pub fn available() -> Self {
        Self::new(PresenceType::Available)
    }

    /// Unavailable presence, to broadcast.
    pub fn unavailable() -> Self {
        Self::new(PresenceType::Unavailable)
    }

    /// A subscription request to `to`.
    pub fn subscribe(to: Jid) -> Self {
        Self::new(PresenceType::Subscribe).with_to(to)
    }

    /// Approves `to`'s subscription request.
    pub fn subscribed(to: Jid) -> Self {
        Self::new(PresenceType::Subscribed).with_to(to)
    }

    /// Unsubscribes from `to`'s presence.
    pub fn unsubscribe(to: Jid) -> Self {
        Self::new(PresenceType::Unsubscribe).with_to(to)
    }

    /// Denies or cancels `to`'s subscription.
    pub fn unsubscribed(to: Jid) -> Self {
        Self::new(PresenceType::Unsubscribed).with_to(to)
    }

    /// A presence probe to `to` (sent by servers).
    pub fn probe(to: Jid) -> Self {
        Self::new(PresenceType::Probe).with_to(to)
    }

    /// Sets the recipient (directed presence).
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

    /// Sets the availability sub-state.
    #[must_use]
    pub fn with_show(mut self, show: Show) -> Self {
        self.show = Some(show);
        self
    }

    /// Adds a status text without its own language.
    #[must_use]
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.statuses.push(Text::new(status));
        self
    }

    /// Sets the priority.
    #[must_use]
    pub fn with_priority(mut self, priority: i8) -> Self {
        self.priority = priority;
        self
    }

    /// Adds a payload.
    #[must_use]
    pub fn with_payload<P: Payload>(mut self, payload: &P) -> Self {
        self.payloads.push(payload.to_element().into());
        self
    }

    /// The status in the default language, or else the first one.
    pub fn status(&self) -> Option<&str> {
        default_text(&self.statuses)
    }

    /// The first payload of type `P`, parsed; `None` if there is none.
    pub fn payload<P: Payload>(&self) -> Option<Result<P, PayloadError>> {
        find_payload(&self.payloads)
    }

    /// The error reply to this presence, or `None` if it is an error itself.
    pub fn error_reply(&self, error: StanzaError) -> Option<Self> {
        if self.kind == PresenceType::Error {
            return None;
        }
        let mut reply = Self::new(PresenceType::Error);
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

    /// The presence element with its typed children, without the payloads.
    fn head_in(&self, namespace: StreamNamespace) -> Element {
        let ns = namespace.as_str();
        let mut e = start_element(
            "presence",
            namespace,
            Attrs {
                to: self.to.as_ref(),
                from: self.from.as_ref(),
                id: self.id.as_deref(),
                kind: self.kind.as_str(),
                lang: self.lang.as_deref(),
            },
            &self.other_attrs,
        );
        if let Some(show) = self.show {
            e.append_child(ext::text_element("show", ns, show.as_str()));
        }
        append_texts(&mut e, "status", ns, &self.statuses);
        if self.priority != 0 {
            e.append_child(ext::text_element("priority", ns, self.priority.to_string()));
        }
        if let Some(error) = &self.error {
            e.append_child(error.to_element_in(ns));
        }
        e
    }
}

impl TryFrom<Element> for Presence {
    type Error = StanzaParseError;

    fn try_from(element: Element) -> Result<Self, StanzaParseError> {
        Self::try_from(split(element)?)
    }
}

impl TryFrom<StanzaParts> for Presence {
    type Error = StanzaParseError;

    fn try_from(parts: StanzaParts) -> Result<Self, StanzaParseError> {
        let parts = expect(parts, StanzaName::Presence)?;
        let read = match read(&parts) {
            Ok(read) => read,
            Err(e) => return Err(StanzaParseError::new(e, parts.into_element())),
        };
        let Parts {
            common,
            kind,
            show,
            priority,
            error,
        } = read;
        let ns = common.namespace.as_str();
        let mut presence = Self {
            to: common.to,
            from: common.from,
            id: parts.id,
            lang: parts.lang,
            show,
            priority,
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
                "status" => presence.statuses.push(lazy_text(child)),
                "show" | "priority" => {}
                "error" if kind == PresenceType::Error => {}
                _ => return true,
            }
            false
        });
        presence.payloads = children;
        Ok(presence)
    }
}

struct Parts {
    common: Common,
    kind: PresenceType,
    show: Option<Show>,
    priority: i8,
    error: Option<StanzaError>,
}

/// Validates a presence by reference; returns the parts that can fail.
fn read(parts: &StanzaParts) -> Result<Parts, PayloadError> {
    let common = Common::read(parts)?;
    let kind = match parts.kind.as_deref() {
        None => PresenceType::Available,
        Some(value) => value.parse().map_err(|()| PayloadError::InvalidValue {
            element: "presence",
            what: "attribute 'type'",
            value: value.to_owned(),
        })?,
    };
    let ns = common.namespace.as_str();
    let child = |name| parts.children.iter().find(|c| c.is(name, ns));
    let show = match child("show") {
        None => None,
        Some(child) => {
            let text = lazy_text_ref(child);
            let trimmed = text.trim();
            Some(trimmed.parse().map_err(|()| PayloadError::InvalidValue {
                element: "show",
                what: "text",
                value: text.to_string(),
            })?)
        }
    };
    let priority = match child("priority") {
        None => 0,
        Some(child) => {
            let text = lazy_text_ref(child);
            text.trim()
                .parse()
                .map_err(|_| PayloadError::InvalidValue {
                    element: "priority",
                    what: "text",
                    value: text.to_string(),
                })?
        }
    };
    let error = if kind == PresenceType::Error {
        find_error(&parts.children)
            .map(StanzaError::parse)
            .transpose()?
    } else {
        None
    };
    Ok(Parts {
        common,
        kind,
        show,
        priority,
        error,
    })
}

impl From<Presence> for Element {
    fn from(presence: Presence) -> Self {
        presence.to_element_in(StreamNamespace::Client)
    }
}
