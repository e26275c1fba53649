//! The async driver: one [`Engine`] over one futures-io transport, with one
//! timer, for any executor.
//!
//! `run` is the whole adapter loop of the crate docs written once: write
//! what the engine has, hand its outputs to the application, read, and sleep
//! until the engine's next deadline. The tokio adapter uses it too, through
//! `tokio_util::compat`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf as _, Bytes};
use futures::io::{AsyncRead, AsyncWrite};

use super::engine::{Engine, Machine, Output};

/// A boxed future, as the timers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The caller's timer: a future that completes at `deadline`. Any
/// executor's timer fits, e.g. `|d| Box::pin(async_io::Timer::at(d)) as _`
/// hidden behind a closure (see [`sleeper`]).
pub trait Sleeper: Send + Sync + 'static {
    /// A future that completes at `deadline` (at once if it passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()>;
}

/// A [`Sleeper`] from a closure returning any sendable future.
///
/// ```
/// # #[cfg(feature = "futures-io")] {
/// let timer = xmpp_kit::rt::driver::sleeper(|deadline| async move {
///     async_io::Timer::at(deadline).await;
/// });
/// # let _ = timer; }
/// ```
pub fn sleeper<F, Fut>(f: F) -> impl Sleeper + Clone
where
    F: Fn(Instant) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    FnSleeper(f)
}

#[derive(Clone)]
struct FnSleeper<F>(F);

impl<F, Fut> Sleeper for FnSleeper<F>
where
    F: Fn(Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin((self.0)(deadline))
    }
}

impl<S: Sleeper + ?Sized> Sleeper for std::sync::Arc<S> {
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        (**self).sleep_until(deadline)
    }
}

/// What drives an engine on behalf of an application: takes its outputs
/// and feeds it commands.
pub(crate) trait Host<M: Machine> {
    /// Takes one output. `Err` gives it back when the application cannot
    /// take more now (the driver then stops reading until it can; `cx` is
    /// registered to wake it).
    fn deliver(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<M>,
        output: Output<M::Event, M::Closed>,
    ) -> Result<(), Output<M::Event, M::Closed>>;

    /// Takes one output after the transport failed: nothing more is read,
    /// so the host must keep it (queue it for the application) instead of
    /// refusing it. A stanza the machine has counted as received (the `h`
    /// of XEP-0198) and the application never gets would be lost: the
    /// peer does not send it again.
    fn deliver_final(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<M>,
        output: Output<M::Event, M::Closed>,
    );

