//! SOA serials replicas agree on: two servers watching the same (fake) API server report
//! the serial of the last change they applied, whatever their history (started later,
//! bookmarks, changes that touch no record).

use crate::support;

use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use serde_json::{Value, json};
use support::dns::*;
use support::fake_apiserver::FakeApiServer;

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
           "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "ports": [{"name": "web", "port": 80}]}})
}

fn pod(name: &str, ip: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
           "spec": {"hostname": name, "subdomain": "nginx"},
           "status": {"podIP": ip, "podIPs": [{"ip": ip}], "conditions": [{"type": "Ready", "status": "True"}]}})
}

async fn serial(addr: std::net::SocketAddr) -> u32 {
    let mut client = udp(addr).await;
    let r = query(&mut client, "cluster.local.", RecordType::SOA).await;
    match r.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => soa.serial,
        other => panic!("no SOA: {other:?}"),
    }
}

/// Waits until both replicas report `want`.
async fn both(addrs: [std::net::SocketAddr; 2], want: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = [serial(addrs[0]).await, serial(addrs[1]).await];
        if got == [want, want] {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "serials {got:?}, want {want} on both");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_replicas_report_the_revision_of_the_last_change() {
    let api = FakeApiServer::start().await;
    api.apply(service());
    api.apply(pod("web-0", "10.0.0.10", "nginx"));
    let last = api.apply(pod("web-1", "10.0.0.11", "nginx"));
    let dir = tempfile::tempdir().unwrap();
    let a = start_against(&api, dir.path(), &[]).await;
    wait_synced(a.dns_addrs[0]).await;
    // The first replica follows a change by watching it...
    let moved = api.apply(pod("web-1", "10.0.0.21", "nginx"));
    assert!(moved > last);
    // ...the second one is started after it and only lists it.
    let b = start_against(&api, dir.path(), &[]).await;
    wait_synced(b.dns_addrs[0]).await;
    let addrs = [a.dns_addrs[0], b.dns_addrs[0]];
    both(addrs, moved as u32).await;

    // A change that touches no record (a pod no service selects, and without an address
    // yet, so it has no pod record either), and bookmarks: no move.
    let mut lonely = pod("lonely", "10.0.0.50", "other");
    lonely["spec"] = json!({}); // no subdomain: not even a pending identity of nginx
    lonely["status"] = json!({"phase": "Pending"});
    api.apply(lonely);
    api.send_bookmarks();
    tokio::time::sleep(Duration::from_millis(300)).await;
    both(addrs, moved as u32).await;

    // A deletion: the serial becomes the deletion's revision, on both.
    assert!(api.delete("Pod", "default", "web-0"));
    let deleted = api.current_resource_version();
    both(addrs, deleted as u32).await;
    eventually(
        addrs[1],
        "web-0.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(5),
        |r| r.answers.is_empty(),
    )
    .await;

    // Several changes in a burst: each replica may batch them differently, same result.
    let mut last = 0;
    for i in 0..5 {
        last = api.apply(pod("web-2", &format!("10.0.0.{}", 60 + i), "nginx"));
    }
    both(addrs, last as u32).await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn manifest_serials_are_unix_seconds_and_only_increase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.yaml");
    let write = |ip: &str| {
        let mut text = serde_yaml::to_string(&service()).unwrap();
        text.push_str("---\n");
        text.push_str(&serde_yaml::to_string(&pod("web-0", ip, "nginx")).unwrap());
        std::fs::write(&path, text).unwrap();
    };
    write("10.0.0.1");
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let first = serial(addr).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    assert!(first <= now && now - first < 60, "serial {first} is the Unix time of the load ({now})");
    write("10.0.0.2");
    eventually(addr, "web-0.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(10), |r| {
        addresses(r) == ["10.0.0.2"]
    })
    .await;
    let second = serial(addr).await;
    assert!(second > first, "{second} follows {first}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_replica_that_relisted_is_never_behind_and_agrees_again_at_the_next_change() {
    let api = FakeApiServer::start().await;
    api.apply(service());
    api.apply(pod("web-0", "10.0.0.10", "nginx"));
    api.apply(pod("web-1", "10.0.0.11", "nginx"));
    let dir = tempfile::tempdir().unwrap();
    let a = start_against(&api, dir.path(), &[]).await;
    let b = start_against(&api, dir.path(), &[]).await;
    let addrs = [a.dns_addrs[0], b.dns_addrs[0]];
    wait_synced(addrs[0]).await;
    wait_synced(addrs[1]).await;
    let synced = api.current_resource_version();
    both(addrs, synced as u32).await;

    // The API server goes away; meanwhile a pod is deleted, an unrelated pod changes, and
    // the history is compacted: both replicas relist (410 Gone) and never see the DELETE.
    api.stop().await;
    assert!(api.delete("Pod", "default", "web-0"));
    let deleted = api.current_resource_version();
    let mut lonely = pod("lonely", "10.0.0.50", "other");
    lonely["spec"] = json!({});
    lonely["status"] = json!({"phase": "Pending"}); // no address: no pod record either
    let unrelated = api.apply(lonely);
    api.expire_history();
    api.restart().await;
    for addr in addrs {
        eventually(
            addr,
            "web-0.nginx.default.svc.cluster.local.",
            RecordType::A,
            Duration::from_secs(20),
            |r| r.answers.is_empty(),
        )
        .await;
    }
    // Each took the highest revision it saw in the list: ahead of the deletion's, not behind.
    let got = [serial(addrs[0]).await, serial(addrs[1]).await];
    for s in got {
        assert!(
            s >= deleted as u32 && s <= unrelated as u32,
            "{got:?}: deleted at {deleted}, listed up to {unrelated}"
        );
    }
    // The next change puts both on its revision.
    let next = api.apply(pod("web-1", "10.0.0.31", "nginx"));
    both(addrs, next as u32).await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn from_a_state_file_the_serial_is_0_until_the_first_list_sets_the_revision() {
    let api = FakeApiServer::start().await;
    api.apply(service());
    let last = api.apply(pod("web-0", "10.0.0.10", "nginx"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap().to_owned();
    let first = start_against(&api, dir.path(), &["--state-file", &state_arg]).await;
    wait_synced(first.dns_addrs[0]).await;
    assert_eq!(serial(first.dns_addrs[0]).await, last as u32);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !state.exists() {
        assert!(std::time::Instant::now() < deadline, "state file written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.stop().await.unwrap();

    // Restarted while the API server is away: the saved state, with the placeholder serial.
    api.stop().await;
    let second = start_against(&api, dir.path(), &["--state-file", &state_arg]).await;
    let addr = second.dns_addrs[0];
    wait_synced(addr).await;
    assert_eq!(serial(addr).await, 0, "no revision is known before the first list");
    // The API server returns with nothing changed: the list sets the revision anyway.
    api.restart().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while serial(addr).await != last as u32 {
        assert!(std::time::Instant::now() < deadline, "serial {} never became {last}", serial(addr).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.stop().await.unwrap();
}
