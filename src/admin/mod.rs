//! The admin HTTP server: liveness, readiness, Prometheus metrics and explain.
//!
//! - `/healthz`: 200 while the process runs (liveness).
//! - `/readyz`: 200 only when synced with the cluster and not shutting down (readiness),
//!   503 with the reason otherwise.
//! - `/metrics`: Prometheus text format.
//! - `/explain?name=NAME&type=TYPE[&format=text|json]`: why NAME resolves as it does.
//! - `/records?zone=forward|in-addr-arpa|ip6-arpa`: the served records as a zone file.

pub mod client;
pub mod metrics;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hickory_proto::rr::RecordType;
use tokio::net::TcpListener;

pub use metrics::Metrics;

use crate::index::{IndexHandle, SharedZone};
use crate::zone::zonefile::ZoneFile;

/// What the admin endpoints read.
pub struct AdminState {
    /// The published zone.
    pub zone: SharedZone,
    /// The index, for explain (which needs the cluster state).
    pub index: IndexHandle,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Set on SIGTERM: readiness fails at once while DNS keeps answering (lameduck).
    pub shutting_down: AtomicBool,
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
        .route("/metrics", get(metrics))
        .route("/explain", get(explain))
        .route("/records", get(records))
        .with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.shutting_down.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    if !state.zone.load().is_synced() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not synced with the cluster yet\n").into_response();
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

/// `/explain` parameters.
#[derive(Debug, serde::Deserialize)]
pub struct ExplainParams {
    /// The name.
    pub name: String,
    /// The record type (default A).
    #[serde(rename = "type")]
    pub qtype: Option<String>,
    /// `text` or `json` (default: json).
    pub format: Option<String>,
}

async fn explain(State(state): State<Arc<AdminState>>, Query(params): Query<ExplainParams>) -> Response {
    let qtype = params.qtype.as_deref().unwrap_or("A").to_ascii_uppercase();
    let Ok(qtype) = RecordType::from_str(&qtype) else {
        return (StatusCode::BAD_REQUEST, format!("unknown record type {qtype:?}\n")).into_response();
    };
    let name = params.name;
    let explained =
        state.index.inspect(move |i| crate::explain::explain(i.state(), i.zone(), &name, qtype)).await;
    let Some(explained) = explained else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    match params.format.as_deref() {
        Some("text") => explained.to_text().into_response(),
        _ => Json(explained).into_response(),
    }
}

/// `/records` parameters.
#[derive(Debug, serde::Deserialize)]
pub struct RecordsParams {
    /// `forward` (default), `in-addr-arpa` or `ip6-arpa`.
    pub zone: Option<String>,
}

async fn records(State(state): State<Arc<AdminState>>, Query(params): Query<RecordsParams>) -> Response {
    let which = match params.zone.as_deref().unwrap_or("forward") {
        "forward" => ZoneFile::Forward,
        "in-addr-arpa" => ZoneFile::InAddrArpa,
        "ip6-arpa" => ZoneFile::Ip6Arpa,
        other => return (StatusCode::BAD_REQUEST, format!("unknown zone {other:?}\n")).into_response(),
    };
    state.zone.load().zone_file(which).into_response()
}
