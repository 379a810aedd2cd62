//! What a commit changed, as the invalidation groups response caches drop
//! ([`crate::zone::invalidation`]): the services rebuilt differently, their namespaces'
//! nodes, the PTR names of the addresses they gained or lost, and the pod records of
//! the pod addresses that changed.

use crate::cluster::{ObjectKey, PodAddresses};
use crate::zone::Zones;
use crate::zone::invalidation::{Group, Invalidation};

use super::journal::Touched;

/// Whether `old` and `new` agree on everything that is not per name: whether each zone
/// is synced (SERVFAIL or answers) and the multicluster zone's local cluster id (the
/// names of the local identities). When they do not, every cached answer goes.
pub fn same_shape(old: &Zones, new: &Zones) -> bool {
    let shape = |zones: &Zones| {
        let multicluster =
            zones.multicluster().map(|m| (m.is_synced(), m.local_cluster().map(str::to_owned)));
        (zones.is_synced(), multicluster)
    };
    shape(old) == shape(new)
}

/// The groups a commit changed: per zone (the multicluster zone flagged `true`), the
/// services whose records changed and what of them did; and the pod addresses whose
/// pod records can have changed (`None`: too many to list, everything goes).
pub fn of_commit<'a>(
    zones: impl IntoIterator<Item = (bool, &'a [ObjectKey], Option<&'a Touched>)>,
    external: &[super::external::Changed],
    new: &Zones,
    pod_addresses: Option<&PodAddresses>,
) -> Invalidation {
    let Some(pod_addresses) = pod_addresses else { return Invalidation::All };
    let mut groups = Vec::new();
    // An external zone's claimed names that changed, and the names above them whose
    // lookups they decide (a pod name that is another Service's name); and the names not
    // claimed, which a new claim can turn from NXDOMAIN into answers.
    for changed in external {
        let Some(zone) = new.external().get(usize::from(changed.place)) else { continue };
        for name in changed.names.iter().flat_map(|name| zone.affected_by(name)) {
            if let Some(key) = zone.key_of(&name) {
                groups.push(Group::external_name(changed.place, &key));
            }
        }
        groups.push(Group::external_other(changed.place));
    }
    for (multicluster, changed, touched) in zones {
        for key in changed {
            groups.push(Group::service(multicluster, key));
            groups.push(Group::namespace(multicluster, &key.namespace));
        }
        // The cluster zone's labels have groups of their own: those whose records differ.
        if !multicluster && let Some(touched) = touched {
            groups.extend(touched.labels().map(|(key, label)| Group::label(key, label)));
        }
        // The multicluster zone's PTR names are answered where the cluster zone has none.
        let addresses = touched.map(|t| &t.addresses);
        groups.extend(addresses.into_iter().flatten().map(|ip| Group::address(*ip)));
        if addresses.is_some_and(|a| !a.is_empty()) {
            groups.push(Group::reverse_prefix());
        }
    }
    groups.extend(pod_addresses.iter().map(|(_, ip)| Group::pod_address(*ip)));
    groups.sort_unstable();
    groups.dedup();
    Invalidation::Groups(groups.into())
}
