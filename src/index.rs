//! The index: the single writer between the sources and the DNS server.
//!
//! Sources send [`Update`]s; one task applies them to the [`ClusterState`], rebuilds
//! only the services they touched in a clone of the current [`Zone`], and publishes
//! the new zone with one atomic pointer swap. A burst of updates is drained and
//! published once. Readers (`dns`) never take a lock: they load the current `Arc<Zone>`.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::cluster::{ClusterState, Kind, Object, ObjectKey, Touched};
use crate::zone::{Zone, ZoneSettings};

/// The published zone, shared by every reader.
pub type SharedZone = Arc<ArcSwap<Zone>>;

/// A change to the cluster state, as a source reports it.
#[derive(Debug, Clone)]
pub enum Update {
    /// Create or replace an object.
    Apply(Object),
    /// Remove an object.
    Delete(Kind, ObjectKey),
    /// An object could not be read: keep its last good version through a running relist.
    Keep(Kind, ObjectKey),
    /// A relist of `kind` starts: objects not re-applied before `FinishResync` are deleted.
    BeginResync(Kind),
    /// The relist of `kind` is complete.
    FinishResync(Kind),
    /// Replace the whole state (a state file).
    ReplaceAll(Vec<Object>),
    /// Several updates applied together, published as one snapshot (a manifest reload).
    Batch(Vec<Update>),
    /// The source now holds a complete view (or, with `false`, has lost it). Covers the
    /// multicluster kinds too, unless the source reports them with `MulticlusterSynced`.
    Synced(bool),
    /// The multicluster kinds (ServiceImports, ...) are completely listed, or not: the
    /// clusterset zone answers SERVFAIL until they are. A source that sends this sends it
    /// (`false`) before its first `Synced`.
    MulticlusterSynced(bool),
    /// The resourceVersion of the event sent next (the Kubernetes source): SOA serials are
    /// derived from them ([`crate::xfer::serial`]). 0 announces revisions without one.
    Revision(u64),
}

/// Observes each publication (metrics hook): the time from the oldest update's arrival
/// to the new zone being served, and the state's object counts.
pub trait PublishObserver: Send + Sync + 'static {
    /// Called after every publication.
    fn published(&self, latency: std::time::Duration, state: &ClusterState, zone: &Zone);
}

impl PublishObserver for () {
    fn published(&self, _: std::time::Duration, _: &ClusterState, _: &Zone) {}
}

/// The state and the zone built from it. A plain struct: unit-testable without I/O.
pub struct Index {
    state: ClusterState,
    zone: Zone,
    touched: Touched,
    dirty: bool,
    /// A synced zone was built once. Until then every answer is SERVFAIL whatever the
    /// zone holds, so a load or first list only fills the state, and the zone is built
    /// once at the end: faster, and none of the intermediate zones become garbage.
    ever_synced: bool,
    /// The highest resourceVersion applied, for the serial.
    revisions: crate::xfer::serial::Revisions,
    /// Whether the multicluster kinds are synced, when the source reports it apart
    /// ([`Update::MulticlusterSynced`]); `None`: they follow [`Update::Synced`].
    multicluster_synced: Option<bool>,
}

impl Index {
    /// An empty, unsynced index.
    pub fn new(settings: ZoneSettings) -> Self {
        Self {
            state: ClusterState::new()
                .with_pod_index(settings.pods == crate::zone::PodRecords::Verified)
                .deferring_pod_index(),
            zone: Zone::new(settings),
            touched: Touched::new(),
            dirty: false,
            ever_synced: false,
            revisions: Default::default(),
            multicluster_synced: None,
        }
    }

    /// Applies one update; the zone is rebuilt by [`commit`](Self::commit).
    pub fn apply(&mut self, update: Update) {
        let touched = match update {
            Update::Apply(object) => self.state.apply(object),
            Update::Delete(kind, key) => self.state.delete(kind, &key),
            Update::Keep(kind, key) => {
                self.state.keep(kind, &key);
                Touched::new()
            }
            Update::BeginResync(kind) => {
                self.state.begin_resync(kind);
                Touched::new()
            }
            Update::FinishResync(kind) => self.state.finish_resync(kind),
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
                let mut cluster_id = false;
                for update in updates {
                    if let Update::Apply(o) = &update {
                        namespaces.insert(o.key().namespace.clone());
                        cluster_id |= o.kind() == Kind::ClusterProperty;
                    }
                    if let Update::Delete(kind, key) = &update {
                        namespaces.insert(key.namespace.clone());
                        cluster_id |= *kind == Kind::ClusterProperty;
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
                    touched.extend(self.zone.services_in(&ns));
                    touched.extend(self.zone.clusterset().into_iter().flat_map(|c| c.services_in(&ns)));
                }
                if cluster_id {
                    touched.extend(self.state.multicluster_keys());
                }
                touched
            }
            Update::Revision(revision) => {
                self.revisions.saw(revision);
                Touched::new()
            }
            Update::Synced(synced) => {
                // The first complete list sets the serial from its revisions, change or not.
                self.dirty |= synced && self.revisions.listed();
                if self.zone.is_synced() != synced {
                    self.zone.set_synced(synced);
                    self.dirty = true;
                }
                self.sync_clusterset();
                Touched::new()
            }
            Update::MulticlusterSynced(synced) => {
                self.multicluster_synced = Some(synced);
                self.sync_clusterset();
                Touched::new()
            }
        };
        self.dirty |= !touched.is_empty() || self.state.pod_ips_changed();
        self.touched.extend(touched);
    }

