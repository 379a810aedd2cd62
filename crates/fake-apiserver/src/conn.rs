//! The fake API server's listener (see `lib.rs`): connections that can be cut, all at
//! once ([`FakeApiServer::stop`](super::FakeApiServer::stop), an outage the clients see as
//! I/O errors and then connection refused, not a graceful shutdown that would let open
//! watches end cleanly) or each on its own; connections that go mute (a silently dead
//! connection: the socket stays open and the kernel keeps ACKing, but not another byte is
//! written); and connections closed as soon as they are accepted.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Shared;
use super::log::ConnectionRecord;

/// One accepted connection, as its requests' handlers see it (axum's `ConnectInfo`).
#[derive(Clone)]
pub(crate) struct Conn(Arc<ConnState>);

pub(crate) struct ConnState {
    id: u64,
    /// Set: nothing more is written (writes and flushes stay pending).
    muted: AtomicBool,
    /// Set to true: all I/O fails, hyper drops the connection.
    kill: watch::Sender<bool>,
}

impl Conn {
    pub(crate) fn is_muted(&self) -> bool {
        self.0.muted.load(Ordering::SeqCst)
    }

    pub(crate) fn mute(&self) {
        self.0.muted.store(true, Ordering::SeqCst);
    }

    pub(crate) fn kill(&self) {
        let _ = self.0.kill.send(true);
    }
}

/// The open connections, for [`FakeApiServer::drop_connections`](super::FakeApiServer::drop_connections)
/// and the muting of [`go_silent`](super::FakeApiServer::go_silent).
#[derive(Default)]
pub(crate) struct Connections {
    open: Mutex<HashMap<u64, Conn>>,
    next_id: Mutex<u64>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Conn>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every open connection.
    pub(crate) fn all(&self) -> Vec<Conn> {
        self.lock().values().cloned().collect()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.io().conn.clone()
    }
}

/// Accepts connections that all fail once `kill` turns true.
pub(crate) struct KillableListener {
    pub(crate) inner: TcpListener,
    pub(crate) kill: watch::Receiver<bool>,
    pub(crate) shared: Arc<Shared>,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let faults = &self.shared.faults;
                    let close = faults.accept_and_close.load(Ordering::SeqCst);
                    self.shared.log.connection(ConnectionRecord {
                        at: tokio::time::Instant::now(),
                        closed_on_accept: close,
                    });
                    if close {
                        drop(stream); // FIN, or RST if the request has already arrived
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let id = {
                        let mut next =
                            self.shared.connections.next_id.lock().unwrap_or_else(|e| e.into_inner());
                        *next += 1;
                        *next
                    };
                    let (conn_kill, mut conn_killed) = watch::channel(false);
                    let conn = Conn(Arc::new(ConnState {
                        id,
                        muted: AtomicBool::new(faults.silences_everything()),
                        kill: conn_kill,
                    }));
                    let mut kill = self.kill.clone();
                    let killed: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                        tokio::select! {
                            _ = kill.wait_for(|k| *k) => {}
                            _ = conn_killed.wait_for(|k| *k) => {}
                        }
                    });
                    self.shared.active_connections.fetch_add(1, Ordering::SeqCst);
                    self.shared.connections.lock().insert(id, conn.clone());
                    let conn = KillableStream {
                        inner: stream,
                        killed,
                        is_killed: false,
                        conn,
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

/// A TCP stream that starts failing all I/O once the server is stopped or the connection is
/// cut, and stops writing once it is muted.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
    is_killed: bool,
    conn: Conn,
    shared: Arc<Shared>,
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        self.shared.connections.lock().remove(&self.conn.0.id);
        self.shared.active_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl KillableStream {
    /// Whether the connection is cut; registers the task to be woken when it is.
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
        if self.conn.is_muted() {
            return Poll::Pending; // woken only if the connection is cut
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.check_killed(cx) {
            return Poll::Ready(Err(killed_err()));
        }
        if self.conn.is_muted() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
