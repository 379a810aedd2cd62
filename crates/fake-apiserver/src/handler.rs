//! The fake API server's request routing (see `lib.rs`): the request log, the faults that
//! apply to every request, discovery and the misc endpoints, then a resource path resolved
//! to a GET of one object, a list (`list.rs`) or a watch (`watch.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::conn::Conn;
use super::list::handle_list;
use super::log::Verb;
use super::requests::{
    Params, bad_request, json_response, not_found, parse_params, status_response, status_value,
};
use super::selectors::{Filter, parse_field_selector, parse_label_selector};
use super::watch::handle_watch;
use super::{ResourceType, Shared, crds, resource_by_path, served};

/// What a request path names.
enum Route<'a> {
    Version,
    Health,
    Api,
    Apis,
    /// `/api/v1` or `/apis/GROUP/VERSION`.
    Resources(String),
    /// A served resource: a collection, or one object if `name` is set.
    Resource {
        res: &'static ResourceType,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    },
    NotFound,
}

fn route<'a>(shared: &Shared, path: &'a str) -> Route<'a> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (api_version, rest): (String, &[&str]) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "livez" | "readyz"] => return Route::Health,
        ["api"] => return Route::Api,
        ["apis"] => return Route::Apis,
        ["api", "v1"] => return Route::Resources("v1".to_string()),
        ["apis", group, version] => return Route::Resources(format!("{group}/{version}")),
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return Route::NotFound,
    };
    let found = |plural: &str, namespaced: bool| {
        resource_by_path(&api_version, plural).filter(|r| r.namespaced == namespaced)
    };
    let (res, namespace, name) = match rest {
        [plural] => (resource_by_path(&api_version, plural), None, None),
        ["namespaces", ns, plural] => (found(plural, true), Some(*ns), None),
        ["namespaces", ns, plural, name] => (found(plural, true), Some(*ns), Some(*name)),
        [plural, name] => (found(plural, false), None, Some(*name)),
        _ => (None, None, None),
    };
    match res {
        // Not a CRD that is not installed, or a version it does not serve.
        Some(res) if shared.crds.serves(res) => Route::Resource { res, namespace, name },
        _ => Route::NotFound,
    }
}

fn verb(method: &Method, route: &Route, params: Option<&Params>) -> Verb {
    match route {
        _ if method != Method::GET && method != Method::HEAD => Verb::Other,
        Route::Resource { name: Some(_), .. } => Verb::Get,
        Route::Resource { .. } if params.is_some_and(|p| p.watch) => Verb::Watch,
        Route::Resource { .. } => Verb::List,
        _ => Verb::Other,
    }
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
) -> Response {
    let route = route(&shared, uri.path());
    let params = parse_params(&uri);
    let verb = verb(&method, &route, params.as_ref().ok());
    let seq = shared.log.request(&method, &uri, verb);
    if conn.is_muted() || shared.faults.silences(verb) {
        // A silently dead connection: no response, ever; the future is dropped with the
        // connection when it is cut or the client closes it.
        conn.mute();
        std::future::pending::<()>().await;
    }
    let response = respond(&shared, &conn, &method, &uri, route, params, verb);
    shared.log.respond(seq, response.status().as_u16());
    response
}

fn respond(
    shared: &Arc<Shared>,
    conn: &Conn,
    method: &Method,
    uri: &Uri,
    route: Route,
    params: Result<Params, Response>,
    verb: Verb,
) -> Response {
    let faults = &shared.faults;
    if faults.fail_500.load(Ordering::SeqCst) {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: injected failure (fake apiserver)",
        );
    }
    if let Some(throttled) = faults.take_throttle(verb) {
        return throttled.response();
    }
    let forbidden = faults.forbidden.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(plural) = forbidden.iter().find(|p| uri.path().split('/').any(|seg| seg == p.as_str())) {
        return status_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "{plural} is forbidden: User \"system:serviceaccount:fake\" cannot list resource \"{plural}\""
            ),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        return status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake apiserver only serves GET (use the Rust control API to change state)",
        );
    }
    let (res, namespace, name) = match route {
        Route::Version => return json_response(StatusCode::OK, &version_json()),
        Route::Health => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return r;
        }
        Route::Api => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        Route::Apis => return json_response(StatusCode::OK, &crds::api_group_list(&shared.crds)),
        Route::Resources(group_version) => return crds::api_resource_list(&shared.crds, &group_version),
        Route::NotFound => return not_found(),
        Route::Resource { res, namespace, name } => (res, namespace, name),
    };

    let params = match params {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut filter = Filter { namespace: namespace.map(str::to_string), ..Default::default() };
    if let Some(ls) = &params.label_selector {
        match parse_label_selector(ls) {
            Ok(reqs) => filter.labels = reqs,
            Err(e) => return bad_request(&format!("unable to parse labelSelector: {e}")),
        }
    }
    if let Some(fs) = &params.field_selector {
        match parse_field_selector(fs) {
            Ok(reqs) => filter.fields = reqs,
            Err(e) => return bad_request(&format!("unable to parse fieldSelector: {e}")),
        }
    }

    if let Some(name) = name {
        return get_object(shared, res, namespace.unwrap_or(""), name);
    }
    if let Some(failure) = faults.take_failure(verb) {
        return failure.response();
    }
    if params.watch {
        handle_watch(shared, conn, res, filter, &params)
    } else {
        handle_list(shared, res, filter, &params)
    }
}

pub(crate) fn version_json() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn get_object(shared: &Shared, res: &'static ResourceType, ns: &str, name: &str) -> Response {
    let store = shared.lock();
    let key = (ns.to_string(), name.to_string());
    match store.objects.get(res.kind).and_then(|m| m.get(&key)) {
        Some(obj) => json_response(StatusCode::OK, &served(res, obj)),
        None => {
            let mut v = status_value(404, "NotFound", &format!("{} \"{}\" not found", res.plural, name));
            let group = res.api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
            v["details"] = json!({"name": name, "group": group, "kind": res.plural});
            json_response(StatusCode::NOT_FOUND, &v)
        }
    }
}
