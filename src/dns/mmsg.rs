//! Batched datagram I/O for the UDP workers: `recvmmsg` takes up to [`BATCH`] queries in
//! one system call and `sendmmsg` sends a batch's replies in one more.
//!
//! Under load a worker's socket queue holds many queries. Taking them one `recvfrom` at a
//! time costs a system call entry and exit each, and every reply another `sendto`;
//! batching saves both user and kernel time per answered query (docs/performance.md).
//! Knot DNS and NSD batch in the same way.
//!
//! `MSG_WAITFORONE` makes the receive block only until the first datagram, so a lone query
//! is answered as soon as it arrives; the socket's receive timeout still bounds the wait,
//! which is how a worker notices shutdown. The system calls are nix's safe wrappers: the
//! library itself holds no `unsafe`.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

/// Datagrams taken per `recvmmsg`, and replies sent per `sendmmsg`.
pub const BATCH: usize = 32;

/// The largest query taken whole. A DNS query carries one question and perhaps an OPT
/// record, far below this; a longer datagram arrives cut short and is dropped.
pub const MAX_QUERY: usize = 4096;

/// One received datagram.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// Its buffer.
    slot: usize,
    /// Bytes received (at most [`MAX_QUERY`]).
    pub len: usize,
    /// The sender.
    pub src: SocketAddr,
    /// The datagram was longer than [`MAX_QUERY`] and was cut short.
    pub truncated: bool,
}

/// A worker's receive buffers: [`BATCH`] slots of [`MAX_QUERY`] bytes, reused.
pub struct Inbox {
    buffers: Box<[u8]>,
    headers: MultiHeaders<SockaddrStorage>,
    received: Vec<Received>,
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Inbox {
    /// Empty buffers for one batch.
    pub fn new() -> Self {
        Self {
            buffers: vec![0; BATCH * MAX_QUERY].into_boxed_slice(),
            headers: MultiHeaders::preallocate(BATCH, None),
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Waits for at least one datagram and takes every one queued, up to [`BATCH`].
    /// Returns how many (for [`get`](Self::get)); the socket's read timeout surfaces as
    /// `WouldBlock`.
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        let mut slots = self.buffers.chunks_exact_mut(MAX_QUERY);
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(slots.next().unwrap_or_default())]);
        let messages = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        for (slot, message) in messages.enumerate() {
            // A datagram socket always reports an IP sender; a message without one is skipped.
            if let Some(src) = message.address.as_ref().and_then(socket_addr) {
                self.received.push(Received {
                    slot,
                    len: message.bytes,
                    src,
                    truncated: message.flags.contains(MsgFlags::MSG_TRUNC),
                });
            }
        }
        Ok(self.received.len())
    }

    /// Datagram `i` of the last [`receive`](Self::receive), with its metadata.
    pub fn get(&self, i: usize) -> (&[u8], Received) {
        let received = self.received[i];
        let start = received.slot * MAX_QUERY;
        (&self.buffers[start..start + received.len], received)
    }
}

/// A worker's replies for one batch: their bytes one after another in one buffer.
pub struct Outbox {
    bytes: Vec<u8>,
    replies: Vec<Range<usize>>,
    destinations: Vec<Option<SockaddrStorage>>,
    headers: MultiHeaders<SockaddrStorage>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// An empty outbox for [`BATCH`] replies.
    pub fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(BATCH * 512),
            replies: Vec::with_capacity(BATCH),
            destinations: Vec::with_capacity(BATCH),
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Queues `reply` for `dest`.
    pub fn push(&mut self, reply: &[u8], dest: SocketAddr) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(reply);
        self.replies.push(start..self.bytes.len());
        self.destinations.push(Some(dest.into()));
    }

    /// Replies queued and not yet sent.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    /// Sends every queued reply, as few `sendmmsg` calls as the kernel allows, and empties
    /// the outbox. A reply the kernel refuses is logged and skipped, as `send_to`'s errors
    /// were: the others still go out.
    pub fn flush(&mut self, socket: &UdpSocket) {
        let mut sent = 0;
        while sent < self.replies.len() {
            let (bytes, replies) = (&self.bytes, &self.replies[sent..]);
            let slices: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
                [IoSlice::new(replies.get(i).map_or(&[][..], |r| &bytes[r.clone()]))]
            });
            let count = replies.len().min(BATCH);
            let destinations = &self.destinations[sent..sent + count];
            match sendmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                slices[..count].iter(),
                destinations,
                [],
                MsgFlags::empty(),
            ) {
                // A blocking socket sends them all, or stops at the first it cannot send:
                // that one fails on its own in the next call, and is skipped then.
                Ok(results) => sent += results.count().max(1),
                Err(e) => {
                    tracing::debug!(error = %e, dest = ?self.destinations[sent], "udp send error");
                    sent += 1;
                }
            }
        }
        self.bytes.clear();
        self.replies.clear();
        self.destinations.clear();
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    address.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn socket() -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        socket
    }

    #[test]
    fn takes_every_queued_datagram_and_drops_none() {
        let (server, client) = (socket(), socket());
        let to = server.local_addr().unwrap();
        for i in 0..BATCH + 5 {
            client.send_to(&[i as u8; 20], to).unwrap();
        }
        let mut inbox = Inbox::new();
        let mut seen = Vec::new();
        while seen.len() < BATCH + 5 {
            let count = inbox.receive(&server).unwrap();
            assert!((1..=BATCH).contains(&count));
            for i in 0..count {
                let (bytes, received) = inbox.get(i);
                assert_eq!(
                    (bytes.len(), received.src, received.truncated),
                    (20, client.local_addr().unwrap(), false)
                );
                seen.push(bytes[0]);
            }
        }
        assert_eq!(seen, (0..BATCH as u8 + 5).collect::<Vec<_>>());
    }

    #[test]
    fn a_datagram_longer_than_a_query_is_marked_cut() {
        let (server, client) = (socket(), socket());
        client.send_to(&vec![1; MAX_QUERY + 100], server.local_addr().unwrap()).unwrap();
        client.send_to(&[2; 30], server.local_addr().unwrap()).unwrap();
        let mut inbox = Inbox::new();
        let mut got = Vec::new();
        while got.len() < 2 {
            for i in 0..inbox.receive(&server).unwrap() {
                let (bytes, received) = inbox.get(i);
                got.push((bytes.len(), received.truncated));
            }
        }
        assert_eq!(got, [(MAX_QUERY, true), (30, false)]);
    }

    #[test]
    fn sends_every_reply_and_skips_one_the_kernel_refuses() {
        let (server, client) = (socket(), socket());
        let to = client.local_addr().unwrap();
        let mut outbox = Outbox::new();
        for i in 0..BATCH + 3 {
            // An IPv6 destination on an IPv4 socket fails on its own.
            let dest = if i == 4 { "[::1]:53".parse().unwrap() } else { to };
            outbox.push(&[i as u8; 10], dest);
        }
        assert_eq!(outbox.len(), BATCH + 3);
        outbox.flush(&server);
        assert!(outbox.is_empty());
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..BATCH + 2 {
            let (len, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((len, from), (10, server.local_addr().unwrap()));
            got.push(buf[0]);
        }
        let expected: Vec<u8> = (0..BATCH as u8 + 3).filter(|&i| i != 4).collect();
        assert_eq!(got, expected);
    }
}
