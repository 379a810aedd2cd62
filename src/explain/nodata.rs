//! NODATA: the name exists but has no record of the asked type. Says which types it does
//! have (asked of the zones themselves, so it cannot disagree with the server) and why the
//! asked one is missing where that is known.

use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::zone::{Answer, Zones};

/// The types a name can own here, in the order they are listed.
const TYPES: [RecordType; 7] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::PTR,
    RecordType::TXT,
    RecordType::SOA,
    RecordType::NS,
];

pub(super) fn explain(
    zones: &Zones,
    qname: &Name,
    qtype: RecordType,
    answer: &Answer,
    reasons: &mut Vec<String>,
) {
    let present: Vec<RecordType> = TYPES
        .into_iter()
        .filter(|t| *t != qtype && !zones.lookup(qname, *t, DNSClass::IN).answers.is_empty())
        .collect();
    let cached = match answer.authorities.first().map(|soa| (soa.ttl, &soa.data)) {
        Some((ttl, RData::SOA(_))) => {
            format!("; resolvers cache this NODATA for {ttl} s (the SOA in the authority section)")
        }
        _ => String::new(),
    };
    let name = qname.to_ascii();
    if present == [RecordType::TXT] && is_pending(zones, qname) {
        reasons.push(format!(
            "NODATA: {name} is a pending identity: it owns only the TXT record that says why (the record keeps \
             the name in transferred zones, so secondaries answer NODATA too, never NXDOMAIN) and no {qtype} \
             record{cached}"
        ));
        return;
    }
    if present.is_empty() {
        reasons.push(format!(
            "NODATA: {name} exists but owns no records of any type, so every type answers NOERROR without \
             records{cached}"
        ));
        return;
    }
    let list = present.iter().map(RecordType::to_string).collect::<Vec<_>>().join(", ");
    let why = match qtype {
        RecordType::AAAA if present.contains(&RecordType::A) => ": none of its addresses is IPv6",
        RecordType::A if present.contains(&RecordType::AAAA) => ": none of its addresses is IPv4",
        _ => "",
    };
    reasons.push(format!("NODATA: {name} has {list} records but no {qtype} record{why}{cached}"));
}

/// Whether `qname`'s only record is a pending identity's TXT.
fn is_pending(zones: &Zones, qname: &Name) -> bool {
    zones.lookup(qname, RecordType::TXT, DNSClass::IN).answers.iter().any(|r| match &r.data {
        RData::TXT(txt) => txt.txt_data.first().is_some_and(|t| t.starts_with(b"pending: ")),
        _ => false,
    })
}
