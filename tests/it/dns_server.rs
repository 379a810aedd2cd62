//! The server over real sockets: hickory's client over UDP and TCP, raw packets for
//! the protocol edges, and the manifests source's live reload.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use support::demo;
use support::dns::*;

fn pod(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default, labels: {{app: nginx}}}}\n\
         spec: {{hostname: {name}, subdomain: nginx}}\n\
         status: {{podIP: {ip}, conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n"
    )
}

const NGINX: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: nginx, namespace: default}\n\
spec: {clusterIP: None, selector: {app: nginx}, ports: [{name: web, port: 80}]}\n---\n";

fn write_cluster(dir: &Path, pods: &[(&str, &str)]) {
    let body: String = pods.iter().map(|(n, ip)| pod(n, ip)).collect();
    std::fs::write(dir.join("cluster.yaml"), format!("{NGINX}{body}")).unwrap();
}

fn message(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), qtype));
    m
}

async fn ask_raw(addr: SocketAddr, m: &Message) -> Message {
    let reply = raw_udp(addr, &m.to_vec().unwrap(), Duration::from_secs(2)).await.expect("a reply");
    Message::from_vec(&reply).unwrap()
}

#[tokio::test]
async fn demo_answers_over_udp_and_tcp() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];
    for mut client in [udp(addr).await, tcp(addr).await] {
        let a = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(a.metadata.response_code, ResponseCode::NoError);
        assert!(a.metadata.authoritative);
        assert_eq!(addresses(&a), ["10.244.1.10"]);

        let srv = query(&mut client, "_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV).await;
        assert_eq!(
            answers(&srv),
            [
                "0 33 8080 web-0.nginx.default.svc.cluster.local.",
                "0 33 8080 web-1.nginx.default.svc.cluster.local.",
                "0 33 8080 web-2.nginx.default.svc.cluster.local."
            ]
        );
        assert_eq!(srv.additionals.iter().filter(|r| r.record_type() == RecordType::A).count(), 3);

        let ptr = query(&mut client, "11.2.244.10.in-addr.arpa.", RecordType::PTR).await;
        assert_eq!(answers(&ptr), ["web-1.nginx.default.svc.cluster.local."]);

        let aaaa = query(&mut client, "db-0.db.data.svc.cluster.local.", RecordType::AAAA).await;
        assert_eq!(addresses(&aaaa), ["fd00:10:244:1::20"]);

        let nodata = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::AAAA).await;
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
        assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);

        let nx = query(&mut client, "web-9.nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);

        let refused = query(&mut client, "example.com.", RecordType::A).await;
        assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
        assert!(!refused.metadata.authoritative);
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn several_queries_on_one_tcp_connection() {
    let server = start(demo(), &[]).await;
    let mut client = tcp(server.dns_addrs[0]).await;
    let futures: Vec<_> =
        (0..3)
            .map(|i| {
                let mut c = client.clone();
                async move {
                    query(&mut c, &format!("web-{i}.nginx.default.svc.cluster.local."), RecordType::A).await
                }
            })
            .collect();
    let replies = futures::future::join_all(futures).await;
    let got: Vec<Vec<String>> = replies.iter().map(addresses).collect();
    assert_eq!(got, [vec!["10.244.1.10"], vec!["10.244.2.11"], vec!["10.244.3.12"]]);
    let again = query(&mut client, "nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(again.answers.len(), 3);
}

#[tokio::test]
async fn edns_is_echoed_and_large_answers_truncate_then_complete_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let pods: Vec<(String, String)> =
        (0..100).map(|i| (format!("web-{i}"), format!("10.1.{}.{}", i / 100, i % 100 + 1))).collect();
    let refs: Vec<(&str, &str)> = pods.iter().map(|(n, ip)| (n.as_str(), ip.as_str())).collect();
    write_cluster(dir.path(), &refs);
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];

    // EDNS with a 4096-byte buffer: we cap at --max-udp-size (1232) and echo OPT.
    let mut m = message("nginx.default.svc.cluster.local.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    m.edns = Some(edns);
    let udp_reply = raw_udp(addr, &m.to_vec().unwrap(), Duration::from_secs(2)).await.unwrap();
    assert!(udp_reply.len() <= 1232, "{} bytes", udp_reply.len());
    let udp_reply = Message::from_vec(&udp_reply).unwrap();
    assert!(udp_reply.metadata.truncation, "100 A records do not fit 1232 bytes");
    let opt = udp_reply.edns.as_ref().expect("OPT echoed");
    assert_eq!(opt.max_payload(), 1232);

    // Without EDNS: 512 bytes.
    let plain = raw_udp(
        addr,
        &message("nginx.default.svc.cluster.local.", RecordType::A).to_vec().unwrap(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert!(plain.len() <= 512);
    let plain = Message::from_vec(&plain).unwrap();
    assert!(plain.metadata.truncation);
    assert!(plain.edns.is_none());

    // The same question over TCP: all 100 addresses.
    let tcp_reply = Message::from_vec(&raw_tcp(addr, &m.to_vec().unwrap()).await).unwrap();
    assert!(!tcp_reply.metadata.truncation);
    assert_eq!(tcp_reply.answers.len(), 100);

    // hickory's client sees TC and the caller retries over TCP, as stub resolvers do.
    let mut client = udp(addr).await;
    let first = query(&mut client, "nginx.default.svc.cluster.local.", RecordType::A).await;
    assert!(first.metadata.truncation);
    let mut client = tcp(addr).await;
    let full = query(&mut client, "nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&full).len(), 100);

    // An SRV answer whose glue does not fit keeps its answers and drops the glue, TC=0.
    let mut srv = message("_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    srv.edns = Some(edns);
    let r = ask_raw(addr, &srv).await;
    assert!(r.metadata.truncation, "100 SRV records do not fit either");
    let tcp_srv = Message::from_vec(&raw_tcp(addr, &srv.to_vec().unwrap()).await).unwrap();
    assert_eq!(tcp_srv.answers.len(), 100);
    assert_eq!(tcp_srv.additionals.len(), 100);
}

#[tokio::test]
async fn glue_that_does_not_fit_is_dropped_without_truncating() {
    let dir = tempfile::tempdir().unwrap();
    let pods: Vec<(String, String)> =
        (0..7).map(|i| (format!("web-{i}"), format!("10.1.0.{}", i + 1))).collect();
    let refs: Vec<(&str, &str)> = pods.iter().map(|(n, ip)| (n.as_str(), ip.as_str())).collect();
    write_cluster(dir.path(), &refs);
    let server = start(dir.path(), &[]).await;
    // 7 SRV records fit in 512 bytes (targets are never compressed), with their glue they do not.
    let r =
        ask_raw(server.dns_addrs[0], &message("_web._tcp.nginx.default.svc.cluster.local.", RecordType::SRV))
            .await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 7);
    assert!(r.additionals.is_empty());
}

#[tokio::test]
async fn protocol_errors_get_the_right_codes() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];

    // EDNS version 1 → BADVERS with OPT.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    m.edns = Some(edns);
    let r = ask_raw(addr, &m).await;
    // BADVERS and BADSIG share the code 16; hickory decodes it as BADSIG.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert!(r.edns.is_some() && r.answers.is_empty());

    // Opcode STATUS → NOTIMP.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    m.metadata.op_code = OpCode::Status;
    assert_eq!(ask_raw(addr, &m).await.metadata.response_code, ResponseCode::NotImp);

    // No question, two questions → FORMERR.
    let m = Message::new(7, MessageType::Query, OpCode::Query);
    assert_eq!(ask_raw(addr, &m).await.metadata.response_code, ResponseCode::FormErr);
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    m.add_query(Query::query(
        Name::from_ascii("web-1.nginx.default.svc.cluster.local.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(ask_raw(addr, &m).await.metadata.response_code, ResponseCode::FormErr);

    // A response (QR=1) is never answered: no reflection.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    m.metadata.message_type = MessageType::Response;
    assert!(raw_udp(addr, &m.to_vec().unwrap(), Duration::from_millis(300)).await.is_none());

    // Garbage after a valid header → FORMERR; shorter than a header → dropped.
    let reply =
        raw_udp(addr, &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff], Duration::from_secs(1)).await;
    let reply = Message::from_vec(&reply.expect("FORMERR reply")).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.metadata.id, 0x1234);
    assert!(raw_udp(addr, &[1, 2, 3], Duration::from_millis(300)).await.is_none());

    // The question's case is preserved, in the question and in the answer.
    let m = message("WeB-0.NGINX.default.svc.Cluster.Local.", RecordType::A);
    let r = ask_raw(addr, &m).await;
    assert_eq!(r.queries[0].name().to_string(), "WeB-0.NGINX.default.svc.Cluster.Local.");
    assert_eq!(r.answers[0].name.to_string(), "WeB-0.NGINX.default.svc.Cluster.Local.");
    assert_eq!(r.metadata.id, 4242);

    // ANY: one RRset, not the whole node.
    let r = ask_raw(addr, &message("db-0.db.data.svc.cluster.local.", RecordType::ANY)).await;
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn a_rewritten_manifest_is_served_within_a_second_without_failed_queries() {
    let dir = tempfile::tempdir().unwrap();
    write_cluster(dir.path(), &[("web-0", "10.0.0.10"), ("web-1", "10.0.0.11"), ("web-2", "10.0.0.12")]);
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let mut client = udp(addr).await;
    assert_eq!(
        addresses(&query(&mut client, "web-1.nginx.default.svc.cluster.local.", RecordType::A).await),
        ["10.0.0.11"]
    );

    write_cluster(dir.path(), &[("web-0", "10.0.0.10"), ("web-1", "10.0.9.99"), ("web-2", "10.0.0.12")]);
    let changed_at = Instant::now();
    loop {
        let web1 = query(&mut client, "web-1.nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(web1.metadata.response_code, ResponseCode::NoError, "no failed query during the reload");
        let others = [
            query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await,
            query(&mut client, "web-2.nginx.default.svc.cluster.local.", RecordType::A).await,
        ];
        assert_eq!(addresses(&others[0]), ["10.0.0.10"]);
        assert_eq!(addresses(&others[1]), ["10.0.0.12"]);
        match addresses(&web1).as_slice() {
            [ip] if ip == "10.0.9.99" => break,
            [ip] if ip == "10.0.0.11" => {}
            other => panic!("web-1 answered {other:?}"),
        }
        assert!(changed_at.elapsed() < Duration::from_secs(1), "new IP not served within 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ptr = query(&mut client, "99.9.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(answers(&ptr), ["web-1.nginx.default.svc.cluster.local."]);
    let old_ptr = query(&mut client, "11.0.0.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(old_ptr.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test]
async fn a_manifest_broken_after_startup_keeps_the_previous_answers() {
    let dir = tempfile::tempdir().unwrap();
    write_cluster(dir.path(), &[("web-0", "10.0.0.10")]);
    let server = start(dir.path(), &[]).await;
    let mut client = udp(server.dns_addrs[0]).await;
    std::fs::write(dir.path().join("cluster.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: [broken\n")
        .unwrap();
    // Give the watcher more than its reload time.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.0.0.10"]);
    // Fixed: picked up again.
    write_cluster(dir.path(), &[("web-0", "10.0.0.77")]);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
        if addresses(&r) == ["10.0.0.77"] {
            break;
        }
        assert!(Instant::now() < deadline, "fixed manifest not picked up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_broken_manifest_at_startup_is_an_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "kind: Pod\nmetadata:\n  name: [x\n").unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let args = serve_args(&["--manifests", &path, "--listen", "127.0.0.1:0", "--admin", "none"]);
    let err = headless_dns::app::start(&args).await.err().expect("startup fails").to_string();
    assert!(err.contains("bad.yaml:"), "{err}");
    assert!(err.contains(":4:") || err.contains(":3:"), "names the line: {err}");
}

/// The UDP workers' response cache answers byte-for-byte what the general path answers,
/// over a generated zone and a mix of names, types, EDNS sizes, DO bits and cases.
#[tokio::test]
async fn fast_path_answers_are_byte_identical_to_the_general_path() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::new();
    for s in 0..20 {
        yaml += &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{s}, namespace: ns-{}}}\n\
             spec: {{clusterIP: None, selector: {{app: a{s}}}, ports: [{{name: web, port: 80}}]}}\n---\n\
             apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: svc-{s}, namespace: ns-{}}}\nspec: {{serviceName: svc-{s}, replicas: 12}}\n---\n",
            s % 3,
            s % 3
        );
        for p in 0..(s % 12) {
            yaml += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: svc-{s}-{p}, namespace: ns-{}, labels: {{app: a{s}}}}}\n\
                 spec: {{hostname: svc-{s}-{p}, subdomain: svc-{s}}}\n\
                 status: {{podIPs: [{{ip: 10.{s}.0.{p}}}, {{ip: \"fd00::{s}:{p}\"}}], conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n",
                s % 3
            );
        }
    }
    std::fs::write(dir.path().join("zone.yaml"), yaml).unwrap();
    let server = start(dir.path(), &["--udp-workers", "1"]).await;
    let addr = server.dns_addrs[0];
    let general =
        headless_dns::dns::Handler::new(server.zones.clone(), 1232, Arc::new(())).without_fast_path();
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut names = vec![
        "cluster.local.".to_owned(),
        "dns-version.cluster.local.".to_owned(),
        "nope.cluster.local.".to_owned(),
    ];
    for s in 0..20 {
        names.push(format!("svc-{s}.ns-{}.svc.cluster.local.", s % 3));
        names.push(format!("SVC-{s}.Ns-{}.svc.cluster.local.", s % 3));
        names.push(format!("_web._tcp.svc-{s}.ns-{}.svc.cluster.local.", s % 3));
        names.push(format!("svc-{s}-3.svc-{s}.ns-{}.svc.cluster.local.", s % 3));
        names.push(format!("svc-{s}-11.svc-{s}.ns-{}.svc.cluster.local.", s % 3));
        names.push(format!("3.0.{s}.10.in-addr.arpa."));
        names.push(format!("svc-{s}-1.svc-{s}.ns-0.svc.cluster.local.ns-0.svc.cluster.local."));
    }
    let mut compared = 0;
    for (i, name) in names.iter().enumerate() {
        for qtype in [
            RecordType::A,
            RecordType::AAAA,
            RecordType::SRV,
            RecordType::PTR,
            RecordType::SOA,
            RecordType::TXT,
        ] {
            for edns in [None, Some((512u16, false)), Some((4096, true)), Some((1400, false))] {
                let mut m = message(name, qtype);
                if let Some((size, dnssec_ok)) = edns {
                    let mut e = Edns::new();
                    e.set_max_payload(size).set_dnssec_ok(dnssec_ok);
                    m.edns = Some(e);
                }
                // Twice: the first fills the worker's cache, the second is served from it.
                for round in 0..2u16 {
                    m.metadata.id = (i as u16).wrapping_mul(7).wrapping_add(round);
                    m.metadata.recursion_desired = round == 1;
                    let bytes = m.to_vec().unwrap();
                    let over_udp = raw_udp(addr, &bytes, Duration::from_secs(2)).await.expect("reply");
                    let expected = general
                        .respond(
                            &general.zones().load_full(),
                            &bytes,
                            src,
                            hickory_server::net::xfer::Protocol::Udp,
                        )
                        .into_bytes()
                        .unwrap();
                    assert_eq!(over_udp, expected, "{name} {qtype} {edns:?} round {round}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 3000, "{compared}");
}

/// Many queries in flight at once reach a worker as batches (`recvmmsg`), mixing cached,
/// uncached and unanswerable ones; every client gets each of its answers, under its own
/// ID, with the records of its own question.
#[tokio::test]
async fn a_burst_of_udp_queries_from_several_clients_is_answered_query_by_query() {
    let server = start(demo(), &["--udp-workers", "1"]).await;
    let addr = server.dns_addrs[0];
    let questions = [
        ("web-0.nginx.default.svc.cluster.local.", RecordType::A, ResponseCode::NoError, Some("10.244.1.10")),
        ("web-1.nginx.default.svc.cluster.local.", RecordType::A, ResponseCode::NoError, Some("10.244.2.11")),
        ("web-9.nginx.default.svc.cluster.local.", RecordType::A, ResponseCode::NXDomain, None),
        (
            "db-0.db.data.svc.cluster.local.",
            RecordType::AAAA,
            ResponseCode::NoError,
            Some("fd00:10:244:1::20"),
        ),
        ("example.com.", RecordType::A, ResponseCode::Refused, None),
    ];
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    // Everything is sent before anything is read: the server's queue holds whole batches.
    for (c, client) in clients.iter().enumerate() {
        for i in 0..100u16 {
            let (qname, qtype, ..) = questions[usize::from(i) % questions.len()];
            let mut m = message(qname, qtype);
            m.metadata.id = (c as u16) << 8 | i;
            client.send_to(&m.to_vec().unwrap(), addr).await.unwrap();
        }
    }
    for (c, client) in clients.iter().enumerate() {
        let mut seen = std::collections::BTreeSet::new();
        let mut buf = vec![0u8; 4096];
        while seen.len() < 100 {
            let len = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("client {c}: only {} of 100 answers", seen.len()))
                .unwrap();
            let reply = Message::from_vec(&buf[..len]).unwrap();
            let id = reply.metadata.id;
            assert_eq!(usize::from(id >> 8), c, "an answer for another client");
            let i = id & 0xff;
            assert!(seen.insert(i), "answer {i} twice");
            let (qname, qtype, rcode, address) = questions[usize::from(i) % questions.len()];
            assert_eq!(reply.queries[0].name().to_ascii(), qname);
            assert_eq!(reply.queries[0].query_type(), qtype);
            assert_eq!(reply.metadata.response_code, rcode, "{qname}");
            assert_eq!(addresses(&reply).first().map(String::as_str), address, "{qname}");
        }
    }
    server.stop().await.unwrap();
}
