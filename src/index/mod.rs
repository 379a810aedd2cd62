//! The index: the single writer between the sources and the readers of the zones.
//!
//! Sources send [`Update`]s; the index thread ([`spawn`]) applies them to the
//! [`ClusterState`], rebuilds only the services they touched in a clone of the current
//! [`Zones`], sets each zone's SOA serial ([`serial`]) and records its IXFR differences
//! ([`journal`]), and publishes the new zones with one atomic pointer swap. A burst of
//! updates is drained and published once. Readers (queries, transfers, explain) never
//! take a lock: they load the current `Arc<Zones>`.

mod external;
mod invalidation;
mod journal;
pub mod serial;
mod thread;

pub use thread::{IndexHandle, Inspect, PublishObserver, on_idle, spawn};

use crate::cluster::rejected::Rejection;
use crate::cluster::{ClusterState, Kind, Object, ObjectKey, Touched};
use std::time::{Duration, Instant};

use crate::zone::invalidation::Invalidation;
use crate::zone::{Zone, ZoneSettings, Zones};

/// A change to the cluster state, as a source reports it.
#[derive(Debug, Clone)]
pub enum Update {
    /// Create or replace an object.
    Apply(Object),
    /// Remove an object.
    Delete(Kind, ObjectKey),
    /// The newest version of an object failed validation: its last good version (if any)
    /// stays, also through a running relist, and the state remembers why. The index logs
    /// it once, saying whether a previous version is served.
    Rejected(Kind, ObjectKey, Rejection),
    /// A relist of `kind` starts: objects not re-applied before `FinishResync` are deleted.
    BeginResync(Kind),
    /// The relist of `kind` is complete.
    FinishResync(Kind),
    /// The relist of `kind` failed before its end: nothing is deleted, and what it applied
    /// is not published until a relist completes (or [`RELIST_HOLD`] passes).
    ListFailed(Kind),
    /// Replace the whole state (a state file).
    ReplaceAll(Vec<Object>),
    /// Several updates applied together, published as one snapshot (a manifest reload).
    Batch(Vec<Update>),
    /// The source now holds a complete view (or, with `false`, has lost it). Covers the
    /// multicluster kinds too, unless the source reports them with `MulticlusterSynced`.
    Synced(bool),
    /// The multicluster kinds (ServiceImports, ...) are completely listed, or not: the
    /// multicluster zone answers SERVFAIL until they are. A source that sends this sends it
    /// (`false`) before its first `Synced`.
    MulticlusterSynced(bool),
    /// SOA serials come from the resourceVersions the changes carry ([`serial`]; the
    /// Kubernetes source sends its changes with [`IndexHandle::send_revised`]), not
    /// from the clock: serial 0 until the first complete list.
    SerialsFromRevisions,
}

/// The state and the zones built from it. A plain struct: unit-testable without I/O.
pub struct Index {
    state: ClusterState,
    zones: Zones,
    touched: Touched,
    dirty: bool,
    /// A synced zone was built once. Until then every answer is SERVFAIL whatever the
    /// zone holds, so a load or first list only fills the state, and the zone is built
    /// once at the end: faster, and none of the intermediate zones become garbage.
    ever_synced: bool,
    /// The highest resourceVersion applied, for the serial.
    revisions: serial::Revisions,
    /// Whether the multicluster kinds are synced, when the source reports it apart
    /// ([`Update::MulticlusterSynced`]); `None`: they follow [`Update::Synced`].
    multicluster_synced: Option<bool>,
    /// Kinds whose relist failed midway after applying part of its list, and whose next
    /// relist has not completed yet: publication is held (see [`RELIST_HOLD`]).
    partial: std::collections::BTreeSet<Kind>,
    /// Since when publication is held for a relist.
    held_since: Option<Instant>,
    /// What was logged about the external zones' annotations and conflicts.
    reported: external::Reported,
}

/// How long a relist after the first sync may hold publication back. Until it completes,
/// what it applied is not published: a list that fails midway (an expired continue token,
/// a lost connection) publishes nothing of its own, and the relist that follows starts
/// over. An API server that keeps failing mid-list must not hold every other change back
/// for long: after this, changes are published with whatever the relists applied.
pub const RELIST_HOLD: Duration = Duration::from_secs(30);

impl Index {
    /// An empty, unsynced index.
    pub fn new(settings: ZoneSettings) -> Self {
        Self {
            state: ClusterState::new()
                .with_pod_index(settings.pods == crate::zone::PodRecords::Verified)
                .with_external_zones(
                    settings.external.iter().map(|zone| zone.apex.to_string().trim_end_matches('.').into()),
                )
                .deferring_pod_index(),
            zones: Zones::new(settings),
            touched: Touched::new(),
            dirty: false,
            ever_synced: false,
            revisions: Default::default(),
            multicluster_synced: None,
            partial: Default::default(),
            held_since: None,
            reported: external::Reported::default(),
        }
    }

