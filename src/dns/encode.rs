//! Replies to bytes: hickory's message encoder within the UDP size a client accepts, the
//! sizing that decides what to drop before a reply is truncated (SRV glue first, then the
//! answers, with TC=1), and the cut-down replies of rate limiting and of relayed messages.

use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Message, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::zone_handler::Queries;

use crate::wire::record_size;
use crate::zone::Answer;

/// The smallest UDP payload every client accepts (RFC 1035 §4.2.1).
pub const MIN_UDP_SIZE: u16 = 512;

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

/// Cuts an encoded reply down to header + question with TC=1 (the "slip" of rate limiting).
pub(super) fn truncate_to_question(reply: &mut Vec<u8>) {
    if reply.len() < 12 {
        return;
    }
    let mut end = 12;
    if reply[4..6] == [0, 1] {
        while let Some(&len) = reply.get(end) {
            if len == 0 {
                end += 1;
                break;
            }
            if len & 0xc0 == 0xc0 {
                end += 2;
                break;
            }
            end += 1 + usize::from(len);
        }
        end = (end + 4).min(reply.len());
    }
    reply.truncate(end);
    reply[2] |= 0x02;
    reply[6..12].fill(0);
    if end == 12 {
        reply[4..6].fill(0);
    }
}

/// Encodes a relayed message; over UDP, one larger than the client accepts becomes an
/// empty TC=1 reply so the client retries over TCP.
pub(super) fn encode_message(mut message: Message, protocol: Protocol, limit: u16) -> Vec<u8> {
    let bytes = message.to_vec().unwrap_or_default();
    if protocol != Protocol::Udp || bytes.len() <= usize::from(limit) {
        return bytes;
    }
    message.metadata.truncation = true;
    message.answers.clear();
    message.authorities.clear();
    message.additionals.clear();
    message.to_vec().unwrap_or_default()
}

/// Encodes a reply with hickory's message encoder, limited to the reply's UDP size.
pub fn encode(queries: &Queries, reply: &Reply, protocol: Protocol) -> Vec<u8> {
    let limit = match protocol {
        Protocol::Udp => reply.edns.as_ref().map_or(MIN_UDP_SIZE, Edns::max_payload),
        _ => u16::MAX,
    };
    let question = queries.queries().first().map(|q| q.original());
    encode_reply(reply, question, limit).unwrap_or_else(|| {
        // Cannot happen with the sizes fit_udp chose; answer SERVFAIL rather than nothing.
        let mut failed = reply.metadata;
        failed.response_code = ResponseCode::ServFail;
        let mut bytes = Vec::with_capacity(12);
        let header = hickory_server::proto::op::Header { metadata: failed, counts: Default::default() };
        let _ = header.emit(&mut BinEncoder::new(&mut bytes));
        bytes
    })
}

/// Encodes `reply` to `question` within `limit` bytes, or `None` if it does not fit. The
/// question is encoded (not copied), so answer names compress against it: the answer to
/// `web-0.nginx...` carries a 2-byte pointer as its owner.
fn encode_reply(
    reply: &Reply,
    question: Option<&hickory_server::proto::op::Query>,
    limit: u16,
) -> Option<Vec<u8>> {
    let mut message = Message::new(reply.metadata.id, MessageType::Response, reply.metadata.op_code);
    message.metadata = reply.metadata;
    message.queries.extend(question.cloned());
    message.answers.clone_from(&reply.answer.answers);
    message.authorities.clone_from(&reply.answer.authorities);
    message.additionals.clone_from(&reply.answer.additionals);
    message.edns.clone_from(&reply.edns);
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(limit);
    message.emit(&mut encoder).ok()?;
    // hickory's encoder drops what does not fit and sets TC; for us that means "too big".
    let truncated_by_encoder =
        bytes.get(2).is_some_and(|flags| flags & 0x02 != 0) && !reply.metadata.truncation;
    (!truncated_by_encoder).then_some(bytes)
}

