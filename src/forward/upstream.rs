//! Exchanging one query with one upstream server, and keeping track of its health.
//!
//! Every exchange uses a fresh socket (a random source port chosen by the OS) and a random
//! message ID, and only accepts a reply whose ID and question match what was sent: nothing
//! that would let an off-path attacker guess their way into the cache.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// How many consecutive failures make an upstream be skipped.
const MAX_FAILS: u32 = 2;
/// How long an unhealthy upstream is skipped before it is tried again.
const SKIP_FOR: Duration = Duration::from_secs(5);

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No (valid) reply in time.
    #[error("{upstream}: no reply within {timeout:?}")]
    Timeout {
        /// The upstream.
        upstream: SocketAddr,
        /// The per-try timeout.
        timeout: Duration,
    },
    /// The network failed (connection refused, reset, ...).
    #[error("{upstream}: {source}")]
    Io {
        /// The upstream.
        upstream: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// One upstream server and its health.
#[derive(Debug)]
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    consecutive_failures: u32,
    skip_until: Option<Instant>,
}

impl Upstream {
    /// An upstream, healthy until proven otherwise.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, health: Mutex::new(Health::default()) }
    }

    /// Whether it should be tried now (not skipped after repeated failures).
    pub fn is_healthy(&self, now: Instant) -> bool {
        self.health.lock().map(|h| h.skip_until.is_none_or(|t| now >= t)).unwrap_or(true)
    }

    /// Records the outcome of an exchange.
    pub fn record(&self, ok: bool) {
        let Ok(mut h) = self.health.lock() else { return };
        if ok {
            *h = Health::default();
            return;
        }
        h.consecutive_failures += 1;
        if h.consecutive_failures >= MAX_FAILS {
            if h.skip_until.is_none() {
                tracing::warn!(upstream = %self.addr, "upstream failing, skipping it for {SKIP_FOR:?}");
            }
            h.skip_until = Some(Instant::now() + SKIP_FOR);
        }
    }

    /// Sends `query` (with its ID already randomized) over UDP, or TCP when `tcp` is set or
    /// the UDP reply is truncated. Returns the raw reply.
    pub async fn exchange(
        &self,
        query: &[u8],
        tcp: bool,
        timeout: Duration,
    ) -> Result<Vec<u8>, ExchangeError> {
        let result = tokio::time::timeout(timeout, async {
            if !tcp {
                let reply = self.udp(query).await?;
                if reply.len() < 3 || reply[2] & 0x02 == 0 {
                    return Ok(reply);
                }
                // TC: the whole answer over TCP.
            }
            self.tcp(query).await
        })
        .await;
        match result {
            Ok(r) => r,
            Err(_) => Err(ExchangeError::Timeout { upstream: self.addr, timeout }),
        }
    }

    async fn udp(&self, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let io = |source| ExchangeError::Io { upstream: self.addr, source };
        let local: SocketAddr = if self.addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(self.addr).await.map_err(io)?;
        socket.send(query).await.map_err(io)?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = socket.recv(&mut buf).await.map_err(io)?;
            if matches_query(query, &buf[..n]) {
                return Ok(buf[..n].to_vec());
            }
            // Not our reply (wrong ID or question): ignore it and keep waiting.
        }
    }

    async fn tcp(&self, query: &[u8]) -> Result<Vec<u8>, ExchangeError> {
        let io = |source| ExchangeError::Io { upstream: self.addr, source };
        let mut stream = TcpStream::connect(self.addr).await.map_err(io)?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
        framed.extend_from_slice(query);
        stream.write_all(&framed).await.map_err(io)?;
        loop {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.map_err(io)?;
            let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut reply).await.map_err(io)?;
            if matches_query(query, &reply) {
                return Ok(reply);
            }
        }
    }
}

/// A reply matches when it is a response with the query's ID and the same question
/// (compared case-insensitively, as resolvers may randomize case).
pub fn matches_query(query: &[u8], reply: &[u8]) -> bool {
    if reply.len() < 12 || query.len() < 12 || reply[..2] != query[..2] || reply[2] & 0x80 == 0 {
        return false;
    }
    let (Some(q), Some(r)) = (question(query), question(reply)) else {
        // A reply without a question (FORMERR, some SERVFAILs) is accepted on the ID alone.
        return question(reply).is_none() && reply[4..6] == [0, 0];
    };
    q.eq_ignore_ascii_case(r)
}

/// The raw question section (name, type, class) of a message with exactly one question.
fn question(message: &[u8]) -> Option<&[u8]> {
    if message.get(4..6)? != [0, 1] {
        return None;
    }
    let mut i = 12;
    loop {
        let len = usize::from(*message.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None; // questions are not compressed in queries we send
        }
        i += 1 + len;
    }
    message.get(12..i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_must_match_id_and_question() {
        let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'f', b'o', b'o', 0, 0, 1, 0, 1];
        let mut r = q.clone();
        r[2] |= 0x80;
        assert!(matches_query(&q, &r));
        r[13] = b'F';
        assert!(matches_query(&q, &r), "0x20 case randomization is fine");
        r[0] = 0;
        assert!(!matches_query(&q, &r), "wrong ID");
        r[0] = 0xab;
        r[18] = 28;
        assert!(!matches_query(&q, &r), "wrong type");
        q[2] |= 0x80;
        assert!(matches_query(&q, &q), "a reply is a response");
    }

    #[test]
    fn failing_upstreams_are_skipped_then_retried() {
        let u = Upstream::new("127.0.0.1:53".parse().unwrap());
        let now = Instant::now();
        assert!(u.is_healthy(now));
        u.record(false);
        assert!(u.is_healthy(Instant::now()));
        u.record(false);
        assert!(!u.is_healthy(Instant::now()));
        assert!(u.is_healthy(Instant::now() + SKIP_FOR + Duration::from_millis(1)));
        u.record(true);
        assert!(u.is_healthy(Instant::now()));
    }
}
