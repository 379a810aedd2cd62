//! The response cache: a per-worker cache of complete responses (UDP workers, and each
//! runtime thread for TCP, whose cache is separate: TCP replies are never truncated), and
//! the one cache-or-compute step both transports answer through ([`respond`]).
//!
//! For a given snapshot of the zones, the response to a plain query depends only on its question
//! bytes (name as written, type, class) and its EDNS parameters (present or not, the
//! resulting UDP size, the DO bit); the ID and the RD/CD bits are copied from the query.
//! So each UDP worker keeps the general path's output for each such key, and answers a
//! repeat by copying it and patching those three fields. The bytes are identical to what
//! the general path produces for that query (tested), no lock is taken (each worker owns
//! its cache), and nothing is allocated on a hit.
//!
//! A new snapshot does not empty the cache: each entry belongs to the invalidation group
//! of its question's name ([`crate::zone::invalidation`]), and a worker that sees a new
//! snapshot drops only the groups the publications since changed ([`store`]). A negative
//! answer carries the zone's serial, which every change moves: a hit writes the current
//! one into the copy, so the answers of names a change did not touch stay cached.
//!
//! Queries with anything unusual (EDNS version ≠ 0, options beyond OPT, several questions,
//! compression in the question, trailing bytes) are not keyed and take the general path.

mod store;

use std::net::SocketAddr;

use hickory_server::net::xfer::Protocol;

pub use store::{Dropped, ResponseCache};

/// What a lookup in a response cache found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The answer was cached.
    Hit,
    /// It was not: never asked, or gone to make room or with everything.
    Miss,
    /// It was not, because a change dropped the cached one: its answer changed (or may
    /// have) since it was cached. The hit ratio of unchanged answers leaves these out.
    Changed,
}

use super::handler::{Handler, Response};
use crate::zone::Scope;

/// What answering one query through a cache did.
pub enum Answered {
    /// A cached reply, patched for this query, was appended to the output buffer; its
    /// query type and header bytes 2 and 3 (truncation, rcode), for the metrics.
    Cached {
        /// The question's type.
        qtype: Option<u16>,
        /// The reply's header bytes 2 and 3.
        flags: [u8; 2],
    },
    /// Not cached: the handler's response (cached now when it is a reply).
    Computed(Response),
}

/// Answers `packet` from `cache` when the same question was answered from the current
/// snapshot before (the reply, patched for this query, is appended to `out`), else
/// through [`Handler::respond`], whose reply is then cached. `key`: the query's key as
/// [`key`] built it; a query without one, a client that cannot be answered, or a
/// handler without the fast path always takes the handler.
pub fn respond(
    handler: &Handler,
    cache: &mut ResponseCache,
    key: Option<&[u8]>,
    packet: &[u8],
    src: SocketAddr,
    protocol: Protocol,
    out: &mut Vec<u8>,
) -> Answered {
    let zones = handler.zones().load();
    let Some(key) = key.filter(|_| handler.fast_path() && Handler::answerable(src)) else {
        return Answered::Computed(handler.respond(&zones, packet, src, protocol));
    };
    let dropped = cache.follow(&zones);
    if dropped != Dropped::default() {
        handler.observer().response_cache_dropped(dropped);
    }
    let at = out.len();
    if cache.answer(key, packet, out) {
        handler.observer().response_cache_lookup(Lookup::Hit);
        return Answered::Cached { qtype: qtype(key), flags: [out[at + 2], out[at + 3]] };
    }
    let lookup = if cache.was_dropped(key) { Lookup::Changed } else { Lookup::Miss };
    handler.observer().response_cache_lookup(lookup);
    let response = handler.respond(&zones, packet, src, protocol);
    if let Response::Reply(reply) = &response {
        let full = cache.insert(key, reply, zones.group_of(key));
        if full != 0 {
            handler.observer().response_cache_dropped(Dropped { full, ..Dropped::default() });
        }
    }
    Answered::Computed(response)
}

/// Builds the cache key of `packet` into `key`. `None`: not a plain query, take the
/// general path. `max_udp` is `--max-udp-size`, which with the client's EDNS size
/// decides truncation; `scope`, the listener's, decides what is REFUSED (TCP threads
/// share one cache between listeners).
pub fn key(packet: &[u8], max_udp: u16, scope: Scope, key: &mut Vec<u8>) -> Option<()> {
    key_question(packet, max_udp, key)?;
    key.push(scope.bits());
    Some(())
}

