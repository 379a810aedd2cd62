//! The Kubernetes source: watches Pods, Services, StatefulSets and the EndpointSlices of
//! selectorless services through the API.
//!
//! Objects are deserialized straight into the trimmed wire types of
//! [`cluster::objects`](crate::cluster::objects): serde skips every field we do not name,
//! so no full API object is ever held ([`resource`]). Each kind runs a watcher
//! ([`watch`]). A relist is streamed into the index as `BeginResync` / `Apply`... /
//! `FinishResync`, so objects deleted while we were away disappear without a second copy
//! of the state ever being built. The multicluster kinds are [`multicluster`]'s. Nodes
//! (cluster-wide, for external zones) are watched only with [`KubeOptions::watch_nodes`].

mod health;
mod multicluster;
pub mod resource;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config, Resource};

use crate::cluster::objects::{
    EndpointSliceWire, NodeWire, PodWire, ServiceWire, StatefulSetWire, WATCH_SELECTOR,
};
use crate::index::{IndexHandle, Update};
use crate::source::list_strategy::{ListStrategy, StreamingList};
pub use resource::Watched;
pub use watch::WatchObserver;
use watch::{SyncBarrier, Watchers};

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
    /// Also watch the Nodes, cluster-wide whatever `namespaces` says (external zones read
    /// their addresses). Off by default: no request for Nodes is made, and no RBAC for them
    /// is needed. Their
    /// first list counts toward the first sync, unless the API server refuses it (403/404:
    /// logged, and answered without Nodes until the list succeeds).
    pub watch_nodes: bool,
    /// `--api-timeout`: watches are renewed after this long, and a connection that sends
    /// nothing for a little longer (a watch) or twice as long (a list) is dropped.
    pub timeout: std::time::Duration,
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
    Ok(Client::try_from(with_timeouts(config, options.timeout))?)
}

/// The client's timeouts and retries, so a dead or failing API server is noticed and
/// retried our way: no read of a response (a list page) waits more than twice
/// `timeout` for a byte, counted from the request (not from the pooled connection's idle
/// time); and kube's own retry of 429/503/504 is off, since the watchers back off
/// themselves ([`health`]) and honour a 429's `Retry-After`.
fn with_timeouts(mut config: Config, timeout: std::time::Duration) -> Config {
    config.read_timeout = Some(timeout * 2);
    config.reset_reader_on_write = true;
    config.default_retry = false;
    config
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
        namespaces.len() * 4 + usize::from(options.watch_nodes),
        index.clone(),
        Update::Synced(true),
        "synced with the Kubernetes API: answering from live state",
    );
    if options.multicluster {
        // Before the first Synced: the multicluster zone waits for its own kinds.
        index.send(Update::MulticlusterSynced(false));
        multicluster::spawn(client.clone(), &namespaces, options, index.clone(), observer.clone());
    }
    for ns in namespaces {
        let pods = watcher::Config::default().labels_opt(options.label_selector.as_deref());
        let watchers = Watchers {
            scope: ns.as_deref().unwrap_or("all namespaces").to_owned(),
            strategy: ListStrategy::new(options.streaming_list),
            index: index.clone(),
            barrier: barrier.clone(),
            observer: observer.clone(),
            timeout: watch_timeout(options.timeout),
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
    if options.watch_nodes {
        let watchers = Watchers {
            scope: "the cluster".to_owned(),
            strategy: ListStrategy::new(options.streaming_list),
            index: index.clone(),
            barrier: barrier.clone(),
            observer: observer.clone(),
            timeout: watch_timeout(options.timeout),
        };
        watchers.run::<Watched<NodeWire>>(Api::all(client.clone()), watcher::Config::default());
    }
}

/// A watch's `timeoutSeconds` for `--api-timeout`: at least one second.
fn watch_timeout(timeout: std::time::Duration) -> u32 {
    u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX).max(1)
}

/// The API of a namespaced kind in `namespace`, or in every namespace.
fn api_in<K>(client: &Client, namespace: Option<&str>) -> Api<K>
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
