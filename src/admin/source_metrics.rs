//! The metrics of the sources: how fresh the view of the cluster is, and how the
//! Kubernetes API answers (failures by kind and HTTP code, relists, the age of the last
//! sign of life of each kind's watch).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::cluster::Kind;
use crate::source::kubernetes::WatchObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabel {
    pub(super) kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
    code: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

/// The sources' metrics, registered in the admin registry.
pub(super) struct SourceMetrics {
    watch_errors: Family<KindLabel, Counter>,
    api_errors: Family<ErrorLabels, Counter>,
    relists: Family<KindLabel, Counter>,
    last_sync: Mutex<Option<Instant>>,
    seconds_since_sync: Seconds,
    /// Per kind: nanoseconds from `started` to its last sign of life, plus one (0: never).
    progress: [AtomicU64; Kind::ALL.len()],
    progress_age: Family<KindLabel, Seconds>,
    started: Instant,
}

pub(super) fn kind_label(kind: Kind) -> KindLabel {
    KindLabel { kind: kind.word() }
}

impl SourceMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let watch_errors = Family::<KindLabel, Counter>::default();
        registry.register(
            "watch_restarts",
            "Kubernetes list or watch attempts that failed and are retried with backoff, by kind",
            watch_errors.clone(),
        );
        let api_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "api_errors",
            "Failed Kubernetes list or watch attempts, by kind and HTTP code (connection: no HTTP answer)",
            api_errors.clone(),
        );
        let relists = Family::<KindLabel, Counter>::default();
        registry.register(
            "relists",
            "Full relists of a kind (initial list, after 410 Gone or a lost watch)",
            relists.clone(),
        );
        let progress_age = Family::<KindLabel, Seconds>::default();
        registry.register(
            "api_last_event_age_seconds",
            "Seconds since a kind's watch last delivered something: a listed object, a change or a completed list (-1: never)",
            progress_age.clone(),
        );
        // Every kind from the start, in every mode: a documented family that is absent
        // reads as a broken exporter, and `increase()` needs the zero.
        for kind in [Kind::Pod, Kind::Service, Kind::StatefulSet, Kind::EndpointSlice] {
            let _ = watch_errors.get_or_create(&kind_label(kind));
            let _ = relists.get_or_create(&kind_label(kind));
            for code in ["connection", "403", "410", "429", "500", "503"] {
                let _ = api_errors.get_or_create(&ErrorLabels { kind: kind.word(), code });
            }
        }
        let seconds_since_sync = Seconds::default();
        registry.register(
            "seconds_since_last_sync",
            "Seconds since the view of the cluster was last complete: a watch's list, or a load of the manifests (-1: never)",
            seconds_since_sync.clone(),
        );
        Self {
            watch_errors,
            api_errors,
            relists,
            last_sync: Mutex::new(None),
            seconds_since_sync,
            progress: std::array::from_fn(|_| AtomicU64::new(0)),
            progress_age,
            started: Instant::now(),
        }
    }

    /// Sets the gauges that are ages, before the registry is encoded.
    pub(super) fn refresh(&self) {
        let since = self.last_sync.lock().ok().and_then(|t| *t).map_or(-1.0, |t| t.elapsed().as_secs_f64());
        self.seconds_since_sync.set(since);
        let now = self.started.elapsed().as_nanos() as u64;
        for kind in Kind::ALL {
            let at = self.progress[kind as usize].load(Ordering::Relaxed);
            if at == 0 && !Kind::ALWAYS.contains(&kind) {
                continue; // the multicluster kinds and nodes appear once watched
            }
            let age = if at == 0 { -1.0 } else { now.saturating_sub(at - 1) as f64 / 1e9 };
            self.progress_age.get_or_create(&kind_label(kind)).set(age);
        }
    }
}

impl WatchObserver for SourceMetrics {
    fn watch_error(&self, kind: Kind, code: &'static str) {
        self.watch_errors.get_or_create(&kind_label(kind)).inc();
        self.api_errors.get_or_create(&ErrorLabels { kind: kind.word(), code }).inc();
    }
    fn relist(&self, kind: Kind) {
        self.relists.get_or_create(&kind_label(kind)).inc();
    }
    fn progressed(&self, kind: Kind) {
        self.progress[kind as usize].store(self.started.elapsed().as_nanos() as u64 + 1, Ordering::Relaxed);
    }
    fn synced(&self) {
        if let Ok(mut last) = self.last_sync.lock() {
            *last = Some(Instant::now());
        }
    }
}