/// An empty question section (for FORMERR replies to undecodable requests).
pub(super) fn no_queries() -> Queries {
    Queries::read(&mut hickory_server::proto::serialize::binary::BinDecoder::new(&[]), 0)
        .expect("reading zero queries cannot fail")
}

/// Makes a UDP reply fit `limit` bytes: first drop the additional section (no TC, per
/// RFC 2181 §9), then, if the answer still does not fit, send TC=1 with no records so
/// the client retries over TCP and gets the whole answer there.
pub(super) fn fit_udp(reply: &mut Reply, question: Option<&hickory_server::proto::op::Query>, limit: u16) {
    const HEADER: usize = 12;
    const OPT: usize = 11;
    let size = |records: &[Record]| records.iter().map(record_size).sum::<usize>();
    let answer = &reply.answer;
    let question_len = question.map_or(0, |q| q.name().len() + 2 + 4);
    let base = HEADER + question_len + if reply.edns.is_some() { OPT } else { 0 };
    let bound = base + size(&answer.answers) + size(&answer.authorities) + size(&answer.additionals);
    // The bound is pessimistic (no name compression): encode to know for sure.
    if bound <= usize::from(limit) || encode_reply(reply, question, limit).is_some() {
        return;
    }
    reply.answer.additionals.clear();
    if encode_reply(reply, question, limit).is_some() {
        return;
    }
    reply.answer.answers.clear();
    reply.answer.authorities.clear();
    reply.metadata.truncation = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::{Metadata, OpCode};
    use hickory_server::proto::rr::RecordType;
    use hickory_server::proto::rr::{
        Name, RData,
        rdata::{A, SRV},
    };

    fn question() -> hickory_server::proto::op::Query {
        hickory_server::proto::op::Query::query(
            Name::from_ascii("_web._tcp.nginx.default.svc.cluster.local.").unwrap(),
            RecordType::SRV,
        )
    }

    fn srv_reply(targets: usize) -> Reply {
        let owner = Name::from_ascii("_web._tcp.nginx.default.svc.cluster.local.").unwrap();
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        for i in 0..targets {
            let target = Name::from_ascii(format!("web-{i}.nginx.default.svc.cluster.local.")).unwrap();
            answers.push(Record::from_rdata(
                owner.clone(),
                5,
                RData::SRV(SRV::new(0, 8, 80, target.clone())),
            ));
            additionals.push(Record::from_rdata(target, 5, RData::A(A::new(10, 0, 0, i as u8))));
        }
        Reply {
            metadata: Metadata::new(1, MessageType::Response, OpCode::Query),
            edns: None,
            answer: Answer {
                rcode: ResponseCode::NoError,
                authoritative: true,
                answers,
                authorities: vec![],
                additionals,
            },
        }
    }

    #[test]
    fn glue_is_dropped_before_answers_are_truncated() {
        // SRV targets are never compressed (RFC 2782): 7 fit in 512 bytes, not with their glue.
        let mut reply = srv_reply(7);
        let q = question();
        assert!(encode_reply(&reply, Some(&q), 512).is_none());
        fit_udp(&mut reply, Some(&q), 512);
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answer.answers.len(), 7);
        assert!(reply.answer.additionals.is_empty());
        assert!(encode_reply(&reply, Some(&q), 512).is_some());
    }

    #[test]
    fn answers_that_do_not_fit_truncate_to_an_empty_tc_reply() {
        let mut reply = srv_reply(12);
        fit_udp(&mut reply, Some(&question()), 512);
        assert!(reply.metadata.truncation);
        assert!(reply.answer.answers.is_empty() && reply.answer.additionals.is_empty());
        // With room, nothing changes.
        let mut reply = srv_reply(12);
        fit_udp(&mut reply, Some(&question()), 1232);
        assert!(!reply.metadata.truncation);
        assert_eq!(reply.answer.additionals.len(), 12);
    }
}
