//! The whole cluster domain over real sockets (issue 13): ClusterIP services (dual-stack
//! included), ExternalName services, and readiness as the EndpointSlice controller
//! decides it, from manifests and through the fake API server.

use crate::support;

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use support::dns::*;
use support::fake_apiserver::FakeApiServer;

/// A Helm chart's usual pair, `kafka` (ClusterIP) and `kafka-headless`, a StatefulSet pod,
/// a dual-stack service and an ExternalName.
const CHART: &str = "\
apiVersion: v1
kind: Service
metadata: {name: kafka, namespace: data}
spec: {clusterIP: 10.96.0.20, clusterIPs: [10.96.0.20], selector: {app: kafka}, ports: [{name: tcp-client, port: 9092}]}
---
apiVersion: v1
kind: Service
metadata: {name: kafka-headless, namespace: data}
spec: {clusterIP: None, selector: {app: kafka}, ports: [{name: tcp-client, port: 9092}]}
---
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: data}
spec: {type: ClusterIP, clusterIP: 10.96.0.21, clusterIPs: [10.96.0.21, 'fd00:96::21'], ipFamilyPolicy: RequireDualStack, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: warehouse, namespace: data}
spec: {type: ExternalName, externalName: warehouse.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: broker, namespace: data}
spec: {type: ExternalName, externalName: kafka.data.svc.cluster.local}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kafka, namespace: data}
spec: {serviceName: kafka-headless, replicas: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: kafka-0, namespace: data, labels: {app: kafka}}
spec: {hostname: kafka-0, subdomain: kafka-headless}
status: {phase: Running, podIP: 10.244.0.5, conditions: [{type: Ready, status: 'True'}]}
";

