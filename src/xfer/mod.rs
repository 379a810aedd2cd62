//! Zone transfers: who may transfer (`--transfer-allow`), and the answer to an AXFR or
//! IXFR request as a stream of DNS messages ([`axfr`]).
//!
//! Transfers run only over TCP, where one request may get many messages; the UDP path
//! and clients outside `--transfer-allow` keep the zone's REFUSED. The answer is read
//! from one snapshot of the zones (an `Arc<Zones>`), so its first and last SOA agree and a
//! change published meanwhile is not half in it; no lock is held while it streams.

pub mod axfr;
pub mod ixfr;
pub mod notify;
pub mod tsig;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use ipnet::IpNet;

use crate::access::AccessList;

use crate::zone::Zones;

pub use axfr::Messages;

/// The transfer policy: which clients may transfer, and the TSIG keys they must sign with.
#[derive(Debug, Clone, Default)]
pub struct Transfers {
    allow: AccessList,
    keys: Option<tsig::Keys>,
}

/// A request that asks for a transfer, as the TCP path sees it.
#[derive(Debug)]
pub struct TransferRequest {
    /// The parsed request.
    pub message: Message,
    /// AXFR or IXFR.
    pub qtype: RecordType,
    /// How to sign the answer, when the request was signed with one of our keys.
    pub signing: Option<tsig::Signing>,
}

impl Transfers {
    /// Transfers allowed to the clients in `allow` (`--transfer-allow`); nobody when empty.
    pub fn new(allow: &[IpNet]) -> Self {
        Self { allow: AccessList::new(allow), keys: None }
    }

    /// Requires every transfer request to be signed with one of `keys` (TSIG), and signs
    /// the answers.
    pub fn with_keys(mut self, keys: Option<tsig::Keys>) -> Self {
        self.keys = keys;
        self
    }

    /// Whether `client` may transfer. An IPv4 client on a dual-stack socket arrives as
    /// `::ffff:a.b.c.d` and is judged by its IPv4 address.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.allow.allows(client)
    }

    /// Parses `packet` when it is a transfer request this policy grants to `src`: a
    /// query (not a response) with one IN question of type AXFR or IXFR, signed with one
    /// of our keys when there are keys. Anything else is `None` and goes the ordinary
    /// way, where a transfer is REFUSED; a bad signature is `Err` with the NOTAUTH reply.
    pub fn request(&self, packet: &[u8], src: SocketAddr) -> Option<Result<TransferRequest, Vec<u8>>> {
        // Cheap checks on the header first: QR=0, opcode QUERY, one question.
        if packet.len() < 12
            || packet[2] & 0x80 != 0
            || (packet[2] >> 3) & 0x0f != 0
            || packet[4..6] != [0, 1]
        {
            return None;
        }
        if !self.allows(src.ip()) {
            return None;
        }
        let message = Message::from_vec(packet).ok()?;
        let [query] = message.queries.as_slice() else { return None };
        let qtype = query.query_type();
        let is_transfer = matches!(qtype, RecordType::AXFR | RecordType::IXFR);
        if !(is_transfer
            && query.query_class() == DNSClass::IN
            && message.metadata.message_type == MessageType::Query
            && message.metadata.op_code == OpCode::Query)
        {
            return None;
        }
        let signing = match &self.keys {
            None => None,
            Some(keys) => match keys.check(packet, &message) {
                Ok(Some(signing)) => Some(signing),
                Ok(None) => return None, // unsigned: REFUSED
                Err(reply) => return Some(Err(reply)),
            },
        };
        Some(Ok(TransferRequest { message, qtype, signing }))
    }

    /// For an ordinary query signed with TSIG (a secondary's SOA check): `None` when it is
    /// not signed or we have no keys; `Ok` with how to sign the answer (RFC 8945 §5.3: a
    /// signed request gets a signed answer); `Err` with the NOTAUTH reply.
    pub fn signed_query(&self, packet: &[u8]) -> Option<Result<tsig::Signing, Vec<u8>>> {
        let keys = self.keys.as_ref()?;
        if packet.len() < 12 || packet[10..12] == [0, 0] || packet[2] & 0x80 != 0 {
            return None;
        }
        // Most queries with additional records carry only an OPT: look for a TSIG's type
        // and class (250, ANY) in the bytes before parsing the message.
        if !packet[12..].windows(4).any(|w| w == [0, 250, 0, 255]) {
            return None;
        }
        let message = Message::from_vec(packet).ok()?;
        keys.check(packet, &message).transpose()
    }

    /// The messages answering `request` from `zones` (the whole zone for an AXFR, the
    /// differences since the client's serial for an IXFR the journal can answer), and the
    /// result for metrics.
    pub fn answer(&self, zones: Arc<Zones>, request: TransferRequest) -> (Messages, &'static str) {
        let (messages, kind) = match request.qtype {
            RecordType::IXFR => ixfr::answer(zones, request.message),
            _ => (Messages::new(zones, request.message), ixfr::Kind::Full),
        };
        let messages = messages.signed(request.signing);
        let result = match (messages.rcode(), kind) {
            (ResponseCode::NotAuth, _) => "notauth",
            (ResponseCode::NoError, ixfr::Kind::Full) => "full",
            (ResponseCode::NoError, ixfr::Kind::Incremental) => "incremental",
            (ResponseCode::NoError, ixfr::Kind::Current) => "current",
            _ => "servfail",
        };
        (messages, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_by_default_and_mapped_ipv4_is_judged_as_ipv4() {
        assert!(!Transfers::default().allows("127.0.0.1".parse().unwrap()), "loopback is not implied");
        let some = Transfers::new(&["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        for ok in ["10.1.2.3", "::ffff:10.0.0.1", "fd00::1"] {
            assert!(some.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["11.0.0.1", "127.0.0.1", "::1", "fe80::1"] {
            assert!(!some.allows(no.parse().unwrap()), "{no}");
        }
    }
}
