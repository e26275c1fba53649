//! Runtime adapters: sockets, TLS, name resolution and timers around the
//! sans-IO core.
//!
//! Nothing here holds protocol logic. An adapter moves bytes between a
//! transport and an [`Engine`], which stacks TLS (rustls,
//! itself sans-IO), optionally WebSocket framing, and one of the connection
//! machines; the adapter arms one timer for the engine's next deadline.
//! Because TLS and WebSocket framing live in the engine, the tokio, the
//! futures-io and the blocking adapters share them byte for byte.

pub mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "futures-io")]
pub mod client;
#[cfg(feature = "futures-io")]
pub mod component;
pub mod dns;
#[cfg(feature = "futures-io")]
pub mod driver;
pub mod engine;
mod error;
#[cfg(feature = "futures-io")]
pub mod server;
#[cfg(feature = "futures-io")]
pub mod session;
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "websocket")]
pub mod ws;

pub use engine::{Engine, Machine, TlsRole, TransportError};
pub use error::ClientError;
pub use tls::{ClientTls, Roots, ServerTls, TlsSetupError};
