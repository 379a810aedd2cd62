//! The request handler: one DNS message in, one response out (hickory-server parses the
//! request, hickory-proto encodes the reply).
//!
//! The handler turns a request into a [`Reply`] synchronously (header checks, EDNS,
//! one zone lookup, size limit), then encodes it; queries for other zones become a future
//! in resolver mode. It reads the zone through one atomic load and holds no lock while
//! answering. The UDP workers and the TCP connections both call
//! [`Handler::respond_or_forward`], so both transports give the same bytes. Turning a
//! reply into bytes within the client's size is [`super::encode`]'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::RecordType;
use hickory_server::server::Request;

use std::future::Future;
use std::pin::Pin;

use hickory_server::proto::op::Message;

use crate::forward::Forwarder;
use crate::index::SharedZone;
use crate::zone::Answer;
use crate::zone::Zone;

use super::encode::{encode, encode_message, fit_udp, no_queries, truncate_to_question};

/// The smallest UDP payload every client accepts (RFC 1035 §4.2.1).
pub const MIN_UDP_SIZE: u16 = 512;

/// What the handler learned about one query, for metrics and the query log.
#[derive(Debug, Clone, Copy)]
pub struct QueryEvent<'a> {
    /// Client address.
    pub src: SocketAddr,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The question's name, as asked (None when there was no single question).
    pub name: Option<&'a hickory_server::proto::rr::Name>,
    /// The question's type.
    pub qtype: Option<RecordType>,
    /// The response code sent.
    pub rcode: ResponseCode,
    /// Whether the response was truncated (TC=1).
    pub truncated: bool,
    /// Time spent answering, encoding and sending.
    pub elapsed: std::time::Duration,
    /// Where the answer came from.
    pub answered: Answered,
}

/// Where an answer came from, for the query log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// Our zone (or the UDP workers' cache of its answers), or an error we decided.
    Local,
    /// An upstream server, asked for this query.
    Forwarded,
    /// The forwarder's cache of upstream answers.
    Cache,
    /// Autopath: a later search-path name, as a CNAME chain.
    Autopath,
}

impl Answered {
    /// The word the query log writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Answered::Local => "local",
            Answered::Forwarded => "forwarded",
            Answered::Cache => "cache",
            Answered::Autopath => "autopath",
        }
    }
}

