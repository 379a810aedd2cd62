//! Hardening: protocol compliance edges (as RFC 8906 and ISC's EDNS compliance tests
//! check), hostile TCP clients, faults in every source, and answers under churn.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use serde_json::json;
use support::demo;
use support::dns::*;
use support::fake_apiserver::FakeApiServer;
use tokio::io::AsyncWriteExt;

fn message(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(99, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), qtype));
    m
}

async fn ask(addr: SocketAddr, m: &Message) -> Message {
    let reply = raw_udp(addr, &m.to_vec().unwrap(), Duration::from_secs(2)).await.expect("a reply");
    Message::from_vec(&reply).unwrap()
}

async fn ask_bytes(addr: SocketAddr, bytes: &[u8]) -> Option<Message> {
    raw_udp(addr, bytes, Duration::from_millis(500))
        .await
        .map(|r| Message::from_vec(&r).expect("a decodable reply"))
}

#[tokio::test]
async fn edns_compliance() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];
    // Plain DNS: no OPT back.
    let r = ask(addr, &message("web-0.nginx.default.svc.cluster.local.", RecordType::A)).await;
    assert!(r.edns.is_none());
    // Unknown option: ignored, not echoed; answer unchanged.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    let mut e = Edns::new();
    e.options_mut().insert(EdnsOption::Unknown(65001, vec![1, 2, 3]));
    m.edns = Some(e);
    let r = ask(addr, &m).await;
    assert_eq!(r.answers.len(), 1);
    assert!(r.edns.as_ref().unwrap().option(EdnsCode::Unknown(65001)).is_none());
    // Unknown EDNS flag (Z bits): ignored and not echoed.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    let mut e = Edns::new();
    e.flags_mut().z = 0x4000;
    m.edns = Some(e);
    let r = ask(addr, &m).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.edns.as_ref().unwrap().flags().z, 0);
    // DO bit: copied (RFC 3225).
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    let mut e = Edns::new();
    e.set_dnssec_ok(true);
    m.edns = Some(e);
    assert!(ask(addr, &m).await.edns.unwrap().flags().dnssec_ok);
    // EDNS version 1 with an unknown option: BADVERS, version 0 in the reply.
    let mut m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A);
    let mut e = Edns::new();
    e.set_version(1);
    m.edns = Some(e);
    let r = ask(addr, &m).await;
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert_eq!(r.edns.unwrap().version(), 0);
}

