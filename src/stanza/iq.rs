//! `<iq/>` (RFC 6120 section 8.2.3).

use minidom::Element;
use rxml::AttrMap;

use super::{
    Attrs, Common, StanzaError, StanzaParseError, WriteParts, expect, split, start_element,
};
use crate::ext::{Payload, PayloadError};
use crate::jid::Jid;
use crate::xml::{LazyElement, StanzaName, StanzaParts, StreamNamespace};

/// The type of an iq together with what it carries: a get or set carries
/// exactly one payload, a result at most one, an error an error and maybe
/// the request's payload. Payloads read from a stream are kept as the bytes
/// they arrived as until looked into (see [`LazyElement`]).
#[derive(Debug, Clone, PartialEq)]
pub enum IqKind {
    /// A request for information.
    Get(LazyElement),
    /// A request to change something.
    Set(LazyElement),
    /// A successful answer, with or without a payload.
    Result(Option<LazyElement>),
    /// A failed answer.
    Error {
        /// The error (boxed: it is much larger than the other variants).
        error: Box<StanzaError>,
        /// The payload of the request, if echoed.
        request: Option<LazyElement>,
    },
}

impl IqKind {
    /// The `type` attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Get(_) => "get",
            Self::Set(_) => "set",
            Self::Result(_) => "result",
            Self::Error { .. } => "error",
        }
    }

    /// Whether this is a request (get or set), which must be answered.
    pub fn is_request(&self) -> bool {
        matches!(self, Self::Get(_) | Self::Set(_))
    }
}

/// An `<iq/>` stanza: a request and its answer, matched by id.
///
/// ```
/// use xmpp_kit::ext::{Payload, ping::Ping};
/// use xmpp_kit::stanza::{DefinedCondition, Iq, IqKind, StanzaError};
///
/// let request = Iq::get("example.com".parse().ok(), Ping.to_element()).with_id("p1");
/// let ok = Iq::result_for(&request, None);
/// assert_eq!(ok.id, "p1");
/// let failed = request.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable));
/// assert!(matches!(failed, Some(Iq { kind: IqKind::Error { .. }, .. })));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Iq {
    /// The recipient.
    pub to: Option<Jid>,
    /// The sender.
    pub from: Option<Jid>,
    /// The id that pairs a request with its answer. Required on the wire;
    /// builders leave it empty, to be set with [`with_id`](Self::with_id)
    /// or [`Stanza::assign_id`](super::Stanza::assign_id).
    pub id: String,
    /// The type and payload.
    pub kind: IqKind,
    /// The `xml:lang`.
    pub lang: Option<String>,
    /// Attributes the type does not model, kept for re-serialization.
    pub other_attrs: AttrMap,
}

impl Iq {
    fn new(to: Option<Jid>, kind: IqKind) -> Self {
        Self {
            to,
            from: None,
            id: String::new(),
            kind,
            lang: None,
            other_attrs: AttrMap::new(),
        }
    }

    /// A get request for `payload`, to `to` (`None`: the sender's own account).
    pub fn get(to: Option<Jid>, payload: impl Into<LazyElement>) -> Self {
        Self::new(to, IqKind::Get(payload.into()))
    }

    /// A set request with `payload`.
    pub fn set(to: Option<Jid>, payload: impl Into<LazyElement>) -> Self {
        Self::new(to, IqKind::Set(payload.into()))
    }

    /// The successful answer to `request`: same id, addresses swapped.
    pub fn result_for(request: &Self, payload: Option<Element>) -> Self {
        let payload = payload.map(LazyElement::from);
        let mut reply = Self::new(request.from.clone(), IqKind::Result(payload));
        reply.from.clone_from(&request.to);
        reply.id.clone_from(&request.id);
        reply
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the sender.
    #[must_use]
    pub fn with_from(mut self, from: Jid) -> Self {
        self.from = Some(from);
        self
    }

    /// The payload of a get, set or result (or the request echoed in an
    /// error).
    pub fn payload(&self) -> Option<&LazyElement> {
        match &self.kind {
            IqKind::Get(p) | IqKind::Set(p) => Some(p),
            IqKind::Result(p) => p.as_ref(),
            IqKind::Error { request, .. } => request.as_ref(),
        }
    }

    /// The payload parsed as `P`; `None` if there is none or it is another element.
    pub fn payload_as<P: Payload>(&self) -> Option<Result<P, PayloadError>> {
        self.payload()
            .map(LazyElement::as_element)
            .filter(|e| P::matches(e))
            .map(P::parse)
    }

    /// The error answer to this iq, echoing the request payload, or `None`
    /// when this iq is itself an answer (results and errors are not answered).
    pub fn error_reply(&self, error: StanzaError) -> Option<Self> {
        let request = match &self.kind {
            // A payload that is itself an `<error/>` of a stanza namespace
            // is not echoed: the reply would then hold two errors.
            IqKind::Get(p) | IqKind::Set(p) => (!StanzaError::matches(p)).then(|| p.clone()),
            IqKind::Result(_) | IqKind::Error { .. } => return None,
        };
        let mut reply = Self::new(
            self.from.clone(),
            IqKind::Error {
                error: Box::new(error),
                request,
            },
        );
        reply.from.clone_from(&self.to);
        reply.id.clone_from(&self.id);
        Some(reply)
    }

    /// Serializes into the given content namespace.
    pub fn to_element_in(&self, namespace: StreamNamespace) -> Element {
        self.parts_in(namespace).into_element()
    }

    /// The parts [`StreamWriter::write_stanza`](crate::xml::StreamWriter::write_stanza)
    /// writes: the payload, or the echoed request, comes first, before the
    /// error.
    pub(crate) fn parts_in(&self, namespace: StreamNamespace) -> WriteParts<'_> {
        let mut head = self.start_in(namespace);
        let before = match &self.kind {
            IqKind::Get(p) | IqKind::Set(p) | IqKind::Result(Some(p)) => std::slice::from_ref(p),
            IqKind::Result(None) => &[],
            IqKind::Error { error, request } => {
                head.append_child(error.to_element_in(namespace.as_str()));
                request.as_slice()
            }
        };
        WriteParts {
            head,
            before,
            after: &[],
        }
    }

