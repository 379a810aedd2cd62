//! Explain for names in the multicluster zone (`--multicluster-zone`): which ServiceImport,
//! which cluster, which EndpointSlice, and why a name is missing.

use crate::cluster::{ClusterState, EndpointSlice, ImportType, ObjectKey, SliceEndpoint};
use crate::zone::records::dashed_ip;
use crate::zone::{Zone, Zones};

/// Explains `labels` (from the multicluster apex outwards) of the multicluster zone.
pub(super) fn explain(state: &ClusterState, zones: &Zones, labels: &[String], reasons: &mut Vec<String>) {
    let Some(multicluster) = zones.multicluster() else { return };
    let origin = &multicluster.settings().origin;
    if !multicluster.is_synced() {
        reasons.push(format!(
            "the ServiceImports, ServiceExports and MCS EndpointSlices are not listed yet (or the MCS CRDs are \
             not installed, or the ClusterRole does not allow them): {origin} answers SERVFAIL until they are, \
             the cluster zone is not affected"
        ));
        return;
    }
    match labels {
        [] => reasons.push(format!(
            "{origin} is the multicluster zone's apex (KEP-1645): SOA and NS records; serial {}",
            multicluster.serial()
        )),
        [v] if v == "dns-version" => {
            reasons.push("the multicluster DNS schema version (TXT \"1.0.0\", KEP-1645)".into())
        }
        [v] if v == "svc" => reasons.push(format!("svc.{origin} exists (an empty non-terminal): NODATA")),
        [svc, ns] if svc == "svc" => {
            let imports = state.namespace(ns).map_or(0, |n| n.imports.len());
            reasons.push(format!("namespace {ns} has {imports} ServiceImport(s)"));
        }
        [svc, ns, service, rest @ ..] if svc == "svc" && rest.len() <= 2 => {
            let key = ObjectKey { namespace: ns.as_str().into(), name: service.as_str().into() };
            explain_import(state, zones, &key, rest, reasons);
        }
        _ => reasons.push(format!(
            "not the shape of a multicluster name (<svc>.<ns>.svc.{origin}, \
             <hostname>.<clusterid>.<svc>.<ns>.svc.{origin} or _<port>._<proto>.<svc>.<ns>.svc.{origin})"
        )),
    }
}

fn explain_import(
    state: &ClusterState,
    zones: &Zones,
    key: &ObjectKey,
    rest: &[String],
    reasons: &mut Vec<String>,
) {
    let zone = zones.cluster();
    let local_id = zones.local_cluster_id(state);
    let ns = state.namespace(&key.namespace);
    let exported = ns.is_some_and(|n| n.exports.contains_key(&key.name));
    reasons.push(match (&local_id, state.cluster_id()) {
        (Some(id), Some(_)) => format!("this cluster's id is {id} (the id.k8s.io ClusterProperty)"),
        (Some(id), None) => format!("this cluster's id is {id} (--cluster-id; no id.k8s.io ClusterProperty)"),
        (None, _) => "this cluster has no id (no id.k8s.io ClusterProperty, no --cluster-id): its own \
                      exported StatefulSets have no names under <clusterid> here"
            .into(),
    });
    reasons.push(if exported {
        format!("ServiceExport {key} exports the Service of that name from this cluster")
    } else {
        format!("this cluster does not export {key} (no ServiceExport)")
    });
    let Some(import) = ns.and_then(|n| n.imports.get(&key.name)) else {
        reasons.push(format!(
            "there is no ServiceImport {key}: the MCS controller has not imported it into this cluster \
             (no cluster exports it, or the export is in conflict); nothing is published under the name{}",
            if exported && local_id.is_some() {
                "; the local StatefulSets' ordinals are known names without an address (NODATA) until it is"
            } else {
                ""
            }
        ));
        return;
    };
    if import.import_type == ImportType::ClusterSetIp {
        let ips: Vec<String> = import.ips.iter().map(ToString::to_string).collect();
        reasons.push(format!(
            "ServiceImport {key} is of type ClusterSetIP: the name answers its ClusterSet IP(s) [{}], its named \
             ports SRV records to the service name, and no name under it (no per-cluster names, KEP-1645 §2.3.4)",
            ips.join(", ")
        ));
        return;
    }
    reasons.push(format!(
        "ServiceImport {key} is Headless: every ready endpoint of every cluster is published, each as \
         <hostname>.<clusterid> (the dashed address without a hostname)"
    ));
    let slices: Vec<&EndpointSlice> = ns
        .into_iter()
        .flat_map(|n| n.mcs_slices.values())
        .filter(|s| s.multicluster.as_ref().is_some_and(|o| *o.service == *key.name))
        .map(|s| &**s)
        .collect();
    let local = local_id.as_deref().filter(|_| exported);
    if let Some(id) = local {
        let ready = zone.service(&key.namespace, &key.name).map_or(0, |r| r.endpoints.len());
        reasons.push(format!(
            "cluster {id} is this cluster: its endpoints are the cluster zone's of service {key} ({ready} ready \
             address(es)), not the MCS controller's copy, which can lag behind a rescheduled pod"
        ));
    }
    let (label, cluster) = match rest {
        [cluster] if !cluster.starts_with('_') => (None, Some(cluster.as_str())),
        [cluster, label] if !label.starts_with('_') => (Some(label.as_str()), Some(cluster.as_str())),
        _ => (None, None),
    };
    let mut clusters: Vec<&str> =
        slices.iter().filter_map(|s| s.multicluster.as_ref()).map(|o| &*o.cluster).collect();
    clusters.sort();
    clusters.dedup();
    if cluster.is_none() {
        reasons.push(format!("clusters with EndpointSlices for it: {}", list(&clusters)));
    }
    if let Some(cluster) = cluster {
        if Some(cluster) == local {
            if let Some(label) = label {
                explain_local_label(zone, key, label, reasons);
            }
            return;
        }
        if !clusters.contains(&cluster) {
            reasons.push(format!(
                "no EndpointSlice of this import comes from a cluster {cluster} (clusters: {})",
                list(&clusters)
            ));
            return;
        }
        for slice in slices.iter().filter(|s| s.multicluster.as_ref().is_some_and(|o| *o.cluster == *cluster))
        {
            if local == Some(cluster) {
                continue;
            }
            for endpoint in &slice.endpoints {
                if label.is_none_or(|l| super::slices::answers_as(endpoint, l)) {
                    reasons.push(endpoint_sentence(slice, endpoint, cluster));
                }
            }
        }
    }
}

