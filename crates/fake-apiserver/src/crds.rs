//! The fake API server's custom resources and discovery (see `lib.rs`): the
//! Multi-Cluster Services kinds a server with `--multicluster-zone` watches, which of them
//! are installed, and the discovery documents (`/apis`, `/api/v1`, `/apis/GROUP/VERSION`)
//! a client reads to find out.
//!
//! A multi-version CRD keeps one stored object per name whatever version wrote it, and
//! serves it in the version of the request; so do these kinds: one storage (and one
//! sequence of resourceVersions) per kind, with `apiVersion` rewritten as the object is
//! written out ([`Served`]), in lists, GETs and watch events alike.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use axum::response::Response;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use super::requests::{json_response, not_found};
use super::{FakeApiServer, ResourceType, all_kinds};

/// The Multi-Cluster Services API group (KEP-1645): ServiceImport, ServiceExport.
pub const MCS_GROUP: &str = "multicluster.x-k8s.io";
/// The ClusterProperty group (KEP-2149); `id.k8s.io` names the cluster.
pub const ABOUT_GROUP: &str = "about.k8s.io";
/// The versions of [`MCS_GROUP`] the CRDs define, preferred first (Kubernetes version
/// priority: beta before alpha). All are served unless
/// [`set_mcs_versions`](FakeApiServer::set_mcs_versions) says otherwise.
pub const MCS_VERSIONS: &[&str] = &["v1beta1", "v1alpha1"];

/// The custom resources, one entry per served version, the preferred version of a kind
/// first (what [`FakeApiServer::apply`] fills in when an object has no `apiVersion`).
/// Both MCS versions have the same schema (`spec.type` ClusterSetIP|Headless, `spec.ips`,
/// `spec.ports`, `status.clusters`), so one stored object serves either.
pub const CRD_KINDS: &[ResourceType] = &[
    ResourceType {
        kind: "ServiceImport",
        api_version: "multicluster.x-k8s.io/v1beta1",
        plural: "serviceimports",
        list_kind: "ServiceImportList",
        namespaced: true,
    },
    ResourceType {
        kind: "ServiceImport",
        api_version: "multicluster.x-k8s.io/v1alpha1",
        plural: "serviceimports",
        list_kind: "ServiceImportList",
        namespaced: true,
    },
    ResourceType {
        kind: "ServiceExport",
        api_version: "multicluster.x-k8s.io/v1beta1",
        plural: "serviceexports",
        list_kind: "ServiceExportList",
        namespaced: true,
    },
    ResourceType {
        kind: "ServiceExport",
        api_version: "multicluster.x-k8s.io/v1alpha1",
        plural: "serviceexports",
        list_kind: "ServiceExportList",
        namespaced: true,
    },
    ResourceType {
        kind: "ClusterProperty",
        api_version: "about.k8s.io/v1alpha1",
        plural: "clusterproperties",
        list_kind: "ClusterPropertyList",
        namespaced: false,
    },
];

/// Which custom resources are installed, as the cluster's CRDs would say.
pub(super) struct CrdSwitches {
    /// Served versions of [`MCS_GROUP`], in [`MCS_VERSIONS`] order; empty: not installed.
    mcs_versions: Mutex<Vec<&'static str>>,
    cluster_properties: AtomicBool,
}

impl Default for CrdSwitches {
    fn default() -> Self {
        CrdSwitches {
            mcs_versions: Mutex::new(MCS_VERSIONS.to_vec()),
            cluster_properties: AtomicBool::new(true),
        }
    }
}

impl CrdSwitches {
    /// Whether `res` (a kind in one version) is currently served; built-in kinds always are.
    pub(super) fn serves(&self, res: &ResourceType) -> bool {
        match res.api_version.split_once('/') {
            Some((MCS_GROUP, version)) => {
                self.mcs_versions.lock().unwrap_or_else(|e| e.into_inner()).contains(&version)
            }
            Some((ABOUT_GROUP, _)) => self.cluster_properties.load(Ordering::SeqCst),
            _ => true,
        }
    }
}

/// A stored object as written out for a request of one resource version: for a custom
/// resource, `apiVersion` is the requested one; anything else is written as stored.
/// Serializing through this (rather than cloning and editing the object) keeps a list of
/// 100k pods as cheap as before.
pub(super) struct Served<'a> {
    object: &'a Value,
    api_version: Option<&'static str>,
}

/// `object` as served for a request of `res`.
pub(super) fn served<'a>(res: &'static ResourceType, object: &'a Value) -> Served<'a> {
    let custom = CRD_KINDS.iter().any(|c| c.kind == res.kind);
    Served { object, api_version: custom.then_some(res.api_version) }
}

impl Serialize for Served<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (Some(api_version), Some(map)) = (self.api_version, self.object.as_object()) else {
            return self.object.serialize(s);
        };
        let mut out = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            if k == "apiVersion" {
                out.serialize_entry(k, api_version)?;
            } else {
                out.serialize_entry(k, v)?;
            }
        }
        out.end()
    }
}

/// `GET /apis`: every served group with its served versions, the preferred one first
/// (the first in table order: for [`MCS_GROUP`], v1beta1 while it is served).
pub(super) fn api_group_list(switches: &CrdSwitches) -> Value {
    let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for r in all_kinds().filter(|r| switches.serves(r)) {
        if let Some((group, version)) = r.api_version.split_once('/') {
            let versions = groups.entry(group).or_default();
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, vs)| {
            let versions: Vec<Value> =
                vs.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
            json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `/apis/GROUP/VERSION`: the `APIResourceList` of a served group
/// version (read-only verbs: writes go through the Rust control API), `404` for one that
/// is not served, as for a CRD that is not installed.
pub(super) fn api_resource_list(switches: &CrdSwitches, group_version: &str) -> Response {
    let resources: Vec<Value> = all_kinds()
        .filter(|r| r.api_version == group_version && switches.serves(r))
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.kind.to_ascii_lowercase(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "list", "watch"],
            })
        })
        .collect();
    if resources.is_empty() {
        return not_found();
    }
    let list = json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    });
    json_response(StatusCode::OK, &list)
}

impl FakeApiServer {
    /// Which versions of `multicluster.x-k8s.io` (ServiceImport, ServiceExport) are served:
    /// `["v1beta1", "v1alpha1"]` by default, `["v1alpha1"]` like an older MCS controller,
    /// `[]` like a cluster without the CRDs (every path of the group is a `404` and it is
    /// gone from `/apis`). Stored objects are kept (and can still be applied), and open
    /// watches are not cut, as with [`set_forbidden`](Self::set_forbidden).
    ///
    /// # Panics
    /// For a version the CRDs do not define (a bug in the calling test).
    pub fn set_mcs_versions(&self, versions: &[&str]) {
        if let Some(v) = versions.iter().find(|v| !MCS_VERSIONS.contains(v)) {
            panic!("fake apiserver: set_mcs_versions: unknown version {v:?} (known: {MCS_VERSIONS:?})");
        }
        let served: Vec<&'static str> =
            MCS_VERSIONS.iter().copied().filter(|v| versions.contains(v)).collect();
        *self.shared.crds.mcs_versions.lock().unwrap_or_else(|e| e.into_inner()) = served;
    }

    /// Whether `about.k8s.io/v1alpha1` (ClusterProperty) is served (by default it is); off
    /// is like [`set_mcs_versions(&[])`](Self::set_mcs_versions) for that group.
    pub fn set_cluster_properties_served(&self, on: bool) {
        self.shared.crds.cluster_properties.store(on, Ordering::SeqCst);
    }
}
