//! Prometheus metrics (prometheus-client): what the DNS path, the index and the watch do.
//!
//! Per-query counters are created up front for a fixed set of query types, response codes
//! and transports, so answering a query touches only atomics: no lock, no label lookup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::ResponseCode;
use hickory_server::proto::rr::RecordType;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::source_metrics::{KindLabel, SourceMetrics};
use crate::cluster::{ClusterState, Kind};
use crate::dns::response_cache::{Dropped, Lookup};
use crate::dns::{QueryEvent, QueryObserver};
use crate::index::PublishObserver;
use crate::source::kubernetes::WatchObserver;
use crate::zone::Zones;

const QTYPES: [&str; 10] = ["A", "AAAA", "SRV", "PTR", "TXT", "SOA", "NS", "ANY", "none", "other"];
const RCODES: [&str; 8] =
    ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP", "BADVERS", "other"];
const PROTOCOLS: [&str; 2] = ["udp", "tcp"];

fn qtype_index(qtype: Option<RecordType>) -> usize {
    match qtype {
        Some(RecordType::A) => 0,
        Some(RecordType::AAAA) => 1,
        Some(RecordType::SRV) => 2,
        Some(RecordType::PTR) => 3,
        Some(RecordType::TXT) => 4,
        Some(RecordType::SOA) => 5,
        Some(RecordType::NS) => 6,
        Some(RecordType::ANY) => 7,
        None => 8,
        Some(_) => 9,
    }
}

