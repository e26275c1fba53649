//! [`Session`]: any connection machine on its own task, driven through
//! closures. The server-side and component-listener adapters hand these
//! out; the embedded hub builds on them.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::channel::{mpsc, oneshot};
use futures::io::{AsyncRead, AsyncWrite};
use futures::{SinkExt as _, Stream, StreamExt as _};

use super::driver::{self, Host, Sleeper};
use super::engine::{Engine, Machine, Output, TransportError};

/// How many events wait for the application before the session stops
/// reading from its peer.
const EVENT_QUEUE: usize = 64;
/// How many commands wait for the session task.
const COMMAND_QUEUE: usize = 64;

type Command<M> = Box<dyn FnOnce(&mut M, Instant) + Send>;

/// What a [`Session`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionEvent<E, C> {
    /// An event of the machine.
    Event(E),
    /// The machine closed; the socket is closed after this.
    Closed(C),
    /// The transport failed (TLS, WebSocket, socket).
    Failed(TransportError),
}

/// The session task is gone (the connection ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session has ended")]
pub struct SessionEnded;

/// A connection machine running on its own task: read its events as a
/// [`Stream`], act on it with [`call`](Self::call).
pub struct Session<M: Machine> {
    handle: SessionHandle<M>,
    events: mpsc::Receiver<SessionEvent<M::Event, M::Closed>>,
}

impl<M: Machine> std::fmt::Debug for Session<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl<M> Session<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    M::Closed: Send + 'static,
{
    /// Wraps an engine over a transport. Returns the session and the
    /// future that drives it: spawn that on any executor.
    pub fn new<IO>(
        engine: Engine<M>,
        io: IO,
        sleeper: impl Sleeper,
    ) -> (Self, impl Future<Output = ()> + Send + 'static)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        Engine<M>: Send,
    {
        let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
        let (event_tx, event_rx) = mpsc::channel(EVENT_QUEUE);
        let task = async move {
            let mut engine = engine;
            let mut io = io;
            let mut host = SessionHost {
                commands: command_rx,
                events: event_tx,
                held: Vec::new(),
            };
            let exit = driver::run(&mut engine, &mut io, &sleeper, &mut host).await;
            for event in std::mem::take(&mut host.held) {
                let _gone = host.events.send(event).await;
            }
            if let driver::Exit::Io(e) = exit {
                let _gone = host
                    .events
                    .send(SessionEvent::Failed(TransportError::Io(e.to_string())))
                    .await;
            }
        };
        (
            Self {
                handle: SessionHandle {
                    commands: command_tx,
                },
                events: event_rx,
            },
            task,
        )
    }

    /// A cloneable handle that can [`call`](SessionHandle::call) from
    /// other tasks (a router delivering stanzas, say).
    pub fn handle(&self) -> SessionHandle<M> {
        self.handle.clone()
    }

    /// Runs `f` on the machine inside the session task (accept a stream,
    /// complete a bind, send a stanza, close, ...), and returns its result.
    ///
    /// # Errors
    /// [`SessionEnded`] if the session task has stopped.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut M, Instant) -> R + Send + 'static,
    ) -> Result<R, SessionEnded> {
        self.handle.call(f).await
    }

    /// The next event; `None` once the session has ended and every event
    /// was read.
    pub async fn next_event(&mut self) -> Option<SessionEvent<M::Event, M::Closed>> {
        self.events.next().await
    }
}

/// Acts on a [`Session`]'s machine from anywhere; cheap to clone.
pub struct SessionHandle<M: Machine> {
    commands: mpsc::Sender<Command<M>>,
}

impl<M: Machine> Clone for SessionHandle<M> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
        }
    }
}

impl<M: Machine> std::fmt::Debug for SessionHandle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").finish_non_exhaustive()
    }
}

impl<M: Machine + 'static> SessionHandle<M> {
    /// See [`Session::call`].
    ///
    /// # Errors
    /// [`SessionEnded`] if the session task has stopped.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut M, Instant) -> R + Send + 'static,
    ) -> Result<R, SessionEnded> {
        let (reply_tx, reply_rx) = oneshot::channel();
        let command: Command<M> = Box::new(move |machine, now| {
            let _gone = reply_tx.send(f(machine, now));
        });
        self.commands
            .clone()
            .send(command)
            .await
            .map_err(|_| SessionEnded)?;
        reply_rx.await.map_err(|_| SessionEnded)
    }
}

impl<M: Machine> Stream for Session<M> {
    type Item = SessionEvent<M::Event, M::Closed>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_next_unpin(cx)
    }
}

struct SessionHost<M: Machine> {
    commands: mpsc::Receiver<Command<M>>,
    events: mpsc::Sender<SessionEvent<M::Event, M::Closed>>,
    /// Events of a failed transport the queue could not take yet, sent
    /// once the run is over.
    held: Vec<SessionEvent<M::Event, M::Closed>>,
}

fn session_event<E, C>(output: Output<E, C>) -> SessionEvent<E, C> {
    match output {
        Output::Event(event) => SessionEvent::Event(event),
        Output::Closed(reason) => SessionEvent::Closed(reason),
        Output::Failed(error) => SessionEvent::Failed(error),
    }
}

impl<M: Machine> Host<M> for SessionHost<M> {
    fn deliver(
        &mut self,
        cx: &mut Context<'_>,
        _engine: &mut Engine<M>,
        output: Output<M::Event, M::Closed>,
    ) -> Result<(), Output<M::Event, M::Closed>> {
        match self.events.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                // Only fails if the receiver went away meanwhile.
                let _gone = self.events.start_send(session_event(output));
                Ok(())
            }
            // Nobody listens any more: the events are nobody's.
            Poll::Ready(Err(_)) => Ok(()),
            Poll::Pending => Err(output),
        }
    }

    fn deliver_final(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<M>,
        output: Output<M::Event, M::Closed>,
    ) {
        if !self.held.is_empty() {
            self.held.push(session_event(output));
        } else if let Err(output) = self.deliver(cx, engine, output) {
            self.held.push(session_event(output));
        }
    }

    fn poll_command(&mut self, cx: &mut Context<'_>, engine: &mut Engine<M>) -> Poll<bool> {
        match self.commands.poll_next_unpin(cx) {
            Poll::Ready(Some(command)) => {
                let now = Instant::now();
                engine.with_machine(|machine| command(machine, now));
                Poll::Ready(true)
            }
            Poll::Ready(None) => {
                // Every handle is gone: nobody can act on this stream any
                // more, so close it cleanly.
                engine.with_machine(|machine| machine.close(Instant::now()));
                Poll::Ready(false)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
