//! External zones (`--external-zone example.com`, issue 26) over real sockets: the demo
//! of `config/external` answered alike on the external and the main listener, over UDP
//! and TCP, and nothing else on the external one (not even with `--forward`); a broker
//! rescheduled through the fake API server (Nodes watched) moving its names without a
//! false NXDOMAIN; bad annotations publishing nothing and keeping what was served.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_dns::app::{self, Running};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use support::dns::*;
use support::external::*;
use support::fake_apiserver::{FakeApiServer, Verb};
use support::process::LoggedProcess;
use support::upstream::FakeUpstream;

use RecordType::{A as QA, AAAA, NS, PTR, SOA, SRV, TXT};
use ResponseCode::{NXDomain, NoError, Refused};

/// Starts a server on `manifests` with example.com as external zone, an external
/// listener and an admin address, plus `extra`; returns when both listeners answer.
async fn start_external(manifests: &Path, extra: &[&str]) -> Running {
    let path = manifests.to_str().unwrap();
    let mut args = vec!["--manifests", path, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
    args.extend_from_slice(&["--external-zone", "example.com", "--external-listen", "127.0.0.1:0"]);
    args.extend_from_slice(extra);
    let running = app::start(&serve_args(&args)).await.expect("server starts");
    wait_synced(running.dns_addrs[0]).await;
    eventually(running.external_addrs[0], "example.com.", SOA, Duration::from_secs(10), |r| {
        r.metadata.response_code == NoError
    })
    .await;
    running
}

/// The answer to one question over UDP and over TCP (a new connection).
async fn ask_both(addr: SocketAddr, name: &str, qtype: RecordType) -> [Message; 2] {
    [query(&mut udp(addr).await, name, qtype).await, query(&mut tcp(addr).await, name, qtype).await]
}

/// What the demo publishes in example.com: each question's rcode and answer section as
/// `ttl TYPE data` (a `*` ends a prefix). Empty answers come with the zone's SOA.
const DEMO_ANSWERS: &[(&str, RecordType, ResponseCode, &[&str])] = &[
    ("example.com.", SOA, NoError, &["5 SOA ns.example.com. hostmaster.example.com. *"]),
    ("example.com.", NS, NoError, &["5 NS ns.example.com."]),
    ("kafka.example.com.", QA, NoError, &["30 A 10.244.1.20", "30 A 10.244.2.21"]),
    ("KAFKA-0.Kafka.Example.COM.", QA, NoError, &["30 A 10.244.1.20"]),
    ("kafka-0.kafka.example.com.", QA, NoError, &["30 A 10.244.1.20"]),
    ("kafka-0.kafka.example.com.", AAAA, NoError, &[]),
    ("kafka-1.kafka.example.com.", QA, NoError, &["30 A 10.244.2.21"]),
    ("kafka-2.kafka.example.com.", QA, NoError, &[]),
    ("kafka-2.kafka.example.com.", TXT, NoError, &["1 TXT pending: ordinal 2 of StatefulSet kafka*"]),
    ("kafka-3.kafka.example.com.", QA, NXDomain, &[]),
    ("broker.example.com.", QA, NoError, &["5 A 203.0.113.11", "5 A 203.0.113.12"]),
    ("kafka-0.broker.example.com.", QA, NoError, &["5 A 203.0.113.11"]),
    ("kafka-1.broker.example.com.", QA, NoError, &["5 A 203.0.113.12"]),
    ("kafka-2.broker.example.com.", QA, NoError, &[]),
    ("kafka-2.broker.example.com.", TXT, NoError, &["1 TXT pending: ordinal 2 of StatefulSet kafka*"]),
    ("bootstrap.example.com.", QA, NoError, &["5 A 198.51.100.10"]),
    (
        "_client._tcp.kafka.example.com.",
        SRV,
        NoError,
        &["30 SRV 0 50 9092 kafka-0.kafka.example.com.", "30 SRV 0 50 9092 kafka-1.kafka.example.com."],
    ),
    (
        "_external._tcp.broker.example.com.",
        SRV,
        NoError,
        &["5 SRV 0 50 9094 kafka-0.broker.example.com.", "5 SRV 0 50 9094 kafka-1.broker.example.com."],
    ),
    ("_client._tcp.bootstrap.example.com.", SRV, NoError, &["5 SRV 0 100 9094 bootstrap.example.com."]),
    ("nope.example.com.", QA, NXDomain, &[]),
];

/// Names the external listener must refuse: the cluster zone's, the reverse zone's,
/// other zones' (some of which the fake upstream answers), and a random one.
fn not_external() -> Vec<(String, RecordType)> {
    let mut names: Vec<(String, RecordType)> = [
        ("kafka-0.kafka.kafka.svc.cluster.local.", QA),
        ("_client._tcp.kafka.kafka.svc.cluster.local.", SRV),
        ("cluster.local.", SOA),
        ("20.1.244.10.in-addr.arpa.", PTR),
        ("www.example.test.", QA),
        ("kubernetes.default.svc.cluster.local.", QA),
        ("example.org.", QA),
        ("com.", SOA),
        (".", NS),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), *t))
    .collect();
    names.push((format!("r{:08x}.invalid.", rand::random::<u32>()), QA));
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_alike_everywhere_and_the_external_listener_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    copy_demo(dir.path());
    let up = FakeUpstream::start().await;
    for name in ["www.example.test.", "kubernetes.default.svc.cluster.local.", "example.org."] {
        up.add(Record::from_rdata(Name::from_ascii(name).unwrap(), 60, RData::A(A::new(192, 0, 2, 1))));
    }
    let forward = up.addr.to_string();
    let server = start_external(dir.path(), &["--forward", &forward]).await;
    let (main, ext) = (server.dns_addrs[0], server.external_addrs[0]);

    for (name, qtype, rcode, want) in DEMO_ANSWERS {
        let [ext_udp, ext_tcp] = ask_both(ext, name, *qtype).await;
        let [main_udp, main_tcp] = ask_both(main, name, *qtype).await;
        let e = essence(&ext_udp);
        assert_eq!(essence(&ext_tcp), e, "{name} {qtype}: external UDP and TCP differ");
        assert_eq!(essence(&main_udp), e, "{name} {qtype}: main and external listener differ");
        assert_eq!(essence(&main_tcp), e, "{name} {qtype}: main TCP differs");
        assert_eq!(ext_udp.metadata.response_code, *rcode, "{name} {qtype}: {e:?}");
        assert!(ext_udp.metadata.authoritative, "{name} {qtype}: {e:?}");
        assert!(matches(&answer_lines(&ext_udp), want), "{name} {qtype}: {e:?}, want {want:?}");
        if want.is_empty() {
            let soa = ext_udp.authorities.iter().find(|r| r.record_type() == SOA);
            assert_eq!(soa.map(|r| r.name.to_string()), Some("example.com.".into()), "{name} {qtype}: {e:?}");
        }
    }

    let others = not_external();
    let refused_on_external = |phase: &'static str| {
        let others = others.clone();
        async move {
            for (name, qtype) in &others {
                for r in ask_both(ext, name, *qtype).await {
                    assert_eq!(
                        r.metadata.response_code,
                        Refused,
                        "{phase}: {name} {qtype}: {:?}",
                        essence(&r)
                    );
                    assert!(r.answers.is_empty() && r.authorities.is_empty(), "{phase}: {:?}", essence(&r));
                }
            }
        }
    };
    refused_on_external("before the main listener saw them").await;
    let seen = || up.state.seen.lock().unwrap().len();
    assert_eq!(seen(), 0, "the external listener forwarded something");

    // The main listener answers them all (forwarding what it does not serve), which fills
    // its forward cache and the shared response caches...
    for (name, qtype) in &others {
        for r in ask_both(main, name, *qtype).await {
            assert_ne!(r.metadata.response_code, Refused, "main listener: {name} {qtype}: {:?}", essence(&r));
        }
    }
    let r = query(&mut udp(main).await, "www.example.test.", QA).await;
    assert_eq!(addresses(&r), ["192.0.2.1"], "the upstream answers through the main listener");
    assert_eq!(
        addresses(&query(&mut udp(main).await, "kafka-0.kafka.kafka.svc.cluster.local.", QA).await),
        ["10.244.1.20"]
    );
    let forwarded = seen();
    assert!(forwarded > 0, "the main listener forwarded nothing");

    // ... and the external listener still refuses them, and asks nobody.
    refused_on_external("after the main listener answered them").await;
    assert_eq!(seen(), forwarded, "the external listener forwarded something");

    // Admin HTTP is not on the external listener's TCP port; it is on --admin.
    let got = http_get(ext, "metrics", Duration::from_secs(1)).await;
    assert!(
        !got.contains("HTTP/") && !got.contains("headless_dns"),
        "HTTP on the external listener: {got:?}"
    );
    let metrics = http_get(server.admin_addr.unwrap(), "metrics", Duration::from_secs(5)).await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics:.200}");
    assert!(metrics.contains("headless_dns_queries_total"), "{metrics:.2000}");
    // And the external listener keeps answering DNS.
    let r = query(&mut tcp(ext).await, "bootstrap.example.com.", QA).await;
    assert_eq!(addresses(&r), ["198.51.100.10"]);
    server.stop().await.unwrap();
}

