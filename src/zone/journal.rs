//! A zone's history for IXFR (RFC 1995): the records deleted and added by each recent
//! change, bounded in bytes (`--ixfr-journal`), and their condensation from a client's
//! serial to the current one.
//!
//! Plain data published with the zone, so an IXFR answer reads the differences and the
//! SOA of one serial. Which records a change deleted and added is the index's to find
//! (`index::journal`); this only keeps them and answers from them.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record};

/// Default `--ixfr-journal`: 1 MiB of differences, thousands of pod reschedules.
pub const DEFAULT_BYTES: usize = 1 << 20;

/// The difference between two consecutive serials.
#[derive(Debug)]
pub struct Delta {
    /// The serial before.
    pub from: u32,
    /// The serial after.
    pub to: u32,
    /// Records removed, in zone order.
    pub deleted: Vec<Record>,
    /// Records added, in zone order.
    pub added: Vec<Record>,
    /// What the records take on the wire (an upper bound), against the journal's limit.
    pub bytes: usize,
}

/// Differences between recent serials, oldest first. Cheap to clone (persistent vector).
#[derive(Debug, Clone)]
pub struct Journal {
    entries: imbl::Vector<Arc<Delta>>,
    bytes: usize,
    limit: usize,
}

/// A record's identity for differences: owner, TTL and data (the data implies the type).
pub type RrKey = (Name, u32, RData);

/// The identity of `r` for differences (its owner lower-cased).
pub fn rr_key(r: &Record) -> RrKey {
    (r.name.to_lowercase(), r.ttl, r.data.clone())
}

impl Journal {
    /// An empty journal keeping at most `limit` bytes of differences (0: none, every IXFR
    /// is answered with the whole zone).
    pub fn new(limit: usize) -> Self {
        Self { entries: imbl::Vector::new(), bytes: 0, limit }
    }

    /// Number of differences kept.
    pub fn depth(&self) -> usize {
        self.entries.len()
    }

    /// Approximate bytes of records kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The most bytes kept (`--ixfr-journal`).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The oldest serial an IXFR can start from, if any.
    pub fn oldest(&self) -> Option<u32> {
        self.entries.front().map(|d| d.from)
    }

    /// The serial the newest difference leads to, if any.
    pub fn newest(&self) -> Option<u32> {
        self.entries.back().map(|d| d.to)
    }

    /// Forgets everything (the zone changed in a way that cannot be diffed: a sync lost
    /// or regained, the first build, a change too large to keep).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Appends the newest difference, dropping the oldest ones past the limit.
    pub fn push(&mut self, delta: Delta) {
        self.bytes += delta.bytes;
        self.entries.push_back(Arc::new(delta));
        while self.bytes > self.limit {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= oldest.bytes;
        }
    }

    /// The condensed difference from `serial` to `current`: every record deleted and
    /// added since, a record added then deleted again appearing in neither. `None` when
    /// `serial` is not in the journal (too old, or never ours).
    pub fn since(&self, serial: u32, current: u32) -> Option<(Vec<Record>, Vec<Record>)> {
        let start = self.entries.iter().position(|d| d.from == serial)?;
        if self.newest() != Some(current) {
            return None;
        }
        // Record -> (insertion order, record); an entry in `deleted` cancels one in `added`.
        let mut deleted: HashMap<RrKey, (usize, Record)> = HashMap::new();
        let mut added: HashMap<RrKey, (usize, Record)> = HashMap::new();
        let mut order = 0;
        for delta in self.entries.iter().skip(start) {
            for r in &delta.deleted {
                let key = rr_key(r);
                if added.remove(&key).is_none() {
                    order += 1;
                    deleted.insert(key, (order, r.clone()));
                }
            }
            for r in &delta.added {
                let key = rr_key(r);
                if deleted.remove(&key).is_none() {
                    order += 1;
                    added.insert(key, (order, r.clone()));
                }
            }
        }
        let sorted = |map: HashMap<RrKey, (usize, Record)>| {
            let mut v: Vec<(usize, Record)> = map.into_values().collect();
            v.sort_by_key(|(i, _)| *i);
            v.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
        };
        Some((sorted(deleted), sorted(added)))
    }
}
