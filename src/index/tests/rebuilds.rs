//! The index's incremental commits against the record rules: each change applied to the
//! previous zones gives what a full rebuild of the state gives, and the answers move as
//! the rules say (pod records, readiness through a reschedule, service types, slices).

use hickory_proto::rr::RecordType;

use crate::cluster::{Kind, ObjectKey, testing};
use crate::index::{Index, Update};
use crate::wire;
use crate::zone::tests::pods::pod as pod_of;
use crate::zone::tests::readiness::{TERMINATING, pod_in, ptr, publishing};
use crate::zone::tests::services::{cluster_ip, external};
use crate::zone::tests::slices::{SELECTORLESS, THREE, slice};
use crate::zone::tests::{SERVICE, ask, assert_nodata, assert_nxdomain, data, pod, sts_pod};
use crate::zone::{Zone, ZoneSettings};

const SVC: &str = "svc1.ns.svc.cluster.local.";

#[test]
fn verified_records_follow_pod_events_that_touch_no_service() {
    let parse = testing::objects;
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    index.apply(Update::Synced(true));
    index.commit();
    let name = "10-0-0-1.ns.pod.cluster.local.";
    let mut step = |yaml: String| {
        let serial = index.zones().serial();
        for o in parse(&yaml) {
            index.apply(Update::Apply(o));
        }
        let z = index.commit().unwrap_or_else(|| index.zones().clone());
        // A pod with an address, before or after, publishes a new zone.
        assert_eq!(z.serial() != serial, yaml.contains("ip:"), "{yaml}");
        z
    };
    assert_eq!(ask(&step(pod_of("a", "ns", "Pending", &[])), name, RecordType::A).answers.len(), 0);
    assert_eq!(ask(&step(pod_of("a", "ns", "Running", &["10.0.0.1"])), name, RecordType::A).answers.len(), 1);
    assert_nxdomain(&ask(&step(pod_of("a", "ns", "Failed", &["10.0.0.1"])), name, RecordType::A));
    assert_eq!(ask(&step(pod_of("b", "ns", "Running", &["10.0.0.1"])), name, RecordType::A).answers.len(), 1);
    index.apply(Update::Delete(Kind::Pod, ObjectKey { namespace: "ns".into(), name: "b".into() }));
    assert_nxdomain(&ask(&index.commit().unwrap(), name, RecordType::A));
}

/// A pod rescheduled under a publishNotReadyAddresses StatefulSet: old IP, then (terminal
/// phase, object and IP still there) no address, then the new IP. Never the old IP once
/// the pod is terminal: the CNI may have given it to another pod.
#[test]
fn a_rescheduled_pod_never_answers_its_old_ip_once_terminal() {
    let parse = testing::objects;
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\n\
               spec: {serviceName: svc1, replicas: 1}\n---\n";
    for o in parse(&format!("{}{sts}{}", publishing(), pod_in("web-0", "Running", &["10.0.0.1"], true, ""))) {
        index.apply(Update::Apply(o));
    }
    index.apply(Update::Synced(true));
    let name = "web-0.svc1.ns.svc.cluster.local.";
    let mut step = |update: Vec<Update>| {
        for u in update {
            index.apply(u);
        }
        index.commit().expect("changed")
    };
    let z = step(vec![]);
    assert_eq!(data(&ask(&z, name, RecordType::A).answers), [format!("{name} 10.0.0.1")]);
    let apply = |yaml: String| parse(&yaml).into_iter().map(Update::Apply).collect::<Vec<_>>();
    // Evicted: deletionTimestamp set, then the kubelet moves it to Failed; the IP stays.
    let z = step(apply(pod_in("web-0", "Running", &["10.0.0.1"], false, TERMINATING)));
    assert_eq!(data(&ask(&z, name, RecordType::A).answers), [format!("{name} 10.0.0.1")]);
    let z = step(apply(pod_in("web-0", "Failed", &["10.0.0.1"], false, TERMINATING)));
    assert_nodata(&ask(&z, name, RecordType::A), 1);
    assert_nxdomain(&ptr(&z, "1.0.0.10.in-addr.arpa."));
    // Deleted, recreated without an IP, then with its new one.
    let z = step(vec![Update::Delete(Kind::Pod, ObjectKey { namespace: "ns".into(), name: "web-0".into() })]);
    assert_nodata(&ask(&z, name, RecordType::A), 1);
    let z = step(apply(pod_in("web-0", "Pending", &[], false, "")));
    assert_nodata(&ask(&z, name, RecordType::A), 1);
    let z = step(apply(pod_in("web-0", "Running", &["10.0.0.9"], false, "")));
    assert_eq!(data(&ask(&z, name, RecordType::A).answers), [format!("{name} 10.0.0.9")]);
    assert_nxdomain(&ptr(&z, "1.0.0.10.in-addr.arpa."));
}

