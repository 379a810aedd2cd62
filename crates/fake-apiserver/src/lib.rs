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
//!   `/apis/apps/v1/statefulsets`, `/api/v1/nodes`, ... see [`SUPPORTED_KINDS`]): items are returned
//!   in etcd key order (namespace, name) with the list's `metadata.resourceVersion`.
//!   `limit` + `continue` pagination is honoured against a consistent snapshot taken
//!   at the first page (all pages report that snapshot's RV, later pages carry
//!   `remainingItemCount`). `resourceVersion` / `resourceVersionMatch`
//!   (`NotOlderThan`, `Exact`) are honoured: an `Exact` list at an older RV is
//!   reconstructed from the event history; too old gives `410 Expired`, too new
//!   gives `504 Timeout`. Continue tokens expire with
//!   [`expire_history`](FakeApiServer::expire_history),
//!   [`compact_to`](FakeApiServer::compact_to) (periodic compaction: only lists
//!   older than the compacted version) or
//!   [`expire_next_continue`](FakeApiServer::expire_next_continue) (`410 Expired`).
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
//! * **Faults**: see [Faults](#faults) below.
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
//! # Faults
//!
//! Each is a method of [`FakeApiServer`]; the crate's tests (`tests/faults.rs`,
//! `tests/silence.rs`) drive each with plain HTTP and show what a client sees.
//!
//! * **Dropped watches** ([`drop_watches`](FakeApiServer::drop_watches)): every watch
//!   response is aborted mid-stream, without the terminating chunk.
//! * **Dropped connections** ([`drop_connections`](FakeApiServer::drop_connections)):
//!   every open connection (watches, lists in flight, idle keep-alive ones) is cut; the
//!   server keeps listening.
//! * **Outage** ([`stop`](FakeApiServer::stop) / [`restart`](FakeApiServer::restart)):
//!   connections are cut and new ones refused; state is kept.
//! * **Accept and close** ([`set_accept_and_close`](FakeApiServer::set_accept_and_close)):
//!   every new TCP connection is accepted and closed at once, without a response.
//! * **Silently dead connections** ([`go_silent`](FakeApiServer::go_silent) /
//!   [`resume`](FakeApiServer::resume)): open watches stop sending anything (no events,
//!   no bookmarks, no clean end at `timeoutSeconds`) and new watches get no response at
//!   all, while the sockets stay open; optionally lists and every other request too.
//!   [`set_hang_watches`](FakeApiServer::set_hang_watches) is the milder form: new
//!   watches get their headers, then nothing.
//! * **Watch cut in the middle of an object**
//!   ([`cut_next_watch_event`](FakeApiServer::cut_next_watch_event)): half the next event
//!   line, then the connection is aborted.
//! * **429 Too Many Requests** ([`throttle`](FakeApiServer::throttle)): API Priority and
//!   Fairness, with `Retry-After` and `details.retryAfterSeconds`.
//! * **5xx on lists or on watches** ([`fail_lists`](FakeApiServer::fail_lists),
//!   [`fail_watches`](FakeApiServer::fail_watches)) for the next N requests, with the
//!   real `Status` of a 500, 503 or 504; and `500` on every request
//!   ([`set_fail_with_500`](FakeApiServer::set_fail_with_500)).
//! * **Continue token expiry** ([`expire_next_continue`](FakeApiServer::expire_next_continue)):
//!   the next continuation of a paged list gets `410 Expired`, as after an etcd compaction
//!   between two pages; [`expire_history`](FakeApiServer::expire_history) compacts
//!   everything (watches from an older resource version get `410` too).
//! * **403 Forbidden** for one resource ([`set_forbidden`](FakeApiServer::set_forbidden)),
//!   and custom resources that are not installed (see above).
//!
//! # Request log
//!
//! [`request_log`](FakeApiServer::request_log) has every request: method, path and query,
//! [`Verb`], the time it was received and the response status (`None` if it never got
//! one), for assertions on request counts and intervals (a retry at least `Retry-After`
//! later, at most N lists in 10 s). [`connection_log`](FakeApiServer::connection_log) has
//! every accepted TCP connection, [`requests`](FakeApiServer::requests) the request lines,
//! and [`list_count`](FakeApiServer::list_count) / [`watch_count`](FakeApiServer::watch_count)
//! count the successful ones.
//!
//! # Notes on kube 5's watcher (observed against this server)
//!
//! With the default `watcher::Config` the initial list is
//! `GET ...?limit=500` (the `resourceVersion=0` of `ListSemantic::Any` is dropped
//! by kube when a limit is set), followed by `...?limit=500&continue=TOKEN`, then
//! `GET ...?watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=N`.
//! `sendInitialEvents` is only sent with `.streaming_lists()`. An abruptly
//! dropped watch ends the kube stream silently (it treats the unexpected EOF as a
//! resumable end) and the watcher re-watches from its last RV without an error; so
//! does one cut in the middle of an event (the half line is discarded).
//!
//! kube's client retries `429`, `503` and `504` by itself (`Config::default_retry`, on by
//! default: up to 15 retries, exponential backoff from 5 ms, a `Retry-After` longer than
//! the backoff is waited for): a few such failures never reach the caller, only the request
//! log shows them. A `500` is returned at once. It has no read timeout by default, so a list
//! on a silent connection waits forever; the watcher's own idle timeout for a watch is
//! `timeoutSeconds + 5 s`.
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
//! `delete`, `get`); `handler.rs`: routing, discovery, the faults every request meets;
//! `list.rs` and `watch.rs`: the two verbs; `faults.rs`: the fault controls; `log.rs`: the
//! request and connection logs; `control.rs`: start, stop, restart, the kubeconfig and the
//! counters; `conn.rs`: the listener, whose connections can be cut, muted or closed on
//! accept; `requests.rs`: query parameters and `Status` replies; `selectors.rs`; `crds.rs`.

#![allow(clippy::result_large_err)] // `Result<_, Response>` keeps the handlers simple

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
mod log;
mod requests;
mod selectors;
mod store;
mod watch;

pub use crds::CRD_KINDS;
use crds::served;
pub use faults::UNTIL_CLEARED;
pub use log::{ConnectionRecord, RequestRecord, Verb};
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
    ResourceType {
        kind: "Node",
        api_version: "v1",
        plural: "nodes",
        list_kind: "NodeList",
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
    faults: faults::Faults,
    /// `false`: refuse `sendInitialEvents` like a server without the WatchList feature.
    streaming_lists: AtomicBool,
    initial_streams_sent: AtomicU64,
    list_count: AtomicU64,
    watch_count: AtomicU64,
    active_connections: AtomicUsize,
    connections: conn::Connections,
    uid_seed: u64,
    log: log::Log,
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
