//! The fake API server's storage (see `lib.rs`): objects by kind in etcd key order, one
//! global resource-version counter, the event history a watch replays and compaction
//! forgets, and the control API that changes them (`apply`, `delete`, `get`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Value, json};

use super::selectors::Filter;
use super::watch::{WatchMsg, WatcherEntry};
use super::{FakeApiServer, ResourceType, all_kinds, resource_by_kind, served};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the history (what etcd's watch would replay).
pub(crate) struct HistEvent {
    pub(crate) rv: u64,
    pub(crate) kind: &'static str,
    pub(crate) key: (String, String),
    pub(crate) ty: EventType,
    /// The object as sent with the event (for DELETED: last state with the delete's RV).
    pub(crate) object: Arc<Value>,
    /// The state before this event (None for ADDED).
    pub(crate) prev: Option<Arc<Value>>,
}

pub(crate) struct Snapshot {
    pub(crate) kind: &'static str,
    pub(crate) scope: String,
    pub(crate) rv: u64,
    pub(crate) items: Arc<Vec<Arc<Value>>>,
    /// Compacted away by [`FakeApiServer::expire_history`]: continuing it is a `410`.
    pub(crate) expired: bool,
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) rv: u64,
    pub(crate) objects: HashMap<&'static str, BTreeMap<(String, String), Arc<Value>>>,
    pub(crate) history: VecDeque<HistEvent>,
    /// Events with `rv <= compacted_rv` have been forgotten.
    pub(crate) compacted_rv: u64,
    pub(crate) watchers: HashMap<u64, WatcherEntry>,
    pub(crate) next_watcher_id: u64,
    pub(crate) snapshots: HashMap<u64, Snapshot>,
    pub(crate) snapshot_order: VecDeque<u64>,
    pub(crate) next_snapshot_id: u64,
    pub(crate) uid_counter: u64,
}

impl Store {
    /// Appends an event to the history and fans it out to live watchers.
    pub(crate) fn record(&mut self, ev: HistEvent) {
        let mut dead = Vec::new();
        for (id, w) in &self.watchers {
            if w.hang || w.res.kind != ev.kind {
                continue;
            }
            if let Some(line) = event_line_for(&w.filter, &ev, w.res)
                && w.tx.send(WatchMsg::Line(line)).is_err()
            {
                dead.push(*id);
            }
        }
        for id in dead {
            self.watchers.remove(&id);
        }
        self.history.push_back(ev);
    }

    pub(crate) fn new_uid(&mut self, seed: u64) -> String {
        self.uid_counter += 1;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (seed >> 32) as u32,
            (seed >> 16) as u16,
            (seed & 0xfff) as u16,
            (self.uid_counter >> 48) & 0xfff,
            self.uid_counter & 0xffff_ffff_ffff
        )
    }

    /// The objects of `kind` as they were at `rv` (requires `rv >= compacted_rv`).
    pub(crate) fn state_at(&self, kind: &'static str, rv: u64) -> BTreeMap<(String, String), Arc<Value>> {
        let mut state = self.objects.get(kind).cloned().unwrap_or_default();
        for ev in self.history.iter().rev() {
            if ev.rv <= rv {
                break;
            }
            if ev.kind != kind {
                continue;
            }
            match (&ev.ty, &ev.prev) {
                (EventType::Added, _) => {
                    state.remove(&ev.key);
                }
                (_, Some(prev)) => {
                    state.insert(ev.key.clone(), prev.clone());
                }
                (_, None) => {
                    state.remove(&ev.key);
                }
            }
        }
        state
    }
}

/// Computes the watch line a watcher with `filter` should see for `ev` (watch cache semantics).
pub(crate) fn event_line_for(filter: &Filter, ev: &HistEvent, res: &'static ResourceType) -> Option<Bytes> {
    if filter.namespace.as_ref().is_some_and(|ns| ns != &ev.key.0) {
        return None;
    }
    let (ty, obj): (EventType, Value) = match ev.ty {
        EventType::Added => {
            if !filter.matches(&ev.object) {
                return None;
            }
            (EventType::Added, (*ev.object).clone())
        }
        EventType::Deleted => {
            if !filter.matches(&ev.object) {
                return None;
            }
            (EventType::Deleted, (*ev.object).clone())
        }
        EventType::Modified => {
            let now = filter.matches(&ev.object);
            let before = ev.prev.as_ref().is_some_and(|p| filter.matches(p));
            match (before, now) {
                (true, true) => (EventType::Modified, (*ev.object).clone()),
                (false, true) => (EventType::Added, (*ev.object).clone()),
                (true, false) => {
                    // The previous content, but with this event's resourceVersion.
                    let mut old = ev.prev.as_ref().map(|p| (**p).clone()).unwrap_or(Value::Null);
                    set_rv(&mut old, ev.rv);
                    (EventType::Deleted, old)
                }
                (false, false) => return None,
            }
        }
    };
    Some(event_line(ty.as_str(), &served(res, &obj)))
}

/// `{"type":TYPE,"object":OBJ}\n` with `type` first, as the real server writes it.
pub(crate) fn event_line(ty: &str, object: &(impl serde::Serialize + ?Sized)) -> Bytes {
    let mut buf = format!("{{\"type\":\"{ty}\",\"object\":").into_bytes();
    let _ = serde_json::to_writer(&mut buf, object);
    buf.extend_from_slice(b"}\n");
    Bytes::from(buf)
}

pub(crate) fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

