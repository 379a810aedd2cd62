//! Wiring: sources → index → DNS server and admin server, started from [`ServeArgs`];
//! and the offline commands (`explain`, `records`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Error;
use crate::admin::{self, AdminState, Metrics};
use crate::config::{ConfigError, ExplainArgs, RecordsArgs, ServeArgs, Target};
use crate::dns::{self, Handler, QueryEvent, QueryObserver, TcpSettings};
use crate::index::{self, Index, IndexHandle, Update};
use crate::source::{kubernetes, manifests, state_file};
use crate::zone::{Scope, SharedZones, ZoneKind};

/// A started server. Dropping it does not stop it; call [`Running::shutdown`] or [`Running::stop`].
pub struct Running {
    /// The DNS addresses actually bound (ports resolved).
    pub dns_addrs: Vec<SocketAddr>,
    /// The `--external-listen` addresses actually bound: the external zones alone.
    pub external_addrs: Vec<SocketAddr>,
    /// The admin HTTP address, when enabled.
    pub admin_addr: Option<SocketAddr>,
    /// The published zones.
    pub zones: SharedZones,
    /// Where updates go.
    pub index: IndexHandle,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    admin: Arc<AdminState>,
    shutdown: watch::Sender<bool>,
    dns_task: JoinHandle<std::io::Result<()>>,
    admin_task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Graceful shutdown: readiness fails at once, DNS keeps answering for `lameduck` so
    /// load balancers and endpoints drain, then everything stops.
    pub async fn shutdown(self, lameduck: Duration) -> Result<(), Error> {
        self.admin.shutting_down.store(true, Ordering::Relaxed);
        tracing::info!(
            ?lameduck,
            "shutting down: /readyz now fails, DNS keeps answering during the lameduck period"
        );
        tokio::time::sleep(lameduck).await;
        self.stop().await
    }

    /// Stops answering at once and waits for the sockets to close.
    pub async fn stop(self) -> Result<(), Error> {
        self.admin.shutting_down.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        if let Some(task) = self.admin_task {
            let _ = task.await;
        }
        self.dns_task.await.map_err(|e| Error::Internal { message: e.to_string() })?.map_err(Error::Io)
    }

    /// Waits until the DNS server ends by itself (a socket failed).
    pub async fn wait(&mut self) -> Result<(), Error> {
        (&mut self.dns_task).await.map_err(|e| Error::Internal { message: e.to_string() })?.map_err(Error::Io)
    }
}

/// Metrics, plus the optional query log.
struct Observer {
    metrics: Arc<Metrics>,
    query_log: bool,
}

impl QueryObserver for Observer {
    fn transferred(&self, qtype: RecordType, result: &'static str) {
        self.metrics.transferred(qtype, result);
    }

    fn response_cache_lookup(&self, lookup: crate::dns::response_cache::Lookup) {
        self.metrics.response_cache_lookup(lookup);
    }

    fn response_cache_dropped(&self, dropped: crate::dns::response_cache::Dropped) {
        self.metrics.response_cache_dropped(dropped);
    }

    fn answered(&self, e: &QueryEvent<'_>) {
        self.metrics.answered(e);
        if self.query_log {
            tracing::info!(
                target: "headless_dns::query",
                src = %e.src,
                proto = %e.protocol,
                name = %e.name.map(|n| n.to_string()).unwrap_or_default(),
                qtype = %e.qtype.map(|t| t.to_string()).unwrap_or_default(),
                rcode = %crate::telemetry::rcode_mnemonic(e.rcode),
                answered = %e.source.as_str(),
                tc = e.truncated,
                micros = e.elapsed.as_micros() as u64,
                "query"
            );
        }
    }
}

enum Source {
    Manifests(Box<manifests::Manifests>),
    Kubernetes(kube::Client),
}

