//! `--streaming-list` against the fake API server: the WatchList protocol where the server
//! supports it (no list request at all, relists included), paged lists where it does not.

use crate::support;

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use support::dns::*;
use support::fake_apiserver::FakeApiServer;

fn seed(api: &FakeApiServer) {
    api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
           "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "ports": [{"name": "web", "port": 80}]}}));
    api.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"serviceName": "nginx", "replicas": 3}}));
    for (i, ip) in ["10.0.0.10", "10.0.0.11", "10.0.0.12"].iter().enumerate() {
        api.apply(pod(&format!("web-{i}"), ip));
    }
}

fn pod(name: &str, ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"}},
           "spec": {"hostname": name, "subdomain": "nginx"},
           "status": {"podIP": ip, "podIPs": [{"ip": ip}], "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn streaming_watches(api: &FakeApiServer) -> usize {
    api.requests().iter().filter(|r| r.contains("watch=true") && r.contains("sendInitialEvents=true")).count()
}

async fn answers(addr: std::net::SocketAddr, name: &str, ip: &str) {
    let r = eventually(addr, name, RecordType::A, Duration::from_secs(20), |r| addresses(r) == [ip]).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn streaming_lists_sync_and_relist_without_any_list_request() {
    let api = FakeApiServer::start().await;
    seed(&api);
    api.apply(pod("extra", "10.0.0.99"));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &["--streaming-list"]).await;
    let addr = server.dns_addrs[0];
    answers(addr, "web-2.nginx.default.svc.cluster.local.", "10.0.0.12").await;
    answers(addr, "extra.nginx.default.svc.cluster.local.", "10.0.0.99").await;
    assert_eq!(
        streaming_watches(&api),
        4,
        "pods, services, statefulsets and endpointslices streamed: {:?}",
        api.requests()
    );
    assert_eq!(api.initial_streams_sent(), 4);

    // A deletion missed during an outage with compacted history: 410, then a new stream.
    api.stop().await;
    assert!(api.delete("Pod", "default", "extra"));
    api.apply(pod("web-1", "10.0.0.21"));
    api.expire_history();
    api.restart().await;
    let r = eventually(
        addr,
        "extra.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(20),
        |r| r.metadata.response_code == ResponseCode::NXDomain,
    )
    .await;
    assert!(r.answers.is_empty());
    answers(addr, "web-1.nginx.default.svc.cluster.local.", "10.0.0.21").await;
    assert!(streaming_watches(&api) > 4, "relisted by streaming");
    assert_eq!(api.list_count(), 0, "no paged list, ever: {:?}", api.requests());
}

#[tokio::test]
async fn without_watchlist_support_auto_falls_back_to_paged_lists() {
    let api = FakeApiServer::start().await;
    seed(&api);
    api.set_streaming_lists(false);
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &["--streaming-list", "auto"]).await;
    let addr = server.dns_addrs[0];
    answers(addr, "web-0.nginx.default.svc.cluster.local.", "10.0.0.10").await;
    assert!(streaming_watches(&api) >= 4, "streaming was tried first: {:?}", api.requests());
    assert!(api.list_count() >= 4, "then paged lists: {:?}", api.requests());
    assert_eq!(api.initial_streams_sent(), 0);
    // And the fallback keeps following changes.
    api.apply(pod("web-0", "10.0.0.30"));
    answers(addr, "web-0.nginx.default.svc.cluster.local.", "10.0.0.30").await;
}

#[tokio::test]
async fn never_and_the_default_use_paged_lists_only() {
    for extra in [&["--streaming-list", "never"][..], &[]] {
        let api = FakeApiServer::start().await;
        seed(&api);
        let dir = tempfile::tempdir().unwrap();
        let server = start_against(&api, dir.path(), extra).await;
        answers(server.dns_addrs[0], "web-1.nginx.default.svc.cluster.local.", "10.0.0.11").await;
        assert_eq!(streaming_watches(&api), 0, "{extra:?}: {:?}", api.requests());
        assert!(api.list_count() >= 3);
        server.shutdown(Duration::ZERO).await.unwrap();
    }
}

/// More objects than one batch of the watcher's backpressure (it waits for the index every
/// 500 listed objects): all of them are applied, streamed and paged.
#[tokio::test]
async fn lists_longer_than_a_batch_are_applied_completely() {
    for mode in ["auto", "never"] {
        let api = FakeApiServer::start().await;
        seed(&api);
        for i in 3..1203 {
            api.apply(pod(&format!("web-{i}"), &format!("10.1.{}.{}", i / 256, i % 256)));
        }
        let dir = tempfile::tempdir().unwrap();
        let server = start_against(&api, dir.path(), &["--streaming-list", mode]).await;
        let addr = server.dns_addrs[0];
        answers(addr, "web-1202.nginx.default.svc.cluster.local.", "10.1.4.178").await;
        answers(addr, "web-600.nginx.default.svc.cluster.local.", "10.1.2.88").await;
        server.shutdown(Duration::ZERO).await.unwrap();
    }
}
