//! A client transport the test can cut, as a network failure would: after
//! [`KillSwitch::kill`], every read and write of the current connection
//! fails (no stream close, no TLS close_notify); with
//! [`KillSwitch::half_open`] its socket even stays open, so the server does
//! not notice. [`KillSwitch::hold`] keeps the next connections from
//! opening until released. Shared by the hub tests and the interop
//! scenarios.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

/// Sockets of killed connections, kept open.
type Kept = Arc<Mutex<Vec<Box<dyn std::any::Any + Send>>>>;

/// A transport that fails once killed.
pub struct Killable<IO: Send + 'static> {
    io: Option<IO>,
    killed: Arc<AtomicBool>,
    /// Where the socket goes when killed and dropped (half open).
    keep: Option<Kept>,
    /// Killed once this many more bytes were read.
    read_budget: Option<usize>,
}

impl<IO: Send + 'static> Drop for Killable<IO> {
    fn drop(&mut self) {
        if self.killed.load(Ordering::SeqCst)
            && let (Some(keep), Some(io)) = (self.keep.take(), self.io.take())
        {
            keep.lock().unwrap().push(Box::new(io));
        }
    }
}

impl<IO: Send + 'static> Killable<IO> {
    fn io(&mut self) -> Pin<&mut IO>
    where
        IO: Unpin,
    {
        Pin::new(self.io.as_mut().unwrap())
    }

    fn check(&self) -> std::io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "killed by the test",
            ))
        } else {
            Ok(())
        }
    }
}

impl<IO: AsyncRead + Unpin + Send + 'static> AsyncRead for Killable<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        let read = self.io().poll_read(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(budget)) = (&read, self.read_budget) {
            let left = budget.saturating_sub(*n);
            self.read_budget = Some(left);
            if left == 0 {
                self.killed.store(true, Ordering::SeqCst);
            }
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin + Send + 'static> AsyncWrite for Killable<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        self.io().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.check()?;
        self.io().poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io().poll_close(cx)
    }
}

/// Cuts the connection a [`connector`] opened last.
#[derive(Clone, Default)]
pub struct KillSwitch {
    current: Arc<Mutex<Option<Arc<AtomicBool>>>>,
    held: Arc<AtomicBool>,
    cut_after: Arc<AtomicUsize>,
    kept: Arc<Mutex<Option<Kept>>>,
}

impl KillSwitch {
    /// Cuts the current connection (the client then reconnects).
    pub fn kill(&self) {
        if let Some(flag) = self.current.lock().unwrap().as_ref() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// Whether new connections wait (`true`) or open (`false`, at first).
    pub fn hold(&self, held: bool) {
        self.held.store(held, Ordering::SeqCst);
    }

    /// Whether killed connections keep their socket open (`true`), as a
    /// network failure the server does not notice, or close it (`false`,
    /// at first). Kept sockets close with the switch.
    pub fn half_open(&self, half_open: bool) {
        *self.kept.lock().unwrap() = half_open.then(Kept::default);
    }

    /// Cuts the next connection once it has read about `bytes` (during
    /// its negotiation, for a small number).
    pub fn cut_next_after(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }
}

/// A connection being opened.
pub type Opening =
    Pin<Box<dyn Future<Output = std::io::Result<Killable<Compat<tokio::net::TcpStream>>>> + Send>>;

/// A connector for `ClientBuilder::connect_with`: TCP to `address`, each
/// connection cuttable with `switch`.
pub fn connector(address: std::net::SocketAddr, switch: KillSwitch) -> impl FnMut() -> Opening {
    move || {
        let switch = switch.clone();
        Box::pin(async move {
            while switch.held.load(Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let tcp = tokio::net::TcpStream::connect(address).await?;
            tcp.set_nodelay(true)?;
            let killed = Arc::new(AtomicBool::new(false));
            *switch.current.lock().unwrap() = Some(Arc::clone(&killed));
            let budget = switch.cut_after.swap(0, Ordering::SeqCst);
            Ok(Killable {
                io: Some(tcp.compat()),
                killed,
                keep: switch.kept.lock().unwrap().clone(),
                read_budget: (budget > 0).then_some(budget),
            })
        })
    }
}
