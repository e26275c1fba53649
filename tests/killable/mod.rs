//! A client transport the test can cut, as a network failure would: after
//! [`KillSwitch::kill`], every read and write of the current connection
//! fails (no stream close, no TLS close_notify). Shared by the hub tests
//! and the interop scenarios.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{AsyncRead, AsyncWrite};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

/// A transport that fails once killed.
pub struct Killable<IO> {
    io: IO,
    killed: Arc<AtomicBool>,
}

impl<IO> Killable<IO> {
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

impl<IO: AsyncRead + Unpin> AsyncRead for Killable<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Killable<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// Cuts the connection a [`connector`] opened last.
#[derive(Clone, Default)]
pub struct KillSwitch(Arc<Mutex<Option<Arc<AtomicBool>>>>);

impl KillSwitch {
    /// Cuts the current connection (the client then reconnects).
    pub fn kill(&self) {
        if let Some(flag) = self.0.lock().unwrap().as_ref() {
            flag.store(true, Ordering::SeqCst);
        }
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
            let tcp = tokio::net::TcpStream::connect(address).await?;
            tcp.set_nodelay(true)?;
            let killed = Arc::new(AtomicBool::new(false));
            *switch.0.lock().unwrap() = Some(Arc::clone(&killed));
            Ok(Killable {
                io: tcp.compat(),
                killed,
            })
        })
    }
}
