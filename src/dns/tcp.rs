//! The TCP path (RFC 7766): length-prefixed messages, many per connection, answered like
//! UDP: from a response cache when the question was seen before, through
//! [`Handler::respond`] otherwise ([`response_cache::respond`]).
//!
//! NodeLocal DNSCache forwards `cluster.local` with `force_tcp` and CoreDNS keeps its
//! connections open, so behind it nearly every query arrives pipelined on a few long-lived
//! connections. Each read therefore takes every complete message in the buffer, answers
//! them in turn into one output buffer and sends that with a single write (RFC 7766
//! §6.2.1.1: a resolver must accept replies in any order; ours keep the order anyway). A
//! cache hit spawns no task, crosses no channel and allocates nothing: the connection's
//! buffers are reused and the cache is the runtime thread's own ([`response_cache`]).
//!
//! A zone transfer request from a client `--transfer-allow` admits is answered with a
//! stream of messages ([`crate::xfer`]) instead.
//!
//! A connection that sends no complete message for `--tcp-idle-timeout` is closed (a
//! slowloris cannot hold it), as is one that does not read its replies for that long; at
//! most `--tcp-max-connections` are open at once: one more is closed as soon as it is
//! accepted, so UDP and the connections already served are unaffected by a connection
//! flood. A message is at most 64 KiB (its length is two bytes).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::Handler;
use super::handler::Response;
use super::response_cache::{self, Answered, ResponseCache};

/// Free space kept in a connection's input buffer before each read: room for ~100
/// pipelined queries, so one read usually takes everything the client has sent.
const READ_SPACE: usize = 4096;

/// Replies pending beyond this many bytes are written before the next query is answered,
/// so a burst of queries with large answers does not pile up in memory.
const WRITE_BATCH: usize = 64 * 1024;

thread_local! {
    /// The TCP response cache of this runtime thread. Connections are tasks that may move
    /// between threads, but a cache is only used between two `.await`s, never across one.
    static CACHE: RefCell<ResponseCache> = RefCell::new(ResponseCache::new());
}

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

/// The first complete length-prefixed message at the start of `input`, if there is one.
pub fn next_message(input: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*input.first()?, *input.get(1)?]));
    input.get(2..2 + len)
}

/// Appends `reply` to `out` with its length prefix. `false`: longer than a TCP message
/// can be (cannot happen: replies are encoded within 64 KiB).
fn frame(reply: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(reply.len()) else { return false };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(reply);
    true
}

/// What answering one message left to do.
enum Handled {
    /// The reply, if any, is in the output buffer.
    Framed,
    /// A forwarded query: send what this produces.
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>),
    /// A zone transfer: send these messages.
    Transfer(Box<crate::xfer::Messages>),
}

/// Answers one query into `out` (framed): a zone transfer's messages, else the reply from
/// the thread's response cache or the handler ([`response_cache::respond`]).
fn answer(handler: &Handler, query: &[u8], src: SocketAddr, key: &mut Vec<u8>, out: &mut Vec<u8>) -> Handled {
    // AXFR and IXFR: a plain question of those types, or (IXFR) one with an SOA in the
    // authority section, which is never a cache key. Checking the key first keeps the
    // transfer hook off the path of cached answers.
    let keyed = response_cache::key(query, handler.max_udp_size(), handler.scope(), key).is_some();
    if (!keyed || matches!(response_cache::qtype(key), Some(251 | 252)))
        && let Some(messages) = handler.transfer(query, src)
    {
        return Handled::Transfer(Box::new(messages));
    }
    let started = std::time::Instant::now();
    // Room for the length prefix, filled in once the reply is in place.
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    let key = keyed.then_some(&key[..]);
    let answered = CACHE.with_borrow_mut(|cache| {
        response_cache::respond(handler, cache, key, query, src, Protocol::Tcp, out)
    });
    let response = match answered {
        Answered::Cached { qtype, flags } => {
            handler.observe_cached(src, Protocol::Tcp, qtype, flags, started.elapsed());
            match u16::try_from(out.len() - at - 2) {
                Ok(len) => out[at..at + 2].copy_from_slice(&len.to_be_bytes()),
                Err(_) => out.truncate(at), // cannot happen: cached replies fit 64 KiB
            }
            return Handled::Framed;
        }
        Answered::Computed(response) => response,
    };
    out.truncate(at);
    match response {
        Response::Drop => Handled::Framed,
        Response::Reply(reply) => {
            frame(&reply, out);
            Handled::Framed
        }
        Response::Later(future) => Handled::Later(future),
    }
}

/// Writes and empties `out`; `false` if the connection is gone or the client has not read
/// for `idle_timeout`.
async fn flush(stream: &mut TcpStream, out: &mut Vec<u8>, idle_timeout: Duration) -> bool {
    if out.is_empty() {
        return true;
    }
    let written = tokio::time::timeout(idle_timeout, stream.write_all(out)).await;
    out.clear();
    matches!(written, Ok(Ok(())))
}

async fn connection(mut stream: TcpStream, src: SocketAddr, handler: &Handler, idle_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let (mut input, mut out) = (Vec::with_capacity(READ_SPACE), Vec::with_capacity(READ_SPACE));
    let mut key = Vec::with_capacity(300);
    // Reset by every complete message: partial messages do not keep a connection open.
    let mut deadline = Instant::now() + idle_timeout;
    loop {
        input.reserve(READ_SPACE);
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut input)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return, // idle, closed, or reset
        }
        let mut start = 0;
        while let Some(query) = next_message(&input[start..]) {
            start += 2 + query.len();
            deadline = Instant::now() + idle_timeout;
            match answer(handler, query, src, &mut key, &mut out) {
                Handled::Framed => {}
                Handled::Transfer(messages) => {
                    // Many messages for one request, written in batches. A secondary that
                    // stops reading for an idle timeout loses the connection.
                    for message in *messages {
                        if !frame(&message, &mut out)
                            || (out.len() >= WRITE_BATCH && !flush(&mut stream, &mut out, idle_timeout).await)
                        {
                            return;
                        }
                    }
                }
                Handled::Later(future) => {
                    // Forwarded: what is answered so far goes first, then the relayed reply.
                    if !flush(&mut stream, &mut out, idle_timeout).await {
                        return;
                    }
                    let reply = future.await;
                    if !frame(&reply, &mut out) {
                        return;
                    }
                }
            }
            if out.len() >= WRITE_BATCH && !flush(&mut stream, &mut out, idle_timeout).await {
                return;
            }
        }
        input.drain(..start);
        if !flush(&mut stream, &mut out, idle_timeout).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_message_takes_complete_messages_only() {
        assert_eq!(next_message(&[]), None);
        assert_eq!(next_message(&[0]), None);
        assert_eq!(next_message(&[0, 3, 1, 2]), None);
        assert_eq!(next_message(&[0, 3, 1, 2, 3, 9]), Some(&[1u8, 2, 3][..]));
        assert_eq!(next_message(&[0, 0, 7]), Some(&[][..]));
        let mut big = vec![0xff, 0xff];
        big.resize(2 + 65535, 1);
        assert_eq!(next_message(&big).map(<[u8]>::len), Some(65535));
        assert_eq!(next_message(&big[..big.len() - 1]), None);
    }

    #[test]
    fn frame_prefixes_the_length() {
        let mut out = vec![9];
        assert!(frame(&[1, 2, 3], &mut out));
        assert_eq!(out, [9, 0, 3, 1, 2, 3]);
        assert!(!frame(&vec![0; 65536], &mut out));
    }
}
