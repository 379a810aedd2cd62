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
use crate::zone::journal::{Delta, Journal, RrKey, rr_key};
use crate::zone::{Endpoint, ServiceRecords, Zone};

/// The journal after the change from `old` (the previous snapshot of a zone) to `new`,
/// whose records changed only in the services `changed` and in the pod records of
/// `pod_addresses` (`(namespace, address)` pairs; `None`: too many pods changed to say
/// which, and the journal starts over). `first`: the first build, which starts the
/// journal. Unchanged when the serial did not move. A change bigger than the whole limit
/// empties the journal (IXFRs from before it get the whole zone). The records are what
/// the zones' own lookups answer, as in their zone files.
pub fn record(
    old: &Zone,
    new: &Zone,
    (changed, touched): (&[ObjectKey], &Touched),
    pod_addresses: Option<&PodAddresses>,
    first: bool,
) -> Journal {
    let mut journal: Journal = new.journal().clone();
    if old.serial() == new.serial() || journal.limit() == 0 {
        return journal;
    }
    let Some(pod_addresses) = pod_addresses.filter(|_| !first) else {
        journal.clear();
        return journal;
    };
    if !old.is_synced() || !new.is_synced() || journal.newest().is_some_and(|to| to != old.serial()) {
        journal.clear();
    }
    let before = records_of(old, (changed, touched), 0, pod_addresses);
    let after = records_of(new, (changed, touched), 1, pod_addresses);
    match diff(old.serial(), new.serial(), before, after, journal.limit()) {
        Some(delta) => journal.push(delta),
        None => journal.clear(),
    }
    journal
}

/// What of the changed services can differ between two zones: the endpoints (label and
/// address) present in only one of them, and their addresses. Names of endpoints present
/// in both are unchanged and skipped, so one rescheduled pod of a 10k-pod service costs a
/// few lookups, not 10k. The service-wide names (the service's own addresses, its SRV
/// RRsets) are looked up only when the ports or the set of endpoint labels changed (the
/// SRV records name the labels, and weigh them by their number); a headless service
/// whose SRV records are the same differs on its name only by the addresses it gained
/// and lost, which are taken from the two endpoint lists.
#[derive(Default)]
pub struct Touched {
    labels: BTreeSet<(ObjectKey, SharedStr)>,
    /// The addresses whose PTR records can differ.
    pub addresses: BTreeSet<IpAddr>,
    /// Services whose every service-wide name is looked up in both zones.
    whole: BTreeSet<ObjectKey>,
    /// The other services: the addresses their name lost and gained.
    service_addresses: Vec<(ObjectKey, Vec<IpAddr>, Vec<IpAddr>)>,
}

impl Touched {
    /// The labels whose own records can differ, with their service.
    pub fn labels(&self) -> impl Iterator<Item = &(ObjectKey, SharedStr)> {
        self.labels.iter()
    }

