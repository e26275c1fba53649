//! Pieces shared by every XML stream: stream-level error conditions.
//!
//! The negotiation machines (client, server, component) and XEP-0198 stream
//! management build on this module.

mod error;

pub use error::{StreamErrorCondition, UnknownCondition};
