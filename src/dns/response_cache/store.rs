//! One worker's cached responses, kept across snapshots of the zones: a new snapshot
//! drops only the entries of the invalidation groups it changed
//! ([`crate::zone::invalidation`]), and a hit patches in the current SOA serial.

use std::hash::BuildHasher;
use std::sync::Arc;

use crate::zone::Zones;
use crate::zone::invalidation::{Group, Grouped, Invalidation, Position};

/// Entries per worker before the older half of them goes (or before [`ARENA_BYTES`],
/// whichever comes first): large enough for a large cluster's working set of questions.
/// Every worker sees every name, and a working set even slightly larger than the cache
/// would cycle through it, missing nearly always (dnsperf reads its query file in
/// order); a flood of random names only makes it cycle.
pub(super) const CAPACITY: usize = 262_144;

/// Bytes of arena before the cache is compacted or its older half dropped: with
/// [`CAPACITY`], the bound on a worker's cache whatever the responses' sizes (TCP replies
/// go up to 64 KiB).
pub(super) const ARENA_BYTES: usize = 32 << 20;

/// An entry's header: the response's length, the key's, how many of the key's last bytes
/// are stored, and where in the response the SOA serial is (0: nowhere), 2 bytes each,
/// little endian (a key is at most 264 bytes, a DNS message at most 65,535); then which
/// zone's serial that is (1 byte). The key's other bytes, its first, are the response's
/// from byte 12 on: a key is the question as the client wrote it, and the response
/// repeats that question right after its header, so only the key's EDNS part (1 or 4
/// bytes) is stored, not the whole question again.
pub(super) const HEADER: usize = 9;

/// Where a response repeats its question (after the 12-byte DNS header).
const QUESTION: usize = 12;

/// How many entries following a new snapshot dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Entries whose group the snapshot changed.
    pub changed: usize,
    /// Entries dropped all at once (a change to every answer, or a cache too far behind).
    pub cleared: usize,
    /// Entries dropped to make room: the older half of a full cache.
    pub full: usize,
}

/// One worker's responses. Keyed with foldhash, seeded per process: SipHash was a fifth
/// of the instructions of a cache hit, and the keys are client-chosen, so the hasher
/// stays randomly seeded (and the cache is bounded).
///
/// *Layout:* every entry (its response, and what of its key the response does not hold)
/// is appended to one byte arena, and the hash table holds only each entry's 4-byte
/// offset. A hit reads the table and one stretch of the arena, where a map of boxed keys
/// and boxed responses chased two pointers to two unrelated allocations: the lookup and
/// the key's `memcmp` were more than half of a hit's user time (`perf`, UDP, 1 worker),
/// nearly all of it waiting on memory. Emptying the cache is two `clear`s, not a free per
/// entry; an entry dropped by its group leaves its bytes in the arena until the arena is
/// full, when the live entries are copied into a new one.
pub struct ResponseCache {
    /// The snapshot followed, kept so that its address is not reused by a newer one.
    zones: Option<Arc<Zones>>,
    /// Where in the zones' change log that snapshot is.
    position: Position,
    /// The followed snapshot's serials ([`Zones::serials`]).
    serials: Vec<u32>,
    hasher: foldhash::fast::RandomState,
    /// Offsets into `arena`, found by the hash of the key stored there.
    table: hashbrown::HashTable<u32>,
    /// Entries one after another: a [`HEADER`], the key's bytes the response does not
    /// already hold, the response.
    arena: Vec<u8>,
    /// The offsets of each group's entries.
    groups: hashbrown::HashMap<Group, Vec<u32>, foldhash::fast::RandomState>,
    /// Bytes of the arena held by dropped entries.
    dead: usize,
    /// The key hashes of entries a change dropped and not asked for since (bounded): a
    /// miss on one of them is a miss because the answer changed, not a cold one.
    dropped_keys: hashbrown::HashSet<u64, foldhash::fast::RandomState>,
}

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
    /// Where the response's SOA serial is (0: none), and whose it is.
    serial_at: usize,
    serial_zone: usize,
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

    /// Its bytes in the arena.
    fn size(&self) -> usize {
        HEADER + self.rest.len() + self.response.len()
    }
}

