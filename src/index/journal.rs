//! Recording a commit's differences in the IXFR journal (RFC 1995).
//!
//! The index knows which services a commit changed; the difference of the commit is the
//! records of those services (their forward names, and the PTR names of every address
//! they published before or after) in the zone before minus those in the zone after, and
//! the reverse. Both zones are immutable snapshots, so this is pure: the same lookups
//! that answer queries produce the records, and a secondary that applies the differences
//! ends up with exactly what an AXFR would give it. The journal itself is plain data of
//! the zone ([`crate::zone::journal`]), published with it.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use hickory_proto::rr::{Name, Record, RecordType};

use crate::cluster::SharedStr;
use crate::cluster::{ObjectKey, PodAddresses};
use crate::zone::Zone;
use crate::zone::journal::{Delta, Journal, RrKey, rr_key};

/// A zone's questions answered (the records of `name`/`qtype` as queries get them).
pub type Lookup<'a> = &'a dyn Fn(&Name, RecordType) -> Vec<Record>;

/// The journal after the change from `old` (the previous snapshot of a zone) to `new`,
/// whose records changed only in the services `changed` and in the pod records of
/// `pod_addresses` (`(namespace, address)` pairs; `None`: too many pods changed to say
/// which, and the journal starts over). `first`: the first build, which starts the
/// journal. Unchanged when the serial did not move. A change bigger than the whole limit
/// empties the journal (IXFRs from before it get the whole zone). The lookups answer the
/// questions in each snapshot, as queries get them.
pub fn record(
    old: &Zone,
    new: &Zone,
    (lookup_old, lookup_new): (Lookup<'_>, Lookup<'_>),
    changed: &[ObjectKey],
    pod_addresses: Option<&PodAddresses>,
    first: bool,
) -> Journal {
    let mut journal: Journal = new.journal().clone();
    if old.serial() == new.serial() {
        return journal;
    }
    let Some(pod_addresses) = pod_addresses.filter(|_| !first) else {
        journal.clear();
        return journal;
    };
    if !old.is_synced() || !new.is_synced() || journal.newest().is_some_and(|to| to != old.serial()) {
        journal.clear();
    }
    let touched = Touched::of(old, new, changed);
    let before = records_of(old, lookup_old, changed, &touched, pod_addresses);
    let after = records_of(new, lookup_new, changed, &touched, pod_addresses);
    match diff(old.serial(), new.serial(), before, after, journal.limit()) {
        Some(delta) => journal.push(delta),
        None => journal.clear(),
    }
    journal
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
            touched.pending(old, new, key);
        }
        touched
    }

    /// The labels whose pending TXT can differ: a not-ready pod's hostname that came or
    /// went, and every identity of a StatefulSet whose ordinals changed. (A label that
    /// gained or lost its address is already touched as an endpoint.)
    fn pending(&mut self, old: &Zone, new: &Zone, key: &ObjectKey) {
        let (before, after) =
            (old.service(&key.namespace, &key.name), new.service(&key.namespace, &key.name));
        let empty = BTreeSet::new();
        let (pods_before, pods_after) =
            (before.map_or(&empty, |r| &r.pending_pods), after.map_or(&empty, |r| &r.pending_pods));
        for label in pods_before.symmetric_difference(pods_after) {
            self.labels.insert((key.clone(), label.clone()));
        }
        let identities =
            |records: Option<&crate::zone::ServiceRecords>| records.map(|r| r.identities.clone());
        if identities(before) != identities(after) {
            let labels = |zone: &Zone, records: Option<&crate::zone::ServiceRecords>| {
                records.map(|r| zone.pending_labels(r)).unwrap_or_default()
            };
            for label in labels(old, before).into_iter().chain(labels(new, after)) {
                self.labels.insert((key.clone(), label));
            }
        }
    }
}

/// The records the services `changed` contribute to `zone` that may differ: their
/// service-wide names (address, SRV), the names of the touched endpoints, and the PTR
/// names of the touched addresses; and the pod records of `pod_addresses`. Generic:
/// whatever [`Zone::service_queries`] and [`Zone::pod_record_query`] yield.
fn records_of(
    zone: &Zone,
    lookup: Lookup<'_>,
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
    queries.into_iter().flat_map(|(name, qtype)| lookup(&name, qtype)).collect()
}

/// The difference between the records `before` and `after` a change from serial `from`
/// to `to`; `None` when it would take more than `limit` bytes.
fn diff(from: u32, to: u32, before: Vec<Record>, after: Vec<Record>, limit: usize) -> Option<Delta> {
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
    let bytes: usize = deleted.iter().chain(&added).map(crate::wire::record_size).sum::<usize>() + 64;
    (bytes <= limit).then_some(Delta { from, to, deleted, added, bytes })
}
