//! Sidecar resolver mode against a second DNS server started in the test as the upstream.

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use support::demo;
use support::dns::*;
use support::upstream::FakeUpstream;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

async fn upstream() -> FakeUpstream {
    let up = FakeUpstream::start().await;
    up.add(Record::from_rdata(n("www.example.test."), 300, RData::A(A::new(192, 0, 2, 1))));
    up.add(Record::from_rdata(n("www.example.test."), 300, RData::A(A::new(192, 0, 2, 2))));
    up.add(Record::from_rdata(
        n("www.example.test."),
        120,
        RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ));
    up.add(Record::from_rdata(n("example.test."), 3600, RData::MX(MX::new(10, n("mail.example.test.")))));
    up.add(Record::from_rdata(n("example.test."), 60, RData::TXT(TXT::new(vec!["v=spf1 -all".into()]))));
    for i in 0..30 {
        up.add(Record::from_rdata(
            n("big.example.test."),
            60,
            RData::TXT(TXT::new(vec![format!("{i:02}-{}", "x".repeat(30))])),
        ));
    }
    // A ClusterIP service the cluster DNS knows and we do not serve.
    up.add(Record::from_rdata(
        n("kubernetes.default.svc.cluster.local."),
        30,
        RData::A(A::new(10, 96, 0, 1)),
    ));
    up
}

fn message(name: &str, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(n(name), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.edns = Some(e);
    }
    m
}

async fn ask(addr: SocketAddr, m: &Message) -> Message {
    let reply = raw_udp(addr, &m.to_vec().unwrap(), Duration::from_secs(5)).await.expect("a reply");
    Message::from_vec(&reply).unwrap()
}

/// The parts of a reply that must be relayed exactly.
fn essence(m: &Message) -> (ResponseCode, bool, bool, Vec<String>, Vec<String>, bool) {
    let show = |rs: &[Record]| {
        let mut v: Vec<String> =
            rs.iter().map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data)).collect();
        v.sort();
        v
    };
    (
        m.metadata.response_code,
        m.metadata.authoritative,
        m.metadata.recursion_available,
        show(&m.answers),
        show(&m.authorities),
        m.edns.is_some(),
    )
}

async fn start_forwarding(upstreams: &[SocketAddr], extra: &[&str]) -> headless_dns::app::Running {
    let list: Vec<String> = upstreams.iter().map(|a| a.to_string()).collect();
    let mut args: Vec<&str> = vec![];
    for u in &list {
        args.extend_from_slice(&["--forward", u]);
    }
    args.extend_from_slice(&["--forward-timeout", "300"]);
    args.extend_from_slice(extra);
    start(demo(), &args).await
}

#[tokio::test]
async fn forwarded_answers_are_relayed_exactly() {
    let up = upstream().await;
    let server = start_forwarding(&[up.addr], &[]).await;
    let addr = server.dns_addrs[0];
    for (name, qtype) in [
        ("www.example.test.", RecordType::A),
        ("www.example.test.", RecordType::AAAA),
        ("example.test.", RecordType::MX),
        ("example.test.", RecordType::TXT),
        ("nope.example.test.", RecordType::A),
        ("www.example.test.", RecordType::MX),
    ] {
        for edns in [false, true] {
            let m = message(name, qtype, edns);
            let direct = ask(up.addr, &m).await;
            let relayed = ask(addr, &m).await;
            assert_eq!(relayed.metadata.id, 4242);
            assert_eq!(essence(&relayed), essence(&direct), "{name} {qtype} edns={edns}");
        }
    }
    let nx = ask(addr, &message("nope.example.test.", RecordType::A, true)).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA, "NXDOMAIN relayed with its SOA");
    // Our own names are still answered by us, authoritatively.
    let own = ask(addr, &message("web-0.nginx.default.svc.cluster.local.", RecordType::A, false)).await;
    assert!(own.metadata.authoritative);
    assert_eq!(own.answers.len(), 1);
}

