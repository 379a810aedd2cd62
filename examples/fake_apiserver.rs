//! The test suite's fake Kubernetes API server (`crates/fake-apiserver`) as a
//! standalone process, loaded with the objects of a manifests directory, so that the real
//! `headless-dns` binary can be measured against it as a separate process
//! (`MODE=apiserver bench/memory.sh`: `/proc/PID/status` of the server then holds only
//! the server's memory, not the fake API server's copy of the objects).
//!
//!     cargo build --profile dist --example fake_apiserver
//!     target/dist/examples/fake_apiserver /tmp/w100k/manifests /tmp/kube
//!
//! It reads every `*.yaml` / `*.yml` / `*.json` file of the directory (multi-document YAML,
//! `kind: List` flattened; the layout `bench/gen.py` writes), stores the objects of the
//! kinds the fake server serves (Pods, Services, StatefulSets, Nodes, ..., the custom
//! resources; other kinds are skipped with a warning), writes a kubeconfig pointing at
//! itself into the second directory, prints
//!
//!     ready KUBECONFIG_PATH OBJECT_COUNT
//!
//! on stdout, and serves the real list/watch protocol until SIGTERM or SIGINT.
//!
//! On SIGUSR1 it simulates an API-server restart with compacted history, which makes every
//! watching client relist: it stops listening, re-applies one stored object unchanged
//! (a new resource version the clients miss), forgets the event history and listens
//! again, so the clients' watches resume with `410 Gone` and list everything again. Once
//! every resource that was being watched has been listed again and is watched from the
//! new resource version, it prints
//!
//!     relisted LIST_PAGES SECONDS
//!
//! (the list requests served since the signal, and the time from the signal).
//! Progress and warnings go to stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fake_apiserver::{CRD_KINDS, FakeApiServer, SUPPORTED_KINDS};
use serde::Deserialize;
use serde_json::Value;
use tokio::signal::unix::{SignalKind, signal};

/// Serves the objects of a manifests directory through the fake Kubernetes API server.
#[derive(Parser)]
struct Args {
    /// Directory of manifests (`*.yaml`, `*.yml`, `*.json`; `kind: List` is flattened). The
    /// fake API server's kinds are served (Pods, Services, StatefulSets, EndpointSlices, Nodes,
    /// the Multi-Cluster Services resources, ...); other kinds are skipped with a warning
    manifests: PathBuf,
    /// Directory to write the kubeconfig into (`kubeconfig-fake-PORT`)
    kubeconfig_dir: PathBuf,
    /// How long to wait for the clients to relist after SIGUSR1 before giving up, in seconds
    #[arg(long, default_value_t = 600)]
    relist_timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake_apiserver: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let files = manifest_files(&args.manifests)?;
    let objects = parse_all(&files)?;
    let parsed = started.elapsed();

    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    runtime.block_on(serve(args, objects, files.len(), parsed, started))
}

/// The manifest files of `dir`, sorted by name.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?.path();
        let manifest =
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Parses the files on all cores; returns their objects in file order.
fn parse_all(files: &[PathBuf]) -> Result<Vec<Value>, String> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len()).max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Vec<Value>, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break done };
                        done.push((i, parse_file(path)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a parser thread panicked")).collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let mut objects = Vec::new();
    for (_, result) in results {
        objects.extend(result?);
    }
    Ok(objects)
}

/// The objects of one file, `kind: List` (and top-level arrays) flattened.
fn parse_file(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut documents = Vec::new();
    if path.extension().is_some_and(|e| e == "json") {
        documents.push(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?,
        );
    } else {
        // Straight into serde_json values (what `FakeApiServer::apply` takes), one per document.
        for document in serde_yaml::Deserializer::from_str(&text) {
            documents.push(
                Value::deserialize(document).map_err(|e| format!("{}: invalid YAML: {e}", path.display()))?,
            );
        }
    }
    let mut objects = Vec::new();
    for document in documents {
        flatten(document, &mut objects);
    }
    for object in &objects {
        if !object.is_object() {
            return Err(format!("{}: an item is not an object: {}", path.display(), abbreviate(object)));
        }
        if object.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(format!(
                "{}: an object has no metadata.name: {}",
                path.display(),
                abbreviate(object)
            ));
        }
    }
    Ok(objects)
}

fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Null => {} // an empty YAML document
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Object(mut map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
            if let Some(Value::Array(items)) = map.remove("items") {
                items.into_iter().for_each(|v| flatten(v, out));
            }
        }
        other => out.push(other),
    }
}

fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

