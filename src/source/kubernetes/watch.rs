//! One watcher per kind: kube-runtime's watcher (list, then watch from the list's
//! resourceVersion, bookmarks, relist on 410 Gone), renewed every `--api-timeout` so a
//! silently dead connection is noticed, retried with our backoff ([`super::health`]), its
//! events sent to the index, its first complete list counted by a [`SyncBarrier`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use serde::Deserialize;

use super::health::{self, Backoff, Health};
use super::resource::IntoObject;
use crate::cluster::Kind;
use crate::cluster::rejected::Rejection;
use crate::index::{IndexHandle, Update};
use crate::source::list_strategy::{ListStrategy, Next};

/// Observes the watch (metrics hook).
pub trait WatchObserver: Send + Sync + 'static {
    /// An attempt to list or watch `kind` failed with `code` (an HTTP status, or
    /// `connection`) and will be retried with backoff.
    fn watch_error(&self, kind: Kind, code: &'static str);
    /// A relist started.
    fn relist(&self, kind: Kind);
    /// A list page's object, a change or a completed list of `kind` arrived.
    fn progressed(&self, kind: Kind);
    /// Every watcher has completed a list (once per relist of any kind afterwards too).
    fn synced(&self);
}

impl WatchObserver for () {
    fn watch_error(&self, _: Kind, _: &'static str) {}
    fn relist(&self, _: Kind) {}
    fn progressed(&self, _: Kind) {}
    fn synced(&self) {}
}

/// Counts watchers that have not completed their first list.
pub(super) struct SyncBarrier {
    remaining: AtomicUsize,
    index: IndexHandle,
    /// What to send when the last one has: `Synced(true)`, or `MulticlusterSynced(true)`.
    done: Update,
    message: &'static str,
}

impl SyncBarrier {
    /// A barrier for `count` watchers that sends `done` (and logs `message`) when all have
    /// completed their first list.
    pub(super) fn new(count: usize, index: IndexHandle, done: Update, message: &'static str) -> Arc<Self> {
        Arc::new(SyncBarrier { remaining: AtomicUsize::new(count), index, done, message })
    }

    fn done_one(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            tracing::info!("{}", self.message);
            self.index.send(self.done.clone());
        }
    }
}

/// Listed objects a watcher may queue for the index before waiting for it (a page's worth).
const LIST_BATCH: u64 = 500;

/// What every watcher of one namespace (or of the whole cluster) shares.
pub(super) struct Watchers {
    /// The namespace watched, or "all namespaces", for the log.
    pub scope: String,
    /// Streaming or paged lists.
    pub strategy: ListStrategy,
    /// Where the events go.
    pub index: IndexHandle,
    /// Counted down by each watcher's first complete list.
    pub barrier: Arc<SyncBarrier>,
    /// Metrics.
    pub observer: Arc<dyn WatchObserver>,
    /// `--api-timeout`: each watch is renewed after this many seconds, and one that sends
    /// nothing for 5 s more is taken for dead and reopened.
    pub timeout: u32,
}

impl Watchers {
    /// Runs the watcher of `api` (any kind, any scope) in a task.
    pub(super) fn run<K>(&self, api: Api<K>, config: watcher::Config)
    where
        K: Resource + IntoObject + Clone + std::fmt::Debug + for<'de> Deserialize<'de> + Send + 'static,
        K::DynamicType: Send + Sync,
    {
        let (scope, strategy) = (self.scope.clone(), self.strategy);
        let (index, barrier, observer) = (self.index.clone(), self.barrier.clone(), self.observer.clone());
        run_watch(api, scope, strategy, index, barrier, config.timeout(self.timeout), observer);
    }
}

