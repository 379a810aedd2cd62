//! Which cached answers a change can alter.
//!
//! Every question name belongs to one invalidation [`Group`], decided from the name alone
//! (and, for an ExternalName service, the snapshot): one label under a service of the
//! cluster zone (`web-0.nginx.default.svc`), the rest of the service's subtree, a
//! namespace node, one address's PTR name, one pod record, or the names whose answers
//! never change. Each publication lists the groups whose answers it changed in the
//! zones' [`ChangeLog`]; a response cache that kept answers by group drops only those,
//! so a pod event in one service leaves every other service's cached answers in place.
//!
//! The SOA serial is the one value every negative answer carries that a change moves
//! without changing the answer: it is not part of any group. Caches patch the current
//! serial into the cached bytes instead ([`Grouped::serial_of`]).
//!
//! *Why a rule on names, not on lookups:* a group must cover everything an answer was
//! computed from. The zone's names are structured (`<label>.<service>.<namespace>.svc`),
//! and every answer below a service is built from that service's records, its SRV glue
//! included; an NXDOMAIN for a service that does not exist yet is in the group its
//! creation invalidates. A label's own answer (its addresses, or its pending TXT) is
//! built from that label's endpoints and pending identity alone, so a label has a group
//! of its own, dropped when those differ: a pod event drops its own name and the
//! service-wide names, not its siblings' names. The one answer that reads another service's records, an
//! ExternalName followed into the zone, is in the [`Group::VOLATILE`] group.

use std::hash::{BuildHasher, Hash};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::external::ExternalZone;
use super::{ServiceType, Zone, ZoneKind, Zones};
use crate::cluster::ObjectKey;

/// An invalidation group, as a hash of what it is (a collision only drops more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group(u64);

/// What a group is, before hashing.
#[derive(Hash)]
enum Part<'a> {
    /// Names whose answers depend only on the settings and the serial: the apex, its
    /// fixed names, NXDOMAIN for names outside the structure, other zones' names.
    Static,
    /// In external zone `.0`: the names a Service claims there (`.1`, its key) and
    /// everything under them that is its.
    ExternalName(u8, &'a [u8]),
    /// In external zone `.0`: the other names (empty non-terminals, NXDOMAIN), which
    /// change when the set of claimed names does.
    ExternalOther(u8),
    /// Answers that follow other names (an ExternalName into the zone): every change.
    Volatile,
    /// `<ns>.svc.<zone>`: exists while a service of the namespace does.
    Namespace(bool, &'a [u8]),
    /// `<service>.<ns>.svc.<zone>` and everything below it but its labels in the
    /// cluster zone.
    Service(bool, &'a [u8], &'a [u8]),
    /// `<label>.<service>.<ns>.svc.<zone>` in the cluster zone (not `_`-prefixed).
    Label(&'a [u8], &'a [u8], &'a [u8]),
    /// The PTR name of one address.
    Address(IpAddr),
    /// The other names of the reverse zones (empty non-terminals above addresses).
    ReversePrefix,
    /// A pod record's address.
    PodAddress(IpAddr),
}

impl Part<'_> {
    fn group(&self) -> Group {
        // Fixed keys: the index and every cache must agree on a group's hash.
        Group(foldhash::fast::FixedState::with_seed(0x6865_6164_6c65_7373).hash_one(self))
    }
}

impl Group {
    /// Answers that depend only on the settings and the serial.
    pub fn is_static(self) -> bool {
        self.0 == STATIC.0
    }

    /// Answers that can change with any publication.
    pub fn volatile() -> Group {
        Part::Volatile.group()
    }

    /// The group of every name at or below service `key` (`multicluster`: in that zone).
    pub fn service(multicluster: bool, key: &ObjectKey) -> Group {
        Part::Service(multicluster, key.namespace.as_bytes(), key.name.as_bytes()).group()
    }

    /// The group of the cluster zone's name `<label>.<service>.<ns>.svc.<zone>`.
    pub fn label(key: &ObjectKey, label: &str) -> Group {
        Part::Label(key.namespace.as_bytes(), key.name.as_bytes(), label.as_bytes()).group()
    }

    /// The group of the namespace node `<ns>.svc.<zone>`.
    pub fn namespace(multicluster: bool, namespace: &str) -> Group {
        Part::Namespace(multicluster, namespace.as_bytes()).group()
    }

    /// The group of `ip`'s PTR name.
    pub fn address(ip: IpAddr) -> Group {
        Part::Address(ip).group()
    }

    /// The group of the reverse zones' other names.
    pub fn reverse_prefix() -> Group {
        Part::ReversePrefix.group()
    }

    /// The group of the pod records of `ip`.
    pub fn pod_address(ip: IpAddr) -> Group {
        Part::PodAddress(ip).group()
    }

    /// The group of the name of external zone `zone` whose claims key is `key`.
    pub fn external_name(zone: u8, key: &[u8]) -> Group {
        Part::ExternalName(zone, key).group()
    }

    /// The group of external zone `zone`'s names that are not claimed nor under one.
    pub fn external_other(zone: u8) -> Group {
        Part::ExternalOther(zone).group()
    }
}

/// `Part::Static`'s hash, computed once.
static STATIC: std::sync::LazyLock<Group> = std::sync::LazyLock::new(|| Part::Static.group());

/// A question name's group, and whose serial its negative answers carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grouped {
    /// The group of the name.
    pub group: Group,
    /// The zone whose SOA a negative answer for the name carries, as its place in
    /// [`Zones::serials`] (`None`: not ours).
    pub serial_of: Option<u8>,
}

