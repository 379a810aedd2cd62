//! Nodes: cluster-scoped `v1` objects, listed, watched and fetched like the other kinds,
//! with label and field selectors, and in discovery.

mod client;

use client::{WAIT, get, names, watch};
use fake_apiserver::FakeApiServer;
use serde_json::{Value, json};

fn node(name: &str, zone: &str, unschedulable: bool) -> Value {
    json!({"kind": "Node", "metadata": {"name": name, "namespace": "ignored",
           "labels": {"topology.kubernetes.io/zone": zone}},
           "spec": {"unschedulable": unschedulable},
           "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.1"}]}})
}

#[tokio::test]
async fn nodes_are_listed_fetched_and_discovered() {
    let api = FakeApiServer::start().await;
    api.apply(node("node-b", "east", false));
    api.apply(node("node-a", "west", true));

    let (head, list) = get(&api, "/api/v1/nodes").await;
    assert_eq!(
        (head.status, list["kind"].as_str(), list["apiVersion"].as_str()),
        (200, Some("NodeList"), Some("v1"))
    );
    assert_eq!(names(&list), ["node-a", "node-b"], "in key order");
    assert_eq!(list["items"][0]["metadata"].get("namespace"), None, "cluster-scoped");
    let (_, east) = get(&api, "/api/v1/nodes?labelSelector=topology.kubernetes.io%2Fzone%3Deast").await;
    assert_eq!(names(&east), ["node-b"]);
    let (_, cordoned) = get(&api, "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue").await;
    assert_eq!(names(&cordoned), ["node-a"]);
    let (_, by_name) = get(&api, "/api/v1/nodes?fieldSelector=metadata.name%21%3Dnode-a").await;
    assert_eq!(names(&by_name), ["node-b"]);

    let (head, one) = get(&api, "/api/v1/nodes/node-a").await;
    assert_eq!((head.status, one["kind"].as_str()), (200, Some("Node")));
    assert_eq!(get(&api, "/api/v1/namespaces/default/nodes").await.0.status, 404, "not namespaced");
    assert_eq!(api.get("Node", "", "node-b").unwrap()["spec"]["unschedulable"], false);

    let (_, discovery) = get(&api, "/api/v1").await;
    let nodes = discovery["resources"].as_array().unwrap().iter().find(|r| r["name"] == "nodes").cloned();
    assert_eq!(
        nodes,
        Some(json!({"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                    "verbs": ["get", "list", "watch"]}))
    );
}

#[tokio::test]
async fn nodes_are_watched_with_selectors() {
    let api = FakeApiServer::start().await;
    let rv = api.apply(node("node-a", "west", false));
    let mut all = watch(&api, "/api/v1/nodes?watch=true").await;
    let added = all.event(WAIT).await.unwrap();
    assert_eq!(
        (added["type"].as_str(), added["object"]["metadata"]["name"].as_str()),
        (Some("ADDED"), Some("node-a"))
    );
    let mut east = watch(
        &api,
        &format!(
            "/api/v1/nodes?watch=true&resourceVersion={rv}&labelSelector=topology.kubernetes.io%2Fzone%3Deast"
        ),
    )
    .await;

    api.apply(node("node-b", "east", false));
    api.apply(node("node-a", "east", true)); // moves into the selection
    assert!(api.delete("Node", "whatever", "node-b"));
    let seen: Vec<(String, String)> = {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let e = east.event(WAIT).await.unwrap();
            seen.push((
                e["type"].as_str().unwrap().into(),
                e["object"]["metadata"]["name"].as_str().unwrap().into(),
            ));
        }
        seen
    };
    let expected = [("ADDED", "node-b"), ("ADDED", "node-a"), ("DELETED", "node-b")];
    assert_eq!(seen, expected.map(|(t, n)| (t.to_string(), n.to_string())));
    for (ty, name) in [("ADDED", "node-b"), ("MODIFIED", "node-a"), ("DELETED", "node-b")] {
        let e = all.event(WAIT).await.unwrap();
        assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str()), (Some(ty), Some(name)));
    }
    assert!(!api.delete("Node", "", "node-b"), "already gone");
}
