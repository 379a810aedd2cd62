//! The UDP path: one OS thread per socket, each a plain receive → answer → send loop on
//! its own `SO_REUSEPORT` socket, a batch of datagrams per system call ([`super::mmsg`]).
//!
//! hickory-server's UDP path spawns a task, copies the datagram and goes through a channel
//! for every query; for the one-packet-in, one-packet-out case none of that is needed. The
//! kernel spreads datagrams over the sockets of a port, so `--udp-workers N` scales across
//! cores without any shared queue.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_server::net::xfer::Protocol;
use socket2::{Domain, Socket, Type};

use super::Handler;
use super::handler::Response;
use super::mmsg::{Inbox, MAX_QUERY, Outbox};
use super::response_cache::{self, Answered, ResponseCache};

fn send(socket: &UdpSocket, reply: &[u8], src: SocketAddr) {
    if let Err(e) = socket.send_to(reply, src) {
        tracing::debug!(error = %e, %src, "udp send error");
    }
}

/// How often a blocked worker wakes up to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// Binds one UDP socket with `SO_REUSEPORT`, so that several workers can share the port.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(socket2::Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    // Room for bursts: a full receive buffer drops queries silently.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Starts one worker thread per socket. They stop when `stop` is set. Forwarded queries
/// are handed to the tokio runtime, which sends their replies.
pub fn spawn_workers(
    sockets: Vec<UdpSocket>,
    handler: &Handler,
    stop: &Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let runtime = tokio::runtime::Handle::current();
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (handler, stop, runtime) = (handler.clone(), stop.clone(), runtime.clone());
            std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve(Arc::new(socket), &handler, &stop, &runtime))
        })
        .collect()
}

fn serve(socket: Arc<UdpSocket>, handler: &Handler, stop: &AtomicBool, runtime: &tokio::runtime::Handle) {
    let mut inbox = Inbox::new();
    let mut worker = Worker {
        socket,
        handler,
        runtime,
        cache: ResponseCache::new(),
        key: Vec::with_capacity(300),
        out: Vec::with_capacity(1500),
        outbox: Outbox::new(),
        cached: Vec::with_capacity(super::mmsg::BATCH),
    };
    while !stop.load(Ordering::Relaxed) {
        let count = match inbox.receive(&worker.socket) {
            Ok(count) => count,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep serving.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        let received_at = Instant::now();
        for i in 0..count {
            let (packet, received) = inbox.get(i);
            if received.truncated {
                tracing::debug!(src = %received.src, "udp query longer than {MAX_QUERY} bytes dropped");
                continue;
            }
            worker.answer(packet, received.src);
        }
        worker.outbox.flush(&worker.socket);
        worker.observe_cached(received_at.elapsed());
    }
}

/// A query answered from the response cache, to report once its batch is sent.
struct CachedAnswer {
    src: SocketAddr,
    qtype: Option<u16>,
    /// The reply's header bytes 2 and 3 (truncation, rcode).
    flags: [u8; 2],
}

/// One UDP worker's state between batches: its socket, response cache and reused buffers.
struct Worker<'a> {
    socket: Arc<UdpSocket>,
    handler: &'a Handler,
    runtime: &'a tokio::runtime::Handle,
    cache: ResponseCache,
    key: Vec<u8>,
    out: Vec<u8>,
    outbox: Outbox,
    /// This batch's cached answers, reported together: one clock reading a batch gives
    /// them all their response time (received to sent), where two a query were a tenth
    /// of a cached answer's user time.
    cached: Vec<CachedAnswer>,
}

impl Worker<'_> {
    /// Reports the batch's cached answers, `elapsed` after the batch was received.
    fn observe_cached(&mut self, elapsed: Duration) {
        for answer in self.cached.drain(..) {
            self.handler.observe_cached(answer.src, Protocol::Udp, answer.qtype, answer.flags, elapsed);
        }
    }

    /// Answers one datagram: a cached reply or the handler's goes to the outbox, a
    /// forwarded query to the runtime, which sends its reply when it comes.
    fn answer(&mut self, packet: &[u8], src: SocketAddr) {
        let handler = self.handler;
        let key = response_cache::key(packet, handler.max_udp_size(), handler.scope(), &mut self.key)
            .map(|()| &self.key[..]);
        self.out.clear();
        let response = match response_cache::respond(
            handler,
            &mut self.cache,
            key,
            packet,
            src,
            Protocol::Udp,
            &mut self.out,
        ) {
            Answered::Cached { qtype, flags } => {
                self.cached.push(CachedAnswer { src, qtype, flags });
                if let Some(reply) = handler.limit(src, &mut self.out) {
                    self.outbox.push(reply, src);
                }
                return;
            }
            Answered::Computed(response) => response,
        };
        match response {
            Response::Reply(mut reply) => {
                if let Some(reply) = handler.limit(src, &mut reply) {
                    self.outbox.push(reply, src);
                }
            }
            Response::Later(future) => {
                let socket = self.socket.clone();
                self.runtime.spawn(async move { send(&socket, &future.await, src) });
            }
            Response::Drop => {}
        }
    }
}
