//! The accepting side: a [`ServerConnection`] or an accepting
//! [`ComponentConnection`] over any transport, as a [`Session`].

use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};

use super::driver::Sleeper;
use super::engine::{Engine, TlsRole, TransportError};
use super::session::Session;
use super::tls::ServerTls;
use crate::component::{self, ComponentConnection};
use crate::server::{ListenConfig, ServerConnection};

/// How a client-facing listener runs its transports.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerTransport {
    /// The certificate for STARTTLS or direct TLS. Without it, STARTTLS
    /// is not possible (set `TlsPolicy::Disabled` in the accept config).
    pub tls: Option<ServerTls>,
    /// TLS from the first byte (XEP-0368 direct TLS, or wss).
    pub direct_tls: bool,
    /// RFC 7395 WebSocket framing (ws, or wss with `direct_tls`).
    #[cfg(feature = "websocket")]
    pub websocket: bool,
}

impl ServerTransport {
    /// STARTTLS with this certificate.
    pub fn starttls(tls: ServerTls) -> Self {
        Self {
            tls: Some(tls),
            ..Self::default()
        }
    }

    /// Direct TLS (XEP-0368) with this certificate.
    pub fn direct_tls(tls: ServerTls) -> Self {
        Self {
            tls: Some(tls),
            direct_tls: true,
            ..Self::default()
        }
    }
}

/// Starts serving one client connection. Returns the session and the
/// future that drives it: spawn that on any executor. Answer the
/// session's `Header`, `Bind` and `Resume` events through
/// [`Session::call`].
///
/// # Errors
/// [`TransportError::NoTlsConfig`] for direct TLS without a certificate,
/// [`TransportError::Tls`] if rustls refuses to start.
pub fn serve_client<IO>(
    io: IO,
    listen: ListenConfig,
    transport: &ServerTransport,
    sleeper: impl Sleeper,
) -> Result<
    (
        Session<ServerConnection>,
        impl Future<Output = ()> + Send + 'static,
    ),
    TransportError,
>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let engine = client_engine(listen, transport)?;
    Ok(Session::new(engine, io, sleeper))
}

/// The engine for one client connection on `transport`.
pub(crate) fn client_engine(
    listen: ListenConfig,
    transport: &ServerTransport,
) -> Result<Engine<ServerConnection>, TransportError> {
    let now = Instant::now();
    let deadline = listen.negotiation_timeout;
    let engine = if transport.direct_tls {
        let tls = transport.tls.clone().ok_or(TransportError::NoTlsConfig)?;
        let started = now;
        // The negotiation deadline counts from the first byte: the TLS
        // handshake spends part of it.
        Engine::direct_tls(now, TlsRole::Server(tls), move |now, info| {
            let mut listen = listen;
            listen.direct_tls = info;
            listen.negotiation_timeout =
                deadline.saturating_sub(now.saturating_duration_since(started));
            ServerConnection::new(listen, now)
        })?
        .with_handshake_timeout(deadline)
    } else {
        Engine::plain(
            ServerConnection::new(listen, now),
            transport.tls.clone().map(TlsRole::Server),
        )
    };
    #[cfg(feature = "websocket")]
    let engine = if transport.websocket {
        let ws = super::ws::WebSocket::server(super::ws::WsConfig::new(), super::client::os_seed());
        engine.with_websocket(ws)
    } else {
        engine
    };
    Ok(engine)
}

/// Starts serving one XEP-0114 component connection (plain TCP, as the
/// XEP has it; run it on loopback or a private network). Answer its
/// `Connecting` event with `accept_component` through [`Session::call`].
pub fn serve_component<IO>(
    io: IO,
    config: component::AcceptConfig,
    sleeper: impl Sleeper,
) -> (
    Session<ComponentConnection>,
    impl Future<Output = ()> + Send + 'static,
)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let engine = Engine::plain(ComponentConnection::accept(config, Instant::now()), None);
    Session::new(engine, io, sleeper)
}