/// Runs the watcher of `api` in a task: its events go to `index`, its first complete
/// list counts down `barrier`.
fn run_watch<K>(
    api: Api<K>,
    scope: String,
    mut strategy: ListStrategy,
    index: IndexHandle,
    barrier: Arc<SyncBarrier>,
    config: watcher::Config,
    observer: Arc<dyn WatchObserver>,
) where
    K: Resource + IntoObject + Clone + std::fmt::Debug + for<'de> Deserialize<'de> + Send + 'static,
    K::DynamicType: Send + Sync,
{
    tokio::spawn(async move {
        let kind = K::KIND;
        let mut first_sync = true;
        let (mut health, mut backoff) = (Health::default(), Backoff::default());
        let mut listed = 0u64;
        // Between the start of a list and its end: an error then cuts the list short.
        let mut listing = false;
        // When the watcher was last heard from (an event, or the retry after an error), and
        // how long a watch must stay up without an error to count as alive: its timeout,
        // kube's idle margin of 5 s (a dead watch is noticed first), and 5 s more.
        let mut last_heard = tokio::time::Instant::now();
        let quiet = std::time::Duration::from_secs(u64::from(config.timeout.unwrap_or(290)) + 10);
        // One pass per list strategy: a fallback to paged lists starts a new watcher.
        'watcher: loop {
            let watcher = watcher::watcher(api.clone(), strategy.config(config.clone()));
            let mut stream = std::pin::pin!(watcher);
            loop {
                // A watch that stays up for its whole timeout without an error is alive,
                // changes or not: the watcher says nothing when a watch starts or renews,
                // and nothing may change for a long time. That counts as progress (the
                // metrics' age, and recovery after failures).
                let event = match tokio::time::timeout_at(last_heard + quiet, stream.next()).await {
                    Ok(event) => event,
                    Err(_) => {
                        last_heard = tokio::time::Instant::now();
                        health.progressed(kind, &scope);
                        backoff.reset();
                        observer.progressed(kind);
                        continue;
                    }
                };
                let Some(event) = event else { break };
                let update = match event {
                    Err(error) => {
                        if strategy.error(&error) == Next::FallBack {
                            tracing::info!(%kind, %scope, %error, "the API server refuses streaming lists; using paged lists");
                            continue 'watcher;
                        }
                        observer.watch_error(kind, health::error_code(&error));
                        // Without RBAC for EndpointSlices (a ClusterRole from before they were
                        // watched) or without the API, never hold every answer at SERVFAIL for
                        // them: answer without, and take them in once the list succeeds.
                        if kind == Kind::EndpointSlice && first_sync && refused(&error) {
                            first_sync = false;
                            tracing::error!(%scope, %error, "cannot list EndpointSlices (the ClusterRole needs list/watch on \
                                discovery.k8s.io endpointslices, see deploy/clusterrole.yaml): answering without them; \
                                selectorless headless services have no endpoints until the list succeeds");
                            barrier.done_one();
                        }
                        // Likewise without RBAC for Nodes (a ClusterRole without them): the
                        // cluster zone answers, external names lack node addresses meanwhile.
                        if kind == Kind::Node && first_sync && refused(&error) {
                            first_sync = false;
                            tracing::error!(%error, "cannot list Nodes (the ClusterRole needs list/watch on nodes, \
                                which external zones read): answering without them; external names of NodeExternalIP \
                                and NodePort services have no node addresses until the list succeeds");
                            barrier.done_one();
                        }
                        // The multicluster zone cannot be right without them: it answers
                        // SERVFAIL (the cluster zone is unaffected) until the list succeeds.
                        if kind.is_multicluster() && first_sync && !health.is_failing() && refused(&error) {
                            tracing::error!(%kind, %scope, %error, "cannot list {kind}s (the ClusterRole needs list/watch on \
                                them, see deploy/components/multicluster/): the multicluster zone answers SERVFAIL until the list succeeds");
                        }
                        health.failed(kind, &scope, &error);
                        // A list cut short deletes nothing, and what it applied waits for
                        // the relist that starts over.
                        if std::mem::take(&mut listing) && !index.send(Update::ListFailed(kind)) {
                            break 'watcher;
                        }
                        // The watcher retries on the next poll: wait first.
                        tokio::time::sleep(backoff.next(health::retry_after(&error))).await;
                        last_heard = tokio::time::Instant::now();
                        continue;
                    }
                    Ok(event) => event,
                };
                // Real progress: a completed list, or a change after it (the start-of-list
                // event comes before the list is even attempted, and list items before
                // the list may fail).
                if matches!(update, Event::InitDone | Event::Apply(_) | Event::Delete(_)) {
                    health.progressed(kind, &scope);
                    backoff.reset();
                }
                if !matches!(update, Event::Init) {
                    observer.progressed(kind);
                    last_heard = tokio::time::Instant::now();
                }
                let sent = match update {
                    Event::Init => {
                        if strategy.init() == Next::FallBack {
                            tracing::info!(%kind, %scope, "the initial event stream ended unfinished; using paged lists");
                            continue 'watcher;
                        }
                        observer.relist(kind);
                        listing = true;
                        index.send(Update::BeginResync(kind))
                    }
                    // Each change goes with its revision: the commit that publishes it knows it.
                    Event::InitApply(object) => {
                        listed += 1;
                        if !apply(&index, object) {
                            break 'watcher;
                        }
                        // Backpressure: a streaming list arrives faster than the index
                        // applies it, and what waits in the queue is memory on top of the
                        // state. Every LIST_BATCH objects, wait for the index to catch up.
                        if listed.is_multiple_of(LIST_BATCH) && index.inspect(|_| ()).await.is_none() {
                            break 'watcher;
                        }
                        true
                    }
                    Event::Apply(object) => apply(&index, object),
                    Event::Delete(object) => match object.key() {
                        // A deleted object's resourceVersion is the revision of its deletion.
                        Some(key) => index.send_revised(revision(object.meta()), Update::Delete(kind, key)),
                        None => true,
                    },
                    Event::InitDone => {
                        listing = false;
                        strategy.init_done();
                        let sent = index.send(Update::FinishResync(kind));
                        if std::mem::take(&mut first_sync) {
                            barrier.done_one();
                        }
                        observer.synced();
                        sent
                    }
                };
                if !sent {
                    break 'watcher; // the index is gone: shutting down
                }
            }
            break;
        }
    });
}

/// An object's resourceVersion as the etcd revision it is (0 when absent or opaque: it
/// then does not count).
fn revision(meta: &ObjectMeta) -> u64 {
    meta.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Whether the API server refused the list for good (403 Forbidden, 404 Not Found) rather
/// than failing for a while.
fn refused(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::InitialListFailed(kube::Error::Api(status)) if matches!(status.code, 403 | 404))
}

/// Sends a watched object to the index with its revision; a version that fails
/// validation is sent as refused (the index keeps the last good one and logs it), one
/// without even a name is logged here and dropped.
fn apply<K: IntoObject + Resource>(index: &IndexHandle, object: K) -> bool {
    let key = object.key();
    let revision = revision(object.meta());
    let version = object.meta().resource_version.clone().unwrap_or_default();
    match object.into_object() {
        Ok(object) => index.send_revised(revision, Update::Apply(object)),
        Err(error) => match key {
            Some(key) => {
                let origin = format!("the API's {} (resourceVersion {version})", K::KIND.noun());
                index.send_revised(revision, Update::Rejected(K::KIND, key, Rejection { error, origin }))
            }
            None => {
                tracing::warn!("{error}; an object without a name is not served");
                true
            }
        },
    }
}
