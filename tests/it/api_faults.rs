//! The API connection as client-go survives it, each fault injected into the fake API
//! server (the real `kube` client talks to it) while the server binary runs as a child
//! process whose log is read: a silently dead connection, an API server that refuses
//! every connection, 429 with Retry-After, a paged relist whose continue token expires,
//! 5xx on lists and watches, and a watch event cut in half. Timing, request counts and
//! log lines are asserted; meanwhile the last known data keeps being answered and
//! `/readyz` stays ready.

use crate::support;

use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};
use support::dns::{addresses, eventually, query, udp};
use support::fake_apiserver::{FakeApiServer, UNTIL_CLEARED, Verb};
use support::ports::free_port;
use support::process::LoggedProcess;

const WEB_0: &str = "web-0.nginx.default.svc.cluster.local.";

fn pod(name: &str, ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"}},
           "spec": {"hostname": name, "subdomain": "nginx"},
           "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn seed(api: &FakeApiServer, pods: usize) {
    api.apply(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
                     "spec": {"clusterIP": "None", "selector": {"app": "nginx"}}}),
    );
    api.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
                     "spec": {"serviceName": "nginx", "replicas": pods}}));
    for i in 0..pods {
        api.apply(pod(&format!("web-{i}"), &format!("10.0.{}.{}", i / 200, i % 200 + 1)));
    }
}

/// The server binary against `api`, its DNS and admin addresses; `extra` options.
async fn serve(
    api: &FakeApiServer,
    dir: &std::path::Path,
    extra: &[&str],
) -> (LoggedProcess, std::net::SocketAddr, u16) {
    let kubeconfig = api.write_kubeconfig(dir);
    let (dns, admin) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{dns}");
    let admin_addr = format!("127.0.0.1:{admin}");
    let mut args = vec![
        "serve",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--listen",
        &listen,
        "--admin",
        &admin_addr,
    ];
    args.extend_from_slice(extra);
    let process = LoggedProcess::spawn(&args);
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(20), |r| !addresses(r).is_empty()).await;
    (process, addr, admin)
}

/// An HTTP GET of the admin server: the whole response.
async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// An HTTP GET of the admin server: status code.
async fn get_status(port: u16, path: &str) -> u16 {
    http_get(port, path).await.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A silently dead connection (bytes stop, the socket stays open): with `--api-timeout 2`
/// the watch is taken for dead within 7 s and reopened; a pod rescheduled meanwhile is
/// served soon after. `API_TIMEOUT=30` measures the default (within 35 s plus a backoff;
/// the bound asserted grows with it).
#[tokio::test]
async fn a_silently_dead_connection_is_noticed_and_reopened() {
    let api = FakeApiServer::start().await;
    seed(&api, 3);
    let dir = tempfile::tempdir().unwrap();
    let timeout: u64 = std::env::var("API_TIMEOUT").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let (process, addr, admin) = serve(&api, dir.path(), &["--api-timeout", &timeout.to_string()]).await;
    api.go_silent(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.apply(pod("web-0", "10.9.9.9"));
    let rescheduled = Instant::now();
    api.resume();
    // The last known address keeps being answered meanwhile, and the server stays ready.
    let mut client = udp(addr).await;
    assert_eq!(addresses(&query(&mut client, WEB_0, RecordType::A).await), ["10.0.0.1"]);
    assert_eq!(get_status(admin, "/readyz").await, 200, "ready: answering the last known state");
    let bound = Duration::from_secs(timeout + 10);
    eventually(addr, WEB_0, RecordType::A, bound + Duration::from_secs(5), |r| addresses(r) == ["10.9.9.9"])
        .await;
    let took = rescheduled.elapsed();
    eprintln!(
        "--api-timeout {timeout}: a pod rescheduled behind a silently dead connection served after {took:?}"
    );
    assert!(took < bound, "the dead watch was noticed after {took:?}:\n{:?}", process.lines());
}

/// An API server that closes every connection: attempts back off from 1 s towards 30 s
/// (not several a second), one warning per kind when it starts failing, no "recovered"
/// while it fails, one line per kind when it really recovers.
#[tokio::test]
async fn an_unreachable_api_server_is_retried_with_backoff_and_logged_once() {
    let api = FakeApiServer::start().await;
    seed(&api, 3);
    let dir = tempfile::tempdir().unwrap();
    let (process, addr, admin) = serve(&api, dir.path(), &["--api-timeout", "2"]).await;
    let before = api.connection_log().len();
    api.set_accept_and_close(true);
    api.drop_connections();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let attempts = api.connection_log().len() - before;
    eprintln!("every connection closed: {attempts} connection attempts in 12 s by 4 watchers");
    // Four watchers, each at most ~5 attempts in 12 s with backoff 1, 2, 4, 8 s (plus a
    // jitter of 20 %); kube's own backoff without reset made 3.4 a second.
    assert!(attempts <= 30, "{attempts} connection attempts in 12 s");
    let failed = process.count("watch (all namespaces) failed: serving the last known state");
    assert_eq!(failed, 4, "one warning per kind:\n{:#?}", process.lines());
    // Not also a line per failed request from kube's HTTP layer, with the default filter.
    assert_eq!(process.count("kube_client"), 0, "kube's own lines:\n{:#?}", process.lines());
    assert_eq!(process.count("recovered"), 0, "nothing recovered while every connection is closed");
    let mut client = udp(addr).await;
    assert_eq!(addresses(&query(&mut client, WEB_0, RecordType::A).await), ["10.0.0.1"], "last known state");
    assert_eq!(get_status(admin, "/readyz").await, 200, "ready: answering the last known state");
    api.set_accept_and_close(false);
    api.apply(pod("web-0", "10.8.8.8"));
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(20), |r| addresses(r) == ["10.8.8.8"]).await;
    // A watcher's next attempt can be a whole backoff step away: 16 s after its fifth
    // failure, plus 20 % jitter, plus a busy machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while process.count("recovered after") < 4 {
        assert!(Instant::now() < deadline, "each kind says it recovered:\n{:#?}", process.lines());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(process.count("recovered after"), 4, "one line per kind");
}

/// 429 Too Many Requests with `Retry-After: 3`: the next attempt of that watcher waits at
/// least 3 s.
#[tokio::test]
async fn a_429_retry_after_is_waited_for() {
    let api = FakeApiServer::start().await;
    seed(&api, 3);
    let dir = tempfile::tempdir().unwrap();
    let (process, addr, _) = serve(&api, dir.path(), &["--api-timeout", "2"]).await;
    let start = api.request_log().len();
    api.throttle(UNTIL_CLEARED, 3);
    api.drop_connections();
    tokio::time::sleep(Duration::from_secs(8)).await;
    api.throttle(0, 0);
    api.apply(pod("web-0", "10.7.7.7"));
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(20), |r| addresses(r) == ["10.7.7.7"]).await;
    let log = &api.request_log()[start..];
    let pods: Vec<_> = log.iter().filter(|r| r.path() == "/api/v1/pods" && r.verb != Verb::Get).collect();
    let throttled: Vec<_> = pods.iter().filter(|r| r.status == Some(429)).collect();
    assert!(!throttled.is_empty(), "the pod watcher was throttled: {pods:?}");
    for pair in pods.windows(2) {
        if pair[0].status == Some(429) {
            let waited = pair[1].at.duration_since(pair[0].at);
            assert!(waited >= Duration::from_millis(2900), "retried {waited:?} after a 429 asking for 3 s");
        }
    }
    drop(process);
}

