//! The response cache across snapshots: a publication drops only the cached answers it
//! changes. Driven through the index (updates in, snapshots published) and the query
//! path's one cache-or-compute step, against the general path's answer for the same
//! question in the same snapshot.

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;
use serde_json::json;

use headless_dns::cluster::{Kind, Object};
use headless_dns::dns::response_cache::{self, Answered, ResponseCache};
use headless_dns::dns::{Handler, Response};
use headless_dns::index::{Index, Update};
use headless_dns::zone::{SharedZones, ZoneSettings, Zones};
use support::changes::{Rng, random_update};

const CLIENT: &str = "10.1.2.3:5353";

fn packet(name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        m.edns = Some(Edns::new());
    }
    m.to_vec().unwrap()
}

/// The index and what the server would serve from it: the published zones, a handler,
/// one worker's cache.
struct Server {
    index: Index,
    zones: SharedZones,
    handler: Handler,
    cache: ResponseCache,
}

impl Server {
    fn new(updates: Vec<Update>) -> Self {
        let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
        index.apply(Update::Batch(updates));
        index.apply(Update::Synced(true));
        let zones: SharedZones = Arc::new(ArcSwap::from_pointee(index.commit().expect("the first zones")));
        let handler = Handler::new(zones.clone(), 1232, Arc::new(()));
        Self { index, zones, handler, cache: ResponseCache::new() }
    }

    /// Applies `update` and publishes what it changed, as the index thread does.
    fn change(&mut self, update: Update) {
        self.index.apply(update);
        if let Some(zones) = self.index.commit() {
            self.zones.store(Arc::new(zones));
        }
    }

    /// Answers `packet` through the cache: whether the answer came from it, and the reply.
    fn ask(&mut self, packet: &[u8]) -> (bool, Vec<u8>) {
        let mut key = Vec::new();
        response_cache::key(packet, 1232, headless_dns::zone::Scope::ALL, &mut key).expect("a plain query");
        let mut out = Vec::new();
        let src: SocketAddr = CLIENT.parse().unwrap();
        match response_cache::respond(
            &self.handler,
            &mut self.cache,
            Some(&key),
            packet,
            src,
            Protocol::Udp,
            &mut out,
        ) {
            Answered::Cached { .. } => (true, out),
            Answered::Computed(Response::Reply(reply)) => (false, reply),
            Answered::Computed(_) => panic!("no reply"),
        }
    }

    /// The general path's reply to `packet` in the current snapshot.
    fn fresh(&self, packet: &[u8]) -> Vec<u8> {
        let zones: Arc<Zones> = self.zones.load_full();
        match self.handler.respond(&zones, packet, CLIENT.parse().unwrap(), Protocol::Udp) {
            Response::Reply(reply) => reply,
            _ => panic!("no reply"),
        }
    }
}

fn object(kind: Kind, value: serde_json::Value) -> Update {
    Update::Apply(Object::from_json(kind, value).unwrap())
}

