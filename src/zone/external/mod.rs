//! External zones (`--external-zone`): names outside the cluster domain for the Services
//! annotated the way external-dns reads them (`external-dns.alpha.kubernetes.io/hostname:
//! kafka.example.com`), with the cluster zone's identity rules: a StatefulSet's ordinal
//! under its Service's name answers NODATA while it has no ready pod, never NXDOMAIN.
//!
//! A zone holds, per Service that publishes in it, an [`ExternalService`]: its names (H),
//! the targets they answer, its per-pod host labels and its ports. A headless Service's
//! records are the cluster zone's ([`ServiceRecords`], shared): its endpoints, pending
//! identities and SRV targets are what the cluster zone decided, under other names. The
//! names claimed are indexed by name ([`ExternalZone::claims`]); a name two Services claim
//! goes to the older one, never to both.
//!
//! Lookup, zone files and IXFR differences are in [`lookup`] and [`records`]; building
//! a Service's records from the cluster state in [`build`].

pub mod build;
mod lookup;
pub mod records;

pub use lookup::Node as ExternalNode;

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::journal::Journal;
use super::pending::Pending;
use super::{Identities, ServiceRecords};
use crate::cluster::{ObjectKey, SharedStr};

/// The settings of one external zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSettings {
    /// The apex, lower-cased and fully qualified.
    pub apex: Name,
    /// The NS records: each name server's name and, when inside the zone, its addresses
    /// (glue).
    pub nameservers: Vec<(Name, Vec<IpAddr>)>,
    /// TTL of the records of Services without a `ttl` annotation, and of the apex's.
    pub ttl: u32,
    /// TTL of NXDOMAIN and NODATA answers (the SOA minimum).
    pub negative_ttl: u32,
    /// TTL of a pending identity's TXT and NODATA.
    pub pending_ttl: u32,
    /// SOA refresh, retry, expire.
    pub soa_timers: [u32; 3],
    /// IXFR journal bytes (0: none).
    pub ixfr_journal: usize,
    /// `--external-publish-internal`: ClusterIP Services publish their cluster IPs.
    pub publish_internal: bool,
}

/// What a name answers: addresses, or a CNAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// The addresses of the cluster zone's endpoints: all of them for the Service's name,
    /// a host label's for that label.
    Endpoints,
    /// These addresses.
    Addresses(Box<[IpAddr]>),
    /// A CNAME to this name (fully qualified).
    Name(Box<Name>),
}

/// One named port of a Service whose SRV records point at its name itself (not headless).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalPort {
    /// The port's name, lower-cased.
    pub name: Box<str>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: &'static str,
    /// The port clients use: the service port, or the node port of a NodePort Service.
    pub port: u16,
}

/// One port's SRV targets under H, when they are not the cluster zone's: the host labels
/// of the ready pods serving it, and the port each serves it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSrv {
    /// The port's name, lower-cased (`None`: only in the bare SRV RRset on H).
    pub name: Option<Box<str>>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: &'static str,
    /// `(host label, port)`, sorted, each once.
    pub targets: Box<[(SharedStr, u16)]>,
}

/// One port's SRV records as a lookup reads them: its name, protocol and targets.
pub type SrvView<'a> = (Option<&'a str>, &'a str, Vec<(&'a SharedStr, u16)>);

/// One Service's records in one external zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalService {
    /// The Service.
    pub key: ObjectKey,
    /// Its creation time (Unix seconds): of two Services claiming a name, the older wins.
    pub created: i64,
    /// Its names in this zone (H): lower-cased, without the trailing dot, sorted; the
    /// annotation's own strings, shared.
    pub hostnames: Box<[SharedStr]>,
    /// TTL of its records.
    pub ttl: u32,
    /// What each H answers.
    pub targets: Targets,
    /// A headless Service's records in the cluster zone: endpoints, pending identities,
    /// SRV targets.
    pub cluster: Option<Arc<ServiceRecords>>,
    /// What the common case does not need (a StatefulSet's headless Service whose hosts,
    /// identities and SRV targets are the cluster zone's, every pod ready): `None` when
    /// it is all empty, which keeps the Service's records one allocation size down.
    pub details: Option<Box<ExternalDetails>>,
}

