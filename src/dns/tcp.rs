//! The TCP path (RFC 7766): length-prefixed messages, several per connection, answered in
//! order through the same [`Handler::respond_or_forward`] as UDP.
//!
//! A zone transfer request from a client `--transfer-allow` admits is answered with a
//! stream of messages ([`crate::xfer`]) instead.
//!
//! A connection that sends no complete message for `--tcp-idle-timeout` is closed (a
//! slowloris cannot hold it), and at most `--tcp-max-connections` are open at once: one
//! more is closed as soon as it is accepted, so UDP and the connections already served are
//! unaffected by a connection flood.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::Handler;
use super::handler::Response;

/// Accepts connections on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    idle_timeout: Duration,
    max_connections: usize,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused = 0u64;
    loop {
        let (stream, src) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off briefly rather than spin.
                    tracing::debug!(%error, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(%src, refused, "too many TCP connections (--tcp-max-connections); closing new ones");
            }
            continue; // dropping the stream closes it
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            connection(stream, src, &handler, idle_timeout).await;
            drop(permit);
        });
    }
}

async fn connection(mut stream: TcpStream, src: SocketAddr, handler: &Handler, idle_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(512);
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle_timeout, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return, // idle, closed, or reset
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        match tokio::time::timeout(idle_timeout, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        if let Some(messages) = handler.transfer(&buf, src) {
            // A zone transfer: many messages for one request. A secondary that stops
            // reading for an idle timeout loses the connection, like one that stops writing.
            for message in messages {
                let sent = tokio::time::timeout(idle_timeout, write_framed(&mut stream, &message)).await;
                if !matches!(sent, Ok(true)) {
                    return;
                }
            }
            continue;
        }
        let reply = match handler.respond_or_forward(&buf, src, Protocol::Tcp) {
            Response::Reply(reply) => reply,
            Response::Later(future) => future.await,
            Response::Drop => continue,
        };
        if !write_framed(&mut stream, &reply).await {
            return;
        }
    }
}

/// Writes one message with its 2-byte length prefix; false when it cannot be sent.
async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> bool {
    let Ok(len) = u16::try_from(message.len()) else { return false };
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await.is_ok()
}
