//! The Kubernetes source's multicluster watchers (`--multicluster-zone`): ServiceImports
//! and ServiceExports (`multicluster.x-k8s.io`, `v1beta1` where the cluster serves it,
//! else `v1alpha1`), the MCS EndpointSlices of imports, and the `about.k8s.io`
//! ClusterProperties that name this cluster.
//!
//! Which version to watch is found by discovery, as kubectl does; until the MCS CRDs are
//! installed it is retried, and the multicluster zone answers SERVFAIL meanwhile (the
//! cluster zone does not wait for it). Without the ClusterProperty CRD the cluster id
//! comes from `--cluster-id` alone.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::api::Api;
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::watcher;

use super::api_in;
use super::resource::{McsSliceWire, Watched};
use super::watch::{SyncBarrier, WatchObserver, Watchers};
use crate::cluster::objects::{
    ABOUT_GROUP, ClusterPropertyWire, MCS_GROUP, MCS_WATCH_SELECTOR, ServiceExportWire, ServiceImportWire,
};
use crate::index::{IndexHandle, Update};
use crate::source::list_strategy::ListStrategy;

/// The MCS API versions we read, preferred first.
const MCS_VERSIONS: [&str; 2] = ["v1beta1", "v1alpha1"];
/// How often discovery is retried while the MCS CRDs are not installed.
const DISCOVERY_RETRY: Duration = Duration::from_secs(30);

/// The versions of the multicluster kinds this cluster serves.
struct Served {
    imports: ApiResource,
    exports: ApiResource,
    cluster_properties: Option<ApiResource>,
}

/// Finds, by discovery, the preferred served version of `plural` in `group` among `versions`.
async fn discover(
    client: &Client,
    group: &str,
    versions: &[&str],
    kind: &str,
    plural: &str,
) -> Option<ApiResource> {
    for version in versions {
        let Ok(list) = client.list_api_group_resources(&format!("{group}/{version}")).await else { continue };
        if let Some(resource) = list.resources.iter().find(|r| r.name == plural) {
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let mut api = ApiResource::from_gvk_with_plural(&gvk, plural);
            api.plural = resource.name.clone();
            return Some(api);
        }
    }
    None
}

async fn served(client: &Client) -> Option<Served> {
    let imports = discover(client, MCS_GROUP, &MCS_VERSIONS, "ServiceImport", "serviceimports").await?;
    let exports = discover(client, MCS_GROUP, &MCS_VERSIONS, "ServiceExport", "serviceexports").await?;
    let cluster_properties =
        discover(client, ABOUT_GROUP, &["v1alpha1"], "ClusterProperty", "clusterproperties").await;
    Some(Served { imports, exports, cluster_properties })
}

/// Starts the multicluster watchers, once discovery finds the MCS CRDs; sends
/// `MulticlusterSynced(true)` when each has completed its first list.
pub fn spawn(
    client: Client,
    namespaces: &[Option<String>],
    options: &super::KubeOptions,
    index: IndexHandle,
    observer: Arc<dyn WatchObserver>,
) {
    let namespaces = namespaces.to_vec();
    let (streaming_list, timeout) = (options.streaming_list, super::watch_timeout(options.timeout));
    tokio::spawn(async move {
        let mut told = false;
        let served = loop {
            if let Some(served) = served(&client).await {
                break served;
            }
            if !told {
                tracing::error!(
                    "the cluster serves no ServiceImport/ServiceExport ({MCS_GROUP} v1beta1 or v1alpha1): \
                     install the MCS API CRDs (kubernetes-sigs/mcs-api); the multicluster zone answers \
                     SERVFAIL until they are, the cluster zone is not affected. Retrying every {}s",
                    DISCOVERY_RETRY.as_secs()
                );
                told = true;
            }
            if index.inspect(|_| ()).await.is_none() {
                return; // shutting down
            }
            tokio::time::sleep(DISCOVERY_RETRY).await;
        };
        tracing::info!(
            imports = %served.imports.api_version,
            exports = %served.exports.api_version,
            cluster_properties = served.cluster_properties.as_ref().map_or("not served (--cluster-id only)", |r| &r.api_version),
            "watching the multicluster kinds"
        );
        let per_namespace = 3;
        let cluster_wide = usize::from(served.cluster_properties.is_some());
        let barrier = SyncBarrier::new(
            namespaces.len() * per_namespace + cluster_wide,
            index.clone(),
            Update::MulticlusterSynced(true),
            "synced the multicluster kinds: answering the multicluster zone",
        );
        let watchers = |scope: &str| Watchers {
            scope: scope.to_owned(),
            strategy: ListStrategy::new(streaming_list),
            index: index.clone(),
            barrier: barrier.clone(),
            observer: observer.clone(),
            timeout,
        };
        for ns in &namespaces {
            let watchers = watchers(ns.as_deref().unwrap_or("all namespaces"));
            let (imports, exports): (Api<Watched<ServiceImportWire>>, Api<Watched<ServiceExportWire>>) =
                match ns {
                    Some(ns) => (
                        Api::namespaced_with(client.clone(), ns, &served.imports),
                        Api::namespaced_with(client.clone(), ns, &served.exports),
                    ),
                    None => (
                        Api::all_with(client.clone(), &served.imports),
                        Api::all_with(client.clone(), &served.exports),
                    ),
                };
            let slices: Api<Watched<McsSliceWire>> = api_in(&client, ns.as_deref());
            watchers.run(imports, watcher::Config::default());
            watchers.run(exports, watcher::Config::default());
            watchers.run(slices, watcher::Config::default().labels(MCS_WATCH_SELECTOR));
        }
        if let Some(resource) = &served.cluster_properties {
            let properties: Api<Watched<ClusterPropertyWire>> = Api::all_with(client.clone(), resource);
            watchers("the cluster").run(properties, watcher::Config::default());
        }
    });
}
