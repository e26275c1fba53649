//! Pieces shared by every XML stream: stream errors and XEP-0198 stream
//! management bookkeeping.
//!
//! The negotiation machines (client, server, component) and XEP-0198 stream
//! management build on this module.

mod error;
pub(crate) mod outbox;
pub(crate) mod sm;

pub use error::{StreamError, StreamErrorCondition, UnknownCondition};
pub use sm::{SmError, StanzaToken};

/// The parser a connection reads its peer with: stanzas come split
/// ([`Frame::Stanza`](crate::xml::Frame::Stanza)), their payloads kept as
/// bytes until looked into.
pub(crate) fn split_parser(limits: crate::xml::Limits) -> crate::xml::StreamParser {
    let mut parser = crate::xml::StreamParser::new(limits);
    parser.set_split_stanzas(true);
    parser
}
