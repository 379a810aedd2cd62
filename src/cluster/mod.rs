//! Cluster state: the trimmed Pods, Services and StatefulSets we know, by namespace (and
//! the cluster-scoped Nodes and ClusterProperties).
//!
//! Every source (manifest files, the Kubernetes watch, a state file) changes this state
//! through the same four calls, [`ClusterState::apply`], [`ClusterState::delete`],
//! [`ClusterState::begin_resync`] and [`ClusterState::finish_resync`]. Each call reports
//! which headless services' records it may have changed, so the zone can rebuild only
//! those. Nothing here does I/O.

mod changes;
mod interner;
mod multicluster;
mod namespace_index;
mod nodes;
pub mod objects;
pub mod placement;
pub mod pod_ips;
mod pod_map;
pub mod rejected;
mod resync;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::{BTreeSet, HashMap};

use imbl::OrdMap as PersistentMap;
use std::sync::Arc;

use interner::Interner;

pub use changes::{Changes, PodAddresses};
pub use placement::Placement;
pub use pod_ips::PodIps;
pub use pod_map::PodMap;

pub use objects::{
    Addresses, ClusterProperty, CompactIp, ContainerPort, EndpointSlice, EndpointsType, ExposedType,
    ExternalProblem, ExternalSpec, ExternalSpecFields, ExternalTarget, ImportPort, ImportType, Ingress, Kind,
    Label, Labels, McsOrigin, Naming, Node, Object, ObjectError, ObjectKey, Phase, Pod, PodTemplate,
    PortList, Protocol, Service, ServiceExport, ServiceImport, ServicePort, SharedStr, SliceEndpoint,
    SlicePort, StatefulSet, TargetPort, label,
};

/// The services (by namespace and name) whose records a change may have altered.
pub type Touched = BTreeSet<ObjectKey>;

/// The objects of one namespace. Persistent maps: cloning is O(1), so a reader (explain,
/// the state file) can take a consistent copy without blocking the writer.
#[derive(Clone, Debug, Default)]
pub struct Namespace {
    /// Pods by name.
    pub pods: PodMap,
    /// Services by name.
    pub services: PersistentMap<SharedStr, Arc<Service>>,
    /// StatefulSets by name.
    pub statefulsets: PersistentMap<SharedStr, Arc<StatefulSet>>,
    /// EndpointSlices of selectorless services (never the controller's), by name.
    pub endpoint_slices: PersistentMap<SharedStr, Arc<EndpointSlice>>,
    /// ServiceImports (the clusterset's services), by name.
    pub imports: PersistentMap<SharedStr, Arc<ServiceImport>>,
    /// ServiceExports (this cluster's services in the clusterset), by name.
    pub exports: PersistentMap<SharedStr, Arc<ServiceExport>>,
    /// EndpointSlices of ServiceImports (one source cluster each), by name.
    pub mcs_slices: PersistentMap<SharedStr, Arc<EndpointSlice>>,
    /// Which services may select a pod, which StatefulSets a service governs.
    pub index: namespace_index::NamespaceIndex,
}

impl Namespace {
    fn is_empty(&self) -> bool {
        self.pods.is_empty()
            && self.services.is_empty()
            && self.statefulsets.is_empty()
            && self.endpoint_slices.is_empty()
            && self.imports.is_empty()
            && self.exports.is_empty()
            && self.mcs_slices.is_empty()
    }

    /// The EndpointSlices of service `name`.
    pub fn slices_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Arc<EndpointSlice>> + 'a {
        self.endpoint_slices.values().filter(move |s| s.service_name.as_deref() == Some(name))
    }
}

impl Service {
    /// True when the service's selector matches the pod's labels. A service without a
    /// selector selects nothing (its endpoints are managed by hand, which we don't see).
    pub fn selects(&self, pod: &Pod) -> bool {
        self.selector.as_ref().is_some_and(|sel| sel.iter().all(|(k, v)| pod.label(k) == Some(&**v)))
    }
}

