//! An in-process fake Kubernetes API server for integration tests.
//!
//! [`FakeApiServer`] speaks the real HTTP list/watch protocol over plain HTTP/1.1 on
//! `127.0.0.1`, so the unmodified `kube` client and `kube::runtime::watcher` can be
//! pointed at it through an ordinary kubeconfig ([`FakeApiServer::write_kubeconfig`]).
//!
//! # What it simulates
//!
//! * **Storage with etcd-like resource versions.** One global, strictly increasing
//!   counter shared by all kinds. Every [`apply`](FakeApiServer::apply) and
//!   [`delete`](FakeApiServer::delete) bumps it; objects carry
//!   `metadata.resourceVersion` = the RV of their last change, a stable
//!   `metadata.uid` and a `metadata.creationTimestamp`.
//! * **Lists** (`GET /api/v1/pods`, `/api/v1/namespaces/{ns}/pods`, services,
//!   `/apis/apps/v1/statefulsets`, ... see [`SUPPORTED_KINDS`]): items are returned
//!   in etcd key order (namespace, name) with the list's `metadata.resourceVersion`.
//!   `limit` + `continue` pagination is honoured against a consistent snapshot taken
//!   at the first page (all pages report that snapshot's RV, later pages carry
//!   `remainingItemCount`). `resourceVersion` / `resourceVersionMatch`
//!   (`NotOlderThan`, `Exact`) are honoured: an `Exact` list at an older RV is
//!   reconstructed from the event history; too old gives `410 Expired`, too new
//!   gives `504 Timeout`. Continue tokens expire with
//!   [`expire_history`](FakeApiServer::expire_history) (`410 Expired`).
//! * **Watches** (`?watch=true`): the response is `Transfer-Encoding: chunked`,
//!   one JSON watch event per line. Starting from `resourceVersion=R` the server
//!   replays every retained event with RV > R in order, then streams live events.
//!   `resourceVersion` unset or `0` starts with synthetic `ADDED` events for the
//!   current state. `sendInitialEvents=true` (streaming lists; requires
//!   `allowWatchBookmarks=true` and `resourceVersionMatch=NotOlderThan` like the
//!   real server) sends the synthetic `ADDED`s followed by a `BOOKMARK` annotated
//!   `k8s.io/initial-events-end: "true"`. If R is older than the retained history
//!   the stream consists of a single `ERROR` event with a `410 Expired` Status
//!   (`too old resource version: R (M)`), exactly like the real watch cache.
//!   Refused with `422` after [`set_streaming_lists(false)`](FakeApiServer::set_streaming_lists),
//!   like a server without the `WatchList` feature gate.
//!   `timeoutSeconds` ends the stream cleanly. Namespace, `labelSelector` and
//!   `fieldSelector` filter watch events too, with the watch cache's semantics: an
//!   object that stops matching is sent as `DELETED`, one that starts matching as
//!   `ADDED`.
//! * **Selectors.** `labelSelector` supports `k=v`, `k==v`, `k!=v`, `k`, `!k`,
//!   `k in (a,b)`, `k notin (a,b)`, comma separated. `fieldSelector` supports
//!   `path=v`, `path==v`, `path!=v` on any dotted path (`metadata.name`,
//!   `status.phase`, `spec.nodeName`, ...; a missing field compares as `""`).
//! * **Faults**: abrupt connection drops ([`drop_watches`](FakeApiServer::drop_watches):
//!   the watch response is aborted mid-stream without the terminating chunk),
//!   history compaction ([`expire_history`](FakeApiServer::expire_history)), a full
//!   outage with connection refused ([`stop`](FakeApiServer::stop) /
//!   [`restart`](FakeApiServer::restart), state is kept), HTTP 500 on every request
//!   ([`set_fail_with_500`](FakeApiServer::set_fail_with_500)), `403 Forbidden` for one
//!   resource ([`set_forbidden`](FakeApiServer::set_forbidden)) and watches that go
//!   silent after the headers ([`set_hang_watches`](FakeApiServer::set_hang_watches)).
//! * **Custom resources** ([`CRD_KINDS`], `crds.rs`): the Multi-Cluster
//!   Services kinds, `ServiceImport` / `ServiceExport` in two versions sharing one storage
//!   and `ClusterProperty`, each of which can be uninstalled
//!   ([`set_mcs_versions`](FakeApiServer::set_mcs_versions),
//!   [`set_cluster_properties_served`](FakeApiServer::set_cluster_properties_served)).
//! * **Discovery**: `GET /api`, `/apis` (APIGroupList), `/api/v1` and `/apis/GROUP/VERSION`
//!   (APIResourceList), as `kube::discovery` reads them.
//! * Misc endpoints: `GET /version`, `/healthz`, `/livez`, `/readyz`, and `GET` of a
//!   single object. Everything else is a `404` with a `Status` body; non-GET methods
//!   get `405`.
//!
//! Not simulated: authentication, writes over HTTP (use the Rust control API),
//! periodic server-initiated bookmarks (use
//! [`send_bookmarks`](FakeApiServer::send_bookmarks)), protobuf, HTTP/2.
//!
//! # Notes on kube 5's watcher (observed against this server)
//!
//! With the default `watcher::Config` the initial list is
//! `GET ...?limit=500` (the `resourceVersion=0` of `ListSemantic::Any` is dropped
//! by kube when a limit is set), followed by `...?limit=500&continue=TOKEN`, then
//! `GET ...?watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=N`.
//! `sendInitialEvents` is only sent with `.streaming_lists()`. An abruptly
//! dropped watch ends the kube stream silently (it treats the unexpected EOF as a
//! resumable end) and the watcher re-watches from its last RV without an error.
//!
//! # Forcing a 410 → relist
//!
//! A watcher that has already seen every event resumes fine after
//! `expire_history()` (nothing it needs was forgotten). To force `410 Gone`, make
//! it miss a change first, e.g.
//! `set_hang_watches(true); drop_watches(); apply(..); expire_history();
//! set_hang_watches(false); drop_watches();` or
//! `stop().await; apply(..); expire_history(); restart().await;`.