    /// What of the services `changed` can differ between `old` and `new`. Only with
    /// `journaled` (the zone keeps an IXFR journal) also what the journal alone reads:
    /// which services changed whole, and the addresses the others' names lost and gained.
    pub fn of(old: &Zone, new: &Zone, changed: &[ObjectKey], journaled: bool) -> Self {
        let mut touched = Touched::default();
        for key in changed {
            let (before, after) =
                (old.service(&key.namespace, &key.name), new.service(&key.namespace, &key.name));
            let e_before = before.map_or(&[][..], |r| &r.endpoints[..]);
            let e_after = after.map_or(&[][..], |r| &r.endpoints[..]);
            let only = |a: &[Endpoint], b: &[Endpoint]| {
                a.iter().filter(|e| b.binary_search(e).is_err()).cloned().collect::<Vec<_>>()
            };
            for e in only(e_before, e_after).into_iter().chain(only(e_after, e_before)) {
                touched.labels.insert((key.clone(), e.label.clone()));
                touched.addresses.insert(e.ip());
            }
            // A ClusterIP service's addresses have PTR records too.
            let (published_before, published_after) =
                (ServiceRecords::published_set(before), ServiceRecords::published_set(after));
            let (lost, gained) = only_in_either(&published_before, &published_after);
            touched.addresses.extend(lost.into_iter().chain(gained));
            touched.pending(old, new, key);
            if !journaled {
                continue;
            }
            match (before, after) {
                (Some(b), Some(a)) if same_srv(b, a) => {
                    let (lost, gained) = address_difference(e_before, e_after);
                    touched.service_addresses.push((key.clone(), lost, gained));
                }
                _ => {
                    touched.whole.insert(key.clone());
                }
            }
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
        if before.map(|r| &r.identities[..]) != after.map(|r| &r.identities[..]) {
            let labels = |zone: &Zone, records: Option<&crate::zone::ServiceRecords>| {
                records.map(|r| zone.pending_labels(r)).unwrap_or_default()
            };
            for label in labels(old, before).into_iter().chain(labels(new, after)) {
                self.labels.insert((key.clone(), label));
            }
        }
    }
}

/// Whether the SRV RRsets of two versions of a headless service are the same: same
/// ports and targets, same endpoint labels. (Typed services: never, they are diffed
/// whole; they change with their Service object only.)
fn same_srv(before: &ServiceRecords, after: &ServiceRecords) -> bool {
    before.service_type.is_none()
        && after.service_type.is_none()
        && before.srv == after.srv
        && before.endpoint_labels().eq(after.endpoint_labels())
}

/// The addresses only in `before`'s endpoints and only in `after`'s, each once.
fn address_difference(before: &[Endpoint], after: &[Endpoint]) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let ips = |endpoints: &[Endpoint]| {
        let mut ips: Vec<IpAddr> = endpoints.iter().map(Endpoint::ip).collect();
        ips.sort_unstable();
        ips.dedup();
        ips
    };
    only_in_either(&ips(before), &ips(after))
}

/// Of two sorted lists of addresses, those only in the first and those only in the
/// second.
fn only_in_either(before: &[IpAddr], after: &[IpAddr]) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let only =
        |a: &[IpAddr], b: &[IpAddr]| a.iter().filter(|ip| b.binary_search(ip).is_err()).copied().collect();
    (only(before, after), only(after, before))
}

/// The records the services `changed` contribute to `zone` that may differ: their
/// service-wide names when [`Touched`] says so (else the addresses their name lost or
/// gained: `side` 0 for the zone before, 1 after), the names of the touched endpoints,
/// and the PTR names of the touched addresses; and the pod records of `pod_addresses`.
/// Generic: whatever [`Zone::service_queries_of`] and [`Zone::pod_record_query`] yield.
fn records_of(
    zone: &Zone,
    (changed, touched): (&[ObjectKey], &Touched),
    side: usize,
    pod_addresses: &PodAddresses,
) -> Vec<Record> {
    let mut records = Vec::new();
    let mut queries = Vec::new();
    let lookup = |queries: &mut Vec<(Name, RecordType)>, records: &mut Vec<Record>| {
        records.extend(queries.drain(..).flat_map(|(name, qtype)| zone.records(&name, qtype)));
    };
    for key in changed {
        let Some(service) = zone.service(&key.namespace, &key.name) else { continue };
        // In zone order: the service's own name first.
        if let Some((_, lost, gained)) = touched.service_addresses.iter().find(|(k, _, _)| k == key) {
            records.extend(zone.service_address_records(key, if side == 0 { lost } else { gained }));
        }
        let labels: Vec<&str> = touched
            .labels
            .range((key.clone(), SharedStr::from(""))..)
            .take_while(|(k, _)| k == key)
            .map(|(_, label)| &**label)
            .collect();
        let whole = touched.whole.contains(key);
        if whole || !labels.is_empty() {
            zone.service_queries_of(key, service, whole, Some(&labels), &mut queries);
            lookup(&mut queries, &mut records);
        }
    }
    queries.extend(touched.addresses.iter().map(|ip| (Name::from(*ip), RecordType::PTR)));
    queries.extend(pod_addresses.iter().map(|(namespace, ip)| zone.pod_record_query(namespace, *ip)));
    lookup(&mut queries, &mut records);
    records
}

/// How many times each record is in a list (foldhash: the keys are ours, not a client's).
type Counts = HashMap<RrKey, usize, foldhash::fast::FixedState>;

/// The difference between the records `before` and `after` a change from serial `from`
/// to `to`; `None` when it would take more than `limit` bytes.
pub(super) fn diff(
    from: u32,
    to: u32,
    before: Vec<Record>,
    after: Vec<Record>,
    limit: usize,
) -> Option<Delta> {
    let mut remaining = Counts::default();
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
    let mut gone = Counts::default();
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
