//! Pods by address: what verifies a pod record (`a-b-c-d.<ns>.pod.<zone>`, CoreDNS's
//! `pods verified`) without scanning a namespace's pods per query.
//!
//! Kept by the cluster state as pods come and go, and handed to each zone snapshot as an
//! O(1) clone of persistent sets. An entry is an address and the stored pod's pointer
//! (16 bytes for IPv4, 24 for IPv6), ordered by address then by the pod's key, so one
//! address's pods are a range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, LazyLock};

use super::{Addresses, ObjectKey, Phase, Pod, PodTemplate};

/// The smallest key (empty namespace and name), to start a range at an address without
/// allocating per query.
static FLOOR: LazyLock<ByKey> = LazyLock::new(|| {
    ByKey(Arc::new(Pod {
        key: ObjectKey { namespace: "".into(), name: "".into() },
        template: PodTemplate::default(),
        ips: Addresses::none(),
        ready_condition: false,
        terminating: false,
        phase: Phase::Unknown,
        placement: super::Placement::NONE,
    }))
});

/// A pod ordered by its namespace and name (its pointer is what is stored).
#[derive(Clone, Debug)]
pub struct ByKey(pub Arc<Pod>);

impl PartialEq for ByKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for ByKey {}

impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key.cmp(&other.0.key)
    }
}

/// Every pod with an address, by address.
#[derive(Clone, Debug, Default)]
pub struct PodIps {
    v4: imbl::OrdSet<(Ipv4Addr, ByKey)>,
    v6: imbl::OrdSet<(Ipv6Addr, ByKey)>,
}

impl PodIps {
    /// Adds the pod under each of its addresses.
    pub fn insert(&mut self, pod: &Arc<Pod>) {
        for ip in pod.ips.iter() {
            match ip {
                IpAddr::V4(v4) => {
                    self.v4.insert((v4, ByKey(pod.clone())));
                }
                IpAddr::V6(v6) => {
                    self.v6.insert((v6, ByKey(pod.clone())));
                }
            }
        }
    }

    /// Removes the pod (as stored: its addresses then) from each of its addresses.
    pub fn remove(&mut self, pod: &Arc<Pod>) {
        for ip in pod.ips.iter() {
            match ip {
                IpAddr::V4(v4) => {
                    self.v4.remove(&(v4, ByKey(pod.clone())));
                }
                IpAddr::V6(v6) => {
                    self.v6.remove(&(v6, ByKey(pod.clone())));
                }
            }
        }
    }

    /// The pods that have `ip`, in key order.
    pub fn pods_with(&self, ip: IpAddr) -> Vec<&Arc<Pod>> {
        let floor = || FLOOR.clone();
        match ip {
            IpAddr::V4(v4) => {
                self.v4.range((v4, floor())..).take_while(|(a, _)| *a == v4).map(|(_, p)| &p.0).collect()
            }
            IpAddr::V6(v6) => {
                self.v6.range((v6, floor())..).take_while(|(a, _)| *a == v6).map(|(_, p)| &p.0).collect()
            }
        }
    }

    /// Every `(address, pod)`, IPv4 first, in order.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &Arc<Pod>)> {
        let v4 = self.v4.iter().map(|(ip, p)| (IpAddr::V4(*ip), &p.0));
        v4.chain(self.v6.iter().map(|(ip, p)| (IpAddr::V6(*ip), &p.0)))
    }

    /// Every `(address, pod)` from address `from` on, in the order of [`Self::iter`] (which
    /// is `IpAddr`'s order: IPv4 first).
    pub fn iter_from(&self, from: IpAddr) -> Box<dyn Iterator<Item = (IpAddr, &Arc<Pod>)> + '_> {
        let v6_from = match from {
            IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
            IpAddr::V6(v6) => v6,
        };
        let v6 = self.v6.range((v6_from, FLOOR.clone())..).map(|(ip, p)| (IpAddr::V6(*ip), &p.0));
        match from {
            IpAddr::V4(v4) => Box::new(
                self.v4.range((v4, FLOOR.clone())..).map(|(ip, p)| (IpAddr::V4(*ip), &p.0)).chain(v6),
            ),
            IpAddr::V6(_) => Box::new(v6),
        }
    }

    /// The index of `pods`, built with full nodes (see [`crate::packed`]).
    pub fn packed<'a>(pods: impl Iterator<Item = &'a Arc<Pod>>) -> Self {
        let pairs = pods.flat_map(|pod| pod.ips.iter().map(|ip| (ip, ByKey(pod.clone()))));
        let (v4, v6) = crate::packed::by_family(pairs);
        Self { v4, v6 }
    }

    /// Rebuilds the sets with full nodes (see [`crate::packed`]).
    pub fn repack(&mut self) {
        self.v4 = crate::packed::set(self.v4.iter().cloned());
        self.v6 = crate::packed::set(self.v6.iter().cloned());
    }
}