#[tokio::test]
async fn malformed_and_odd_packets() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];
    let header = |qd: u8| vec![0xbe, 0xef, 0x01, 0x00, 0, qd, 0, 0, 0, 0, 0, 0];
    // A compression pointer loop in the question: FORMERR, never a hang.
    let mut looped = header(1);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let r = ask_bytes(addr, &looped).await.expect("FORMERR");
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.metadata.id, 0xbeef);
    // A name over 255 bytes: FORMERR.
    let mut long = header(1);
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(ask_bytes(addr, &long).await.unwrap().metadata.response_code, ResponseCode::FormErr);
    // A label over 63 bytes: FORMERR.
    let mut label = header(1);
    label.push(64);
    label.extend_from_slice(&[b'a'; 64]);
    label.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(ask_bytes(addr, &label).await.unwrap().metadata.response_code, ResponseCode::FormErr);
    // A question cut short: FORMERR. Random garbage after a header: FORMERR or nothing.
    let mut cut = header(1);
    cut.extend_from_slice(&[3, b'w', b'e']);
    assert_eq!(ask_bytes(addr, &cut).await.unwrap().metadata.response_code, ResponseCode::FormErr);
    // Class CH (version.bind): REFUSED, not an answer.
    let mut chaos = message("version.bind.", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(ask(addr, &chaos).await.metadata.response_code, ResponseCode::Refused);
    // The server is still fine.
    let r = ask(addr, &message("web-1.nginx.default.svc.cluster.local.", RecordType::A)).await;
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn tcp_pipelining_idle_timeout_and_64k_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: huge, namespace: default}\nspec: {clusterIP: None, selector: {app: huge}}\n---\n",
    );
    for i in 0..6000 {
        yaml += &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: default, labels: {{app: huge}}}}\n\
             status: {{podIP: 10.{}.{}.{}, conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        );
    }
    std::fs::write(dir.path().join("huge.yaml"), yaml).unwrap();
    let server = start(dir.path(), &["--tcp-idle-timeout", "1"]).await;
    let addr = server.dns_addrs[0];
    // 6000 A records do not fit 64 KiB: the reply stays under it, truncated.
    let reply =
        raw_tcp(addr, &message("huge.default.svc.cluster.local.", RecordType::A).to_vec().unwrap()).await;
    assert!(reply.len() <= 65535);
    assert!(Message::from_vec(&reply).unwrap().metadata.truncation);
    // Three pipelined queries in one write: three replies, matched by ID.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut burst = Vec::new();
    for (id, name) in [
        (1u16, "p1.huge.default.svc.cluster.local."),
        (2, "p2.huge.default.svc.cluster.local."),
        (3, "nope.cluster.local."),
    ] {
        let mut m = message(name, RecordType::A);
        m.metadata.id = id;
        let bytes = m.to_vec().unwrap();
        burst.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        burst.extend_from_slice(&bytes);
    }
    stream.write_all(&burst).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(Message::from_vec(&read_frame(&mut stream).await).unwrap().metadata.id);
    }
    ids.sort();
    assert_eq!(ids, [1, 2, 3]);
    // Idle: closed after the timeout.
    let started = Instant::now();
    let mut buf = [0u8; 1];
    let n =
        tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut stream, &mut buf))
            .await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "closed: {n:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn slowloris_connections_time_out_and_udp_is_unaffected() {
    let server = start(demo(), &["--tcp-idle-timeout", "1"]).await;
    let addr = server.dns_addrs[0];
    // 200 connections that send one byte of a length prefix and stall.
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&[0]).await.unwrap();
        stalled.push(s);
    }
    let mut client = udp(addr).await;
    for _ in 0..20 {
        let r = query(&mut client, "web-2.nginx.default.svc.cluster.local.", RecordType::A).await;
        assert_eq!(addresses(&r), ["10.244.3.12"]);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut closed = 0;
    for s in &mut stalled {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(50), tokio::io::AsyncReadExt::read(s, &mut buf)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 200, "every stalled connection was closed");
    // And a fresh TCP client is served.
    let r = Message::from_vec(
        &raw_tcp(addr, &message("web-0.nginx.default.svc.cluster.local.", RecordType::A).to_vec().unwrap())
            .await,
    )
    .unwrap();
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn a_vanished_manifest_directory_keeps_answers_and_recovers() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(demo().join("nginx.yaml"), dir.join("nginx.yaml")).unwrap();
    let server = start(&dir, &[]).await;
    let mut client = udp(server.dns_addrs[0]).await;
    std::fs::remove_dir_all(&dir).unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await; // past the poll interval
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.244.1.10"], "answers kept while the directory is gone");
    std::fs::create_dir(&dir).unwrap();
    let changed =
        std::fs::read_to_string(demo().join("nginx.yaml")).unwrap().replace("10.244.1.10", "10.244.9.9");
    std::fs::write(dir.join("nginx.yaml"), changed).unwrap();
    // Recovered when the directory came back.
    eventually(
        server.dns_addrs[0],
        "web-0.nginx.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(6),
        |r| addresses(r) == ["10.244.9.9"],
    )
    .await;
}