#![allow(clippy::result_large_err)] // `Result<_, Response>` keeps the handlers simple

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

mod conn;
mod crds;
mod requests;
mod selectors;

use conn::KillableListener;
pub use crds::CRD_KINDS;
use crds::served;
use requests::{
    Params, Rv, bad_request, json_response, not_found, parse_params, parse_rv, status_response, status_value,
    too_large, too_old,
};
use selectors::{Filter, parse_field_selector, parse_label_selector};

/// Static description of a resource type the fake server can serve.
#[derive(Debug)]
pub struct ResourceType {
    /// `kind` of a single object, e.g. `Pod`.
    pub kind: &'static str,
    /// `apiVersion`, e.g. `v1` or `apps/v1`.
    pub api_version: &'static str,
    /// URL plural, e.g. `pods`.
    pub plural: &'static str,
    /// `kind` of the list, e.g. `PodList`.
    pub list_kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

/// The built-in kinds this server stores and serves; the custom resources are in
/// [`CRD_KINDS`]. [`FakeApiServer::apply`] panics for other kinds.
pub const SUPPORTED_KINDS: &[ResourceType] = &[
    ResourceType { kind: "Pod", api_version: "v1", plural: "pods", list_kind: "PodList", namespaced: true },
    ResourceType {
        kind: "Service",
        api_version: "v1",
        plural: "services",
        list_kind: "ServiceList",
        namespaced: true,
    },
    ResourceType {
        kind: "StatefulSet",
        api_version: "apps/v1",
        plural: "statefulsets",
        list_kind: "StatefulSetList",
        namespaced: true,
    },
    ResourceType {
        kind: "Endpoints",
        api_version: "v1",
        plural: "endpoints",
        list_kind: "EndpointsList",
        namespaced: true,
    },
    ResourceType {
        kind: "EndpointSlice",
        api_version: "discovery.k8s.io/v1",
        plural: "endpointslices",
        list_kind: "EndpointSliceList",
        namespaced: true,
    },
    ResourceType {
        kind: "ConfigMap",
        api_version: "v1",
        plural: "configmaps",
        list_kind: "ConfigMapList",
        namespaced: true,
    },
    ResourceType {
        kind: "Namespace",
        api_version: "v1",
        plural: "namespaces",
        list_kind: "NamespaceList",
        namespaced: false,
    },
];

/// The built-in kinds, then the custom resources (for a CRD kind: its preferred version).
fn all_kinds() -> impl Iterator<Item = &'static ResourceType> {
    SUPPORTED_KINDS.iter().chain(CRD_KINDS)
}

fn resource_by_kind(kind: &str) -> Option<&'static ResourceType> {
    all_kinds().find(|r| r.kind.eq_ignore_ascii_case(kind))
}

fn resource_by_path(api_version: &str, plural: &str) -> Option<&'static ResourceType> {
    all_kinds().find(|r| r.api_version == api_version && r.plural == plural)
}

