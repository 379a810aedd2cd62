//! The Kubernetes source: watches Pods, Services, StatefulSets and the EndpointSlices of
//! selectorless services through the API.
//!
//! Objects are deserialized straight into the trimmed wire types of
//! [`cluster::objects`](crate::cluster::objects): serde skips every field we do not name,
//! so no full API object is ever held. Each kind runs kube-runtime's watcher (list, then
//! watch from the list's resourceVersion, bookmarks, relist on 410 Gone, reconnect with
//! backoff). A relist is streamed into the index as `BeginResync` / `Apply`... /
//! `FinishResync`, so objects deleted while we were away disappear without a second copy
//! of the state ever being built.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Config, Resource};
use serde::{Deserialize, Deserializer};

use crate::cluster::objects::{
    EndpointSliceWire, MetaWire, PodWire, ServiceWire, StatefulSetWire, WATCH_SELECTOR,
};
use crate::cluster::{Kind, Object, ObjectError, ObjectKey};
use crate::index::{IndexHandle, Update};
use crate::source::list_strategy::{ListStrategy, Next, StreamingList};

/// How to reach the cluster and what to watch.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// An explicit kubeconfig file (else in-cluster, else `KUBECONFIG` / `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    pub context: Option<String>,
    /// Namespaces to watch; empty means the whole cluster.
    pub namespaces: Vec<String>,
    /// Label selector applied to watched pods.
    pub label_selector: Option<String>,
    /// Streaming lists (WatchList) or paged lists.
    pub streaming_list: StreamingList,
    /// Also watch the multicluster kinds (`--multicluster-zone`).
    pub multicluster: bool,
}

/// Why the API could not be reached at startup.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// No configuration was found.
    #[error(
        "no Kubernetes cluster found ({reason}). Either run in a pod with a service account, \
         pass --kubeconfig FILE (or set KUBECONFIG), or serve from files with --manifests config/demo"
    )]
    NoCluster {
        /// What was tried.
        reason: String,
    },
    /// The kubeconfig exists but is unusable.
    #[error("cannot use kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// kube's error.
        source: kube::config::KubeconfigError,
    },
    /// The client could not be built from the configuration.
    #[error("cannot create a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// Builds a client the way kubectl finds its cluster: `--kubeconfig`, else the in-cluster
/// service account, else `KUBECONFIG` / `~/.kube/config` (with `--context`).
pub async fn connect(options: &KubeOptions) -> Result<Client, KubeError> {
    let context = KubeConfigOptions { context: options.context.clone(), ..Default::default() };
    let config = if let Some(path) = &options.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|source| KubeError::Kubeconfig { path: path.display().to_string(), source })?;
        Config::from_custom_kubeconfig(kubeconfig, &context)
            .await
            .map_err(|source| KubeError::Kubeconfig { path: path.display().to_string(), source })?
    } else if options.context.is_none()
        && let Ok(config) = Config::incluster()
    {
        config
    } else {
        Config::from_kubeconfig(&context).await.map_err(|e| KubeError::NoCluster {
            reason: format!("not in a pod, and no usable kubeconfig: {e}"),
        })?
    };
    Ok(Client::try_from(config)?)
}

/// An object as the API delivers it: the trimmed wire form, plus the little metadata
/// kube's watcher needs (name, namespace, resourceVersion).
#[derive(Clone, Debug)]
pub struct Watched<W> {
    meta: ObjectMeta,
    wire: W,
}

impl<W> Watched<W> {
    /// The metadata kube's watcher reads.
    pub(super) fn object_meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The metadata, mutable (kube's `Resource` needs it).
    pub(super) fn object_meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }

    /// The trimmed wire form.
    pub(super) fn wire(&self) -> &W {
        &self.wire
    }

    /// The trimmed wire form, taken out.
    pub(super) fn into_wire(self) -> W {
        self.wire
    }
}

/// Wire types that carry their metadata.
pub trait HasMeta {
    /// The object's trimmed metadata.
    fn wire_meta(&self) -> &MetaWire;
}

