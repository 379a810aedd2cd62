//! The response cache: a per-worker cache of complete responses (UDP workers, and each
//! runtime thread for TCP, whose cache is separate: TCP replies are never truncated), and
//! the one cache-or-compute step both transports answer through ([`respond`]).
//!
//! For a given snapshot of the zones, the response to a plain query depends only on its question
//! bytes (name as written, type, class) and its EDNS parameters (present or not, the
//! resulting UDP size, the DO bit); the ID and the RD/CD bits are copied from the query.
//! So each UDP worker keeps, per snapshot, the general path's output for each such key,
//! and answers a repeat by copying it and patching those three fields. The bytes are
//! identical to what the general path produces for that query (tested), no lock is taken
//! (each worker owns its cache), and nothing is allocated on a hit.
//!
//! Queries with anything unusual (EDNS version ≠ 0, options beyond OPT, several questions,
//! compression in the question, trailing bytes) are not keyed and take the general path.

use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_server::net::xfer::Protocol;

use super::handler::{Handler, Response};
use crate::zone::Zones;

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
    cache.follow(&zones);
    if let Some(cached) = cache.get(key) {
        let at = out.len();
        append_patched(cached, packet, out);
        return Answered::Cached { qtype: qtype(key), flags: [out[at + 2], out[at + 3]] };
    }
    let response = handler.respond(&zones, packet, src, protocol);
    if let Response::Reply(reply) = &response {
        cache.insert(key, reply);
    }
    Answered::Computed(response)
}

/// Entries per worker before the cache is emptied (or before [`ARENA_BYTES`], whichever
/// comes first): large enough for a cluster's working set of questions (the benchmark
/// mix's distinct questions fit several times over); a flood of random names only makes
/// it cycle.
const CAPACITY: usize = 65_536;

/// Builds the cache key of `packet` into `key`. `None`: not a plain query, take the
/// general path. `max_udp` is `--max-udp-size`, which with the client's EDNS size
/// decides truncation.
pub fn key(packet: &[u8], max_udp: u16, key: &mut Vec<u8>) -> Option<()> {
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

/// One worker's responses for the current zone snapshot. Keyed with foldhash, seeded
/// per process: SipHash was a fifth of the instructions of a cache hit, and the keys are
/// client-chosen, so the hasher stays randomly seeded (and the cache is bounded).
///
/// *Layout:* every entry (its response, and what of its key the response does not hold)
/// is appended to one byte arena, and the hash table holds only each entry's 4-byte
/// offset. A hit reads the table and one stretch of the arena, where a map of boxed keys
/// and boxed responses chased two pointers to two unrelated allocations: the lookup and
/// the key's `memcmp` were more than half of a hit's user time (`perf`, UDP, 1 worker),
/// nearly all of it waiting on memory. Emptying the cache for a new snapshot is two
/// `clear`s, not a free per entry.
pub struct ResponseCache {
    zones: Option<Arc<Zones>>,
    hasher: foldhash::fast::RandomState,
    /// Offsets into `arena`, found by the hash of the key stored there.
    table: hashbrown::HashTable<u32>,
    /// Entries one after another: a [`HEADER`], the key's bytes the response does not
    /// already hold, the response.
    arena: Vec<u8>,
}

/// Bytes of arena before the cache is emptied: with [`CAPACITY`], the bound on a
/// worker's cache whatever the responses' sizes (TCP replies go up to 64 KiB).
const ARENA_BYTES: usize = 16 << 20;

/// An entry's header: the response's length, the key's, and how many of the key's last
/// bytes are stored (2 bytes each, little endian; a key is at most 264 bytes, a DNS
/// message at most 65,535). The key's other bytes, its first, are the response's from
/// byte 12 on: a key is the question as the client wrote it, and the response repeats
/// that question right after its header, so only the key's EDNS part (1 or 4 bytes) is
/// stored, not the whole question again.
const HEADER: usize = 6;

/// Where a response repeats its question (after the 12-byte DNS header).
const QUESTION: usize = 12;

impl Default for ResponseCache {
    fn default() -> Self {
        Self::new()
    }
}

/// One entry read from the arena.
struct Entry<'a> {
    /// The key's first bytes, found in the response.
    shared: &'a [u8],
    /// The key's other bytes.
    rest: &'a [u8],
    response: &'a [u8],
}

