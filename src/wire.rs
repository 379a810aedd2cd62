//! Wire-format helpers shared by the query path (`dns`), zone transfers (`xfer`) and the
//! index's IXFR journal: none of them owns these, so each imports them from here and not
//! from another.

use hickory_proto::rr::{RData, Record};

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