/// Observes every answered query (metrics, query log). Must be cheap and never block.
pub trait QueryObserver: Send + Sync + 'static {
    /// Called once per response sent.
    fn answered(&self, event: &QueryEvent<'_>);

    /// Called once per zone transfer answered (besides `answered`), with its result:
    /// `full`, `incremental`, `current`, `notauth`, `servfail`, `badsig`.
    fn transferred(&self, _qtype: RecordType, _result: &'static str) {}
}

impl QueryObserver for () {
    fn answered(&self, _: &QueryEvent<'_>) {}
}

/// A response, decided but not yet encoded.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Response header fields.
    pub metadata: Metadata,
    /// The OPT record to send, when the client sent one.
    pub edns: Option<Edns>,
    /// The sections.
    pub answer: Answer,
}

/// The target of an answer that ends with a CNAME out of the zone (an ExternalName
/// service): a resolver follows it for its client, whose stub resolver does not.
/// Asked for the CNAME itself (or ANY), there is nothing to follow.
fn outside_target(
    zone: &Zone,
    answer: &Answer,
    qtype: RecordType,
) -> Option<hickory_server::proto::rr::Name> {
    if matches!(qtype, RecordType::CNAME | RecordType::ANY) {
        return None;
    }
    match &answer.answers.last()?.data {
        hickory_server::proto::rr::RData::CNAME(target) if !zone.serves(&target.0) => Some(target.0.clone()),
        _ => None,
    }
}

/// Answers DNS requests from the current zone. Cheap to clone (shared state only).
#[derive(Clone)]
pub struct Handler {
    zone: SharedZone,
    max_udp_size: u16,
    observer: Arc<dyn QueryObserver>,
    forwarder: Option<Arc<Forwarder>>,
    fast_path: bool,
    rate_limit: Option<Arc<super::ratelimit::RateLimiter>>,
    transfers: Arc<crate::xfer::Transfers>,
}

/// What to do with one datagram.
pub enum Response {
    /// Send these bytes now.
    Reply(Vec<u8>),
    /// Send the bytes this future produces (a forwarded query).
    Later(Pin<Box<dyn Future<Output = Vec<u8>> + Send>>),
    /// Send nothing.
    Drop,
}

impl Handler {
    /// A handler reading `zone`, sending UDP answers of at most `max_udp_size` bytes.
    pub fn new(zone: SharedZone, max_udp_size: u16, observer: Arc<dyn QueryObserver>) -> Self {
        Self {
            zone,
            max_udp_size: max_udp_size.max(MIN_UDP_SIZE),
            observer,
            forwarder: None,
            fast_path: true,
            rate_limit: None,
            transfers: Arc::default(),
        }
    }

    /// Allows zone transfers over TCP as `transfers` says (`--transfer-allow`).
    pub fn with_transfers(mut self, transfers: crate::xfer::Transfers) -> Self {
        self.transfers = Arc::new(transfers);
        self
    }

    /// The answer to a zone transfer request over TCP, as a stream of messages, when
    /// `packet` is one and `src` may transfer; `None` sends it the ordinary way (REFUSED).
    pub fn transfer(&self, packet: &[u8], src: SocketAddr) -> Option<crate::xfer::Messages> {
        if !answerable(src) {
            return None;
        }
        let started = Instant::now();
        let zone = self.zone.load_full();
        let request = match self.transfers.request(packet, src)? {
            Ok(request) => request,
            Err(reply) => {
                // A bad TSIG: NOTAUTH with the TSIG error.
                let qtype =
                    Message::from_vec(packet).ok().and_then(|m| m.queries.first().map(|q| q.query_type()));
                self.observer.transferred(qtype.unwrap_or(RecordType::AXFR), "badsig");
                return Some(crate::xfer::Messages::encoded(zone, reply));
            }
        };
        let (name, qtype) = (request.message.queries[0].name().clone(), request.qtype);
        let (messages, result) = self.transfers.answer(zone, request);
        self.observer.transferred(qtype, result);
        self.observer.answered(&QueryEvent {
            src,
            protocol: Protocol::Tcp,
            name: Some(&name),
            qtype: Some(qtype),
            rcode: messages.rcode(),
            truncated: false,
            elapsed: started.elapsed(),
            answered: Answered::Local,
        });
        Some(messages)
    }

    /// `--max-udp-size`.
    pub fn max_udp_size(&self) -> u16 {
        self.max_udp_size
    }

    /// The published zone.
    pub fn zone(&self) -> &SharedZone {
        &self.zone
    }

    /// Whether repeats may be answered from a response cache (UDP and TCP). Off with
    /// `--query-log` (a cache hit does not decode the name to log).
    pub fn fast_path(&self) -> bool {
        self.fast_path
    }

    /// Limits UDP answers per client prefix (`--rate-limit`).
    pub fn with_rate_limit(mut self, qps: u32) -> Self {
        self.rate_limit = Some(Arc::new(super::ratelimit::RateLimiter::new(qps)));
        self
    }

    /// Applies `--rate-limit` to a UDP answer about to be sent to `src`: the answer, an
    /// empty TC=1 reply in its place, or nothing.
    pub fn limit<'a>(&self, src: SocketAddr, reply: &'a mut Vec<u8>) -> Option<&'a [u8]> {
        use super::ratelimit::Verdict;
        let Some(limiter) = &self.rate_limit else { return Some(reply) };
        match limiter.check(src.ip(), Instant::now()) {
            Verdict::Send => Some(reply),
            Verdict::Drop => None,
            Verdict::Slip => {
                truncate_to_question(reply);
                Some(reply)
            }
        }
    }

    /// Disables the response caches.
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    /// Reports a query answered from a worker's response cache, `elapsed` after it was
    /// received; `flags` are the reply's header bytes 2 and 3 (truncation, rcode).
    pub fn observe_cached(
        &self,
        src: SocketAddr,
        protocol: Protocol,
        qtype: Option<u16>,
        flags: [u8; 2],
        elapsed: std::time::Duration,
    ) {
        self.observer.answered(&QueryEvent {
            src,
            protocol,
            name: None,
            qtype: qtype.map(RecordType::from),
            rcode: ResponseCode::from(0, flags[1] & 0x0f),
            truncated: flags[0] & 0x02 != 0,
            elapsed,
            answered: Answered::Local,
        });
    }

    /// Whether a reply can be sent to `src`.
    pub fn answerable(src: SocketAddr) -> bool {
        answerable(src)
    }

    /// Enables resolver mode: what we do not serve goes to `forwarder`.
    pub fn with_forwarder(mut self, forwarder: Arc<Forwarder>) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// Whether `reply` (our own answer to `request`) should be replaced by a forwarded one:
    /// out-of-zone names, and with `--fallthrough` or autopath, names we do not know —
    /// only for clients in `--allow-from`.
    fn forwards(&self, request: &Request, reply: &Reply) -> bool {
        let (Some(forwarder), [query]) = (&self.forwarder, request.queries.queries()) else { return false };
        if !forwarder.allows(request.src().ip()) {
            return false;
        }
        match reply.answer.rcode {
            ResponseCode::Refused => !self.zone.load().serves(query.original().name()),
            ResponseCode::NXDomain => forwarder.fallthrough() || forwarder.autopath_namespace().is_some(),
            ResponseCode::NoError => {
                outside_target(&self.zone.load(), &reply.answer, query.query_type()).is_some()
            }
            _ => false,
        }
    }

    /// The reply to a query we forward: autopath first, then (out of zone or with
    /// fallthrough) the upstreams, else our own answer `ours`.
    async fn forwarded(&self, query: Message, tcp: bool, ours: Reply) -> (Message, Answered) {
        let forwarder = self.forwarder.clone().expect("forwards() checked");
        let zone = self.zone.load_full();
        if let Some(answer) = forwarder.autopath(&zone, &query, tcp).await {
            return (answer, Answered::Autopath);
        }
        let qtype = query.queries.first().map_or(RecordType::A, |q| q.query_type());
        if let Some(target) = outside_target(&zone, &ours.answer, qtype) {
            let (message, cached) = forwarder.chase(&query, ours.answer.answers, target, tcp).await;
            return (message, if cached { Answered::Cache } else { Answered::Forwarded });
        }
        let in_zone = query.queries.first().is_some_and(|q| zone.serves(q.name()));
        if in_zone && !forwarder.fallthrough() {
            let mut message = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
            message.metadata = ours.metadata;
            message.queries = query.queries;
            message.answers = ours.answer.answers;
            message.authorities = ours.answer.authorities;
            message.additionals = ours.answer.additionals;
            message.edns = ours.edns;
            return (message, Answered::Local);
        }
        match forwarder.resolve_from(&query, tcp).await {
            (message, true) => (message, Answered::Cache),
            (message, false) => (message, Answered::Forwarded),
        }
    }

    /// Decides the response to `request` (no I/O).
    pub fn reply(&self, request: &Request) -> Reply {
        self.reply_with(&self.zone.load(), request)
    }

    /// Decides the response to `request` from `zone`.
    pub fn reply_with(&self, zone: &Zone, request: &Request) -> Reply {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        let mut reply_edns = None;
        if let Some(edns) = &request.edns {
            let mut ours = Edns::new();
            let size = edns.max_payload().max(MIN_UDP_SIZE).min(self.max_udp_size);
            ours.set_max_payload(size).set_version(0).set_dnssec_ok(edns.flags().dnssec_ok);
            reply_edns = Some(ours);
            if edns.version() > 0 {
                return error(metadata, reply_edns, ResponseCode::BADVERS);
            }
        }
        if request.metadata.op_code != OpCode::Query {
            return error(metadata, reply_edns, ResponseCode::NotImp);
        }
        let [query] = request.queries.queries() else {
            return error(metadata, reply_edns, ResponseCode::FormErr);
        };
        let qtype = query.query_type();
        if matches!(qtype, RecordType::OPT) {
            return error(metadata, reply_edns, ResponseCode::FormErr);
        }
        let answer = zone.lookup(query.original().name(), qtype, query.query_class());
        metadata.authoritative = answer.authoritative;
        metadata.response_code = answer.rcode;
        let mut reply = Reply { metadata, edns: reply_edns, answer };
        let limit = match request.protocol() {
            Protocol::Udp => reply.edns.as_ref().map_or(MIN_UDP_SIZE, Edns::max_payload),
            _ => u16::MAX, // a TCP message is at most 64 KiB
        };
        fit_udp(&mut reply, Some(query.original()), limit);
        reply
    }
}

