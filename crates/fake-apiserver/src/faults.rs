//! The fake API server's faults (see "Faults" in `lib.rs`).

use std::sync::atomic::Ordering;

use super::FakeApiServer;
use super::watch::WatchMsg;

impl FakeApiServer {
    /// Aborts every open watch response mid-stream: the HTTP/1.1 connection is closed without the
    /// terminating zero-length chunk (kube sees an unexpected EOF, ends the stream and
    /// re-watches from its last resource version). Applies to hung watches too.
    pub fn drop_watches(&self) {
        let mut store = self.shared.lock();
        for (_, w) in store.watchers.drain() {
            let _ = w.tx.send(WatchMsg::Abort);
        }
    }

    /// Forgets the event history up to now, like etcd compaction: a watch (or an `Exact` list)
    /// from any resource version older than the current one then gets `410 Gone`
    /// (`too old resource version: R (CURRENT)`), and outstanding `continue` tokens expire.
    /// Open watches are not affected. A watch from exactly the current version still works.
    pub fn expire_history(&self) {
        let mut store = self.shared.lock();
        store.compacted_rv = store.rv;
        store.history.clear();
        store.snapshots.clear();
        store.snapshot_order.clear();
    }

    /// While set, every HTTP request (including `/version`, lists and new watches) is answered
    /// with `500 InternalError` and a Status body. kube does not retry 500s by itself. Open
    /// watches are not affected.
    pub fn set_fail_with_500(&self, on: bool) {
        self.shared.fail_500.store(on, Ordering::SeqCst);
    }

    /// While set, every request for resource `plural` (e.g. `endpointslices`) is answered
    /// `403 Forbidden`, as when the ClusterRole lacks it.
    pub fn set_forbidden(&self, plural: &str, on: bool) {
        let mut forbidden = self.shared.forbidden.lock().unwrap_or_else(|e| e.into_inner());
        forbidden.retain(|p| p != plural);
        if on {
            forbidden.push(plural.to_owned());
        }
    }

    /// While set, newly opened watches get `200` and headers, then never another byte (until
    /// [`drop_watches`](Self::drop_watches), [`stop`](Self::stop) or the client gives up).
    /// Watches opened while set stay hung after it is cleared. Note that kube's watcher has a
    /// client-side idle timeout of `timeoutSeconds + 5 s` (295 s by default).
    pub fn set_hang_watches(&self, on: bool) {
        self.shared.hang_watches.store(on, Ordering::SeqCst);
    }
}
