//! The fake API server's listener (see `lib.rs`): connections that can all be
//! cut at once, so that [`FakeApiServer::stop`](super::FakeApiServer::stop) is an outage
//! the clients see (I/O errors, then connection refused), not a graceful shutdown that
//! would let open watches end cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Shared;

/// Accepts connections that all fail once `kill` turns true.
pub(super) struct KillableListener {
    pub(super) inner: TcpListener,
    pub(super) kill: watch::Receiver<bool>,
    pub(super) shared: Arc<Shared>,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let mut kill = self.kill.clone();
                    let killed: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                        let _ = kill.wait_for(|k| *k).await;
                    });
                    self.shared.active_connections.fetch_add(1, Ordering::SeqCst);
                    let conn = KillableStream {
                        inner: stream,
                        killed,
                        is_killed: false,
                        shared: self.shared.clone(),
                    };
                    return (conn, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that starts failing all I/O once the server is stopped.
pub(super) struct KillableStream {
    inner: TcpStream,
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
    is_killed: bool,
    shared: Arc<Shared>,
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        self.shared.active_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl KillableStream {
    fn check_killed(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.is_killed && self.killed.as_mut().poll(cx).is_ready() {
            self.is_killed = true;
        }
        self.is_killed
    }
}

fn killed_err() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "fake apiserver stopped")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.check_killed(cx) {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.check_killed(cx) {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.check_killed(cx) {
            return Poll::Ready(Err(killed_err()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
