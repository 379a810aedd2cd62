//! A rewritten manifest applies what changed in it, document by document: every change
//! is served, an unchanged rewrite publishes nothing, and an object whose new version is
//! invalid keeps serving its last good one (refused once, in the log, the metrics and
//! `explain`).

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use support::demo_file;
use support::dns::*;
use support::ports::free_port;
use support::process::LoggedProcess;

/// A headless Service `web` and `pods` of its pods (`web-<i>`, IP `ips[i]`), as one
/// `---`-separated stream (`helm template`) or as a `List` (`kubectl get -o yaml`).
fn manifest(ips: &[String], list: bool) -> String {
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {clusterIP: None, selector: {app: web}}\n";
    let pods: Vec<String> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-{i}\n  namespace: default\n  labels: {{app: web}}\nspec: {{hostname: web-{i}, subdomain: web}}\nstatus:\n  podIP: {ip}\n  conditions: [{{type: Ready, status: \"True\"}}]\n"
            )
        })
        .collect();
    if !list {
        return format!("{service}---\n{}", pods.join("---\n"));
    }
    let items: Vec<String> =
        pods.iter().map(|p| format!("- {}\n", p.trim_end().replace('\n', "\n  "))).collect();
    format!("{service}---\napiVersion: v1\nkind: List\nitems:\n{}", items.concat())
}

fn web(i: usize) -> String {
    format!("web-{i}.web.default.svc.cluster.local.")
}

async fn serves(addr: std::net::SocketAddr, i: usize, ip: &str) {
    let ip = ip.to_owned();
    eventually(addr, &web(i), RecordType::A, Duration::from_secs(5), move |r| addresses(r) == [ip.clone()])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rewrite_is_served_and_an_unchanged_one_publishes_nothing() {
    for list in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.yaml");
        let mut ips: Vec<String> = (0..300).map(|i| format!("10.1.{}.{}", i / 250, 1 + i % 250)).collect();
        std::fs::write(&file, manifest(&ips, list)).unwrap();
        let server = start(&file, &[]).await;
        let addr = server.dns_addrs[0];
        serves(addr, 299, &ips[299]).await;
        // Forty rewrites, each changing another document (some twice): each is served,
        // and so are the earlier ones.
        let mut changed = Vec::new();
        for k in 0..40 {
            let i = (k * 37) % 300;
            ips[i] = format!("10.2.{k}.{}", 1 + i % 250);
            std::fs::write(&file, manifest(&ips, list)).unwrap();
            serves(addr, i, &ips[i]).await;
            changed.push(i);
            if k % 10 == 9 {
                for &j in &changed {
                    serves(addr, j, &ips[j]).await;
                }
            }
        }
        // Rewritten unchanged, then with its pods in another order: no new zone.
        let zones = server.zones.load_full();
        std::fs::write(&file, manifest(&ips, list)).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(Arc::ptr_eq(&zones, &server.zones.load_full()), "an unchanged rewrite published a zone");
        let text = manifest(&ips, list);
        let reordered = if list {
            // Items of the List, last first.
            let (head, items) = text.split_once("items:\n").unwrap();
            let mut items: Vec<&str> = items.split_inclusive('\n').collect();
            let mut grouped: Vec<String> = Vec::new();
            for line in items.drain(..) {
                if line.starts_with("- ") {
                    grouped.push(String::new());
                }
                grouped.last_mut().unwrap().push_str(line);
            }
            grouped.reverse();
            format!("{head}items:\n{}", grouped.concat())
        } else {
            let mut documents: Vec<&str> = text.split("---\n").collect();
            documents.reverse();
            documents.join("---\n")
        };
        assert_ne!(reordered, text);
        std::fs::write(&file, reordered).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(Arc::ptr_eq(&zones, &server.zones.load_full()), "a reordered rewrite published a zone");
        serves(addr, 0, &ips[0]).await;
    }
}

/// The binary on a copy of the demo, with its log, its DNS port and its admin port.
struct Server {
    process: LoggedProcess,
    dns: std::net::SocketAddr,
    admin: std::net::SocketAddr,
}

impl Server {
    fn spawn(manifests: &Path) -> Self {
        let (dns, admin) = (free_port(), free_port());
        let (listen, admin_at) = (format!("127.0.0.1:{dns}"), format!("127.0.0.1:{admin}"));
        let process = LoggedProcess::spawn(&[
            "serve",
            "--manifests",
            manifests.to_str().unwrap(),
            "--listen",
            &listen,
            "--admin",
            &admin_at,
        ]);
        let server = Self { process, dns: listen.parse().unwrap(), admin: admin_at.parse().unwrap() };
        server.wait_log("answering DNS", 1);
        server
    }

    fn count(&self, needle: &str) -> usize {
        self.process.count(needle)
    }

