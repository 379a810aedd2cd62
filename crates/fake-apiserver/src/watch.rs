//! The fake API server's watches (see `lib.rs`): a chunked response of one JSON event per
//! line, replayed from the history or started with the current state (or a streaming
//! list's initial events), then fed live events by `Store::record`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::sync::mpsc;

use super::conn::Conn;
use super::log::Verb;
use super::requests::{Params, Rv, parse_rv, status_response, too_large, too_old};
use super::selectors::Filter;
use super::store::{bookmark_line, event_line, event_line_for};
use super::{FakeApiServer, ResourceType, Shared, served};

pub(crate) enum WatchMsg {
    Line(Bytes),
    /// The bookmark that ends a streaming list's initial events (counted when sent).
    InitialEventsEnd(Bytes),
    /// Abort the HTTP response mid-stream (no terminating chunk).
    Abort,
}

pub(crate) struct WatcherEntry {
    /// The resource as requested: its kind selects the events, its version is served.
    pub(crate) res: &'static ResourceType,
    pub(crate) filter: Filter,
    pub(crate) bookmarks: bool,
    pub(crate) hang: bool,
    /// The connection the response is written to.
    pub(crate) conn: Conn,
    pub(crate) tx: mpsc::UnboundedSender<WatchMsg>,
}

/// Removes a watcher from the registry when its HTTP response body is dropped.
pub(crate) struct WatchGuard {
    pub(crate) shared: Weak<Shared>,
    pub(crate) id: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().watchers.remove(&self.id);
        }
    }
}

