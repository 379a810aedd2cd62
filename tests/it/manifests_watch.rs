//! The manifests watcher keeps its promises (issue 17): a file is read when its writer
//! is done, never mid-write; an idle server touches no file; a file root is watched
//! alone; the log says what was loaded and what a reload changed.

use crate::support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::demo_file;
use support::dns::*;
use support::process::LoggedProcess;

/// The binary serving manifests, with its log lines collected.
struct Server(LoggedProcess);

impl Server {
    fn spawn(manifests: &Path) -> Self {
        let server = Self(LoggedProcess::spawn(&[
            "serve",
            "--manifests",
            manifests.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "none",
        ]));
        server.wait_log("answering DNS", 1, Duration::from_secs(30));
        server
    }

    fn pid(&self) -> String {
        self.0.pid()
    }

    fn count(&self, needle: &str) -> usize {
        self.0.count(needle)
    }

    /// Waits until `needle` was logged `times` times.
    fn wait_log(&self, needle: &str, times: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.count(needle) < times {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not logged {times} times in {limit:?}; log:\n{}",
                self.0.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The inotify watches the process holds once it has set them up (they come after
    /// startup).
    fn settled_watches(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.inotify_watches() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.inotify_watches()
    }

    /// The inotify watches the process holds.
    fn inotify_watches(&self) -> usize {
        let dir = format!("/proc/{}/fdinfo", self.pid());
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter_map(|fd| std::fs::read_to_string(fd.path()).ok())
            .map(|info| info.lines().filter(|l| l.starts_with("inotify wd:")).count())
            .sum()
    }
}

/// The file-system calls (`%file` and `getdents64`) the process makes, on any thread,
/// while `during` runs, as strace lines.
fn file_system_calls(pid: &str, during: impl FnOnce()) -> Vec<String> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let strace = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%file,getdents64", "-o"])
        .arg(out.path())
        .args(["-p", pid])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run strace ({e}): install the Debian package `strace`"));
    std::thread::sleep(Duration::from_millis(500)); // attached to every thread
    during();
    assert!(Command::new("kill").args(["-INT", &strace.id().to_string()]).status().unwrap().success());
    let output = strace.wait_with_output().unwrap();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!errors.contains("ptrace"), "strace could not attach: {errors}");
    std::fs::read_to_string(out.path()).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn an_idle_server_touches_no_file_and_logs_a_broken_file_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nginx.yaml"), demo_file("nginx.yaml")).unwrap();
    std::fs::write(dir.path().join("data.yaml"), demo_file("data.yaml")).unwrap();
    let server = Server::spawn(dir.path());

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Pod\nmetadata: {name: [\n").unwrap();
    server.wait_log("bad.yaml:", 1, Duration::from_secs(5));
    let calls = file_system_calls(&server.pid(), || std::thread::sleep(Duration::from_secs(3)));
    assert!(calls.is_empty(), "an idle server made {} file-system calls:\n{}", calls.len(), calls.join("\n"));
    assert_eq!(server.count("bad.yaml:"), 1, "a broken file is logged once until it changes");

    // Changed, still broken: logged once more.
    std::fs::write(&bad, "kind: Pod\nmetadata: {name: [[\n").unwrap();
    server.wait_log("bad.yaml:", 2, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.count("bad.yaml:"), 2);
    assert_eq!(server.count("read without errors again"), 0, "not while it is broken");

    // The probe does see a reload (it can fail): one changed IP, counted as one object.
    let nginx = dir.path().join("nginx.yaml");
    let calls = file_system_calls(&server.pid(), || {
        std::fs::write(&nginx, demo_file("nginx.yaml").replace("10.244.1.10", "10.244.9.9")).unwrap();
        server.wait_log("manifests reloaded", 1, Duration::from_secs(5));
    });
    assert!(calls.iter().any(|c| c.contains("openat") && c.contains("nginx.yaml")), "{calls:?}");
    assert_eq!(server.count("manifests reloaded: 1 pod changed"), 1);
    assert_eq!(server.count("loaded 6 pods, 2 services, 2 statefulsets, 0 endpointslices from 2 files"), 1);
    assert_eq!(server.count("no Service"), 0);

    // Mended: said once, so that the last word about it is not its error.
    std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nmetadata: {name: mended}\nstatus: {podIP: 10.9.9.9}\n")
        .unwrap();
    server.wait_log(
        "bad.yaml: read without errors again; serving what it holds now",
        1,
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.count("read without errors again"), 1);
}

#[test]
fn a_file_root_watches_its_directory_alone_and_a_serviceless_source_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a/b/c", "target/debug/deps", ".git/objects"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.1}\n")
        .unwrap();
    let server = Server::spawn(&file);
    assert_eq!(server.settled_watches(), 1, "one non-recursive watch of the file's directory");
    server.wait_log(
        "loaded 1 pod, 0 services, 0 statefulsets, 0 endpointslices from 1 files",
        1,
        Duration::from_secs(5),
    );
    server.wait_log("hold no Service", 1, Duration::from_secs(5));
    drop(server);

    // A directory root watches its directories (hidden ones are not read, but may be watched).
    let server = Server::spawn(&dir.path().join("a"));
    assert_eq!(server.settled_watches(), 3);
    server.wait_log("loaded 0 pods", 1, Duration::from_secs(5));
}

/// Queries names that must keep answering NOERROR (a ready pod, pending identities of a
/// not-ready and an unscheduled pod) until `stop`; returns (queries, failures).
async fn query_loop(addr: SocketAddr, stop: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let mut client = udp(addr).await;
    let (mut queries, mut failures) = (0, Vec::new());
    let names = [
        "web-0.nginx.default.svc.cluster.local.",
        "web-1.nginx.default.svc.cluster.local.",
        "db-0.db.data.svc.cluster.local.",
        "db-1.db.data.svc.cluster.local.",
        "db-2.db.data.svc.cluster.local.",
    ];
    while !stop.load(Ordering::Relaxed) {
        for name in names {
            let r = query(&mut client, name, RecordType::A).await;
            queries += 1;
            if r.metadata.response_code != ResponseCode::NoError {
                failures.push(format!("{name} {}", r.metadata.response_code));
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (queries, failures)
}

/// Truncates `path` and writes `text` in three pieces with pauses, as a slow
/// `kubectl get ... > path` does, closing it at the end.
fn write_slowly(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let (a, rest) = text.split_at(text.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    for piece in [a, b, c] {
        file.write_all(piece.as_bytes()).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
}

async fn rewrite_under_load(root: &Path, files: &[(PathBuf, String)]) {
    let server = start(root, &[]).await;
    let addr = server.dns_addrs[0];
    let stop = Arc::new(AtomicBool::new(false));
    let queries = tokio::spawn(query_loop(addr, stop.clone()));
    let files = files.to_vec();
    tokio::task::spawn_blocking(move || {
        for (path, text) in files {
            write_slowly(&path, &text);
        }
    })
    .await
    .unwrap();
    for (name, ip) in [("web-0.nginx.default", "10.244.9.10"), ("db-0.db.data", "10.244.9.20")] {
        eventually(addr, &format!("{name}.svc.cluster.local."), RecordType::A, Duration::from_secs(3), |r| {
            addresses(r).contains(&ip.to_owned())
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    let (count, failures) = queries.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {count} queries failed during the rewrite: {failures:?}",
        failures.len()
    );
    assert!(count > 100, "only {count} queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_rewritten_slowly_in_place_never_answer_nxdomain_or_servfail() {
    let dir = tempfile::tempdir().unwrap();
    let (nginx, data) = (dir.path().join("nginx.yaml"), dir.path().join("data.yaml"));
    std::fs::write(&nginx, demo_file("nginx.yaml")).unwrap();
    std::fs::write(&data, demo_file("data.yaml")).unwrap();
    let files = [
        (nginx, demo_file("nginx.yaml").replace("10.244.1.10", "10.244.9.10")),
        (data, demo_file("data.yaml").replace("10.244.1.20", "10.244.9.20")),
    ];
    rewrite_under_load(dir.path(), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_file_root_rewritten_slowly_never_answers_nxdomain_or_servfail() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    let both = format!("{}\n---\n{}", demo_file("nginx.yaml"), demo_file("data.yaml"));
    std::fs::write(&cluster, &both).unwrap();
    let changed = both.replace("10.244.1.10", "10.244.9.10").replace("10.244.1.20", "10.244.9.20");
    rewrite_under_load(&cluster, &[(cluster.clone(), changed)]).await;
}

#[tokio::test]
async fn an_editor_rename_on_save_and_a_configmap_symlink_swap_are_served() {
    // A file root saved the way editors do: a temporary file renamed over it.
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(&cluster, demo_file("nginx.yaml")).unwrap();
    let server = start(&cluster, &[]).await;
    let temporary = dir.path().join("cluster.yaml.tmp");
    std::fs::write(&temporary, demo_file("nginx.yaml").replace("10.244.1.10", "10.244.7.7")).unwrap();
    std::fs::rename(&temporary, &cluster).unwrap();
    let web0 = "web-0.nginx.default.svc.cluster.local.";
    let limit = Duration::from_secs(3);
    eventually(server.dns_addrs[0], web0, RecordType::A, limit, |r| addresses(r) == ["10.244.7.7"]).await;

    // A ConfigMap volume: `cluster.yaml -> ..data/cluster.yaml`, `..data -> ..v1`; kubelet
    // updates it by writing `..v2` and renaming a new `..data` link over the old one.
    let mount = tempfile::tempdir().unwrap();
    let version = |name: &str, ip: &str| {
        std::fs::create_dir(mount.path().join(name)).unwrap();
        let text = demo_file("nginx.yaml").replace("10.244.1.10", ip);
        std::fs::write(mount.path().join(name).join("cluster.yaml"), text).unwrap();
    };
    version("..v1", "10.244.1.10");
    std::os::unix::fs::symlink("..v1", mount.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/cluster.yaml", mount.path().join("cluster.yaml")).unwrap();
    let server = start(mount.path(), &[]).await;
    version("..v2", "10.244.8.8");
    std::os::unix::fs::symlink("..v2", mount.path().join("..data_tmp")).unwrap();
    std::fs::rename(mount.path().join("..data_tmp"), mount.path().join("..data")).unwrap();
    eventually(server.dns_addrs[0], web0, RecordType::A, limit, |r| addresses(r) == ["10.244.8.8"]).await;

    // The same volume with `--manifests` naming the linked file.
    let server = start(&mount.path().join("cluster.yaml"), &[]).await;
    version("..v3", "10.244.6.6");
    std::os::unix::fs::symlink("..v3", mount.path().join("..data_tmp")).unwrap();
    std::fs::rename(mount.path().join("..data_tmp"), mount.path().join("..data")).unwrap();
    eventually(server.dns_addrs[0], web0, RecordType::A, limit, |r| addresses(r) == ["10.244.6.6"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_vanishes_and_comes_back_mid_write_keeps_answering() {
    let parent = tempfile::tempdir().unwrap();
    let (root, staging) = (parent.path().join("m"), parent.path().join("staging"));
    for dir in [&root, &staging] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("nginx.yaml"), demo_file("nginx.yaml")).unwrap();
        std::fs::write(dir.join("data.yaml"), demo_file("data.yaml")).unwrap();
    }
    let server = start(&root, &[]).await;
    let addr = server.dns_addrs[0];
    let stop = Arc::new(AtomicBool::new(false));
    let queries = tokio::spawn(query_loop(addr, stop.clone()));
    std::fs::remove_dir_all(&root).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await; // past a look at the missing root
    // It comes back (a deploy renames it into place), and one file is rewritten slowly.
    std::fs::rename(&staging, &root).unwrap();
    let nginx = root.join("nginx.yaml");
    let changed = demo_file("nginx.yaml").replace("10.244.1.10", "10.244.9.10");
    tokio::task::spawn_blocking(move || write_slowly(&nginx, &changed)).await.unwrap();
    let web0 = "web-0.nginx.default.svc.cluster.local.";
    eventually(addr, web0, RecordType::A, Duration::from_secs(6), |r| addresses(r) == ["10.244.9.10"]).await;
    stop.store(true, Ordering::Relaxed);
    let (count, failures) = queries.await.unwrap();
    assert!(failures.is_empty(), "{} of {count} queries failed: {failures:?}", failures.len());
}