    /// The clusterset zone is synced when the cluster zone is and, if the source reports
    /// them apart, the multicluster kinds are.
    fn sync_clusterset(&mut self) {
        let synced = self.zone.is_synced() && self.multicluster_synced.unwrap_or(true);
        if self.zone.clusterset().is_some_and(|c| c.is_synced() != synced) {
            self.zone.set_clusterset_synced(synced);
            self.dirty = true;
        }
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

    /// Rebuilds what the applied updates touched. Returns the new zone when anything changed.
    pub fn commit(&mut self) -> Option<Zone> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        if !self.zone.is_synced() && !self.ever_synced {
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
        let old = self.zone.clone(); // O(1): persistent maps
        if first {
            self.zone.defer_reverse();
        }
        let changed = self.zone.rebuild_with(&self.state, &touched, &changes);
        if first {
            self.zone.rebuild_reverse();
        }
        // After the cluster zone: an exported service's local endpoints come from it.
        let clusterset_changed = self.zone.rebuild_clusterset(&self.state, &touched);
        // Verified pod records follow the pods by address.
        let pods_changed = (changes.pod_ips || first) && self.zone.sync_pods(&self.state);
        if let Some(serial) = self.revisions.next(old.serial(), !changed.is_empty() || pods_changed) {
            self.zone.set_serial(serial);
        } else if pods_changed && changed.is_empty() {
            self.zone.set_serial(crate::zone::next_serial(old.serial()));
        }
        let unchanged = crate::cluster::PodAddresses::new();
        let pod_addresses = if pods_changed { changes.pod_addresses.as_ref() } else { Some(&unchanged) };
        self.zone.record_change(&old, &changed, pod_addresses, first);
        self.zone.record_clusterset_change(old.clusterset(), &clusterset_changed, first);
        if first {
            self.zone.repack();
        }
        Some(self.zone.clone())
    }

    /// The current state.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The current zone (including uncommitted updates only after `commit`).
    pub fn zone(&self) -> &Zone {
        &self.zone
    }
}

/// A job the index thread runs against its current state (explain, state file, ...),
/// so that readers of the full state never need a copy of it.
pub type Inspect = Box<dyn FnOnce(&Index) + Send>;

enum Message {
    Update(Instant, Update),
    Inspect(Inspect),
}

/// Where sources send their updates.
#[derive(Clone)]
pub struct IndexHandle {
    tx: mpsc::UnboundedSender<Message>,
}

impl IndexHandle {
    /// Sends an update; returns false when the index thread is gone (shutting down).
    pub fn send(&self, update: Update) -> bool {
        self.tx.send(Message::Update(Instant::now(), update)).is_ok()
    }

    /// Runs `f` on the index thread with the current state and zone, after every update
    /// sent before it has been applied, and returns its result.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Index) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Inspect = Box::new(move |index| {
            let _ = tx.send(f(index));
        });
        self.tx.send(Message::Inspect(job)).ok()?;
        rx.await.ok()
    }
}

/// Starts the index on a thread of its own. Returns the handle sources write to and the
/// zone readers load.
///
/// *Why a thread, not a task:* everything the state and the zone keep is allocated by
/// the index, and the allocator serves each thread from its own pages. On tokio's
/// workers the index's objects would share pages with the watchers' and the HTTP
/// client's short-lived buffers, and stay scattered over them once those are freed.
pub fn spawn(settings: ZoneSettings, observer: Arc<dyn PublishObserver>) -> (IndexHandle, SharedZone) {
    let (tx, rx) = mpsc::unbounded_channel();
    let index = Index::new(settings);
    let zone: SharedZone = Arc::new(ArcSwap::from_pointee(index.zone().clone()));
    let published = zone.clone();
    std::thread::Builder::new()
        .name("index".into())
        .spawn(move || run(index, rx, published, observer))
        .expect("cannot start the index thread");
    (IndexHandle { tx }, zone)
}

/// What the index thread calls when it has published everything queued (see [`on_idle`]).
static IDLE_HOOK: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>> = std::sync::OnceLock::new();

/// Sets a function the index thread calls whenever it has applied and published
/// everything queued and is about to wait. The binary uses it to have the allocator
/// return the pages freed meanwhile (an idle thread would otherwise keep them).
pub fn on_idle(hook: impl Fn() + Send + Sync + 'static) {
    let _ = IDLE_HOOK.set(Box::new(hook));
}