impl ResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            zones: None,
            position: Position::default(),
            serials: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            table: hashbrown::HashTable::new(),
            arena: Vec::new(),
            groups: hashbrown::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            dead: 0,
            dropped_keys: hashbrown::HashSet::with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    /// Moves to `zones` if it is not the snapshot followed: drops the entries of every
    /// group the publications since changed (everything, when that cannot be told).
    pub fn follow(&mut self, zones: &Arc<Zones>) -> Dropped {
        let mut dropped = Dropped::default();
        if self.zones.as_ref().is_some_and(|z| Arc::ptr_eq(z, zones)) {
            return dropped;
        }
        let log = zones.changes();
        let mut all = true;
        if let Some(since) = log.since(self.position) {
            all = false;
            for invalidation in since {
                match invalidation {
                    Invalidation::All => {
                        all = true;
                        break;
                    }
                    Invalidation::Groups(groups) => {
                        dropped.changed += groups.iter().map(|g| self.evict(*g)).sum::<usize>();
                    }
                }
            }
            dropped.changed += self.evict(Group::volatile());
        }
        if all {
            dropped.cleared = self.len();
            self.clear();
        }
        self.position = log.position();
        self.serials = zones.serials();
        self.zones = Some(Arc::clone(zones));
        dropped
    }

    fn clear(&mut self) {
        self.table.clear();
        self.arena.clear();
        self.groups.clear();
        self.dead = 0;
        self.dropped_keys.clear();
    }

    /// Drops the entries of `group`; returns how many there were.
    fn evict(&mut self, group: Group) -> usize {
        let Some(offsets) = self.groups.remove(&group) else { return 0 };
        if self.dropped_keys.len() + offsets.len() > CAPACITY {
            self.dropped_keys.clear();
        }
        for &offset in &offsets {
            let entry = Self::entry(&self.arena, offset);
            let hash = entry.hash(&self.hasher);
            self.dropped_keys.insert(hash);
            self.dead += entry.size();
            if let Ok(found) = self.table.find_entry(hash, |&o| o == offset) {
                found.remove();
            }
        }
        offsets.len()
    }

    /// The entry at `offset`.
    fn entry(arena: &[u8], offset: u32) -> Entry<'_> {
        let at = offset as usize;
        let field = |i: usize| usize::from(u16::from_le_bytes([arena[at + i], arena[at + i + 1]]));
        let (response_len, key_len, rest_len, serial_at) = (field(0), field(2), field(4), field(6));
        let rest = at + HEADER;
        let response = &arena[rest + rest_len..rest + rest_len + response_len];
        // The key's shared bytes: none, or some of the response's from byte 12 on.
        let shared = &response[QUESTION.min(response.len())..][..key_len - rest_len];
        let serial_zone = usize::from(arena[at + 8]);
        Entry { shared, rest: &arena[rest..rest + rest_len], response, serial_at, serial_zone }
    }

    fn find(&self, key: &[u8]) -> Option<Entry<'_>> {
        let hash = self.hasher.hash_one(key);
        let arena = &self.arena;
        let offset = self.table.find(hash, |&offset| Self::entry(arena, offset).is(key))?;
        Some(Self::entry(arena, *offset))
    }

    /// Whether `key`'s entry was dropped by a change since it was last asked for (and
    /// forgets it): a miss on it is a miss because its answer changed.
    pub fn was_dropped(&mut self, key: &[u8]) -> bool {
        let hash = self.hasher.hash_one(key);
        self.dropped_keys.remove(&hash)
    }

    /// The cached response for `key`, as it was stored (its serial not patched).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|e| e.response)
    }

    /// Appends the cached response for `key` to `out`, patched for `query` (its ID, RD
    /// and CD bits; the current serial). Returns whether there was one.
    pub fn answer(&self, key: &[u8], query: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(entry) = self.find(key) else { return false };
        let at = out.len();
        super::append_patched(entry.response, query, out);
        if entry.serial_at != 0
            && let Some(serial) = self.serials.get(entry.serial_zone)
        {
            let serial = serial.to_be_bytes();
            out[at + entry.serial_at..at + entry.serial_at + 4].copy_from_slice(&serial);
        }
        true
    }

    /// Remembers a response to a question of `grouped` (a key or response too long for an
    /// entry is not cached). Returns how many entries went to make room for it.
    pub fn insert(&mut self, key: &[u8], response: &[u8], grouped: Grouped) -> usize {
        let (Ok(key_len), Ok(response_len)) = (u16::try_from(key.len()), u16::try_from(response.len()))
        else {
            return 0;
        };
        // How much of the key the response holds from byte 12 on.
        let shared = response
            .get(QUESTION..)
            .map_or(0, |question| key.iter().zip(question).take_while(|(k, q)| k == q).count());
        let rest = &key[shared..];
        let size = HEADER + rest.len() + response.len();
        let mut made_room = 0;
        if self.table.len() >= CAPACITY || self.arena.len() + size > ARENA_BYTES {
            made_room = self.make_room(size);
        }
        if self.find(key).is_some() {
            return made_room;
        }
        let serial_zone = grouped.serial_of.unwrap_or(0);
        let serial_at = grouped
            .serial_of
            .and_then(|_| crate::wire::soa_serial_offset(response))
            .and_then(|at| u16::try_from(at).ok())
            .unwrap_or(0);
        let offset = u32::try_from(self.arena.len()).expect("the arena is bounded by ARENA_BYTES");
        let rest_len = u16::try_from(rest.len()).expect("at most the key's length");
        for field in [response_len, key_len, rest_len, serial_at] {
            self.arena.extend_from_slice(&field.to_le_bytes());
        }
        self.arena.push(serial_zone);
        self.arena.extend_from_slice(rest);
        self.arena.extend_from_slice(response);
        let hash = self.hasher.hash_one(key);
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.table.insert_unique(hash, offset, |&offset| Self::entry(arena, offset).hash(hasher));
        self.groups.entry(grouped.group).or_default().push(offset);
        made_room
    }

    /// Makes room for an entry of `size` bytes at a bound: copies the live entries into a
    /// new arena when dropped ones hold half of it, else drops the entries in the older
    /// half of the arena (it is in insertion order) and copies the others. Returns how
    /// many live entries went.
    fn make_room(&mut self, size: usize) -> usize {
        let live = self.arena.len() - self.dead;
        let before = self.len();
        if self.table.len() < CAPACITY && self.dead >= live && live + size <= ARENA_BYTES {
            self.compact(0);
        } else {
            self.compact(u32::try_from(self.arena.len() / 2).unwrap_or(u32::MAX));
        }
        before - self.len()
    }

    /// Copies the live entries from offset `keep_from` on into a new arena, in their order
    /// (so that the arena stays in insertion order), without the dropped ones' bytes.
    fn compact(&mut self, keep_from: u32) {
        let old = std::mem::take(&mut self.arena);
        let groups = std::mem::take(&mut self.groups);
        self.table.clear();
        self.dead = 0;
        let mut live: Vec<(u32, Group)> = groups
            .into_iter()
            .flat_map(|(group, offsets)| offsets.into_iter().map(move |o| (o, group)))
            .filter(|&(offset, _)| offset >= keep_from)
            .collect();
        live.sort_unstable_by_key(|&(offset, _)| offset);
        self.arena.reserve(old.len() / 2);
        for (offset, group) in live {
            let entry = Self::entry(&old, offset);
            let start = offset as usize;
            let new = u32::try_from(self.arena.len()).expect("smaller than the old arena");
            self.arena.extend_from_slice(&old[start..start + entry.size()]);
            let hash = entry.hash(&self.hasher);
            let (arena, hasher) = (&self.arena, &self.hasher);
            self.table.insert_unique(hash, new, |&offset| Self::entry(arena, offset).hash(hasher));
            self.groups.entry(group).or_default().push(new);
        }
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
mod tests;
