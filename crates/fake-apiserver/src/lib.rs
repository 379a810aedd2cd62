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
//!
//! # Layout
//!
//! `store.rs`: objects, the resource-version counter and the event history (`apply`,
//! `delete`, `get`); `handler.rs`: routing, discovery and the request log; `list.rs` and
//! `watch.rs`: the two verbs; `faults.rs`: the fault controls; `control.rs`: start, stop,
//! restart, the kubeconfig and the counters; `conn.rs`: the listener whose connections can
//! be cut; `requests.rs`: query parameters and `Status` replies; `selectors.rs`; `crds.rs`.

#![allow(clippy::result_large_err)] // `Result<_, Response>` keeps the handlers simple

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

mod conn;
mod control;
mod crds;
mod faults;
mod handler;
mod list;
mod requests;
mod selectors;
mod store;
mod watch;

pub use crds::CRD_KINDS;
use crds::served;
use store::Store;
use watch::WatchMsg;

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

/// The state the request handlers and the control API share.
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

struct Running {
    task: JoinHandle<()>,
    kill: tokio::sync::watch::Sender<bool>,
}

/// A fake Kubernetes API server running inside the test process (see the module docs).
///
/// Dropping it stops serving and closes all connections.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
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