fn key_question(packet: &[u8], max_udp: u16, key: &mut Vec<u8>) -> Option<()> {
    key.clear();
    if packet.len() < 17 {
        return None;
    }
    let flags = packet[2];
    // QR=0, opcode QUERY, TC=0; one question, no answers or authorities, 0 or 1 additional.
    if flags & 0xfa != 0 || packet[4..10] != [0, 1, 0, 0, 0, 0] || packet[10] != 0 || packet[11] > 1 {
        return None;
    }
    let mut i = 12;
    loop {
        let len = usize::from(*packet.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len > 63 || i - 12 + len > 254 {
            return None; // compression pointer or over-long name
        }
        i += 1 + len;
    }
    let question_end = i + 4;
    key.extend_from_slice(packet.get(12..question_end)?);
    if packet[11] == 0 {
        if packet.len() != question_end {
            return None;
        }
        key.push(0);
        return Some(());
    }
    // The OPT record: root name, type 41, class = UDP size, TTL = ext-rcode/version/flags.
    let opt = packet.get(question_end..)?;
    if opt.len() != 11
        || opt[0] != 0
        || opt[1..3] != [0, 41]
        || opt[5] != 0
        || opt[6] != 0
        || opt[9..11] != [0, 0]
    {
        return None; // options, extended rcode or version ≠ 0: the general path decides
    }
    let size = u16::from_be_bytes([opt[3], opt[4]]).clamp(512, max_udp.max(512));
    key.push(1);
    key.extend_from_slice(&size.to_be_bytes());
    key.push(opt[7] & 0x80); // DO
    Some(())
}

/// Appends the response for `query` from a cached response to `out` (TCP batches
/// several replies in one buffer). `query` has a full header: [`key`] checked it.
pub fn append_patched(cached: &[u8], query: &[u8], out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(cached);
    let reply = &mut out[at..];
    reply[0] = query[0];
    reply[1] = query[1];
    reply[2] = (reply[2] & !0x01) | (query[2] & 0x01);
    reply[3] = (reply[3] & !0x10) | (query[3] & 0x10);
}

/// The query type of a key (for metrics).
pub fn qtype(key: &[u8]) -> Option<u16> {
    // The key starts with the question: labels up to the root, then type and class.
    let mut i = 0;
    loop {
        let len = usize::from(*key.get(i)?);
        i += 1 + len;
        if len == 0 {
            return Some(u16::from_be_bytes([*key.get(i)?, *key.get(i + 1)?]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(edns: Option<[u8; 11]>) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())];
        q.extend_from_slice(b"\x03web\x05local\x00\x00\x01\x00\x01");
        if let Some(opt) = edns {
            q.extend_from_slice(&opt);
        }
        q
    }

    #[test]
    fn keys_plain_queries_only() {
        let mut k = Vec::new();
        assert!(key(&query(None), 1232, Scope::ALL, &mut k).is_some());
        assert_eq!(qtype(&k), Some(1));
        let plain = k.clone();
        // EDNS 4096 with DO: capped at 1232, DO kept.
        assert!(
            key(&query(Some([0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0])), 1232, Scope::ALL, &mut k).is_some()
        );
        assert_ne!(k, plain);
        assert_eq!(&k[k.len() - 5..k.len() - 1], &[1, 0x04, 0xd0, 0x80]);
        // Version 1, options, trailing bytes, QR=1, opcode ≠ 0, two questions: general path.
        assert!(key(&query(Some([0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0])), 1232, Scope::ALL, &mut k).is_none());
        assert!(key(&query(Some([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 4, 0])), 1232, Scope::ALL, &mut k).is_none());
        let mut trailing = query(None);
        trailing.push(0);
        assert!(key(&trailing, 1232, Scope::ALL, &mut k).is_none());
        let mut response = query(None);
        response[2] |= 0x80;
        assert!(key(&response, 1232, Scope::ALL, &mut k).is_none());
        let mut notify = query(None);
        notify[2] = 4 << 3;
        assert!(key(&notify, 1232, Scope::ALL, &mut k).is_none());
        let mut two = query(None);
        two[5] = 2;
        assert!(key(&two, 1232, Scope::ALL, &mut k).is_none());
        assert!(key(&[0u8; 5], 1232, Scope::ALL, &mut k).is_none());
    }

    #[test]
    fn append_patched_leaves_earlier_replies_alone() {
        let cached = [0xaa, 0xbb, 0x85, 0x00, 0, 1];
        let mut out = vec![7, 7];
        append_patched(&cached, &[0x12, 0x34, 0x01, 0x00, 0, 1], &mut out);
        append_patched(&cached, &[0x56, 0x78, 0x00, 0x10, 0, 1], &mut out);
        assert_eq!(out, [7, 7, 0x12, 0x34, 0x85, 0x00, 0, 1, 0x56, 0x78, 0x84, 0x10, 0, 1]);
    }

    #[test]
    fn patch_copies_id_rd_and_cd() {
        let cached = [0xaa, 0xbb, 0x85, 0x00, 0, 1];
        let mut out = Vec::new();
        append_patched(&cached, &[0x12, 0x34, 0x00, 0x10, 0, 1], &mut out);
        assert_eq!(out, [0x12, 0x34, 0x84, 0x10, 0, 1]);
    }
}
