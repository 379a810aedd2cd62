//! The Kubernetes source against a fake API server that speaks the real list/watch
//! protocol, driven by the real `kube` client: live updates, relists after 410 Gone,
//! outages, SERVFAIL before sync and the state file's warm start.

use crate::support;

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use support::dns::*;
use support::fake_apiserver::FakeApiServer;

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
           "spec": {"clusterIP": "None", "selector": {"app": "nginx"},
                    "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
}

fn statefulset(replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"serviceName": "nginx", "replicas": replicas}})
}

fn pod(name: &str, ip: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"},
                        "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]},
           "spec": {"hostname": name, "subdomain": "nginx", "nodeName": "node-1",
                    "containers": [{"name": "nginx", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
           "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                      "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

fn seed(api: &FakeApiServer) {
    api.apply(service());
    api.apply(statefulset(3));
    for (i, ip) in ["10.0.0.10", "10.0.0.11", "10.0.0.12"].iter().enumerate() {
        api.apply(pod(&format!("web-{i}"), ip, true));
    }
}

async fn a(
    client: &mut hickory_net::client::Client<hickory_net::runtime::TokioRuntimeProvider>,
    name: &str,
) -> Message {
    query(client, name, RecordType::A).await
}

#[tokio::test]
async fn servfail_until_synced_then_live_answers() {
    let api = FakeApiServer::start().await;
    seed(&api);
    api.set_fail_with_500(true);
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let mut client = udp(addr).await;
    let r = a(&mut client, "web-0.nginx.default.svc.cluster.local.").await;
    assert_eq!(
        r.metadata.response_code,
        ResponseCode::ServFail,
        "never a false NXDOMAIN before the first list"
    );
    let r = a(&mut client, "nothing.default.svc.cluster.local.").await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    // Outside the zone is still REFUSED.
    assert_eq!(a(&mut client, "example.com.").await.metadata.response_code, ResponseCode::Refused);

    api.set_fail_with_500(false);
    let r = eventually(
        addr,
        "web-0.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(10),
        |r| r.metadata.response_code == ResponseCode::NoError,
    )
    .await;
    assert_eq!(addresses(&r), ["10.0.0.10"]);
    let srv = query(&mut client, "_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(srv.answers.len(), 3);
    assert!(
        answers(&srv).iter().all(|s| s.contains(" 8080 ")),
        "named targetPort resolved: {:?}",
        answers(&srv)
    );
}

#[tokio::test]
async fn rescheduled_pod_moves_its_a_srv_glue_and_ptr_and_others_never_change() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;

    // Watch web-0 and web-2 continuously while web-1 is rescheduled.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let observer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut client = udp(addr).await;
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (name, ip) in [("web-0", "10.0.0.10"), ("web-2", "10.0.0.12")] {
                    let r = a(&mut client, &format!("{name}.nginx.default.svc.cluster.local.")).await;
                    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
                    assert_eq!(addresses(&r), [ip], "{name} changed while web-1 moved");
                }
                let r = a(&mut client, "web-1.nginx.default.svc.cluster.local.").await;
                assert_eq!(r.metadata.response_code, ResponseCode::NoError, "web-1 never NXDOMAIN: {r:?}");
                let ips = addresses(&r);
                assert!(
                    ips.is_empty() || ips == ["10.0.0.11"] || ips == ["10.0.7.77"],
                    "web-1 answered {ips:?}"
                );
                checks += 1;
            }
            checks
        })
    };

    assert!(api.delete("Pod", "default", "web-1"));
    let r = eventually(
        addr,
        "web-1.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(5),
        |r| r.answers.is_empty(),
    )
    .await;
    assert_eq!(
        r.metadata.response_code,
        ResponseCode::NoError,
        "a known identity while its pod is gone: NODATA"
    );
    api.apply(pod("web-1", "10.0.7.77", false)); // recreated, not ready yet
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    api.apply(pod("web-1", "10.0.7.77", true));
    eventually(addr, "web-1.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(5), |r| {
        addresses(r) == ["10.0.7.77"]
    })
    .await;
    eprintln!("new address served {:?} after the API event", started.elapsed());

    let mut client = udp(addr).await;
    let srv = query(&mut client, "_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV).await;
    let glue: Vec<String> = srv
        .additionals
        .iter()
        .filter(|r| r.name.to_string().starts_with("web-1."))
        .map(|r| r.data.to_string())
        .collect();
    assert_eq!(glue, ["10.0.7.77"]);
    let ptr = query(&mut client, "77.7.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(answers(&ptr), ["web-1.nginx.default.svc.cluster.local."]);
    let old = query(&mut client, "11.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(old.metadata.response_code, ResponseCode::NXDomain);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let checks = observer.await.expect("observer saw only valid answers");
    assert!(checks > 3, "the observer ran ({checks} rounds)");
}

#[tokio::test]
async fn deletions_missed_during_an_outage_disappear_after_the_410_relist() {
    let api = FakeApiServer::start().await;
    seed(&api);
    api.apply(pod("extra", "10.0.0.99", true));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;
    let mut client = udp(addr).await;
    assert_eq!(addresses(&a(&mut client, "extra.nginx.default.svc.cluster.local.").await), ["10.0.0.99"]);
    let lists_before = api.list_count();

    // The API server goes away; meanwhile the pod is deleted and history compacted.
    api.stop().await;
    assert!(api.delete("Pod", "default", "extra"));
    api.expire_history();
    // Answers are kept while the API server is down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(addresses(&a(&mut client, "extra.nginx.default.svc.cluster.local.").await), ["10.0.0.99"]);
    assert_eq!(addresses(&a(&mut client, "web-0.nginx.default.svc.cluster.local.").await), ["10.0.0.10"]);

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
    assert!(api.list_count() > lists_before, "a relist happened");
    let ptr = query(&mut client, "99.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.metadata.response_code, ResponseCode::NXDomain);
    // The rest is intact.
    assert_eq!(addresses(&a(&mut client, "web-2.nginx.default.svc.cluster.local.").await), ["10.0.0.12"]);
}

#[tokio::test]
async fn dropped_watch_streams_resume_and_keep_following() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;
    for round in 0..3 {
        // Wait for the watches to be open, then cut them mid-stream.
        let deadline = Instant::now() + Duration::from_secs(5);
        while api.open_watches() < 3 {
            assert!(Instant::now() < deadline, "watches reopened");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        api.send_bookmarks();
        api.drop_watches();
        let ip = format!("10.0.1.{round}");
        api.apply(pod("web-0", &ip, true));
        eventually(
            addr,
            "web-0.nginx.default.svc.cluster.local.",
            RecordType::A,
            Duration::from_secs(10),
            |r| addresses(r) == [ip.clone()],
        )
        .await;
    }
}

#[tokio::test]
async fn scale_down_removes_the_highest_identities() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;
    api.apply(statefulset(2));
    api.delete("Pod", "default", "web-2");
    let r = eventually(
        addr,
        "web-2.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(5),
        |r| r.metadata.response_code == ResponseCode::NXDomain,
    )
    .await;
    assert!(r.answers.is_empty());
    let mut client = udp(addr).await;
    assert_eq!(addresses(&a(&mut client, "web-1.nginx.default.svc.cluster.local.").await), ["10.0.0.11"]);
}

#[tokio::test]
async fn namespace_and_label_selector_limit_what_is_watched() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let mut other = service();
    other["metadata"]["namespace"] = json!("other");
    api.apply(other);
    let mut elsewhere = pod("web-0", "10.9.0.1", true);
    elsewhere["metadata"]["namespace"] = json!("other");
    api.apply(elsewhere);
    let mut unlabelled = pod("web-2", "10.0.0.12", true);
    unlabelled["metadata"]["labels"] = json!({"app": "nginx", "dns": "off"});
    api.apply(unlabelled);

    let dir = tempfile::tempdir().unwrap();
    let server =
        start_against(&api, dir.path(), &["--namespace", "default", "--label-selector", "dns!=off"]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;
    let mut client = udp(addr).await;
    assert_eq!(addresses(&a(&mut client, "web-0.nginx.default.svc.cluster.local.").await), ["10.0.0.10"]);
    // Filtered out by the selector: only the StatefulSet's pending identity remains.
    let r = a(&mut client, "web-2.nginx.default.svc.cluster.local.").await;
    assert!(r.answers.is_empty());
    // Other namespaces are not watched.
    let r = a(&mut client, "web-0.nginx.other.svc.cluster.local.").await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(api.requests().iter().all(|r| !r.contains("/namespaces/other")));
    assert!(
        api.requests()
            .iter()
            .any(|r| r.contains("/api/v1/namespaces/default/pods") && r.contains("labelSelector"))
    );
}

#[tokio::test]
async fn state_file_answers_at_once_after_a_restart_then_sync_replaces_it() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap().to_owned();
    let first = start_against(&api, dir.path(), &["--state-file", &state_arg]).await;
    wait_synced(first.dns_addrs[0]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() {
        assert!(Instant::now() < deadline, "state file written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.stop().await.unwrap();

    // Restart while the API server is unreachable: answers come from the state file.
    api.stop().await;
    api.apply(pod("web-0", "10.0.5.5", true));
    let second = start_against(&api, dir.path(), &["--state-file", &state_arg]).await;
    let addr = second.dns_addrs[0];
    let mut client = udp(addr).await;
    let r = a(&mut client, "web-0.nginx.default.svc.cluster.local.").await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&r), ["10.0.0.10"], "the saved state, before any list");
    // Not synced with the cluster, as the metrics say (the alerts on `synced` must fire
    // while the API server stays away), though it answers.
    let metrics = second.metrics.render();
    assert!(metrics.contains("headless_dns_synced 0"), "{metrics}");
    assert!(metrics.contains("headless_dns_answering_from_state_file 1"), "{metrics}");

    // The API server returns: the live state replaces the saved one.
    api.restart().await;
    eventually(addr, "web-0.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(20), |r| {
        addresses(r) == ["10.0.5.5"]
    })
    .await;
    let metrics = second.metrics.render();
    assert!(metrics.contains("headless_dns_synced 1"), "{metrics}");
    assert!(metrics.contains("headless_dns_answering_from_state_file 0"), "{metrics}");
}

#[tokio::test]
async fn a_corrupt_state_file_is_ignored() {
    let api = FakeApiServer::start().await;
    seed(&api);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, b"{not json").unwrap();
    let server = start_against(&api, dir.path(), &["--state-file", state.to_str().unwrap()]).await;
    wait_synced(server.dns_addrs[0]).await;
    // And it is rewritten with the live state.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read(&state).unwrap().starts_with(b"{not") {
        assert!(Instant::now() < deadline, "state file rewritten");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn no_cluster_names_both_ways_out() {
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_headless-dns"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--kubeconfig"), "{stderr}");
    assert!(stderr.contains("--manifests config/demo"), "{stderr}");
}
