//! The index thread: one OS thread applies what the sources send, publishes, and runs
//! the jobs readers of the whole state hand it ([`IndexHandle::inspect`]).

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use super::{Index, Update};
use crate::cluster::{ClusterState, Kind};
use crate::zone::{SharedZones, ZoneSettings, Zones};

/// Observes each publication (metrics hook): the time from the oldest update's arrival
/// to the new zones being served, and the state's object counts.
pub trait PublishObserver: Send + Sync + 'static {
    /// Called after every publication.
    fn published(&self, latency: std::time::Duration, state: &ClusterState, zones: &Zones);

    /// Called for every refused version of an object (`reason`: the error's
    /// [`reason`](crate::cluster::ObjectError::reason)).
    fn rejected(&self, _kind: Kind, _reason: &'static str) {}
}

impl PublishObserver for () {
    fn published(&self, _: std::time::Duration, _: &ClusterState, _: &Zones) {}
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

    /// Runs `f` on the index thread with the current state and zones, after every update
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
/// zones readers load.
///
/// *Why a thread, not a task:* everything the state and the zone keep is allocated by
/// the index, and the allocator serves each thread from its own pages. On tokio's
/// workers the index's objects would share pages with the watchers' and the HTTP
/// client's short-lived buffers, and stay scattered over them once those are freed.
pub fn spawn(settings: ZoneSettings, observer: Arc<dyn PublishObserver>) -> (IndexHandle, SharedZones) {
    let (tx, rx) = mpsc::unbounded_channel();
    let index = Index::new(settings);
    let zones: SharedZones = Arc::new(ArcSwap::from_pointee(index.zones().clone()));
    let published = zones.clone();
    std::thread::Builder::new()
        .name("index".into())
        .spawn(move || run(index, rx, published, observer))
        .expect("cannot start the index thread");
    (IndexHandle { tx }, zones)
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
    zones: SharedZones,
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
                    observe_rejections(&*observer, &update);
                    index.apply(update);
                }
                Message::Inspect(job) => jobs.push(job),
            }
            next = rx.try_recv().ok();
        }
        if let Some(published) = index.commit() {
            zones.store(Arc::new(published));
            let latency = first_arrival.map(|t| t.elapsed()).unwrap_or_default();
            observer.published(latency, index.state(), index.zones());
        }
        for job in jobs {
            job(&index);
        }
        if let Some(hook) = IDLE_HOOK.get().filter(|_| rx.is_empty()) {
            hook();
        }
    }
}

/// Counts the refused versions `update` carries.
fn observe_rejections(observer: &dyn PublishObserver, update: &Update) {
    match update {
        Update::Rejected(kind, _, rejection) => observer.rejected(*kind, rejection.error.reason()),
        Update::Batch(updates) => updates.iter().for_each(|u| observe_rejections(observer, u)),
        _ => {}
    }
}
