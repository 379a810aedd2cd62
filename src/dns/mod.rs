//! DNS transport: binds UDP and TCP on the same addresses and serves both through
//! [`handler::Handler`]: UDP on worker threads ([`udp`]), TCP on tokio tasks ([`tcp`]).

pub mod encode;
pub mod handler;
pub mod mmsg;
pub mod observe;
pub mod ratelimit;
mod relay;
pub mod response_cache;
pub mod tcp;
pub mod udp;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;

pub use handler::{Handler, Response};
pub use observe::{AnswerSource, QueryEvent, QueryObserver};

/// The sockets of one `--listen` address: UDP (one socket per worker) and TCP on the same port.
#[derive(Debug)]
pub struct Listener {
    /// The UDP sockets, all bound to the same address with `SO_REUSEPORT`.
    pub udp: Vec<std::net::UdpSocket>,
    /// The TCP listener.
    pub tcp: TcpListener,
}

impl Listener {
    /// The bound address (the port is resolved when `--listen` asked for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Binds TCP and `udp_workers` UDP sockets on `addr`. With port 0, all get the same free port.
pub async fn bind(addr: SocketAddr, udp_workers: usize) -> io::Result<Listener> {
    let mut last_error = None;
    for _ in 0..16 {
        let first = udp::bind_reuseport(addr)?;
        let addr = first.local_addr()?;
        let tcp = match TcpListener::bind(addr).await {
            Ok(tcp) => tcp,
            Err(e) if addr.port() != 0 => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut sockets = vec![first];
        for _ in 1..udp_workers.max(1) {
            sockets.push(udp::bind_reuseport(addr)?);
        }
        return Ok(Listener { udp: sockets, tcp });
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port for both UDP and TCP")))
}

/// TCP settings.
#[derive(Debug, Clone, Copy)]
pub struct TcpSettings {
    /// A connection that sends no complete request for this long is closed.
    pub idle_timeout: Duration,
    /// At most this many connections at once; more are closed when accepted.
    pub max_connections: usize,
}

impl Default for TcpSettings {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(10), max_connections: 1024 }
    }
}

/// Serves DNS on `listeners` until `shutdown` completes, then stops accepting and returns.
pub async fn run(
    listeners: Vec<Listener>,
    handler: Handler,
    tcp: TcpSettings,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut udp_sockets = Vec::new();
    let (stop_tcp, _) = tokio::sync::watch::channel(false);
    let mut tcp_tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        udp_sockets.extend(listener.udp);
        let mut stopped = stop_tcp.subscribe();
        tcp_tasks.spawn(tcp::serve(
            listener.tcp,
            handler.clone(),
            tcp.idle_timeout,
            tcp.max_connections,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }
    let workers = udp::spawn_workers(udp_sockets, &handler, &stop)?;
    shutdown.await;
    let _ = stop_tcp.send(true);
    while tcp_tasks.join_next().await.is_some() {}
    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            let _ = worker.join();
        }
    })
    .await
    .map_err(io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests;