/// Everything we know about the cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    namespaces: PersistentMap<SharedStr, Namespace>,
    /// Keys seen since `begin_resync`, per kind being resynced.
    resync_seen: HashMap<Kind, resync::Seen>,
    /// What changed since the last [`take_changes`](Self::take_changes): lets the zone
    /// rebuild a service from its known members plus the changed pods, not a full scan.
    changes: Changes,
    /// Shared copies of repeated strings (namespaces, label keys and values, subdomains,
    /// port names): thousands of pods carry the same few, so each is stored once.
    interner: Interner,
    /// Pods by address, for verified pod records; `None` when pod records are not verified
    /// or while the index is deferred.
    pod_ips: Option<PodIps>,
    /// The pods-by-address index is built by the first [`repack`](Self::repack), not kept
    /// during the load before it (see [`deferring_pod_index`](Self::deferring_pod_index)).
    pod_ips_deferred: bool,
    /// ClusterProperties (cluster-scoped), by name: `id.k8s.io` is this cluster's id.
    cluster_properties: PersistentMap<SharedStr, Arc<ClusterProperty>>,
    /// Nodes (cluster-scoped), by name: their addresses, for external zones.
    nodes: PersistentMap<SharedStr, Arc<Node>>,
    /// The services whose external records may read the Nodes (see `nodes.rs`): what a
    /// Node change touches.
    node_services: imbl::OrdSet<ObjectKey>,
    /// Objects whose newest version was refused, and why (see `rejected.rs`).
    rejected: PersistentMap<(Kind, ObjectKey), Arc<rejected::Rejection>>,
    /// The served external zones' apexes, lower-cased, without the trailing dot: a
    /// Service whose new hostnames none of them publishes keeps its previous ones.
    external_apexes: Box<[SharedStr]>,
}

impl ClusterState {
    /// An empty state.
    pub fn new() -> Self {
        Self { changes: Changes::tracking(), pod_ips: Some(PodIps::default()), ..Self::default() }
    }

    /// This state keeping pods by address (`true`, the default) or not: only verified pod
    /// records read them, and they cost an entry of 16 bytes (IPv6: 24) per pod address
    /// plus B-tree nodes.
    pub fn with_pod_index(mut self, keep: bool) -> Self {
        self.pod_ips = keep.then(PodIps::default);
        self
    }

    /// This state checking Services' external hostnames against the external zones at
    /// `apexes` (lower-cased, without the trailing dot; see
    /// [`ExternalSpec::keep_publishable_hostnames`](objects::ExternalSpec::keep_publishable_hostnames)).
    pub fn with_external_zones(mut self, apexes: impl IntoIterator<Item = SharedStr>) -> Self {
        self.external_apexes = apexes.into_iter().collect();
        self
    }

    /// This state building its pods-by-address index only at the first
    /// [`repack`](Self::repack), packed, instead of keeping it during the load: a load
    /// inserts in ascending order, which leaves half-empty nodes, and the index then
    /// rebuilt would leave the first one's pages behind, twice the index's size. The
    /// index uses this.
    pub fn deferring_pod_index(mut self) -> Self {
        self.pod_ips_deferred = self.pod_ips.take().is_some();
        self
    }

    /// Pods by address, when kept.
    pub fn pod_ips(&self) -> Option<&PodIps> {
        self.pod_ips.as_ref()
    }

    /// Whether the pods by address changed since the last [`take_changes`](Self::take_changes).
    pub fn pod_ips_changed(&self) -> bool {
        self.changes.pod_ips
    }

    /// Keeps the pods-by-address index in step with a pod being replaced or removed.
    fn index_pod(&mut self, old: Option<&Arc<Pod>>, new: Option<&Arc<Pod>>) {
        let Some(index) = &mut self.pod_ips else { return };
        // Pod records depend only on a pod's addresses and whether it is in a terminal
        // phase: a re-applied pod (every relist does that) or one whose labels changed is
        // re-indexed but changes no record, so it must not move the serial.
        let records_differ = match (old, new) {
            (Some(o), Some(n)) => o.ips != n.ips || o.phase.is_terminal() != n.phase.is_terminal(),
            _ => true,
        };
        if let Some(old) = old.filter(|p| !p.ips.is_empty()) {
            index.remove(old);
            if records_differ {
                self.changes.pod_ips = true;
                self.changes.pod_addresses(old);
            }
        }
        if let Some(new) = new.filter(|p| !p.ips.is_empty()) {
            index.insert(new);
            if records_differ {
                self.changes.pod_ips = true;
                self.changes.pod_addresses(new);
            }
        }
    }

