//! DNS transport: binds UDP and TCP on the same addresses and serves them with
//! hickory-server, answering through [`handler::Handler`].

pub mod handler;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

pub use handler::{Handler, QueryEvent, QueryObserver};

/// The sockets of one `--listen` address: UDP and TCP on the same port.
#[derive(Debug)]
pub struct Listener {
    /// The UDP socket.
    pub udp: UdpSocket,
    /// The TCP listener.
    pub tcp: TcpListener,
}

impl Listener {
    /// The bound address (the port is resolved when `--listen` asked for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Binds UDP and TCP on `addr`. With port 0, both get the same free port.
pub async fn bind(addr: SocketAddr) -> io::Result<Listener> {
    if addr.port() != 0 {
        return Ok(Listener { udp: UdpSocket::bind(addr).await?, tcp: TcpListener::bind(addr).await? });
    }
    let mut last_error = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok(Listener { udp, tcp }),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port for both UDP and TCP")))
}

/// TCP settings.
#[derive(Debug, Clone, Copy)]
pub struct TcpSettings {
    /// A connection that sends no complete request for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for TcpSettings {
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(10) }
    }
}

/// Serves DNS on `listeners` until `shutdown` completes, then stops accepting and returns.
pub async fn run(
    listeners: Vec<Listener>,
    handler: Handler,
    tcp: TcpSettings,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let mut server = Server::new(handler);
    for listener in listeners {
        server.register_socket(listener.udp);
        server.register_listener(listener.tcp, tcp.idle_timeout, 64);
    }
    tokio::select! {
        result = server.block_until_done() => result.map_err(io::Error::other),
        () = shutdown => server.shutdown_gracefully().await.map_err(io::Error::other),
    }
}
