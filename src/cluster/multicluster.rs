//! The multicluster kinds in the cluster state: ServiceImports, ServiceExports, the MCS
//! EndpointSlices of imports, and ClusterProperties (the cluster id).
//!
//! Their records live in the multicluster zone, under the same `(namespace, name)` as the
//! Service they import or export, so a change touches that key: the index rebuilds the
//! key in both zones (an exported StatefulSet's identities come from the cluster zone's
//! records of its service). A new cluster id renames every local endpoint, so it touches
//! every import and export.

use std::sync::Arc;

use super::{ClusterState, EndpointSlice, Kind, Object, ObjectKey, Touched, service_key};
use crate::cluster::SharedStr;
use crate::cluster::objects::CLUSTER_ID_PROPERTY;

impl ClusterState {
    /// This cluster's id: the value of the `id.k8s.io` ClusterProperty (KEP-2149), which
    /// parsing lower-cased.
    pub fn cluster_id(&self) -> Option<&SharedStr> {
        self.cluster_properties.get(CLUSTER_ID_PROPERTY).map(|p| &p.value)
    }

    /// The ClusterProperty named `name`.
    pub fn cluster_property(&self, name: &str) -> Option<&Arc<super::ClusterProperty>> {
        self.cluster_properties.get(name)
    }

    /// Every key with multicluster records: the imports and the exports.
    pub fn multicluster_keys(&self) -> Touched {
        let mut keys = Touched::new();
        for (ns_name, ns) in self.namespaces() {
            let names = ns.imports.keys().chain(ns.exports.keys());
            keys.extend(names.map(|name| ObjectKey { namespace: ns_name.clone(), name: name.clone() }));
        }
        keys
    }

    /// [`apply`](Self::apply) for the multicluster kinds.
    pub(super) fn apply_multicluster(&mut self, object: Object) -> Touched {
        if let Object::ClusterProperty(property) = object {
            let known = self.cluster_properties.get(&property.key.name);
            if known.is_some_and(|p| *p == property) {
                return Touched::new();
            }
            let renames = *property.key.name == *CLUSTER_ID_PROPERTY;
            self.cluster_properties.insert(property.key.name.clone(), property);
            return if renames { self.multicluster_keys() } else { Touched::new() };
        }
        let namespace = self.namespace_key(&object.key().namespace);
        let key = ObjectKey { namespace: namespace.clone(), name: object.key().name.clone() };
        let mut touched = Touched::new();
        let ns = self.namespaces.entry(namespace).or_default();
        match object {
            Object::ServiceImport(import) => {
                if ns.imports.get(&key.name).is_some_and(|i| *i == import) {
                    return touched;
                }
                ns.imports.insert(key.name.clone(), import);
                touched.insert(key);
            }
            Object::ServiceExport(export) => {
                if ns.exports.get(&key.name).is_some_and(|e| *e == export) {
                    return touched;
                }
                ns.exports.insert(key.name.clone(), export);
                touched.insert(key);
            }
            Object::EndpointSlice(slice) => {
                if ns.mcs_slices.get(&key.name).is_some_and(|s| *s == slice) {
                    return touched;
                }
                let slice = Arc::new(EndpointSlice { key: key.clone(), ..(*slice).clone() });
                touch_import(&key.namespace, &slice, &mut touched);
                if let Some(old) = ns.mcs_slices.insert(key.name.clone(), slice) {
                    touch_import(&key.namespace, &old, &mut touched);
                }
                // A slice that became an import's is no longer a local service's.
                touched.extend(self.delete(Kind::EndpointSlice, &key));
            }
            other => unreachable!("not a multicluster kind: {:?}", other.kind()),
        }
        touched
    }

