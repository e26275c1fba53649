//! Errors of the stream parser and writer.

use crate::stream::StreamErrorCondition;

/// Which [`Limits`](super::Limits) value a peer exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_stanza_bytes`](super::Limits::max_stanza_bytes) or its
    /// pre-authentication counterpart.
    StanzaBytes,
    /// [`Limits::max_depth`](super::Limits::max_depth).
    Depth,
    /// [`Limits::max_attributes`](super::Limits::max_attributes).
    Attributes,
    /// [`Limits::max_token_length`](super::Limits::max_token_length).
    TokenLength,
    /// [`Limits::max_elements`](super::Limits::max_elements).
    Elements,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::StanzaBytes => "stanza size in bytes",
            Self::Depth => "element nesting depth",
            Self::Attributes => "attributes per element",
            Self::TokenLength => "name or attribute value length in bytes",
            Self::Elements => "elements per stanza",
        })
    }
}

/// A fatal error in the peer's XML stream.
///
/// Errors are sticky: once [`StreamParser::next_frame`](super::StreamParser::next_frame)
/// has returned one, every later call returns the same error. The stream
/// must then be closed with the stream error given by
/// [`condition`](Self::condition).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The bytes are not well-formed XML 1.0.
    #[error("not well-formed XML: {0}")]
    NotWellFormed(rxml::Error),
    /// The peer used an XML feature XMPP forbids (RFC 6120 section 11.1): a
    /// DTD or other markup declaration, a processing instruction, a comment
    /// or an entity reference other than the predefined ones.
    #[error("restricted XML: {0} are not allowed in XMPP")]
    RestrictedXml(&'static str),
    /// The stream is not valid UTF-8, or declares another encoding.
    #[error("unsupported encoding: {0}")]
    UnsupportedEncoding(String),
    /// An element or attribute uses a namespace prefix that is not declared.
    #[error("undeclared namespace prefix {0:?}")]
    UndeclaredPrefix(String),
    /// An element carries the same attribute twice (after namespace resolution).
    #[error("duplicate attribute {0:?}")]
    DuplicateAttribute(String),
    /// The stream or content namespace is not one XMPP allows here.
    #[error("invalid namespace: {0}")]
    InvalidNamespace(String),
    /// The XML is well-formed but not a valid XMPP stream, such as text at
    /// stream level or a first element that is not a stream header.
    #[error("bad format: {0}")]
    BadFormat(&'static str),
    /// The peer exceeded one of the [`Limits`](super::Limits).
    #[error("limit exceeded: {kind} above {limit}")]
    LimitExceeded {
        /// Which limit.
        kind: LimitKind,
        /// The limit's value.
        limit: usize,
    },
    /// Non-whitespace data arrived after the stream was closed.
    #[error("data after the end of the stream")]
    DataAfterClose,
}

impl ParseError {
    /// The RFC 6120 stream error condition to send to the peer.
    pub fn condition(&self) -> StreamErrorCondition {
        match self {
            Self::NotWellFormed(_) | Self::DuplicateAttribute(_) | Self::DataAfterClose => {
                StreamErrorCondition::NotWellFormed
            }
            Self::RestrictedXml(_) => StreamErrorCondition::RestrictedXml,
            Self::UnsupportedEncoding(_) => StreamErrorCondition::UnsupportedEncoding,
            Self::UndeclaredPrefix(_) => StreamErrorCondition::BadNamespacePrefix,
            Self::InvalidNamespace(_) => StreamErrorCondition::InvalidNamespace,
            Self::BadFormat(_) => StreamErrorCondition::BadFormat,
            Self::LimitExceeded { .. } => StreamErrorCondition::PolicyViolation,
        }
    }

    /// Classifies an error of the rxml tokenizer.
    pub(crate) fn from_rxml(e: rxml::Error, max_token_length: usize) -> Self {
        use rxml::Error as E;
        match e {
            E::RestrictedXml("comments") => Self::RestrictedXml("comments"),
            E::RestrictedXml("processing instructions") => {
                Self::RestrictedXml("processing instructions")
            }
            E::RestrictedXml("only utf-8 encoding is allowed") => {
                Self::UnsupportedEncoding("only UTF-8 is allowed".to_owned())
            }
            E::RestrictedXml("long name or reference" | "event too long") => Self::LimitExceeded {
                kind: LimitKind::TokenLength,
                limit: max_token_length,
            },
            // rxml reports `<!` followed by anything but `--` or `[CDATA[`
            // this way: that is a DTD or another markup declaration.
            E::InvalidSyntax(msg) if msg.contains("cdata or comment section start") => {
                Self::RestrictedXml("DTDs and markup declarations")
            }
            E::UndeclaredEntity => Self::RestrictedXml("entity references"),
            E::InvalidUtf8Byte(b) => {
                Self::UnsupportedEncoding(format!("invalid UTF-8 byte 0x{b:02x}"))
            }
            E::UndeclaredNamespacePrefix(_) => Self::UndeclaredPrefix(String::new()),
            E::DuplicateAttribute => Self::DuplicateAttribute(String::new()),
            other => Self::NotWellFormed(other),
        }
    }
}

/// An element that cannot be written as XML.
///
/// Elements built by the application can hold names or text that XML cannot
/// carry; the writer refuses them instead of emitting a broken stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// An element or attribute name is not a valid XML name without colon.
    #[error("invalid XML name {0:?}")]
    InvalidName(String),
    /// Text or an attribute value holds a character XML 1.0 cannot represent.
    #[error("character U+{0:04X} cannot be represented in XML 1.0")]
    InvalidChar(u32),
    /// A top-level element has no namespace where it must declare one: with
    /// RFC 7395 WebSocket framing every element is a document of its own.
    #[error("top-level element {0:?} has no namespace, which RFC 7395 framing requires")]
    MissingNamespace(String),
    /// An attribute is in a namespace the writer cannot declare: the
    /// reserved `xmlns` namespace.
    #[error("attribute {0:?} is in the reserved xmlns namespace")]
    ReservedNamespace(String),
}