#[tokio::test]
async fn an_unwritable_state_file_does_not_affect_dns_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("state-dir");
    std::fs::write(&blocked, b"a file where a directory should be").unwrap();
    let state = blocked.join("state.json");
    let server = start(demo(), &["--state-file", state.to_str().unwrap()]).await;
    let mut client = udp(server.dns_addrs[0]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.answers.len(), 1);
    assert!(!state.exists());
    // The fault ends: the next save succeeds.
    std::fs::remove_file(&blocked).unwrap();
    std::fs::create_dir(&blocked).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() {
        assert!(Instant::now() < deadline, "state file written once possible");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With manifests, a state file only bridges the load: the files are the truth, so what
/// they stopped holding while the server was down goes, and what they hold is served.
#[tokio::test]
async fn a_state_file_does_not_bring_back_what_the_manifests_dropped_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for file in ["nginx.yaml", "data.yaml"] {
        std::fs::write(manifests.join(file), support::demo_file(file)).unwrap();
    }
    let state = dir.path().join("state.json");
    let args = ["--state-file", state.to_str().unwrap()];
    let first = start(&manifests, &args).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.exists() {
        assert!(Instant::now() < deadline, "state file written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.stop().await.unwrap();
    // While it is down, nginx.yaml is removed and a pod of data.yaml moves.
    std::fs::remove_file(manifests.join("nginx.yaml")).unwrap();
    std::fs::write(
        manifests.join("data.yaml"),
        support::demo_file("data.yaml").replace("10.244.1.20", "10.244.7.20"),
    )
    .unwrap();
    // Answered from the state file at once; the files' version follows their load.
    let second = start(&manifests, &args).await;
    let addr = second.dns_addrs[0];
    let limit = Duration::from_secs(5);
    eventually(addr, "web-0.nginx.default.svc.cluster.local.", RecordType::A, limit, |r| {
        r.metadata.response_code == ResponseCode::NXDomain
    })
    .await;
    let r = query(&mut udp(addr).await, "db-0.db.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.244.7.20"]);
    let metrics = second.metrics.render();
    assert!(metrics.contains("headless_dns_synced 1"), "{metrics}");
    assert!(metrics.contains("headless_dns_answering_from_state_file 0"), "{metrics}");
    // The state file catches up (it is written at most once a second), then a restart.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    second.stop().await.unwrap();
    // Files that hold just what the state file does publish nothing new: synced all the
    // same once they are loaded.
    let third = start(&manifests, &args).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = third.metrics.render();
        if metrics.contains("headless_dns_synced 1")
            && metrics.contains("headless_dns_answering_from_state_file 0")
        {
            break;
        }
        assert!(Instant::now() < deadline, "not synced after the files were loaded:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_api_server_keeps_answers_and_recovers() {
    let api = FakeApiServer::start().await;
    api.apply(json!({"kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"app": "nginx"}}}));
    api.apply(pod("web-0", "10.0.0.10"));
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;
    // The API server hangs mid-stream: answers are kept.
    api.set_hang_watches(true);
    api.drop_watches();
    api.apply(pod("web-0", "10.0.0.77"));
    let mut client = udp(addr).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    // It recovers: the stream is cut and reopened; the missed change arrives.
    api.set_hang_watches(false);
    api.drop_watches();
    // Recovered after the hang.
    eventually(addr, "web-0.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(15), |r| {
        addresses(r) == ["10.0.0.77"]
    })
    .await;
}

fn pod(name: &str, ip: &str) -> serde_json::Value {
    json!({"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"}},
           "spec": {"hostname": name, "subdomain": "nginx"},
           "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}})
}

/// 1,000 reschedules while clients query: every answer is one that was valid at some
/// instant (an address that pod had, or NODATA), never another pod's, never SERVFAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stay_valid_while_pods_churn() {
    let api = FakeApiServer::start().await;
    api.apply(json!({"kind": "Service", "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"app": "nginx"}}}));
    api.apply(json!({"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"serviceName": "nginx", "replicas": 10}}));
    // Pod i only ever has addresses 10.<i>.x.y: any other pod's address is detectable.
    for i in 0..10 {
        api.apply(pod(&format!("web-{i}"), &format!("10.{i}.0.0")));
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_against(&api, dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    wait_synced(addr).await;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (stop, answered) = (stop.clone(), answered.clone());
        clients.push(tokio::spawn(async move {
            let mut client = udp(addr).await;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                i = (i + 1) % 10;
                let r =
                    query(&mut client, &format!("web-{i}.nginx.default.svc.cluster.local."), RecordType::A)
                        .await;
                assert_eq!(r.metadata.response_code, ResponseCode::NoError, "web-{i}: {r:?}");
                for ip in addresses(&r) {
                    assert!(
                        ip.starts_with(&format!("10.{i}.")),
                        "web-{i} answered {ip}, another pod's address"
                    );
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for n in 0..1000u32 {
        let i = n % 10;
        api.delete("Pod", "default", &format!("web-{i}"));
        api.apply(pod(&format!("web-{i}"), &format!("10.{i}.{}.{}", (n / 10) / 256, (n / 10) % 256)));
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // The last addresses are served.
    eventually(addr, "web-9.nginx.default.svc.cluster.local.", RecordType::A, Duration::from_secs(10), |r| {
        addresses(r) == ["10.9.0.99"]
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("a client saw an invalid answer");
    }
    assert!(answered.load(Ordering::Relaxed) > 100, "{}", answered.load(Ordering::Relaxed));
}

#[tokio::test]
async fn tcp_connections_beyond_the_limit_are_closed_and_udp_is_unaffected() {
    let server = start(demo(), &["--tcp-max-connections", "5", "--tcp-idle-timeout", "30"]).await;
    let addr = server.dns_addrs[0];
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The sixth is accepted by the kernel, then closed at once.
    let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(2), tokio::io::AsyncReadExt::read(&mut extra, &mut buf))
        .await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "closed: {r:?}");
    // UDP is unaffected; the held connections are still served.
    let mut client = udp(addr).await;
    assert_eq!(
        addresses(&query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await),
        ["10.244.1.10"]
    );
    let m = message("web-1.nginx.default.svc.cluster.local.", RecordType::A).to_vec().unwrap();
    let mut framed = (m.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&m);
    held[0].write_all(&framed).await.unwrap();
    assert_eq!(Message::from_vec(&read_frame(&mut held[0]).await).unwrap().answers.len(), 1);
    // Once one closes, a new connection is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = Message::from_vec(&raw_tcp(addr, &m).await).unwrap();
    assert_eq!(r.answers.len(), 1);
}

/// Inputs the query-path fuzzer found (fuzz/regressions/query_path/): questions whose name
/// is a compression pointer into the header. hickory-server's response builder copied the
/// question's raw bytes, pointer included, so the pointer then aimed into our own reply's
/// header and the reply did not parse. Replies now re-encode the question.
#[tokio::test]
async fn fuzz_regressions_get_well_formed_replies() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/query_path"));
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        for reply in [
            raw_udp(addr, &input, Duration::from_secs(1)).await.expect("a UDP reply"),
            raw_tcp(addr, &input).await,
        ] {
            let parsed = Message::from_vec(&reply).expect("the reply parses");
            assert_eq!(parsed.metadata.id, u16::from_be_bytes([input[0], input[1]]));
            assert_eq!(parsed.metadata.message_type, MessageType::Response);
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
}

#[tokio::test]
async fn rate_limiting_caps_udp_answers_per_prefix_and_slips_tc() {
    let server = start(demo(), &["--rate-limit", "10"]).await;
    let addr = server.dns_addrs[0];
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let m = message("web-0.nginx.default.svc.cluster.local.", RecordType::A).to_vec().unwrap();
    for _ in 0..60 {
        socket.send_to(&m, addr).await.unwrap();
    }
    let (mut full, mut slipped) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await
    {
        let r = Message::from_vec(&buf[..n]).unwrap();
        if r.metadata.truncation {
            assert!(r.answers.is_empty());
            assert_eq!(r.queries.len(), 1, "a slip keeps the question");
            slipped += 1;
        } else {
            assert_eq!(r.answers.len(), 1);
            full += 1;
        }
    }
    // 10 per second, less what the startup probe (same /24) spent, plus a little refill.
    assert!((7..=13).contains(&full), "{full} full answers for a 10 QPS budget");
    assert!(slipped >= 20 && full + slipped < 60, "{slipped} slipped, the rest dropped");
    // TCP is not limited.
    let r = Message::from_vec(&raw_tcp(addr, &m).await).unwrap();
    assert_eq!(r.answers.len(), 1);
}