#[tokio::test]
async fn truncated_upstream_answers_are_retried_over_tcp_and_tcp_is_forwarded_over_tcp() {
    let up = upstream().await;
    up.state.truncate_udp.store(true, Ordering::Relaxed);
    let server = start_forwarding(&[up.addr], &[]).await;
    let addr = server.dns_addrs[0];
    // Over UDP with room for it (1232 bytes): we retry the upstream over TCP and relay all 30.
    let m = message("www.example.test.", RecordType::A, true);
    let r = ask(addr, &m).await;
    assert_eq!(r.answers.len(), 2);
    assert!(up.state.tcp_queries.load(Ordering::Relaxed) >= 1, "retried over TCP");
    // Too big for the client's UDP size: TC=1, and the client's TCP retry gets everything.
    let r = ask(addr, &message("big.example.test.", RecordType::TXT, false)).await;
    assert!(r.metadata.truncation);
    up.state.truncate_udp.store(false, Ordering::Relaxed);
    let before_udp = up.state.udp_queries.load(Ordering::Relaxed);
    let full = Message::from_vec(
        &raw_tcp(addr, &message("big.example.test.", RecordType::TXT, false).to_vec().unwrap()).await,
    )
    .unwrap();
    assert_eq!(full.answers.len(), 30);
    assert_eq!(up.state.udp_queries.load(Ordering::Relaxed), before_udp, "a TCP query is forwarded over TCP");
}