/// How many paginated list snapshots are kept for `continue` tokens.
const MAX_SNAPSHOTS: usize = 64;

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the history (what etcd's watch would replay).
struct HistEvent {
    rv: u64,
    kind: &'static str,
    key: (String, String),
    ty: EventType,
    /// The object as sent with the event (for DELETED: last state with the delete's RV).
    object: Arc<Value>,
    /// The state before this event (None for ADDED).
    prev: Option<Arc<Value>>,
}

enum WatchMsg {
    Line(Bytes),
    /// The bookmark that ends a streaming list's initial events (counted when sent).
    InitialEventsEnd(Bytes),
    /// Abort the HTTP response mid-stream (no terminating chunk).
    Abort,
}

struct WatcherEntry {
    /// The resource as requested: its kind selects the events, its version is served.
    res: &'static ResourceType,
    filter: Filter,
    bookmarks: bool,
    hang: bool,
    tx: mpsc::UnboundedSender<WatchMsg>,
}

struct Snapshot {
    kind: &'static str,
    scope: String,
    rv: u64,
    items: Arc<Vec<Arc<Value>>>,
}

#[derive(Default)]
struct Store {
    rv: u64,
    objects: HashMap<&'static str, BTreeMap<(String, String), Arc<Value>>>,
    history: VecDeque<HistEvent>,
    /// Events with `rv <= compacted_rv` have been forgotten.
    compacted_rv: u64,
    watchers: HashMap<u64, WatcherEntry>,
    next_watcher_id: u64,
    snapshots: HashMap<u64, Snapshot>,
    snapshot_order: VecDeque<u64>,
    next_snapshot_id: u64,
    uid_counter: u64,
}

struct Shared {
    store: Mutex<Store>,
    fail_500: AtomicBool,
    /// Resource plurals answered `403 Forbidden`, as without RBAC for them.
    forbidden: Mutex<Vec<String>>,
    hang_watches: AtomicBool,
    /// `false`: refuse `sendInitialEvents` like a server without the WatchList feature.
    streaming_lists: AtomicBool,
    initial_streams_sent: AtomicU64,
    list_count: AtomicU64,
    watch_count: AtomicU64,
    active_connections: AtomicUsize,
    uid_seed: u64,
    request_log: Mutex<VecDeque<String>>,
    /// Which custom resources (and versions) are installed.
    crds: crds::CrdSwitches,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store {
    /// Appends an event to the history and fans it out to live watchers.
    fn record(&mut self, ev: HistEvent) {
        let mut dead = Vec::new();
        for (id, w) in &self.watchers {
            if w.hang || w.res.kind != ev.kind {
                continue;
            }
            if let Some(line) = event_line_for(&w.filter, &ev, w.res)
                && w.tx.send(WatchMsg::Line(line)).is_err()
            {
                dead.push(*id);
            }
        }
        for id in dead {
            self.watchers.remove(&id);
        }
        self.history.push_back(ev);
    }

    fn new_uid(&mut self, seed: u64) -> String {
        self.uid_counter += 1;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (seed >> 32) as u32,
            (seed >> 16) as u16,
            (seed & 0xfff) as u16,
            (self.uid_counter >> 48) & 0xfff,
            self.uid_counter & 0xffff_ffff_ffff
        )
    }

    /// The objects of `kind` as they were at `rv` (requires `rv >= compacted_rv`).
    fn state_at(&self, kind: &'static str, rv: u64) -> BTreeMap<(String, String), Arc<Value>> {
        let mut state = self.objects.get(kind).cloned().unwrap_or_default();
        for ev in self.history.iter().rev() {
            if ev.rv <= rv {
                break;
            }
            if ev.kind != kind {
                continue;
            }
            match (&ev.ty, &ev.prev) {
                (EventType::Added, _) => {
                    state.remove(&ev.key);
                }
                (_, Some(prev)) => {
                    state.insert(ev.key.clone(), prev.clone());
                }
                (_, None) => {
                    state.remove(&ev.key);
                }
            }
        }
        state
    }
}

/// Computes the watch line a watcher with `filter` should see for `ev` (watch cache semantics).
fn event_line_for(filter: &Filter, ev: &HistEvent, res: &'static ResourceType) -> Option<Bytes> {
    if filter.namespace.as_ref().is_some_and(|ns| ns != &ev.key.0) {
        return None;
    }
    let (ty, obj): (EventType, Value) = match ev.ty {
        EventType::Added => {
            if !filter.matches(&ev.object) {
                return None;
            }
            (EventType::Added, (*ev.object).clone())
        }
        EventType::Deleted => {
            if !filter.matches(&ev.object) {
                return None;
            }
            (EventType::Deleted, (*ev.object).clone())
        }
        EventType::Modified => {
            let now = filter.matches(&ev.object);
            let before = ev.prev.as_ref().is_some_and(|p| filter.matches(p));
            match (before, now) {
                (true, true) => (EventType::Modified, (*ev.object).clone()),
                (false, true) => (EventType::Added, (*ev.object).clone()),
                (true, false) => {
                    // The previous content, but with this event's resourceVersion.
                    let mut old = ev.prev.as_ref().map(|p| (**p).clone()).unwrap_or(Value::Null);
                    set_rv(&mut old, ev.rv);
                    (EventType::Deleted, old)
                }
                (false, false) => return None,
            }
        }
    };
    Some(event_line(ty.as_str(), &served(res, &obj)))
}

/// `{"type":TYPE,"object":OBJ}\n` with `type` first, as the real server writes it.
fn event_line(ty: &str, object: &(impl serde::Serialize + ?Sized)) -> Bytes {
    let mut buf = format!("{{\"type\":\"{ty}\",\"object\":").into_bytes();
    let _ = serde_json::to_writer(&mut buf, object);
    buf.extend_from_slice(b"}\n");
    Bytes::from(buf)
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

fn bookmark_line(res: &ResourceType, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line("BOOKMARK", &json!({"kind": res.kind, "apiVersion": res.api_version, "metadata": metadata}))
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

/// How many request lines [`FakeApiServer::requests`] keeps.
const MAX_REQUEST_LOG: usize = 10_000;

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    {
        let mut log = shared.request_log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= MAX_REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(format!("{method} {uri}"));
    }
    if shared.fail_500.load(Ordering::SeqCst) {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: injected failure (fake apiserver)",
        );
    }
    let forbidden = shared.forbidden.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(plural) = forbidden.iter().find(|p| uri.path().split('/').any(|seg| seg == p.as_str())) {
        return status_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "{plural} is forbidden: User \"system:serviceaccount:fake\" cannot list resource \"{plural}\""
            ),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        return status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake apiserver only serves GET (use the Rust control API to change state)",
        );
    }
    let path = uri.path();
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();

    let (api_version, rest): (String, &[&str]) = match segs.as_slice() {
        ["version"] => return json_response(StatusCode::OK, &version_json()),
        ["healthz" | "livez" | "readyz"] => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return r;
        }
        ["api"] => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        ["apis"] => return json_response(StatusCode::OK, &crds::api_group_list(&shared.crds)),
        ["api", "v1"] => return crds::api_resource_list(&shared.crds, "v1"),
        ["apis", group, version] => {
            return crds::api_resource_list(&shared.crds, &format!("{group}/{version}"));
        }
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return not_found(),
    };

    // Resolve: (resource, namespace, optional name)
    let (res, namespace, name): (&'static ResourceType, Option<&str>, Option<&str>) = match rest {
        [plural] => match resource_by_path(&api_version, plural) {
            Some(r) => (r, None, None),
            None => return not_found(),
        },
        ["namespaces", ns, plural] => match resource_by_path(&api_version, plural) {
            Some(r) if r.namespaced => (r, Some(*ns), None),
            _ => return not_found(),
        },
        ["namespaces", ns, plural, name] => match resource_by_path(&api_version, plural) {
            Some(r) if r.namespaced => (r, Some(*ns), Some(*name)),
            _ => return not_found(),
        },
        [plural, name] => match resource_by_path(&api_version, plural) {
            Some(r) if !r.namespaced => (r, None, Some(*name)),
            _ => return not_found(),
        },
        _ => return not_found(),
    };
    if !shared.crds.serves(res) {
        return not_found(); // a CRD not installed, or a version it does not serve
    }

    let params = match parse_params(&uri) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut filter = Filter { namespace: namespace.map(str::to_string), ..Default::default() };
    if let Some(ls) = &params.label_selector {
        match parse_label_selector(ls) {
            Ok(reqs) => filter.labels = reqs,
            Err(e) => return bad_request(&format!("unable to parse labelSelector: {e}")),
        }
    }
    if let Some(fs) = &params.field_selector {
        match parse_field_selector(fs) {
            Ok(reqs) => filter.fields = reqs,
            Err(e) => return bad_request(&format!("unable to parse fieldSelector: {e}")),
        }
    }

    if let Some(name) = name {
        return get_object(&shared, res, namespace.unwrap_or(""), name);
    }
    if params.watch {
        handle_watch(&shared, res, filter, &params)
    } else {
        handle_list(&shared, res, filter, &params)
    }
}

