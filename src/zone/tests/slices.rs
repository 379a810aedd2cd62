//! Unit tests of selectorless headless services, whose endpoints come from the
//! EndpointSlices their operator manages.

use hickory_proto::rr::RecordType;

use super::{ask, assert_nodata, assert_nxdomain, data, sts_pod, zone};

pub(crate) const SELECTORLESS: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
spec: {clusterIP: None, ports: [{name: pg, port: 5432}]}\n---\n";

/// A slice `name` of `svc1`, managed by `manager`, with `endpoints` (YAML flow items).
pub(crate) fn slice(name: &str, manager: &str, endpoints: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {name}, namespace: ns, labels: {{kubernetes.io/service-name: svc1, \
         endpointslice.kubernetes.io/managed-by: {manager}}}}}\n\
         addressType: IPv4\nendpoints: [{endpoints}]\nports: [{{name: pg, port: 5433}}, {{name: metrics, port: 9187}}]\n---\n"
    )
}

pub(crate) const THREE: &str = "{addresses: [10.0.0.1], hostname: db-0, conditions: {ready: true}}, \
{addresses: [10.0.0.2], hostname: db-1, conditions: {ready: false}}, {addresses: [10.0.0.3]}";

const SVC: &str = "svc1.ns.svc.cluster.local.";

#[test]
fn slice_endpoints_are_published_when_ready_is_true_or_absent() {
    let z = zone(&format!("{SELECTORLESS}{}", slice("s1", "my-operator", THREE)));
    assert_eq!(
        data(&ask(&z, SVC, RecordType::A).answers),
        [format!("{SVC} 10.0.0.1"), format!("{SVC} 10.0.0.3")]
    );
    assert_eq!(
        data(&ask(&z, &format!("db-0.{SVC}"), RecordType::A).answers),
        [format!("db-0.{SVC} 10.0.0.1")]
    );
    // ready: false with a hostname: a known name without an address, pending.
    assert_nodata(&ask(&z, &format!("db-1.{SVC}"), RecordType::A), 1);
    // ready absent, no hostname: the dashed address.
    assert_eq!(ask(&z, &format!("10-0-0-3.{SVC}"), RecordType::A).answers.len(), 1);
    assert_nxdomain(&ask(&z, &format!("10-0-0-2.{SVC}"), RecordType::A));
    // The slice's ports, not the service's: SRV on 5433.
    assert_eq!(
        data(&ask(&z, &format!("_pg._tcp.{SVC}"), RecordType::SRV).answers),
        [format!("_pg._tcp.{SVC} 0 50 5433 10-0-0-3.{SVC}"), format!("_pg._tcp.{SVC} 0 50 5433 db-0.{SVC}")]
    );
    assert_eq!(
        data(&ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR).answers),
        [format!("1.0.0.10.in-addr.arpa. db-0.{SVC}")]
    );
    assert_nxdomain(&ask(&z, "2.0.0.10.in-addr.arpa.", RecordType::PTR));
}

#[test]
fn the_controllers_slices_are_never_used() {
    let z = zone(&format!("{SELECTORLESS}{}", slice("s1", "endpointslice-controller.k8s.io", THREE)));
    assert_nxdomain(&ask(&z, SVC, RecordType::A));
    assert_nxdomain(&ask(&z, &format!("db-0.{SVC}"), RecordType::A));
    // The mirroring controller's slices (from a hand-written Endpoints) are.
    let z =
        zone(&format!("{SELECTORLESS}{}", slice("s1", "endpointslicemirroring-controller.k8s.io", THREE)));
    assert_eq!(ask(&z, SVC, RecordType::A).answers.len(), 2);
}

#[test]
fn a_service_with_a_selector_takes_pods_not_slices() {
    let with_selector = SELECTORLESS.replace("clusterIP: None,", "clusterIP: None, selector: {app: web},");
    let z = zone(&format!(
        "{with_selector}{}{}",
        slice("s1", "my-operator", THREE),
        sts_pod("web-0", &["10.0.0.9"], true)
    ));
    assert_eq!(data(&ask(&z, SVC, RecordType::A).answers), [format!("{SVC} 10.0.0.9")]);
}