/// The parts of an [`ExternalService`] that most Services do not have, read through its
/// methods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalDetails {
    /// Its host labels (a headless Service's ready pods with a hostname), sorted, each
    /// with what it answers. `None`: the cluster zone's endpoint labels, each answering its
    /// own endpoints there (a StatefulSet's pods, whose hostnames are their labels), which
    /// saves a list per Service.
    pub hosts: Option<Box<[(SharedStr, Targets)]>>,
    /// Named ports whose SRV records point at H (Services that are not headless).
    pub ports: Box<[ExternalPort]>,
    /// A headless Service's SRV targets under H; `None`: the cluster zone's, for the
    /// targets that are hosts (its pods' hostnames are their labels there).
    pub srv: Option<Box<[ExternalSrv]>>,
    /// The StatefulSets whose ordinals are identities under H: the ones the Service
    /// governs, and the ones whose pods it selects (a second Service over a StatefulSet's
    /// pods keeps their names too). `None`: the cluster zone's, the ones it governs.
    pub identities: Option<Box<[Identities]>>,
    /// The hostnames of the selected pods that are not ready, whatever their subdomain.
    pub not_ready: Box<[SharedStr]>,
}

impl ExternalDetails {
    /// `self` boxed, or `None` when it is all empty.
    pub fn boxed(self) -> Option<Box<ExternalDetails>> {
        (self != ExternalDetails::default()).then(|| Box::new(self))
    }
}

/// The details of a Service without any.
static NO_DETAILS: std::sync::LazyLock<ExternalDetails> = std::sync::LazyLock::new(ExternalDetails::default);

/// What a host label answers when it is the cluster zone's: its own endpoints there.
static ENDPOINTS: Targets = Targets::Endpoints;

impl ExternalService {
    /// Its details (empty ones when it has none).
    pub fn details(&self) -> &ExternalDetails {
        self.details.as_deref().unwrap_or(&NO_DETAILS)
    }

    /// Named ports whose SRV records point at H (Services that are not headless).
    pub fn ports(&self) -> &[ExternalPort] {
        &self.details().ports
    }

    /// `label` as one of its host labels, with what it answers.
    pub fn host(&self, label: &str) -> Option<(&SharedStr, &Targets)> {
        find_host(self.details().hosts.as_deref(), self.cluster.as_deref(), label)
    }

    /// Its host labels, sorted, each with what it answers.
    pub fn hosts(&self) -> impl Iterator<Item = (&SharedStr, &Targets)> {
        let (listed, cluster) = match &self.details().hosts {
            Some(hosts) => (&hosts[..], None),
            None => (&[][..], self.cluster.as_deref()),
        };
        let from_cluster = cluster.into_iter().flat_map(|r| r.endpoint_labels().map(|l| (l, &ENDPOINTS)));
        listed.iter().map(|(l, t)| (l, t)).chain(from_cluster)
    }

    /// The StatefulSets whose ordinals are identities under H.
    pub fn identities(&self) -> &[Identities] {
        match (&self.details().identities, &self.cluster) {
            (Some(identities), _) => identities,
            (None, Some(records)) => &records.identities,
            (None, None) => &[],
        }
    }

