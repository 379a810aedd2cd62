//! The request handler: one DNS message in, one response out (hickory-server parses the
//! request, hickory-proto encodes the reply).
//!
//! The handler turns a request into a [`Reply`] synchronously (header checks, EDNS,
//! one lookup in the zones, size limit), then encodes it; in resolver mode a query for
//! other zones becomes a future instead (the relay). It answers from a snapshot of
//! the zones its caller loaded and holds no lock while answering. The UDP workers and
//! the TCP connections both call [`Handler::respond`] (on a response-cache miss), so both
//! transports give the same bytes; a zone transfer over TCP is [`Handler::transfer`].
//! Turning a reply into bytes within the client's size is [`super::encode`]'s.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::RecordType;
use hickory_server::server::Request;

use super::encode::{MIN_UDP_SIZE, Reply, encode, encode_message, fit_udp, no_queries, truncate_to_question};
use super::observe::{AnswerSource, QueryEvent, QueryObserver};
use super::relay::Relay;
use crate::forward::Forwarder;
use crate::zone::{Answer, Scope, SharedZones, Zones};

/// What to do with one datagram.
pub enum Response {
    /// Send these bytes now.
    Reply(Vec<u8>),
    /// Send the bytes this future produces (a forwarded query).
    Later(Pin<Box<dyn Future<Output = Vec<u8>> + Send>>),
    /// Send nothing.
    Drop,
}

impl Response {
    /// The bytes to send now, if any (a forwarded query's are not known yet).
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Response::Reply(bytes) => Some(bytes),
            Response::Later(_) | Response::Drop => None,
        }
    }
}

/// Answers DNS requests from the published zones. Cheap to clone (shared state only).
#[derive(Clone)]
pub struct Handler {
    zones: SharedZones,
    scope: Scope,
    max_udp_size: u16,
    observer: Arc<dyn QueryObserver>,
    relay: Option<Relay>,
    fast_path: bool,
    rate_limit: Option<Arc<super::ratelimit::RateLimiter>>,
    transfers: Arc<crate::xfer::Transfers>,
}

impl Handler {
    /// A handler reading `zones`, sending UDP answers of at most `max_udp_size` bytes.
    pub fn new(zones: SharedZones, max_udp_size: u16, observer: Arc<dyn QueryObserver>) -> Self {
        Self {
            zones,
            scope: Scope::ALL,
            max_udp_size: max_udp_size.max(MIN_UDP_SIZE),
            observer,
            relay: None,
            fast_path: true,
            rate_limit: None,
            transfers: Arc::default(),
        }
    }

    /// Answers only the zones of `scope`: questions for the others are REFUSED.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Allows zone transfers over TCP as `transfers` says (`--transfer-allow`).
    pub fn with_transfers(mut self, transfers: crate::xfer::Transfers) -> Self {
        self.transfers = Arc::new(transfers);
        self
    }

    /// Limits UDP answers per client prefix (`--rate-limit`).
    pub fn with_rate_limit(mut self, qps: u32) -> Self {
        self.rate_limit = Some(Arc::new(super::ratelimit::RateLimiter::new(qps)));
        self
    }

    /// Disables the response caches.
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    /// Enables resolver mode: what we do not serve goes to `forwarder`.
    pub fn with_forwarder(mut self, forwarder: Arc<Forwarder>) -> Self {
        self.relay = Some(Relay::new(forwarder));
        self
    }

    /// The zones it answers.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// `--max-udp-size`.
    pub fn max_udp_size(&self) -> u16 {
        self.max_udp_size
    }

    /// Where answers are reported (metrics, query log).
    pub fn observer(&self) -> &dyn QueryObserver {
        &*self.observer
    }

    /// The published zones.
    pub fn zones(&self) -> &SharedZones {
        &self.zones
    }

    /// Whether repeats may be answered from a response cache (UDP and TCP). Off with
    /// `--query-log` (a cache hit does not decode the name to log).
    pub fn fast_path(&self) -> bool {
        self.fast_path
    }