    /// The namespaces, by name.
    pub fn namespaces(&self) -> impl Iterator<Item = (&SharedStr, &Namespace)> {
        self.namespaces.iter()
    }

    /// One namespace, if we know any object in it.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// How many objects of each kind we hold, in the order of [`Kind::ALL`].
    pub fn counts(&self) -> [(Kind, usize); Kind::ALL.len()] {
        let mut counts = Kind::ALL.map(|kind| (kind, 0));
        for ns in self.namespaces.values() {
            for (kind, count) in &mut counts {
                *count += match kind {
                    Kind::Pod => ns.pods.len(),
                    Kind::Service => ns.services.len(),
                    Kind::StatefulSet => ns.statefulsets.len(),
                    Kind::EndpointSlice => ns.endpoint_slices.len(),
                    Kind::ServiceImport => ns.imports.len(),
                    Kind::ServiceExport => ns.exports.len(),
                    Kind::McsEndpointSlice => ns.mcs_slices.len(),
                    Kind::ClusterProperty | Kind::Node => 0,
                };
            }
        }
        counts[Kind::ClusterProperty as usize].1 = self.cluster_properties.len();
        counts[Kind::Node as usize].1 = self.nodes.len();
        counts
    }

    /// Rebuilds the maps with full nodes (see [`crate::packed`]): done once the first
    /// complete load is in, which inserted everything in ascending order.
    pub fn repack(&mut self) {
        let packed: Vec<(SharedStr, Namespace)> = self
            .namespaces
            .iter()
            .map(|(name, ns)| {
                let ns = Namespace {
                    pods: PodMap(crate::packed::set(ns.pods.0.iter().cloned())),
                    services: crate::packed::map(ns.services.iter().map(|(k, v)| (k.clone(), v.clone()))),
                    statefulsets: crate::packed::map(
                        ns.statefulsets.iter().map(|(k, v)| (k.clone(), v.clone())),
                    ),
                    index: ns.index.packed(),
                    ..ns.clone()
                };
                (name.clone(), ns)
            })
            .collect();
        self.namespaces = crate::packed::map(packed.iter().cloned());
        if std::mem::take(&mut self.pod_ips_deferred) {
            let pods = self.namespaces.values().flat_map(|ns| ns.pods.values());
            self.pod_ips = Some(PodIps::packed(pods));
        } else if let Some(index) = &mut self.pod_ips {
            index.repack();
        }
    }

