//! What changed since the zones were last rebuilt: the pods, services and pod addresses
//! a commit must look at, tracked one by one up to a bound, then "everything".

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use super::{ObjectKey, Pod, SharedStr};

/// `(namespace, address)` pairs of pods: which pod records a change touched.
pub type PodAddresses = BTreeSet<(SharedStr, IpAddr)>;

/// Pods and services changed since the zone was last rebuilt.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Changed (applied or deleted) pods; `None` after too many to track (rescan).
    pub pods: Option<HashSet<ObjectKey>>,
    /// Services whose definition changed (their membership must be rescanned).
    pub services: HashSet<ObjectKey>,
    /// The pods by address changed (pod records must be republished).
    pub pod_ips: bool,
    /// The `(namespace, address)` pairs whose pods changed, so the IXFR journal can diff
    /// just those pod records; `None` after too many to track (the journal starts over).
    pub pod_addresses: Option<PodAddresses>,
}

impl Changes {
    const MAX_PODS: usize = 4096;

    /// Nothing changed yet, every kind of change tracked.
    pub(super) fn tracking() -> Self {
        Changes { pods: Some(HashSet::new()), pod_addresses: Some(BTreeSet::new()), ..Changes::default() }
    }

    pub(super) fn pod_addresses(&mut self, pod: &Pod) {
        if let Some(addresses) = &mut self.pod_addresses {
            addresses.extend(pod.ips.iter().map(|ip| (pod.key.namespace.clone(), ip)));
            if addresses.len() > Self::MAX_PODS {
                self.pod_addresses = None;
            }
        }
    }

    pub(super) fn pod(&mut self, key: &ObjectKey) {
        if let Some(pods) = &mut self.pods {
            pods.insert(key.clone());
            if pods.len() > Self::MAX_PODS {
                self.pods = None;
            }
        }
    }
}
