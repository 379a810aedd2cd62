//! Relists: which stored objects a relist re-applied, and deleting the others at its end.
//!
//! A relist remembers the *address* of each stored object it applies (or keeps), not its
//! key: 8 bytes a seen object instead of a 32-byte key, which at a million pods is the
//! difference between a 19 MiB and a 69 MiB table, most of a relist's memory peak.
//!
//! *Why addresses are enough:* an object the relist did not apply was stored before the
//! relist began and stays allocated until [`ClusterState::finish_resync`] deletes it, so
//! no object applied (and recorded) meanwhile can have had its address. Every object that
//! was applied is found by its address at the end: the one stored under its key is the
//! one recorded last for that key.

use crate::cluster::SharedStr;
use std::collections::HashSet;
use std::sync::Arc;

use super::{ClusterState, Kind, ObjectKey, Touched};

/// The addresses of the stored objects a running relist has applied or kept.
pub(super) type Seen = HashSet<usize>;

fn address<T>(object: &Arc<T>) -> usize {
    Arc::as_ptr(object) as *const () as usize
}

impl ClusterState {
    /// Starts a relist of one kind: objects applied from now on are remembered, and
    /// [`finish_resync`](Self::finish_resync) deletes the ones not re-applied. The old
    /// objects keep being served meanwhile, and no second copy of the state is built.
    ///
    /// The set is sized for every object of the kind at once: grown by doubling, its last
    /// growth held the old and the new table together.
    pub fn begin_resync(&mut self, kind: Kind) {
        let known = self.counts()[kind as usize].1;
        self.resync_seen.insert(kind, Seen::with_capacity(known));
    }

    /// Counts an object as seen by the running relist without changing it: used when a
    /// relisted object is invalid, so its last good version is kept rather than deleted.
    pub fn keep(&mut self, kind: Kind, key: &ObjectKey) {
        self.mark_seen(kind, key);
    }

    /// Records the object stored under `key` as seen, when a relist of `kind` runs.
    pub(super) fn mark_seen(&mut self, kind: Kind, key: &ObjectKey) {
        if !self.resync_seen.contains_key(&kind) {
            return;
        }
        let Some(stored) = self.stored_address(kind, key) else { return };
        if let Some(seen) = self.resync_seen.get_mut(&kind) {
            seen.insert(stored);
        }
    }

    /// Ends a relist: deletes every object of `kind` that was not applied since
    /// [`begin_resync`](Self::begin_resync). Does nothing if no resync was begun.
    pub fn finish_resync(&mut self, kind: Kind) -> Touched {
        let Some(seen) = self.resync_seen.remove(&kind) else { return Touched::new() };
        let stale: Vec<ObjectKey> =
            self.stored(kind).into_iter().filter(|(_, at)| !seen.contains(at)).map(|(key, _)| key).collect();
        let mut touched = Touched::new();
        for key in stale {
            touched.extend(self.delete(kind, &key));
        }
        touched
    }

    /// The address of the object of `kind` stored under `key`.
    fn stored_address(&self, kind: Kind, key: &ObjectKey) -> Option<usize> {
        if kind == Kind::ClusterProperty {
            return self.cluster_properties.get(&key.name).map(address);
        }
        let ns = self.namespaces.get(&key.namespace)?;
        let name = &*key.name;
        match kind {
            Kind::Pod => ns.pods.get(name).map(address),
            Kind::Service => ns.services.get(name).map(address),
            Kind::StatefulSet => ns.statefulsets.get(name).map(address),
            Kind::EndpointSlice => ns.endpoint_slices.get(name).map(address),
            Kind::ServiceImport => ns.imports.get(name).map(address),
            Kind::ServiceExport => ns.exports.get(name).map(address),
            Kind::McsEndpointSlice => ns.mcs_slices.get(name).map(address),
            Kind::ClusterProperty => None,
        }
    }

    /// Every stored object of `kind`: its key and address.
    fn stored(&self, kind: Kind) -> Vec<(ObjectKey, usize)> {
        if kind == Kind::ClusterProperty {
            let key = |name: &SharedStr| ObjectKey { namespace: "".into(), name: name.clone() };
            return self.cluster_properties.iter().map(|(name, p)| (key(name), address(p))).collect();
        }
        let mut stored = Vec::new();
        for (ns_name, ns) in self.namespaces.iter() {
            let key = |name: &SharedStr| ObjectKey { namespace: ns_name.clone(), name: name.clone() };
            match kind {
                Kind::Pod => stored.extend(ns.pods.values().map(|p| (key(&p.key.name), address(p)))),
                Kind::Service => stored.extend(ns.services.iter().map(|(n, o)| (key(n), address(o)))),
                Kind::StatefulSet => stored.extend(ns.statefulsets.iter().map(|(n, o)| (key(n), address(o)))),
                Kind::EndpointSlice => {
                    stored.extend(ns.endpoint_slices.iter().map(|(n, o)| (key(n), address(o))))
                }
                Kind::ServiceImport => stored.extend(ns.imports.iter().map(|(n, o)| (key(n), address(o)))),
                Kind::ServiceExport => stored.extend(ns.exports.iter().map(|(n, o)| (key(n), address(o)))),
                Kind::McsEndpointSlice => {
                    stored.extend(ns.mcs_slices.iter().map(|(n, o)| (key(n), address(o))))
                }
                Kind::ClusterProperty => {}
            }
        }
        stored
    }
}