impl Entry<'_> {
    fn is(&self, key: &[u8]) -> bool {
        key.len() == self.shared.len() + self.rest.len()
            && key[..self.shared.len()] == *self.shared
            && key[self.shared.len()..] == *self.rest
    }

    fn hash(&self, hasher: &foldhash::fast::RandomState) -> u64 {
        let key: Vec<u8> = [self.shared, self.rest].concat();
        hasher.hash_one(&key[..])
    }
}

impl ResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            zones: None,
            hasher: foldhash::fast::RandomState::default(),
            table: hashbrown::HashTable::new(),
            arena: Vec::new(),
        }
    }

    /// Forgets everything if `zones` is not the snapshot the cache was filled from. The
    /// cache holds that snapshot, so its address cannot be reused by a newer one.
    pub fn follow(&mut self, zones: &Arc<Zones>) {
        if !self.zones.as_ref().is_some_and(|z| Arc::ptr_eq(z, zones)) {
            self.clear();
            self.zones = Some(Arc::clone(zones));
        }
    }

    fn clear(&mut self) {
        self.table.clear();
        self.arena.clear();
    }

    /// The entry at `offset`.
    fn entry(arena: &[u8], offset: u32) -> Entry<'_> {
        let at = offset as usize;
        let field = |i: usize| usize::from(u16::from_le_bytes([arena[at + i], arena[at + i + 1]]));
        let (response_len, key_len, rest_len) = (field(0), field(2), field(4));
        let rest = at + HEADER;
        let response = &arena[rest + rest_len..rest + rest_len + response_len];
        // The key's shared bytes: none, or some of the response's from byte 12 on.
        let shared = &response[QUESTION.min(response.len())..][..key_len - rest_len];
        Entry { shared, rest: &arena[rest..rest + rest_len], response }
    }

    /// The cached response for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let hash = self.hasher.hash_one(key);
        let arena = &self.arena;
        let offset = self.table.find(hash, |&offset| Self::entry(arena, offset).is(key))?;
        Some(Self::entry(arena, *offset).response)
    }

    /// Remembers a response (a key or response too long for an entry is not cached).
    pub fn insert(&mut self, key: &[u8], response: &[u8]) {
        let (Ok(key_len), Ok(response_len)) = (u16::try_from(key.len()), u16::try_from(response.len()))
        else {
            return;
        };
        // How much of the key the response holds from byte 12 on.
        let shared = response
            .get(QUESTION..)
            .map_or(0, |question| key.iter().zip(question).take_while(|(k, q)| k == q).count());
        let rest = &key[shared..];
        let size = HEADER + rest.len() + response.len();
        if self.table.len() >= CAPACITY || self.arena.len() + size > ARENA_BYTES {
            self.clear();
        }
        if self.get(key).is_some() {
            return;
        }
        let offset = u32::try_from(self.arena.len()).expect("the arena is bounded by ARENA_BYTES");
        let rest_len = u16::try_from(rest.len()).expect("at most the key's length");
        for field in [response_len, key_len, rest_len] {
            self.arena.extend_from_slice(&field.to_le_bytes());
        }
        self.arena.extend_from_slice(rest);
        self.arena.extend_from_slice(response);
        let hash = self.hasher.hash_one(key);
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table.insert_unique(hash, offset, |&offset| Self::entry(arena, offset).hash(hasher));
    }

    /// Entries cached.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
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
        assert!(key(&query(None), 1232, &mut k).is_some());
        assert_eq!(qtype(&k), Some(1));
        let plain = k.clone();
        // EDNS 4096 with DO: capped at 1232, DO kept.
        assert!(key(&query(Some([0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0])), 1232, &mut k).is_some());
        assert_ne!(k, plain);
        assert_eq!(&k[k.len() - 4..], &[1, 0x04, 0xd0, 0x80]);
        // Version 1, options, trailing bytes, QR=1, opcode ≠ 0, two questions: general path.
        assert!(key(&query(Some([0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0])), 1232, &mut k).is_none());
        assert!(key(&query(Some([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 4, 0])), 1232, &mut k).is_none());
        let mut trailing = query(None);
        trailing.push(0);
        assert!(key(&trailing, 1232, &mut k).is_none());
        let mut response = query(None);
        response[2] |= 0x80;
        assert!(key(&response, 1232, &mut k).is_none());
        let mut notify = query(None);
        notify[2] = 4 << 3;
        assert!(key(&notify, 1232, &mut k).is_none());
        let mut two = query(None);
        two[5] = 2;
        assert!(key(&two, 1232, &mut k).is_none());
        assert!(key(&[0u8; 5], 1232, &mut k).is_none());
    }

    #[test]
    fn the_cache_answers_each_key_with_its_own_response() {
        let mut cache = ResponseCache::new();
        let keys: Vec<Vec<u8>> = (0..5_000u32).map(|i| format!("key-{i}").into_bytes()).collect();
        for (i, k) in keys.iter().enumerate() {
            cache.insert(k, &vec![i as u8; i % 700]);
        }
        assert_eq!(cache.len(), 5_000);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(cache.get(k), Some(&vec![i as u8; i % 700][..]), "key {i}");
        }
        // A prefix or an extension of a key is another key.
        assert_eq!(cache.get(b"key-1"), Some(&[1u8][..]));
        assert_eq!(cache.get(b"key-"), None);
        assert_eq!(cache.get(b"key-49999"), None);
        // The first response stays (the same key always gets the same bytes).
        cache.insert(b"key-3", b"other");
        assert_eq!(cache.get(b"key-3"), Some(&[3u8, 3, 3][..]));
        assert_eq!(cache.len(), 5_000);
        // An empty key or response is an entry like any other; a response over 64 KiB is
        // not cached.
        cache.insert(b"", b"");
        assert_eq!(cache.get(b""), Some(&[][..]));
        cache.insert(b"huge", &vec![0; 70_000]);
        assert_eq!(cache.get(b"huge"), None);
    }

    #[test]
    fn a_key_is_stored_once_where_the_response_repeats_it() {
        let mut cache = ResponseCache::new();
        let mut k = Vec::new();
        let packet = query(Some([0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]));
        key(&packet, 1232, &mut k).unwrap();
        // A response repeating the question, as the general path's do.
        let mut response = vec![0xaa, 0xbb, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
        response.extend_from_slice(&packet[12..]);
        response.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
        cache.insert(&k, &response);
        assert_eq!(cache.get(&k), Some(&response[..]));
        // Only the EDNS part (4 bytes) is stored besides the header and the response.
        assert_eq!(cache.arena.len(), HEADER + 4 + response.len());
        // The same question with another EDNS part, or another question: other keys.
        let mut other = k.clone();
        *other.last_mut().unwrap() = 0;
        assert_eq!(cache.get(&other), None);
        let mut plain = Vec::new();
        key(&query(None), 1232, &mut plain).unwrap();
        assert_eq!(cache.get(&plain), None);
        let mut upper = k.clone();
        upper[1] = b'W';
        assert_eq!(cache.get(&upper), None);
        assert_eq!(cache.get(&k[..k.len() - 1]), None);
        // Those keys get their own entries, each answered with its own response.
        cache.insert(&plain, b"plain");
        cache.insert(&upper, b"upper");
        assert_eq!((cache.get(&plain), cache.get(&upper)), (Some(&b"plain"[..]), Some(&b"upper"[..])));
        assert_eq!(cache.get(&k), Some(&response[..]));
    }

    #[test]
    fn the_cache_empties_at_its_bounds() {
        let mut cache = ResponseCache::new();
        for i in 0..CAPACITY as u32 {
            cache.insert(&i.to_le_bytes(), b"r");
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert(b"one more", b"r");
        assert_eq!((cache.len(), cache.get(&0u32.to_le_bytes())), (1, None));
        assert_eq!(cache.get(b"one more"), Some(&b"r"[..]));
        // Large responses: emptied by bytes long before the entry count.
        let big = vec![7u8; 60_000];
        let fits = ARENA_BYTES / (HEADER + 4 + big.len());
        for i in 0..fits as u32 + 1 {
            cache.insert(&i.to_le_bytes(), &big);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.arena.len() <= ARENA_BYTES);
        assert_eq!(cache.get(&(fits as u32).to_le_bytes()), Some(&big[..]));
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
