//! One Service's records in an external zone ([`ExternalService`]): its names, what they
//! answer, its host labels and pending identities, most of them read from the cluster
//! zone's records of the same Service rather than copied.

use std::sync::Arc;

use super::{ExternalPort, ExternalSrv, Targets};
use crate::cluster::{ObjectKey, SharedStr};
use crate::zone::pending::Pending;
use crate::zone::{Identities, ServiceRecords};

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

/// `label` among `hosts` (`None`: the endpoint labels of `cluster`, each answering its
/// own endpoints), with what it answers.
pub(super) fn find_host<'a>(
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
