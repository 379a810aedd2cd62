//! Request parameters and error replies of the fake API server (see `lib.rs`):
//! the list/watch query parameters parsed and validated as the real server does, and the
//! `Status` bodies it answers with, since clients act on their `code` and `reason`
//! (`410 Expired` makes kube's watcher relist).

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub(super) fn json_response(code: StatusCode, v: &(impl serde::Serialize + ?Sized)) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(super) fn status_value(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

pub(super) fn status_response(code: StatusCode, reason: &str, message: &str) -> Response {
    json_response(code, &status_value(code.as_u16(), reason, message))
}

pub(super) fn bad_request(message: &str) -> Response {
    status_response(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub(super) fn not_found() -> Response {
    status_response(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource")
}

pub(super) fn parse_bool(name: &str, v: &str) -> Result<bool, Response> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(false),
        _ => Err(bad_request(&format!("invalid value for {name}: {v:?}"))),
    }
}

/// Parsed query parameters relevant to list/watch.
#[derive(Default)]
pub(super) struct Params {
    pub(super) watch: bool,
    pub(super) resource_version: Option<String>,
    pub(super) resource_version_match: Option<String>,
    pub(super) allow_bookmarks: bool,
    pub(super) timeout_seconds: Option<u64>,
    pub(super) label_selector: Option<String>,
    pub(super) field_selector: Option<String>,
    pub(super) limit: Option<u64>,
    pub(super) continue_token: Option<String>,
    pub(super) send_initial_events: Option<bool>,
}

pub(super) fn parse_params(uri: &Uri) -> Result<Params, Response> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| bad_request(&format!("invalid query string: {e}")))?;
    let mut p = Params::default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            continue; // first occurrence wins
        }
        let parse_u64 =
            |v: &str| v.parse::<u64>().map_err(|_| bad_request(&format!("invalid value for {k}: {v:?}")));
        match k.as_str() {
            "watch" => p.watch = parse_bool(&k, &v)?,
            "resourceVersion" => p.resource_version = Some(v),
            "resourceVersionMatch" => p.resource_version_match = Some(v).filter(|s| !s.is_empty()),
            "allowWatchBookmarks" => p.allow_bookmarks = parse_bool(&k, &v)?,
            "timeoutSeconds" => p.timeout_seconds = Some(parse_u64(&v)?),
            "labelSelector" => p.label_selector = Some(v),
            "fieldSelector" => p.field_selector = Some(v),
            "limit" => p.limit = Some(parse_u64(&v)?),
            "continue" => p.continue_token = Some(v).filter(|s| !s.is_empty()),
            "sendInitialEvents" => p.send_initial_events = Some(parse_bool(&k, &v)?),
            _ => {} // pretty, timeout, fieldManager, ...: accepted and ignored
        }
    }
    Ok(p)
}

/// A parsed resourceVersion parameter.
pub(super) enum Rv {
    Unset,
    Any,
    At(u64),
}

pub(super) fn parse_rv(v: &Option<String>) -> Result<Rv, Response> {
    match v.as_deref() {
        None | Some("") => Ok(Rv::Unset),
        Some("0") => Ok(Rv::Any),
        Some(s) => {
            s.parse::<u64>().map(Rv::At).map_err(|_| bad_request(&format!("invalid resource version: {s:?}")))
        }
    }
}

pub(super) fn too_old(requested: u64, oldest: u64) -> (StatusCode, Value) {
    let msg = format!("too old resource version: {requested} ({oldest})");
    (StatusCode::GONE, status_value(410, "Expired", &msg))
}

pub(super) fn too_large(requested: u64, current: u64) -> (StatusCode, Value) {
    let msg = format!("Too large resource version: {requested}, current: {current}");
    let mut v = status_value(504, "Timeout", &msg);
    v["details"] = json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1});
    (StatusCode::GATEWAY_TIMEOUT, v)
}
