//! The admin HTTP server: liveness, readiness, Prometheus metrics and explain.
//!
//! - `/healthz`: 200 while the process runs (liveness).
//! - `/readyz`: 200 only when synced with the cluster (or answering from the state file
//!   until then) and not shutting down (readiness),
//!   503 with the reason otherwise.
//! - `/metrics`: Prometheus text format.
//! - `/explain?name=NAME[&type=TYPE][&format=json|text]`: why NAME resolves as it does.
//! - `/records[?zone=forward|in-addr-arpa|ip6-arpa|multicluster|external]` (or an external zone
//!   by its apex): the served records as a zone file
//!   (`zone-file=`, the CLI option's name, is accepted too).
//!
//! `/explain` and `/records` reveal the whole zone: only loopback and `--admin-allow` may
//! use them ([`access`]). An unknown or invalid parameter is a 400 that lists the valid
//! ones, never silently ignored.

pub mod access;
pub mod client;
pub mod metrics;
mod params;
mod source_metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::zone::zonefile::ZoneFile;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

pub use metrics::Metrics;

use crate::index::IndexHandle;
use crate::zone::SharedZones;

/// What the admin endpoints read.
pub struct AdminState {
    /// The published zones.
    pub zones: SharedZones,
    /// The index, for explain (which needs the cluster state).
    pub index: IndexHandle,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Set on SIGTERM: readiness fails at once while DNS keeps answering (lameduck).
    pub shutting_down: AtomicBool,
    /// Who may read `/records` and `/explain`.
    pub access: crate::access::AccessList,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        // The short names people (and some load balancers) try first answer the same.
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(readyz))
        .route("/metrics", get(metrics))
        .route("/explain", get(explain))
        .route("/records", get(records))
        .with_state(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.shutting_down.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    if !state.zones.load().is_synced() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not synced with the cluster yet\n").into_response();
    }
    // Ready: what the state file holds is answered rather than nothing while the API
    // server cannot be listed (an outage during a rollout would otherwise leave no
    // replica ready). The metrics (`synced` 0) and this line say so.
    if state.metrics.is_answering_from_state_file() {
        return (StatusCode::OK, "ready, answering from the state file until synced with the cluster\n")
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    )
        .into_response()
}

/// The 403 for a client that may not read the zone, or `None` when it may.
fn refused(state: &AdminState, peer: SocketAddr) -> Option<Response> {
    (!state.access.allows(peer.ip()))
        .then(|| (StatusCode::FORBIDDEN, access::refusal(peer.ip())).into_response())
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message + "\n").into_response()
}

async fn explain(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refusal) = refused(&state, peer) {
        return refusal;
    }
    let params = match params::ExplainParams::parse(&pairs) {
        Ok(params) => params,
        Err(message) => return bad_request(message),
    };
    let (name, qtype) = (params.name, params.qtype);
    let explained =
        state.index.inspect(move |i| crate::explain::explain(i.state(), i.zones(), &name, qtype)).await;
    let Some(explained) = explained else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    match params.format {
        params::Format::Text => explained.to_text().into_response(),
        params::Format::Json => Json(explained).into_response(),
    }
}

async fn records(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refusal) = refused(&state, peer) {
        return refusal;
    }
    let zones = state.zones.load();
    // An external zone by its apex (`zone=example.com`).
    let apex = pairs
        .iter()
        .find(|(k, _)| k == "zone" || k == "zone-file")
        .and_then(|(_, v)| hickory_proto::rr::Name::from_ascii(v).ok())
        .map(|mut name| {
            name.set_fqdn(true);
            name
        });
    if let Some((place, _)) = apex.and_then(|apex| zones.external_named(&apex)) {
        return zones.zone_file(ZoneFile::External(place)).into_response();
    }
    match params::records_zone(&pairs) {
        Ok(which) => zones.zone_file(which).into_response(),
        Err(message) => bad_request(message),
    }
}
