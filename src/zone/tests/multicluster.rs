//! Unit tests of the multicluster zone (KEP-1645's DNS specification): ServiceImports,
//! MCS EndpointSlices of two clusters, exported local StatefulSets.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::{ask, assert_nodata, assert_nxdomain, data, sts_pod, zones_with};
use crate::zone::zonefile::ZoneFile;
use crate::zone::{MulticlusterSettings, ZoneSettings, Zones};

/// The local headless service `svc1` of namespace `ns` (pods of app `web`) and its StatefulSet.
pub(crate) const LOCAL: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
spec: {clusterIP: None, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}\n---\n\
apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";

pub(crate) const EXPORT: &str = "apiVersion: multicluster.x-k8s.io/v1beta1\nkind: ServiceExport\nmetadata: {name: svc1, namespace: ns}\n---\n";

pub(crate) const CLUSTER_ID: &str = "apiVersion: about.k8s.io/v1alpha1\nkind: ClusterProperty\nmetadata: {name: id.k8s.io}\nspec: {value: east}\n---\n";

pub(crate) const CS: &str = "svc1.ns.svc.clusterset.local.";

pub(crate) fn import(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: {name}, namespace: ns}}\nspec: {spec}\n---\n"
    )
}

pub(crate) fn headless_import() -> String {
    import("svc1", "{type: Headless, ports: [{name: http, port: 80}]}")
}

/// An MCS slice `name` of import `svc1` from `cluster`, with `endpoints` (YAML flow items).
pub(crate) fn mcs_slice(name: &str, cluster: &str, endpoints: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {name}, namespace: ns, labels: {{multicluster.kubernetes.io/service-name: svc1, \
         multicluster.kubernetes.io/source-cluster: {cluster}}}}}\n\
         addressType: IPv4\nendpoints: [{endpoints}]\nports: [{{name: http, port: 8080}}]\n---\n"
    )
}

pub(crate) fn settings(cluster_id: Option<&str>) -> ZoneSettings {
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.multicluster = Some(MulticlusterSettings {
        origin: Name::from_ascii("clusterset.local.").unwrap(),
        cluster_id: cluster_id.map(crate::cluster::SharedStr::from),
    });
    settings
}

/// The synced zones of `yaml` with `--cluster-id` = `cluster_id`.
fn zones(yaml: &str, cluster_id: Option<&str>) -> Zones {
    zones_with(settings(cluster_id), yaml)
}

fn zone(yaml: &str) -> Zones {
    zones(yaml, None)
}

pub(crate) const TWO_CLUSTERS: &str = "{addresses: [10.1.0.1], hostname: web-0, conditions: {ready: true}}, \
{addresses: [10.1.0.2], hostname: web-1, conditions: {ready: false}}, {addresses: [10.1.0.3]}";

pub(crate) fn two_clusters() -> String {
    format!(
        "{}{}{}",
        headless_import(),
        mcs_slice("svc1-west", "west", TWO_CLUSTERS),
        mcs_slice("svc1-north", "north", "{addresses: [10.2.0.1], hostname: web-0}")
    )
}