fn explain_local_label(zone: &Zone, key: &ObjectKey, label: &str, reasons: &mut Vec<String>) {
    match zone.service(&key.namespace, &key.name) {
        Some(records) if !records.labelled(label).is_empty() => reasons.push(format!(
            "{label} is a ready endpoint of service {key} in this cluster: the same address(es) as \
             {label}.{}.{}.svc.{}",
            key.name,
            key.namespace,
            zone.settings().origin
        )),
        Some(records) if records.is_pending(label) => reasons.push(format!(
            "{label} is a known identity of service {key} in this cluster (a StatefulSet ordinal, or a pod not \
             ready) without a ready address: NODATA with the short TTL, never NXDOMAIN"
        )),
        _ => reasons.push(format!("{label} is neither an endpoint nor a StatefulSet ordinal of service {key} here")),
    }
}

fn endpoint_sentence(slice: &EndpointSlice, endpoint: &SliceEndpoint, cluster: &str) -> String {
    let addresses: Vec<String> = endpoint.addresses.iter().map(ToString::to_string).collect();
    let name = match &endpoint.hostname {
        Some(h) => format!("{h}.{cluster}"),
        None => {
            endpoint.addresses.first().map_or_else(String::new, |ip| format!("{}.{cluster}", dashed_ip(*ip)))
        }
    };
    let ready = if endpoint.ready {
        "ready, so it is published"
    } else {
        "not ready (conditions.ready is false), so it is not published"
    };
    format!(
        "EndpointSlice {} (source cluster {cluster}) has endpoint {} as {name}: {ready}",
        slice.key.name,
        addresses.join(", ")
    )
}

fn list(items: &[&str]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::{Name, RecordType};

    use crate::cluster::testing;
    use crate::zone::tests::zones_with;
    use crate::zone::{MulticlusterSettings, ZoneSettings};

    const YAML: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: ns}\n\
spec: {clusterIP: None, selector: {app: db}}\n---\n\
apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ns}\nspec: {serviceName: db, replicas: 2}\n---\n\
apiVersion: multicluster.x-k8s.io/v1beta1\nkind: ServiceExport\nmetadata: {name: db, namespace: ns}\n---\n\
apiVersion: multicluster.x-k8s.io/v1beta1\nkind: ServiceImport\nmetadata: {name: db, namespace: ns}\nspec: {type: Headless}\n---\n\
apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-west, namespace: ns, labels: \
{multicluster.kubernetes.io/service-name: db, multicluster.kubernetes.io/source-cluster: west}}\n\
addressType: IPv4\nendpoints: [{addresses: [10.1.0.1], hostname: db-0}, {addresses: [10.1.0.2], hostname: db-1, conditions: {ready: false}}]\n---\n";

    fn explain(name: &str) -> crate::explain::Explanation {
        let mut settings = ZoneSettings::new("cluster.local").unwrap();
        settings.multicluster = Some(MulticlusterSettings {
            origin: Name::from_ascii("clusterset.local.").unwrap(),
            cluster_id: Some(crate::cluster::SharedStr::from("east")),
        });
        let zones = zones_with(settings, YAML);
        crate::explain::explain(&testing::state(YAML), &zones, name, RecordType::A)
    }

    fn says(e: &crate::explain::Explanation, text: &str) -> bool {
        e.reasons.iter().any(|r| r.contains(text))
    }

    #[test]
    fn a_name_in_another_cluster_is_explained_by_its_slice() {
        let e = explain("db-0.west.db.ns.svc.clusterset.local");
        assert_eq!(e.rcode, "NOERROR");
        assert_eq!(e.answers.len(), 1, "{e:?}");
        assert!(says(&e, "this cluster's id is east (--cluster-id"), "{e:?}");
        assert!(
            says(&e, "EndpointSlice db-west (source cluster west) has endpoint 10.1.0.1 as db-0.west: ready"),
            "{e:?}"
        );
        let e = explain("db-1.west.db.ns.svc.clusterset.local");
        assert!(says(&e, "not ready (conditions.ready is false)"), "{e:?}");
        let e = explain("db-0.south.db.ns.svc.clusterset.local");
        assert_eq!(e.rcode, "NXDOMAIN");
        assert!(
            says(&e, "no EndpointSlice of this import comes from a cluster south (clusters: west)"),
            "{e:?}"
        );
    }

    #[test]
    fn a_local_ordinal_is_explained_from_the_cluster_zone() {
        let e = explain("db-1.east.db.ns.svc.clusterset.local");
        assert_eq!((e.rcode.as_str(), e.answers.len()), ("NOERROR", 0), "{e:?}");
        assert!(says(&e, "cluster east is this cluster"), "{e:?}");
        assert!(says(&e, "db-1 is a known identity of service ns/db"), "{e:?}");
        let e = explain("other.ns.svc.clusterset.local");
        assert!(says(&e, "there is no ServiceImport ns/other"), "{e:?}");
    }
}
