//! The index thread: one OS thread applies what the sources send, publishes, and runs
//! the jobs readers of the whole state hand it ([`IndexHandle::inspect`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use std::sync::mpsc;

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
    /// An update, its arrival, and the resourceVersion it carries if any: one message, so
    /// that no commit can fall between a change and its revision.
    Update(Instant, Option<u64>, Update),
    Inspect(Inspect),
}

/// Where sources send their updates.
#[derive(Clone)]
pub struct IndexHandle {
    tx: mpsc::Sender<Message>,
}

impl IndexHandle {
    /// Sends an update; returns false when the index thread is gone (shutting down).
    pub fn send(&self, update: Update) -> bool {
        self.tx.send(Message::Update(Instant::now(), None, update)).is_ok()
    }

    /// Sends a change together with its resourceVersion (the Kubernetes source), as one
    /// message. The serial is the revision of the last change published, so the commit
    /// that publishes a change must be the first to know its revision. Sent apart, the
    /// index could commit in between: it would publish the change before under this
    /// revision, then this change under the revision plus one, a serial another replica
    /// (which batched otherwise) would not publish (see [`serial`](super::serial)).
    pub fn send_revised(&self, revision: u64, update: Update) -> bool {
        self.tx.send(Message::Update(Instant::now(), Some(revision), update)).is_ok()
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
    let (tx, rx) = mpsc::channel();
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
    rx: mpsc::Receiver<Message>,
    zones: SharedZones,
    observer: Arc<dyn PublishObserver>,
) {
    let mut idle = IdleHook::new(IDLE_HOOK.get().map(|hook| &**hook));
    while let Some(message) = idle.next_message(&rx) {
        let mut first_arrival = None;
        let mut jobs = Vec::new();
        let mut next = Some(message);
        // Coalesce: everything already queued goes into the same publication.
        while let Some(message) = next {
            match message {
                Message::Update(arrival, revision, update) => {
                    first_arrival.get_or_insert(arrival);
                    observe_rejections(&*observer, &update);
                    match revision {
                        Some(revision) => index.apply_revised(revision, update),
                        None => index.apply(update),
                    }
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
        idle.went_idle();
    }
}

/// How often at most the idle hook runs.
const IDLE_HOOK_EVERY: Duration = Duration::from_millis(250);

/// When the idle hook runs. Under sustained churn the index goes idle hundreds of times a
/// second, and collecting freed memory (waking every runtime worker to do the same) each
/// time is work that a few times a second does as well: it runs at most every
/// [`IDLE_HOOK_EVERY`], and an idle
/// that came too soon is made up once the index has stayed idle that long, so that the
/// last idle after a load or a burst always collects.
struct IdleHook {
    hook: Option<&'static (dyn Fn() + Send + Sync)>,
    last: Option<Instant>,
    /// An idle came too soon after the last run.
    owed: bool,
}

impl IdleHook {
    fn new(hook: Option<&'static (dyn Fn() + Send + Sync)>) -> Self {
        Self { hook, last: None, owed: false }
    }

    /// Called when everything queued is published.
    fn went_idle(&mut self) {
        let Some(hook) = self.hook else { return };
        if self.last.is_none_or(|at| at.elapsed() >= IDLE_HOOK_EVERY) {
            hook();
            self.last = Some(Instant::now());
            self.owed = false;
        } else {
            self.owed = true;
        }
    }

    /// The next message (`None`: every handle is gone), running an owed hook when the
    /// wait reaches its time.
    fn next_message(&mut self, rx: &mpsc::Receiver<Message>) -> Option<Message> {
        if self.owed {
            let waited = self.last.map_or(IDLE_HOOK_EVERY, |at| at.elapsed());
            match rx.recv_timeout(IDLE_HOOK_EVERY.saturating_sub(waited)) {
                Ok(message) => return Some(message),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => self.went_idle(),
            }
        }
        rx.recv().ok()
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

#[cfg(test)]
mod idle_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_idle_hook_runs_at_most_every_period_and_an_owed_run_is_made_up() {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let hook: &'static (dyn Fn() + Send + Sync) = Box::leak(Box::new(|| {
            RUNS.fetch_add(1, Ordering::SeqCst);
        }));
        let mut idle = IdleHook::new(Some(hook));
        let (tx, rx) = mpsc::channel::<Message>();
        idle.went_idle();
        assert_eq!(RUNS.load(Ordering::SeqCst), 1, "the first idle runs it");
        for _ in 0..100 {
            idle.went_idle();
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 1, "a burst of idles within the period does not");
        // A message arriving meanwhile is returned at once, the run still owed.
        tx.send(Message::Inspect(Box::new(|_| {}))).unwrap();
        let started = Instant::now();
        assert!(idle.next_message(&rx).is_some());
        assert!(started.elapsed() < IDLE_HOOK_EVERY / 2);
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        // With nothing queued, the wait runs the owed hook once the period is over, then
        // goes on waiting for the next message.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(IDLE_HOOK_EVERY * 3);
            tx.send(Message::Inspect(Box::new(|_| {}))).unwrap();
        });
        assert!(idle.next_message(&rx).is_some());
        assert_eq!(RUNS.load(Ordering::SeqCst), 2, "the owed run is made up");
        assert!(started.elapsed() >= IDLE_HOOK_EVERY * 2);
        sender.join().unwrap();
        idle.went_idle();
        assert_eq!(RUNS.load(Ordering::SeqCst), 3, "a period after the made-up run");
        idle.went_idle();
        assert_eq!(RUNS.load(Ordering::SeqCst), 3, "too soon after that one");
    }
}