pub(crate) fn handle_watch(
    shared: &Arc<Shared>,
    conn: &Conn,
    res: &'static ResourceType,
    filter: Filter,
    params: &Params,
) -> Response {
    let rv = match parse_rv(&params.resource_version) {
        Ok(rv) => rv,
        Err(r) => return r,
    };
    let send_initial = params.send_initial_events.unwrap_or(false);
    if params.send_initial_events.is_some() && !shared.streaming_lists.load(Ordering::SeqCst) {
        return status_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        );
    }
    match (params.send_initial_events, params.resource_version_match.as_deref()) {
        (Some(_), m) => {
            if m != Some("NotOlderThan") {
                return status_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                );
            }
            if send_initial && !params.allow_bookmarks {
                return status_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                );
            }
        }
        (None, Some(_)) => {
            return status_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            );
        }
        (None, None) => {}
    }
    let (tx, rx) = mpsc::unbounded_channel::<WatchMsg>();
    let mut store = shared.lock();
    // `go_silent` since the handler looked: it mutes the watches it finds registered, so
    // under the lock this one is either registered before or sees it here.
    if shared.faults.silences(Verb::Watch) {
        conn.mute();
    }
    let hang = shared.faults.hang_watches.load(Ordering::SeqCst) || conn.is_muted();
    // A hung watch ignores timeoutSeconds too: not one more byte is sent.
    let deadline = params
        .timeout_seconds
        .filter(|_| !hang)
        .filter(|t| *t > 0)
        .map(|t| tokio::time::Instant::now() + Duration::from_secs(t.min(10 * 365 * 24 * 3600)));
    let current = store.rv;
    let mut register = true;

    if !hang {
        let initial_state = send_initial || matches!(rv, Rv::Unset | Rv::Any);
        if let (Rv::At(n), false) = (&rv, send_initial) {
            let n = *n;
            if n < store.compacted_rv {
                let (_, status) = too_old(n, store.compacted_rv);
                let _ = tx.send(WatchMsg::Line(event_line("ERROR", &status)));
                register = false;
            } else if n > current {
                let (_, status) = too_large(n, current);
                let _ = tx.send(WatchMsg::Line(event_line("ERROR", &status)));
                register = false;
            } else {
                for ev in store.history.iter().filter(|e| e.rv > n && e.kind == res.kind) {
                    if let Some(l) = event_line_for(&filter, ev, res) {
                        let _ = tx.send(WatchMsg::Line(l));
                    }
                }
            }
        } else if initial_state {
            if let Some(objs) = store.objects.get(res.kind) {
                for ((ns, _), obj) in objs {
                    if filter.namespace.as_ref().is_none_or(|f| f == ns) && filter.matches(obj) {
                        let l = event_line("ADDED", &served(res, obj));
                        let _ = tx.send(WatchMsg::Line(l));
                    }
                }
            }
            if send_initial {
                let _ = tx.send(WatchMsg::InitialEventsEnd(bookmark_line(res, current, true)));
            }
        }
    }

    let guard = if register {
        store.next_watcher_id += 1;
        let id = store.next_watcher_id;
        store.watchers.insert(
            id,
            WatcherEntry { res, filter, bookmarks: params.allow_bookmarks, hang, conn: conn.clone(), tx },
        );
        Some(WatchGuard { shared: Arc::downgrade(shared), id })
    } else {
        drop(tx); // the stream ends after the queued ERROR event
        None
    };
    drop(store);
    shared.watch_count.fetch_add(1, Ordering::SeqCst);

    let st =
        St { rx, deadline, _guard: guard, conn: conn.clone(), shared: Arc::clone(shared), end: End::Open };
    let stream = futures::stream::unfold(st, |mut st| async move {
        match st.end {
            End::Open => {}
            End::Done => return None,
            End::Cut => {
                // Give hyper the time to flush the half line before the abort drops it.
                tokio::time::sleep(Duration::from_millis(20)).await;
                st.end = End::Done;
                return Some((Err(aborted("cut the watch in the middle of an event")), st));
            }
        }
        loop {
            let muted = st.conn.is_muted();
            let msg = match st.deadline.filter(|_| !muted) {
                Some(d) => match tokio::time::timeout_at(d, st.rx.recv()).await {
                    Ok(msg) => msg,
                    Err(_) if st.conn.is_muted() => continue, // a dead connection does not end
                    Err(_) => return None,
                },
                None => st.rx.recv().await,
            };
            let (line, initial_events_end) = match msg? {
                WatchMsg::Abort => {
                    st.end = End::Done;
                    return Some((Err(aborted("dropped the watch")), st));
                }
                _ if st.conn.is_muted() => continue, // not one more byte
                WatchMsg::Line(line) => (line, false),
                WatchMsg::InitialEventsEnd(line) => (line, true),
            };
            if st.shared.faults.cut_next_event.swap(false, Ordering::SeqCst) {
                st.end = End::Cut;
                return Some((Ok(line.slice(..line.len() / 2)), st));
            }
            if initial_events_end {
                st.shared.initial_streams_sent.fetch_add(1, Ordering::SeqCst);
            }
            return Some((Ok::<Bytes, std::io::Error>(line), st));
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    resp
}

/// A watch response body's state.
struct St {
    rx: mpsc::UnboundedReceiver<WatchMsg>,
    deadline: Option<tokio::time::Instant>,
    _guard: Option<WatchGuard>,
    conn: Conn,
    shared: Arc<Shared>,
    end: End,
}

#[derive(Clone, Copy)]
enum End {
    Open,
    /// Half a line was sent ([`FakeApiServer::cut_next_watch_event`]): abort next.
    Cut,
    Done,
}

fn aborted(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, format!("fake apiserver {what}"))
}

impl FakeApiServer {
    /// Sends a `BOOKMARK` carrying the current resource version to every open (non-hung) watch
    /// that was opened with `allowWatchBookmarks=true`.
    pub fn send_bookmarks(&self) {
        let mut store = self.shared.lock();
        let rv = store.rv;
        store.watchers.retain(|_, w| {
            if !w.bookmarks || w.hang {
                return true;
            }
            w.tx.send(WatchMsg::Line(bookmark_line(w.res, rv, false))).is_ok()
        });
    }

    /// Number of watch streams currently open (registered for live events).
    pub fn open_watches(&self) -> usize {
        self.shared.lock().watchers.len()
    }

    /// Number of watch requests accepted with HTTP 200 so far (including ones whose only event
    /// is a `410` ERROR, and hung ones).
    pub fn watch_count(&self) -> u64 {
        self.shared.watch_count.load(Ordering::SeqCst)
    }

    /// Number of streaming lists whose initial events have all been sent (the
    /// `k8s.io/initial-events-end` bookmark was handed to the connection).
    pub fn initial_streams_sent(&self) -> u64 {
        self.shared.initial_streams_sent.load(Ordering::SeqCst)
    }
}
