//! The IXFR journal (RFC 1995): the records deleted and added by each recent change,
//! bounded in bytes (`--ixfr-journal`).
//!
//! The index knows which services a commit changed; the difference of the commit is the
//! records of those services (their forward names, and the PTR names of every address
//! they published before or after) in the zone before minus those in the zone after, and
//! the reverse. Both zones are immutable snapshots, so this is pure: the same lookups
//! that answer queries produce the records, and a secondary that applies the differences
//! ends up with exactly what an AXFR would give it. The journal is published inside the
//! zone snapshot, so an IXFR answer reads differences and SOA of one serial.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cluster::SharedStr;
use crate::cluster::{ObjectKey, PodAddresses};
use crate::zone::Zone;

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
    bytes: usize,
}

/// Differences between recent serials, oldest first. Cheap to clone (persistent vector).
#[derive(Debug, Clone)]
pub struct Journal {
    entries: imbl::Vector<Arc<Delta>>,
    bytes: usize,
    limit: usize,
}

/// A record's identity for differences: owner, TTL and data (the data implies the type).
type RrKey = (Name, u32, RData);

fn rr_key(r: &Record) -> RrKey {
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

    /// The oldest serial an IXFR can start from, if any.
    pub fn oldest(&self) -> Option<u32> {
        self.entries.front().map(|d| d.from)
    }

    /// Forgets everything (the zone changed in a way that cannot be diffed: a sync lost
    /// or regained, the first build).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Records the change from `old` to `new`, whose records changed only in the services
    /// `changed` and in the pod records of `pod_addresses` (`(namespace, address)` pairs;
    /// `None`: too many pods changed to say which, and the journal starts over). Drops the
    /// oldest differences past the limit; a change bigger than the whole limit empties the
    /// journal (IXFRs from before it get the whole zone).
    pub fn record(
        &mut self,
        old: &Zone,
        new: &Zone,
        changed: &[ObjectKey],
        pod_addresses: Option<&PodAddresses>,
    ) {
        if old.serial() == new.serial() {
            return;
        }
        let Some(pod_addresses) = pod_addresses else {
            self.clear();
            return;
        };
        if !old.is_synced() || !new.is_synced() || self.entries.back().is_some_and(|d| d.to != old.serial()) {
            self.clear();
        }
        let Some(delta) = diff(old, new, changed, pod_addresses, self.limit) else {
            self.clear();
            return;
        };
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
        if self.entries.back().map(|d| d.to) != Some(current) {
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

/// What of a changed service can differ between two zones: the endpoints (label and
/// address) present in only one of them. Names of endpoints present in both are
/// unchanged and skipped, so one rescheduled pod of a 10k-pod service costs a few
/// lookups plus the service-wide RRsets, not 10k lookups.
#[derive(Default)]
struct Touched {
    labels: BTreeSet<(ObjectKey, SharedStr)>,
    addresses: BTreeSet<IpAddr>,
}

impl Touched {
    fn of(old: &Zone, new: &Zone, changed: &[ObjectKey]) -> Self {
        let mut touched = Touched::default();
        for key in changed {
            let endpoints = |zone: &Zone| {
                zone.service(&key.namespace, &key.name).map(|r| r.endpoints.clone()).unwrap_or_default()
            };
            let (before, after) = (endpoints(old), endpoints(new));
            let only = |a: &[crate::zone::Endpoint], b: &[crate::zone::Endpoint]| {
                a.iter().filter(|e| b.binary_search(e).is_err()).cloned().collect::<Vec<_>>()
            };
            for e in only(&before, &after).into_iter().chain(only(&after, &before)) {
                touched.labels.insert((key.clone(), e.label.clone()));
                touched.addresses.insert(e.ip());
            }
            // A ClusterIP service's addresses have PTR records too.
            let published = |zone: &Zone| -> BTreeSet<IpAddr> {
                zone.service(&key.namespace, &key.name)
                    .map(|r| r.published_ips().collect())
                    .unwrap_or_default()
            };
            let (before, after) = (published(old), published(new));
            touched.addresses.extend(before.symmetric_difference(&after));
        }
        touched
    }
}

/// The records the services `changed` contribute to `zone` that may differ: their
/// service-wide names (address, SRV), the names of the touched endpoints, and the PTR
/// names of the touched addresses; and the pod records of `pod_addresses`. Generic:
/// whatever [`Zone::service_queries`] and [`Zone::pod_record_query`] yield.
fn records_of(
    zone: &Zone,
    changed: &[ObjectKey],
    touched: &Touched,
    pod_addresses: &PodAddresses,
) -> Vec<Record> {
    let mut queries = Vec::new();
    for key in changed {
        let Some(records) = zone.service(&key.namespace, &key.name) else { continue };
        let mut all = Vec::new();
        zone.service_queries(key, records, &mut all);
        let depth = zone.service_name(key).num_labels() + 1;
        queries.extend(all.into_iter().filter(|(name, _)| {
            // An endpoint's name is one label under the service's, not an `_port` label.
            let label = name.iter().next().map(String::from_utf8_lossy).unwrap_or_default();
            name.num_labels() != depth
                || label.starts_with('_')
                || touched.labels.contains(&(key.clone(), label.into()))
        }));
    }
    queries.extend(touched.addresses.iter().map(|ip| (Name::from(*ip), RecordType::PTR)));
    queries.extend(pod_addresses.iter().map(|(namespace, ip)| zone.pod_record_query(namespace, *ip)));
    queries.into_iter().flat_map(|(name, qtype)| zone.lookup(&name, qtype, DNSClass::IN).answers).collect()
}

/// The difference between `old` and `new` in the services `changed`; `None` when it
/// would take more than `limit` bytes.
fn diff(
    old: &Zone,
    new: &Zone,
    changed: &[ObjectKey],
    pod_addresses: &PodAddresses,
    limit: usize,
) -> Option<Delta> {
    let touched = Touched::of(old, new, changed);
    let before = records_of(old, changed, &touched, pod_addresses);
    let after = records_of(new, changed, &touched, pod_addresses);
    let mut remaining: HashMap<RrKey, usize> = HashMap::new();
    for r in &after {
        *remaining.entry(rr_key(r)).or_default() += 1;
    }
    let mut deleted = Vec::new();
    for r in before.iter() {
        match remaining.get_mut(&rr_key(r)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => deleted.push(r.clone()),
        }
    }
    let mut gone: HashMap<RrKey, usize> = HashMap::new();
    for r in &before {
        *gone.entry(rr_key(r)).or_default() += 1;
    }
    let mut added = Vec::new();
    for r in after {
        match gone.get_mut(&rr_key(&r)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => added.push(r),
        }
    }
    let bytes: usize = deleted.iter().chain(&added).map(crate::dns::encode::record_size).sum::<usize>() + 64;
    (bytes <= limit).then_some(Delta { from: old.serial(), to: new.serial(), deleted, added, bytes })
}
