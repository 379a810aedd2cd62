//! Nodes through the Kubernetes source, against the fake API server: listed and watched
//! when asked (`KubeOptions::watch_nodes`, for external zones), never requested otherwise,
//! and a refused list of them does not hold the first sync.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_dns::cluster::Kind;
use headless_dns::index::{self, Index, IndexHandle};
use headless_dns::source::kubernetes::{self, KubeOptions};
use headless_dns::zone::ZoneSettings;
use serde_json::{Value, json};
use support::fake_apiserver::{FakeApiServer, Verb};

fn node(name: &str, external: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
           "spec": {"podCIDR": "10.244.1.0/24"},
           "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                    {"type": "ExternalIP", "address": external},
                                    {"type": "Hostname", "address": name}],
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn seed(api: &FakeApiServer) {
    api.apply(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kafka", "namespace": "data",
        "annotations": {"external-dns.alpha.kubernetes.io/hostname": "kafka.example.com",
                        "external-dns.alpha.kubernetes.io/endpoints-type": "NodeExternalIP"}},
        "spec": {"clusterIP": "None", "selector": {"app": "kafka"}}}),
    );
    api.apply(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kafka-0", "namespace": "data",
        "labels": {"app": "kafka"}}, "spec": {"hostname": "kafka-0", "subdomain": "kafka", "nodeName": "node-1"},
        "status": {"phase": "Running", "podIP": "10.244.1.5", "hostIP": "10.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}]}}));
    api.apply(node("node-1", "203.0.113.1"));
}

/// The Kubernetes source alone, feeding an index of its own.
async fn start(api: &FakeApiServer, dir: &Path, watch_nodes: bool) -> IndexHandle {
    let options = KubeOptions {
        kubeconfig: Some(api.write_kubeconfig(dir)),
        watch_nodes,
        timeout: Duration::from_secs(30),
        ..KubeOptions::default()
    };
    let client = kubernetes::connect(&options).await.expect("a client for the fake API server");
    let (handle, _zones) = index::spawn(ZoneSettings::new("cluster.local").unwrap(), Arc::new(()));
    kubernetes::spawn(client, &options, handle.clone(), Arc::new(()));
    handle
}

/// What `read` says of the index once `done` holds of it (within 10 s).
async fn until<T: Send + std::fmt::Debug + 'static>(
    index: &IndexHandle,
    read: impl Fn(&Index) -> T + Clone + Send + 'static,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = index.inspect(read.clone()).await.expect("the index runs");
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "still {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each node's name and external addresses, as the index holds them.
fn nodes(index: &Index) -> Vec<String> {
    let state = index.state();
    state.nodes().map(|n| format!("{}={:?}", n.name(), n.external_ips)).collect()
}

fn node_requests(api: &FakeApiServer) -> Vec<(Verb, String)> {
    api.request_log()
        .into_iter()
        .filter(|r| r.target.starts_with("/api/v1/nodes"))
        .map(|r| (r.verb, r.target))
        .collect()
}

#[tokio::test]
async fn nodes_are_listed_and_watched_when_asked() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let index = start(&api, dir.path(), true).await;
    until(&index, |i| i.zones().is_synced(), |synced| *synced).await;
    assert_eq!(index.inspect(nodes).await.unwrap(), ["node-1=[203.0.113.1]"], "listed before the first sync");
    let placement = index
        .inspect(|i| {
            let pod = i.state().namespace("data").and_then(|ns| ns.pods.get("kafka-0").cloned());
            pod.map(|p| (p.placement.node().map(|n| n.to_string()), p.placement.host_ips().len()))
        })
        .await
        .unwrap();
    assert_eq!(placement, Some((Some("node-1".to_owned()), 1)), "the pod's node and host address");

    // Watched: a new node, a node's address moving, a node deleted.
    api.apply(node("node-2", "203.0.113.2"));
    until(&index, nodes, |n| n.len() == 2).await;
    api.apply(node("node-1", "203.0.113.9"));
    until(&index, nodes, |n| n.first().is_some_and(|n| n == "node-1=[203.0.113.9]")).await;
    api.delete("Node", "", "node-2");
    let left = until(&index, nodes, |n| n.len() == 1).await;
    assert_eq!(left, ["node-1=[203.0.113.9]"]);
    assert_eq!(index.inspect(|i| i.state().counts()[Kind::Node as usize].1).await, Some(1));

    let requests = node_requests(&api);
    assert!(requests.iter().any(|(verb, _)| *verb == Verb::List), "{requests:?}");
    assert!(requests.iter().any(|(verb, _)| *verb == Verb::Watch), "{requests:?}");
    assert!(requests.iter().all(|(_, target)| !target.contains("namespaces/")), "cluster-wide: {requests:?}");
}

#[tokio::test]
async fn nodes_are_not_requested_unless_asked() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let index = start(&api, dir.path(), false).await;
    until(&index, |i| i.zones().is_synced(), |synced| *synced).await;
    // A change after the sync, seen through, so every watcher has had its time.
    api.apply(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "later", "namespace": "data"},
                     "spec": {"clusterIP": "None"}}),
    );
    until(&index, |i| i.state().counts()[Kind::Service as usize].1, |n| *n == 2).await;
    assert_eq!(node_requests(&api), [], "no request for nodes at all");
    assert!(index.inspect(nodes).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_node_list_does_not_hold_the_first_sync() {
    let api = FakeApiServer::start().await;
    seed(&api);
    api.set_forbidden("nodes", true);
    let dir = tempfile::tempdir().unwrap();
    let index = start(&api, dir.path(), true).await;
    until(&index, |i| i.zones().is_synced(), |synced| *synced).await;
    assert!(index.inspect(nodes).await.unwrap().is_empty());
    assert!(node_requests(&api).iter().any(|(verb, _)| *verb == Verb::List));
    // Allowed again: taken in on the next attempt.
    api.set_forbidden("nodes", false);
    until(&index, nodes, |n| n.len() == 1).await;
}
