//! Wiring: sources → index → DNS server, started from [`ServeArgs`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Error;
use crate::config::ServeArgs;
use crate::dns::{self, Handler, QueryEvent, QueryObserver, TcpSettings};
use crate::index::Update;
use crate::index::{self, IndexHandle, SharedZone};
use crate::source::{kubernetes, manifests, state_file};

/// A started server. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    /// The DNS addresses actually bound (ports resolved).
    pub dns_addrs: Vec<SocketAddr>,
    /// The published zone.
    pub zone: SharedZone,
    /// Where updates go.
    pub index: IndexHandle,
    shutdown: watch::Sender<bool>,
    dns_task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops answering and waits for the DNS server to close its sockets.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.shutdown.send(true);
        self.dns_task.await.map_err(|e| Error::Internal { message: e.to_string() })?.map_err(Error::Io)
    }

    /// Waits until the DNS server ends by itself (a socket failed).
    pub async fn wait(&mut self) -> Result<(), Error> {
        (&mut self.dns_task).await.map_err(|e| Error::Internal { message: e.to_string() })?.map_err(Error::Io)
    }
}

struct QueryLog;

impl QueryObserver for QueryLog {
    fn answered(&self, e: &QueryEvent<'_>) {
        tracing::info!(
            target: "headless_dns::query",
            src = %e.src,
            proto = %e.protocol,
            name = %e.name.map(|n| n.to_string()).unwrap_or_default(),
            qtype = %e.qtype.map(|t| t.to_string()).unwrap_or_default(),
            rcode = %e.rcode,
            tc = e.truncated,
            micros = e.elapsed.as_micros() as u64,
            "query"
        );
    }
}

enum Source {
    Manifests(manifests::Manifests),
    Kubernetes(kube::Client),
}

/// Loads the sources, binds the sockets and starts serving.
///
/// Errors here are the ones a user must fix before the server can run: a broken
/// manifest, an address that cannot be bound, a bad option.
pub async fn start(args: &ServeArgs) -> Result<Running, Error> {
    let settings = args.zone_settings()?;
    let source = if args.manifests.is_empty() {
        Source::Kubernetes(kubernetes::connect(&args.kube_options()).await?)
    } else {
        let (loaded, skipped) = manifests::load_strict(&args.manifests)?;
        for s in &skipped {
            tracing::warn!("{s}");
        }
        Source::Manifests(loaded)
    };

    let mut listeners = Vec::new();
    for addr in &args.listen {
        let workers =
            args.udp_workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let listener =
            dns::bind(*addr, workers).await.map_err(|source| Error::Bind { addr: *addr, source })?;
        listeners.push(listener);
    }
    let dns_addrs = listeners.iter().map(|l| l.local_addr()).collect::<Result<Vec<_>, _>>()?;

    let (index, zone) = index::spawn(settings, Arc::new(()));
    if let Some(path) = &args.state_file {
        match state_file::load(path) {
            Ok(Some(objects)) => {
                tracing::info!(path = %path.display(), objects = objects.len(), "answering from the state file until synced");
                index.send(Update::ReplaceAll(objects));
                index.send(Update::Synced(true));
            }
            Ok(None) => tracing::info!(path = %path.display(), "no state file yet"),
            Err(error) => tracing::warn!(%error, "starting without the saved state"),
        }
        tokio::spawn(state_file::run(path.clone(), index.clone(), Duration::from_secs(1)));
    }
    match source {
        Source::Manifests(loaded) => {
            tokio::spawn(manifests::run(loaded, index.clone()));
        }
        Source::Kubernetes(client) => {
            tracing::info!("watching the Kubernetes API; answering SERVFAIL until the first list completes");
            kubernetes::spawn(client, &args.kube_options(), index.clone(), Arc::new(()));
        }
    }

    let observer: Arc<dyn QueryObserver> = if args.query_log { Arc::new(QueryLog) } else { Arc::new(()) };
    let handler = Handler::new(zone.clone(), args.max_udp_size, observer);
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let tcp = TcpSettings { idle_timeout: Duration::from_secs(args.tcp_idle_timeout.max(1)) };
    let dns_task = tokio::spawn(dns::run(listeners, handler, tcp, async move {
        let _ = shutdown_rx.wait_for(|stop| *stop).await;
    }));
    for addr in &dns_addrs {
        tracing::info!(%addr, "answering DNS on UDP and TCP");
    }
    Ok(Running { dns_addrs, zone, index, shutdown, dns_task })
}