#[tokio::test]
async fn cluster_ip_dual_stack_and_external_name_services_from_manifests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chart.yaml"), CHART).unwrap();
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    for mut client in [udp(addr).await, tcp(addr).await] {
        // The ClusterIP name and the StatefulSet name side by side in one namespace.
        let r = query(&mut client, "kafka.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            (r.metadata.response_code, addresses(&r)),
            (ResponseCode::NoError, vec!["10.96.0.20".into()])
        );
        let r = query(&mut client, "kafka-0.kafka-headless.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(addresses(&r), ["10.244.0.5"]);
        let r = query(&mut client, "kafka-0.kafka.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NXDomain,
            "no pod names under a ClusterIP service"
        );
        let r = query(&mut client, "_tcp-client._tcp.kafka.data.svc.cluster.local.", RecordType::SRV).await;
        assert_eq!(answers(&r), ["0 100 9092 kafka.data.svc.cluster.local."]);
        assert_eq!(addresses(&additionals_of(&r)), ["10.96.0.20"]);
        let r = query(&mut client, "20.0.96.10.in-addr.arpa.", RecordType::PTR).await;
        assert_eq!(answers(&r), ["kafka.data.svc.cluster.local."]);

        let r = query(&mut client, "dual.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(addresses(&r), ["10.96.0.21"]);
        let r = query(&mut client, "dual.data.svc.cluster.local.", RecordType::AAAA).await;
        assert_eq!(addresses(&r), ["fd00:96::21"]);

        let r = query(&mut client, "warehouse.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(
            (r.metadata.response_code, answers(&r)),
            (ResponseCode::NoError, vec!["warehouse.example.com.".into()])
        );
        assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
        // Inside the zone the CNAME is followed.
        let r = query(&mut client, "broker.data.svc.cluster.local.", RecordType::A).await;
        assert_eq!(answers(&r), ["10.96.0.20", "kafka.data.svc.cluster.local."]);
    }
}

/// The additional section as a message of its own, for `addresses`.
fn additionals_of(r: &hickory_proto::op::Message) -> hickory_proto::op::Message {
    let mut m = r.clone();
    m.answers = m.additionals.clone();
    m
}

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn pod(name: &str, phase: &str, ip: Option<&str>, ready: bool) -> Value {
    let mut status = json!({"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]});
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": "db"}},
           "spec": {"hostname": name, "subdomain": "db", "containers": [{"name": "db", "image": "db"}]},
           "status": status})
}

#[tokio::test]
async fn cluster_ip_and_external_name_services_through_the_api_follow_their_changes() {
    let api = FakeApiServer::start().await;
    api.apply(service(
        "api",
        json!({"clusterIP": "10.96.0.30", "clusterIPs": ["10.96.0.30", "fd00:96::30"],
                                     "ports": [{"name": "https", "port": 443}]}),
    ));
    api.apply(service("ext", json!({"type": "ExternalName", "externalName": "example.org"})));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let limit = Duration::from_secs(10);
    let r = eventually(addr, "api.default.svc.cluster.local.", RecordType::AAAA, limit, |r| {
        r.metadata.response_code == ResponseCode::NoError && !r.answers.is_empty()
    })
    .await;
    assert_eq!(addresses(&r), ["fd00:96::30"]);
    let r =
        eventually(addr, "ext.default.svc.cluster.local.", RecordType::A, limit, |r| !r.answers.is_empty())
            .await;
    assert_eq!(answers(&r), ["example.org."]);
    // The ExternalName moves; the ClusterIP service becomes an ExternalName (its PTR goes).
    api.apply(service("ext", json!({"type": "ExternalName", "externalName": "example.net"})));
    eventually(addr, "ext.default.svc.cluster.local.", RecordType::A, limit, |r| {
        answers(r) == ["example.net."]
    })
    .await;
    api.apply(service(
        "api",
        json!({"type": "ExternalName", "externalName": "ext.default.svc.cluster.local"}),
    ));
    let r = eventually(addr, "api.default.svc.cluster.local.", RecordType::A, limit, |r| {
        r.answers.iter().all(|a| a.record_type() == RecordType::CNAME) && r.answers.len() == 2
    })
    .await;
    assert_eq!(answers(&r), ["example.net.", "ext.default.svc.cluster.local."]);
    let r = eventually(addr, "30.0.96.10.in-addr.arpa.", RecordType::PTR, limit, |r| {
        r.metadata.response_code == ResponseCode::NXDomain
    })
    .await;
    assert!(r.answers.is_empty());
}

/// A pod rescheduled under a publishNotReadyAddresses StatefulSet: old IP → (terminal
/// phase, object and old IP still there) no address → new IP, never the old IP once the
/// pod is terminal.
#[tokio::test]
async fn a_rescheduled_pod_goes_old_ip_then_nodata_then_new_ip_never_back() {
    let api = FakeApiServer::start().await;
    api.apply(service(
        "db",
        json!({"clusterIP": "None", "publishNotReadyAddresses": true, "selector": {"app": "db"}}),
    ));
    api.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
                     "spec": {"serviceName": "db", "replicas": 1}}));
    api.apply(pod("db-0", "Running", Some("10.0.0.1"), true));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let name = "db-0.db.default.svc.cluster.local.";
    let limit = Duration::from_secs(10);
    eventually(addr, name, RecordType::A, limit, |r| addresses(r) == ["10.0.0.1"]).await;
    // Evicted: the kubelet moves the pod to Failed; the object and its IP remain.
    api.apply(pod("db-0", "Failed", Some("10.0.0.1"), false));
    let r = eventually(addr, name, RecordType::A, limit, |r| r.answers.is_empty()).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "a pending identity: NODATA, never NXDOMAIN");
    let mut client = udp(addr).await;
    let never_old = async |client: &mut _| {
        let r = query(client, name, RecordType::A).await;
        assert!(!addresses(&r).contains(&"10.0.0.1".to_owned()), "the old IP came back: {r:?}");
        r
    };
    never_old(&mut client).await;
    assert!(api.delete("Pod", "default", "db-0"));
    api.apply(pod("db-0", "Pending", None, false));
    api.apply(pod("db-0", "Running", Some("10.0.0.2"), false));
    let deadline = std::time::Instant::now() + limit;
    loop {
        let r = never_old(&mut client).await;
        if addresses(&r) == ["10.0.0.2"] {
            break;
        }
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
        assert!(std::time::Instant::now() < deadline, "the new IP never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn pod_records_in_the_three_modes_from_manifests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chart.yaml"), CHART).unwrap();
    let live = "10-244-0-5.data.pod.cluster.local.";
    let wrong_namespace = "10-244-0-5.default.pod.cluster.local.";
    let nobody = "10-244-9-9.data.pod.cluster.local.";
    // (mode, rcode of live, rcode of wrong namespace, rcode of nobody's address)
    let cases = [
        ("verified", ResponseCode::NoError, ResponseCode::NXDomain, ResponseCode::NXDomain),
        ("insecure", ResponseCode::NoError, ResponseCode::NoError, ResponseCode::NoError),
        ("disabled", ResponseCode::NXDomain, ResponseCode::NXDomain, ResponseCode::NXDomain),
    ];
    for (mode, live_rcode, wrong_rcode, nobody_rcode) in cases {
        let server = start(dir.path(), &["--pods", mode]).await;
        let mut client = udp(server.dns_addrs[0]).await;
        for (name, rcode) in [(live, live_rcode), (wrong_namespace, wrong_rcode), (nobody, nobody_rcode)] {
            let r = query(&mut client, name, RecordType::A).await;
            assert_eq!(r.metadata.response_code, rcode, "{mode} {name}");
            assert_eq!(r.answers.len(), usize::from(rcode == ResponseCode::NoError), "{mode} {name}");
        }
        if mode == "verified" {
            let r = query(&mut client, live, RecordType::A).await;
            assert_eq!(addresses(&r), ["10.244.0.5"]);
        }
        server.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_verified_pod_record_follows_the_pod_through_the_api() {
    let api = FakeApiServer::start().await;
    api.apply(pod("db-0", "Pending", None, false));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let limit = Duration::from_secs(10);
    let name = "10-0-0-7.default.pod.cluster.local.";
    let r =
        eventually(addr, name, RecordType::A, limit, |r| r.metadata.response_code != ResponseCode::ServFail)
            .await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    api.apply(pod("db-0", "Running", Some("10.0.0.7"), true));
    let r = eventually(addr, name, RecordType::A, limit, |r| !r.answers.is_empty()).await;
    assert_eq!(addresses(&r), ["10.0.0.7"]);
    api.apply(pod("db-0", "Succeeded", Some("10.0.0.7"), false));
    eventually(addr, name, RecordType::A, limit, |r| r.metadata.response_code == ResponseCode::NXDomain)
        .await;
}

fn slice_json(name: &str, manager: &str, endpoints: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": name, "namespace": "default",
                        "labels": {"kubernetes.io/service-name": "ext-db",
                                   "endpointslice.kubernetes.io/managed-by": manager}},
           "addressType": "IPv4", "endpoints": endpoints,
           "ports": [{"name": "pg", "protocol": "TCP", "port": 5432}]})
}

