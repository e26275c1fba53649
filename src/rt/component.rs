//! The easy component: [`Component::connect_with`] (and
//! `Component::connect` with tokio), `send`, events as a [`Stream`],
//! `close`. XEP-0114 runs over plain TCP to a server on the same host or a
//! private network.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};
use futures::{Stream, StreamExt as _};

use super::client::os_seed;
use super::driver::{BoxFuture, Sleeper};
use super::engine::{Engine, TransportError};
use super::session::{Session, SessionEvent};
use crate::component::{
    CloseReason, ComponentConfig, ComponentConnection, ComponentError, Event, SendError,
};
use crate::stanza::Stanza;

/// What went wrong with a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentClientError {
    /// The server could not be reached.
    #[error("could not connect to {target}: {error}")]
    Connect {
        /// Where.
        target: String,
        /// Why.
        error: std::io::Error,
    },
    /// The stream failed (wrong secret, stream error, ...).
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The stanza was refused.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The connection is gone.
    #[error("disconnected")]
    Disconnected,
}

/// What a [`Component`] reports.
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // moved once; boxing costs an allocation per stanza
pub enum ComponentEvent {
    /// A stanza addressed to the component's domain.
    Stanza(Stanza),
    /// The stream ended: `None` when it closed cleanly.
    Ended(Option<ComponentClientError>),
}

/// A connected XEP-0114 component.
#[derive(Debug)]
pub struct Component {
    session: Session<ComponentConnection>,
    domain: String,
    ended: bool,
}

impl Component {
    /// Connects as `domain` with `secret` over a transport the caller
    /// opened (any futures-io stream), with the caller's timer, starting
    /// its task with `spawn`. Returns once the handshake succeeded.
    ///
    /// # Errors
    /// [`ComponentClientError`] if the handshake fails (a wrong secret is
    /// `ComponentError::NotAuthorized` or similar from the server).
    pub async fn connect_with<IO>(
        io: IO,
        domain: &str,
        secret: &str,
        sleeper: impl Sleeper,
        spawn: impl FnOnce(BoxFuture<()>),
    ) -> Result<Self, ComponentClientError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = ComponentConfig::new(domain, secret, os_seed());
        Self::connect_config(io, config, sleeper, spawn).await
    }

    /// Like [`connect_with`](Self::connect_with), with a full
    /// configuration (limits, timeouts).
    ///
    /// # Errors
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect_config<IO>(
        io: IO,
        config: ComponentConfig,
        sleeper: impl Sleeper,
        spawn: impl FnOnce(BoxFuture<()>),
    ) -> Result<Self, ComponentClientError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let engine = Engine::plain(ComponentConnection::connect(config, Instant::now()), None);
        let (mut session, task) = Session::new(engine, io, sleeper);
        spawn(Box::pin(task));
        loop {
            match session.next_event().await {
                Some(SessionEvent::Event(Event::Online { domain })) => {
                    return Ok(Self {
                        session,
                        domain,
                        ended: false,
                    });
                }
                Some(SessionEvent::Event(_)) => {}
                Some(SessionEvent::Closed(reason)) => {
                    return Err(ending(reason).unwrap_or(ComponentClientError::Disconnected));
                }
                Some(SessionEvent::Failed(error)) => return Err(error.into()),
                None => return Err(ComponentClientError::Disconnected),
            }
        }
    }

    /// The component's domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Sends a stanza (its `from` must be in the component's domain).
    ///
    /// # Errors
    /// [`ComponentClientError::Send`] if it is refused,
    /// [`ComponentClientError::Disconnected`] if the stream is gone.
    pub async fn send(&self, stanza: impl Into<Stanza>) -> Result<(), ComponentClientError> {
        let stanza = stanza.into();
        self.session
            .call(move |machine, now| machine.send(now, stanza))
            .await
            .map_err(|_| ComponentClientError::Disconnected)??;
        Ok(())
    }

    /// Closes the stream cleanly and waits until it ended.
    pub async fn close(mut self) {
        if self
            .session
            .call(|machine, now| machine.close(now))
            .await
            .is_ok()
        {
            while self.session.next_event().await.is_some() {}
        }
    }
}

fn ending(reason: CloseReason) -> Option<ComponentClientError> {
    match reason {
        CloseReason::Closed => None,
        CloseReason::PeerClosed => Some(ComponentClientError::Disconnected),
        CloseReason::Error(error) => Some(error.into()),
    }
}

impl Stream for Component {
    type Item = ComponentEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ComponentEvent>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            return match self.session.poll_next_unpin(cx) {
                Poll::Ready(Some(SessionEvent::Event(Event::Stanza(stanza)))) => {
                    Poll::Ready(Some(ComponentEvent::Stanza(stanza)))
                }
                Poll::Ready(Some(SessionEvent::Event(_))) => continue,
                Poll::Ready(Some(SessionEvent::Closed(reason))) => {
                    self.ended = true;
                    Poll::Ready(Some(ComponentEvent::Ended(ending(reason))))
                }
                Poll::Ready(Some(SessionEvent::Failed(error))) => {
                    self.ended = true;
                    Poll::Ready(Some(ComponentEvent::Ended(Some(error.into()))))
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    Poll::Ready(Some(ComponentEvent::Ended(Some(
                        ComponentClientError::Disconnected,
                    ))))
                }
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
