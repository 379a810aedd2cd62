//! Wire-format helpers shared by the query path (`dns`), zone transfers (`xfer`) and the
//! index's IXFR journal: none of them owns these, so each imports them from here and not
//! from another.

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// Upper bound of a record's wire size (names uncompressed): what decides how many
/// records fit a UDP reply, a transfer message, or the IXFR journal's byte budget.
pub fn record_size(record: &Record) -> usize {
    let rdata = match &record.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::SRV(srv) => 6 + srv.target.len() + 2,
        RData::PTR(ptr) => ptr.0.len() + 2,
        RData::NS(ns) => ns.0.len() + 2,
        RData::SOA(soa) => soa.mname.len() + soa.rname.len() + 4 + 20,
        RData::TXT(txt) => txt.txt_data.iter().map(|t| t.len() + 1).sum(),
        _ => 512,
    };
    record.name.len() + 2 + 10 + rdata
}

/// Whether serial `a` is greater than `b` in serial number arithmetic (RFC 1982 §3.2, 32
/// bits): how secondaries compare SOA serials, so how ours must move.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// Records are packed into a message until their uncompressed size reaches this. Well
/// under the 64 KiB of a TCP message, and the size BIND and Knot use, so a slow secondary
/// is not handed one huge buffer.
pub const TRANSFER_MESSAGE_TARGET: usize = 16 * 1024;

/// A response to `request` with no records: its id, question and EDNS, AA set.
pub fn response_to(request: &Message, rcode: ResponseCode) -> Message {
    let mut message = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    message.metadata = Metadata::response_from_request(&request.metadata);
    message.metadata.authoritative = rcode == ResponseCode::NoError;
    message.metadata.response_code = rcode;
    message.queries = request.queries.clone();
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(u16::MAX).set_version(0);
        message.edns = Some(edns);
    }
    message
}

/// Encodes one message of a transfer (or of its errors). The records were sized to fit
/// 64 KiB uncompressed, so encoding cannot run out of room; if it fails anyway, a
/// SERVFAIL says so.
pub fn encode_transfer_message(message: &Message) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(TRANSFER_MESSAGE_TARGET + 512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(u16::MAX);
    if message.emit(&mut encoder).is_ok() {
        return bytes;
    }
    let mut failed = response_to(message, ResponseCode::ServFail);
    failed.metadata.id = message.metadata.id;
    failed.to_vec().unwrap_or_default()
}

/// Where the serial of the first SOA record of an encoded message is (its offset), if
/// it has one: a response cache patches the current serial there. `None` also for bytes
/// that are not a well-formed message.
pub fn soa_serial_offset(message: &[u8]) -> Option<usize> {
    let count = |i: usize| usize::from(u16::from_be_bytes([message[i], message[i + 1]]));
    if message.len() < 12 {
        return None;
    }
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at)? + 4;
    }
    for _ in 0..records {
        at = skip_name(message, at)?;
        let fixed = message.get(at..at + 10)?;
        let (rtype, rdlength) = (u16::from_be_bytes([fixed[0], fixed[1]]), count(at + 8));
        let rdata = at + 10;
        if rtype == u16::from(hickory_proto::rr::RecordType::SOA) {
            // MNAME, RNAME, then the serial.
            let serial = skip_name(message, skip_name(message, rdata)?)?;
            return (serial + 4 <= rdata + rdlength && serial + 4 <= message.len()).then_some(serial);
        }
        at = rdata + rdlength;
    }
    None
}

/// The offset after the (possibly compressed) name at `at`.
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *message.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return message.get(at + 1).map(|_| at + 2),
            l if l > 63 => return None,
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(!serial_gt(7, 7));
        assert!(serial_gt(0, u32::MAX), "0 follows 2^32-1");
        assert!(serial_gt(5, u32::MAX - 5));
        assert!(!serial_gt(u32::MAX - 5, 5));
        assert!(serial_gt((1 << 31) - 1, 0));
        assert!(!serial_gt(1 << 31, 0), "2^31 apart is undefined: not greater");
    }

    #[test]
    fn record_size_bounds_the_encoded_size() {
        use hickory_proto::rr::Name;
        use hickory_proto::rr::rdata::{A, CNAME, SRV};
        let owner = Name::from_ascii("web-0.nginx.default.svc.cluster.local.").unwrap();
        for data in [
            RData::A(A::new(10, 0, 0, 1)),
            RData::SRV(SRV::new(0, 10, 80, owner.clone())),
            RData::CNAME(CNAME(Name::from_ascii("warehouse.example.com.").unwrap())),
        ] {
            let record = Record::from_rdata(owner.clone(), 5, data);
            let encoded = hickory_proto::serialize::binary::BinEncodable::to_bytes(&record).unwrap();
            assert!(
                encoded.len() <= record_size(&record),
                "{record}: {} > {}",
                encoded.len(),
                record_size(&record)
            );
        }
    }
}
