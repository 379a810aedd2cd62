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
//!
//! # Churn (`--churn-seed N`)
//!
//! With `--churn-seed N` it also changes pod addresses on command, for `bench/churn.sh`. It
//! reads commands from stdin, one a line:
//!
//!     rate R
//!
//! sets the churn to R pod IP changes a second (a decimal; `rate 0` stops it) and answers
//! `rate R` on stdout once it is in force. The changes are paced evenly: every 10 ms it
//! makes the changes due since the rate was set (so 10 a tick at 1,000 a second). Each
//! change picks a pod at random (from a generator seeded with N, so the same seed and the
//! same commands pick the same pods), gives it a new IPv4 address that no pod has (counting
//! up from 10.200.0.1 within 10.200.0.0–10.255.255.255, skipping the addresses in use and
//! those ending in .0 or .255), writes it into `status.podIP` and `status.podIPs` (the IPv6
//! addresses stay) and applies the pod: one `MODIFIED` watch event with a new resource
//! version. For each it prints, flushed,
//!
//!     change NAMESPACE POD SERVICE OLD_IP NEW_IP
//!
//! (SERVICE is the pod's `spec.subdomain`; `-` for a missing field). At the end of stdin
//! the churn stops and the server keeps serving. Unknown commands are reported on stderr.
//! Changes pause during a SIGUSR1 relist.
//!
//! # Compaction
//!
//! Like the real API server's periodic etcd compaction, every [`COMPACTION_INTERVAL`] it
//! forgets the events older than the resource version it saw at the previous run: a
//! watch that fell that far behind gets `410 Gone` and relists. Like the real server's
//! periodic bookmarks, each run first sends every watch that allows them a `BOOKMARK`
//! with the current version, so a watch of a kind that does not change (Services, while
//! only pods churn) resumes from a version the next compaction keeps. Each change keeps the
//! object's previous version until then (about 12 KB a pod change), so without it the
//! memory of a churning server grows without end. The interval is a minute, where the API
//! server's `--etcd-compaction-interval` defaults to 5, to keep a long churn run within
//! this machine's memory (figures in `docs/development.md`).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fake_apiserver::{CRD_KINDS, FakeApiServer, SUPPORTED_KINDS};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines, Stdin};
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
    /// Churn mode: read `rate R` commands from stdin and change R pod IPs a second, the pods
    /// picked by a generator with this seed (see the example's docs)
    #[arg(long)]
    churn_seed: Option<u64>,
}