    /// Every object, for saving to a state file.
    pub fn objects(&self) -> impl Iterator<Item = Object> + '_ {
        self.namespaces
            .values()
            .flat_map(|ns| {
                ns.pods
                    .values()
                    .map(|pod| Object::Pod(Arc::new(pod.with_plain_labels())))
                    .chain(ns.services.values().cloned().map(Object::Service))
                    .chain(ns.statefulsets.values().cloned().map(Object::StatefulSet))
                    .chain(ns.endpoint_slices.values().cloned().map(Object::EndpointSlice))
                    .chain(ns.imports.values().cloned().map(Object::ServiceImport))
                    .chain(ns.exports.values().cloned().map(Object::ServiceExport))
                    .chain(ns.mcs_slices.values().cloned().map(Object::EndpointSlice))
            })
            .chain(self.cluster_properties.values().cloned().map(Object::ClusterProperty))
            .chain(self.nodes.values().cloned().map(Object::Node))
    }

    /// The changes since the last call, for an incremental zone rebuild.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::replace(&mut self.changes, Changes::tracking())
    }

    /// The namespace's shared name (so objects do not each carry a copy).
    fn namespace_key(&mut self, namespace: &SharedStr) -> SharedStr {
        match self.namespaces.get_key_value(namespace) {
            Some((k, _)) => k.clone(),
            None => self.interner.get(namespace),
        }
    }

    /// Creates or replaces an object. Returns the services whose records may change.
    pub fn apply(&mut self, object: Object) -> Touched {
        let (kind, key) = (object.kind(), object.key().clone());
        self.accepted(kind, &key);
        let touched = if kind.is_multicluster() {
            self.apply_multicluster(object)
        } else if let Object::Node(node) = object {
            self.apply_node(node)
        } else {
            self.apply_here(object)
        };
        self.mark_seen(kind, &key);
        touched
    }

    /// [`apply`](Self::apply) of the cluster zone's kinds, before the relist marks it seen.
    fn apply_here(&mut self, object: Object) -> Touched {
        let namespace = self.namespace_key(&object.key().namespace);
        let key = ObjectKey { namespace: namespace.clone(), name: object.key().name.clone() };
        let mut touched = Touched::new();
        match object {
            Object::Pod(pod) => {
                let known = self.namespaces.get(&namespace).and_then(|ns| ns.pods.get(&key.name));
                if known.is_some_and(|p| **p == *pod) {
                    return touched;
                }
                let pod = Arc::new(self.interner.pod(&namespace, &pod, known.map(|p| &**p)));
                self.changes.pod(&key);
                let ns = self.namespaces.entry(namespace).or_default();
                touch_pod(ns, &pod, &mut touched);
                let old = ns.pods.insert(pod.clone());
                // The previous version's services, unless it had the same labels (the
                // same template, kept by the interner): then they are the same ones.
                if let Some(old) =
                    old.as_ref().filter(|old| !Arc::ptr_eq(old.template.parts(), pod.template.parts()))
                {
                    touch_pod(ns, old, &mut touched);
                }
                self.index_pod(old.as_ref(), Some(&pod));
            }
            Object::Service(mut svc) => {
                let known = self.namespaces.get(&namespace).and_then(|ns| ns.services.get(&key.name));
                // An annotation value that cannot be used keeps the previous one.
                if let Some(kept) = svc.with_last_good_external(known.map(|s| &**s), &self.external_apexes) {
                    svc = Arc::new(kept);
                }
                if known.is_some_and(|s| **s == *svc) {
                    return touched;
                }
                let svc = Arc::new(self.interner.service(&namespace, &svc));
                touched.insert(key.clone());
                self.changes.services.insert(key.clone());
                let ns = self.namespaces.entry(namespace).or_default();
                let old = ns.services.insert(svc.key.name.clone(), svc.clone());
                ns.index.service(old.as_deref(), Some(&svc));
                self.index_node_service(old.as_deref(), Some(&svc));
            }
            Object::StatefulSet(sts) => {
                let known = self.namespaces.get(&namespace).and_then(|ns| ns.statefulsets.get(&key.name));
                if known.is_some_and(|s| **s == *sts) {
                    return touched;
                }
                let sts = Arc::new(self.interner.statefulset(&namespace, &sts));
                touched.insert(service_key(&key.namespace, &sts.service_name));
                let ns = self.namespaces.entry(namespace).or_default();
                let old = ns.statefulsets.insert(sts.key.name.clone(), sts.clone());
                ns.index.statefulset(old.as_deref(), Some(&sts));
                if let Some(old) = old {
                    touched.insert(service_key(&key.namespace, &old.service_name));
                }
                touch_external_selecting(ns, &key.name, &mut touched);
            }
            Object::ServiceImport(_) | Object::ServiceExport(_) | Object::ClusterProperty(_) => {
                unreachable!("multicluster kinds are applied by apply_multicluster")
            }
            Object::Node(_) => unreachable!("nodes are applied by apply_node"),
            Object::EndpointSlice(slice) => {
                let known = self.namespaces.get(&namespace).and_then(|ns| ns.endpoint_slices.get(&key.name));
                if known.is_some_and(|s| **s == *slice) {
                    return touched;
                }
                // The controller's slices and slices of no service are not kept (pods are
                // the source of selector services); one that became such is dropped.
                if slice.managed_by_controller || slice.service_name.is_none() {
                    return self.delete(Kind::EndpointSlice, &key);
                }
                let slice = EndpointSlice { key: key.clone(), ..(*slice).clone() };
                let ns = self.namespaces.entry(namespace).or_default();
                touch_slice(&key.namespace, &slice, &mut touched);
                if let Some(old) = ns.endpoint_slices.insert(key.name.clone(), Arc::new(slice)) {
                    touch_slice(&key.namespace, &old, &mut touched);
                }
            }
        }
        touched
    }

    /// Like [`apply`](Self::apply) without working out which services are touched (for
    /// bulk loads that rebuild whole namespaces). Returns true when nothing changed.
    pub fn apply_untracked(&mut self, object: Object) -> bool {
        match &object {
            Object::Pod(pod) => {
                self.accepted(Kind::Pod, &pod.key);
                let namespace = self.namespace_key(&pod.key.namespace);
                let known = self.namespaces.get(&namespace).and_then(|ns| ns.pods.get(&pod.key.name));
                if known.is_some_and(|p| **p == **pod) {
                    self.mark_seen(Kind::Pod, &pod.key);
                    return true;
                }
                let pod = Arc::new(self.interner.pod(&namespace, pod, known.map(|p| &**p)));
                self.changes.pod(&pod.key);
                let old = self.namespaces.entry(namespace).or_default().pods.insert(pod.clone());
                self.index_pod(old.as_ref(), Some(&pod));
                self.mark_seen(Kind::Pod, &pod.key);
                false
            }
            _ => self.apply(object).is_empty(),
        }
    }

    /// Removes an object, if present. Returns the services whose records may change.
    pub fn delete(&mut self, kind: Kind, key: &ObjectKey) -> Touched {
        self.accepted(kind, key);
        if kind.is_multicluster() {
            return self.delete_multicluster(kind, key);
        }
        if kind == Kind::Node {
            return self.delete_node(key);
        }
        let mut touched = Touched::new();
        let Some(ns) = self.namespaces.get_mut(&key.namespace) else { return touched };
        let mut removed_pod = None;
        let mut removed_service = None;
        match kind {
            Kind::Pod => {
                if let Some(old) = ns.pods.remove(&key.name) {
                    self.changes.pod(key);
                    touch_pod(ns, &old, &mut touched);
                    removed_pod = Some(old);
                }
            }
            Kind::Service => {
                if let Some(old) = ns.services.remove(&key.name) {
                    ns.index.service(Some(&old), None);
                    touched.insert(key.clone());
                    self.changes.services.insert(key.clone());
                    removed_service = Some(old);
                }
            }
            Kind::StatefulSet => {
                if let Some(old) = ns.statefulsets.remove(&key.name) {
                    ns.index.statefulset(Some(&old), None);
                    touched.insert(service_key(&key.namespace, &old.service_name));
                    touch_external_selecting(ns, &key.name, &mut touched);
                }
            }
            Kind::EndpointSlice => {
                if let Some(old) = ns.endpoint_slices.remove(&key.name) {
                    touch_slice(&key.namespace, &old, &mut touched);
                }
            }
            Kind::ServiceImport
            | Kind::ServiceExport
            | Kind::ClusterProperty
            | Kind::McsEndpointSlice
            | Kind::Node => {}
        }
        if ns.is_empty() {
            self.namespaces.remove(&key.namespace);
        }
        self.index_pod(removed_pod.as_ref(), None);
        self.index_node_service(removed_service.as_deref(), None);
        touched
    }

    /// Replaces every object of `kind` with `objects` (a relist in one call).
    pub fn reset(&mut self, kind: Kind, objects: impl IntoIterator<Item = Object>) -> Touched {
        self.begin_resync(kind);
        let mut touched = Touched::new();
        for object in objects.into_iter().filter(|o| o.kind() == kind) {
            touched.extend(self.apply(object));
        }
        touched.extend(self.finish_resync(kind));
        touched
    }
}

fn service_key(namespace: &SharedStr, name: &str) -> ObjectKey {
    ObjectKey { namespace: namespace.clone(), name: name.into() }
}

fn touch_slice(namespace: &SharedStr, slice: &EndpointSlice, touched: &mut Touched) {
    touched.extend(slice.service_name.as_ref().map(|name| service_key(namespace, name)));
}

fn touch_pod(ns: &Namespace, pod: &Pod, touched: &mut Touched) {
    touched.extend(ns.services_selecting(pod).map(|s| s.key.clone()));
}

/// The Services publishing in external zones that select a pod of StatefulSet `sts`
/// (`<sts>-<ordinal>`): besides its governing Service, such a Service publishes the
/// StatefulSet's ordinals, pending ones too (`zone::external::build`), so its replicas
/// change its records.
fn touch_external_selecting(ns: &Namespace, sts: &str, touched: &mut Touched) {
    let prefix = format!("{sts}-");
    for pod in ns.pods.with_prefix(&prefix) {
        let ordinal = &pod.key.name[prefix.len()..];
        if !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit()) {
            let external = ns.services_selecting(pod).filter(|s| s.external.is_some());
            touched.extend(external.map(|s| s.key.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
