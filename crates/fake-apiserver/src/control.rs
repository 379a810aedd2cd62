//! The fake API server's lifecycle and observation API (see `lib.rs`): start, stop and
//! restart on the same port, the kubeconfig, and the counters and request log tests assert
//! on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::conn::{Conn, Connections, KillableListener};
use super::faults::Faults;
use super::handler::handle;
use super::log::Log;
use super::store::Store;
use super::{FakeApiServer, Running, Shared, crds};

impl FakeApiServer {
    /// Binds `127.0.0.1:0` and starts serving. Must be called inside a tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> FakeApiServer {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
            ^ (std::process::id() as u64).rotate_left(32);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            faults: Faults::default(),
            streaming_lists: AtomicBool::new(true),
            initial_streams_sent: AtomicU64::new(0),
            list_count: AtomicU64::new(0),
            watch_count: AtomicU64::new(0),
            active_connections: AtomicUsize::new(0),
            connections: Connections::default(),
            uid_seed: seed,
            log: Log::default(),
            crds: crds::CrdSwitches::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake apiserver: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake apiserver: local_addr");
        let server = FakeApiServer { shared, addr, running: Mutex::new(None) };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let (kill_tx, kill_rx) = watch::channel(false);
        let app = Router::new()
            .fallback(handle)
            .with_state(self.shared.clone())
            .into_make_service_with_connect_info::<Conn>();
        let listener = KillableListener { inner: listener, kill: kill_rx, shared: self.shared.clone() };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running { task, kill: kill_tx });
    }

    /// Base URL of the server, `http://127.0.0.1:PORT` (stable across [`stop`](Self::stop) /
    /// [`restart`](Self::restart)).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig pointing at this server (plain http, dummy bearer token) with a single
    /// context `fake` (also the current context, default namespace `default`) to
    /// `dir/kubeconfig-fake-PORT` and returns its path.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("kubeconfig-fake-{}", self.addr.port()));
        let content = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake\n  cluster:\n    server: {url}\n\
             users:\n\
             - name: fake\n  user:\n    token: fake-token\n\
             contexts:\n\
             - name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             current-context: fake\n",
            url = self.url()
        );
        std::fs::write(&path, content).expect("fake apiserver: write kubeconfig");
        path
    }

    /// Stops listening and drops every connection (clients get "connection refused" until
    /// [`restart`](Self::restart)); state, history and the RV counter are kept. Waits (up to
    /// 5 s) until all connections are closed. No-op if already stopped.
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(Running { task, kill }) = running else {
            return;
        };
        task.abort();
        let _ = task.await; // the listener is dropped with the serve future
        let _ = kill.send(true);
        self.drop_watches();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.shared.active_connections.load(Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Listens again on the same port with the same state (and RV counter). No-op if running.
    ///
    /// # Panics
    /// If the port cannot be bound again within ~10 s.
    pub async fn restart(&self) {
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    attempts += 1;
                    if attempts > 200 {
                        panic!("fake apiserver: cannot re-bind {}: {e}", self.addr);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.serve(listener);
    }

    /// Whether the server is currently listening.
    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// With `false`, a watch with `sendInitialEvents` is refused with `422 Invalid`, as an
    /// API server without the `WatchList` feature gate refuses it (on by default).
    pub fn set_streaming_lists(&self, on: bool) {
        self.shared.streaming_lists.store(on, Ordering::SeqCst);
    }

    /// Number of successful (HTTP 200) list requests so far; each page counts.
    pub fn list_count(&self) -> u64 {
        self.shared.list_count.load(Ordering::SeqCst)
    }
}
