//! The fake API server's faults (see "Faults" in `lib.rs`): their switches and counters,
//! the replies they make, and the control API that injects them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::FakeApiServer;
use super::log::Verb;
use super::requests::{json_response, status_value};
use super::watch::WatchMsg;

/// `count` for a fault that lasts until it is set again with `0`.
pub const UNTIL_CLEARED: u64 = u64::MAX;

/// [`Faults::silence`]: not silent, silent watches, everything silent.
const LOUD: u8 = 0;
const WATCHES: u8 = 1;
const EVERYTHING: u8 = 2;

/// A reply injected into the next `remaining` requests of some sort.
#[derive(Clone, Copy)]
pub(crate) struct Injected {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
    remaining: u64,
}

/// The switches of the faults that are not about stored state.
#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) fail_500: AtomicBool,
    /// Resource plurals answered `403 Forbidden`, as without RBAC for them.
    pub(crate) forbidden: Mutex<Vec<String>>,
    pub(crate) hang_watches: AtomicBool,
    silence: AtomicU8,
    pub(crate) accept_and_close: AtomicBool,
    throttle: Mutex<Option<Injected>>,
    list_failures: Mutex<Option<Injected>>,
    watch_failures: Mutex<Option<Injected>>,
    pub(crate) expire_next_continue: AtomicBool,
    pub(crate) cut_next_event: AtomicBool,
}

impl Faults {
    /// Whether a new request of `verb` gets no response at all ([`FakeApiServer::go_silent`]).
    pub(crate) fn silences(&self, verb: Verb) -> bool {
        match self.silence.load(Ordering::SeqCst) {
            LOUD => false,
            WATCHES => verb == Verb::Watch,
            _ => true,
        }
    }

    /// Whether new connections are muted as they are accepted.
    pub(crate) fn silences_everything(&self) -> bool {
        self.silence.load(Ordering::SeqCst) == EVERYTHING
    }

    /// The `429` this list or watch request gets from [`FakeApiServer::throttle`], if any.
    pub(crate) fn take_throttle(&self, verb: Verb) -> Option<Injected> {
        matches!(verb, Verb::List | Verb::Watch).then(|| take(&self.throttle)).flatten()
    }

    /// The failure this list or watch request gets from [`FakeApiServer::fail_lists`] or
    /// [`FakeApiServer::fail_watches`], if any.
    pub(crate) fn take_failure(&self, verb: Verb) -> Option<Injected> {
        match verb {
            Verb::List => take(&self.list_failures),
            Verb::Watch => take(&self.watch_failures),
            Verb::Get | Verb::Other => None,
        }
    }
}

/// The reply in `slot` for one request, counted down.
fn take(slot: &Mutex<Option<Injected>>) -> Option<Injected> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    let injected = (*slot)?;
    match injected.remaining {
        UNTIL_CLEARED => {}
        0 | 1 => *slot = None,
        n => *slot = Some(Injected { remaining: n - 1, ..injected }),
    }
    Some(injected)
}

fn set(slot: &Mutex<Option<Injected>>, status: u16, count: u64, retry_after: Option<u64>) {
    assert!((400..=599).contains(&status), "fake apiserver: injected status {status} is not an error");
    let injected = Some(Injected { status, retry_after, remaining: count }).filter(|_| count > 0);
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = injected;
}

