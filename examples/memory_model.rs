//! Memory of the index alone: builds N pods / services / StatefulSets in-process (no
//! parsing) through the same `Index` the server uses, then prints VmRSS deltas, the
//! build time, and the programming latency of single-pod events at that size.
//!
//!     cargo run --profile dist --example memory_model -- 100000 10 [verified|insecure|disabled] [EVENTS]
//!
//! `IXFR_JOURNAL=BYTES` keeps an IXFR journal of that size, as the server does with
//! `--transfer-allow` (`--ixfr-journal`, default 1048576); without it, none, as the
//! server without `--transfer-allow`.
//!
//! `EXTERNAL_ZONE=example.com` serves that external zone too, and every Service publishes
//! `app-<s>.ns-<n>.example.com` in it (the `hostname` annotation of `bench/gen.py
//! --external-zone`): what external zones add to the index and the zones.

use std::sync::Arc;

use headless_dns::cluster::SharedStr;
use headless_dns::cluster::{
    ContainerPort, ExternalSpec, ExternalSpecFields, Labels, Object, ObjectKey, Pod, Protocol, Service,
    ServicePort, StatefulSet, TargetPort,
};
use headless_dns::index::{Index, Update};
use headless_dns::zone::{PodRecords, ZoneSettings};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Pod `p` of StatefulSet `name` in namespace `ns`, labelled as Kubernetes labels
/// StatefulSet pods, at address `ip`.
fn pod(ns: SharedStr, name: SharedStr, p: usize, ip: [u8; 4]) -> Pod {
    let pod_name: SharedStr = format!("{name}-{p}").into();
    Pod {
        key: ObjectKey { namespace: ns, name: pod_name.clone() },
        template: headless_dns::cluster::PodTemplate::new(
            Labels::from([
                (SharedStr::from("app"), name.clone()),
                (SharedStr::from("apps.kubernetes.io/pod-index"), SharedStr::from(p.to_string())),
                (SharedStr::from("controller-revision-hash"), SharedStr::from(format!("{name}-6d4cf56db6"))),
                (SharedStr::from("statefulset.kubernetes.io/pod-name"), pod_name.clone()),
            ]),
            headless_dns::cluster::Naming::new(Some(pod_name.clone()), Some(name.clone()), &pod_name),
            Arc::new(Box::new([ContainerPort { name: "http".into(), port: 8080, protocol: Protocol::Tcp }])),
        ),
        ips: headless_dns::cluster::Addresses::from([std::net::IpAddr::from(ip)]),
        ready_condition: true,
        terminating: false,
        phase: headless_dns::cluster::Phase::Running,
        placement: headless_dns::cluster::Placement::NONE,
    }
}

/// What the annotation `external-dns.alpha.kubernetes.io/hostname: HOSTNAME` of a
/// Service created at time 0 reads as.
fn external_spec(hostname: &str) -> ExternalSpec {
    ExternalSpecFields { hostnames: Box::new([SharedStr::from(hostname)]), ..Default::default() }.into()
}

fn main() {
    // The binary's allocator (the `allocator` crate's global allocator) and its settings,
    // so the figures are the binary's.
    allocator::purge_freed_memory_immediately();
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let per_service: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let services = pods / per_service;
    let before = rss_kib();
    // Third argument: the --pods mode (verified keeps the pods-by-address index).
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    if let Some(mode) = args.next() {
        settings.pods =
            *PodRecords::ALL.iter().find(|m| m.name() == mode).expect("disabled, insecure or verified");
    }
    settings.ixfr_journal = std::env::var("IXFR_JOURNAL").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    println!("IXFR journal: {} bytes", settings.ixfr_journal);
    let external_zone = std::env::var("EXTERNAL_ZONE").ok().filter(|z| !z.is_empty());
    if let Some(zone) = &external_zone {
        let external = settings.external_zone(zone, Vec::new(), false).expect("a zone name");
        settings.external.push(external);
    }
    println!("external zone: {}", external_zone.as_deref().unwrap_or("none"));
    let mut index = Index::new(settings);
    let mut updates = Vec::with_capacity(pods + 2 * services);
    for s in 0..services {
        let ns: SharedStr = format!("ns-{}", s % 50).into();
        let name: SharedStr = format!("app-{s}").into();
        let key = ObjectKey { namespace: ns.clone(), name: name.clone() };
        let selector = Labels::from([(SharedStr::from("app"), name.clone())]);
        updates.push(Update::Apply(Object::Service(Arc::new(Service {
            key: key.clone(),
            headless: true,
            selector: Some(selector.clone()),
            ports: Box::new([ServicePort {
                name: Some("web".into()),
                protocol: Protocol::Tcp,
                port: 80,
                target_port: TargetPort::Name("http".into()),
            }]),
            publish_not_ready: false,
            cluster_ips: Box::new([]),
            external_name: None,
            external: external_zone
                .as_ref()
                .map(|zone| Box::new(external_spec(&format!("{name}.{ns}.{zone}")))),
        }))));
        updates.push(Update::Apply(Object::StatefulSet(Arc::new(StatefulSet {
            key: key.clone(),
            service_name: name.clone(),
            replicas: per_service as u32,
            ordinal_start: 0,
        }))));
        for p in 0..per_service {
            let i = s * per_service + p;
            let ip = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
            updates.push(Update::Apply(Object::Pod(Arc::new(pod(ns.clone(), name.clone(), p, ip)))));
        }
    }
    let built = rss_kib();
    let started = std::time::Instant::now();
    index.apply(Update::Batch(updates));
    index.apply(Update::Synced(true));
    let zone = index.commit().expect("a zone");
    let elapsed = started.elapsed();
    let after = rss_kib();
    // The input objects were consumed (interned copies kept, the rest freed and returned
    // to the kernel), so what is resident above the start is the index and the zone.
    println!(
        "pods {pods}, services {services}: input objects {} KiB; index+zone {} KiB ({} B/pod), built in {:?}",
        built - before,
        after.saturating_sub(before),
        after.saturating_sub(before) * 1024 / pods as u64,
        elapsed
    );
    drop(zone);
    // Where those bytes are, by allocator size class (the largest; blocks in use × size).
    let mut classes = allocator::blocks_by_size();
    classes.sort_by_key(|&(size, used, _)| std::cmp::Reverse(size * used));
    let classes: Vec<String> = classes
        .iter()
        .take(8)
        .map(|&(size, used, committed)| format!("{size} B × {used} ({} MiB committed)", committed / 1048576))
        .collect();
    println!("largest size classes: {}", classes.join(", "));

    // Programming latency: one pod event (a reschedule: new IP) applied and committed into
    // a new zone snapshot, as the index task does before the atomic swap.
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let mut samples = Vec::with_capacity(events);
    for n in 0..events {
        let s = (n * 7919) % services;
        let p = n % per_service;
        let (ns, name) = (format!("ns-{}", s % 50).into(), format!("app-{s}").into());
        let pod = pod(ns, name, p, [11, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        let started = std::time::Instant::now();
        index.apply(Update::Apply(Object::Pod(Arc::new(pod))));
        let applied = started.elapsed();
        let zone = index.commit().expect("changed");
        samples.push(started.elapsed());
        if n == events - 1 {
            println!("last event: apply {applied:?}, apply+commit {:?}", started.elapsed());
        }
        drop(zone);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "programming latency over {} single-pod events at {pods} pods: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