/// Loads the sources, binds the sockets and starts serving.
///
/// Errors here are the ones a user must fix before the server can run: a broken
/// manifest, an address that cannot be bound, no cluster, a bad option.
pub async fn start(args: &ServeArgs) -> Result<Running, Error> {
    let settings = args.zone_settings()?;
    // Before connecting or binding anything: a key file that cannot be used is named at once.
    let tsig_keys = args.tsig_keys()?;
    let forward = args.forward_settings()?;
    let metrics = Arc::new(Metrics::new());
    let (index, zones) = index::spawn(settings, metrics.clone());
    if args.manifests.is_empty() {
        // Serials come from the API's resourceVersions (see index::serial).
        index.send(Update::SerialsFromRevisions);
    }
    if let Some(path) = &args.state_file {
        match state_file::load(path) {
            Ok(Some(objects)) => {
                // How old its answers are: what a reader of this line wants to know first.
                let age = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|saved| saved.elapsed().ok())
                    .map_or_else(|| "of unknown age".to_owned(), |age| format!("saved {} ago", rough(age)));
                tracing::info!(path = %path.display(), objects = objects.len(), "answering from the state file ({age}) until synced");
                metrics.answering_from_state_file();
                index.send(Update::ReplaceAll(objects));
                index.send(Update::Synced(true));
            }
            Ok(None) => tracing::info!(path = %path.display(), "no state file yet"),
            Err(error) => tracing::warn!(%error, "starting without the saved state"),
        }
        tokio::spawn(state_file::run(path.clone(), index.clone(), Duration::from_secs(1)));
    }
    let source = if args.manifests.is_empty() {
        Source::Kubernetes(kubernetes::connect(&args.kube_options()).await?)
    } else {
        // Parsed on a thread of its own and streamed to the index in chunks: the index
        // stores one chunk while the next is parsed, its long-lived allocations stay apart
        // from the parser's short-lived ones, and the parser's heap is returned when the
        // thread ends (a pooled blocking thread would hold it while idle).
        let (roots, sink) = (args.manifests.clone(), index.clone());
        // Answering from a state file meanwhile: the files are the whole truth, so the load
        // is a relist of every kind, which deletes what the state file has and no file
        // does any more (a file removed while the server was down). Until it completes,
        // the state file's answers stay published.
        let relist = metrics.is_answering_from_state_file();
        if relist {
            for kind in crate::cluster::Kind::ALL {
                index.send(Update::BeginResync(kind));
            }
        }
        let (done, loaded) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("manifest-load".into())
            .spawn(move || {
                let _ = done.send(manifests::load_strict(&roots, &mut |chunk| {
                    sink.send(Update::Batch(chunk));
                }));
            })
            .map_err(Error::Io)?;
        let (loaded, skipped) = loaded
            .await
            .map_err(|_| Error::Internal { message: "the manifest loader thread panicked".into() })??;
        // Only now is a publication a sync with the files: the state file's, before, was not.
        metrics.sync_on_publish();
        if relist {
            for kind in crate::cluster::Kind::ALL {
                index.send(Update::FinishResync(kind));
            }
            // Files that hold what the state file did publish nothing new: the sync is
            // when the index has applied them (an inspect runs after what was sent before).
            let (index, metrics) = (index.clone(), metrics.clone());
            tokio::spawn(async move {
                if index.inspect(|_| ()).await.is_some() {
                    kubernetes::WatchObserver::synced(&*metrics);
                }
            });
        }
        // Those with a kind and name reach the index as refused, which logs them once.
        for s in skipped.iter().filter(|s| s.object.is_none()) {
            tracing::warn!("{s}");
        }
        Source::Manifests(Box::new(loaded))
    };

    let workers = args.udp_worker_count();
    // Every address this run listens on: a hint for one that fails names none of them.
    let configured: Vec<std::net::SocketAddr> = args
        .listen_addrs()
        .into_iter()
        .chain(args.external_listen.iter().flat_map(|l| l.addrs.iter().copied()))
        .chain(args.admin.0)
        .collect();
    let mut listeners = Vec::new();
    for addr in args.listen_addrs() {
        let listener = dns::bind(addr, workers)
            .await
            .map_err(|source| Error::bind("--listen", addr, source, &configured))?;
        listeners.push(listener);
    }
    let dns_addrs = listeners.iter().map(|l| l.local_addr()).collect::<Result<Vec<_>, _>>()?;
    let mut external_listeners = Vec::new();
    for addr in args.external_listen.iter().flat_map(|l| l.addrs.iter().copied()) {
        let listener = dns::bind(addr, workers)
            .await
            .map_err(|source| Error::bind("--external-listen", addr, source, &configured))?;
        external_listeners.push(listener);
    }
    let external_addrs = external_listeners.iter().map(|l| l.local_addr()).collect::<Result<Vec<_>, _>>()?;
    let admin_listener = match args.admin.0 {
        Some(addr) => Some(match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            // The default address is a convenience, not a requirement: a taken default
            // port gives way to a free one, said in the log; an address asked for fails.
            Err(source) if !args.admin_given && source.kind() == std::io::ErrorKind::AddrInUse => {
                let free = std::net::SocketAddr::new(addr.ip(), 0);
                let listener = tokio::net::TcpListener::bind(free)
                    .await
                    .map_err(|e| Error::bind("--admin", free, e, &[]))?;
                let bound = listener.local_addr()?;
                tracing::warn!(
                    "{addr} is taken by another process: the admin endpoints are on {bound} instead (--admin sets them)"
                );
                listener
            }
            Err(source) => return Err(Error::bind("--admin", addr, source, &configured)),
        }),
        None => None,
    };

    match source {
        Source::Manifests(loaded) => {
            tokio::spawn(manifests::run(*loaded, index.clone()));
        }
        Source::Kubernetes(client) => {
            let until = if metrics.is_answering_from_state_file() {
                "answering from the state file until the first list completes"
            } else {
                "answering SERVFAIL until the first list completes"
            };
            tracing::info!("watching the Kubernetes API; {until}");
            kubernetes::spawn(client, &args.kube_options(), index.clone(), metrics.clone());
        }
    }

    let observer = Arc::new(Observer { metrics: metrics.clone(), query_log: args.query_log });
    let mut handler = Handler::new(zones.clone(), args.max_udp_size, observer);
    if args.query_log {
        handler = handler.without_fast_path();
    }
    let keys = crate::xfer::tsig::Keys::new(&tsig_keys);
    if !args.transfer_allow.is_empty() {
        let allow: Vec<String> = args.transfer_allow.iter().map(ToString::to_string).collect();
        let keys_named = keys.as_ref().map_or_else(|| "none".to_owned(), |k| k.names().join(", "));
        tracing::info!(allow = %allow.join(", "), tsig_keys = %keys_named, "zone transfers (AXFR, IXFR over TCP) allowed");
        handler =
            handler.with_transfers(crate::xfer::Transfers::new(&args.transfer_allow).with_keys(keys.clone()));
    }
    if let Some(qps) = args.rate_limit_qps() {
        handler = handler.with_rate_limit(qps);
    }
    // The external listener: the same answers, transfers and limits for the external
    // zones, REFUSED for everything else, and never a forwarder.
    let external_handler = handler.clone().with_scope(Scope::only(&[ZoneKind::External]));
    if let Some(forward) = forward {
        let upstreams: Vec<String> = forward.upstreams.iter().map(ToString::to_string).collect();
        let autopath = forward.autopath_namespace.as_deref().unwrap_or("off");
        tracing::info!(upstreams = %upstreams.join(", "), fallthrough = forward.fallthrough, %autopath, "resolver mode: forwarding what we do not serve");
        handler = handler.with_forwarder(Arc::new(crate::forward::Forwarder::new(forward)));
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let tcp = TcpSettings {
        idle_timeout: Duration::from_secs(args.tcp_idle_timeout.max(1)),
        max_connections: args.tcp_max_connections as usize,
    };
    let main_dns = dns::run(listeners, handler, tcp, stopped(shutdown_rx.clone()));
    let external_dns = dns::run(external_listeners, external_handler, tcp, stopped(shutdown_rx.clone()));
    let dns_task = tokio::spawn(async move {
        let (main, external) = tokio::join!(main_dns, external_dns);
        main.and(external)
    });
    if !args.notify.is_empty() {
        let secondaries: Vec<String> = args.notify.iter().map(ToString::to_string).collect();
        tracing::info!(secondaries = %secondaries.join(", "), "sending NOTIFY when the serial changes");
        let signer = keys.map(|k| Arc::new(k) as Arc<dyn crate::xfer::notify::Signer>);
        crate::xfer::notify::spawn(&args.notify, zones.clone(), metrics.clone(), signer, shutdown_rx.clone());
    }
    for addr in &dns_addrs {
        tracing::info!(%addr, udp_workers = workers, "answering DNS on UDP and TCP");
    }
    for addr in &external_addrs {
        tracing::info!(%addr, udp_workers = workers, "answering the external zones alone on UDP and TCP");
    }

    let admin = Arc::new(AdminState {
        zones: zones.clone(),
        index: index.clone(),
        metrics: metrics.clone(),
        shutting_down: Default::default(),
        // Whoever may transfer the zone may read it over HTTP too.
        access: admin::access::readers(&[&args.admin_allow[..], &args.transfer_allow[..]].concat()),
    });
    let mut admin_addr = None;
    let admin_task = match admin_listener {
        Some(listener) => {
            admin_addr = Some(listener.local_addr()?);
            tracing::info!(addr = %admin_addr.expect("bound"), "admin HTTP: /healthz /readyz /metrics /explain /records");
            Some(tokio::spawn(admin::serve(listener, admin.clone(), stopped(shutdown_rx))))
        }
        None => None,
    };
    Ok(Running {
        dns_addrs,
        external_addrs,
        admin_addr,
        zones,
        index,
        metrics,
        admin,
        shutdown,
        dns_task,
        admin_task,
    })
}