fn version_json() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn get_object(shared: &Shared, res: &'static ResourceType, ns: &str, name: &str) -> Response {
    let store = shared.lock();
    let key = (ns.to_string(), name.to_string());
    match store.objects.get(res.kind).and_then(|m| m.get(&key)) {
        Some(obj) => json_response(StatusCode::OK, &served(res, obj)),
        None => {
            let mut v = status_value(404, "NotFound", &format!("{} \"{}\" not found", res.plural, name));
            let group = res.api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
            v["details"] = json!({"name": name, "group": group, "kind": res.plural});
            json_response(StatusCode::NOT_FOUND, &v)
        }
    }
}

fn scope_key(filter: &Filter, params: &Params) -> String {
    format!(
        "{}|{}|{}",
        filter.namespace.as_deref().unwrap_or("*"),
        params.label_selector.as_deref().unwrap_or(""),
        params.field_selector.as_deref().unwrap_or("")
    )
}

fn handle_list(shared: &Shared, res: &'static ResourceType, filter: Filter, params: &Params) -> Response {
    if params.send_initial_events.is_some() {
        return bad_request("sendInitialEvents is forbidden for list");
    }
    let rv = match parse_rv(&params.resource_version) {
        Ok(rv) => rv,
        Err(r) => return r,
    };
    let version_match = params.resource_version_match.as_deref();
    if let Some(m) = version_match {
        if m != "NotOlderThan" && m != "Exact" {
            return bad_request(&format!("invalid resourceVersionMatch: {m:?}"));
        }
        if matches!(rv, Rv::Unset) {
            return bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided");
        }
        if m == "Exact" && matches!(rv, Rv::Any) {
            return bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
        }
    }
    let scope = scope_key(&filter, params);
    let limit = params.limit.filter(|l| *l > 0).map(|l| l as usize);

    let mut store = shared.lock();
    let (snapshot_rv, items, offset, snap_id) = if let Some(token) = &params.continue_token {
        if !matches!(rv, Rv::Unset) {
            return bad_request("specifying resource version is not allowed when using continue");
        }
        let parsed = parse_continue(token);
        let Some((snap_id, offset)) = parsed else {
            return bad_request("continue key is not valid: malformed token");
        };
        let Some(snap) = store.snapshots.get(&snap_id) else {
            return status_response(
                StatusCode::GONE,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            );
        };
        if snap.kind != res.kind || snap.scope != scope {
            return bad_request("continue key is not valid: token does not match this request");
        }
        (snap.rv, snap.items.clone(), offset, Some(snap_id))
    } else {
        let current = store.rv;
        let (list_rv, state) = match (rv, version_match) {
            (Rv::Unset | Rv::Any, _) => (current, None),
            (Rv::At(n), Some("Exact")) => {
                if n > current {
                    let (c, v) = too_large(n, current);
                    return json_response(c, &v);
                }
                if n < store.compacted_rv {
                    let (c, v) = too_old(n, store.compacted_rv);
                    return json_response(c, &v);
                }
                (n, Some(store.state_at(res.kind, n)))
            }
            (Rv::At(n), _) => {
                if n > current {
                    let (c, v) = too_large(n, current);
                    return json_response(c, &v);
                }
                (current, None)
            }
        };
        let source = match &state {
            Some(s) => s,
            None => store.objects.entry(res.kind).or_default(),
        };
        let items: Vec<Arc<Value>> = source
            .iter()
            .filter(|((ns, _), obj)| filter.namespace.as_ref().is_none_or(|f| f == ns) && filter.matches(obj))
            .map(|(_, obj)| obj.clone())
            .collect();
        (list_rv, Arc::new(items), 0usize, None)
    };

    let total = items.len();
    let offset = offset.min(total);
    let end = match limit {
        Some(l) => offset.saturating_add(l).min(total),
        None => total,
    };
    let mut metadata = json!({"resourceVersion": snapshot_rv.to_string()});
    if end < total {
        let id = match snap_id {
            Some(id) => id,
            None => {
                store.next_snapshot_id += 1;
                let id = store.next_snapshot_id;
                store
                    .snapshots
                    .insert(id, Snapshot { kind: res.kind, scope, rv: snapshot_rv, items: items.clone() });
                store.snapshot_order.push_back(id);
                while store.snapshot_order.len() > MAX_SNAPSHOTS {
                    if let Some(old) = store.snapshot_order.pop_front() {
                        store.snapshots.remove(&old);
                    }
                }
                id
            }
        };
        metadata["continue"] = Value::String(format!("fake.{id}.{snapshot_rv}.{end}"));
        metadata["remainingItemCount"] = json!(total - end);
    }
    drop(store);

    /// A list body, serialized from the stored objects without copying them into a
    /// new tree first (that copy made large lists slow enough to measure this server
    /// rather than its client).
    #[derive(serde::Serialize)]
    struct ListBody<'a> {
        kind: &'a str,
        #[serde(rename = "apiVersion")]
        api_version: &'a str,
        metadata: Value,
        items: Vec<crds::Served<'a>>,
    }
    let body = ListBody {
        kind: res.list_kind,
        api_version: res.api_version,
        metadata,
        items: items[offset..end].iter().map(|a| served(res, a)).collect(),
    };
    shared.list_count.fetch_add(1, Ordering::SeqCst);
    let mut resp = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn parse_continue(token: &str) -> Option<(u64, usize)> {
    let mut parts = token.split('.');
    if parts.next()? != "fake" {
        return None;
    }
    let id = parts.next()?.parse().ok()?;
    let _rv: u64 = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((id, offset))
}

