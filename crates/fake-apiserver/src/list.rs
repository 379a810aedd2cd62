//! The fake API server's lists (see `lib.rs`): `resourceVersion` / `resourceVersionMatch`
//! semantics, and `limit` + `continue` pagination against a snapshot taken at the first
//! page.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::requests::{
    Params, Rv, bad_request, json_response, parse_rv, status_response, status_value, too_large, too_old,
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
        let Some(token) = parse_continue(token) else {
            return bad_request("continue key is not valid: malformed token");
        };
        let expire = shared.faults.expire_next_continue.swap(false, Ordering::SeqCst);
        match token {
            Token::After(key) => {
                if expire {
                    return expired_continue(Some(&key));
                }
                // Inconsistent: the current state, after the last item the client has.
                let items: Vec<Arc<Value>> = store
                    .objects
                    .entry(res.kind)
                    .or_default()
                    .range((Bound::Excluded(key), Bound::Unbounded))
                    .filter(|((ns, _), obj)| {
                        filter.namespace.as_ref().is_none_or(|f| f == ns) && filter.matches(obj)
                    })
                    .map(|(_, obj)| obj.clone())
                    .collect();
                (store.rv, Arc::new(items), 0, None)
            }
            Token::Snapshot { id, offset } => {
                let Some(snap) = store.snapshots.get(&id) else {
                    return expired_continue(None);
                };
                if snap.kind != res.kind || snap.scope != scope {
                    return bad_request("continue key is not valid: token does not match this request");
                }
                if snap.expired || expire {
                    let last = offset.checked_sub(1).and_then(|i| snap.items.get(i));
                    return expired_continue(last.map(|o| key_of(o)).as_ref());
                }
                (snap.rv, snap.items.clone(), offset, Some(id))
            }
        }
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
                store.snapshots.insert(
                    id,
                    Snapshot { kind: res.kind, scope, rv: snapshot_rv, items: items.clone(), expired: false },
                );
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
    /// new tree first (that copy made large lists slow enough to measure this server
    /// rather than its client).
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

/// A `continue` token: `fake.ID.RV.OFFSET` (a page of snapshot ID), or `fake.after.NS/NAME`
/// (the inconsistent continuation a `410` on an expired token offers: the current state
/// after that key).
enum Token {
    Snapshot { id: u64, offset: usize },
    After((String, String)),
}

fn parse_continue(token: &str) -> Option<Token> {
    if let Some(key) = token.strip_prefix("fake.after.") {
        let (ns, name) = key.split_once('/')?;
        return Some(Token::After((ns.to_string(), name.to_string())));
    }
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
    Some(Token::Snapshot { id, offset })
}

/// The storage key (namespace, name) of a stored object.
fn key_of(object: &Value) -> (String, String) {
    let field = |name: &str| object.pointer(name).and_then(Value::as_str).unwrap_or("").to_string();
    (field("/metadata/namespace"), field("/metadata/name"))
}

/// The real API server's message for a continue token whose snapshot etcd compacted away.
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list \
    result. You can start a new list without the continue parameter.";
/// ... and the one when it offers an inconsistent continuation.
const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent \
    list result. You can start a new list without the continue parameter, or use the continue token in \
    this response to retrieve the remainder of the results. Continuing with the provided token results \
    in an inconsistent list - objects that were created, modified, or deleted between the time the \
    first chunk was returned and now may show up in the list.";

/// `410 Expired` for a continuation, with the token that continues inconsistently after
/// `last` (the key of the last item sent) if known, as the real server sends it.
fn expired_continue(last: Option<&(String, String)>) -> Response {
    let Some((ns, name)) = last else {
        return status_response(StatusCode::GONE, "Expired", CONTINUE_EXPIRED);
    };
    let mut status = status_value(410, "Expired", INCONSISTENT_CONTINUE);
    status["metadata"] = json!({"continue": format!("fake.after.{ns}/{name}")});
    json_response(StatusCode::GONE, &status)
}
