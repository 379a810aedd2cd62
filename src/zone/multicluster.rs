//! The multicluster zone (`--multicluster-zone clusterset.local`): the Multi-Cluster
//! Services DNS specification (KEP-1645, schema 1.0.0), built from ServiceImports, their
//! MCS EndpointSlices, ServiceExports and the cluster id.
//!
//! It is a second [`Zone`] of the zone set ([`super::Zones`]), with the same records type: a
//! ClusterSetIP import is a ClusterIP service (A/AAAA of the ClusterSet IPs, SRV to the
//! service name, no names below it); a headless import is a headless service whose
//! endpoint labels are two labels, `<hostname>.<clusterid>`, so SRV targets, PTR names,
//! pending identities and transfers come from the same code as the cluster zone's.
//!
//! The local cluster's endpoints of an exported headless service are taken from the
//! cluster zone's records of that service, not from the MCS slices the controller copies
//! them into: they are never staler than the cluster zone, and an exported StatefulSet's
//! ordinals keep the never-NXDOMAIN rule under `<sts>-<i>.<localclusterid>` even before
//! the controller has created the import or its slices.

use hickory_proto::rr::Name;

use super::pods::PodRecords;
use super::records::{Endpoint, ServiceRecords};
use super::slices::{PortTargets, add_slice, finish};
use super::{ClusterIpRecords, ClusterPort, ServiceType, Zone, ZoneSettings, Zones};
use crate::cluster::SharedStr;
use crate::cluster::{ClusterState, ImportType, ObjectKey, Touched};

/// The schema version of the multicluster DNS specification we implement.
pub const MULTICLUSTER_SCHEMA_VERSION: &str = "1.0.0";

/// The multicluster zone's configuration (`--multicluster-zone`, `--cluster-id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MulticlusterSettings {
    /// The multicluster zone, lower-cased and fully qualified (`clusterset.local.`).
    pub origin: Name,
    /// `--cluster-id`: this cluster's id when no `id.k8s.io` ClusterProperty names it.
    pub cluster_id: Option<SharedStr>,
}

impl ZoneSettings {
    /// The settings of the multicluster zone these (cluster zone) settings enable.
    pub(crate) fn multicluster_settings(&self) -> Option<ZoneSettings> {
        let multicluster = self.multicluster.as_ref()?;
        Some(ZoneSettings {
            origin: multicluster.origin.clone(),
            pods: PodRecords::Disabled,
            multicluster: None,
            ..self.clone()
        })
    }
}

impl Zones {
    /// This cluster's id: the `id.k8s.io` ClusterProperty's, else `--cluster-id`'s.
    pub fn local_cluster_id(&self, state: &ClusterState) -> Option<SharedStr> {
        local_cluster_id(self.cluster(), state)
    }
}

fn local_cluster_id(cluster: &Zone, state: &ClusterState) -> Option<SharedStr> {
    let configured = cluster.settings.multicluster.as_ref().and_then(|m| m.cluster_id.clone());
    state.cluster_id().cloned().or(configured)
}

/// Rebuilds the records of the touched keys in `multicluster` from `state` and from the
/// (already rebuilt) `cluster` zone. Returns the keys whose records changed.
pub(crate) fn rebuild(
    multicluster: &mut Zone,
    cluster: &Zone,
    state: &ClusterState,
    touched: &Touched,
) -> Vec<ObjectKey> {
    let local_id = local_cluster_id(cluster, state);
    multicluster.local_cluster = local_id.clone();
    let mut changed = Vec::new();
    for key in touched {
        let local = cluster.service(&key.namespace, &key.name);
        let records = import_records(state, key, local, local_id.as_ref());
        if multicluster.replace_service(key, records) {
            changed.push(key.clone());
        }
    }
    changed
}

/// The multicluster records of `key`: its ServiceImport's, with the local cluster's part
/// of an exported headless service taken from `local` (its cluster zone records) under
/// `local_id`. `None` when nothing is published under the name.
pub(crate) fn import_records(
    state: &ClusterState,
    key: &ObjectKey,
    local: Option<&ServiceRecords>,
    local_id: Option<&SharedStr>,
) -> Option<ServiceRecords> {
    let ns = state.namespace(&key.namespace)?;
    let exported = ns.exports.contains_key(&key.name);
    let local = match (local, local_id) {
        (Some(records), Some(id)) if exported && records.service_type.is_none() => Some((records, id)),
        _ => None,
    };
    let Some(import) = ns.imports.get(&key.name) else {
        // Exported, not imported yet: the local identities are pending, nothing is published.
        let (local, id) = local?;
        let mut records = ServiceRecords::default();
        let labels = local.endpoints.iter().map(|e| &e.label).chain(&local.pending_pods);
        records.pending_pods = labels.map(|label| qualified(label, id)).collect();
        records.identities = local.identities.clone();
        return Some(records);
    };
    if import.import_type == ImportType::ClusterSetIp {
        // No per-cluster names under a ClusterSetIP import (spec §2.3.4).
        if import.ips.is_empty() {
            return None;
        }
        let ports =
            import.ports.iter().map(|p| ClusterPort::new(p.name.as_deref(), p.protocol, p.port)).collect();
        let cluster_ip = ClusterIpRecords { ips: import.ips.clone(), ports };
        let service_type = Some(Box::new(ServiceType::ClusterIp(cluster_ip)));
        return Some(ServiceRecords { service_type, ..ServiceRecords::default() });
    }
    let mut records = ServiceRecords::default();
    let mut ports = PortTargets::new();
    if let Some((local, id)) = local {
        records
            .endpoints
            .extend(local.endpoints.iter().map(|e| Endpoint::new(qualified(&e.label, id), e.ip())));
        for port in &local.srv {
            let targets = ports.entry((port.name.clone(), port.protocol)).or_default();
            targets.extend(port.targets(local).map(|(label, number)| (qualified(label, id), number)));
        }
        records.pending_pods.extend(local.pending_pods.iter().map(|label| qualified(label, id)));
        // Under the local cluster id (the multicluster zone's `local_cluster`).
        records.identities = local.identities.clone();
    }
    for slice in ns.mcs_slices.values() {
        let Some(origin) = slice.multicluster.as_ref().filter(|o| *o.service == *key.name) else { continue };
        if local.is_some_and(|(_, id)| *id == origin.cluster) {
            continue; // the local cluster's endpoints come from the cluster zone
        }
        add_slice(&mut records, &mut ports, slice, Some(&origin.cluster));
    }
    finish(&mut records, ports);
    Some(records)
}

/// `<label>.<cluster>`.
fn qualified(label: &str, cluster: &str) -> SharedStr {
    format!("{label}.{cluster}").into()
}