    /// The iq element with its attributes and no children.
    fn start_in(&self, namespace: StreamNamespace) -> Element {
        start_element(
            "iq",
            namespace,
            Attrs {
                to: self.to.as_ref(),
                from: self.from.as_ref(),
                id: Some(&self.id),
                kind: Some(self.kind.as_str()),
                lang: self.lang.as_deref(),
            },
            &self.other_attrs,
        )
    }
}

enum Shape {
    Get,
    Set,
    Result,
    Error(Box<StanzaError>),
}

impl TryFrom<Element> for Iq {
    type Error = StanzaParseError;

    fn try_from(element: Element) -> Result<Self, StanzaParseError> {
        Self::try_from(split(element)?)
    }
}

impl TryFrom<StanzaParts> for Iq {
    type Error = StanzaParseError;

    fn try_from(parts: StanzaParts) -> Result<Self, StanzaParseError> {
        let parts = expect(parts, StanzaName::Iq)?;
        let (common, shape) = match read(&parts) {
            Ok(read) => read,
            Err(e) => return Err(StanzaParseError::new(e, parts.into_element())),
        };
        let ns = common.namespace.as_str();
        let StanzaParts {
            id,
            lang,
            other_attrs,
            children,
            ..
        } = parts;
        let mut children = children.into_iter();
        let kind = match shape {
            // `read` checked the number of children.
            Shape::Get => children.next().map(IqKind::Get),
            Shape::Set => children.next().map(IqKind::Set),
            Shape::Result => Some(IqKind::Result(children.next())),
            Shape::Error(error) => Some(IqKind::Error {
                error,
                request: children.find(|c| !(c.name() == "error" && c.has_ns(ns))),
            }),
        };
        let Some(kind) = kind else {
            // Unreachable after `read`; answer as a bad request all the same.
            return Err(StanzaParseError::new(
                PayloadError::InvalidStructure {
                    element: "iq",
                    reason: "a get or set must carry exactly one payload",
                },
                Element::bare("iq", ns),
            ));
        };
        Ok(Self {
            to: common.to,
            from: common.from,
            // `read` checked that the id is there.
            id: id.unwrap_or_default(),
            kind,
            lang,
            other_attrs,
        })
    }
}

/// Validates an iq by reference: type, id and the number of payloads.
fn read(parts: &StanzaParts) -> Result<(Common, Shape), PayloadError> {
    let common = Common::read(parts)?;
    if parts.id.is_none() {
        return Err(PayloadError::MissingAttribute {
            element: "iq",
            attribute: "id",
        });
    }
    let payloads = parts.children.len();
    let shape = match parts.kind.as_deref() {
        Some("get") => Shape::Get,
        Some("set") => Shape::Set,
        Some("result") => Shape::Result,
        Some("error") => {
            let ns = common.namespace.as_str();
            let error = parts
                .children
                .iter()
                .find(|c| c.is("error", ns))
                .ok_or(PayloadError::MissingChild {
                    element: "iq",
                    child: "error",
                })
                .and_then(|c| StanzaError::parse(c))?;
            Shape::Error(Box::new(error))
        }
        Some(other) => {
            return Err(PayloadError::InvalidValue {
                element: "iq",
                what: "attribute 'type'",
                value: other.to_owned(),
            });
        }
        None => {
            return Err(PayloadError::MissingAttribute {
                element: "iq",
                attribute: "type",
            });
        }
    };
    match shape {
        Shape::Get | Shape::Set if payloads != 1 => Err(PayloadError::InvalidStructure {
            element: "iq",
            reason: "a get or set must carry exactly one payload",
        }),
        Shape::Result if payloads > 1 => Err(PayloadError::InvalidStructure {
            element: "iq",
            reason: "a result carries at most one payload",
        }),
        _ => Ok((common, shape)),
    }
}

impl From<Iq> for Element {
    fn from(iq: Iq) -> Self {
        iq.to_element_in(StreamNamespace::Client)
    }
}
