//! The fake API server's request routing (see `lib.rs`): the request log, the faults that
//! apply to every request, discovery and the misc endpoints, then a resource path resolved
//! to a GET of one object, a list (`list.rs`) or a watch (`watch.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::list::handle_list;
use super::requests::{bad_request, json_response, not_found, parse_params, status_response, status_value};
use super::selectors::{Filter, parse_field_selector, parse_label_selector};
use super::watch::handle_watch;
use super::{ResourceType, Shared, crds, resource_by_path, served};

/// How many request lines [`FakeApiServer::requests`] keeps.
pub(crate) const MAX_REQUEST_LOG: usize = 10_000;

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    {
        let mut log = shared.request_log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= MAX_REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(format!("{method} {uri}"));
    }
    if shared.fail_500.load(Ordering::SeqCst) {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: injected failure (fake apiserver)",
        );
    }
    let forbidden = shared.forbidden.lock().unwrap_or_else(|e| e.into_inner()).clone();
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
    let path = uri.path();
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();

    let (api_version, rest): (String, &[&str]) = match segs.as_slice() {
        ["version"] => return json_response(StatusCode::OK, &version_json()),
        ["healthz" | "livez" | "readyz"] => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return r;
        }
        ["api"] => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        ["apis"] => return json_response(StatusCode::OK, &crds::api_group_list(&shared.crds)),
        ["api", "v1"] => return crds::api_resource_list(&shared.crds, "v1"),
        ["apis", group, version] => {
            return crds::api_resource_list(&shared.crds, &format!("{group}/{version}"));
        }
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return not_found(),
    };

    // Resolve: (resource, namespace, optional name)
    let (res, namespace, name): (&'static ResourceType, Option<&str>, Option<&str>) = match rest {
        [plural] => match resource_by_path(&api_version, plural) {
            Some(r) => (r, None, None),
            None => return not_found(),
        },
        ["namespaces", ns, plural] => match resource_by_path(&api_version, plural) {
            Some(r) if r.namespaced => (r, Some(*ns), None),
            _ => return not_found(),
        },
        ["namespaces", ns, plural, name] => match resource_by_path(&api_version, plural) {
            Some(r) if r.namespaced => (r, Some(*ns), Some(*name)),
            _ => return not_found(),
        },
        [plural, name] => match resource_by_path(&api_version, plural) {
            Some(r) if !r.namespaced => (r, None, Some(*name)),
            _ => return not_found(),
        },
        _ => return not_found(),
    };
    if !shared.crds.serves(res) {
        return not_found(); // a CRD not installed, or a version it does not serve
    }

    let params = match parse_params(&uri) {
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
        return get_object(&shared, res, namespace.unwrap_or(""), name);
    }
    if params.watch {
        handle_watch(&shared, res, filter, &params)
    } else {
        handle_list(&shared, res, filter, &params)
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