    /// Why `label` (not a host) is pending, when it is a known identity of the Service.
    pub fn pending(&self, label: &str) -> Option<Pending<'_>> {
        if self.host(label).is_some() {
            return None;
        }
        let ordinal = self.identities().iter().find_map(|i| Some((&*i.statefulset, i.ordinal(label)?)));
        match ordinal {
            Some((statefulset, ordinal)) => Some(Pending::Ordinal { statefulset, ordinal }),
            None => self.details().not_ready.iter().any(|h| **h == *label).then_some(Pending::NotReady),
        }
    }

    /// A headless Service's ports with their SRV targets under H.
    pub fn srv_ports(&self) -> Vec<SrvView<'_>> {
        match (&self.details().srv, &self.cluster) {
            (Some(ports), _) => ports
                .iter()
                .map(|p| (p.name.as_deref(), p.protocol, p.targets.iter().map(|(l, n)| (l, *n)).collect()))
                .collect(),
            (None, Some(records)) => records
                .srv
                .iter()
                .map(|p| {
                    let targets =
                        p.targets(records).filter(|(label, _)| self.host(label).is_some()).collect();
                    (p.name.as_deref(), p.protocol.srv_label(), targets)
                })
                .collect(),
            (None, None) => Vec::new(),
        }
    }

    /// Every pending label (identities in range and not-ready hostnames that are not
    /// hosts), sorted, each once.
    pub fn pending_labels(&self) -> Vec<SharedStr> {
        let mut labels: Vec<SharedStr> = self.details().not_ready.to_vec();
        for identities in self.identities() {
            labels.extend(identities.labels().map(SharedStr::from));
        }
        labels.sort();
        labels.dedup();
        labels.retain(|l| self.host(l).is_none());
        labels
    }
}

/// A name's key in [`ExternalZone::claims`]: its labels under the apex, outwards,
/// lower-cased, each followed by a 0 byte, so that a name's descendants follow it.
pub type NameKey = Box<[u8]>;

/// The Services claiming one name, oldest first (the first one's records are served).
pub type Claimants = Arc<[(i64, ObjectKey)]>;

/// One external zone: an immutable snapshot, cheap to clone.
#[derive(Clone, Debug)]
pub struct ExternalZone {
    settings: Arc<ExternalSettings>,
    serial: u32,
    synced: bool,
    /// The Services publishing in the zone.
    services: imbl::OrdMap<ObjectKey, Arc<ExternalService>>,
    /// Every name a Service claims (its H), with its claimants.
    claims: imbl::OrdMap<NameKey, Claimants>,
    /// How many of `claims` have more than one claimant.
    contested: usize,
    journal: Journal,
    /// The SOA's RNAME, built once.
    hostmaster: Arc<Name>,
}

