//! Support for the external-zone tests (`tests/it/external_zones.rs`): the demo manifests of
//! `config/external`, a printable form of a response to compare answers by, a raw HTTP
//! GET, and the objects the fake API server is seeded with.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The external-zone demo manifests, `config/external`.
pub const EXTERNAL_DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/external");

/// Copies the demo manifests (`nodes.yaml`, `kafka.yaml`) into `dir`.
pub fn copy_demo(dir: &Path) {
    for file in ["nodes.yaml", "kafka.yaml"] {
        std::fs::copy(Path::new(EXTERNAL_DEMO).join(file), dir.join(file)).unwrap();
    }
}

/// One record as `name ttl TYPE data`.
pub fn line(r: &Record) -> String {
    format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data)
}

/// One record as `ttl TYPE data` (its name is the question's).
pub fn short(r: &Record) -> String {
    format!("{} {} {}", r.ttl, r.record_type(), r.data)
}

/// Everything a client reads from a response but its ID, one line each: the rcode and
/// AA, then each section's records sorted. Two listeners or two transports answer the
/// same question identically when these are equal.
pub fn essence(m: &Message) -> Vec<String> {
    let md = &m.metadata;
    let mut out = vec![format!("{} aa={} tc={}", md.response_code, md.authoritative, md.truncation)];
    for (section, records) in [("an", &m.answers), ("ns", &m.authorities), ("ar", &m.additionals)] {
        let mut lines: Vec<String> = records.iter().map(|r| format!("{section}: {}", line(r))).collect();
        lines.sort();
        out.extend(lines);
    }
    out
}

/// The answer section as `ttl TYPE data`, sorted.
pub fn answer_lines(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m.answers.iter().map(short).collect();
    out.sort();
    out
}

/// Whether `got` matches `want`, item by item: equal, or for a `want` ending in `*`,
/// starting with what comes before it.
pub fn matches(got: &[String], want: &[&str]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match w.strip_suffix('*') {
            Some(prefix) => g.starts_with(prefix),
            None => g == w,
        })
}

/// Sends `GET /<path>` over a new TCP connection to `addr` and returns what came back
/// within `wait` (empty when nothing did, or the connection was closed or reset).
pub async fn http_get(addr: SocketAddr, path: &str, wait: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

/// The namespace of the API-server objects below.
pub const NS: &str = "kafka";

/// A headless Service selecting `app: kafka`, published as `hostname` (an external-dns
/// annotation), with `endpoints-type` when given.
pub fn headless_service(name: &str, hostname: &str, endpoints_type: Option<&str>) -> Value {
    let mut annotations = json!({"external-dns.alpha.kubernetes.io/hostname": hostname});
    if let Some(t) = endpoints_type {
        annotations["external-dns.alpha.kubernetes.io/endpoints-type"] = json!(t);
    }
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": NS, "annotations": annotations},
           "spec": {"clusterIP": "None", "selector": {"app": "kafka"},
                    "ports": [{"name": "client", "port": 9092, "targetPort": "client"}]}})
}

/// StatefulSet `kafka`, governed by Service `kafka`.
pub fn statefulset(replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kafka", "namespace": NS},
           "spec": {"serviceName": "kafka", "replicas": replicas,
                    "selector": {"matchLabels": {"app": "kafka"}}}})
}

/// A kafka pod (`kafka-<i>`, hostname and subdomain set) on `node` with address `ip`.
pub fn pod(name: &str, node: &str, ip: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": NS,
                        "labels": {"app": "kafka", "statefulset.kubernetes.io/pod-name": name}},
           "spec": {"hostname": name, "subdomain": "kafka", "nodeName": node,
                    "containers": [{"name": "kafka", "image": "apache/kafka",
                                    "ports": [{"name": "client", "containerPort": 9092}]}]},
           "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                      "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

/// A Node with one InternalIP and one ExternalIP.
pub fn node(name: &str, internal: &str, external: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
           "status": {"addresses": [{"type": "InternalIP", "address": internal},
                                    {"type": "ExternalIP", "address": external},
                                    {"type": "Hostname", "address": name}],
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}
