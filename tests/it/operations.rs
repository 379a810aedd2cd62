//! Operating the server: admin endpoints (health, readiness, metrics), graceful shutdown
//! with a lameduck period, and configuration checking.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headless_dns::admin::client;
use headless_dns::app;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::DEMO;
use support::dns::*;
use support::fake_apiserver::FakeApiServer;

const BIN: &str = env!("CARGO_BIN_EXE_headless-dns");

async fn http(url: String, path: &'static str) -> Result<String, String> {
    tokio::task::spawn_blocking(move || client::get(&url, path)).await.unwrap()
}

/// The value of one sample line of the Prometheus text output (0 if absent).
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_queries_and_describe_the_state() {
    // One UDP worker: hickory's client sends each query from a new port, which
    // SO_REUSEPORT would spread over the workers, each with its own response cache.
    let args = serve_args(&[
        "--manifests",
        DEMO,
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--udp-workers",
        "1",
    ]);
    let server = app::start(&args).await.unwrap();
    wait_synced(server.dns_addrs[0]).await;
    let url = format!("http://{}", server.admin_addr.unwrap());
    let before = http(url.clone(), "/metrics").await.unwrap();
    let a_noerror = r#"headless_dns_queries_total{qtype="A",rcode="NOERROR",protocol="udp"}"#;
    let nx = r#"headless_dns_queries_total{qtype="A",rcode="NXDOMAIN",protocol="tcp"}"#;
    let mut client = udp(server.dns_addrs[0]).await;
    for _ in 0..3 {
        query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    }
    let mut over_tcp = tcp(server.dns_addrs[0]).await;
    query(&mut over_tcp, "nope.nginx.default.svc.cluster.local.", RecordType::A).await;
    // A cached answer is counted once its batch is sent, just after the reply left: the
    // count may trail the replies for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut after = http(url.clone(), "/metrics").await.unwrap();
    while sample(&after, a_noerror) - sample(&before, a_noerror) < 3.0 && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = http(url.clone(), "/metrics").await.unwrap();
    }
    assert_eq!(sample(&after, a_noerror) - sample(&before, a_noerror), 3.0, "{after}");
    assert_eq!(sample(&after, nx) - sample(&before, nx), 1.0);
    // The repeats come from the UDP worker's response cache; the first of them and the TCP
    // query are looked up and missed. (A snapshot published meanwhile, say the manifests
    // rescanned on a loaded machine, may empty the cache: then the count is taken again.)
    let hit = r#"headless_dns_response_cache_lookups_total{result="hit"}"#;
    let miss = r#"headless_dns_response_cache_lookups_total{result="miss"}"#;
    let dropped = |m: &str| {
        ["cleared", "changed", "full"]
            .map(|r| sample(m, &format!("headless_dns_response_cache_dropped_total{{reason=\"{r}\"}}")))
            .iter()
            .sum::<f64>()
    };
    let (mut before, mut after) = (before, after);
    for attempt in 0.. {
        if dropped(&after) == dropped(&before) {
            break;
        }
        assert!(attempt < 5, "the cache kept being emptied: {after}");
        before = http(url.clone(), "/metrics").await.unwrap();
        let name = format!("web-{}.nginx.default.svc.cluster.local.", attempt % 2);
        for _ in 0..3 {
            query(&mut client, &name, RecordType::A).await;
        }
        query(&mut over_tcp, &format!("nope{attempt}.nginx.default.svc.cluster.local."), RecordType::A).await;
        after = http(url.clone(), "/metrics").await.unwrap();
    }
    assert_eq!(sample(&after, hit) - sample(&before, hit), 2.0, "{after}");
    assert_eq!(sample(&after, miss) - sample(&before, miss), 2.0, "{after}");
    assert!(sample(&after, "headless_dns_response_duration_seconds_count") >= 4.0);
    assert_eq!(sample(&after, r#"headless_dns_objects{kind="pod"}"#), 6.0);
    // Two headless services, a ClusterIP and an ExternalName one (config/demo/services.yaml).
    assert_eq!(sample(&after, r#"headless_dns_objects{kind="service"}"#), 4.0);
    assert_eq!(sample(&after, r#"headless_dns_objects{kind="statefulset"}"#), 2.0);
    assert_eq!(sample(&after, r#"headless_dns_served{kind="service"}"#), 4.0);
    assert_eq!(sample(&after, r#"headless_dns_served{kind="endpoint"}"#), 6.0);
    assert!(sample(&after, "headless_dns_programming_duration_seconds_count") >= 1.0);
    assert_eq!(sample(&after, "headless_dns_synced"), 1.0);
    assert!(after.contains("headless_dns_build_info{version=\""), "{after}");
    assert_eq!(http(url.clone(), "/healthz").await.unwrap(), "ok\n");
    assert_eq!(http(url, "/readyz").await.unwrap(), "ready\n");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn readiness_waits_for_the_sync_and_watch_metrics_move() {
    let api = FakeApiServer::start().await;
    api.set_fail_with_500(true);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.write_kubeconfig(dir.path());
    let args = serve_args(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ]);
    let server = app::start(&args).await.unwrap();
    let url = format!("http://{}", server.admin_addr.unwrap());
    let err = http(url.clone(), "/readyz").await.unwrap_err();
    assert!(err.contains("503") && err.contains("not synced"), "{err}");
    assert_eq!(http(url.clone(), "/healthz").await.unwrap(), "ok\n", "alive while not ready");
    let metrics = http(url.clone(), "/metrics").await.unwrap();
    assert_eq!(sample(&metrics, "headless_dns_seconds_since_last_sync"), -1.0);

    api.set_fail_with_500(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while http(url.clone(), "/readyz").await.is_err() {
        assert!(Instant::now() < deadline, "ready after the sync");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = http(url.clone(), "/metrics").await.unwrap();
    assert!(sample(&metrics, r#"headless_dns_watch_restarts_total{kind="pod"}"#) >= 1.0, "{metrics}");
    assert!(sample(&metrics, r#"headless_dns_relists_total{kind="service"}"#) >= 1.0);
    let since = sample(&metrics, "headless_dns_seconds_since_last_sync");
    assert!((0.0..15.0).contains(&since), "{since}");
}

fn spawn_server(args: &[&str]) -> (Child, std::net::SocketAddr, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Read the bound addresses from the startup log lines.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let (mut dns, mut admin) = (None, None);
    while dns.is_none() || admin.is_none() {
        let line = lines.next().expect("the server logs its addresses").unwrap();
        assert!(!line.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {line:?}");
        let addr = line.split("addr=").nth(1).and_then(|a| a.split_whitespace().next()).map(str::to_owned);
        if line.contains("answering DNS") {
            dns = addr.and_then(|a| a.parse().ok());
        } else if line.contains("admin HTTP") {
            admin = addr;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, dns.unwrap(), format!("http://{}", admin.unwrap()))
}

#[tokio::test]
async fn sigterm_fails_readiness_keeps_answering_for_the_lameduck_then_exits_zero() {
    let (mut child, dns_addr, url) = spawn_server(&[
        "serve",
        "--manifests",
        DEMO,
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--lameduck",
        "2",
        "--log-format",
        "text",
    ]);
    wait_synced(dns_addr).await;
    assert_eq!(http(url.clone(), "/readyz").await.unwrap(), "ready\n");
    let killed = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = http(url.clone(), "/readyz").await.unwrap_err();
    assert!(err.contains("503") && err.contains("shutting down"), "{err}");
    let mut client = udp(dns_addr).await;
    let mut answered = 0;
    while killed.elapsed() < Duration::from_millis(1700) {
        let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        answered += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered >= 10, "answered {answered} queries during the lameduck");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(killed.elapsed() >= Duration::from_secs(2), "exited only after the lameduck");
}

fn check_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(BIN);
    command.arg("check-config").args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn check_config_accepts_the_shipped_file_and_rejects_bad_keys_and_values() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/headless-dns.toml");
    let (ok, text) = check_config(&["--config", shipped], &[]);
    assert!(ok, "{text}");
    for line in [
        "zone = \"cluster.local\"",
        "ttl = 5",
        "pending_ttl = 1",
        "admin = \"127.0.0.1:8080\"",
        "lameduck = 5",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let bad_key = dir.path().join("bad-key.toml");
    std::fs::write(&bad_key, "zone = \"x.local\"\nnegative_tll = 3\n").unwrap();
    let (ok, text) = check_config(&["--config", bad_key.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(text.contains("unknown key `negative_tll`"), "{text}");

    let bad_value = dir.path().join("bad-value.toml");
    std::fs::write(&bad_value, "ttl = \"soon\"\n").unwrap();
    let (ok, text) = check_config(&["--config", bad_value.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(text.contains("bad-value.toml") && text.contains("soon"), "{text}");

    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "ttl = [\n").unwrap();
    let (ok, text) = check_config(&["--config", bad_toml.to_str().unwrap()], &[]);
    assert!(!ok && text.contains("bad.toml"), "{text}");
}

#[test]
fn a_tsig_secret_is_never_printed_in_an_error() {
    let secret = "c3VwZXJzZWNyZXRrZXl2YWx1ZQ==";
    let key = format!("transfer:hmac-md5:{secret}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, format!("tsig_key = [\"{key}\"]\n")).unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, format!("{key}\n")).unwrap();
    let file = file.to_str().unwrap();
    let keys = keys.to_str().unwrap();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(BIN).arg("serve").args(args).envs(env.iter().copied()).output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    for (how, text) in [
        ("flag", serve(&["--tsig-key", &key], &[])),
        ("environment", serve(&[], &[("HEADLESS_DNS_TSIG_KEY", &key)])),
        ("config file", serve(&["--config", file], &[])),
        ("check-config flag", check_config(&["--tsig-key", &key], &[]).1),
        ("check-config file", check_config(&["--config", file], &[]).1),
    ] {
        assert!(!text.contains(secret), "{how}: {text}");
        assert!(text.contains("transfer:hmac-md5:<secret>"), "{how}: {text}");
        assert!(text.contains("TSIG key transfer.: algorithm \"hmac-md5\" is not one of"), "{how}: {text}");
    }
    // check-config reads the key file as serve does, and fails with serve's error.
    let (ok, text) = check_config(&["--tsig-key-file", keys], &[]);
    let served = serve(&["--tsig-key-file", keys, "--listen", "127.0.0.1:0", "--admin", "none"], &[]);
    assert!(!ok && !text.contains(secret), "{text}");
    let error = format!("--tsig-key-file {keys} line 1: TSIG key transfer.: algorithm \"hmac-md5\"");
    assert!(text.contains(&error) && served.contains(&error), "check-config: {text}\nserve: {served}");
}

#[test]
fn a_pod_ip_that_is_not_an_address_stops_the_server() {
    let (ok, text) = check_config(&[], &[("POD_IP", "bogus")]);
    assert!(!ok && text.contains("POD_IP \"bogus\" is not an IP address"), "{text}");
    let (ok, text) = check_config(&[], &[("POD_IP", "10.1.2.3")]);
    assert!(ok && text.contains("ns_address = [\"10.1.2.3\"]"), "{text}");
}

#[test]
fn precedence_is_flags_then_environment_then_file_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "zone = \"file.local\"\nttl = 30\nnegative_ttl = 7\nquery_log = true\nlisten = [\"127.0.0.1:5300\", \"[::1]:5300\"]\n").unwrap();
    let (ok, text) = check_config(
        &["--config", file.to_str().unwrap(), "--zone", "flag.local"],
        &[("HEADLESS_DNS_ZONE", "env.local"), ("HEADLESS_DNS_TTL", "20")],
    );
    assert!(ok, "{text}");
    assert!(text.contains("zone = \"flag.local\""), "flag beats env and file: {text}");
    assert!(text.contains("ttl = 20\n"), "env beats file: {text}");
    assert!(text.contains("negative_ttl = 7"), "file beats default: {text}");
    assert!(text.contains("pending_ttl = 1"), "default: {text}");
    assert!(text.contains("query_log = true"), "{text}");
    // A boolean flag overrides the file's key both ways.
    let (ok, text) = check_config(&["--config", file.to_str().unwrap(), "--query-log=false"], &[]);
    assert!(ok && text.contains("query_log = false"), "{text}");
    assert!(text.contains("listen = [\"127.0.0.1:5300\", \"[::1]:5300\"]"), "{text}");
    // The config file can also come from the environment.
    let (ok, text) = check_config(&[], &[("HEADLESS_DNS_CONFIG", file.to_str().unwrap())]);
    assert!(ok && text.contains("zone = \"file.local\""), "{text}");
}

#[test]
fn help_is_useful() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for word in ["serve", "explain", "records", "check-config", "--manifests config/demo"] {
        assert!(text.contains(word), "--help lacks {word:?}:\n{text}");
    }
    let output = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for word in [
        "--listen",
        "--zone",
        "--ttl",
        "--negative-ttl",
        "--pending-ttl",
        "--manifests",
        "--kubeconfig",
        "--admin",
        "--lameduck",
    ] {
        assert!(text.contains(word), "serve --help lacks {word}");
    }
    assert!(Path::new(BIN).exists());
}