/// The index thread: applies what the sources send, publishes, and waits. Ends when
/// every [`IndexHandle`] is dropped.
fn run(
    mut index: Index,
    mut rx: mpsc::UnboundedReceiver<Message>,
    zone: SharedZone,
    observer: Arc<dyn PublishObserver>,
) {
    while let Some(message) = rx.blocking_recv() {
        let mut first_arrival = None;
        let mut jobs = Vec::new();
        let mut next = Some(message);
        // Coalesce: everything already queued goes into the same publication.
        while let Some(message) = next {
            match message {
                Message::Update(arrival, update) => {
                    first_arrival.get_or_insert(arrival);
                    index.apply(update);
                }
                Message::Inspect(job) => jobs.push(job),
            }
            next = rx.try_recv().ok();
        }
        if let Some(published) = index.commit() {
            zone.store(Arc::new(published));
            let latency = first_arrival.map(|t| t.elapsed()).unwrap_or_default();
            observer.published(latency, index.state(), index.zone());
        }
        for job in jobs {
            job(&index);
        }
        if let Some(hook) = IDLE_HOOK.get().filter(|_| rx.is_empty()) {
            hook();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Pod, Service};

    fn service() -> Update {
        Update::Apply(Object::Service(Arc::new(Service {
            key: ObjectKey { namespace: "ns".into(), name: "web".into() },
            headless: true,
            selector: Some([("app".into(), "web".into())].into()),
            ports: vec![],
            publish_not_ready: false,
            cluster_ips: Box::new([]),
            external_name: None,
        })))
    }

    fn pod(name: &str, ip: [u8; 4]) -> Update {
        Update::Apply(Object::Pod(Arc::new(Pod {
            key: ObjectKey { namespace: "ns".into(), name: name.into() },
            template: crate::cluster::PodTemplate::new(
                [("app".into(), "web".into())].into(),
                Default::default(),
                Default::default(),
            ),
            ips: crate::cluster::Addresses::from([ip.into()]),
            ready_condition: true,
            terminating: false,
            phase: crate::cluster::Phase::Running,
        })))
    }

    #[test]
    fn the_zone_is_built_once_when_the_first_load_completes() {
        let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
        index.apply(Update::Batch(vec![service(), pod("a", [10, 0, 0, 1])]));
        assert!(index.commit().is_none(), "an unsynced zone answers SERVFAIL: nothing to publish");
        index.apply(Update::Batch(vec![pod("b", [10, 0, 0, 2])]));
        assert!(index.commit().is_none());
        assert_eq!(index.zone().service_count(), 0, "no intermediate zone was built");
        index.apply(Update::Synced(true));
        let zone = index.commit().expect("the first synced zone is published");
        assert!(zone.is_synced());
        let records = zone.service("ns", "web").expect("built from every chunk");
        assert_eq!(records.endpoints.len(), 2);
        // Once synced, a lost sync still publishes (SERVFAIL) and later changes are built.
        index.apply(Update::Synced(false));
        assert!(!index.commit().expect("the loss of sync is published").is_synced());
        index.apply(pod("c", [10, 0, 0, 3]));
        let zone = index.commit().expect("built while unsynced after the first sync");
        assert_eq!(zone.service("ns", "web").map(|r| r.endpoints.len()), Some(3));
    }

    #[test]
    fn the_first_zone_builds_its_reverse_index_at_once_and_keeps_it_in_step_after() {
        let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
        let Update::Apply(Object::Service(web)) = service() else { unreachable!() };
        let mut web2 = (*web).clone();
        web2.key.name = "web2".into();
        let web2 = Update::Apply(Object::Service(Arc::new(web2)));
        index.apply(Update::Batch(vec![service(), web2, pod("a", [10, 0, 0, 1]), pod("b", [10, 0, 0, 2])]));
        index.apply(Update::Synced(true));
        let zone = index.commit().expect("published");
        // The same records inserted pair by pair, as every later build does.
        let mut incremental = Zone::new(ZoneSettings::new("cluster.local").unwrap());
        incremental.rebuild_all(index.state());
        assert_eq!(zone.reverse_len(), 2, "two addresses, each published by two services");
        assert_eq!(zone.reverse_len(), incremental.reverse_len());
        assert_eq!(zone.reverse_addresses(true), incremental.reverse_addresses(true));
        index.apply(pod("c", [10, 0, 0, 3]));
        assert_eq!(index.commit().expect("changed").reverse_len(), 3);
        index.apply(Update::Delete(Kind::Pod, ObjectKey { namespace: "ns".into(), name: "a".into() }));
        let zone = index.commit().expect("changed");
        assert_eq!(zone.reverse_len(), 2);
        assert_eq!(
            zone.reverse_addresses(true),
            ["10.0.0.2".parse::<std::net::IpAddr>().unwrap(), "10.0.0.3".parse().unwrap()]
        );
    }
}