async fn serve(
    args: &Args,
    objects: Vec<Value>,
    files: usize,
    parsed: Duration,
    started: Instant,
) -> Result<(), String> {
    // Installed before `ready` is printed: SIGUSR1's default action would end the process.
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(|e| format!("cannot handle SIGUSR1: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;

    let api = FakeApiServer::start().await;
    let mut applied = 0usize;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    // The object SIGUSR1 re-applies: (kind, namespace, name).
    let mut touch: Option<(String, String, String)> = None;
    for object in objects {
        let kind = kind_of(&object);
        if !SUPPORTED_KINDS.iter().chain(CRD_KINDS).any(|r| r.kind.eq_ignore_ascii_case(kind)) {
            *skipped.entry(kind.to_string()).or_default() += 1;
            continue;
        }
        if touch.is_none() {
            let namespace =
                object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            touch = Some((kind.to_string(), namespace.to_string(), name.to_string()));
        }
        api.apply(object);
        applied += 1;
    }
    // Like a long-running API server whose history has been compacted: clients list first
    // anyway, and the stored objects are not also referenced from the event history.
    api.expire_history();
    for (kind, n) in &skipped {
        eprintln!("fake_apiserver: skipped {n} object(s) of unsupported kind {kind:?}");
    }
    eprintln!(
        "fake_apiserver: {applied} objects from {files} files at {} (parsed in {:.2?}, stored in {:.2?})",
        api.url(),
        parsed,
        started.elapsed() - parsed
    );

    std::fs::create_dir_all(&args.kubeconfig_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.kubeconfig_dir.display()))?;
    let kubeconfig = api.write_kubeconfig(&args.kubeconfig_dir);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {} {applied}", kubeconfig.display())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;

    let relist_timeout = Duration::from_secs(args.relist_timeout);
    loop {
        tokio::select! {
            _ = usr1.recv() => {}
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
        // SIGTERM / SIGINT still end the process during a relist.
        let (pages, seconds) = tokio::select! {
            done = relist(&api, touch.as_ref(), relist_timeout) => done,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        writeln!(stdout, "relisted {pages} {seconds:.2}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    eprintln!("fake_apiserver: stopping");
    Ok(()) // dropping `api` closes the listener and every connection
}

/// An outage with history compaction (see the module docs); waits until every watched
/// resource has been listed (paged or streamed) and watched again, at most `timeout`.
/// Returns the list pages served meanwhile (none for streaming lists) and the seconds it
/// took.
async fn relist(
    api: &FakeApiServer,
    touch: Option<&(String, String, String)>,
    timeout: Duration,
) -> (u64, f64) {
    let started = Instant::now();
    let lists = api.list_count();
    let watched = watched_paths(&api.requests());
    eprintln!("fake_apiserver: relist: restarting with compacted history (watched: {watched:?})");
    api.stop().await;
    // A change the watches miss, so that resuming from their last resource version fails:
    // the object is re-applied as it is (same content, new resource version).
    let rv = match touch.and_then(|(kind, ns, name)| api.get(kind, ns, name)) {
        Some(object) => api.apply(object),
        None => api.current_resource_version(),
    };
    api.expire_history();
    let streams = api.initial_streams_sent();
    api.restart().await;
    if touch.is_none() {
        eprintln!("fake_apiserver: relist: no objects, so nothing for the clients to relist");
    } else {
        while !rewatched(&api.requests(), &watched, rv, api.initial_streams_sent() - streams) {
            if started.elapsed() > timeout {
                eprintln!("fake_apiserver: relist: the clients did not relist within {timeout:?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (pages, seconds) = (api.list_count() - lists, started.elapsed().as_secs_f64());
    eprintln!("fake_apiserver: relist: {pages} list pages served in {seconds:.2} s");
    (pages, seconds)
}

/// A logged request line (`GET /api/v1/pods?watch=true&resourceVersion=5`) as
/// (path, whether it is a watch, its `resourceVersion`, whether it is a streaming list).
fn parse_request(line: &str) -> Option<(&str, bool, Option<u64>, bool)> {
    let target = line.strip_prefix("GET ")?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (mut watch, mut rv, mut streaming) = (false, None, false);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("watch", v)) => watch = v == "true" || v == "1",
            Some(("resourceVersion", v)) => rv = v.parse().ok(),
            Some(("sendInitialEvents", v)) => streaming = v == "true",
            _ => {}
        }
    }
    Some((path, watch, rv, streaming))
}

/// The paths that have been watched.
fn watched_paths(requests: &[String]) -> Vec<String> {
    let mut paths: Vec<String> = requests
        .iter()
        .filter_map(|r| parse_request(r))
        .filter(|(_, watch, _, _)| *watch)
        .map(|(path, _, _, _)| path.to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Whether the latest watch of each path started at `rv` or later (the client can only
/// know such a resource version from a list made after the history was compacted at `rv`)
/// or is a streaming list, and `streamed` initial streams have been sent completely since
/// the restart: enough for every streaming path.
fn rewatched(requests: &[String], paths: &[String], rv: u64, streamed: u64) -> bool {
    let mut streaming = 0;
    let all = paths.iter().all(|p| {
        requests
            .iter()
            .rev()
            .filter_map(|r| parse_request(r))
            .find(|(path, watch, _, _)| path == p && *watch)
            .is_some_and(|(_, _, watched_from, stream)| {
                streaming += u64::from(stream);
                stream || watched_from.is_some_and(|w| w >= rv)
            })
    });
    all && streamed >= streaming
}
