//! Our trimmed wire types as kube resources: [`Watched`] carries the little metadata
//! kube's watcher needs next to the trimmed object, one macro implements kube's
//! `Resource` for every kind we watch (fixed group and version, or found by discovery),
//! and [`IntoObject`] turns what arrives into a cluster object.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::DynamicResourceScope;
use kube::discovery::ApiResource;
use serde::{Deserialize, Deserializer};

use crate::cluster::objects::{
    ClusterPropertyWire, EndpointSliceWire, MetaWire, NodeWire, PodWire, ServiceExportWire,
    ServiceImportWire, ServiceWire, StatefulSetWire,
};
use crate::cluster::{Kind, Object, ObjectError, ObjectKey};

/// An object as the API delivers it: the trimmed wire form, plus the little metadata
/// kube's watcher needs (name, namespace, resourceVersion).
#[derive(Clone, Debug)]
pub struct Watched<W> {
    meta: ObjectMeta,
    wire: W,
}

impl<W> Watched<W> {
    /// The metadata kube's watcher reads.
    pub fn object_meta(&self) -> &ObjectMeta {
        &self.meta
    }

    /// The trimmed wire form.
    pub fn wire(&self) -> &W {
        &self.wire
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

/// An MCS EndpointSlice as it arrives: the slice wire form, watched apart from local
/// slices (its own kind, its own relists).
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct McsSliceWire(EndpointSliceWire);

/// Converts a watched object into our trimmed form.
pub trait IntoObject {
    /// The kind it is.
    const KIND: Kind;
    /// The trimmed object, or why it cannot be used.
    fn into_object(self) -> Result<Object, ObjectError>;
    /// Its key, read even when the object is invalid (to keep its last good version).
    fn key(&self) -> Option<ObjectKey>;
}

/// Implements kube's `Resource` and our [`HasMeta`] and [`IntoObject`] for
/// `Watched<$wire>`: the object of `$kind`, made by `$convert` into `Object::$variant`,
/// its metadata at `$($meta).+` of the wire form. Its group, version and plural are either
/// fixed (`fixed: "Kind", "group", "version", "plural"` for a namespaced kind, `cluster:`
/// the same for a cluster-scoped one) or found by discovery (`discovered`: kube's
/// `ApiResource` is the dynamic type).
macro_rules! watched_resource {
    ($wire:ty, $kind:expr, $convert:ident, $variant:ident, meta $($meta:tt).+, $($api:tt)+) => {
        impl HasMeta for $wire {
            fn wire_meta(&self) -> &MetaWire {
                &self.$($meta).+
            }
        }

        impl IntoObject for Watched<$wire> {
            const KIND: Kind = $kind;
            fn into_object(self) -> Result<Object, ObjectError> {
                self.wire.$convert().map(|o| Object::$variant(Arc::new(o)))
            }
            fn key(&self) -> Option<ObjectKey> {
                let meta = self.wire.wire_meta();
                if $kind.is_cluster_scoped() {
                    // Cluster-scoped: its name alone.
                    return Some(ObjectKey { namespace: "".into(), name: meta.name.as_deref()?.into() });
                }
                meta.namespaced_key()
            }
        }

        watched_resource!(@resource $wire, $($api)+);
    };
    (@resource $wire:ty, fixed: $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        watched_resource!(@fixed $wire, k8s_openapi::NamespaceResourceScope, $kind, $group, $version, $plural);
    };
    (@resource $wire:ty, cluster: $kind:literal, $group:literal, $version:literal, $plural:literal) => {
        watched_resource!(@fixed $wire, k8s_openapi::ClusterResourceScope, $kind, $group, $version, $plural);
    };
    (@fixed $wire:ty, $scope:ty, $kind:literal, $group:literal, $version:literal, $plural:literal) => {
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
    (@resource $wire:ty, discovered) => {
        impl Resource for Watched<$wire> {
            type DynamicType = ApiResource;
            type Scope = DynamicResourceScope;

            fn kind(dt: &ApiResource) -> Cow<'_, str> {
                Cow::Borrowed(&dt.kind)
            }
            fn group(dt: &ApiResource) -> Cow<'_, str> {
                Cow::Borrowed(&dt.group)
            }
            fn version(dt: &ApiResource) -> Cow<'_, str> {
                Cow::Borrowed(&dt.version)
            }
            fn api_version(dt: &ApiResource) -> Cow<'_, str> {
                Cow::Borrowed(&dt.api_version)
            }
            fn plural(dt: &ApiResource) -> Cow<'_, str> {
                Cow::Borrowed(&dt.plural)
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

watched_resource!(PodWire, Kind::Pod, into_pod, Pod, meta metadata, fixed: "Pod", "", "v1", "pods");
watched_resource!(ServiceWire, Kind::Service, into_service, Service, meta metadata, fixed: "Service", "", "v1", "services");
watched_resource!(
    StatefulSetWire, Kind::StatefulSet, into_statefulset, StatefulSet, meta metadata,
    fixed: "StatefulSet", "apps", "v1", "statefulsets"
);
watched_resource!(
    EndpointSliceWire, Kind::EndpointSlice, into_endpointslice, EndpointSlice, meta metadata,
    fixed: "EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"
);
watched_resource!(
    McsSliceWire, Kind::McsEndpointSlice, into_mcs_slice, EndpointSlice, meta 0.metadata,
    fixed: "EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"
);
watched_resource!(NodeWire, Kind::Node, into_node, Node, meta metadata, cluster: "Node", "", "v1", "nodes");
watched_resource!(
    ServiceImportWire, Kind::ServiceImport, into_serviceimport, ServiceImport, meta metadata, discovered
);
watched_resource!(
    ServiceExportWire, Kind::ServiceExport, into_serviceexport, ServiceExport, meta metadata, discovered
);
watched_resource!(
    ClusterPropertyWire, Kind::ClusterProperty, into_clusterproperty, ClusterProperty, meta metadata, discovered
);

impl McsSliceWire {
    /// The slice (the watch selects the MCS label, so it has its origin).
    fn into_mcs_slice(self) -> Result<crate::cluster::EndpointSlice, ObjectError> {
        let slice = self.0.into_endpointslice()?;
        debug_assert!(slice.multicluster.is_some(), "the watch selects the MCS label");
        Ok(slice)
    }
}