/// What one publication changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// Everything (a first build, a sync change, too many pod addresses to list).
    All,
    /// The answers of these groups.
    Groups(Box<[Group]>),
}

/// The invalidations of the recent publications, published with the zones.
#[derive(Clone, Debug)]
pub struct ChangeLog {
    /// Which index's publications these are: caches that followed another one start over.
    lineage: u64,
    /// The number of this publication.
    seq: u64,
    /// What each of the last publications changed, the newest last (`seq` is the last).
    recent: imbl::Vector<Arc<Invalidation>>,
    /// The groups `recent` holds, in all.
    groups: usize,
}

/// How many groups the log keeps, over its publications: how far behind a cache may fall
/// and still catch up by groups (a worker that got no query while the cluster changed a
/// thousand pods a second for half a minute), rather than dropping everything.
const WINDOW_GROUPS: usize = 1 << 18;

/// How many publications the log keeps at most, whatever their groups.
const WINDOW_PUBLICATIONS: usize = 1 << 14;

impl Default for ChangeLog {
    fn default() -> Self {
        static LINEAGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            lineage: LINEAGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            seq: 0,
            recent: imbl::Vector::new(),
            groups: 0,
        }
    }
}

/// Where a cache stands in a [`ChangeLog`]: the publication it last followed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    lineage: u64,
    seq: u64,
}

impl ChangeLog {
    /// Records the next publication's changes.
    pub fn push(&mut self, invalidation: Invalidation) {
        self.seq += 1;
        self.groups += Self::size(&invalidation);
        self.recent.push_back(Arc::new(invalidation));
        while self.recent.len() > 1
            && (self.groups > WINDOW_GROUPS || self.recent.len() > WINDOW_PUBLICATIONS)
        {
            if let Some(oldest) = self.recent.pop_front() {
                self.groups -= Self::size(&oldest);
            }
        }
    }

    /// The groups `invalidation` counts for in the window (1 for everything).
    fn size(invalidation: &Invalidation) -> usize {
        match invalidation {
            Invalidation::All => 1,
            Invalidation::Groups(groups) => groups.len().max(1),
        }
    }

    /// This publication's position.
    pub fn position(&self) -> Position {
        Position { lineage: self.lineage, seq: self.seq }
    }

    /// What changed since `position`, oldest first; `None` when it cannot be told (another
    /// index, or further back than the log keeps): drop everything.
    pub fn since(&self, position: Position) -> Option<impl Iterator<Item = &Invalidation>> {
        if position.lineage != self.lineage || position.seq > self.seq {
            return None;
        }
        let behind = usize::try_from(self.seq - position.seq).ok()?;
        let skip = self.recent.len().checked_sub(behind)?;
        Some(self.recent.iter().skip(skip).map(|i| &**i))
    }
}

impl Zones {
    /// The group of the question name `qname` (wire format, uncompressed, as a query
    /// carries it), as this snapshot decides it.
    pub fn group_of(&self, qname: &[u8]) -> Grouped {
        let not_ours = Grouped { group: *STATIC, serial_of: None };
        let Some(labels) = wire_labels(qname) else { return not_ours };
        // The zone that holds the name, in the order `kind_of` tries them.
        let cluster = self.cluster();
        let mut apexes: Vec<(&Name, &Zone, bool)> =
            vec![(&cluster.settings.origin, cluster, false), (&cluster.in_addr_arpa, cluster, true)];
        apexes.push((&cluster.ip6_arpa, cluster, true));
        if let Some(multicluster) = self.multicluster() {
            apexes.push((&multicluster.settings.origin, multicluster, false));
        }
        for (apex, zone, reverse) in apexes {
            let apex_labels = apex.num_labels() as usize;
            if labels.len() < apex_labels || !ends_with(&labels, apex) {
                continue;
            }
            // Labels from the zone outwards, lower-cased.
            let below: Vec<Vec<u8>> =
                labels[..labels.len() - apex_labels].iter().rev().map(|l| l.to_ascii_lowercase()).collect();
            let group =
                if reverse { reverse_group(&below, apex, cluster) } else { zone.forward_group(&below) };
            let serial_of = Some(u8::from(zone.kind == ZoneKind::Multicluster));
            return Grouped { group, serial_of };
        }
        for (place, zone) in self.external().iter().enumerate() {
            let (Ok(place), apex) = (u8::try_from(place), zone.apex()) else { break };
            let apex_labels = apex.num_labels() as usize;
            if labels.len() < apex_labels || !ends_with(&labels, apex) {
                continue;
            }
            let below: Vec<Vec<u8>> =
                labels[..labels.len() - apex_labels].iter().rev().map(|l| l.to_ascii_lowercase()).collect();
            let group = external_group(place, zone, &below);
            return Grouped { group, serial_of: Some(2 + place) };
        }
        not_ours
    }
}