impl<'de, W: HasMeta + Deserialize<'de>> Deserialize<'de> for Watched<W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = W::deserialize(deserializer)?;
        let m = wire.wire_meta();
        let meta = ObjectMeta {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            resource_version: m.resource_version.clone(),
            ..ObjectMeta::default()
        };
        Ok(Self { meta, wire })
    }
}

macro_rules! watched_resource {
    ($wire:ty, $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        watched_resource!($wire, $kind, $group, $version, $plural, k8s_openapi::NamespaceResourceScope);
    };
    ($wire:ty, $kind:literal, $group:literal, $version:literal, $plural:literal, $scope:ty) => {
        impl HasMeta for $wire {
            fn wire_meta(&self) -> &MetaWire {
                &self.metadata
            }
        }

        impl Resource for Watched<$wire> {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.meta
            }
        }
    };
}

watched_resource!(PodWire, "Pod", "", "v1", "pods");
watched_resource!(ServiceWire, "Service", "", "v1", "services");
watched_resource!(StatefulSetWire, "StatefulSet", "apps", "v1", "statefulsets");
watched_resource!(EndpointSliceWire, "EndpointSlice", "discovery.k8s.io", "v1", "endpointslices");

/// Converts a watched object into our trimmed form.
pub(super) trait IntoObject {
    const KIND: Kind;
    /// The trimmed object, or why it cannot be used.
    fn into_object(self) -> Result<Object, ObjectError>;
    /// Its key, read even when the object is invalid (to keep its last good version).
    fn key(&self) -> Option<ObjectKey>;
}

macro_rules! into_object {
    ($wire:ty, $kind:expr, $convert:ident, $variant:ident) => {
        impl IntoObject for Watched<$wire> {
            const KIND: Kind = $kind;
            fn into_object(self) -> Result<Object, ObjectError> {
                self.wire.$convert().map(|o| Object::$variant(std::sync::Arc::new(o)))
            }
            fn key(&self) -> Option<ObjectKey> {
                self.wire.metadata.namespaced_key()
            }
        }
    };
}

into_object!(PodWire, Kind::Pod, into_pod, Pod);
into_object!(ServiceWire, Kind::Service, into_service, Service);
into_object!(StatefulSetWire, Kind::StatefulSet, into_statefulset, StatefulSet);
into_object!(EndpointSliceWire, Kind::EndpointSlice, into_endpointslice, EndpointSlice);

/// Observes the watch (metrics hook).
pub trait WatchObserver: Send + Sync + 'static {
    /// A watch failed and will be retried with backoff.
    fn watch_error(&self, kind: Kind);
    /// A relist started.
    fn relist(&self, kind: Kind);
    /// Every watcher has completed a list (once per relist of any kind afterwards too).
    fn synced(&self);
}

