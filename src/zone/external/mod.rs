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
mod service;

pub use lookup::Node as ExternalNode;
use service::find_host;
pub use service::{ExternalDetails, ExternalService, SrvView};

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::journal::Journal;
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
        Some(name_key(&labels))
    }

    /// The key of `hostname` (lower-cased, without the trailing dot), if it is in the zone
    /// and not its apex.
    pub fn key_of_hostname(&self, hostname: &str) -> Option<NameKey> {
        let labels = labels_under(&self.settings.apex, hostname)?;
        Some(name_key(&labels))
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

/// The claims key of the labels under an apex, outwards: each followed by a 0 byte.
fn name_key<L: AsRef<[u8]>>(labels: &[L]) -> NameKey {
    let mut key = Vec::with_capacity(labels.iter().map(|l| l.as_ref().len() + 1).sum());
    for label in labels {
        key.extend_from_slice(label.as_ref());
        key.push(0);
    }
    key.into()
}

/// The labels of `hostname` (lower-cased, without the trailing dot) below `apex`,
/// outwards (`kafka-0.kafka.example.com` under `example.com`: `kafka`, `kafka-0`); `None`
/// when it is not inside the zone or is its apex (the rule:
/// [`above_apex`](crate::cluster::objects::above_apex)).
pub fn labels_under<'h>(apex: &Name, hostname: &'h str) -> Option<Vec<&'h str>> {
    let above = crate::cluster::objects::above_apex(hostname, apex.iter())?;
    (!above.is_empty()).then(|| above.rsplit('.').collect())
}

/// How many labels `hostname` (without the trailing dot) has below `apex`: `Some(0)` for
/// the apex itself, `None` when it is outside the zone (or has an empty label).
pub fn depth_under(apex: &Name, hostname: &str) -> Option<usize> {
    let above = crate::cluster::objects::above_apex(hostname, apex.iter())?;
    Some(if above.is_empty() { 0 } else { above.split('.').count() })
}

/// `hostname` (without the trailing dot) as a fully qualified name.
pub fn hostname_to_name(hostname: &str) -> Option<Name> {
    Name::from_ascii(format!("{hostname}.")).ok()
}

#[cfg(test)]
mod tests;