pub(crate) fn bookmark_line(res: &ResourceType, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line("BOOKMARK", &json!({"kind": res.kind, "apiVersion": res.api_version, "metadata": metadata}))
}

impl FakeApiServer {
    /// Creates or replaces an object. `object` needs `kind` (one of
    /// [`SUPPORTED_KINDS`](crate::SUPPORTED_KINDS) or [`CRD_KINDS`](crate::CRD_KINDS), which
    /// are stored whatever their `apiVersion` and served as requested) and `metadata.name`;
    /// `metadata.namespace` defaults to `default` for namespaced kinds and `apiVersion` is
    /// filled in if missing. The server sets `metadata.resourceVersion`, keeps (or assigns)
    /// `metadata.uid` and `metadata.creationTimestamp`, and bumps `metadata.generation` of
    /// StatefulSets when their spec changes. Emits `ADDED` (new object) or `MODIFIED`
    /// (replacement) with a new resource version, which is returned.
    ///
    /// # Panics
    /// If `object` is not a JSON object, has an unsupported `kind` or no `metadata.name` —
    /// these are bugs in the calling test.
    pub fn apply(&self, mut object: Value) -> u64 {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let res = resource_by_kind(&kind).unwrap_or_else(|| {
            let mut kinds: Vec<&str> = all_kinds().map(|r| r.kind).collect();
            kinds.dedup();
            panic!("fake apiserver: apply: unsupported kind {kind:?} (supported: {kinds:?})")
        });
        let Some(obj_map) = object.as_object_mut() else { panic!("fake apiserver: apply: not an object") };
        obj_map.insert("kind".into(), Value::String(res.kind.into()));
        if !obj_map.get("apiVersion").is_some_and(Value::is_string) {
            obj_map.insert("apiVersion".into(), Value::String(res.api_version.into()));
        }
        if !obj_map.get("metadata").is_some_and(Value::is_object) {
            obj_map.insert("metadata".into(), json!({}));
        }
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| panic!("fake apiserver: apply: {kind} without metadata.name"))
            .to_string();
        let namespace = if res.namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };

        let mut store = self.shared.lock();
        let key = (namespace.clone(), name);
        let prev = store.objects.get(res.kind).and_then(|m| m.get(&key)).cloned();
        store.rv += 1;
        let rv = store.rv;
        let uid = match prev.as_ref().and_then(|p| p.pointer("/metadata/uid")).and_then(Value::as_str) {
            Some(u) => u.to_string(),
            None => {
                let seed = self.shared.uid_seed;
                store.new_uid(seed)
            }
        };
        let meta = object["metadata"].as_object_mut().expect("metadata is an object");
        if res.namespaced {
            meta.insert("namespace".into(), Value::String(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        if meta.get("uid").and_then(Value::as_str).is_none_or(str::is_empty) {
            meta.insert("uid".into(), Value::String(uid));
        }
        if !meta.contains_key("creationTimestamp") {
            let ts = prev
                .as_ref()
                .and_then(|p| p.pointer("/metadata/creationTimestamp"))
                .cloned()
                .unwrap_or_else(|| Value::String(rfc3339_now()));
            meta.insert("creationTimestamp".into(), ts);
        }
        if res.kind == "StatefulSet" && !meta.contains_key("generation") {
            let prev_gen =
                prev.as_ref().and_then(|p| p.pointer("/metadata/generation")).and_then(Value::as_i64);
            let spec_changed = prev.as_ref().is_none_or(|p| p.get("spec") != object.get("spec"));
            let generation = match prev_gen {
                Some(g) if !spec_changed => g,
                Some(g) => g + 1,
                None => 1,
            };
            object["metadata"]["generation"] = json!(generation);
        }
        let object = Arc::new(object);
        store.objects.entry(res.kind).or_default().insert(key.clone(), object.clone());
        let ty = if prev.is_some() { EventType::Modified } else { EventType::Added };
        store.record(HistEvent { rv, kind: res.kind, key, ty, object, prev });
        rv
    }

    /// Deletes an object and emits `DELETED` carrying its last state with the new resource
    /// version. `namespace` is ignored for cluster-scoped kinds. Returns `false` (and changes
    /// nothing) if the object or the kind does not exist.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> bool {
        let Some(res) = resource_by_kind(kind) else {
            return false;
        };
        let ns = if res.namespaced { namespace } else { "" };
        let key = (ns.to_string(), name.to_string());
        let mut store = self.shared.lock();
        let Some(prev) = store.objects.get_mut(res.kind).and_then(|m| m.remove(&key)) else {
            return false;
        };
        store.rv += 1;
        let rv = store.rv;
        let mut obj = (*prev).clone();
        set_rv(&mut obj, rv);
        store.record(HistEvent {
            rv,
            kind: res.kind,
            key,
            ty: EventType::Deleted,
            object: Arc::new(obj),
            prev: Some(prev),
        });
        true
    }

    /// Returns a copy of a stored object, if present.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = resource_by_kind(kind)?;
        let ns = if res.namespaced { namespace } else { "" };
        let store = self.shared.lock();
        store.objects.get(res.kind)?.get(&(ns.to_string(), name.to_string())).map(|o| (**o).clone())
    }

    /// The latest resource version handed out (0 before the first change).
    pub fn current_resource_version(&self) -> u64 {
        self.shared.lock().rv
    }
}

/// Current UTC time as RFC 3339 with second precision (`2024-01-02T03:04:05Z`).
pub(crate) fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", sod / 3600, (sod % 3600) / 60, sod % 60)
}