impl Handler {
    /// The whole query path on bytes: parses a datagram, decides and encodes the reply.
    /// `None` means drop (not a DNS query, a response, an unusable source address).
    /// Used by the UDP and TCP paths (on a response-cache miss) and by the fuzz target.
    /// Without a forwarder nothing is forwarded, so this is the complete query path.
    pub fn respond(&self, packet: &[u8], src: SocketAddr, protocol: Protocol) -> Option<Vec<u8>> {
        match self.respond_or_forward(packet, src, protocol) {
            Response::Reply(bytes) => Some(bytes),
            Response::Later(_) | Response::Drop => None,
        }
    }

    /// Like [`respond`](Self::respond), but a query to forward comes back as a future.
    pub fn respond_or_forward(&self, packet: &[u8], src: SocketAddr, protocol: Protocol) -> Response {
        self.respond_with(&self.zone.load(), packet, src, protocol)
    }

    /// [`respond_or_forward`](Self::respond_or_forward) against a given zone snapshot.
    pub fn respond_with(&self, zone: &Zone, packet: &[u8], src: SocketAddr, protocol: Protocol) -> Response {
        let started = Instant::now();
        if !answerable(src) || packet.len() < 12 || packet[2] & 0x80 != 0 {
            return Response::Drop; // shorter than a header, or QR=1: never answer (no reflection)
        }
        if protocol == Protocol::Udp
            && packet.get(8..10).is_some_and(|authorities| authorities != [0, 0])
            && let Some(request) = self.transfers.request(packet, src)
            && request.as_ref().map_or(true, |r| r.qtype == RecordType::IXFR)
        {
            let request = match request {
                Ok(request) => request,
                Err(reply) => {
                    self.observer.transferred(RecordType::IXFR, "badsig");
                    return Response::Reply(reply);
                }
            };
            // An IXFR over UDP from a client allowed to transfer: the SOA if it is
            // current, else TC. (It carries an SOA in authority, so the UDP response
            // cache never keys it: other clients cannot be served this answer.)
            let name = request.message.queries[0].name().clone();
            let zone = Arc::new(zone.clone()).transfer_zone(Some(&name));
            let (bytes, result) = crate::xfer::ixfr::udp_answer(&zone, request.message, request.signing);
            self.observer.transferred(RecordType::IXFR, result);
            self.observer.answered(&QueryEvent {
                src,
                protocol,
                name: Some(&name),
                qtype: Some(RecordType::IXFR),
                rcode: ResponseCode::from(0, bytes.get(3).map_or(2, |b| b & 0x0f)),
                truncated: bytes.get(2).is_some_and(|b| b & 0x02 != 0),
                elapsed: started.elapsed(),
                answered: Answered::Local,
            });
            return Response::Reply(bytes);
        }
        let signing = match self.transfers.signed_query(packet) {
            None => None,
            Some(Ok(signing)) => Some(signing),
            Some(Err(reply)) => return Response::Reply(reply), // a bad TSIG: NOTAUTH
        };
        let (mut bytes, rcode, truncated, name, qtype) =
            match Request::from_bytes(packet.to_vec(), src, protocol) {
                Ok(request) => {
                    let reply = self.reply_with(zone, &request);
                    if self.forwards(&request, &reply)
                        && let Ok(query) = Message::from_vec(packet)
                    {
                        let handler = self.clone();
                        let limit = query.edns.as_ref().map_or(MIN_UDP_SIZE, |e| {
                            e.max_payload().max(MIN_UDP_SIZE).min(self.max_udp_size)
                        });
                        return Response::Later(Box::pin(async move {
                            let (message, answered) =
                                handler.forwarded(query, protocol == Protocol::Tcp, reply).await;
                            let bytes = encode_message(message.clone(), protocol, limit);
                            let q = message.queries.first();
                            handler.observer.answered(&QueryEvent {
                                src,
                                protocol,
                                name: q.map(|q| q.name()),
                                qtype: q.map(|q| q.query_type()),
                                rcode: message.metadata.response_code,
                                truncated: message.metadata.truncation,
                                elapsed: started.elapsed(),
                                answered,
                            });
                            bytes
                        }));
                    }
                    let bytes = encode(&request.queries, &reply, protocol);
                    let query = request.queries.queries().first();
                    let (name, qtype) =
                        (query.map(|q| q.original().name().clone()), query.map(|q| q.query_type()));
                    (bytes, reply.metadata.response_code, reply.metadata.truncation, name, qtype)
                }
                Err(_) => {
                    // The header is readable (checked above) but the body is not: FORMERR.
                    let mut metadata = Metadata::new(
                        u16::from_be_bytes([packet[0], packet[1]]),
                        MessageType::Response,
                        OpCode::from_u8((packet[2] >> 3) & 0x0f),
                    );
                    metadata.recursion_desired = packet[2] & 0x01 != 0;
                    let reply = error(metadata, None, ResponseCode::FormErr);
                    (encode(&no_queries(), &reply, protocol), ResponseCode::FormErr, false, None, None)
                }
            };
        self.observer.answered(&QueryEvent {
            src,
            protocol,
            name: name.as_ref(),
            qtype,
            rcode,
            truncated,
            elapsed: started.elapsed(),
            answered: Answered::Local,
        });
        if let Some(mut signing) = signing {
            signing.sign(&mut bytes);
        }
        Response::Reply(bytes)
    }
}

/// Whether a reply can be sent to `src` (not port 0, not unspecified or broadcast).
fn answerable(src: SocketAddr) -> bool {
    src.port() != 0
        && match src.ip() {
            std::net::IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_broadcast(),
            std::net::IpAddr::V6(ip) => !ip.is_unspecified(),
        }
}

fn error(mut metadata: Metadata, edns: Option<Edns>, rcode: ResponseCode) -> Reply {
    metadata.response_code = rcode;
    let answer =
        Answer { rcode, authoritative: false, answers: vec![], authorities: vec![], additionals: vec![] };
    Reply { metadata, edns, answer }
}
