//! UDP size limits with answers larger than the demo zone's: a headless service with up
//! to 64 ready pods (optionally dual-stack, optionally with long hostnames), asked over UDP
//! with a client-chosen EDNS payload size, compared with the same question over TCP.
//!
//! Invariants (dns-rules.md "Transport", RFC 2181 §9, RFC 6891):
//! - a UDP reply fits the limit (512 without EDNS, else the payload size in 512..=1232);
//! - an EDNS query gets an OPT record back, also when the answer is truncated;
//! - a reply without TC carries the whole answer section the TCP reply carries; dropping
//!   Additional records alone does not set TC;
//! - a TC reply carries no partial answer (the server's design: empty, retry over TCP).
#![no_main]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use arbitrary::Arbitrary;
use arc_swap::ArcSwap;
use headless_dns::cluster::objects::Labels;
use headless_dns::cluster::{Object, ObjectKey, Pod, Protocol as PortProtocol, Service, ServicePort, TargetPort};
use headless_dns::dns::Handler;
use headless_dns::index::{Index, Update};
use headless_dns::zone::ZoneSettings;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;
use libfuzzer_sys::fuzz_target;

const MAX_UDP: u16 = 1232;
const SRC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53535);

#[derive(Arbitrary, Debug)]
struct Input {
    pods: u8,
    dual_stack: bool,
    /// 0: dashed IPs; otherwise hostnames of about this many characters (up to 63).
    hostname_len: u8,
    /// Lengths of the namespace and service names (1..=63).
    namespace_len: u8,
    service_len: u8,
    qtype: u8,
    /// Which name to ask: the service, the SRV name, or the first endpoint.
    which: u8,
    edns: Option<u16>,
}

fn label(prefix: char, len: u8) -> String {
    let len = usize::from(len % 63) + 1;
    std::iter::once(prefix).chain(std::iter::repeat('x')).take(len).collect()
}

/// How many bytes follow the end of the DNS message in `bytes` (0 when none).
fn trailing_bytes(bytes: &[u8]) -> usize {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    let mut decoder = BinDecoder::new(bytes);
    match Message::read(&mut decoder) {
        Ok(_) => decoder.len(),
        Err(_) => 0,
    }
}

fn records(section: &[hickory_proto::rr::Record]) -> BTreeSet<String> {
    section.iter().map(|r| format!("{} {}", r.name.to_lowercase(), r.data)).collect()
}

