//! Resolver mode's part of the query path: which of our answers a client should get from
//! an upstream instead (out-of-zone names, `--fallthrough`, autopath, an ExternalName
//! target outside our zones), and that answer ([`crate::forward`] does the asking).

use std::sync::Arc;

use hickory_server::proto::op::{Message, MessageType, ResponseCode};
use hickory_server::proto::rr::{Name, RData, RecordType};
use hickory_server::server::Request;

use super::encode::Reply;
use super::observe::AnswerSource;
use crate::forward::Forwarder;
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

/// Resolver mode: our answers that an upstream's replace.
#[derive(Clone)]
pub(super) struct Relay {
    forwarder: Arc<Forwarder>,
}

impl Relay {
    pub(super) fn new(forwarder: Arc<Forwarder>) -> Self {
        Self { forwarder }
    }

    /// Whether `reply` (our own answer to `request` from `zones`) should be replaced by a
    /// forwarded one: out-of-zone names, and with `--fallthrough` or autopath, names we do
    /// not know — only for clients in `--allow-from`.
    pub(super) fn takes_over(&self, zones: &Zones, request: &Request, reply: &Reply) -> bool {
        let [query] = request.queries.queries() else { return false };
        let forwarder = &self.forwarder;
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

    /// The reply to a query taken over: autopath first, then (out of zone or with
    /// fallthrough) the upstreams, else our own answer `ours`.
    pub(super) async fn answer(
        &self,
        zones: &Zones,
        query: Message,
        tcp: bool,
        ours: Reply,
    ) -> (Message, AnswerSource) {
        let forwarder = &self.forwarder;
        if let Some(answer) = forwarder.autopath(zones.cluster(), &query, tcp).await {
            return (answer, AnswerSource::Autopath);
        }
        let qtype = query.queries.first().map_or(RecordType::A, |q| q.query_type());
        if let Some(target) = outside_target(zones, &ours.answer, qtype) {
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