/// A paged relist whose continue token expires midway (etcd compacted): the list starts
/// over and the result is exact — the change and the deletion missed while disconnected
/// are both there; nothing of the cut list is kept on its own.
#[tokio::test]
async fn an_expired_continue_token_restarts_the_list() {
    let api = FakeApiServer::start().await;
    seed(&api, 1200); // three pages of 500
    let dir = tempfile::tempdir().unwrap();
    let (process, addr, admin) = serve(&api, dir.path(), &[]).await;
    // Miss a change and a deletion, then make the watch's resourceVersion too old: 410,
    // then a relist whose second page's continue token has expired.
    api.set_hang_watches(true);
    api.drop_watches();
    api.apply(pod("web-0", "10.6.6.6"));
    api.delete("Pod", "default", "web-1199");
    api.expire_history();
    api.expire_next_continue();
    api.set_hang_watches(false);
    api.drop_watches();
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(30), |r| addresses(r) == ["10.6.6.6"]).await;
    let gone = "web-1199.nginx.default.svc.cluster.local.";
    let mut client = udp(addr).await;
    let r = query(&mut client, gone, RecordType::A).await;
    assert!(addresses(&r).is_empty(), "the pod deleted meanwhile is gone: {r:?}");
    let continued = api
        .request_log()
        .iter()
        .filter(|r| r.path() == "/api/v1/pods" && r.query("continue").is_some())
        .count();
    let refused =
        api.request_log().iter().filter(|r| r.query("continue").is_some() && r.status == Some(410)).count();
    assert!(continued >= 3 && refused == 1, "{continued} continuations, {refused} refused with 410");
    let metrics = http_get(admin, "/metrics").await;
    assert!(metrics.contains("headless_dns_api_errors_total{kind=\"pod\",code=\"410\"}"), "{metrics}");
    drop(process);
}

/// 5xx on lists and on watches, and a watch event cut in the middle of its object: the
/// server recovers, never crashes, and serves every change.
#[tokio::test]
async fn server_errors_and_a_cut_event_are_recovered_from() {
    let api = FakeApiServer::start().await;
    seed(&api, 3);
    let dir = tempfile::tempdir().unwrap();
    let (mut process, addr, admin) = serve(&api, dir.path(), &["--api-timeout", "2"]).await;
    api.fail_watches(500, 3);
    api.fail_lists(503, 2);
    api.drop_watches();
    api.apply(pod("web-0", "10.5.5.5"));
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(30), |r| addresses(r) == ["10.5.5.5"]).await;
    api.cut_next_watch_event();
    api.apply(pod("web-0", "10.4.4.4"));
    api.apply(pod("web-1", "10.4.4.5"));
    eventually(addr, WEB_0, RecordType::A, Duration::from_secs(30), |r| addresses(r) == ["10.4.4.4"]).await;
    eventually(addr, "web-1.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(30), |r| {
        addresses(r) == ["10.4.4.5"]
    })
    .await;
    assert!(process.child.try_wait().unwrap().is_none(), "still running");
    let metrics = http_get(admin, "/metrics").await;
    let errors = |code: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("headless_dns_api_errors_total") && l.contains(&format!("code=\"{code}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    assert!(errors("500") >= 1, "watch 500s counted:\n{metrics}");
    assert!(metrics.contains("headless_dns_api_last_event_age_seconds{kind=\"pod\"}"), "{metrics}");
}