    /// Applies waiting commands to the engine. `Ready(true)` if one was
    /// applied, `Ready(false)` when no command can ever come again,
    /// `Pending` otherwise.
    fn poll_command(&mut self, cx: &mut Context<'_>, engine: &mut Engine<M>) -> Poll<bool>;
}

/// How a transport's run ended.
#[derive(Debug)]
pub(crate) enum Exit {
    /// The engine is done (its ending was delivered) and the socket is
    /// closed.
    Done,
    /// Reading or writing the socket failed; the engine was told it ended.
    Io(std::io::Error),
}

/// How long a finished connection waits for a peer that does not read
/// before its socket is closed anyway.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs one transport until the engine is done.
pub(crate) async fn run<M, IO, H>(
    engine: &mut Engine<M>,
    io: &mut IO,
    sleeper: &dyn Sleeper,
    host: &mut H,
) -> Exit
where
    M: Machine,
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Host<M>,
{
    let mut state = RunState {
        writing: None,
        held: None,
        timer: None,
        read_buf: vec![0; 16 * 1024],
        commands_open: true,
        closing_io: false,
        eof: false,
        linger: None,
    };
    std::future::poll_fn(|cx| state.poll(cx, engine, io, sleeper, host)).await
}

struct RunState<E, C> {
    /// What is left of the bytes being written.
    writing: Option<Bytes>,
    /// An output the host could not take yet.
    held: Option<Output<E, C>>,
    timer: Option<(Instant, BoxFuture<()>)>,
    read_buf: Vec<u8>,
    commands_open: bool,
    closing_io: bool,
    /// The peer closed its side: read no more.
    eof: bool,
    /// Armed once the engine is done while bytes still wait to be written.
    linger: Option<BoxFuture<()>>,
}

impl<E, C> RunState<E, C> {
    fn poll<M, IO, H>(
        &mut self,
        cx: &mut Context<'_>,
        engine: &mut Engine<M>,
        io: &mut IO,
        sleeper: &dyn Sleeper,
        host: &mut H,
    ) -> Poll<Exit>
    where
        M: Machine<Event = E, Closed = C>,
        IO: AsyncRead + AsyncWrite + Unpin,
        H: Host<M>,
    {
        loop {
            // 1. Hand outputs to the host, before their bytes go out: what the
            // host does with an event (a hub attaching a component that just
            // authenticated) is in place before the peer can act on the
            // answer the machine wrote with it.
            let mut host_blocked = false;
            let mut delivered = false;
            loop {
                let Some(output) = self.held.take().or_else(|| engine.poll_output()) else {
                    break;
                };
                if let Err(output) = host.deliver(cx, engine, output) {
                    self.held = Some(output);
                    host_blocked = true;
                    break;
                }
                delivered = true;
            }

            // 2. Write everything the engine has.
            let mut write_blocked = false;
            loop {
                if self.writing.is_none() {
                    self.writing = engine.poll_transmit();
                }
                let Some(rest) = self.writing.as_mut() else {
                    break;
                };
                if rest.is_empty() {
                    self.writing = None;
                    continue;
                }
                match Pin::new(&mut *io).poll_write(cx, rest) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(self.io_failed(
                            engine,
                            host,
                            cx,
                            std::io::ErrorKind::WriteZero.into(),
                        ));
                    }
                    Poll::Ready(Ok(n)) => rest.advance(n.min(rest.len())),
                    Poll::Ready(Err(e)) => return Poll::Ready(self.io_failed(engine, host, cx, e)),
                    Poll::Pending => {
                        write_blocked = true;
                        break;
                    }
                }
            }
            if !write_blocked {
                match Pin::new(&mut *io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(self.io_failed(engine, host, cx, e)),
                    Poll::Pending => write_blocked = true,
                }
            }

            // 3. Done: close the socket once everything is written and the
            // ending was delivered.
            if engine.is_done() && !write_blocked && self.writing.is_none() && !host_blocked {
                self.closing_io = true;
            }
            // A peer that stopped reading cannot hold a finished
            // connection open: its last bytes get LINGER, then the socket
            // closes without them.
            if engine.is_ending() && !self.closing_io && !host_blocked {
                let linger = self
                    .linger
                    .get_or_insert_with(|| sleeper.sleep_until(Instant::now() + LINGER));
                if linger.as_mut().poll(cx).is_ready() {
                    self.writing = None;
                    self.closing_io = true;
                }
            }
            if self.closing_io {
                return match Pin::new(&mut *io).poll_close(cx) {
                    Poll::Ready(_) => Poll::Ready(Exit::Done),
                    Poll::Pending => Poll::Pending,
                };
            }
            // A host may act on the machine while taking an output (answer
            // a stream header, say): write what that produced first.
            if delivered && !write_blocked {
                continue;
            }

            // 4. Commands. One per round: reading and the timer get their
            // turn between them, so that a steady stream of commands (a
            // busy mailbox) cannot starve the peer's input, such as the
            // acknowledgements that keep its stream alive.
            let mut commanded = false;
            if self.commands_open {
                match host.poll_command(cx, engine) {
                    Poll::Ready(true) => commanded = true,
                    Poll::Ready(false) => self.commands_open = false,
                    Poll::Pending => {}
                }
            }

