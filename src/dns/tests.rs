//! Unit tests of the query path on bytes, against zones built from cluster objects.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_server::net::xfer::Protocol;

use super::Handler;
use crate::zone::ZoneSettings;
use crate::zone::tests::{sts_pod, zones_with};

const BARE: &str = "svc1.ns.svc.cluster.local.";

#[test]
fn a_hundred_pod_bare_srv_needs_tcp_and_keeps_its_answers_when_only_glue_does_not_fit() {
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
        spec: {clusterIP: None, selector: {app: web}, ports: [{name: web, port: 80}]}\n---\n";
    let build = |pods: usize| {
        let pods: String =
            (0..pods).map(|i| sts_pod(&format!("web-{i}"), &[&format!("10.1.0.{}", i + 1)], true)).collect();
        let zones = zones_with(ZoneSettings::new("cluster.local").unwrap(), &format!("{service}{pods}"));
        Handler::new(Arc::new(arc_swap::ArcSwap::from_pointee(zones)), 1232, Arc::new(()))
    };
    let mut query = Message::new(7, MessageType::Query, OpCode::Query);
    query.add_query(hickory_proto::op::Query::query(Name::from_ascii(BARE).unwrap(), RecordType::SRV));
    let query = query.to_vec().unwrap();
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let ask_over = |handler: &Handler, protocol| {
        let reply = handler.respond(&handler.zones().load_full(), &query, src, protocol);
        Message::from_vec(&reply.into_bytes().expect("a reply")).unwrap()
    };

    let hundred = build(100);
    let over_udp = ask_over(&hundred, Protocol::Udp);
    assert!(over_udp.metadata.truncation, "100 SRV records do not fit 512 bytes");
    assert!(over_udp.answers.is_empty());
    let over_tcp = ask_over(&hundred, Protocol::Tcp);
    assert!(!over_tcp.metadata.truncation);
    assert_eq!(over_tcp.answers.len(), 100);
    assert_eq!(over_tcp.additionals.len(), 100);
    assert!(
        over_tcp.answers.iter().all(|r| matches!(&r.data, RData::SRV(s) if s.weight == 1 && s.port == 80))
    );

    // 7 records fit in 512 bytes, not with their glue: the glue goes, no TC.
    let seven = build(7);
    let over_udp = ask_over(&seven, Protocol::Udp);
    assert!(!over_udp.metadata.truncation);
    assert_eq!(over_udp.answers.len(), 7);
    assert!(over_udp.additionals.is_empty());
    assert_eq!(ask_over(&seven, Protocol::Tcp).additionals.len(), 7);
}