#[tokio::test]
async fn a_dead_upstream_is_skipped_then_servfail_within_the_timeout() {
    let dead = upstream().await;
    dead.state.down.store(true, Ordering::Relaxed);
    let live = upstream().await;
    let server = start_forwarding(&[dead.addr, live.addr], &[]).await;
    let addr = server.dns_addrs[0];
    let started = Instant::now();
    let r = ask(addr, &message("www.example.test.", RecordType::A, false)).await;
    assert_eq!(r.answers.len(), 2, "answered by the second upstream");
    assert!(started.elapsed() < Duration::from_millis(1500));
    // After two failures the dead one is skipped: answers come at once.
    ask(addr, &message("www.example.test.", RecordType::AAAA, false)).await;
    let before = dead.state.seen.lock().unwrap().len();
    let started = Instant::now();
    ask(addr, &message("example.test.", RecordType::MX, false)).await;
    assert!(started.elapsed() < Duration::from_millis(250), "{:?}", started.elapsed());
    assert_eq!(dead.state.seen.lock().unwrap().len(), before);
    // Nobody answers: SERVFAIL, within the per-try timeouts.
    live.state.down.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let r = ask(addr, &message("example.test.", RecordType::TXT, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn fallthrough_forwards_unknown_in_zone_names_only_when_on() {
    let up = upstream().await;
    let off = start_forwarding(&[up.addr], &[]).await;
    let r =
        ask(off.dns_addrs[0], &message("kubernetes.default.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.metadata.authoritative, "our own NXDOMAIN");
    let on = start_forwarding(&[up.addr], &["--fallthrough"]).await;
    let r =
        ask(on.dns_addrs[0], &message("kubernetes.default.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers[0].data, RData::A(A::new(10, 96, 0, 1)));
    // Names we know are never forwarded, pending identities included.
    let before = up.state.seen.lock().unwrap().len();
    let r = ask(on.dns_addrs[0], &message("db-2.db.data.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(up.state.seen.lock().unwrap().len(), before);
}

#[tokio::test]
async fn clients_outside_allow_from_are_refused() {
    let up = upstream().await;
    let server = start_forwarding(&[up.addr], &["--allow-from", "10.0.0.0/8", "--fallthrough"]).await;
    let addr = server.dns_addrs[0];
    let r = ask(addr, &message("www.example.test.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(up.state.seen.lock().unwrap().is_empty(), "nothing was forwarded");
    // Our own zone is still answered.
    let r = ask(addr, &message("web-0.nginx.default.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn ids_and_source_ports_are_randomized() {
    let up = upstream().await;
    let server = start_forwarding(&[up.addr], &[]).await;
    for _ in 0..8 {
        ask(server.dns_addrs[0], &message("www.example.test.", RecordType::A, false)).await;
    }
    let seen = up.state.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 8);
    let ids: std::collections::HashSet<u16> = seen.iter().map(|s| s.0).collect();
    let ports: std::collections::HashSet<u16> = seen.iter().map(|s| s.1).collect();
    assert!(ids.len() >= 6 && !ids.contains(&4242), "ids {ids:?}");
    assert!(ports.len() >= 6, "ports {ports:?}");
}

#[tokio::test]
async fn the_cache_honours_ttls_and_negative_answers() {
    let up = upstream().await;
    let server = start_forwarding(&[up.addr], &["--forward-cache", "100"]).await;
    let addr = server.dns_addrs[0];
    let first = ask(addr, &message("www.example.test.", RecordType::A, false)).await;
    let mut again = message("WWW.Example.test.", RecordType::A, false);
    again.metadata.id = 777;
    let second = ask(addr, &again).await;
    assert_eq!(second.metadata.id, 777);
    assert_eq!(second.queries[0].name().to_string(), "WWW.Example.test.");
    assert_eq!(second.answers.len(), first.answers.len());
    ask(addr, &message("nope.example.test.", RecordType::A, false)).await;
    let nx = ask(addr, &message("nope.example.test.", RecordType::A, false)).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.state.seen.lock().unwrap().len(), 2, "the repeats came from the cache");
    assert!(nx.authorities[0].ttl <= 60, "negative TTL capped by the SOA minimum");
}

#[tokio::test]
async fn autopath_answers_what_the_clients_search_would_find() {
    let up = upstream().await;
    let server =
        start_forwarding(&[up.addr], &["--fallthrough", "--autopath", "--autopath-namespace", "other"]).await;
    let addr = server.dns_addrs[0];
    // A pod in namespace `other` resolving `nginx.default` first asks this name...
    let r = ask(addr, &message("nginx.default.other.svc.cluster.local.", RecordType::A, false)).await;
    // ...and its search would next find nginx.default.svc.cluster.local.
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(r.answers[0].data.to_string(), "nginx.default.svc.cluster.local.");
    let direct = ask(addr, &message("nginx.default.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(answers(&r)[..3], answers(&direct)[..]);
    // `www.example.test` with ndots:5 is first tried as www.example.test.other.svc...; the
    // search ends at the absolute name, answered by the upstream.
    let r = ask(addr, &message("www.example.test.other.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.answers[0].data.to_string(), "www.example.test.");
    let mut ips = addresses(&r);
    ips.sort();
    assert_eq!(ips, ["192.0.2.1", "192.0.2.2"]);
    // A name that exists nowhere stays NXDOMAIN.
    let r = ask(addr, &message("nothing.other.svc.cluster.local.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    // Not under the pod's namespace: no autopath.
    let r = ask(addr, &message("nope.data.svc.cluster.local.", RecordType::A, false)).await;
    assert!(r.answers.is_empty());
}

#[tokio::test]
async fn without_forward_nothing_is_forwarded() {
    let up = upstream().await;
    let server = start(demo(), &[]).await;
    let r = ask(server.dns_addrs[0], &message("www.example.test.", RecordType::A, false)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(up.state.seen.lock().unwrap().is_empty());
}

/// An ExternalName service whose target is outside the zone: in resolver mode the sidecar
/// follows the CNAME upstream for its client, whose stub resolver would not.
#[tokio::test]
async fn an_external_name_outside_the_zone_is_followed_upstream() {
    let up = upstream().await;
    up.add(Record::from_rdata(n("warehouse.example.com."), 60, RData::A(A::new(192, 0, 2, 80))));
    let server = start_forwarding(&[up.addr], &[]).await;
    let addr = server.dns_addrs[0];
    let r = ask(addr, &message("warehouse.data.svc.cluster.local.", RecordType::A, true)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.metadata.id, 4242);
    let answers: Vec<String> =
        r.answers.iter().map(|a| format!("{} {} {}", a.name, a.record_type(), a.data)).collect();
    assert_eq!(
        answers,
        [
            "warehouse.data.svc.cluster.local. CNAME warehouse.example.com.",
            "warehouse.example.com. A 192.0.2.80"
        ]
    );
    // Asked for the CNAME itself: ours alone, nothing forwarded.
    let before = up.state.udp_queries.load(Ordering::SeqCst);
    let r = ask(addr, &message("warehouse.data.svc.cluster.local.", RecordType::CNAME, true)).await;
    assert_eq!(r.answers.len(), 1);
    assert_eq!(up.state.udp_queries.load(Ordering::SeqCst), before);
    // The target has no AAAA upstream: our CNAME, then the upstream's NODATA.
    let r = ask(addr, &message("warehouse.data.svc.cluster.local.", RecordType::AAAA, true)).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.iter().map(|a| a.record_type()).collect::<Vec<_>>(), [RecordType::CNAME]);
    assert_eq!(up.state.udp_queries.load(Ordering::SeqCst), before + 1);
    server.stop().await.unwrap();
}