fn rcode_index(rcode: ResponseCode) -> usize {
    match rcode {
        ResponseCode::NoError => 0,
        ResponseCode::NXDomain => 1,
        ResponseCode::ServFail => 2,
        ResponseCode::Refused => 3,
        ResponseCode::FormErr => 4,
        ResponseCode::NotImp => 5,
        ResponseCode::BADVERS | ResponseCode::BADSIG => 6,
        _ => 7,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    qtype: &'static str,
    rcode: &'static str,
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectedLabels {
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferLabels {
    r#type: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZoneLabel {
    zone: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// Every metric headless-dns exports.
pub struct Metrics {
    registry: Registry,
    queries: Vec<Counter>,
    response_seconds: Histogram,
    programming_seconds: Histogram,
    objects: Family<KindLabel, Gauge>,
    rejected: Family<RejectedLabels, Counter>,
    names: Family<KindLabel, Gauge>,
    synced: Gauge,
    /// 1 while the answers come from the state file, before the source's first sync.
    from_state_file: Gauge,
    /// The sources' metrics: sync freshness, API failures, relists.
    source: SourceMetrics,
    publish_is_sync: AtomicBool,
    transfers: Family<TransferLabels, Counter>,
    notifies: Family<ResultLabel, Counter>,
    journal_depth: Gauge,
    journal_bytes: Gauge,
    journal_oldest: Gauge,
    /// Response-cache lookups: hits, misses.
    cache_lookups: [Counter; 3],
    /// Response-cache entries dropped: changed (their group), cleared (all at once).
    cache_dropped: [Counter; 3],
    /// Each served zone's SOA serial.
    zone_serial: Family<ZoneLabel, Gauge>,
    /// Each external zone's names claimed by Services, and those claimed by more than one.
    external_names: Family<ZoneLabel, Gauge>,
    external_conflicts: Family<ZoneLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `headless_dns` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("headless_dns");
        let query_family = Family::<QueryLabels, Counter>::default();
        let mut queries = Vec::with_capacity(QTYPES.len() * RCODES.len() * PROTOCOLS.len());
        for qtype in QTYPES {
            for rcode in RCODES {
                for protocol in PROTOCOLS {
                    queries.push(query_family.get_or_create_owned(&QueryLabels { qtype, rcode, protocol }));
                }
            }
        }
        registry.register(
            "queries",
            "DNS queries answered, by type, response code and transport",
            query_family,
        );
        let response_seconds = Histogram::new(exponential_buckets(0.000_005, 2.0, 16));
        registry.register(
            "response_duration_seconds",
            "Time to answer a query (decode, lookup, encode)",
            response_seconds.clone(),
        );
        let programming_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 18));
        registry.register(
            "programming_duration_seconds",
            "Time from a cluster change's arrival to the new answers being served",
            programming_seconds.clone(),
        );
        let objects = Family::<KindLabel, Gauge>::default();
        registry.register(
            "objects",
            "Objects tracked, by kind (pod, service, statefulset, endpointslice, serviceimport, serviceexport, mcs_endpointslice, clusterproperty, node)",
            objects.clone(),
        );
        let rejected = Family::<RejectedLabels, Counter>::default();
        for kind in [Kind::Pod, Kind::Service, Kind::StatefulSet, Kind::EndpointSlice] {
            for reason in ["missing_field", "invalid_value", "malformed"] {
                let _ = rejected.get_or_create(&RejectedLabels { kind: Self::kind_label(kind).kind, reason });
            }
        }
        registry.register(
            "objects_rejected",
            "Versions of objects refused by validation, by kind and reason (missing_field, invalid_value, malformed): the last good version is served",
            rejected.clone(),
        );
        let names = Family::<KindLabel, Gauge>::default();
        registry.register(
            "served",
            "What is served: services (headless, ClusterIP, ExternalName), endpoint addresses, reverse (PTR) addresses",
            names.clone(),
        );
        let source = SourceMetrics::register(&mut registry);
        let synced = Gauge::default();
        registry.register(
            "synced",
            "1 when answering from a complete view of the cluster (a state file is not one)",
            synced.clone(),
        );
        let from_state_file = Gauge::default();
        registry.register(
            "answering_from_state_file",
            "1 while the answers come from the state file, before the first complete list",
            from_state_file.clone(),
        );
        let transfers = Family::<TransferLabels, Counter>::default();
        for (r#type, results) in [
            ("axfr", &["full", "refused", "notauth", "servfail", "badsig"][..]),
            ("ixfr", &["incremental", "full", "current", "refused", "notauth", "servfail", "badsig"][..]),
        ] {
            for result in results {
                let _ = transfers.get_or_create(&TransferLabels { r#type, result });
            }
        }
        registry.register(
            "transfers",
            "Zone transfer requests, by type (axfr, ixfr) and result (incremental, full, current: the SOA alone; refused, notauth, servfail, badsig)",
            transfers.clone(),
        );
        let notifies = Family::<ResultLabel, Counter>::default();
        for result in ["answered", "timeout"] {
            let _ = notifies.get_or_create(&ResultLabel { result });
        }
        registry.register("notifies", "NOTIFYs sent to --notify secondaries, by result", notifies.clone());
        let journal_depth = Gauge::default();
        registry.register(
            "ixfr_journal_changes",
            "Changes the IXFR journal holds: an IXFR from a serial this many changes back gets differences",
            journal_depth.clone(),
        );
        let journal_bytes = Gauge::default();
        registry.register(
            "ixfr_journal_bytes",
            "Bytes of records the IXFR journal holds",
            journal_bytes.clone(),
        );
        let journal_oldest = Gauge::default();
        registry.register(
            "ixfr_journal_oldest_serial",
            "The oldest serial an IXFR gets differences from (-1: none; older ones get the whole zone)",
            journal_oldest.clone(),
        );
        journal_oldest.set(-1);
        let lookups = Family::<ResultLabel, Counter>::default();
        let cache_lookups =
            // In `Lookup`'s order.
            ["hit", "miss", "changed"].map(|result| lookups.get_or_create_owned(&ResultLabel { result }));
        registry.register(
            "response_cache_lookups",
            "Questions looked up in the response caches, by result: hit, miss, changed (a miss because a change dropped the cached answer); hits over all is the hit ratio, hits over hits and misses that of unchanged answers",
            lookups,
        );
        let dropped = Family::<ReasonLabel, Counter>::default();
        let cache_dropped =
            ["changed", "cleared", "full"].map(|reason| dropped.get_or_create_owned(&ReasonLabel { reason }));
        registry.register(
            "response_cache_dropped",
            "Cached answers dropped when a new snapshot is served: changed (a change touched their names), cleared (every answer at once: a sync change, a cache too far behind), full (the oldest half of a full cache)",
            dropped,
        );
        let build = Family::<VersionLabel, Gauge>::default();
        build.get_or_create(&VersionLabel { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "Build information", build);
        let zone_serial = Family::<ZoneLabel, Gauge>::default();
        registry.register("zone_serial", "The SOA serial of each zone served, by apex", zone_serial.clone());
        let external_names = Family::<ZoneLabel, Gauge>::default();
        registry.register(
            "external_names",
            "Names Services claim in each external zone (their hostname annotations)",
            external_names.clone(),
        );
        let external_conflicts = Family::<ZoneLabel, Gauge>::default();
        registry.register(
            "external_name_conflicts",
            "Names of each external zone claimed by more than one Service: the oldest Service is served, the others are not",
            external_conflicts.clone(),
        );
        Self {
            registry,
            queries,
            response_seconds,
            programming_seconds,
            objects,
            rejected,
            names,
            synced,
            source,
            publish_is_sync: AtomicBool::new(false),
            from_state_file,
            transfers,
            notifies,
            journal_depth,
            journal_bytes,
            journal_oldest,
            cache_lookups,
            cache_dropped,
            zone_serial,
            external_names,
            external_conflicts,
        }
    }

    /// For sources without a watch (manifest files): every synced publish follows a
    /// successful load, so it counts as the last sync for `seconds_since_last_sync`.
    pub fn sync_on_publish(&self) {
        self.publish_is_sync.store(true, Ordering::Relaxed);
    }

    /// The answers come from a state file until the source's first sync: `synced` stays 0
    /// meanwhile (the alerts on it must see that the server has no view of the cluster
    /// of its own), and `answering_from_state_file` is 1.
    pub fn answering_from_state_file(&self) {
        self.from_state_file.set(1);
    }

    /// Whether the answers come from the state file (see
    /// [`answering_from_state_file`](Self::answering_from_state_file)).
    pub fn is_answering_from_state_file(&self) -> bool {
        self.from_state_file.get() == 1
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        self.source.refresh();
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn kind_label(kind: Kind) -> KindLabel {
        super::source_metrics::kind_label(kind)
    }
}

impl QueryObserver for Metrics {
    fn answered(&self, e: &QueryEvent<'_>) {
        let protocol = usize::from(e.protocol != Protocol::Udp);
        let i = (qtype_index(e.qtype) * RCODES.len() + rcode_index(e.rcode)) * PROTOCOLS.len() + protocol;
        self.queries[i].inc();
        self.response_seconds.observe(e.elapsed.as_secs_f64());
        // Transfers we refused went the ordinary way; the others are counted by `transferred`.
        if e.rcode == ResponseCode::Refused
            && let Some(qtype @ (RecordType::AXFR | RecordType::IXFR)) = e.qtype
        {
            self.transferred(qtype, "refused");
        }
    }

    fn transferred(&self, qtype: RecordType, result: &'static str) {
        let r#type = if qtype == RecordType::IXFR { "ixfr" } else { "axfr" };
        self.transfers.get_or_create(&TransferLabels { r#type, result }).inc();
    }

    fn response_cache_lookup(&self, lookup: Lookup) {
        self.cache_lookups[lookup as usize].inc();
    }

    fn response_cache_dropped(&self, dropped: Dropped) {
        self.cache_dropped[0].inc_by(dropped.changed as u64);
        self.cache_dropped[1].inc_by(dropped.cleared as u64);
        self.cache_dropped[2].inc_by(dropped.full as u64);
    }
}

impl PublishObserver for Metrics {
    fn rejected(&self, kind: Kind, reason: &'static str) {
        self.rejected.get_or_create(&RejectedLabels { kind: Self::kind_label(kind).kind, reason }).inc();
    }

    fn published(&self, latency: Duration, state: &ClusterState, zones: &Zones) {
        let zone = zones.cluster();
        self.programming_seconds.observe(latency.as_secs_f64());
        for (kind, count) in state.counts() {
            self.objects.get_or_create(&Self::kind_label(kind)).set(count as i64);
        }
        self.names.get_or_create(&KindLabel { kind: "service" }).set(zone.service_count() as i64);
        self.names.get_or_create(&KindLabel { kind: "endpoint" }).set(zone.endpoint_count() as i64);
        self.names.get_or_create(&KindLabel { kind: "ptr" }).set(zone.reverse_len() as i64);
        if zone.is_synced() && self.publish_is_sync.load(Ordering::Relaxed) {
            WatchObserver::synced(self);
        }
        self.synced.set(i64::from(zone.is_synced() && self.from_state_file.get() == 0));
        let journal = zone.journal();
        self.journal_depth.set(journal.depth() as i64);
        self.journal_bytes.set(journal.bytes() as i64);
        self.journal_oldest.set(journal.oldest().map_or(-1, i64::from));
        let apex = |zone: &crate::zone::Zone| ZoneLabel { zone: zone.settings().origin.to_string() };
        self.zone_serial.get_or_create(&apex(zone)).set(i64::from(zone.serial()));
        if let Some(multicluster) = zones.multicluster() {
            self.zone_serial.get_or_create(&apex(multicluster)).set(i64::from(multicluster.serial()));
        }
        for external in zones.external() {
            let label = ZoneLabel { zone: external.apex().to_string() };
            let (names, conflicts) = external.claim_counts();
            self.zone_serial.get_or_create(&label).set(i64::from(external.serial()));
            self.external_names.get_or_create(&label).set(names as i64);
            self.external_conflicts.get_or_create(&label).set(conflicts as i64);
        }
    }
}

impl crate::xfer::notify::NotifyObserver for Metrics {
    fn notified(&self, _: std::net::SocketAddr, answered: bool) {
        let result = if answered { "answered" } else { "timeout" };
        self.notifies.get_or_create(&ResultLabel { result }).inc();
    }
}

impl WatchObserver for Metrics {
    fn watch_error(&self, kind: Kind, code: &'static str) {
        self.source.watch_error(kind, code);
    }
    fn relist(&self, kind: Kind) {
        self.source.relist(kind);
    }
    fn progressed(&self, kind: Kind) {
        self.source.progressed(kind);
    }
    fn synced(&self) {
        self.source.synced();
        // The first complete list replaces the state file's objects.
        self.from_state_file.set(0);
        self.synced.set(1);
    }
}