            // 5. Read, unless the host is full.
            if !host_blocked && !self.eof && !engine.is_done() {
                let now = Instant::now();
                match Pin::new(&mut *io).poll_read(cx, &mut self.read_buf) {
                    Poll::Ready(Ok(0)) => {
                        self.eof = true;
                        engine.handle_eof(now);
                        continue;
                    }
                    Poll::Ready(Ok(n)) => {
                        let data = self.read_buf.get(..n).unwrap_or_default();
                        engine.handle_input(now, data);
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(self.io_failed(engine, host, cx, e)),
                    Poll::Pending => {}
                }
            }

            // 6. The timer.
            match engine.poll_timeout() {
                Some(deadline) => {
                    if self.timer.as_ref().is_none_or(|(at, _)| *at != deadline) {
                        self.timer = Some((deadline, sleeper.sleep_until(deadline)));
                    }
                    if let Some((_, sleep)) = self.timer.as_mut()
                        && sleep.as_mut().poll(cx).is_ready()
                    {
                        self.timer = None;
                        engine.handle_timeout(Instant::now().max(deadline));
                        continue;
                    }
                }
                None => self.timer = None,
            }
            if commanded {
                continue;
            }
            return Poll::Pending;
        }
    }

    /// The socket failed: the engine hears of the cut, the host gets
    /// everything it still has to say (to keep, if it cannot take it now),
    /// and the run ends.
    fn io_failed<M, H>(
        &mut self,
        engine: &mut Engine<M>,
        host: &mut H,
        cx: &mut Context<'_>,
        error: std::io::Error,
    ) -> Exit
    where
        M: Machine<Event = E, Closed = C>,
        H: Host<M>,
    {
        engine.handle_eof(Instant::now());
        while let Some(output) = self.held.take().or_else(|| engine.poll_output()) {
            host.deliver_final(cx, engine, output);
        }
        Exit::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::client::TlsInfo;
    use crate::rt::engine::Step;

    /// A machine that keeps its input and ends at the end of it.
    #[derive(Default)]
    struct Sink {
        input: Vec<u8>,
        outputs: VecDeque<Step<(), ()>>,
        closed: bool,
    }

    impl Machine for Sink {
        type Event = ();
        type Closed = ();
        fn handle_input(&mut self, _now: Instant, data: &[u8]) {
            self.input.extend_from_slice(data);
        }
        fn handle_eof(&mut self, now: Instant) {
            self.close(now);
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn tls_established(&mut self, _now: Instant, _info: TlsInfo) {}
        fn poll_output(&mut self) -> Option<Step<(), ()>> {
            self.outputs.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn close(&mut self, _now: Instant) {
            if !self.closed {
                self.closed = true;
                self.outputs.push_back(Step::Closed(()));
            }
        }
    }

    /// A host with a command ready every time it is asked (a mailbox that
    /// never empties), up to `limit`; notes how many were applied when the
    /// peer's input first reached the machine.
    struct Busy {
        commands: usize,
        limit: usize,
        input_after: Option<usize>,
    }

    impl Host<Sink> for Busy {
        fn deliver(
            &mut self,
            _cx: &mut Context<'_>,
            _engine: &mut Engine<Sink>,
            _output: Output<(), ()>,
        ) -> Result<(), Output<(), ()>> {
            Ok(())
        }

        fn deliver_final(
            &mut self,
            _cx: &mut Context<'_>,
            _engine: &mut Engine<Sink>,
            _output: Output<(), ()>,
        ) {
        }

        fn poll_command(&mut self, _cx: &mut Context<'_>, engine: &mut Engine<Sink>) -> Poll<bool> {
            if self.input_after.is_none() && engine.machine().is_some_and(|m| !m.input.is_empty()) {
                self.input_after = Some(self.commands);
            }
            if self.commands == self.limit {
                return Poll::Ready(false);
            }
            self.commands += 1;
            Poll::Ready(true)
        }
    }

    #[test]
    fn a_steady_stream_of_commands_does_not_starve_reading() {
        let mut engine = Engine::plain(Sink::default(), None);
        let mut io = futures::io::Cursor::new(b"an acknowledgement".to_vec());
        let mut host = Busy {
            commands: 0,
            limit: 1000,
            input_after: None,
        };
        let timer = sleeper(|_| async {});
        let exit = futures::executor::block_on(run(&mut engine, &mut io, &timer, &mut host));
        assert!(matches!(exit, Exit::Done), "{exit:?}");
        assert_eq!(
            engine.machine().map(|m| m.input.as_slice()),
            Some(&b"an acknowledgement"[..])
        );
        assert!(
            host.input_after.is_some_and(|n| n <= 2),
            "the input was read after {:?} commands",
            host.input_after
        );
    }
}