/// One answer the query loop saw.
#[derive(Debug)]
struct Seen {
    at: Instant,
    name: &'static str,
    rcode: ResponseCode,
    addresses: Vec<String>,
    /// For an empty answer: the TXT records of the name, asked right after.
    txt: Vec<String>,
}

const BROKER: &str = "kafka-0.kafka.example.com.";
const BROKER_NODE: &str = "kafka-0.broker.example.com.";

/// When `name` first answered `want` at or after `since`, from the loop's log.
fn first(log: &Mutex<Vec<Seen>>, name: &str, want: &str, since: Instant) -> Option<Instant> {
    let log = log.lock().unwrap();
    log.iter().find(|s| s.at >= since && s.name == name && s.addresses == [want]).map(|s| s.at)
}

/// Waits (at most 5 s) until the loop saw `name` answer `want` after `since`; returns how long
/// after `since` that was.
async fn reached(log: &Mutex<Vec<Seen>>, name: &str, want: &str, since: Instant) -> Duration {
    while since.elapsed() < Duration::from_secs(5) {
        if let Some(at) = first(log, name, want, since) {
            return at - since;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never answered {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescheduled_broker_moves_both_names_within_a_second_and_never_answers_nxdomain() {
    let api = FakeApiServer::start().await;
    api.apply(headless_service("kafka", "kafka.example.com", None));
    api.apply(headless_service("kafka-broker", "broker.example.com", Some("NodeExternalIP")));
    api.apply(statefulset(2));
    api.apply(node("node-a", "10.0.1.1", "203.0.113.11"));
    api.apply(node("node-b", "10.0.1.2", "203.0.113.12"));
    api.apply(pod("kafka-0", "node-a", "10.244.1.20", true));
    api.apply(pod("kafka-1", "node-b", "10.244.2.21", true));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(
        &api,
        dir.path(),
        &["--external-zone", "example.com", "--external-listen", "127.0.0.1:0"],
    )
    .await;
    let ext = server.external_addrs[0];
    let limit = Duration::from_secs(10);
    eventually(ext, BROKER, QA, limit, |r| addresses(r) == ["10.244.1.20"]).await;
    eventually(ext, BROKER_NODE, QA, limit, |r| addresses(r) == ["203.0.113.11"]).await;
    let nodes: Vec<Verb> =
        api.request_log().into_iter().filter(|r| r.path() == "/api/v1/nodes").map(|r| r.verb).collect();
    assert!(nodes.contains(&Verb::List) && nodes.contains(&Verb::Watch), "Nodes are watched: {nodes:?}");

    // Both names asked every 20 ms throughout.
    let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let observer = {
        let (log, stop) = (log.clone(), stop.clone());
        tokio::spawn(async move {
            let mut client = udp(ext).await;
            while !stop.load(Ordering::Relaxed) {
                for name in [BROKER, BROKER_NODE] {
                    let r = query(&mut client, name, QA).await;
                    let at = Instant::now();
                    let txt = match r.answers.is_empty() {
                        true => answer_lines(&query(&mut client, name, TXT).await),
                        false => Vec::new(),
                    };
                    let (rcode, addresses) = (r.metadata.response_code, addresses(&r));
                    log.lock().unwrap().push(Seen { at, name, rcode, addresses, txt });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // kafka-0 goes away: both its names are pending (NODATA, a TXT saying why).
    let deleted = Instant::now();
    assert!(api.delete("Pod", support::external::NS, "kafka-0"));
    let pending = |name: &str| {
        let log = log.lock().unwrap();
        log.iter().any(|s| s.at >= deleted && s.name == name && s.rcode == NoError && s.addresses.is_empty())
    };
    while !(pending(BROKER) && pending(BROKER_NODE)) {
        if deleted.elapsed() > Duration::from_secs(5) {
            let log = log.lock().unwrap();
            panic!("kafka-0's names never pending; last answers: {:#?}", &log[log.len().saturating_sub(4)..]);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Recreated on node-b with a new address, not ready, then ready.
    api.apply(pod("kafka-0", "node-b", "10.244.2.30", false));
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.apply(pod("kafka-0", "node-b", "10.244.2.30", true));
    let ready = Instant::now();
    let by_ip = reached(&log, BROKER, "10.244.2.30", ready).await;
    let by_node_b = reached(&log, BROKER_NODE, "203.0.113.12", ready).await;
    eprintln!("after the pod was ready: the pod IP in {by_ip:?}, node-b's ExternalIP in {by_node_b:?}");
    assert!(by_ip < Duration::from_secs(1), "{BROKER}: new pod IP after {by_ip:?}");
    assert!(by_node_b < Duration::from_secs(1), "{BROKER_NODE}: node-b's ExternalIP after {by_node_b:?}");

    // node-b's ExternalIP changes: the NodeExternalIP names follow.
    tokio::time::sleep(Duration::from_millis(100)).await;
    api.apply(node("node-b", "10.0.1.2", "203.0.113.99"));
    let moved = Instant::now();
    let by_node = reached(&log, BROKER_NODE, "203.0.113.99", moved).await;
    eprintln!("after node-b's ExternalIP changed: served in {by_node:?}");
    assert!(by_node < Duration::from_secs(1), "{BROKER_NODE}: new ExternalIP after {by_node:?}");
    let r = query(&mut udp(ext).await, "kafka-1.broker.example.com.", QA).await;
    assert_eq!(addresses(&r), ["203.0.113.99"], "kafka-1 is on node-b too");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    observer.await.expect("every query of the loop was answered");

    let log = std::mem::take(&mut *log.lock().unwrap());
    assert!(log.len() > 20, "the loop ran: {} answers", log.len());
    for seen in log.iter() {
        assert_eq!(seen.rcode, NoError, "never NXDOMAIN or SERVFAIL: {seen:?}");
        if seen.addresses.is_empty() {
            assert!(matches(&seen.txt, &["1 TXT pending: *"]) || seen.txt.is_empty(), "{seen:?}");
        }
    }
    for name in [BROKER, BROKER_NODE] {
        let with_txt = log.iter().filter(|s| s.name == name && !s.txt.is_empty()).count();
        assert!(with_txt > 0, "{name}: no pending TXT seen while kafka-0 was away");
    }
    if let Some(pending) = log.iter().find(|s| !s.txt.is_empty()) {
        eprintln!("while kafka-0 was away: {pending:?}");
    }
    // Once moved, never back to the old answers.
    let olds = [
        (BROKER, "10.244.1.20", ready + by_ip),
        (BROKER_NODE, "203.0.113.11", ready + by_node_b),
        (BROKER_NODE, "203.0.113.12", moved + by_node),
    ];
    for (name, old, after) in olds {
        let back = log.iter().find(|s| s.at > after && s.name == name && s.addresses == [old]);
        assert!(back.is_none(), "{name} answered {old} again: {back:?}");
    }
    server.stop().await.unwrap();
}

/// The demo plus Services whose hostnames are outside example.com: `stray` (only
/// stray.example.org) and `mixed` (mixed.example.org and mixed.example.com).
fn demo_with_strays(dir: &Path) {
    copy_demo(dir);
    let service = |name: &str, hostnames: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: kafka\n  annotations:\n    \
             external-dns.alpha.kubernetes.io/hostname: {hostnames}\nspec:\n  type: LoadBalancer\n  \
             clusterIP: 10.96.40.{}\n  ports: [{{name: client, port: 9094}}]\nstatus:\n  loadBalancer:\n    \
             ingress: [{{ip: {ip}}}]\n",
            ip.rsplit('.').next().unwrap()
        )
    };
    let text = [
        service("stray", "stray.example.org", "198.51.100.77"),
        service("mixed", "mixed.example.org,mixed.example.com", "198.51.100.78"),
        service("apex", "example.com", "198.51.100.79"),
    ];
    std::fs::write(dir.join("strays.yaml"), text.join("---\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostname_outside_the_external_zone_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    demo_with_strays(dir.path());
    let server = start_external(dir.path(), &[]).await;
    let (main, ext) = (server.dns_addrs[0], server.external_addrs[0]);
    for addr in [main, ext] {
        for (name, rcode, want) in [
            ("stray.example.org.", Refused, &[][..]),
            ("stray.example.com.", NXDomain, &[]),
            ("mixed.example.org.", Refused, &[]),
            ("mixed.example.com.", NoError, &["198.51.100.78"]),
        ] {
            for r in ask_both(addr, name, QA).await {
                assert_eq!(
                    (r.metadata.response_code, addresses(&r)),
                    (rcode, want.iter().map(|w| w.to_string()).collect()),
                    "{name} on {addr}"
                );
            }
        }
    }
    let zone = http_get(server.admin_addr.unwrap(), "records?zone=example.com", Duration::from_secs(5)).await;
    assert!(zone.contains("bootstrap.example.com.") && zone.contains("198.51.100.78"), "{zone}");
    assert!(!zone.contains("stray") && !zone.contains("198.51.100.77"), "{zone}");
    assert!(!zone.contains("example.org"), "{zone}");
    let explain =
        http_get(server.admin_addr.unwrap(), "explain?name=stray.example.org", Duration::from_secs(5)).await;
    assert!(explain.contains("kafka/stray") && explain.contains("in no external zone"), "{explain}");
    server.stop().await.unwrap();
}

/// A hostname outside every external zone is named in the log, once (not again at each
/// publication that touches its Service).
#[test]
fn a_hostname_outside_the_external_zone_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    demo_with_strays(dir.path());
    let listen = format!("127.0.0.1:{}", support::ports::free_port());
    let external = format!("127.0.0.1:{}", support::ports::free_port());
    let manifests = dir.path().to_str().unwrap();
    let server = LoggedProcess::spawn(&[
        "serve",
        "--manifests",
        manifests,
        "--listen",
        &listen,
        "--external-listen",
        &external,
        "--external-zone",
        "example.com",
        "--admin",
        "none",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.count("loaded ") == 0 {
        assert!(Instant::now() < deadline, "never loaded: {:?}", server.lines());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    for name in ["stray.example.org", "mixed.example.org", "hostname example.com is an external zone's apex"]
    {
        assert_eq!(server.count(name), 1, "{name} logged once: {:#?}", server.lines());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_ttl_edit_keeps_the_previous_ttl() {
    let dir = tempfile::tempdir().unwrap();
    copy_demo(dir.path());
    let kafka = dir.path().join("kafka.yaml");
    let original = std::fs::read_to_string(&kafka).unwrap();
    assert!(original.contains("ttl: \"30\""), "the demo's ttl");
    let server = start_external(dir.path(), &[]).await;
    let (main, ext, admin) = (server.dns_addrs[0], server.external_addrs[0], server.admin_addr.unwrap());
    let ttls = |addr: SocketAddr| async move {
        let mut ttls = Vec::new();
        for (name, qtype) in
            [(BROKER, QA), ("kafka.example.com.", QA), ("_client._tcp.kafka.example.com.", SRV)]
        {
            for r in ask_both(addr, name, qtype).await {
                assert!(!r.answers.is_empty(), "{name} {qtype}: {:?}", essence(&r));
                ttls.extend(r.answers.iter().map(|r| r.ttl));
            }
        }
        ttls.dedup();
        ttls
    };
    assert_eq!(ttls(ext).await, [30]);

    // ttl: "ten", and the load balancer's address moves in the same edit.
    let edited =
        original.replace("ttl: \"30\"", "ttl: \"ten\"").replace("ip: 198.51.100.10", "ip: 198.51.100.11");
    std::fs::write(&kafka, edited).unwrap();
    eventually(ext, "bootstrap.example.com.", QA, Duration::from_secs(10), |r| {
        addresses(r) == ["198.51.100.11"]
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let explained = loop {
        let explain = http_get(admin, "explain?name=kafka-0.kafka.example.com", Duration::from_secs(5)).await;
        if explain.contains("the previous value is served") {
            break explain;
        }
        assert!(Instant::now() < deadline, "the edit never taken in: {explain}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(explained.contains("ten"), "{explained}");
    assert_eq!(ttls(ext).await, [30], "the previous TTL, not the zone's 5");
    assert_eq!(ttls(main).await, [30]);

    // A usable value again is served.
    std::fs::write(&kafka, original.replace("ttl: \"30\"", "ttl: \"45\"")).unwrap();
    eventually(ext, BROKER, QA, Duration::from_secs(10), |r| r.answers.first().is_some_and(|a| a.ttl == 45))
        .await;
    assert_eq!(ttls(ext).await, [45]);
    server.stop().await.unwrap();
}

/// A hostname edited to one no external zone publishes (the zone typed wrong, or the apex)
/// keeps the previous hostnames: the broker's names never answer NXDOMAIN meanwhile, and
/// the log and explain say what was left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostname_edited_out_of_the_zone_keeps_the_previous_names() {
    let dir = tempfile::tempdir().unwrap();
    copy_demo(dir.path());
    let kafka = dir.path().join("kafka.yaml");
    let original = std::fs::read_to_string(&kafka).unwrap();
    let line = "hostname: kafka.example.com\n";
    assert!(original.contains(line), "the demo's hostname");
    let server = start_external(dir.path(), &[]).await;
    let (ext, admin) = (server.external_addrs[0], server.admin_addr.unwrap());
    eventually(ext, BROKER, QA, Duration::from_secs(10), |r| !r.answers.is_empty()).await;
    let mut client = udp(ext).await;
    for (typo, reason) in [
        ("kafka.example.org", "in no external zone (example.com.)"),
        ("example.com", "the apex of external zone example.com."),
    ] {
        std::fs::write(&kafka, original.replace(line, &format!("hostname: {typo}\n"))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let explained = loop {
            for name in [BROKER, "kafka.example.com.", "_client._tcp.kafka.example.com."] {
                let qtype = if name.starts_with('_') { SRV } else { QA };
                let r = query(&mut client, name, qtype).await;
                assert_eq!(r.metadata.response_code, NoError, "{typo}: {name} {:?}", essence(&r));
                assert!(!r.answers.is_empty(), "{typo}: {name} {:?}", essence(&r));
            }
            let explain =
                http_get(admin, "explain?name=kafka-0.kafka.example.com", Duration::from_secs(5)).await;
            if explain.contains(&format!("hostname=\\\"{typo}\\\"")) {
                break explain;
            }
            assert!(Instant::now() < deadline, "the {typo} edit never taken in: {explain}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            explained.contains(reason) && explained.contains("the previous value is served"),
            "{explained}"
        );
        // Asked about the name left out, explain names the Service that asked for it.
        let named = http_get(admin, &format!("explain?name={typo}"), Duration::from_secs(5)).await;
        assert!(named.contains("kafka/kafka") && named.contains(reason), "{named}");
    }

    // A hostname in the zone again is served: here a new one, and the old name goes.
    std::fs::write(&kafka, original.replace(line, "hostname: kafka2.example.com\n")).unwrap();
    eventually(ext, "kafka-0.kafka2.example.com.", QA, Duration::from_secs(10), |r| !r.answers.is_empty())
        .await;
    eventually(ext, BROKER, QA, Duration::from_secs(10), |r| r.metadata.response_code == NXDomain).await;
    server.stop().await.unwrap();
}