    /// Applies a change that carries a resourceVersion (`revision`, 0 when it has none
    /// usable): the SOA serial of the commit that publishes it is derived from it.
    /// Revision and change go in together, so no commit can publish one without the
    /// other (see [`IndexHandle::send_revised`]).
    pub fn apply_revised(&mut self, revision: u64, update: Update) {
        self.revisions.saw(revision);
        self.apply(update);
    }

    /// Applies one update; the zone is rebuilt by [`commit`](Self::commit).
    pub fn apply(&mut self, update: Update) {
        let touched = match update {
            Update::Apply(object) => {
                // A good version after a refused one is said once, as the refusal was.
                let refused = self.state.rejections().next().is_some()
                    && self.state.rejection(object.kind(), object.key()).is_some();
                let key = refused.then(|| (object.kind(), object.key().clone()));
                let touched = self.state.apply(object);
                if let Some((kind, key)) = key
                    && self.state.rejection(kind, &key).is_none()
                {
                    tracing::info!("{} {key}: a valid version again, which is served", kind.noun());
                }
                touched
            }
            Update::Delete(kind, key) => self.state.delete(kind, &key),
            Update::Rejected(kind, key, rejection) => {
                let message = format!("{}: {}", rejection.origin, rejection.error);
                if self.state.reject(kind, &key, rejection) {
                    tracing::warn!("{message}; serving the previous version of {} {key}", kind.noun());
                } else {
                    tracing::warn!(
                        "{message}; {} {key} has no earlier good version, so it is not served",
                        kind.noun()
                    );
                }
                Touched::new()
            }
            Update::BeginResync(kind) => {
                self.state.begin_resync(kind);
                Touched::new()
            }
            Update::FinishResync(kind) => {
                self.partial.remove(&kind);
                self.state.finish_resync(kind)
            }
            Update::ListFailed(kind) => {
                if self.state.abort_resync(kind) {
                    self.partial.insert(kind);
                }
                Touched::new()
            }
            Update::ReplaceAll(objects) => {
                let mut touched = Touched::new();
                let mut by_kind: [Vec<Object>; Kind::ALL.len()] = Default::default();
                for object in objects {
                    by_kind[object.kind() as usize].push(object);
                }
                for (kind, objects) in Kind::ALL.into_iter().zip(by_kind) {
                    touched.extend(self.state.reset(kind, objects));
                }
                touched
            }
            Update::Batch(updates) => {
                if updates.len() < 64 {
                    for update in updates {
                        self.apply(update);
                    }
                    return;
                }
                // A large batch (a load, a reload): finding the services each pod touches
                // costs more than rebuilding every service of the namespaces involved.
                let mut namespaces = std::collections::BTreeSet::new();
                let (mut cluster_id, mut nodes) = (false, false);
                for update in updates {
                    if let Update::Apply(o) = &update {
                        namespaces.insert(o.key().namespace.clone());
                        cluster_id |= o.kind() == Kind::ClusterProperty;
                        nodes |= o.kind() == Kind::Node;
                    }
                    if let Update::Delete(kind, key) = &update {
                        namespaces.insert(key.namespace.clone());
                        cluster_id |= *kind == Kind::ClusterProperty;
                        nodes |= *kind == Kind::Node;
                    }
                    self.apply_quietly(update);
                }
                let mut touched = Touched::new();
                for ns in namespaces {
                    if let Some(n) = self.state.namespace(&ns) {
                        let names = n.services.keys().chain(n.imports.keys()).chain(n.exports.keys());
                        touched.extend(
                            names.map(|name| ObjectKey { namespace: ns.clone(), name: name.clone() }),
                        );
                    }
                    // Services deleted in the batch are still in the zone: rebuild (drop) them too.
                    touched.extend(self.zones.cluster().services_in(&ns));
                    touched.extend(self.zones.multicluster().into_iter().flat_map(|c| c.services_in(&ns)));
                }
                if cluster_id {
                    touched.extend(self.state.multicluster_keys());
                }
                // Nodes touch no namespace: the Services whose external records read them.
                if nodes {
                    touched.extend(self.state.node_services());
                }
                touched
            }
            Update::SerialsFromRevisions => {
                self.revisions.saw(0);
                Touched::new()
            }
            Update::Synced(synced) => {
                // The first complete list sets the serial from its revisions, change or not.
                self.dirty |= synced && self.revisions.listed();
                self.set_synced(synced);
                Touched::new()
            }
            Update::MulticlusterSynced(synced) => {
                self.multicluster_synced = Some(synced);
                self.set_synced(self.zones.is_synced());
                Touched::new()
            }
        };
        self.dirty |= !touched.is_empty() || self.state.pod_ips_changed();
        self.touched.extend(touched);
    }

    /// Marks the zones synced or not: the multicluster zone when the cluster zone is and,
    /// if the source reports them apart, the multicluster kinds are.
    fn set_synced(&mut self, synced: bool) {
        let multicluster = self.multicluster_synced.unwrap_or(true);
        let before = (self.zones.is_synced(), self.zones.multicluster().map(Zone::is_synced));
        self.zones.set_synced(synced, multicluster);
        self.dirty |= before != (self.zones.is_synced(), self.zones.multicluster().map(Zone::is_synced));
    }