    fn wait_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count(needle) < times {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not logged {times} times; log:\n{}",
                self.process.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET /<path>` from the admin endpoint: the body.
    fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.admin).unwrap();
        write!(stream, "GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_edit_is_refused_once_and_the_last_good_version_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = dir.path().join("nginx.yaml");
    std::fs::write(&nginx, demo_file("nginx.yaml")).unwrap();
    std::fs::write(dir.path().join("data.yaml"), demo_file("data.yaml")).unwrap();
    let server = Server::spawn(dir.path());
    let web0 = "web-0.nginx.default.svc.cluster.local.";
    let explain = || server.get("explain?name=web-0.nginx.default.svc.cluster.local");

    // web-0's address edited into an invalid one: refused, web-0 keeps its address.
    let bad = demo_file("nginx.yaml").replace("10.244.1.10", "10.244.999.10");
    std::fs::write(&nginx, &bad).unwrap();
    server.wait_log("manifests reloaded: 1 pod rejected (serving its previous version)", 1);
    let refused = "serving the previous version of pod default/web-0";
    assert_eq!(server.count(refused), 1, "{:?}", server.process.lines());
    assert!(
        server
            .process
            .find(|l| l.contains(refused) && l.contains("nginx.yaml (document 3, item 1)"))
            .is_some()
    );
    assert_eq!(server.count("removed"), 0);
    assert_eq!(server.count("the object is skipped"), 0, "the index logs it, not the source too");
    eventually(server.dns, web0, RecordType::A, Duration::from_secs(2), |r| addresses(r) == ["10.244.1.10"])
        .await;
    let text = explain();
    assert!(
        text.contains("the latest version of pod default/web-0 was rejected")
            && text.contains("serving the previous one"),
        "{text}"
    );
    let metrics = server.get("metrics");
    assert!(
        metrics.contains("headless_dns_objects_rejected_total{kind=\"pod\",reason=\"invalid_value\"} 1"),
        "{metrics}"
    );

    // Another pod of the same file changes: served; web-0 is not refused again.
    std::fs::write(&nginx, bad.replace("10.244.2.11", "10.244.9.11")).unwrap();
    server.wait_log("manifests reloaded: 1 pod changed", 1);
    assert_eq!(server.count(refused), 1);
    // Fixed: served again, and explain no longer says it was refused.
    std::fs::write(&nginx, demo_file("nginx.yaml").replace("10.244.1.10", "10.244.7.10")).unwrap();
    eventually(server.dns, web0, RecordType::A, Duration::from_secs(5), |r| addresses(r) == ["10.244.7.10"])
        .await;
    assert!(!explain().contains("rejected"), "{}", explain());
    // Said once, as the refusal was.
    server.wait_log("pod default/web-0: a valid version again, which is served", 1);
    assert_eq!(server.count("a valid version again"), 1);
}

#[test]
fn an_object_invalid_from_the_start_is_skipped_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let bad = demo_file("nginx.yaml").replace("10.244.1.10", "10.244.999.10");
    std::fs::write(dir.path().join("nginx.yaml"), bad).unwrap();
    let server = Server::spawn(dir.path());
    let line = "nginx.yaml (document 3, item 1): Pod default/web-0: ";
    server.wait_log(line, 1);
    std::thread::sleep(Duration::from_millis(300));
    // One line, the index's: not the loader's too.
    assert_eq!(server.count(line), 1, "{:#?}", server.process.lines());
    assert_eq!(server.count("has no earlier good version, so it is not served"), 1);
    let text = server.get("explain?name=web-0.nginx.default.svc.cluster.local");
    assert!(
        text.contains("the latest version of pod default/web-0 was rejected")
            && text.contains("it has no earlier good version, so it is not served"),
        "{text}"
    );
}

/// A copy of a manifest left beside it (a backup, an old version) defines the same
/// objects: its versions win when it is written, and the other file's at a restart. Both
/// times one line says so, naming the file whose versions are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_left_beside_a_manifest_is_said_once_with_the_file_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nginx.yaml"), demo_file("nginx.yaml")).unwrap();
    let server = Server::spawn(dir.path());
    let web0 = "web-0.nginx.default.svc.cluster.local.";
    let copy = demo_file("nginx.yaml").replace("10.244.1.10", "10.244.7.7");
    std::fs::write(dir.path().join("nginx-old.yaml"), &copy).unwrap();
    let said = "are defined in 2 files";
    server.wait_log(said, 1);
    let line = server.process.find(|l| l.contains(said)).unwrap();
    assert!(
        line.contains("pod default/web-0") && line.contains("nginx-old.yaml, the file read last"),
        "{line}"
    );
    eventually(server.dns, web0, RecordType::A, Duration::from_secs(5), |r| addresses(r) == ["10.244.7.7"])
        .await;
    // Rewritten, still a copy: not said again.
    std::fs::write(dir.path().join("nginx-old.yaml"), copy.replace("10.244.2.11", "10.244.7.8")).unwrap();
    server.wait_log("manifests reloaded: 1 pod changed", 1);
    assert_eq!(server.count(said), 1, "{:#?}", server.process.lines());
    drop(server);

    // At a restart the files are read by path: nginx.yaml last, so its versions win.
    let server = Server::spawn(dir.path());
    server.wait_log(said, 1);
    let line = server.process.find(|l| l.contains(said)).unwrap();
    assert!(
        line.contains("nginx.yaml, the file read last") && !line.contains("nginx-old.yaml, the file"),
        "{line}"
    );
    let r = query(&mut udp(server.dns).await, web0, RecordType::A).await;
    assert_eq!(addresses(&r), ["10.244.1.10"]);
}
