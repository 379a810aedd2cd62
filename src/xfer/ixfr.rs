//! The incremental answer (RFC 1995): from the client's serial, the condensed
//! differences in the journal; the single current SOA when the client is current; the
//! whole zone (AXFR-style) when its serial is older than the journal or unknown.

use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

use super::axfr::{self, Messages};
use crate::wire::serial_gt;
use crate::zone::Zones;

/// What an IXFR request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The client is current (or ahead): one SOA.
    Current,
    /// The differences since the client's serial.
    Incremental,
    /// The whole zone: the client's serial is not in the journal.
    Full,
}

/// The serial in the SOA of a request's authority section (the client's version).
pub fn client_serial(request: &Message) -> Option<u32> {
    request.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// The answer to an IXFR request from `zones`, and which kind it is.
pub fn answer(zones: Arc<Zones>, request: Message) -> (Messages, Kind) {
    let apex = request.queries.first().map(|q| q.name().to_lowercase());
    let zone = apex.as_ref().and_then(|apex| zones.served_zone(axfr::zone_of(&zones, apex)?));
    let current =
        apex.as_ref().and_then(|apex| zones.lookup(apex, RecordType::SOA, DNSClass::IN).answers.pop());
    let (Some(apex), Some(zone), Some(soa), Some(client), true) =
        (apex, zone, current, client_serial(&request), zone.is_some_and(|z| z.is_synced()))
    else {
        return (Messages::new(zones, request), Kind::Full); // SERVFAIL, NOTAUTH, or the whole zone
    };
    let serial = zone.serial();
    if client == serial || serial_gt(client, serial) {
        return (Messages::records(zones, request, vec![soa]), Kind::Current);
    }
    let Some((deleted, added)) = zone.journal().since(client, serial) else {
        return (Messages::new(zones, request), Kind::Full);
    };
    let ours = |r: &Record| apex.zone_of(&r.name.to_lowercase());
    let mut old = soa.clone();
    if let RData::SOA(data) = &mut old.data {
        data.serial = client;
    }
    let mut records = vec![soa.clone(), old];
    records.extend(deleted.into_iter().filter(ours));
    records.push(soa.clone());
    records.extend(added.into_iter().filter(ours));
    records.push(soa);
    (Messages::records(zones, request, records), Kind::Incremental)
}

/// The answer to an IXFR over UDP (RFC 1995 §2): the current SOA when the client is
/// current, else an empty TC=1 reply so it retries over TCP.
/// Returns the bytes (signed when `signing` is set) and the result for metrics.
pub fn udp_answer(
    zones: &Arc<Zones>,
    request: Message,
    signing: Option<super::tsig::Signing>,
) -> (Vec<u8>, &'static str) {
    let (messages, kind) = answer(zones.clone(), request.clone());
    let mut messages = messages.signed(signing);
    match (kind, messages.rcode()) {
        (Kind::Current, _) => (messages.next().unwrap_or_default(), "current"),
        (_, ResponseCode::NotAuth) => (messages.next().unwrap_or_default(), "notauth"),
        (_, ResponseCode::NoError) => {
            let mut reply = crate::wire::response_to(&request, ResponseCode::NoError);
            reply.metadata.truncation = true;
            let signing = messages.take_signing();
            let mut single = Messages::single(zones.clone(), request, reply).signed(signing);
            (
                single.next().unwrap_or_default(),
                if kind == Kind::Incremental { "incremental" } else { "full" },
            )
        }
        _ => (messages.next().unwrap_or_default(), "servfail"),
    }
}