    /// The whole query path on bytes, against the snapshot `zones`: parses a datagram,
    /// decides and encodes the reply, or (resolver mode) returns the future that fetches
    /// it; [`Response::Drop`] for what must not be answered (not a query, a response, an
    /// unusable source address). Used by the UDP and TCP paths on a response-cache miss,
    /// by the fuzz targets and the benchmarks.
    pub fn respond(
        &self,
        zones: &Arc<Zones>,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> Response {
        let started = Instant::now();
        if !answerable(src) || packet.len() < 12 || packet[2] & 0x80 != 0 {
            return Response::Drop; // shorter than a header, or QR=1: never answer (no reflection)
        }
        if protocol == Protocol::Udp
            && packet.get(8..10).is_some_and(|authorities| authorities != [0, 0])
            && let Some(request) = self.transfers.request(packet, src)
            && request.as_ref().map_or(true, |r| r.qtype == RecordType::IXFR)
        {
            return Response::Reply(self.ixfr_over_udp(zones, request, src, started));
        }
        let signing = match self.transfers.signed_query(packet) {
            None => None,
            Some(Ok(signing)) => Some(signing),
            Some(Err(reply)) => return Response::Reply(reply), // a bad TSIG: NOTAUTH
        };
        let (mut bytes, rcode, truncated, name, qtype) =
            match Request::from_bytes(packet.to_vec(), src, protocol) {
                Ok(request) => {
                    let reply = self.decide(zones, &request);
                    if let Some(relay) = self.relay.as_ref().filter(|r| r.takes_over(zones, &request, &reply))
                        && let Ok(query) = Message::from_vec(packet)
                    {
                        return self.relayed(relay.clone(), zones.clone(), query, &request, reply, started);
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
            source: AnswerSource::Local,
        });
        if let Some(mut signing) = signing {
            signing.sign(&mut bytes);
        }
        Response::Reply(bytes)
    }

    /// The future answering a query resolver mode took over, and reporting it.
    fn relayed(
        &self,
        relay: Relay,
        zones: Arc<Zones>,
        query: Message,
        request: &Request,
        ours: Reply,
        started: Instant,
    ) -> Response {
        let (observer, src, protocol) = (self.observer.clone(), request.src(), request.protocol());
        let limit = query
            .edns
            .as_ref()
            .map_or(MIN_UDP_SIZE, |e| e.max_payload().max(MIN_UDP_SIZE).min(self.max_udp_size));
        Response::Later(Box::pin(async move {
            let (message, source) = relay.answer(&zones, query, protocol == Protocol::Tcp, ours).await;
            let bytes = encode_message(message.clone(), protocol, limit);
            let question = message.queries.first();
            observer.answered(&QueryEvent {
                src,
                protocol,
                name: question.map(|q| q.name()),
                qtype: question.map(|q| q.query_type()),
                rcode: message.metadata.response_code,
                truncated: message.metadata.truncation,
                elapsed: started.elapsed(),
                source,
            });
            bytes
        }))
    }

    /// The answer to an IXFR over UDP from a client allowed to transfer: the SOA if it is
    /// current, else TC. (It carries an SOA in authority, so the response caches never
    /// key it: other clients cannot be served this answer.)
    fn ixfr_over_udp(
        &self,
        zones: &Arc<Zones>,
        request: Result<crate::xfer::TransferRequest, Vec<u8>>,
        src: SocketAddr,
        started: Instant,
    ) -> Vec<u8> {
        let request = match request {
            Ok(request) => request,
            Err(reply) => {
                self.observer.transferred(RecordType::IXFR, "badsig");
                return reply;
            }
        };
        let name = request.message.queries[0].name().clone();
        let (bytes, result) = crate::xfer::ixfr::udp_answer(zones, request.message, request.signing);
        self.observer.transferred(RecordType::IXFR, result);
        self.observer.answered(&QueryEvent {
            src,
            protocol: Protocol::Udp,
            name: Some(&name),
            qtype: Some(RecordType::IXFR),
            rcode: ResponseCode::from(0, bytes.get(3).map_or(2, |b| b & 0x0f)),
            truncated: bytes.get(2).is_some_and(|b| b & 0x02 != 0),
            elapsed: started.elapsed(),
            source: AnswerSource::Local,
        });
        bytes
    }

    /// The answer to a zone transfer request over TCP, as a stream of messages, when
    /// `packet` is one and `src` may transfer; `None` sends it the ordinary way (REFUSED).
    pub fn transfer(&self, packet: &[u8], src: SocketAddr) -> Option<crate::xfer::Messages> {
        if !answerable(src) {
            return None;
        }
        let started = Instant::now();
        let zones = self.zones.load_full();
        let request = match self.transfers.request(packet, src)? {
            Ok(request) => request,
            Err(reply) => {
                // A bad TSIG: NOTAUTH with the TSIG error.
                let qtype =
                    Message::from_vec(packet).ok().and_then(|m| m.queries.first().map(|q| q.query_type()));
                self.observer.transferred(qtype.unwrap_or(RecordType::AXFR), "badsig");
                return Some(crate::xfer::Messages::encoded(zones, reply));
            }
        };
        let (name, qtype) = (request.message.queries[0].name().clone(), request.qtype);
        let (messages, result) = self.transfers.answer(zones, request);
        self.observer.transferred(qtype, result);
        self.observer.answered(&QueryEvent {
            src,
            protocol: Protocol::Tcp,
            name: Some(&name),
            qtype: Some(qtype),
            rcode: messages.rcode(),
            truncated: false,
            elapsed: started.elapsed(),
            source: AnswerSource::Local,
        });
        Some(messages)
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

    /// Reports a query answered from a response cache, `elapsed` after it was received;
    /// `flags` are the reply's header bytes 2 and 3 (truncation, rcode).
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
            source: AnswerSource::Local,
        });
    }

    /// Whether a reply can be sent to `src`.
    pub fn answerable(src: SocketAddr) -> bool {
        answerable(src)
    }

    /// Decides the response to `request` from `zones` (no I/O).
    fn decide(&self, zones: &Zones, request: &Request) -> Reply {
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
        let answer = zones.lookup_in(self.scope, query.original().name(), qtype, query.query_class());
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
