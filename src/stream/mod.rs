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