/// Removes a watcher from the registry when its HTTP response body is dropped.
struct WatchGuard {
    shared: Weak<Shared>,
    id: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().watchers.remove(&self.id);
        }
    }
}

fn handle_watch(
    shared: &Arc<Shared>,
    res: &'static ResourceType,
    filter: Filter,
    params: &Params,
) -> Response {
    let rv = match parse_rv(&params.resource_version) {
        Ok(rv) => rv,
        Err(r) => return r,
    };
    let send_initial = params.send_initial_events.unwrap_or(false);
    if params.send_initial_events.is_some() && !shared.streaming_lists.load(Ordering::SeqCst) {
        return status_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        );
    }
    match (params.send_initial_events, params.resource_version_match.as_deref()) {
        (Some(_), m) => {
            if m != Some("NotOlderThan") {
                return status_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                );
            }
            if send_initial && !params.allow_bookmarks {
                return status_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                );
            }
        }
        (None, Some(_)) => {
            return status_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            );
        }
        (None, None) => {}
    }
    let hang = shared.hang_watches.load(Ordering::SeqCst);
    // A hung watch ignores timeoutSeconds too: not one more byte is sent.
    let deadline = params
        .timeout_seconds
        .filter(|_| !hang)
        .filter(|t| *t > 0)
        .map(|t| tokio::time::Instant::now() + Duration::from_secs(t.min(10 * 365 * 24 * 3600)));

    let (tx, rx) = mpsc::unbounded_channel::<WatchMsg>();
    let mut store = shared.lock();
    let current = store.rv;
    let mut register = true;

    if !hang {
        let initial_state = send_initial || matches!(rv, Rv::Unset | Rv::Any);
        if let (Rv::At(n), false) = (&rv, send_initial) {
            let n = *n;
            if n < store.compacted_rv {
                let (_, status) = too_old(n, store.compacted_rv);
                let _ = tx.send(WatchMsg::Line(event_line("ERROR", &status)));
                register = false;
            } else if n > current {
                let (_, status) = too_large(n, current);
                let _ = tx.send(WatchMsg::Line(event_line("ERROR", &status)));
                register = false;
            } else {
                for ev in store.history.iter().filter(|e| e.rv > n && e.kind == res.kind) {
                    if let Some(l) = event_line_for(&filter, ev, res) {
                        let _ = tx.send(WatchMsg::Line(l));
                    }
                }
            }
        } else if initial_state {
            if let Some(objs) = store.objects.get(res.kind) {
                for ((ns, _), obj) in objs {
                    if filter.namespace.as_ref().is_none_or(|f| f == ns) && filter.matches(obj) {
                        let l = event_line("ADDED", &served(res, obj));
                        let _ = tx.send(WatchMsg::Line(l));
                    }
                }
            }
            if send_initial {
                let _ = tx.send(WatchMsg::InitialEventsEnd(bookmark_line(res, current, true)));
            }
        }
    }

    let guard = if register {
        store.next_watcher_id += 1;
        let id = store.next_watcher_id;
        store.watchers.insert(id, WatcherEntry { res, filter, bookmarks: params.allow_bookmarks, hang, tx });
        Some(WatchGuard { shared: Arc::downgrade(shared), id })
    } else {
        drop(tx); // the stream ends after the queued ERROR event
        None
    };
    drop(store);
    shared.watch_count.fetch_add(1, Ordering::SeqCst);

    struct St {
        rx: mpsc::UnboundedReceiver<WatchMsg>,
        deadline: Option<tokio::time::Instant>,
        _guard: Option<WatchGuard>,
        done: bool,
    }
    let st = St { rx, deadline, _guard: guard, done: false };
    let counter = Arc::clone(shared);
    let stream = futures::stream::unfold(st, move |mut st| {
        let counter = Arc::clone(&counter);
        async move {
            if st.done {
                return None;
            }
            let msg = match st.deadline {
                Some(d) => tokio::time::timeout_at(d, st.rx.recv()).await.ok()?,
                None => st.rx.recv().await,
            };
            match msg? {
                WatchMsg::Line(b) => Some((Ok::<Bytes, std::io::Error>(b), st)),
                WatchMsg::InitialEventsEnd(b) => {
                    counter.initial_streams_sent.fetch_add(1, Ordering::SeqCst);
                    Some((Ok(b), st))
                }
                WatchMsg::Abort => {
                    st.done = true;
                    let err = std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "fake apiserver dropped the watch",
                    );
                    Some((Err(err), st))
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    resp
}

// ---------------------------------------------------------------------------------------------
// Public control API
// ---------------------------------------------------------------------------------------------

struct Running {
    task: JoinHandle<()>,
    kill: watch::Sender<bool>,
}

/// A fake Kubernetes API server running inside the test process (see the module docs).
///
/// Dropping it stops serving and closes all connections.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl FakeApiServer {
    /// Binds `127.0.0.1:0` and starts serving. Must be called inside a tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> FakeApiServer {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
            ^ (std::process::id() as u64).rotate_left(32);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            fail_500: AtomicBool::new(false),
            forbidden: Mutex::new(Vec::new()),
            hang_watches: AtomicBool::new(false),
            streaming_lists: AtomicBool::new(true),
            initial_streams_sent: AtomicU64::new(0),
            list_count: AtomicU64::new(0),
            watch_count: AtomicU64::new(0),
            active_connections: AtomicUsize::new(0),
            uid_seed: seed,
            request_log: Mutex::new(VecDeque::new()),
            crds: crds::CrdSwitches::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake apiserver: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake apiserver: local_addr");
        let server = FakeApiServer { shared, addr, running: Mutex::new(None) };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let (kill_tx, kill_rx) = watch::channel(false);
        let app = Router::new().fallback(handle).with_state(self.shared.clone());
        let listener = KillableListener { inner: listener, kill: kill_rx, shared: self.shared.clone() };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running { task, kill: kill_tx });
    }

    /// Base URL of the server, `http://127.0.0.1:PORT` (stable across [`stop`](Self::stop) /
    /// [`restart`](Self::restart)).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig pointing at this server (plain http, dummy bearer token) with a single
    /// context `fake` (also the current context, default namespace `default`) to
    /// `dir/kubeconfig-fake-PORT` and returns its path.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("kubeconfig-fake-{}", self.addr.port()));
        let content = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake\n  cluster:\n    server: {url}\n\
             users:\n\
             - name: fake\n  user:\n    token: fake-token\n\
             contexts:\n\
             - name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\n",
            url = self.url()
        );
        std::fs::write(&path, content).expect("fake apiserver: write kubeconfig");
        path
    }

    /// Creates or replaces an object. `object` needs `kind` (one of [`SUPPORTED_KINDS`] or
    /// [`CRD_KINDS`], which are stored whatever their `apiVersion` and served as requested) and
    /// `metadata.name`; `metadata.namespace` defaults to `default` for namespaced kinds and
    /// `apiVersion` is filled in if missing. The server sets `metadata.resourceVersion`, keeps
    /// (or assigns) `metadata.uid` and `metadata.creationTimestamp`, and bumps
    /// `metadata.generation` of StatefulSets when their spec changes. Emits `ADDED` (new object)
    /// or `MODIFIED` (replacement) with a new resource version, which is returned.
    ///
    /// # Panics
    /// If `object` is not a JSON object, has an unsupported `kind` or no `metadata.name` —
    /// these are bugs in the calling test.
    pub fn apply(&self, mut object: Value) -> u64 {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let res = resource_by_kind(&kind).unwrap_or_else(|| {
            let mut kinds: Vec<&str> = all_kinds().map(|r| r.kind).collect();
            kinds.dedup();
            panic!("fake apiserver: apply: unsupported kind {kind:?} (supported: {kinds:?})")
        });
        let Some(obj_map) = object.as_object_mut() else { panic!("fake apiserver: apply: not an object") };
        obj_map.insert("kind".into(), Value::String(res.kind.into()));
        if !obj_map.get("apiVersion").is_some_and(Value::is_string) {
            obj_map.insert("apiVersion".into(), Value::String(res.api_version.into()));
        }
        if !obj_map.get("metadata").is_some_and(Value::is_object) {
            obj_map.insert("metadata".into(), json!({}));
        }
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| panic!("fake apiserver: apply: {kind} without metadata.name"))
            .to_string();
        let namespace = if res.namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };

        let mut store = self.shared.lock();
        let key = (namespace.clone(), name);
        let prev = store.objects.get(res.kind).and_then(|m| m.get(&key)).cloned();
        store.rv += 1;
        let rv = store.rv;
        let uid = match prev.as_ref().and_then(|p| p.pointer("/metadata/uid")).and_then(Value::as_str) {
            Some(u) => u.to_string(),
            None => {
                let seed = self.shared.uid_seed;
                store.new_uid(seed)
            }
        };
        let meta = object["metadata"].as_object_mut().expect("metadata is an object");
        if res.namespaced {
            meta.insert("namespace".into(), Value::String(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        if meta.get("uid").and_then(Value::as_str).is_none_or(str::is_empty) {
            meta.insert("uid".into(), Value::String(uid));
        }
        if !meta.contains_key("creationTimestamp") {
            let ts = prev
                .as_ref()
                .and_then(|p| p.pointer("/metadata/creationTimestamp"))
                .cloned()
                .unwrap_or_else(|| Value::String(rfc3339_now()));
            meta.insert("creationTimestamp".into(), ts);
        }
        if res.kind == "StatefulSet" && !meta.contains_key("generation") {
            let prev_gen =
                prev.as_ref().and_then(|p| p.pointer("/metadata/generation")).and_then(Value::as_i64);
            let spec_changed = prev.as_ref().is_none_or(|p| p.get("spec") != object.get("spec"));
            let generation = match prev_gen {
                Some(g) if !spec_changed => g,
                Some(g) => g + 1,
                None => 1,
            };
            object["metadata"]["generation"] = json!(generation);
        }
        let object = Arc::new(object);
        store.objects.entry(res.kind).or_default().insert(key.clone(), object.clone());
        let ty = if prev.is_some() { EventType::Modified } else { EventType::Added };
        store.record(HistEvent { rv, kind: res.kind, key, ty, object, prev });
        rv
    }

    /// Deletes an object and emits `DELETED` carrying its last state with the new resource
    /// version. `namespace` is ignored for cluster-scoped kinds. Returns `false` (and changes
    /// nothing) if the object or the kind does not exist.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> bool {
        let Some(res) = resource_by_kind(kind) else {
            return false;
        };
        let ns = if res.namespaced { namespace } else { "" };
        let key = (ns.to_string(), name.to_string());
        let mut store = self.shared.lock();
        let Some(prev) = store.objects.get_mut(res.kind).and_then(|m| m.remove(&key)) else {
            return false;
        };
        store.rv += 1;
        let rv = store.rv;
        let mut obj = (*prev).clone();
        set_rv(&mut obj, rv);
        store.record(HistEvent {
            rv,
            kind: res.kind,
            key,
            ty: EventType::Deleted,
            object: Arc::new(obj),
            prev: Some(prev),
        });
        true
    }

    /// Returns a copy of a stored object, if present.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = resource_by_kind(kind)?;
        let ns = if res.namespaced { namespace } else { "" };
        let store = self.shared.lock();
        store.objects.get(res.kind)?.get(&(ns.to_string(), name.to_string())).map(|o| (**o).clone())
    }

    /// Aborts every open watch response mid-stream: the HTTP/1.1 connection is closed without the
    /// terminating zero-length chunk (kube sees an unexpected EOF, ends the stream and
    /// re-watches from its last resource version). Applies to hung watches too.
    pub fn drop_watches(&self) {
        let mut store = self.shared.lock();
        for (_, w) in store.watchers.drain() {
            let _ = w.tx.send(WatchMsg::Abort);
        }
    }

    /// Forgets the event history up to now, like etcd compaction: a watch (or an `Exact` list)
    /// from any resource version older than the current one then gets `410 Gone`
    /// (`too old resource version: R (CURRENT)`), and outstanding `continue` tokens expire.
    /// Open watches are not affected. A watch from exactly the current version still works.
    pub fn expire_history(&self) {
        let mut store = self.shared.lock();
        store.compacted_rv = store.rv;
        store.history.clear();
        store.snapshots.clear();
        store.snapshot_order.clear();
    }

    /// Sends a `BOOKMARK` carrying the current resource version to every open (non-hung) watch
    /// that was opened with `allowWatchBookmarks=true`.
    pub fn send_bookmarks(&self) {
        let mut store = self.shared.lock();
        let rv = store.rv;
        store.watchers.retain(|_, w| {
            if !w.bookmarks || w.hang {
                return true;
            }
            w.tx.send(WatchMsg::Line(bookmark_line(w.res, rv, false))).is_ok()
        });
    }

    /// Stops listening and drops every connection (clients get "connection refused" until
    /// [`restart`](Self::restart)); state, history and the RV counter are kept. Waits (up to
    /// 5 s) until all connections are closed. No-op if already stopped.
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(Running { task, kill }) = running else {
            return;
        };
        task.abort();
        let _ = task.await; // the listener is dropped with the serve future
        let _ = kill.send(true);
        self.drop_watches();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.shared.active_connections.load(Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Listens again on the same port with the same state (and RV counter). No-op if running.
    ///
    /// # Panics
    /// If the port cannot be bound again within ~10 s.
    pub async fn restart(&self) {
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    attempts += 1;
                    if attempts > 200 {
                        panic!("fake apiserver: cannot re-bind {}: {e}", self.addr);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }

    /// Whether the server is currently listening.
    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// While set, every HTTP request (including `/version`, lists and new watches) is answered
    /// with `500 InternalError` and a Status body. kube does not retry 500s by itself. Open
    /// watches are not affected.
    pub fn set_fail_with_500(&self, on: bool) {
        self.shared.fail_500.store(on, Ordering::SeqCst);
    }

    /// While set, every request for resource `plural` (e.g. `endpointslices`) is answered
    /// `403 Forbidden`, as when the ClusterRole lacks it.
    pub fn set_forbidden(&self, plural: &str, on: bool) {
        let mut forbidden = self.shared.forbidden.lock().unwrap_or_else(|e| e.into_inner());
        forbidden.retain(|p| p != plural);
        if on {
            forbidden.push(plural.to_owned());
        }
    }

    /// While set, newly opened watches get `200` and headers, then never another byte (until
    /// [`drop_watches`](Self::drop_watches), [`stop`](Self::stop) or the client gives up).
    /// Watches opened while set stay hung after it is cleared. Note that kube's watcher has a
    /// client-side idle timeout of `timeoutSeconds + 5 s` (295 s by default).
    pub fn set_hang_watches(&self, on: bool) {
        self.shared.hang_watches.store(on, Ordering::SeqCst);
    }

    /// With `false`, a watch with `sendInitialEvents` is refused with `422 Invalid`, as an
    /// API server without the `WatchList` feature gate refuses it (on by default).
    pub fn set_streaming_lists(&self, on: bool) {
        self.shared.streaming_lists.store(on, Ordering::SeqCst);
    }

    /// Number of streaming lists whose initial events have all been sent (the
    /// `k8s.io/initial-events-end` bookmark was handed to the connection).
    pub fn initial_streams_sent(&self) -> u64 {
        self.shared.initial_streams_sent.load(Ordering::SeqCst)
    }

    /// Number of successful (HTTP 200) list requests so far; each page counts.
    pub fn list_count(&self) -> u64 {
        self.shared.list_count.load(Ordering::SeqCst)
    }

    /// Number of watch requests accepted with HTTP 200 so far (including ones whose only event
    /// is a `410` ERROR, and hung ones).
    pub fn watch_count(&self) -> u64 {
        self.shared.watch_count.load(Ordering::SeqCst)
    }

    /// Number of watch streams currently open (registered for live events).
    pub fn open_watches(&self) -> usize {
        self.shared.lock().watchers.len()
    }

    /// The request lines received so far (`"GET /api/v1/pods?limit=500"`, query string as sent,
    /// oldest first; the last 10 000 are kept), including requests answered with errors.
    pub fn requests(&self) -> Vec<String> {
        self.shared.request_log.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// The latest resource version handed out (0 before the first change).
    pub fn current_resource_version(&self) -> u64 {
        self.shared.lock().rv
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(Running { task, kill }) = self.running.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
            let _ = kill.send(true);
        }
        let mut store = self.shared.lock();
        for (_, w) in store.watchers.drain() {
            let _ = w.tx.send(WatchMsg::Abort);
        }
    }
}

/// Current UTC time as RFC 3339 with second precision (`2024-01-02T03:04:05Z`).
fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", sod / 3600, (sod % 3600) / 60, sod % 60)
}