    /// Applies an update to the state only; the caller decides what to rebuild.
    fn apply_quietly(&mut self, update: Update) {
        match update {
            Update::Apply(object) => {
                self.dirty |= !self.state.apply_untracked(object);
            }
            other => self.apply(other),
        }
    }

    /// Rebuilds what the applied updates touched, sets the serials and records the IXFR
    /// differences. Returns the new zones when anything changed.
    pub fn commit(&mut self) -> Option<Zones> {
        if !self.dirty || self.holding() {
            return None;
        }
        self.dirty = false;
        if !self.zones.is_synced() && !self.ever_synced {
            return None; // what was touched stays recorded for the first synced build
        }
        let first = !self.ever_synced;
        self.ever_synced = true;
        let touched = std::mem::take(&mut self.touched);
        let changes = self.state.take_changes();
        if first {
            // A load inserts in ascending order, which leaves the maps' nodes half full.
            self.state.repack();
        }
        let old = self.zones.clone(); // O(1): persistent maps
        let cluster = self.zones.cluster_mut();
        if first {
            cluster.defer_reverse();
        }
        let changed = cluster.rebuild(&self.state, &touched, &changes);
        if first {
            cluster.rebuild_reverse();
        }
        // Verified pod records follow the pods by address.
        let pods_changed = (changes.pod_ips || first) && cluster.sync_pods(&self.state);
        let serial = self.revisions.next(old.serial(), !changed.is_empty() || pods_changed);
        let serial = match serial {
            Some(serial) => serial,
            None if !changed.is_empty() || pods_changed => serial::from_clock(old.serial()),
            None => old.serial(),
        };
        cluster.set_serial(serial);
        // After the cluster zone: an exported service's local endpoints come from it.
        let multicluster_changed = self.zones.rebuild_multicluster(&self.state, &touched);
        if let Some(multicluster) = self.zones.multicluster_mut()
            && !multicluster_changed.is_empty()
        {
            multicluster.set_serial(serial::from_clock(multicluster.serial()));
        }
        // After the cluster zone too: a headless Service's external records share its.
        let touched_keys: Vec<ObjectKey> = touched.iter().cloned().collect();
        let revisions = &mut self.revisions;
        let mut next_serial =
            |current: u32| revisions.next(current, true).unwrap_or_else(|| serial::from_clock(current));
        let external_changed = external::commit(
            &old,
            &mut self.zones,
            &self.state,
            &touched_keys,
            first,
            first,
            &mut next_serial,
        );
        self.reported.report(&self.zones, &self.state, &touched_keys, first, &external_changed);
        let unchanged = crate::cluster::PodAddresses::new();
        let pod_addresses = if pods_changed { changes.pod_addresses.as_ref() } else { Some(&unchanged) };
        let journaled = |zone: &crate::zone::Zone| zone.journal().limit() > 0;
        let touched_cluster = journal::Touched::of(
            old.cluster(),
            self.zones.cluster(),
            &changed,
            journaled(self.zones.cluster()),
        );
        let journal = journal::record(
            old.cluster(),
            self.zones.cluster(),
            (&changed, &touched_cluster),
            pod_addresses,
            first,
        );
        self.zones.cluster_mut().set_journal(journal);
        let mut touched_multicluster = None;
        if let (Some(before), Some(after)) = (old.multicluster(), self.zones.multicluster()) {
            let touched = journal::Touched::of(before, after, &multicluster_changed, journaled(after));
            let journal =
                journal::record(before, after, (&multicluster_changed, &touched), Some(&unchanged), first);
            if let Some(multicluster) = self.zones.multicluster_mut() {
                multicluster.set_journal(journal);
            }
            touched_multicluster = Some(touched);
        }
        let invalidation = if first || !invalidation::same_shape(&old, &self.zones) {
            Invalidation::All
        } else {
            invalidation::of_commit(
                [
                    (false, &changed[..], Some(&touched_cluster)),
                    (true, &multicluster_changed, touched_multicluster.as_ref()),
                ],
                &external_changed,
                &self.zones,
                pod_addresses,
            )
        };
        self.zones.record_changes(invalidation);
        if first {
            self.zones.repack();
        }
        Some(self.zones.clone())
    }

    /// Whether publication is held for a relist in progress, or one cut short, after the
    /// first sync (nothing is published before it anyway), and not for [`RELIST_HOLD`] yet.
    fn holding(&mut self) -> bool {
        let relisting = self.state.resyncing() || !self.partial.is_empty();
        if !self.ever_synced || !relisting {
            self.held_since = None;
            return false;
        }
        let since = *self.held_since.get_or_insert_with(Instant::now);
        since.elapsed() < RELIST_HOLD
    }

    /// The current state.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The current zones (including uncommitted updates only after `commit`).
    pub fn zones(&self) -> &Zones {
        &self.zones
    }
}

#[cfg(test)]
mod tests;