impl WatchObserver for () {
    fn watch_error(&self, _: Kind) {}
    fn relist(&self, _: Kind) {}
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

/// Starts one watcher per kind (and per namespace, when limited). They run until the
/// index goes away and never give up while the API server is unreachable.
pub fn spawn(client: Client, options: &KubeOptions, index: IndexHandle, observer: Arc<dyn WatchObserver>) {
    let namespaces: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    let barrier = SyncBarrier::new(
        namespaces.len() * 4,
        index.clone(),
        Update::Synced(true),
        "synced with the Kubernetes API: answering from live state",
    );
    if options.multicluster {
        // Before the first Synced: the clusterset zone waits for its own kinds.
        index.send(Update::MulticlusterSynced(false));
        super::multicluster::spawn(
            client.clone(),
            &namespaces,
            options.streaming_list,
            index.clone(),
            observer.clone(),
        );
    }
    for ns in namespaces {
        let pods = watcher::Config::default().labels_opt(options.label_selector.as_deref());
        let watchers = Watchers {
            scope: ns.as_deref().unwrap_or("all namespaces").to_owned(),
            strategy: ListStrategy::new(options.streaming_list),
            index: index.clone(),
            barrier: barrier.clone(),
            observer: observer.clone(),
        };
        let ns = ns.as_deref();
        watchers.run::<Watched<PodWire>>(api_in(&client, ns), pods);
        watchers.run::<Watched<ServiceWire>>(api_in(&client, ns), watcher::Config::default());
        watchers.run::<Watched<StatefulSetWire>>(api_in(&client, ns), watcher::Config::default());
        // Only the slices of selectorless services: never the EndpointSlice controller's
        // (pods are the source of selector services), and only slices naming a service.
        let slices = watcher::Config::default().labels(WATCH_SELECTOR);
        watchers.run::<Watched<EndpointSliceWire>>(api_in(&client, ns), slices);
    }
}

/// The API of a namespaced kind in `namespace`, or in every namespace.
pub(super) fn api_in<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

trait LabelsOpt {
    fn labels_opt(self, selector: Option<&str>) -> Self;
}

impl LabelsOpt for watcher::Config {
    fn labels_opt(self, selector: Option<&str>) -> Self {
        match selector {
            Some(s) => self.labels(s),
            None => self,
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
        run_watch(api, scope, strategy, index, barrier, config, observer);
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
        let mut healthy = true;
        let mut listed = 0u64;
        // One pass per list strategy: a fallback to paged lists starts a new watcher.
        'watcher: loop {
            let watcher = watcher::watcher(api.clone(), strategy.config(config.clone()));
            let mut stream = std::pin::pin!(watcher.default_backoff());
            while let Some(event) = stream.next().await {
                let update = match event {
                    Err(error) => {
                        if strategy.error(&error) == Next::FallBack {
                            tracing::info!(%kind, %scope, %error, "the API server refuses streaming lists; using paged lists");
                            continue 'watcher;
                        }
                        observer.watch_error(kind);
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
                        // The clusterset zone cannot be right without them: it answers
                        // SERVFAIL (the cluster zone is unaffected) until the list succeeds.
                        if kind.is_multicluster() && first_sync && healthy && refused(&error) {
                            tracing::error!(%kind, %scope, %error, "cannot list {kind}s (the ClusterRole needs list/watch on \
                                them, see deploy/clusterrole.yaml): the multicluster zone answers SERVFAIL until the list succeeds");
                        }
                        if healthy {
                            tracing::warn!(%kind, %scope, %error, "watch failed; serving the last known state and retrying with backoff");
                        } else {
                            tracing::debug!(%kind, %scope, %error, "watch still failing");
                        }
                        healthy = false;
                        continue;
                    }
                    Ok(event) => event,
                };
                if !healthy {
                    tracing::info!(%kind, %scope, "watch recovered");
                    healthy = true;
                }
                let sent = match update {
                    Event::Init => {
                        if strategy.init() == Next::FallBack {
                            tracing::info!(%kind, %scope, "the initial event stream ended unfinished; using paged lists");
                            continue 'watcher;
                        }
                        observer.relist(kind);
                        index.send(Update::BeginResync(kind))
                    }
                    // The revision goes first: the commit that applies the change knows it.
                    Event::InitApply(object) => {
                        listed += 1;
                        if !(index.send(Update::Revision(revision(object.meta()))) && apply(&index, object)) {
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
                    Event::Apply(object) => {
                        index.send(Update::Revision(revision(object.meta()))) && apply(&index, object)
                    }
                    Event::Delete(object) => match object.key() {
                        // A deleted object's resourceVersion is the revision of its deletion.
                        Some(key) => {
                            index.send(Update::Revision(revision(object.meta())))
                                && index.send(Update::Delete(kind, key))
                        }
                        None => true,
                    },
                    Event::InitDone => {
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

fn apply<K: IntoObject>(index: &IndexHandle, object: K) -> bool {
    let key = object.key();
    match object.into_object() {
        Ok(object) => index.send(Update::Apply(object)),
        Err(error) => {
            tracing::warn!("{error}; keeping its last good version, if any");
            match key {
                Some(key) => index.send(Update::Keep(K::KIND, key)),
                None => true,
            }
        }
    }
}