/// Builds an index offline from manifests (for `explain` and `records`).
fn offline_index(target: &Target) -> Result<Index, Error> {
    let mut index = Index::new(target.zone_settings()?);
    let (_, skipped) =
        manifests::load_strict(&target.manifests, &mut |chunk| index.apply(Update::Batch(chunk)))?;
    for s in &skipped {
        eprintln!("warning: {s}");
    }
    index.apply(Update::Synced(true));
    index.commit();
    Ok(index)
}

/// `headless-dns explain`: the explanation, as text or JSON.
pub fn explain(args: &ExplainArgs) -> Result<String, Error> {
    let qtype: RecordType = args
        .qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| ConfigError::Invalid { message: format!("unknown record type {:?}", args.qtype) })?;
    if let Some(server) = &args.target.server {
        let path = format!(
            "/explain?name={}&type={qtype}&format={}",
            admin::client::encode(&args.name),
            args.format
        );
        let body = admin::client::get(server, &path).map_err(Error::Remote)?;
        return Ok(match serde_json::from_str::<crate::explain::Explanation>(&body) {
            // The endpoint's compact JSON, printed as offline: indented, ending in a newline.
            Ok(explained) if args.format == "json" => {
                serde_json::to_string_pretty(&explained).unwrap_or(body) + "\n"
            }
            _ if body.ends_with('\n') => body,
            _ => body + "\n",
        });
    }
    let index = offline_index(&args.target)?;
    let explained = crate::explain::explain(index.state(), index.zones(), &args.name, qtype);
    Ok(match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&explained).unwrap_or_default() + "\n",
        _ => explained.to_text(),
    })
}

/// `headless-dns records`: a zone file.
pub fn records(args: &RecordsArgs) -> Result<String, Error> {
    if let Some(server) = &args.target.server {
        let path = format!("/records?zone={}", args.zone_file.name());
        return admin::client::get(server, &path).map_err(Error::Remote);
    }
    Ok(offline_index(&args.target)?.zones().zone_file(args.zone_file))
}

/// A duration as a person says it: `40 s`, `12 min`, `3 h`, `2 d`.
fn rough(age: Duration) -> String {
    match age.as_secs() {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod rough_tests {
    use super::*;

    #[test]
    fn ages_read_as_a_person_says_them() {
        let said = [5, 119, 120, 7199, 7200, 172_799, 172_800].map(|s| rough(Duration::from_secs(s)));
        assert_eq!(said, ["5 s", "119 s", "2 min", "119 min", "2 h", "47 h", "2 d"]);
    }
}
