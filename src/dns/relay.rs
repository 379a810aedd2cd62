//! Resolver mode's part of the query path: which of our answers a client should get from
//! an upstream instead (out-of-zone names, `--fallthrough`, autopath, an ExternalName
//! target outside our zones), and the future that fetches it ([`crate::forward`] does
//! the asking).

use std::net::SocketAddr;
use std::time::Instant;

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Message, MessageType, ResponseCode};
use hickory_server::proto::rr::{Name, RData, RecordType};
use hickory_server::server::Request;

use super::encode::encode_message;
use super::handler::{Handler, MIN_UDP_SIZE, Reply, Response};
use super::observe::{AnswerSource, QueryEvent};
use crate::zone::{Answer, Zones};

/// The target of an answer that ends with a CNAME out of our zones (an ExternalName
/// service): a resolver follows it for its client, whose stub resolver does not.
/// Asked for the CNAME itself (or ANY), there is nothing to follow.
fn outside_target(zones: &Zones, answer: &Answer, qtype: RecordType) -> Option<Name> {
    if matches!(qtype, RecordType::CNAME | RecordType::ANY) {
        return None;
    }
    match &answer.answers.last()?.data {
        RData::CNAME(target) if !zones.serves(&target.0) => Some(target.0.clone()),
        _ => None,
    }
}

impl Handler {
    /// Whether `reply` (our own answer to `request` from `zones`) should be replaced by a
    /// forwarded one: out-of-zone names, and with `--fallthrough` or autopath, names we do
    /// not know — only for clients in `--allow-from`.
    fn forwards(&self, zones: &Zones, request: &Request, reply: &Reply) -> bool {
        let (Some(forwarder), [query]) = (self.forwarder(), request.queries.queries()) else { return false };
        if !forwarder.allows(request.src().ip()) {
            return false;
        }
        match reply.answer.rcode {
            ResponseCode::Refused => !zones.serves(query.original().name()),
            ResponseCode::NXDomain => forwarder.fallthrough() || forwarder.autopath_namespace().is_some(),
            ResponseCode::NoError => outside_target(zones, &reply.answer, query.query_type()).is_some(),
            _ => false,
        }
    }

    /// The future answering `request` upstream, when resolver mode takes it over; `None`
    /// when our own `reply` is the answer. `packet` is the request as received.
    pub(super) fn relay(
        &self,
        zones: &Zones,
        request: &Request,
        reply: &Reply,
        packet: &[u8],
        started: Instant,
    ) -> Option<Response> {
        if !self.forwards(zones, request, reply) {
            return None;
        }
        let query = Message::from_vec(packet).ok()?;
        let (handler, reply, src, protocol) =
            (self.clone(), reply.clone(), request.src(), request.protocol());
        let limit = query
            .edns
            .as_ref()
            .map_or(MIN_UDP_SIZE, |e| e.max_payload().max(MIN_UDP_SIZE).min(self.max_udp_size()));
        Some(Response::Later(Box::pin(async move {
            let (message, source) = handler.forwarded(query, protocol == Protocol::Tcp, reply).await;
            let bytes = encode_message(message.clone(), protocol, limit);
            observe(&handler, src, protocol, &message, source, started);
            bytes
        })))
    }

    /// The reply to a query we forward: autopath first, then (out of zone or with
    /// fallthrough) the upstreams, else our own answer `ours`.
    async fn forwarded(&self, query: Message, tcp: bool, ours: Reply) -> (Message, AnswerSource) {
        let forwarder = self.forwarder().expect("forwards() checked").clone();
        let zones = self.zones().load_full();
        if let Some(answer) = forwarder.autopath(zones.cluster(), &query, tcp).await {
            return (answer, AnswerSource::Autopath);
        }
        let qtype = query.queries.first().map_or(RecordType::A, |q| q.query_type());
        if let Some(target) = outside_target(&zones, &ours.answer, qtype) {
            let (message, cached) = forwarder.chase(&query, ours.answer.answers, target, tcp).await;
            return (message, if cached { AnswerSource::Cache } else { AnswerSource::Forwarded });
        }
        let in_zone = query.queries.first().is_some_and(|q| zones.serves(q.name()));
        if in_zone && !forwarder.fallthrough() {
            let mut message = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
            message.metadata = ours.metadata;
            message.queries = query.queries;
            message.answers = ours.answer.answers;
            message.authorities = ours.answer.authorities;
            message.additionals = ours.answer.additionals;
            message.edns = ours.edns;
            return (message, AnswerSource::Local);
        }
        match forwarder.resolve_from(&query, tcp).await {
            (message, true) => (message, AnswerSource::Cache),
            (message, false) => (message, AnswerSource::Forwarded),
        }
    }
}

fn observe(
    handler: &Handler,
    src: SocketAddr,
    protocol: Protocol,
    message: &Message,
    source: AnswerSource,
    started: Instant,
) {
    let q = message.queries.first();
    handler.observer().answered(&QueryEvent {
        src,
        protocol,
        name: q.map(|q| q.name()),
        qtype: q.map(|q| q.query_type()),
        rcode: message.metadata.response_code,
        truncated: message.metadata.truncation,
        elapsed: started.elapsed(),
        source,
    });
}