    /// [`delete`](Self::delete) for the multicluster kinds.
    pub(super) fn delete_multicluster(&mut self, kind: Kind, key: &ObjectKey) -> Touched {
        let mut touched = Touched::new();
        if kind == Kind::ClusterProperty {
            if self.cluster_properties.remove(&key.name).is_some() && *key.name == *CLUSTER_ID_PROPERTY {
                touched = self.multicluster_keys();
            }
            return touched;
        }
        let Some(ns) = self.namespaces.get_mut(&key.namespace) else { return touched };
        match kind {
            Kind::ServiceImport => {
                if ns.imports.remove(&key.name).is_some() {
                    touched.insert(key.clone());
                }
            }
            Kind::ServiceExport => {
                if ns.exports.remove(&key.name).is_some() {
                    touched.insert(key.clone());
                }
            }
            Kind::McsEndpointSlice => {
                if let Some(old) = ns.mcs_slices.remove(&key.name) {
                    touch_import(&key.namespace, &old, &mut touched);
                }
            }
            _ => unreachable!("not a multicluster kind: {kind:?}"),
        }
        if ns.is_empty() {
            self.namespaces.remove(&key.namespace);
        }
        touched
    }
}

fn touch_import(namespace: &SharedStr, slice: &EndpointSlice, touched: &mut Touched) {
    touched.extend(slice.multicluster.as_ref().map(|origin| service_key(namespace, &origin.service)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::{ClusterProperty, ImportType, McsOrigin, ServiceExport, ServiceImport};

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey { namespace: ns.into(), name: name.into() }
    }

    fn import(name: &str) -> Object {
        Object::ServiceImport(Arc::new(ServiceImport {
            key: key("data", name),
            import_type: ImportType::Headless,
            ips: Box::new([]),
            ports: Box::new([]),
        }))
    }

    fn mcs_slice(name: &str, service: &str, cluster: &str) -> Object {
        Object::EndpointSlice(Arc::new(EndpointSlice {
            key: key("data", name),
            service_name: None,
            managed_by_controller: false,
            endpoints: vec![],
            ports: vec![],
            multicluster: Some(McsOrigin { service: service.into(), cluster: cluster.into() }),
        }))
    }

    fn cluster_id(value: &str) -> Object {
        Object::ClusterProperty(Arc::new(ClusterProperty { key: key("", "id.k8s.io"), value: value.into() }))
    }

    #[test]
    fn multicluster_objects_touch_the_key_they_import_or_export() {
        let mut state = ClusterState::new();
        assert_eq!(state.apply(import("db")), [key("data", "db")].into());
        assert!(state.apply(import("db")).is_empty(), "unchanged");
        let export = Object::ServiceExport(Arc::new(ServiceExport { key: key("data", "web") }));
        assert_eq!(state.apply(export), [key("data", "web")].into());
        assert_eq!(state.apply(mcs_slice("db-east", "db", "east")), [key("data", "db")].into());
        assert_eq!(state.counts()[Kind::McsEndpointSlice as usize], (Kind::McsEndpointSlice, 1));
        assert_eq!(state.counts()[Kind::EndpointSlice as usize], (Kind::EndpointSlice, 0));
        // The cluster id renames every local endpoint: every import and export is touched.
        assert_eq!(state.apply(cluster_id("west")), [key("data", "db"), key("data", "web")].into());
        assert_eq!(state.cluster_id().map(|id| &**id), Some("west"));
        assert_eq!(state.delete(Kind::McsEndpointSlice, &key("data", "db-east")), [key("data", "db")].into());
        assert_eq!(state.delete(Kind::ClusterProperty, &key("", "id.k8s.io")).len(), 2);
        assert_eq!(state.cluster_id(), None);
    }

    #[test]
    fn a_relist_of_imports_removes_the_ones_gone_and_keeps_the_rest() {
        let mut state = ClusterState::new();
        state.apply(import("a"));
        state.apply(import("b"));
        state.apply(cluster_id("east"));
        state.begin_resync(Kind::ServiceImport);
        state.apply(import("b"));
        assert_eq!(state.finish_resync(Kind::ServiceImport), [key("data", "a")].into());
        assert_eq!(state.counts()[Kind::ServiceImport as usize].1, 1);
        state.begin_resync(Kind::ClusterProperty);
        state.finish_resync(Kind::ClusterProperty);
        assert_eq!(state.cluster_id(), None, "a relisted cluster without the property has no id");
    }
}
