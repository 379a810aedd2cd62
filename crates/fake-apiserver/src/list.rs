//! The fake API server's lists (see `lib.rs`): `resourceVersion` / `resourceVersionMatch`
//! semantics, and `limit` + `continue` pagination against a snapshot taken at the first
//! page.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::requests::{
    Params, Rv, bad_request, json_response, parse_rv, status_response, too_large, too_old,
};
use super::selectors::Filter;
use super::store::Snapshot;
use super::{ResourceType, Shared, crds, served};

/// How many paginated list snapshots are kept for `continue` tokens.
pub(crate) const MAX_SNAPSHOTS: usize = 64;

pub(crate) fn scope_key(filter: &Filter, params: &Params) -> String {
    format!(
        "{}|{}|{}",
        filter.namespace.as_deref().unwrap_or("*"),
        params.label_selector.as_deref().unwrap_or(""),
        params.field_selector.as_deref().unwrap_or("")
    )
}

pub(crate) fn handle_list(
    shared: &Shared,
    res: &'static ResourceType,
    filter: Filter,
    params: &Params,
) -> Response {
    if params.send_initial_events.is_some() {
        return bad_request("sendInitialEvents is forbidden for list");
    }
    let rv = match parse_rv(&params.resource_version) {
        Ok(rv) => rv,
        Err(r) => return r,
    };
    let version_match = params.resource_version_match.as_deref();
    if let Some(m) = version_match {
        if m != "NotOlderThan" && m != "Exact" {
            return bad_request(&format!("invalid resourceVersionMatch: {m:?}"));
        }
        if matches!(rv, Rv::Unset) {
            return bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided");
        }
        if m == "Exact" && matches!(rv, Rv::Any) {
            return bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
        }
    }
    let scope = scope_key(&filter, params);
    let limit = params.limit.filter(|l| *l > 0).map(|l| l as usize);

    let mut store = shared.lock();
    let (snapshot_rv, items, offset, snap_id) = if let Some(token) = &params.continue_token {
        if !matches!(rv, Rv::Unset) {
            return bad_request("specifying resource version is not allowed when using continue");
        }
        let parsed = parse_continue(token);
        let Some((snap_id, offset)) = parsed else {
            return bad_request("continue key is not valid: malformed token");
        };
        let Some(snap) = store.snapshots.get(&snap_id) else {
            return status_response(
                StatusCode::GONE,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            );
        };
        if snap.kind != res.kind || snap.scope != scope {
            return bad_request("continue key is not valid: token does not match this request");
        }
        (snap.rv, snap.items.clone(), offset, Some(snap_id))
    } else {
        let current = store.rv;
        let (list_rv, state) = match (rv, version_match) {
            (Rv::Unset | Rv::Any, _) => (current, None),
            (Rv::At(n), Some("Exact")) => {
                if n > current {
                    let (c, v) = too_large(n, current);
                    return json_response(c, &v);
                }
                if n < store.compacted_rv {
                    let (c, v) = too_old(n, store.compacted_rv);
                    return json_response(c, &v);
                }
                (n, Some(store.state_at(res.kind, n)))
            }
            (Rv::At(n), _) => {
                if n > current {
                    let (c, v) = too_large(n, current);
                    return json_response(c, &v);
                }
                (current, None)
            }
        };
        let source = match &state {
            Some(s) => s,
            None => store.objects.entry(res.kind).or_default(),
        };
        let items: Vec<Arc<Value>> = source
            .iter()
            .filter(|((ns, _), obj)| filter.namespace.as_ref().is_none_or(|f| f == ns) && filter.matches(obj))
            .map(|(_, obj)| obj.clone())
            .collect();
        (list_rv, Arc::new(items), 0usize, None)
    };

    let total = items.len();
    let offset = offset.min(total);
    let end = match limit {
        Some(l) => offset.saturating_add(l).min(total),
        None => total,
    };
    let mut metadata = json!({"resourceVersion": snapshot_rv.to_string()});
    if end < total {
        let id = match snap_id {
            Some(id) => id,
            None => {
                store.next_snapshot_id += 1;
                let id = store.next_snapshot_id;
                store
                    .snapshots
                    .insert(id, Snapshot { kind: res.kind, scope, rv: snapshot_rv, items: items.clone() });
                store.snapshot_order.push_back(id);
                while store.snapshot_order.len() > MAX_SNAPSHOTS {
                    if let Some(old) = store.snapshot_order.pop_front() {
                        store.snapshots.remove(&old);
                    }
                }
                id
            }
        };
        metadata["continue"] = Value::String(format!("fake.{id}.{snapshot_rv}.{end}"));
        metadata["remainingItemCount"] = json!(total - end);
    }
    drop(store);

    /// A list body, serialized from the stored objects without copying them into a
    /// new tree first (that copy made a page of 500 full pods take 60 ms, and a 100k-pod
    /// list 12 s, which measured this server rather than its client).
    #[derive(serde::Serialize)]
    struct ListBody<'a> {
        kind: &'a str,
        #[serde(rename = "apiVersion")]
        api_version: &'a str,
        metadata: Value,
        items: Vec<crds::Served<'a>>,
    }
    let body = ListBody {
        kind: res.list_kind,
        api_version: res.api_version,
        metadata,
        items: items[offset..end].iter().map(|a| served(res, a)).collect(),
    };
    shared.list_count.fetch_add(1, Ordering::SeqCst);
    let mut resp = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn parse_continue(token: &str) -> Option<(u64, usize)> {
    let mut parts = token.split('.');
    if parts.next()? != "fake" {
        return None;
    }
    let id = parts.next()?.parse().ok()?;
    let _rv: u64 = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((id, offset))
}