impl ExternalZone {
    /// An empty, unsynced zone.
    pub fn new(settings: ExternalSettings) -> Self {
        let hostmaster = Name::from_ascii("hostmaster")
            .and_then(|n| n.append_domain(&settings.apex))
            .unwrap_or_else(|_| settings.apex.clone());
        Self {
            journal: Journal::new(settings.ixfr_journal),
            settings: Arc::new(settings),
            serial: 1,
            synced: false,
            services: imbl::OrdMap::new(),
            claims: imbl::OrdMap::new(),
            contested: 0,
            hostmaster: Arc::new(hostmaster),
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &ExternalSettings {
        &self.settings
    }

    /// The apex.
    pub fn apex(&self) -> &Name {
        &self.settings.apex
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Sets the SOA serial (the index).
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// Whether it reflects a complete view of the cluster.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Marks it as reflecting (or not) a complete view of the cluster.
    pub fn set_synced(&mut self, synced: bool) {
        self.synced = synced;
    }

    /// The IXFR journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Replaces the IXFR journal (the index).
    pub fn set_journal(&mut self, journal: Journal) {
        self.journal = journal;
    }

    /// Whether `name` is in this zone.
    pub fn serves(&self, name: &Name) -> bool {
        self.settings.apex.zone_of(&name.to_lowercase())
    }

    /// The Services publishing in the zone.
    pub fn services(&self) -> impl Iterator<Item = &ExternalService> {
        self.services.values().map(|s| &**s)
    }

    /// One Service's records, if it publishes in the zone.
    pub fn service(&self, key: &ObjectKey) -> Option<&ExternalService> {
        self.services.get(key).map(|s| &**s)
    }

    /// The claimants of `name` (lower-cased), oldest first.
    pub fn claims(&self, name: &Name) -> Option<&Claimants> {
        self.claims.get(&*self.key_of(name)?)
    }

    /// The Service whose records `name` (an H) answers: its oldest claimant.
    pub fn owner(&self, name: &Name) -> Option<&ExternalService> {
        let (_, key) = self.claims(name)?.first()?;
        self.service(key)
    }

    /// Whether the name whose claims key is `key` is claimed.
    pub fn is_claimed(&self, key: &[u8]) -> bool {
        self.claims.contains_key(key)
    }

    /// Whether a claimed name is at or below `name`.
    fn has_descendant(&self, name: &Name) -> bool {
        let Some(key) = self.key_of(name) else { return false };
        self.claims.range(key.clone()..).next().is_some_and(|(k, _)| k.starts_with(&key))
    }

    /// The names whose records a change of the claimed name `name` can alter: itself and
    /// the two above it (a pod name that is another Service's name is decided with its
    /// parent and grandparent), those inside the zone and below its apex.
    pub fn affected_by(&self, name: &Name) -> Vec<Name> {
        let apex = &self.settings.apex;
        std::iter::successors(Some(name.clone()), |n| Some(n.base_name()))
            .take(3)
            .take_while(|n| apex.zone_of(n) && n != apex)
            .collect()
    }

    /// `name`'s key (lower-cased labels under the apex), if it is in the zone.
    pub fn key_of(&self, name: &Name) -> Option<NameKey> {
        let apex = &self.settings.apex;
        let lower = name.to_lowercase();
        if !apex.zone_of(&lower) {
            return None;
        }
        let depth = usize::from(lower.num_labels() - apex.num_labels());
        let mut labels: Vec<&[u8]> = lower.iter().take(depth).collect();
        labels.reverse();
        let mut key = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
        for label in labels {
            key.extend_from_slice(label);
            key.push(0);
        }
        Some(key.into())
    }

    /// The key of `hostname` (lower-cased, without the trailing dot), if it is in the zone
    /// and not its apex.
    pub fn key_of_hostname(&self, hostname: &str) -> Option<NameKey> {
        let labels = labels_under(&self.settings.apex, hostname)?;
        let mut key = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum());
        for label in labels {
            key.extend_from_slice(label.as_bytes());
            key.push(0);
        }
        Some(key.into())
    }

    /// Publishes `service` (`None`: nothing) as the records of `key`, keeping the claims in
    /// step. Returns the names whose owner or records may have changed (the old and the
    /// new names of the Service), empty when nothing did.
    pub fn replace(&mut self, key: &ObjectKey, service: Option<ExternalService>) -> Vec<Name> {
        let old = self.services.get(key).cloned();
        if old.as_deref() == service.as_ref() {
            return Vec::new();
        }
        let mut hostnames: Vec<SharedStr> = Vec::new();
        let unchanged_claims = matches!((&old, &service), (Some(old), Some(new))
            if old.hostnames == new.hostnames && old.created == new.created);
        if let Some(old) = &old {
            for h in old.hostnames.iter() {
                if !unchanged_claims {
                    self.unclaim(h, key);
                }
                hostnames.push(h.clone());
            }
        }
        match service {
            Some(service) => {
                for h in service.hostnames.iter() {
                    if !unchanged_claims {
                        self.claim(h, service.created, key);
                    }
                    hostnames.push(h.clone());
                }
                self.services.insert(key.clone(), Arc::new(service));
            }
            None => {
                self.services.remove(key);
            }
        }
        hostnames.sort();
        hostnames.dedup();
        hostnames.iter().filter_map(|h| hostname_to_name(h)).collect()
    }

    fn claim(&mut self, hostname: &str, created: i64, key: &ObjectKey) {
        let Some(name_key) = self.key_of_hostname(hostname) else { return };
        let mut claimants: Vec<(i64, ObjectKey)> =
            self.claims.get(&name_key).map(|c| c.to_vec()).unwrap_or_default();
        let was_contested = claimants.len() > 1;
        claimants.retain(|(_, k)| k != key);
        claimants.push((created, key.clone()));
        claimants.sort();
        self.contested = self.contested + usize::from(claimants.len() > 1) - usize::from(was_contested);
        self.claims.insert(name_key, claimants.into());
    }

    fn unclaim(&mut self, hostname: &str, key: &ObjectKey) {
        let Some(name_key) = self.key_of_hostname(hostname) else { return };
        let Some(claimants) = self.claims.get(&name_key) else { return };
        let was_contested = claimants.len() > 1;
        let rest: Vec<(i64, ObjectKey)> = claimants.iter().filter(|(_, k)| k != key).cloned().collect();
        self.contested = self.contested + usize::from(rest.len() > 1) - usize::from(was_contested);
        if rest.is_empty() {
            self.claims.remove(&name_key);
        } else {
            self.claims.insert(name_key, rest.into());
        }
    }

    /// Rebuilds the maps with full nodes (see [`crate::packed`]): done once the first
    /// complete zones are built, which inserted everything in ascending order.
    pub fn repack(&mut self) {
        self.services = crate::packed::map(self.services.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.claims = crate::packed::map(self.claims.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// The number of names claimed, and of those claimed by more than one Service.
    pub fn claim_counts(&self) -> (usize, usize) {
        (self.claims.len(), self.contested)
    }
}

/// `label` among `hosts` (`None`: the endpoint labels of `cluster`, each answering its
/// own endpoints), with what it answers.
fn find_host<'a>(
    hosts: Option<&'a [(SharedStr, Targets)]>,
    cluster: Option<&'a ServiceRecords>,
    label: &str,
) -> Option<(&'a SharedStr, &'a Targets)> {
    match hosts {
        Some(hosts) => {
            let i = hosts.binary_search_by(|(h, _)| (**h).cmp(label)).ok()?;
            Some((&hosts[i].0, &hosts[i].1))
        }
        None => cluster?.labelled(label).first().map(|e| (&e.label, &ENDPOINTS)),
    }
}

/// The labels of `hostname` (lower-cased, without the trailing dot) below `apex`,
/// outwards (`kafka-0.kafka.example.com` under `example.com`: `kafka`, `kafka-0`); `None`
/// when it is not inside the zone or is its apex.
pub fn labels_under<'h>(apex: &Name, hostname: &'h str) -> Option<Vec<&'h str>> {
    let below = below_apex(apex, hostname)?;
    let labels: Vec<&str> = below.collect();
    (!labels.is_empty() && labels.iter().all(|l| !l.is_empty())).then_some(labels)
}

/// How many labels `hostname` (without the trailing dot) has below `apex`: `Some(0)` for
/// the apex itself, `None` when it is outside the zone (or has an empty label).
pub fn depth_under(apex: &Name, hostname: &str) -> Option<usize> {
    let mut depth = 0;
    for label in below_apex(apex, hostname)? {
        if label.is_empty() {
            return None;
        }
        depth += 1;
    }
    Some(depth)
}

/// The labels of `hostname` below `apex`, outwards, if its last labels are the apex's.
fn below_apex<'h>(apex: &Name, hostname: &'h str) -> Option<std::str::RSplit<'h, char>> {
    let mut labels = hostname.rsplit('.');
    for apex_label in apex.iter().rev() {
        if !labels.next()?.as_bytes().eq_ignore_ascii_case(apex_label) {
            return None;
        }
    }
    Some(labels)
}

/// `hostname` (without the trailing dot) as a fully qualified name.
pub fn hostname_to_name(hostname: &str) -> Option<Name> {
    Name::from_ascii(format!("{hostname}.")).ok()
}

#[cfg(test)]
mod tests;