fn main() -> ExitCode {
    // The server's allocator: the history a churn frees at each compaction then goes back
    // to the kernel (with glibc's malloc, its memory kept growing between compactions).
    allocator::purge_freed_memory_immediately();
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
    // The churn's pods, (namespace, name), and their addresses.
    let mut pods: Vec<(String, String)> = Vec::new();
    let mut in_use: HashSet<Ipv4Addr> = HashSet::new();
    for object in objects {
        let kind = kind_of(&object);
        if !SUPPORTED_KINDS.iter().chain(CRD_KINDS).any(|r| r.kind.eq_ignore_ascii_case(kind)) {
            *skipped.entry(kind.to_string()).or_default() += 1;
            continue;
        }
        if args.churn_seed.is_some() && kind.eq_ignore_ascii_case("Pod") {
            let namespace =
                object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            pods.push((namespace.to_string(), name.to_string()));
            in_use.extend(pod_ipv4s(&object));
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
    let mut churn = args.churn_seed.map(|seed| Churn::new(pods, in_use, seed));
    let mut commands = churn.as_ref().map(|_| BufReader::new(tokio::io::stdin()).lines());
    let mut tick = tokio::time::interval(CHURN_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut compaction =
        tokio::time::interval_at(tokio::time::Instant::now() + COMPACTION_INTERVAL, COMPACTION_INTERVAL);
    let mut compact_to = api.current_resource_version();
    loop {
        let churning = churn.as_ref().is_some_and(Churn::active);
        tokio::select! {
            _ = usr1.recv() => {}
            _ = term.recv() => break,
            _ = int.recv() => break,
            line = next_command(&mut commands) => {
                if let Some(churn) = churn.as_mut() {
                    match line {
                        Ok(Some(line)) => churn.command(&line, &mut stdout)?,
                        Ok(None) => {
                            eprintln!("fake_apiserver: churn: end of input, stopping the churn");
                            churn.set_rate(0.0);
                            commands = None;
                        }
                        Err(e) => return Err(format!("cannot read stdin: {e}")),
                    }
                }
                continue;
            }
            _ = compaction.tick() => {
                api.send_bookmarks();
                api.compact_to(compact_to);
                compact_to = api.current_resource_version();
                continue;
            }
            _ = tick.tick(), if churning => {
                if let Some(churn) = churn.as_mut() {
                    churn.step(&api, &mut stdout)?;
                }
                continue;
            }
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
        // The changes paused during the relist are not made up for.
        if let Some(churn) = churn.as_mut() {
            let rate = churn.rate;
            churn.set_rate(rate);
        }
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

/// How often the churn makes the changes that are due.
const CHURN_TICK: Duration = Duration::from_millis(10);

/// How often the history is compacted (see the module docs).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(60);

/// The next line of stdin, or never when it is not read (no churn, or after its end).
async fn next_command(commands: &mut Option<Lines<BufReader<Stdin>>>) -> std::io::Result<Option<String>> {
    match commands {
        Some(lines) => lines.next_line().await,
        None => std::future::pending().await,
    }
}

/// The churn mode's state: the pods, the addresses in use, the generator, the pace.
struct Churn {
    pods: Vec<(String, String)>,
    /// Every pod's IPv4 addresses: a new address is none of these.
    in_use: HashSet<Ipv4Addr>,
    /// The next candidate address, as a number.
    next_ip: u32,
    rng: SplitMix64,
    /// Changes a second.
    rate: f64,
    /// When the rate was set, and the changes made since.
    since: Instant,
    made: u64,
}

const CHURN_FIRST: u32 = u32::from_be_bytes([10, 200, 0, 1]);
const CHURN_LAST: u32 = u32::from_be_bytes([10, 255, 255, 254]);

impl Churn {
    fn new(pods: Vec<(String, String)>, in_use: HashSet<Ipv4Addr>, seed: u64) -> Churn {
        eprintln!(
            "fake_apiserver: churn: {} pods, {} IPv4 addresses in use, seed {seed}; waiting for `rate R` on stdin",
            pods.len(),
            in_use.len()
        );
        Churn {
            pods,
            in_use,
            next_ip: CHURN_FIRST,
            rng: SplitMix64(seed),
            rate: 0.0,
            since: Instant::now(),
            made: 0,
        }
    }

    fn active(&self) -> bool {
        self.rate > 0.0 && !self.pods.is_empty()
    }

    fn set_rate(&mut self, rate: f64) {
        self.rate = rate;
        self.since = Instant::now();
        self.made = 0;
    }

    /// Handles one line of stdin.
    fn command(&mut self, line: &str, stdout: &mut std::io::Stdout) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            [] => {}
            ["rate", rate] => match rate.parse::<f64>() {
                Ok(r) if r.is_finite() && r >= 0.0 => {
                    self.set_rate(r);
                    eprintln!("fake_apiserver: churn: {r} changes a second");
                    writeln!(stdout, "rate {rate}")
                        .and_then(|()| stdout.flush())
                        .map_err(|e| format!("cannot write to stdout: {e}"))?;
                }
                _ => eprintln!("fake_apiserver: churn: not a rate: {line:?} (want `rate R`, R >= 0)"),
            },
            _ => eprintln!("fake_apiserver: churn: unknown command {line:?} (want `rate R`)"),
        }
        Ok(())
    }

    /// Makes the changes due since the rate was set.
    fn step(&mut self, api: &FakeApiServer, stdout: &mut std::io::Stdout) -> Result<(), String> {
        let due = (self.since.elapsed().as_secs_f64() * self.rate) as u64;
        while self.made < due {
            self.made += 1;
            let line = self.change(api)?;
            writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))?;
        }
        Ok(())
    }

    /// One change: a random pod gets a new address. Returns its `change` line.
    fn change(&mut self, api: &FakeApiServer) -> Result<String, String> {
        let i = (self.rng.next() % self.pods.len() as u64) as usize;
        let (namespace, name) = self.pods[i].clone();
        let Some(mut pod) = api.get("Pod", &namespace, &name) else {
            return Err(format!("churn: pod {namespace}/{name} is gone"));
        };
        let new = self.new_ip()?;
        let old = pod.pointer("/status/podIP").and_then(Value::as_str).map(str::to_string);
        let service = pod.pointer("/spec/subdomain").and_then(Value::as_str).unwrap_or("-").to_string();
        for ip in pod_ipv4s(&pod) {
            self.in_use.remove(&ip);
        }
        self.in_use.insert(new);
        let status = pod
            .as_object_mut()
            .ok_or("churn: a pod is not an object")?
            .entry("status")
            .or_insert_with(|| Value::Object(Default::default()));
        let status = status.as_object_mut().ok_or("churn: a pod's status is not an object")?;
        // The IPv6 addresses stay; the IPv4 one is replaced, first as podIP is.
        let mut ips: Vec<Value> = status
            .get("podIPs")
            .and_then(Value::as_array)
            .map(|ips| {
                ips.iter()
                    .filter(|e| {
                        e.get("ip").and_then(Value::as_str).is_some_and(|ip| ip.parse::<Ipv4Addr>().is_err())
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        ips.insert(0, serde_json::json!({ "ip": new.to_string() }));
        status.insert("podIP".into(), Value::String(new.to_string()));
        status.insert("podIPs".into(), Value::Array(ips));
        api.apply(pod);
        Ok(format!("change {namespace} {name} {service} {} {new}", old.as_deref().unwrap_or("-")))
    }

    /// The next address of 10.200.0.1–10.255.255.254 (wrapping) that no pod has and that
    /// does not end in .0 or .255.
    fn new_ip(&mut self) -> Result<Ipv4Addr, String> {
        for _ in CHURN_FIRST..=CHURN_LAST {
            let ip = Ipv4Addr::from(self.next_ip);
            self.next_ip = if self.next_ip >= CHURN_LAST { CHURN_FIRST } else { self.next_ip + 1 };
            let last = ip.octets()[3];
            if last != 0 && last != 255 && !self.in_use.contains(&ip) {
                return Ok(ip);
            }
        }
        Err("churn: no free address left in 10.200.0.0-10.255.255.255".into())
    }
}

/// The IPv4 addresses of a pod: `status.podIP` and `status.podIPs`.
fn pod_ipv4s(pod: &Value) -> Vec<Ipv4Addr> {
    let mut ips: Vec<Ipv4Addr> = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse().ok())
        .into_iter()
        .collect();
    if let Some(list) = pod.pointer("/status/podIPs").and_then(Value::as_array) {
        ips.extend(list.iter().filter_map(|e| e.get("ip")?.as_str()?.parse::<Ipv4Addr>().ok()));
    }
    ips.sort();
    ips.dedup();
    ips
}

/// SplitMix64: a small deterministic generator, enough to pick pods.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
