//! The tokio adapter: TCP with DNS SRV (RFC 6120 section 3.2, XEP-0368),
//! tokio timers and tasks, on top of the runtime-agnostic driver.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

use super::client::{Client, ClientBuilder, ClientError, Connect, Connected};
use super::component::{Component, ComponentClientError};
use super::driver::{BoxFuture, Sleeper};
use super::server::{ServerTransport, serve_client, serve_component};
use super::session::Session;
use crate::component::{self, ComponentConnection};
use crate::server::{ListenConfig, ServerConnection};

/// How long one TCP connect may take before the next address is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// tokio's timer as a [`Sleeper`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep_until(&self, deadline: std::time::Instant) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

fn spawn(task: BoxFuture<()>) {
    drop(tokio::spawn(task));
}

/// Opens TCP connections for a client: the configured address, the
/// WebSocket URL's host, or the domain's SRV targets in order.
struct TokioConnector {
    domain: String,
    address: Option<(String, u16)>,
}

impl Connect for TokioConnector {
    type Io = Compat<TcpStream>;
    fn connect(&mut self) -> BoxFuture<Result<Connected<Self::Io>, ClientError>> {
        let domain = self.domain.clone();
        let address = self.address.clone();
        Box::pin(async move {
            let targets = match address {
                Some((host, port)) => vec![super::dns::Target {
                    host,
                    port,
                    direct_tls: false,
                }],
                None => super::dns::resolve(&domain, super::client::os_seed()).await?,
            };
            let mut last = None;
            for target in targets {
                let place = format!("{}:{}", target.host, target.port);
                let connecting = TcpStream::connect((target.host.as_str(), target.port));
                match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                    Ok(Ok(stream)) => {
                        let _ignored = stream.set_nodelay(true);
                        return Ok(Connected {
                            io: stream.compat(),
                            direct_tls: target.direct_tls,
                        });
                    }
                    Ok(Err(error)) => last = Some((place, error)),
                    Err(_) => last = Some((place, std::io::ErrorKind::TimedOut.into())),
                }
            }
            let (target, error) =
                last.unwrap_or_else(|| (domain, std::io::Error::other("no address to connect to")));
            Err(ClientError::Connect { target, error })
        })
    }
}

impl ClientBuilder {
    /// Connects on the current tokio runtime. Returns once the stream is
    /// online.
    ///
    /// # Errors
    /// [`ClientError`] if the options are invalid or the first connection
    /// fails (wrong password, refused certificate, unreachable server).
    pub async fn connect(self) -> Result<Client, ClientError> {
        let (domain, address) = self.tcp_endpoint()?;
        let connector = TokioConnector { domain, address };
        self.connect_with(connector, TokioSleeper, spawn).await
    }
}

impl Component {
    /// Connects to the server's component port `address` (`host:port`)
    /// as `domain` with `secret`, on the current tokio runtime.
    ///
    /// # Errors
    /// [`ComponentClientError`] if the server is unreachable or the
    /// handshake fails.
    pub async fn connect(
        address: &str,
        domain: &str,
        secret: &str,
    ) -> Result<Self, ComponentClientError> {
        let stream =
            TcpStream::connect(address)
                .await
                .map_err(|error| ComponentClientError::Connect {
                    target: address.to_owned(),
                    error,
                })?;
        let _ignored = stream.set_nodelay(true);
        Self::connect_with(stream.compat(), domain, secret, TokioSleeper, spawn).await
    }
}

/// Accepts client connections on a TCP listener, each as a [`Session`]
/// on its own tokio task.
#[derive(Debug)]
pub struct ServerListener {
    listener: TcpListener,
    listen: ListenConfig,
    transport: ServerTransport,
}

impl ServerListener {
    /// Serves clients on `listener` with these settings. Every connection
    /// gets `listen` with a fresh random seed.
    pub fn new(listener: TcpListener, listen: ListenConfig, transport: ServerTransport) -> Self {
        Self {
            listener,
            listen,
            transport,
        }
    }

    /// The listening address.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The next client connection, running.
    ///
    /// # Errors
    /// The listener's error, or a TLS setup failure for this connection.
    pub async fn accept(
        &self,
    ) -> std::io::Result<(Session<ServerConnection>, std::net::SocketAddr)> {
        let (stream, peer) = self.listener.accept().await?;
        let _ignored = stream.set_nodelay(true);
        let mut listen = self.listen.clone();
        listen.seed = super::client::os_seed();
        let (session, task) = serve_client(stream.compat(), listen, &self.transport, TokioSleeper)
            .map_err(std::io::Error::other)?;
        drop(tokio::spawn(task));
        Ok((session, peer))
    }
}

/// Accepts XEP-0114 component connections on a TCP listener.
#[derive(Debug)]
pub struct ComponentListener {
    listener: TcpListener,
    config: component::AcceptConfig,
}

impl ComponentListener {
    /// Serves components on `listener`.
    pub fn new(listener: TcpListener, config: component::AcceptConfig) -> Self {
        Self { listener, config }
    }

    /// The listening address.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The next component connection, running.
    ///
    /// # Errors
    /// The listener's error.
    pub async fn accept(
        &self,
    ) -> std::io::Result<(Session<ComponentConnection>, std::net::SocketAddr)> {
        let (stream, peer) = self.listener.accept().await?;
        let _ignored = stream.set_nodelay(true);
        let mut config = self.config.clone();
        config.seed = super::client::os_seed();
        let (session, task) = serve_component(stream.compat(), config, TokioSleeper);
        drop(tokio::spawn(task));
        Ok((session, peer))
    }
}
