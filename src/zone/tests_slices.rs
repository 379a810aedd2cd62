//! Unit tests of selectorless headless services, whose endpoints come from the
//! EndpointSlices their operator manages.

use std::path::Path;

use hickory_proto::rr::RecordType;

use super::tests::{ask, assert_nodata, assert_nxdomain, data, sts_pod, zone};
use super::*;
use crate::cluster::{Kind, ObjectKey};
use crate::index::{Index, Update};
use crate::source::manifests;

const SELECTORLESS: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
spec: {clusterIP: None, ports: [{name: pg, port: 5432}]}\n---\n";

/// A slice `name` of `svc1`, managed by `manager`, with `endpoints` (YAML flow items).
fn slice(name: &str, manager: &str, endpoints: &str) -> String {
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
         metadata: {{name: {name}, namespace: ns, labels: {{kubernetes.io/service-name: svc1, \
         endpointslice.kubernetes.io/managed-by: {manager}}}}}\n\
         addressType: IPv4\nendpoints: [{endpoints}]\nports: [{{name: pg, port: 5433}}, {{name: metrics, port: 9187}}]\n---\n"
    )
}

const THREE: &str = "{addresses: [10.0.0.1], hostname: db-0, conditions: {ready: true}}, \
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

#[test]
fn slices_of_one_service_combine_and_their_changes_rebuild_it_incrementally() {
    let parse = |yaml: &str| manifests::parse(Path::new("t.yaml"), yaml).unwrap().objects;
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ns}\n\
               spec: {serviceName: svc1, replicas: 3}\n---\n";
    for o in parse(&format!("{SELECTORLESS}{sts}{}", slice("s1", "op", THREE))) {
        index.apply(Update::Apply(o));
    }
    index.apply(Update::Synced(true));
    index.commit();
    let mut step = |update: Vec<Update>| {
        for u in update {
            index.apply(u);
        }
        let z = index.commit().expect("changed");
        let mut full = Zone::new(ZoneSettings::new("cluster.local").unwrap());
        full.rebuild_all(index.state());
        assert_eq!(z.service("ns", "svc1"), full.service("ns", "svc1"));
        assert_eq!(z.reverse_len(), full.reverse_len());
        z
    };
    let apply = |yaml: String| parse(&yaml).into_iter().map(Update::Apply).collect::<Vec<_>>();
    // A second slice (IPv6) adds an address to db-0; db-1 becomes ready.
    let v6 = slice("s2", "op", "{addresses: ['fd00::1'], hostname: db-0}").replace("IPv4", "IPv6");
    let z = step(apply(v6));
    assert_eq!(
        data(&ask(&z, &format!("db-0.{SVC}"), RecordType::AAAA).answers),
        [format!("db-0.{SVC} fd00::1")]
    );
    let z = step(apply(slice("s1", "op", &THREE.replace("ready: false", "ready: true"))));
    assert_eq!(ask(&z, &format!("db-1.{SVC}"), RecordType::A).answers.len(), 1);
    // db-2 is a StatefulSet identity of the selectorless service: pending.
    assert_nodata(&ask(&z, &format!("db-2.{SVC}"), RecordType::A), 1);
    // The operator hands the slice to the controller: it is dropped.
    let z = step(apply(slice("s1", "endpointslice-controller.k8s.io", THREE)));
    assert_eq!(data(&ask(&z, SVC, RecordType::AAAA).answers), [format!("{SVC} fd00::1")]);
    assert_nodata(&ask(&z, SVC, RecordType::A), 5);
    let z = step(vec![Update::Delete(
        Kind::EndpointSlice,
        ObjectKey { namespace: "ns".into(), name: "s2".into() },
    )]);
    assert_nxdomain(&ask(&z, SVC, RecordType::AAAA));
    assert_eq!(z.reverse_len(), 0);
}