impl Injected {
    /// The reply, with the `Status` body the real API server sends for this code.
    pub(crate) fn response(&self) -> Response {
        let (reason, message) = match self.status {
            429 => ("TooManyRequests", "Too many requests, please try again later."),
            500 => ("InternalError", "Internal error occurred: injected failure (fake apiserver)"),
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504 => (
                "Timeout",
                "Timeout: request did not complete within requested timeout - context deadline exceeded",
            ),
            _ => ("", "injected failure (fake apiserver)"),
        };
        let mut body = status_value(self.status, reason, message);
        if let Some(seconds) = self.retry_after {
            body["details"] = json!({"retryAfterSeconds": seconds});
        }
        let code = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(code, &body);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl FakeApiServer {
    /// Aborts every open watch response mid-stream: the HTTP/1.1 connection is closed without the
    /// terminating zero-length chunk (kube sees an unexpected EOF, ends the stream and
    /// re-watches from its last resource version). Applies to hung watches too, and cuts every
    /// connection [`go_silent`](Self::go_silent) muted (the client sees it reset).
    pub fn drop_watches(&self) {
        let mut store = self.shared.lock();
        for (_, w) in store.watchers.drain() {
            let _ = w.tx.send(WatchMsg::Abort);
        }
        drop(store);
        for conn in self.shared.connections.all().into_iter().filter(|c| c.is_muted()) {
            conn.kill();
        }
    }

    /// Cuts every open connection (watches, lists in flight, idle keep-alive connections)
    /// while still listening: the client sees its reads and writes fail. With
    /// [`set_accept_and_close`](Self::set_accept_and_close), the server accepts connections
    /// but answers none; unlike [`stop`](Self::stop), whose connections are refused.
    pub fn drop_connections(&self) {
        for conn in self.shared.connections.all() {
            conn.kill();
        }
    }

    /// Forgets the event history up to now, like etcd compaction: a watch (or an `Exact` list)
    /// from any resource version older than the current one then gets `410 Gone`
    /// (`too old resource version: R (CURRENT)`), and outstanding `continue` tokens expire
    /// (as with [`expire_next_continue`](Self::expire_next_continue)). Open watches are not
    /// affected. A watch from exactly the current version still works.
    pub fn expire_history(&self) {
        let rv = self.current_resource_version();
        self.compact_to(rv);
        for snapshot in self.shared.lock().snapshots.values_mut() {
            snapshot.expired = true;
        }
    }

    /// Forgets the events up to resource version `rv`, as the API server's periodic etcd
    /// compaction does (`--etcd-compaction-interval`, 5 minutes by default, each time up
    /// to the revision of the previous run): a watch or an `Exact` list from an older
    /// version then gets `410 Gone`, and `continue` tokens of lists older than `rv` expire;
    /// newer ones keep working. [`expire_history`](Self::expire_history) is this up to now.
    /// Without it, the history of a server that keeps changing grows without end.
    pub fn compact_to(&self, rv: u64) {
        let mut store = self.shared.lock();
        let rv = rv.min(store.rv);
        if rv <= store.compacted_rv {
            return;
        }
        store.compacted_rv = rv;
        while store.history.front().is_some_and(|event| event.rv <= rv) {
            store.history.pop_front();
        }
        for snapshot in store.snapshots.values_mut() {
            snapshot.expired |= snapshot.rv < rv;
        }
    }

    /// Makes the next continuation of a paged list (the next list request with `continue=`)
    /// answer `410 Gone`, as after an etcd compaction: reason `Expired`, the real message
    /// ("The provided continue parameter is too old to display a consistent list result. You
    /// can start a new list without the continue parameter, or use the continue token in this
    /// response to retrieve the remainder of the results. ...") and in `metadata.continue` the
    /// token that continues inconsistently, from the current state after the last item sent.
    /// One-shot; the history and other tokens are untouched.
    pub fn expire_next_continue(&self) {
        self.shared.faults.expire_next_continue.store(true, Ordering::SeqCst);
    }

    /// While set, every HTTP request (including `/version`, lists and new watches) is answered
    /// with `500 InternalError` and a Status body. kube does not retry 500s by itself. Open
    /// watches are not affected.
    pub fn set_fail_with_500(&self, on: bool) {
        self.shared.faults.fail_500.store(on, Ordering::SeqCst);
    }

    /// Answers the next `count` list requests (each page counts) with `status` (`500`,
    /// `503`, `504`, ..., with the `Status` body the real server sends for it; a `429` gets
    /// `Retry-After: 1` too). `count` [`UNTIL_CLEARED`] lasts until `fail_lists(_, 0)`.
    /// Watches, GETs and discovery are not affected.
    ///
    /// # Panics
    /// If `status` is not in 400..=599.
    pub fn fail_lists(&self, status: u16, count: u64) {
        set(&self.shared.faults.list_failures, status, count, (status == 429).then_some(1));
    }

    /// Answers the next `count` watch requests with `status` instead of `200` and a stream, as
    /// [`fail_lists`](Self::fail_lists) does for lists. Open watches are not affected.
    ///
    /// # Panics
    /// If `status` is not in 400..=599.
    pub fn fail_watches(&self, status: u16, count: u64) {
        set(&self.shared.faults.watch_failures, status, count, (status == 429).then_some(1));
    }

    /// API Priority and Fairness rejecting requests: the next `count` list and watch requests
    /// get `429 Too Many Requests` with `Retry-After: retry_after_seconds` and a Status with
    /// reason `TooManyRequests` and `details.retryAfterSeconds`. `count` [`UNTIL_CLEARED`]
    /// lasts until `throttle(0, _)`. Throttling comes before [`fail_lists`](Self::fail_lists) /
    /// [`fail_watches`](Self::fail_watches) and `403`s. When the client came back:
    /// [`request_log`](Self::request_log).
    pub fn throttle(&self, count: u64, retry_after_seconds: u64) {
        set(&self.shared.faults.throttle, 429, count, Some(retry_after_seconds));
    }

    /// While set, every accepted TCP connection is closed at once, without a response (the
    /// client sees its connection closed or reset). Open connections are not affected (see
    /// [`drop_connections`](Self::drop_connections)). Each attempt is in
    /// [`connection_log`](Self::connection_log).
    pub fn set_accept_and_close(&self, on: bool) {
        self.shared.faults.accept_and_close.store(on, Ordering::SeqCst);
    }

    /// While set, every request for resource `plural` (e.g. `endpointslices`) is answered
    /// `403 Forbidden`, as when the ClusterRole lacks it.
    pub fn set_forbidden(&self, plural: &str, on: bool) {
        let mut forbidden = self.shared.faults.forbidden.lock().unwrap_or_else(|e| e.into_inner());
        forbidden.retain(|p| p != plural);
        if on {
            forbidden.push(plural.to_owned());
        }
    }

    /// While set, newly opened watches get `200` and headers, then never another byte (until
    /// [`drop_watches`](Self::drop_watches), [`stop`](Self::stop) or the client gives up).
    /// Watches opened while set stay hung after it is cleared; open watches are not affected
    /// (for those, see [`go_silent`](Self::go_silent)). Note that kube's watcher has a
    /// client-side idle timeout of `timeoutSeconds + 5 s` (295 s by default).
    pub fn set_hang_watches(&self, on: bool) {
        self.shared.faults.hang_watches.store(on, Ordering::SeqCst);
    }

    /// A silently dead connection: from now on not another byte is written on the
    /// connection of any open watch (no events, no bookmarks, no end at `timeoutSeconds`),
    /// and a new watch request gets no response at all, not even headers; the sockets stay
    /// open and the kernel keeps ACKing, so the client sees nothing wrong but silence. With
    /// `lists_too`, every open connection goes mute and so does every request on a new one
    /// (lists, GETs, discovery, `/version`), as when the server is unreachable but TCP is
    /// not; without it, lists and everything else keep working.
    ///
    /// Connections that went mute stay mute after [`resume`](Self::resume), like a dead
    /// connection; [`drop_watches`](Self::drop_watches), [`drop_connections`](Self::drop_connections)
    /// and [`stop`](Self::stop) cut them. Requests that got no response are in
    /// [`request_log`](Self::request_log) with status `None`.
    pub fn go_silent(&self, lists_too: bool) {
        let faults = &self.shared.faults;
        faults.silence.store(if lists_too { EVERYTHING } else { WATCHES }, Ordering::SeqCst);
        if lists_too {
            self.shared.connections.all().iter().for_each(|c| c.mute());
        }
        let mut store = self.shared.lock();
        for w in store.watchers.values_mut() {
            w.conn.mute();
            w.hang = true;
        }
    }

    /// Ends [`go_silent`](Self::go_silent): new connections and new requests are answered
    /// again. The connections that went mute stay mute: a client recovers by giving up on
    /// them and connecting anew.
    pub fn resume(&self) {
        self.shared.faults.silence.store(LOUD, Ordering::SeqCst);
    }

    /// Cuts the next line any watch stream writes (an event, a bookmark or an `ERROR`) in the
    /// middle: the first half of its JSON is sent, then the connection is aborted without the
    /// terminating chunk. One-shot.
    pub fn cut_next_watch_event(&self) {
        self.shared.faults.cut_next_event.store(true, Ordering::SeqCst);
    }
}