#[test]
fn a_headless_import_answers_every_ready_endpoint_of_every_cluster() {
    let z = zone(&two_clusters());
    assert_eq!(
        data(&ask(&z, CS, RecordType::A).answers),
        [format!("{CS} 10.1.0.1"), format!("{CS} 10.1.0.3"), format!("{CS} 10.2.0.1")]
    );
    assert_eq!(
        data(&ask(&z, &format!("web-0.west.{CS}"), RecordType::A).answers),
        [format!("web-0.west.{CS} 10.1.0.1")]
    );
    assert_eq!(
        data(&ask(&z, &format!("web-0.north.{CS}"), RecordType::A).answers),
        [format!("web-0.north.{CS} 10.2.0.1")]
    );
    // No hostname: the dashed address, under its cluster.
    assert_eq!(ask(&z, &format!("10-1-0-3.west.{CS}"), RecordType::A).answers.len(), 1);
    // Not ready with a hostname: a known name without an address (short negative TTL).
    assert_nodata(&ask(&z, &format!("web-1.west.{CS}"), RecordType::A), 1);
    // `<clusterid>` exists (names below it), an unknown cluster or host does not.
    assert_nodata(&ask(&z, &format!("west.{CS}"), RecordType::A), 5);
    assert_nxdomain(&ask(&z, &format!("south.{CS}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("web-9.west.{CS}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("web-0.south.{CS}"), RecordType::A));
    // SRV: one record per ready endpoint, targets `<hostname>.<clusterid>`.
    assert_eq!(
        data(&ask(&z, &format!("_http._tcp.{CS}"), RecordType::SRV).answers),
        [
            format!("_http._tcp.{CS} 0 33 8080 10-1-0-3.west.{CS}"),
            format!("_http._tcp.{CS} 0 33 8080 web-0.north.{CS}"),
            format!("_http._tcp.{CS} 0 33 8080 web-0.west.{CS}"),
        ]
    );
    assert_eq!(ask(&z, CS, RecordType::SRV).answers.len(), 3, "the bare SRV RRset");
    assert_eq!(ask(&z, &format!("_http._tcp.{CS}"), RecordType::SRV).additionals.len(), 3, "glue");
    // PTR: no cluster-local record exists for these addresses.
    assert_eq!(
        data(&ask(&z, "1.0.2.10.in-addr.arpa.", RecordType::PTR).answers),
        [format!("1.0.2.10.in-addr.arpa. web-0.north.{CS}")]
    );
    assert_nxdomain(&ask(&z, "2.0.1.10.in-addr.arpa.", RecordType::PTR));
}

#[test]
fn the_zone_has_its_own_apex_schema_version_and_nothing_else() {
    let z = zone(&two_clusters());
    let txt = ask(&z, "dns-version.clusterset.local.", RecordType::TXT);
    assert_eq!(data(&txt.answers), ["dns-version.clusterset.local. 1.0.0"]);
    assert_eq!(
        data(&ask(&z, "dns-version.cluster.local.", RecordType::TXT).answers),
        ["dns-version.cluster.local. 1.1.0"]
    );
    let soa = ask(&z, "clusterset.local.", RecordType::SOA);
    assert!(soa.authoritative && soa.answers[0].name.to_ascii() == "clusterset.local.", "{soa:?}");
    assert_nxdomain(&ask(&z, "10-1-0-1.ns.pod.clusterset.local.", RecordType::A));
    assert!(z.serves(&Name::from_ascii("x.clusterset.local.").unwrap()));
    // Without --multicluster-zone the name is not ours.
    let plain = super::zone(&two_clusters());
    assert_eq!(ask(&plain, CS, RecordType::A).rcode, ResponseCode::Refused);
}

#[test]
fn a_headless_import_without_ready_endpoints_is_nxdomain() {
    let z = zone(&format!(
        "{}{}",
        headless_import(),
        mcs_slice("s", "west", "{addresses: [10.1.0.1], conditions: {ready: false}}")
    ));
    assert_nxdomain(&ask(&z, CS, RecordType::A));
    let z = zone(&headless_import());
    assert_nxdomain(&ask(&z, CS, RecordType::A));
}

#[test]
fn a_clusterset_ip_import_answers_its_ips_and_srv_to_the_service_name_only() {
    let z = zone(&format!(
        "{}{}",
        import(
            "svc1",
            "{type: ClusterSetIP, ips: [10.42.0.1, 'fd00::42'], ports: [{name: http, port: 80}, {port: 81}]}"
        ),
        mcs_slice("s", "west", "{addresses: [10.1.0.1], hostname: web-0}")
    ));
    assert_eq!(data(&ask(&z, CS, RecordType::A).answers), [format!("{CS} 10.42.0.1")]);
    assert_eq!(data(&ask(&z, CS, RecordType::AAAA).answers), [format!("{CS} fd00::42")]);
    assert_eq!(
        data(&ask(&z, &format!("_http._tcp.{CS}"), RecordType::SRV).answers),
        [format!("_http._tcp.{CS} 0 100 80 {CS}")]
    );
    // No per-cluster names under a ClusterSetIP import (spec §2.3.4).
    assert_nxdomain(&ask(&z, &format!("west.{CS}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("web-0.west.{CS}"), RecordType::A));
    assert_eq!(
        data(&ask(&z, "1.0.42.10.in-addr.arpa.", RecordType::PTR).answers),
        [format!("1.0.42.10.in-addr.arpa. {CS}")]
    );
    // Without IPs yet, nothing is published.
    let z = zone(&import("svc1", "{type: ClusterSetIP, ports: [{name: http, port: 80}]}"));
    assert_nxdomain(&ask(&z, CS, RecordType::A));
}

#[test]
fn an_exported_statefulset_keeps_its_identities_under_the_local_cluster_id() {
    let local = format!(
        "{LOCAL}{}{}{EXPORT}{CLUSTER_ID}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], false),
        headless_import(),
    );
    // The controller's copy of the local endpoints is stale (web-0 was rescheduled):
    // the local cluster's names come from the cluster zone, never from that copy.
    let stale = mcs_slice("svc1-east", "east", "{addresses: [10.9.9.9], hostname: web-0}");
    let z = zone(&format!(
        "{local}{stale}{}",
        mcs_slice("svc1-west", "west", "{addresses: [10.1.0.1], hostname: web-0}")
    ));
    assert_eq!(
        data(&ask(&z, &format!("web-0.east.{CS}"), RecordType::A).answers),
        [format!("web-0.east.{CS} 10.0.0.1")]
    );
    assert_eq!(
        data(&ask(&z, CS, RecordType::A).answers),
        [format!("{CS} 10.0.0.1"), format!("{CS} 10.1.0.1")]
    );
    // Not ready, and an ordinal with no pod yet: pending, never NXDOMAIN.
    assert_nodata(&ask(&z, &format!("web-1.east.{CS}"), RecordType::A), 1);
    assert_nodata(&ask(&z, &format!("web-2.east.{CS}"), RecordType::A), 1);
    assert_nxdomain(&ask(&z, &format!("web-3.east.{CS}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("web-2.west.{CS}"), RecordType::A));
    // The local address keeps its cluster-local PTR.
    assert_eq!(
        data(&ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR).answers),
        ["1.0.0.10.in-addr.arpa. web-0.svc1.ns.svc.cluster.local."]
    );
    // Exported, not imported yet: the identities are pending, the service not published.
    let z = zone(&format!("{LOCAL}{}{EXPORT}{CLUSTER_ID}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_nodata(&ask(&z, &format!("web-0.east.{CS}"), RecordType::A), 1);
    assert_nodata(&ask(&z, &format!("web-2.east.{CS}"), RecordType::A), 1);
    assert_nxdomain(&ask(&z, CS, RecordType::A));
    // Not exported: no identities in the clusterset.
    let z =
        zone(&format!("{LOCAL}{}{CLUSTER_ID}{}", sts_pod("web-0", &["10.0.0.1"], true), headless_import()));
    assert_nxdomain(&ask(&z, &format!("web-2.east.{CS}"), RecordType::A));
}

#[test]
fn the_cluster_id_comes_from_the_cluster_property_else_from_the_flag() {
    let base = format!("{LOCAL}{}{EXPORT}{}", sts_pod("web-0", &["10.0.0.1"], true), headless_import());
    let flag_only = zones(&base, Some("flagged"));
    assert_eq!(ask(&flag_only, &format!("web-0.flagged.{CS}"), RecordType::A).answers.len(), 1);
    let both = zones(&format!("{base}{CLUSTER_ID}"), Some("flagged"));
    assert_eq!(ask(&both, &format!("web-0.east.{CS}"), RecordType::A).answers.len(), 1);
    assert_nxdomain(&ask(&both, &format!("web-0.flagged.{CS}"), RecordType::A));
    let none = zones(&base, None);
    assert_nxdomain(&ask(&none, &format!("web-2.east.{CS}"), RecordType::A));
}

#[test]
fn the_transferred_zone_carries_the_cluster_ids() {
    let z = zone(&two_clusters());
    let apex = Name::from_ascii("clusterset.local.").unwrap();
    let served = z.served_at(&apex).expect("the multicluster zone's apex");
    assert_eq!((served.file, served.kind), (ZoneFile::Multicluster, crate::zone::ZoneKind::Multicluster));
    let records = data(&z.zone_records(served.file));
    assert!(records.contains(&format!("web-0.north.{CS} 10.2.0.1")), "{records:?}");
    assert!(records.contains(&format!("_http._tcp.{CS} 0 33 8080 web-0.west.{CS}")), "{records:?}");
    assert!(
        records.iter().any(|r| r.starts_with("clusterset.local. ns.dns.clusterset.local. hostmaster")),
        "{records:?}"
    );
    let cluster = z.served_at(&Name::from_ascii("cluster.local.").unwrap()).expect("the cluster zone");
    assert_eq!(cluster.apex.to_ascii(), "cluster.local.");
    assert_eq!(cluster.file, ZoneFile::Forward);
}