/// A selectorless headless service whose operator manages its EndpointSlice, through the
/// API: the slice is watched with the label selector that leaves out the controller's.
#[tokio::test]
async fn a_selectorless_service_follows_its_operators_slice_through_the_api() {
    let api = FakeApiServer::start().await;
    api.apply(service("ext-db", json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]})));
    api.apply(slice_json(
        "ext-db-1",
        "db-operator",
        json!([
        {"addresses": ["10.1.0.1"], "hostname": "primary", "conditions": {"ready": true}},
        {"addresses": ["10.1.0.2"], "hostname": "replica", "conditions": {"ready": false}}]),
    ));
    // The controller's slice for the same service: never used (and never even received).
    api.apply(slice_json(
        "ext-db-ctrl",
        "endpointslice-controller.k8s.io",
        json!([{"addresses": ["10.1.0.9"]}]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let name = "ext-db.default.svc.cluster.local.";
    // From the first answer on: SERVFAIL until every kind (slices included) is listed,
    // then the slice's address; never an NXDOMAIN in between.
    let mut client = udp(addr).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = query(&mut client, name, RecordType::A).await;
        if r.metadata.response_code == ResponseCode::ServFail {
            assert!(std::time::Instant::now() < deadline, "never synced");
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        assert_eq!(
            (r.metadata.response_code, addresses(&r)),
            (ResponseCode::NoError, vec!["10.1.0.1".to_owned()])
        );
        break;
    }
    let slice_lists: Vec<String> =
        api.requests().into_iter().filter(|r| r.contains("endpointslices")).collect();
    assert!(!slice_lists.is_empty());
    assert!(
        slice_lists.iter().all(|r| r.contains(
            "labelSelector=endpointslice.kubernetes.io%2Fmanaged-by%21%3Dendpointslice-controller.k8s.io"
        )),
        "{slice_lists:?}"
    );
    let r = query(&mut client, "replica.ext-db.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!((r.metadata.response_code, r.answers.len()), (ResponseCode::NoError, 0), "pending: NODATA");
    let r = query(&mut client, "_pg._tcp.ext-db.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(answers(&r), ["0 100 5432 primary.ext-db.default.svc.cluster.local."]);
    // The operator fails over: replica ready, primary gone.
    api.apply(slice_json(
        "ext-db-1",
        "db-operator",
        json!([
        {"addresses": ["10.1.0.2"], "hostname": "replica", "conditions": {"ready": true}}]),
    ));
    let limit = Duration::from_secs(10);
    eventually(addr, name, RecordType::A, limit, |r| addresses(r) == ["10.1.0.2"]).await;
    let r = query(&mut client, "primary.ext-db.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    // Handed to the EndpointSlice controller: it leaves the watch's label selector (the
    // API server sends it as deleted) and is no longer used.
    let replica = json!([{"addresses": ["10.1.0.2"], "hostname": "replica", "conditions": {"ready": true}}]);
    api.apply(slice_json("ext-db-1", "endpointslice-controller.k8s.io", replica.clone()));
    eventually(addr, name, RecordType::A, limit, |r| r.metadata.response_code == ResponseCode::NXDomain)
        .await;
    // Back with its operator, then deleted: no endpoint left, the service name is NXDOMAIN.
    api.apply(slice_json("ext-db-1", "db-operator", replica));
    eventually(addr, name, RecordType::A, limit, |r| addresses(r) == ["10.1.0.2"]).await;
    assert!(api.delete("EndpointSlice", "default", "ext-db-1"));
    eventually(addr, name, RecordType::A, limit, |r| r.metadata.response_code == ResponseCode::NXDomain)
        .await;
}

#[tokio::test]
async fn a_selectorless_service_follows_its_slice_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |ready: bool| {
        let yaml = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: ext-db, namespace: default}}\nspec: {{clusterIP: None}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {{name: ext-db-1, namespace: default, labels: {{kubernetes.io/service-name: ext-db}}}}\n\
             addressType: IPv4\nendpoints: [{{addresses: [10.1.0.1], hostname: primary, conditions: {{ready: {ready}}}}}]\n"
        );
        std::fs::write(dir.path().join("db.yaml"), yaml).unwrap();
    };
    write(true);
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let name = "primary.ext-db.default.svc.cluster.local.";
    let mut client = udp(addr).await;
    assert_eq!(addresses(&query(&mut client, name, RecordType::A).await), ["10.1.0.1"]);
    write(false);
    let limit = Duration::from_secs(10);
    let r = eventually(addr, name, RecordType::A, limit, |r| r.answers.is_empty()).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "not ready with a hostname: pending");
    write(true);
    eventually(addr, name, RecordType::A, limit, |r| addresses(r) == ["10.1.0.1"]).await;
}

/// A ClusterRole from before EndpointSlices were watched: their list is forbidden. The
/// server must not hold every answer at SERVFAIL for them; it answers without, and takes
/// the slices in once the list is allowed.
#[tokio::test]
async fn forbidden_endpointslices_do_not_hold_the_sync() {
    let api = FakeApiServer::start().await;
    api.set_forbidden("endpointslices", true);
    api.apply(service("ext-db", json!({"clusterIP": "None"})));
    api.apply(slice_json(
        "ext-db-1",
        "db-operator",
        json!([{"addresses": ["10.1.0.1"], "hostname": "primary"}]),
    ));
    api.apply(pod("db-0", "Running", Some("10.0.0.7"), true));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let limit = Duration::from_secs(10);
    let r = eventually(addr, "10-0-0-7.default.pod.cluster.local.", RecordType::A, limit, |r| {
        r.metadata.response_code != ResponseCode::ServFail
    })
    .await;
    assert_eq!(addresses(&r), ["10.0.0.7"], "answering from the other kinds");
    assert!(api.requests().iter().any(|r| r.contains("endpointslices")), "the slices were asked for");
    let name = "primary.ext-db.default.svc.cluster.local.";
    assert_eq!(
        query(&mut udp(addr).await, name, RecordType::A).await.metadata.response_code,
        ResponseCode::NXDomain
    );
    // The RBAC is fixed: the watcher's retries take the slices in.
    api.set_forbidden("endpointslices", false);
    eventually(addr, name, RecordType::A, Duration::from_secs(30), |r| addresses(r) == ["10.1.0.1"]).await;
}