fn service(name: &str) -> Update {
    object(
        Kind::Service,
        json!({"metadata": {"name": name, "namespace": "ns"},
               "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"name": "web", "port": 80}]}}),
    )
}

fn pod(service: &str, i: u8, ip: &str) -> Update {
    let name = format!("{service}-{i}");
    object(
        Kind::Pod,
        json!({"metadata": {"name": name, "namespace": "ns", "labels": {"app": service}},
               "spec": {"hostname": name, "subdomain": service},
               "status": {"podIPs": [{"ip": ip}], "conditions": [{"type": "Ready", "status": "True"}]}}),
    )
}

fn statefulset(service: &str, replicas: u8) -> Update {
    object(
        Kind::StatefulSet,
        json!({"metadata": {"name": service, "namespace": "ns"},
               "spec": {"serviceName": service, "replicas": replicas}}),
    )
}

/// Questions about service `svc` (of `web`/`db` below), answered or negative: the names
/// below it, then the PTR name and pod record of its pod 0's address (`10.<octet>.0.0`).
fn questions_of(svc: &str, octet: u8) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let below = vec![
        packet(&format!("{svc}.ns.svc.cluster.local."), RecordType::A, false),
        packet(&format!("{svc}.ns.svc.cluster.local."), RecordType::SRV, true),
        packet(&format!("_web._tcp.{svc}.ns.svc.cluster.local."), RecordType::SRV, false),
        packet(&format!("{svc}-0.{svc}.ns.svc.cluster.local."), RecordType::A, false),
        packet(&format!("{svc}-0.{svc}.ns.svc.cluster.local."), RecordType::AAAA, true),
        packet(&format!("{svc}-2.{svc}.ns.svc.cluster.local."), RecordType::TXT, false),
        packet(&format!("nope.{svc}.ns.svc.cluster.local."), RecordType::A, false),
        packet(&format!("{svc}-1.{svc}.ns.svc.cluster.local."), RecordType::A, false),
    ];
    let addresses = vec![
        packet(&format!("0.0.{octet}.10.in-addr.arpa."), RecordType::PTR, false),
        packet(&format!("10-{octet}-0-0.ns.pod.cluster.local."), RecordType::A, false),
    ];
    (below, addresses)
}

#[test]
fn a_change_to_one_service_leaves_another_services_cached_answers_in_place() {
    let mut server = Server::new(vec![
        service("web"),
        statefulset("web", 3),
        pod("web", 0, "10.1.0.0"),
        pod("web", 1, "10.1.0.1"),
        service("db"),
        statefulset("db", 3),
        pod("db", 0, "10.2.0.0"),
        pod("db", 1, "10.2.0.1"),
    ]);
    let ((web, web_pod_0), (db_below, db_pod_0)) = (questions_of("web", 1), questions_of("db", 2));
    let db: Vec<Vec<u8>> = db_below.into_iter().chain(db_pod_0).collect();
    let apex = packet("cluster.local.", RecordType::SOA, false);
    let elsewhere = packet("nothing.cluster.local.", RecordType::A, false);
    for q in web.iter().chain(&web_pod_0).chain(&db).chain([&apex, &elsewhere]) {
        assert!(!server.ask(q).0, "a first question is computed");
        assert!(server.ask(q).0, "and then cached");
    }
    let serial = server.zones.load().serial();

    // web-1 is rescheduled: a new address.
    server.change(pod("web", 1, "10.1.0.9"));
    assert_ne!(server.zones.load().serial(), serial);
    for q in &db {
        let (cached, reply) = server.ask(q);
        assert!(cached, "db's answers stay cached");
        assert_eq!(reply, server.fresh(q), "and are what the general path answers now");
    }
    for q in web_pod_0.iter().chain([&apex, &elsewhere]) {
        let (cached, reply) = server.ask(q);
        assert!(cached, "web-0's address, the apex and fixed names too (the new serial patched in)");
        assert_eq!(reply, server.fresh(q));
    }
    // web's service-wide names (its addresses, its SRV records) and web-1's own name are
    // computed again; the names of web-0 and web-2 and a name that does not exist under
    // web did not change and stay cached.
    for (i, q) in web.iter().enumerate() {
        let (cached, reply) = server.ask(q);
        let unchanged = (3..=6).contains(&i);
        assert_eq!(cached, unchanged, "web's question {i}: cached only when its answer did not change");
        assert_eq!(reply, server.fresh(q));
    }
    // The new address's PTR name, never asked before, and the old one's.
    let moved = [
        packet("9.0.1.10.in-addr.arpa.", RecordType::PTR, false),
        packet("1.0.1.10.in-addr.arpa.", RecordType::PTR, false),
    ];
    for q in moved {
        assert_eq!(server.ask(&q).1, server.fresh(&q));
        assert!(server.ask(&q).0);
    }
}

#[test]
fn a_service_that_appears_replaces_its_cached_nxdomain() {
    let mut server = Server::new(vec![service("web"), pod("web", 0, "10.1.0.0")]);
    let later = packet("later-0.later.ns.svc.cluster.local.", RecordType::A, false);
    let namespace = packet("other.svc.cluster.local.", RecordType::A, false);
    let web = packet("web.ns.svc.cluster.local.", RecordType::A, false);
    for q in [&later, &namespace, &web] {
        server.ask(q);
    }
    server.change(service("later"));
    server.change(pod("later", 0, "10.3.0.0"));
    server.change(object(
        Kind::Service,
        json!({"metadata": {"name": "x", "namespace": "other"}, "spec": {"clusterIP": "None"}}),
    ));
    for q in [&later, &namespace] {
        let (cached, reply) = server.ask(q);
        assert!(!cached);
        assert_eq!(reply, server.fresh(q));
    }
    assert!(server.ask(&web).0, "the services that did not change stay cached");
}

/// The property: after any sequence of changes, every answer through the cache is the
/// general path's answer in the current snapshot, byte for byte. Questions cover every
/// kind of name the random changes can make: services, endpoints, identities, SRV
/// names, PTR names of the shared addresses, pod records, an ExternalName into the zone.
#[test]
fn through_random_changes_every_cached_answer_is_the_current_answer() {
    let mut questions = Vec::new();
    for s in ["s0", "s1", "s2", "s3", "s4", "nope"] {
        for qtype in [RecordType::A, RecordType::AAAA, RecordType::SRV, RecordType::CNAME] {
            questions.push(packet(&format!("{s}.ns.svc.cluster.local."), qtype, false));
        }
        questions.push(packet(&format!("_web._tcp.{s}.ns.svc.cluster.local."), RecordType::SRV, true));
        for host in ["p0", "p3", "p7", "h0", "h2", "st-0", "st-1", "st-3"] {
            for qtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
                questions.push(packet(&format!("{host}.{s}.ns.svc.cluster.local."), qtype, false));
            }
        }
    }
    for i in 1..=8 {
        questions.push(packet(&format!("{i}.0.0.10.in-addr.arpa."), RecordType::PTR, false));
        questions.push(packet(&format!("10-0-0-{i}.ns.pod.cluster.local."), RecordType::A, false));
    }
    questions.push(packet("ns.svc.cluster.local.", RecordType::A, false));
    questions.push(packet("0.10.in-addr.arpa.", RecordType::PTR, false));
    questions.push(packet("cluster.local.", RecordType::SOA, false));

    let mut rng = Rng(2024);
    let mut server = Server::new((0..20).map(|_| random_update(&mut rng)).collect());
    let (mut hits, mut asked) = (0, 0);
    for step in 0..400 {
        server.change(random_update(&mut rng));
        for q in &questions {
            let (cached, reply) = server.ask(q);
            assert_eq!(reply, server.fresh(q), "step {step}: {:?}", Message::from_vec(q).unwrap().queries);
            hits += usize::from(cached);
            asked += 1;
        }
    }
    // Most questions are about names a random change did not touch.
    assert!(hits * 2 > asked, "{hits} of {asked} answers were cached");
}
