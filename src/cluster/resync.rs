//! Relists: which stored objects a relist re-applied, and deleting the others at its end.
//!
//! A relist remembers the *address* of each stored object it applies (or keeps), not its
//! key, in a vector sorted once at the end: 8 bytes a seen object, where a hash set of
//! addresses, and even more one of keys, was most of a relist's memory peak. The end
//! walks the stored objects and keeps only the keys of the stale ones, rather than
//! listing every object's key first.
//!
//! *Why addresses are enough:* an object the relist did not apply was stored before the
//! relist began and stays allocated until [`ClusterState::finish_resync`] deletes it, so
//! no object applied (and recorded) meanwhile can have had its address. Every object that
//! was applied is found by its address at the end: the one stored under its key is the
//! one recorded last for that key.

use std::sync::Arc;

use super::{ClusterState, Kind, ObjectKey, Touched};
use crate::cluster::SharedStr;

/// The addresses of the stored objects a running relist has applied or kept, in the
/// order they came (an object applied twice is there twice).
#[derive(Clone, Debug, Default)]
pub(super) struct Seen(Vec<usize>);

impl Seen {
    fn with_capacity(objects: usize) -> Self {
        Seen(Vec::with_capacity(objects))
    }

    fn insert(&mut self, address: usize) {
        self.0.push(address);
    }

    /// The addresses, sorted for [`contains`](SortedSeen::contains).
    fn sorted(mut self) -> SortedSeen {
        self.0.sort_unstable();
        SortedSeen(self.0)
    }
}

/// [`Seen`] at the end of the relist.
struct SortedSeen(Vec<usize>);

impl SortedSeen {
    fn contains(&self, address: usize) -> bool {
        self.0.binary_search(&address).is_ok()
    }
}

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

    /// A relist of `kind` failed before its end (a list cut short: an expired continue
    /// token, a lost connection): nothing is deleted, and the next relist starts over.
    /// Returns whether it had applied anything (the state holds part of a list).
    pub fn abort_resync(&mut self, kind: Kind) -> bool {
        self.resync_seen.remove(&kind).is_some_and(|seen| !seen.0.is_empty())
    }

    /// Whether a relist of any kind is running.
    pub fn resyncing(&self) -> bool {
        !self.resync_seen.is_empty()
    }

    /// Ends a relist: deletes every object of `kind` that was not applied since
    /// [`begin_resync`](Self::begin_resync). Does nothing if no resync was begun.
    pub fn finish_resync(&mut self, kind: Kind) -> Touched {
        let Some(seen) = self.resync_seen.remove(&kind) else { return Touched::new() };
        let stale = self.stale(kind, &seen.sorted());
        let mut touched = Touched::new();
        for key in stale {
            touched.extend(self.delete(kind, &key));
        }
        touched
    }

    /// The address of the object of `kind` stored under `key`.
    pub(super) fn stored_address(&self, kind: Kind, key: &ObjectKey) -> Option<usize> {
        if kind == Kind::ClusterProperty {
            return self.cluster_properties.get(&key.name).map(address);
        }
        if kind == Kind::Node {
            return self.nodes.get(&key.name).map(address);
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
            Kind::ClusterProperty | Kind::Node => None,
        }
    }

    /// The keys of the stored objects of `kind` the relist did not see.
    fn stale(&self, kind: Kind, seen: &SortedSeen) -> Vec<ObjectKey> {
        let mut stale = Vec::new();
        let mut visit = |namespace: &SharedStr, name: &SharedStr, at: usize| {
            if !seen.contains(at) {
                stale.push(ObjectKey { namespace: namespace.clone(), name: name.clone() });
            }
        };
        let cluster_scoped = SharedStr::new();
        if kind == Kind::ClusterProperty {
            self.cluster_properties.iter().for_each(|(name, p)| visit(&cluster_scoped, name, address(p)));
            return stale;
        }
        if kind == Kind::Node {
            self.nodes.iter().for_each(|(name, n)| visit(&cluster_scoped, name, address(n)));
            return stale;
        }
        for (ns_name, ns) in self.namespaces.iter() {
            let mut named = |name: &SharedStr, at: usize| visit(ns_name, name, at);
            match kind {
                Kind::Pod => ns.pods.values().for_each(|p| named(&p.key.name, address(p))),
                Kind::Service => ns.services.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::StatefulSet => ns.statefulsets.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::EndpointSlice => ns.endpoint_slices.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::ServiceImport => ns.imports.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::ServiceExport => ns.exports.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::McsEndpointSlice => ns.mcs_slices.iter().for_each(|(n, o)| named(n, address(o))),
                Kind::ClusterProperty | Kind::Node => {}
            }
        }
        stale
    }
}
