//! The TCP path over real sockets: pipelined queries answered from the response cache are
//! byte-for-byte what the general path answers, whatever way the client splits its writes.

use crate::support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;
use support::dns::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn message(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), qtype));
    m
}

/// 20 headless services over 3 namespaces with 0–11 dual-stack pods each.
fn write_zone(dir: &std::path::Path) {
    let mut yaml = String::new();
    for s in 0..20 {
        let ns = s % 3;
        yaml += &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{s}, namespace: ns-{ns}}}\n\
             spec: {{clusterIP: None, selector: {{app: a{s}}}, ports: [{{name: web, port: 80}}]}}\n---\n\
             apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: svc-{s}, namespace: ns-{ns}}}\nspec: {{serviceName: svc-{s}, replicas: 12}}\n---\n"
        );
        for p in 0..(s % 12) {
            yaml += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: svc-{s}-{p}, namespace: ns-{ns}, labels: {{app: a{s}}}}}\n\
                 spec: {{hostname: svc-{s}-{p}, subdomain: svc-{s}}}\n\
                 status: {{podIPs: [{{ip: 10.{s}.0.{p}}}, {{ip: \"fd00::{s}:{p}\"}}], conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n"
            );
        }
    }
    std::fs::write(dir.join("zone.yaml"), yaml).unwrap();
}

/// Queries over every kind of name, several types, with and without EDNS (sizes, DO),
/// in mixed case: the unframed bytes, IDs not yet set.
fn queries() -> Vec<Message> {
    let mut names = vec!["cluster.local.".to_owned(), "dns-version.cluster.local.".to_owned()];
    names.push("nope.cluster.local.".to_owned());
    for s in 0..20 {
        let ns = s % 3;
        names.push(format!("svc-{s}.ns-{ns}.svc.cluster.local."));
        names.push(format!("SVC-{s}.Ns-{ns}.svc.cluster.local."));
        names.push(format!("_web._tcp.svc-{s}.ns-{ns}.svc.cluster.local."));
        names.push(format!("svc-{s}-3.svc-{s}.ns-{ns}.svc.cluster.local."));
        names.push(format!("3.0.{s}.10.in-addr.arpa."));
        names.push(format!("svc-{s}-1.svc-{s}.ns-0.svc.cluster.local.ns-0.svc.cluster.local."));
    }
    let mut all = Vec::new();
    for name in &names {
        for qtype in [RecordType::A, RecordType::AAAA, RecordType::SRV, RecordType::PTR, RecordType::SOA] {
            for edns in [None, Some((512u16, false)), Some((4096, true)), Some((1400, false))] {
                let mut m = message(name, qtype);
                if let Some((size, dnssec_ok)) = edns {
                    let mut e = Edns::new();
                    e.set_max_payload(size).set_dnssec_ok(dnssec_ok);
                    m.edns = Some(e);
                }
                all.push(m);
            }
        }
    }
    all
}

/// Sends `batch` (framed, concatenated) in writes of `chunk` bytes and reads one reply
/// per query, keyed by ID.
async fn exchange(stream: &mut TcpStream, batch: &[Vec<u8>], chunk: usize) -> HashMap<u16, Vec<u8>> {
    let mut bytes = Vec::new();
    for query in batch {
        bytes.extend_from_slice(&(query.len() as u16).to_be_bytes());
        bytes.extend_from_slice(query);
    }
    for piece in bytes.chunks(chunk) {
        stream.write_all(piece).await.unwrap();
    }
    let mut replies = HashMap::new();
    for _ in batch {
        let reply = read_frame(stream).await;
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        assert!(replies.insert(id, reply).is_none(), "one reply per query");
    }
    replies
}

/// Every query twice (the first fills the runtime thread's cache, the second is answered
/// from it), pipelined in batches, on two connections: each reply equals the general path's.
#[tokio::test]
async fn pipelined_tcp_answers_are_byte_identical_to_the_general_path() {
    let dir = tempfile::tempdir().unwrap();
    write_zone(dir.path());
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let general =
        headless_dns::dns::Handler::new(server.zones.clone(), 1232, Arc::new(())).without_fast_path();
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut queries = queries();
    let mut compared = 0;
    // Whole batches, then writes that split length prefixes and messages anywhere.
    for chunk in [usize::MAX, 7] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut id = 0u16;
        for batch in queries.chunks_mut(40) {
            let mut sent = Vec::new();
            for round in 0..2 {
                for m in batch.iter_mut() {
                    id = id.wrapping_add(1);
                    m.metadata.id = id;
                    m.metadata.recursion_desired = round == 1;
                    sent.push(m.to_vec().unwrap());
                }
            }
            let replies = exchange(&mut stream, &sent, chunk).await;
            for query in &sent {
                let expected = general
                    .respond(&general.zones().load_full(), query, src, Protocol::Tcp)
                    .into_bytes()
                    .expect("answered");
                let id = u16::from_be_bytes([query[0], query[1]]);
                let parsed = Message::from_vec(query).unwrap();
                let q = &parsed.queries[0];
                assert_eq!(replies[&id], expected, "{} {} {:?}", q.name(), q.query_type(), parsed.edns);
                compared += 1;
            }
        }
    }
    assert!(compared > 5000, "{compared}");
}

/// Answers from the cache follow the zone: a pod added after its name was asked (and
/// cached as NXDOMAIN) is answered on the same connection.
#[tokio::test]
async fn cached_tcp_answers_follow_zone_updates() {
    let dir = tempfile::tempdir().unwrap();
    write_zone(dir.path());
    let server = start(dir.path(), &[]).await;
    let addr = server.dns_addrs[0];
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let name = "late-0.svc-1.ns-1.svc.cluster.local.";
    let ask = |id: u16| {
        let mut m = message(name, RecordType::A);
        m.metadata.id = id;
        m.to_vec().unwrap()
    };
    let replies = exchange(&mut stream, &[ask(1), ask(2)], usize::MAX).await;
    for reply in replies.values() {
        assert_eq!(Message::from_vec(reply).unwrap().metadata.response_code, ResponseCode::NXDomain);
    }
    std::fs::write(
        dir.path().join("late.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: late-0, namespace: ns-1, labels: {app: a1}}\n\
         spec: {hostname: late-0, subdomain: svc-1}\n\
         status: {podIP: 10.99.0.1, conditions: [{type: Ready, status: \"True\"}]}\n",
    )
    .unwrap();
    let mut id = 2;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        id += 1;
        let reply = exchange(&mut stream, &[ask(id)], usize::MAX).await.remove(&id).unwrap();
        let reply = Message::from_vec(&reply).unwrap();
        if !reply.answers.is_empty() {
            assert_eq!(addresses(&reply), ["10.99.0.1"]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the new pod is never answered over TCP");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