fuzz_target!(|input: Input| {
    let n = usize::from(input.pods % 64) + 1;
    let (ns, svc) = (label('n', input.namespace_len), label('s', input.service_len));
    let key = |name: &str| ObjectKey { namespace: ns.as_str().into(), name: name.into() };
    let app: Labels = vec![("app".into(), "x".into())].into();
    let mut objects = vec![Object::Service(Arc::new(Service {
        key: key(&svc),
        headless: true,
        selector: Some(app.clone()),
        ports: Box::new([ServicePort {
            name: Some("http".into()),
            protocol: PortProtocol::Tcp,
            port: 80,
            target_port: TargetPort::Number(8080),
        }]),
        publish_not_ready: false,
        cluster_ips: Box::new([]),
        external_name: None,
        external: None,
    }))];
    let mut first_label = String::new();
    for i in 0..n {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 1, (i / 256) as u8, (i % 256) as u8));
        let mut ips = vec![v4];
        if input.dual_stack {
            ips.push(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 1, i as u16)));
        }
        let hostname = (input.hostname_len > 0).then(|| {
            let suffix = format!("-{i}");
            let len = usize::from(input.hostname_len % 60) + 1;
            format!("{}{suffix}", "h".repeat(len))
        });
        if i == 0 {
            first_label = hostname.clone().unwrap_or_else(|| "10-1-0-0".to_owned());
        }
        let pod_name = format!("pod-{i}");
        let subdomain = hostname.as_ref().map(|_| svc.as_str().into());
        objects.push(Object::Pod(Arc::new(Pod {
            key: key(&pod_name),
            template: headless_dns::cluster::PodTemplate::new(
                app.clone(),
                headless_dns::cluster::Naming::new(hostname.map(Into::into), subdomain, &pod_name),
                Default::default(),
            ),
            ips: ips.into(),
            ready_condition: true,
            terminating: false,
            phase: headless_dns::cluster::Phase::Running,
            placement: headless_dns::cluster::Placement::NONE,
        })));
    }
    let mut index = Index::new(ZoneSettings::new("cluster.local").expect("origin"));
    index.apply(Update::ReplaceAll(objects));
    index.apply(Update::Synced(true));
    let zone = index.commit().expect("a zone");
    let handler = Handler::new(Arc::new(ArcSwap::from_pointee(zone)), MAX_UDP, Arc::new(()));

    let (name, qtype) = match input.which % 3 {
        0 => (format!("{svc}.{ns}.svc.cluster.local."), [RecordType::A, RecordType::AAAA, RecordType::ANY][usize::from(input.qtype % 3)]),
        1 => (format!("_http._tcp.{svc}.{ns}.svc.cluster.local."), RecordType::SRV),
        _ => (format!("{first_label}.{svc}.{ns}.svc.cluster.local."), [RecordType::A, RecordType::AAAA][usize::from(input.qtype % 2)]),
    };
    let mut query = Message::new(0x4242, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(Name::from_ascii(&name).expect("name"), qtype));
    if let Some(size) = input.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(size);
        query.set_edns(edns);
    }
    let bytes = query.to_vec().expect("encodes");
    let limit = input.edns.map_or(512, |s| s.clamp(512, MAX_UDP));

    let tcp_bytes = handler.respond(&handler.zones().load_full(), &bytes, SRC, Protocol::Tcp).into_bytes().expect("a TCP reply");
    let tcp = Message::from_vec(&tcp_bytes).expect("TCP reply parses");
    assert!(!tcp.metadata.truncation, "TCP reply truncated");
    let udp_bytes = handler.respond(&handler.zones().load_full(), &bytes, SRC, Protocol::Udp).into_bytes().expect("a UDP reply");
    let udp = Message::from_vec(&udp_bytes).expect("UDP reply parses");
    if let Some(dir) = std::env::var_os("HDNS_FUZZ_DUMP") {
        let dir = std::path::Path::new(&dir);
        let _ = std::fs::write(dir.join("query.bin"), &bytes);
        let _ = std::fs::write(dir.join("udp.bin"), &udp_bytes);
        let _ = std::fs::write(dir.join("tcp.bin"), &tcp_bytes);
    }
    let context = || {
        format!(
            "{name} {qtype} edns={:?} pods={n}: UDP {} bytes (whole answer over TCP: {} bytes) TC={} answers {}/{} additionals {}/{} opt={}",
            input.edns,
            udp_bytes.len(),
            tcp_bytes.len(),
            udp.metadata.truncation,
            udp.answers.len(),
            tcp.answers.len(),
            udp.additionals.len(),
            tcp.additionals.len(),
            udp.edns.is_some()
        )
    };
    let mut violations = Vec::new();
    if udp_bytes.len() > usize::from(limit) {
        violations.push(format!("over the limit {limit}"));
    }
    for (transport, reply) in [("UDP", &udp_bytes), ("TCP", &tcp_bytes)] {
        let junk = trailing_bytes(reply);
        if junk > 0 {
            violations.push(format!("{transport} reply has {junk} bytes after the message"));
        }
    }
    if udp.metadata.response_code != tcp.metadata.response_code {
        violations.push("rcode differs from TCP".to_owned());
    }
    if input.edns.is_some() && udp.edns.is_none() {
        violations.push("EDNS query answered without OPT".to_owned());
    }
    if udp.metadata.truncation && !udp.answers.is_empty() {
        if udp.answers.len() < tcp.answers.len() {
            violations.push("TC=1 with a partial answer".to_owned());
        } else {
            violations.push("TC=1 although the whole answer is there (only Additional dropped)".to_owned());
        }
    }
    if !udp.metadata.truncation {
        if records(&udp.answers) != records(&tcp.answers) {
            violations.push("answer differs from TCP without TC".to_owned());
        }
        if !records(&udp.additionals).is_subset(&records(&tcp.additionals)) {
            violations.push("additionals not from the TCP answer".to_owned());
        }
    }
    if !violations.is_empty() {
        let message = format!("{}: {}", violations.join("; "), context());
        if std::env::var_os("HDNS_FUZZ_REPORT_ONLY").is_some() {
            eprintln!("VIOLATION {message}");
        } else {
            panic!("{message}");
        }
    }
});
