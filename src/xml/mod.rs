//! XML stream framing: bytes to frames and back, with limits.
//!
//! [`StreamParser`] turns the bytes of an XMPP stream, in chunks of any size,
//! into [`Frame`]s: the stream header, complete top-level elements
//! (as [`minidom::Element`]), keepalives and the stream's end; or, once
//! [`StreamParser::set_split_stanzas`] is on, stanzas split into
//! [`StanzaParts`] with their extension payloads kept as the bytes they
//! arrived as ([`LazyElement`]).
//! [`StreamWriter`] does the reverse. [`Limits`] bounds what a peer can make
//! the parser hold. Both sides handle RFC 6120 streams over TCP and RFC 7395
//! WebSocket framing.

mod error;
mod lazy;
mod limits;
mod parser;
mod split;
mod writer;

pub use error::{LimitKind, ParseError, WriteError};
pub use lazy::LazyElement;
pub use limits::{InvalidLimits, Limits};
pub use parser::{Frame, Framing, StreamHeader, StreamNamespace, StreamParser};
pub use split::{StanzaName, StanzaParts};
pub use writer::StreamWriter;