#[test]
fn pods_do_not_touch_cluster_ip_services_and_type_changes_move_the_records() {
    let parse = testing::objects;
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    for o in parse(&cluster_ip(&["10.96.0.10"])) {
        index.apply(Update::Apply(o));
    }
    index.apply(Update::Synced(true));
    index.commit();
    let before = index.zones().clone();
    // A selected pod does not rebuild the service (its records are the same allocation).
    for o in parse(&sts_pod("web-0", &["10.0.0.1"], true)) {
        index.apply(Update::Apply(o));
    }
    let after = index.commit().unwrap_or_else(|| index.zones().clone());
    assert!(std::ptr::eq(
        before.cluster().service("ns", "svc1").unwrap(),
        after.cluster().service("ns", "svc1").unwrap()
    ));
    // `a`: what A asked of the name answers (addresses, or a CNAME's target).
    let mut check = |yaml: &str, a: &[&str], ptr_cluster: bool, ptr_pod: bool| {
        for o in parse(yaml) {
            index.apply(Update::Apply(o));
        }
        let z = index.commit().expect("changed");
        assert_eq!(
            data(&ask(&z, SVC, RecordType::A).answers),
            a.iter().map(|ip| format!("{SVC} {ip}")).collect::<Vec<_>>()
        );
        assert_eq!(
            ask(&z, "10.0.96.10.in-addr.arpa.", RecordType::PTR).answers.len(),
            usize::from(ptr_cluster)
        );
        assert_eq!(ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR).answers.len(), usize::from(ptr_pod));
        let mut full = Zone::new(ZoneSettings::new("cluster.local").unwrap());
        full.rebuild_all(index.state());
        for (key, records) in z.cluster().services() {
            assert_eq!(Some(records), full.service(&key.namespace, &key.name), "{key}");
        }
        assert_eq!(z.cluster().reverse_len(), full.reverse_len());
    };
    // ClusterIP → headless → ExternalName → ClusterIP again.
    let headless = cluster_ip(&["10.96.0.10"])
        .replace("clusterIP: \"10.96.0.10\", clusterIPs: [\"10.96.0.10\"]", "clusterIP: None");
    check(&headless, &["10.0.0.1"], false, true);
    check(&external("svc1", "db.example.com"), &["db.example.com."], false, false);
    check(&cluster_ip(&["10.96.0.11"]), &["10.96.0.11"], false, false);
    index.apply(Update::Delete(Kind::Service, ObjectKey { namespace: "ns".into(), name: "svc1".into() }));
    let z = index.commit().unwrap();
    assert_nxdomain(&ask(&z, SVC, RecordType::A));
    assert_eq!(z.cluster().reverse_len(), 0);
}

#[test]
fn slices_of_one_service_combine_and_their_changes_rebuild_it_incrementally() {
    let parse = testing::objects;
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
        assert_eq!(z.cluster().service("ns", "svc1"), full.service("ns", "svc1"));
        assert_eq!(z.cluster().reverse_len(), full.reverse_len());
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
    assert_eq!(z.cluster().reverse_len(), 0);
}

#[test]
fn serial_changes_when_data_changes() {
    // From manifests (no revisions): the clock's serial, moved by a change of the records.
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let yaml = format!(
        "{SERVICE}{}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2", "fd00::2"], true),
        pod("stray", "", &["10.0.0.3"], true, ""),
    );
    index.apply(Update::Batch(testing::objects(&yaml).into_iter().map(Update::Apply).collect()));
    index.apply(Update::Synced(true));
    let z = index.commit().expect("the first zone");
    let before = z.serial();
    assert_eq!((z.cluster().service_count(), z.cluster().endpoint_count()), (1, 4));
    let selecting_nothing = SERVICE.replace("selector: {app: web}", "selector: {app: x}");
    index.apply(Update::Batch(testing::objects(&selecting_nothing).into_iter().map(Update::Apply).collect()));
    let z = index.commit().expect("changed");
    assert!(wire::serial_gt(z.serial(), before));
    assert_eq!(
        (z.cluster().service_count(), z.cluster().endpoint_count()),
        (1, 0),
        "counters follow a rebuild"
    );
}

#[test]
fn incremental_rebuilds_equal_full_rebuilds() {
    let parse = testing::objects;
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    for o in parse(&format!(
        "{SERVICE}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], true)
    )) {
        index.apply(Update::Apply(o));
    }
    index.apply(Update::Synced(true));
    index.commit();
    let steps = [
        // web-1 relabelled away from the service, then back; web-2 joins; web-0 deleted.
        sts_pod("web-1", &["10.0.0.2"], true).replace("app: web", "app: other"),
        sts_pod("web-1", &["10.0.0.3"], true),
        sts_pod("web-2", &["10.0.0.4"], false),
        sts_pod("web-2", &["10.0.0.4"], true),
    ];
    for step in steps {
        for o in parse(&step) {
            index.apply(Update::Apply(o));
        }
        let incremental = index.commit().expect("changed");
        let mut full = Zone::new(ZoneSettings::new("cluster.local").unwrap());
        full.rebuild_all(index.state());
        for (key, records) in incremental.cluster().services() {
            assert_eq!(Some(records), full.service(&key.namespace, &key.name), "{key} after {step}");
        }
        assert_eq!(incremental.cluster().service_count(), full.service_count());
    }
    index.apply(Update::Delete(Kind::Pod, ObjectKey { namespace: "ns".into(), name: "web-0".into() }));
    let z = index.commit().unwrap();
    assert_eq!(
        data(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["svc1.ns.svc.cluster.local. 10.0.0.3", "svc1.ns.svc.cluster.local. 10.0.0.4"]
    );
}
