//! Initial load and memory through the Kubernetes source: starts the test suite's fake
//! API server (real list/watch protocol, paginated lists) with N pods, N/10 headless
//! services and N/10 StatefulSets, starts headless-dns against it in this process, and
//! reports the time until the last pod answers and the process's VmRSS/VmHWM.
//!
//!     cargo run --profile dist --example apiserver_load -- 100000
//!
//! The fake server's own copy of the objects (JSON values) lives in the same process; its
//! size is measured before headless-dns starts and reported separately.

use std::time::{Duration, Instant};

use clap::Parser;
use headless_dns::config::{Cli, Command};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde_json::json;

fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn answers(addr: std::net::SocketAddr, name: &str) -> bool {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut m = Message::new(1, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    socket.send_to(&m.to_vec().unwrap(), addr).await.unwrap();
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(200), socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Message::from_vec(&buf[..n])
            .is_ok_and(|r| r.metadata.response_code == ResponseCode::NoError && !r.answers.is_empty()),
        _ => false,
    }
}

fn main() {
    // The binary's allocator (the `allocator` crate's global allocator) and its settings,
    // so the figures are the binary's.
    allocator::purge_freed_memory_immediately();
    // The binary's runtime and allocator hooks, so the figures are the binary's.
    allocator::runtime(headless_dns::index::on_idle).expect("tokio runtime").block_on(run());
}

async fn run() {
    let pods: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let services = pods / 10;
    let base = status("VmRSS:");
    let api = fake_apiserver::FakeApiServer::start().await;
    for s in 0..services {
        let ns = format!("ns-{}", s % 50);
        let name = format!("app-{s}");
        api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}));
        api.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": ns},
            "spec": {"serviceName": name, "replicas": 10}}));
        for p in 0..10 {
            let i = s * 10 + p;
            let pod = format!("{name}-{p}");
            api.apply(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": {"app": name, "apps.kubernetes.io/pod-index": p.to_string(),
                    "controller-revision-hash": format!("{name}-6d4cf56db6"), "statefulset.kubernetes.io/pod-name": pod}},
                "spec": {"hostname": pod, "subdomain": name, "containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
                "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                    "conditions": [{"type": "Ready", "status": "True"}]}}));
        }
    }
    let with_api = status("VmRSS:");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.write_kubeconfig(dir.path());
    let argv = [
        "headless-dns",
        "serve",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "none",
    ];
    let Command::Serve(args) = Cli::parse_from(argv).command else { unreachable!() };
    let started = Instant::now();
    let server = headless_dns::app::start(&args).await.unwrap();
    let addr = server.dns_addrs[0];
    let last =
        format!("app-{}-9.app-{}.ns-{}.svc.cluster.local.", services - 1, services - 1, (services - 1) % 50);
    while !answers(addr, &last).await {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let load = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, hwm) = (status("VmRSS:"), status("VmHWM:"));
    println!(
        "{pods} pods, {services} services, {services} StatefulSets via the fake API server (list pages of 500, then watch)"
    );
    println!("  start -> last pod answers: {load:.2?}");
    println!(
        "  fake API server's objects: {} MiB; headless-dns on top: VmRSS +{} MiB ({} B/pod)",
        (with_api - base) / 1024,
        (rss - with_api) / 1024,
        (rss - with_api) * 1024 / pods as u64
    );
    println!("  process VmHWM {} MiB, VmRSS {} MiB", hwm / 1024, rss / 1024);

    // A relist: the API server goes away, history is compacted and a pod changes, so the
    // watches resume with 410 Gone and list everything again. Peak memory meanwhile, with
    // the high-water mark reset first (writing 5 to clear_refs).
    let lists = api.list_count();
    let steady = status("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    api.stop().await;
    api.apply(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "app-0-0", "namespace": "ns-0", "labels": {"app": "app-0"}},
        "spec": {"hostname": "app-0-0", "subdomain": "app-0"},
        "status": {"podIP": "10.255.0.1", "conditions": [{"type": "Ready", "status": "True"}]}}));
    api.expire_history();
    api.restart().await;
    let relist_started = Instant::now();
    while api.list_count() < lists + (pods / 500) as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, peak) = (status("VmRSS:"), status("VmHWM:"));
    println!(
        "  relist after 410: {} list pages in {:.2?}; process VmRSS {} -> {} MiB, peak {} MiB",
        api.list_count() - lists,
        relist_started.elapsed(),
        steady / 1024,
        after / 1024,
        peak / 1024
    );
    println!(
        "  headless-dns share (process minus the fake API server's objects): steady {} MiB, peak {} MiB, ratio {:.2}",
        (steady - with_api) / 1024,
        (peak - with_api) / 1024,
        (peak - with_api) as f64 / (steady - with_api) as f64
    );
    server.stop().await.unwrap();
}
