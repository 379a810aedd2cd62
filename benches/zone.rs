//! Micro-benchmarks: zone lookup, answer encoding (general path and cached fast path),
//! and snapshot update. `cargo bench --bench zone`.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use headless_dns::cluster::SharedStr;
use headless_dns::cluster::{
    ContainerPort, Labels, Object, ObjectKey, Pod, Protocol, Service, ServicePort, StatefulSet, TargetPort,
};
use headless_dns::dns::Handler;
use headless_dns::dns::response_cache::{self, Answered, ResponseCache};
use headless_dns::index::{Index, Update};
use headless_dns::zone::{ZoneSettings, Zones};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

fn main() {
    divan::main();
}

fn pod(s: usize, p: usize, ip_seed: usize) -> Object {
    let ns: SharedStr = format!("ns-{}", s % 50).into();
    let name: SharedStr = format!("app-{s}").into();
    let pod_name: SharedStr = format!("app-{s}-{p}").into();
    Object::Pod(Arc::new(Pod {
        key: ObjectKey { namespace: ns, name: pod_name.clone() },
        template: headless_dns::cluster::PodTemplate::new(
            Labels::from([
                (SharedStr::from("app"), name.clone()),
                (SharedStr::from("statefulset.kubernetes.io/pod-name"), pod_name.clone()),
            ]),
            headless_dns::cluster::Naming::new(Some(pod_name.clone()), Some(name.clone()), &pod_name),
            Arc::new(Box::new([ContainerPort { name: "http".into(), port: 8080, protocol: Protocol::Tcp }])),
        ),
        ips: headless_dns::cluster::Addresses::from([std::net::IpAddr::from([
            10,
            (ip_seed >> 16) as u8,
            (ip_seed >> 8) as u8,
            ip_seed as u8,
        ])]),
        ready_condition: true,
        terminating: false,
        phase: headless_dns::cluster::Phase::Running,
        placement: headless_dns::cluster::Placement::NONE,
    }))
}

/// 1,000 services × 10 pods, as in the throughput benchmark.
fn index(services: usize) -> Index {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let mut updates = Vec::new();
    for s in 0..services {
        let key = ObjectKey { namespace: format!("ns-{}", s % 50).into(), name: format!("app-{s}").into() };
        updates.push(Update::Apply(Object::Service(Arc::new(Service {
            key: key.clone(),
            headless: true,
            selector: Some(Labels::from([(SharedStr::from("app"), key.name.clone())])),
            ports: Box::new([ServicePort {
                name: Some("web".into()),
                protocol: Protocol::Tcp,
                port: 80,
                target_port: TargetPort::Name("http".into()),
            }]),
            publish_not_ready: false,
            cluster_ips: Box::new([]),
            external_name: None,
            external: None,
        }))));
        updates.push(Update::Apply(Object::StatefulSet(Arc::new(StatefulSet {
            key: key.clone(),
            service_name: key.name.clone(),
            replicas: 10,
            ordinal_start: 0,
        }))));
        for p in 0..10 {
            updates.push(Update::Apply(pod(s, p, s * 10 + p)));
        }
    }
    index.apply(Update::Batch(updates));
    index.apply(Update::Synced(true));
    index.commit();
    index
}

fn zones() -> Zones {
    index(1000).zones().clone()
}

fn query_bytes(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

const NAMES: [(&str, RecordType); 4] = [
    ("app-500-3.app-500.ns-0.svc.cluster.local.", RecordType::A),
    ("app-500-3.app-500.ns-0.svc.cluster.local.", RecordType::AAAA),
    ("_web._tcp.app-500.ns-0.svc.cluster.local.", RecordType::SRV),
    ("app-500-3.app-500.ns-0.svc.cluster.local.ns-0.svc.cluster.local.", RecordType::A),
];

#[divan::bench(args = NAMES)]
fn lookup(bencher: divan::Bencher, (name, qtype): (&str, RecordType)) {
    let zones = zones();
    let name = Name::from_ascii(name).unwrap();
    bencher.bench(|| zones.lookup(divan::black_box(&name), qtype, DNSClass::IN));
}

#[divan::bench(args = NAMES)]
fn answer_general_path(bencher: divan::Bencher, (name, qtype): (&str, RecordType)) {
    let handler = Handler::new(Arc::new(ArcSwap::from_pointee(zones())), 1232, Arc::new(()));
    let packet = query_bytes(name, qtype);
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let zones = handler.zones().load_full();
    bencher.bench(|| {
        handler
            .respond(&zones, divan::black_box(&packet), src, hickory_server::net::xfer::Protocol::Udp)
            .into_bytes()
    });
}

#[divan::bench(args = NAMES)]
fn answer_cached_fast_path(bencher: divan::Bencher, (name, qtype): (&str, RecordType)) {
    let handler = Handler::new(Arc::new(ArcSwap::from_pointee(zones())), 1232, Arc::new(()));
    let packet = query_bytes(name, qtype);
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut cache = ResponseCache::new();
    let (mut key, mut out) = (Vec::new(), Vec::new());
    let udp = hickory_server::net::xfer::Protocol::Udp;
    response_cache::key(&packet, 1232, headless_dns::zone::Scope::ALL, &mut key).unwrap();
    response_cache::respond(&handler, &mut cache, Some(&key), &packet, src, udp, &mut out);
    bencher.bench_local(|| {
        response_cache::key(divan::black_box(&packet), 1232, headless_dns::zone::Scope::ALL, &mut key)
            .unwrap();
        out.clear();
        let answered = response_cache::respond(&handler, &mut cache, Some(&key), &packet, src, udp, &mut out);
        assert!(matches!(answered, Answered::Cached { .. }));
        out.len()
    });
}

#[divan::bench(sample_count = 200)]
fn snapshot_update_one_pod_at_10k_pods(bencher: divan::Bencher) {
    let mut index = index(1000);
    let mut n = 0usize;
    bencher.bench_local(|| {
        n += 1;
        index.apply(Update::Apply(pod(n % 1000, n % 10, 500_000 + n)));
        index.commit()
    });
}