/// The group of a name of external zone `place` (`below`: its labels under the apex,
/// outwards): the claimed name it is, or is under (its parent's, else its grandparent's,
/// as the lookup decides); a name both claimed and under another claimed name depends on
/// both Services: volatile.
fn external_group(place: u8, zone: &ExternalZone, below: &[Vec<u8>]) -> Group {
    if below.is_empty() {
        return *STATIC;
    }
    let key = |labels: &[Vec<u8>]| -> Vec<u8> {
        labels.iter().flat_map(|l| l.iter().copied().chain([0])).collect()
    };
    let claimed = |labels: &[Vec<u8>]| zone.is_claimed(&key(labels));
    let n = below.len();
    let (own, parent, grandparent) =
        (claimed(below), n >= 2 && claimed(&below[..n - 1]), n >= 3 && claimed(&below[..n - 2]));
    match (own, parent, grandparent) {
        (true, false, false) => Group::external_name(place, &key(below)),
        (true, _, _) => Group::volatile(),
        (false, true, _) => Group::external_name(place, &key(&below[..n - 1])),
        (false, false, true) => Group::external_name(place, &key(&below[..n - 2])),
        (false, false, false) => Group::external_other(place),
    }
}

impl Zone {
    /// The group of a forward name, `below`: its labels under the apex, outwards.
    fn forward_group(&self, below: &[Vec<u8>]) -> Group {
        let multicluster = self.kind == ZoneKind::Multicluster;
        match below {
            [svc, ns] if svc == b"svc" => Part::Namespace(multicluster, ns).group(),
            [svc, ns, service, rest @ ..] if svc == b"svc" => {
                let (Ok(namespace), Ok(name)) = (std::str::from_utf8(ns), std::str::from_utf8(service))
                else {
                    return *STATIC; // no service has such a name
                };
                let external = self.service(namespace, name).and_then(|r| r.service_type.as_deref());
                if let Some(ServiceType::ExternalName(target)) = external
                    && self.settings.origin.zone_of(target)
                {
                    return Group::volatile();
                }
                match rest {
                    [label] if !multicluster && !label.starts_with(b"_") => {
                        Part::Label(ns, service, label).group()
                    }
                    _ => Part::Service(multicluster, ns, service).group(),
                }
            }
            [pod, _, label] if pod == b"pod" && !multicluster => std::str::from_utf8(label)
                .ok()
                .and_then(super::pods::pod_record_ip)
                .map_or(*STATIC, |ip| Part::PodAddress(ip).group()),
            _ => *STATIC,
        }
    }
}

/// The group of a reverse name: an address's, or the other names'.
fn reverse_group(below: &[Vec<u8>], apex: &Name, cluster: &Zone) -> Group {
    let text: Option<Vec<&str>> = below.iter().map(|l| std::str::from_utf8(l).ok()).collect();
    let address = text.and_then(|labels| {
        if apex == &cluster.in_addr_arpa && labels.len() == 4 {
            let octets: Option<Vec<u8>> = labels.iter().map(|l| l.parse().ok()).collect();
            let octets = octets?;
            // A label like "010" reads as 10 but is another name: only canonical labels.
            let canonical = labels.iter().zip(&octets).all(|(l, o)| *l == o.to_string());
            canonical.then(|| IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])))
        } else if apex == &cluster.ip6_arpa && labels.len() == 32 {
            let mut value: u128 = 0;
            for label in &labels {
                let [nibble] = label.as_bytes() else { return None };
                value = value << 4 | u128::from((*nibble as char).to_digit(16)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(value)))
        } else {
            None
        }
    });
    address.map_or_else(Group::reverse_prefix, Group::address)
}

/// The labels of an uncompressed wire-format name, leftmost first; `None` when it is not
/// one.
fn wire_labels(name: &[u8]) -> Option<Vec<&[u8]>> {
    let mut labels = Vec::new();
    let mut i = 0;
    loop {
        let len = usize::from(*name.get(i)?);
        if len == 0 {
            return Some(labels);
        }
        if len > 63 {
            return None;
        }
        labels.push(name.get(i + 1..i + 1 + len)?);
        i += 1 + len;
    }
}

/// Whether `labels` end with `apex`'s, ignoring case.
fn ends_with(labels: &[&[u8]], apex: &Name) -> bool {
    let start = labels.len() - apex.num_labels() as usize;
    labels[start..].iter().zip(apex.iter()).all(|(a, b)| a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests;
