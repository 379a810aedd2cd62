//! The full-zone answer (RFC 5936): the SOA, every record the zone serves, the SOA again,
//! over as many messages as it takes.
//!
//! The records are exactly [`Zones::zone_records`]' — the same questions looked up the
//! same way — so a secondary serves what we serve. They are looked up one message at a
//! time, and the questions one service (or address) at a time, so a 100k-pod zone never
//! exists as one list of records or questions: memory stays at one message plus the list
//! of the zone's services.

use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::wire::{TRANSFER_MESSAGE_TARGET, encode_transfer_message, response_to};
use crate::zone::Zones;
use crate::zone::zonefile::{ZoneFile, ZonePart};

/// The messages of one transfer answer, produced on demand.
pub struct Messages {
    zones: Arc<Zones>,
    request: Message,
    state: State,
    /// How many messages were produced.
    pub sent: usize,
    /// TSIG signing of each message, when the request was signed.
    signing: Option<super::tsig::Signing>,
}

enum State {
    /// One message, then done (an error code, or a prepared answer).
    Single(Option<Message>),
    /// One message already encoded (a TSIG error reply).
    Encoded(Option<Vec<u8>>),
    /// Streaming a zone: the questions of the head and of the parts taken so far, the
    /// next one to look up, the parts not yet turned into questions, records looked up
    /// but not yet sent, the closing SOA's question, and whether it was sent.
    Zone {
        file: ZoneFile,
        queries: Vec<(Name, RecordType)>,
        next: usize,
        parts: std::vec::IntoIter<ZonePart>,
        pending: Vec<Record>,
        soa: (Name, RecordType),
        closed: bool,
    },
    /// Streaming prepared records (an IXFR's differences).
    Records { records: std::vec::IntoIter<Record> },
}

impl Messages {
    /// The AXFR-style answer to `request` from `zones`: the whole zone its question names,
    /// NOTAUTH when that is not one of our zones' apexes, SERVFAIL while not synced.
    pub fn new(zones: Arc<Zones>, request: Message) -> Self {
        let which = request.queries.first().and_then(|q| zone_of(&zones, q.name()));
        let state = match which.and_then(|file| Some((file, zones.served_zone(file)?))) {
            Some((_, zone)) if !zone.is_synced() => {
                State::Single(Some(response_to(&request, ResponseCode::ServFail)))
            }
            None if !zones.is_synced() => State::Single(Some(response_to(&request, ResponseCode::ServFail))),
            None => State::Single(Some(response_to(&request, ResponseCode::NotAuth))),
            Some((file, zone)) => {
                let queries = zone.zone_head_queries();
                let soa = queries[0].clone();
                let parts = zone.zone_parts().into_iter();
                State::Zone { file, queries, next: 0, parts, pending: Vec::new(), soa, closed: false }
            }
        };
        Self { zones, request, state, sent: 0, signing: None }
    }

    /// An answer made of `records` (already in order, SOA first and last).
    pub fn records(zones: Arc<Zones>, request: Message, records: Vec<Record>) -> Self {
        Self {
            zones,
            request,
            state: State::Records { records: records.into_iter() },
            sent: 0,
            signing: None,
        }
    }

    /// An answer of one message, `reply`.
    pub fn single(zones: Arc<Zones>, request: Message, reply: Message) -> Self {
        Self { zones, request, state: State::Single(Some(reply)), sent: 0, signing: None }
    }

    /// A single reply already encoded (a TSIG error).
    pub fn encoded(zones: Arc<Zones>, reply: Vec<u8>) -> Self {
        let request = Message::new(0, MessageType::Query, OpCode::Query);
        Self { zones, request, state: State::Encoded(Some(reply)), sent: 0, signing: None }
    }

    /// Signs every message with TSIG as `signing` says.
    pub fn signed(mut self, signing: Option<super::tsig::Signing>) -> Self {
        self.signing = signing;
        self
    }

    /// The TSIG signing, taken out (to sign a different answer instead).
    pub fn take_signing(&mut self) -> Option<super::tsig::Signing> {
        self.signing.take()
    }

    /// The response code of the answer.
    pub fn rcode(&self) -> ResponseCode {
        match &self.state {
            State::Single(Some(m)) => m.metadata.response_code,
            _ => ResponseCode::NoError,
        }
    }

    /// The next message's records, up to [`TRANSFER_MESSAGE_TARGET`] bytes.
    fn fill(&mut self) -> Option<Vec<Record>> {
        let zones = &self.zones;
        let mut out = Vec::new();
        let mut size = 0;
        loop {
            let record = match &mut self.state {
                State::Single(_) | State::Encoded(_) => return None,
                State::Records { records } => records.next(),
                State::Zone { file, queries, next, parts, pending, soa, closed } => {
                    while pending.is_empty() {
                        if *next == queries.len() {
                            // The next part's questions, in place of the ones asked.
                            let Some(part) = parts.next() else { break };
                            queries.clear();
                            *next = 0;
                            if let Some(zone) = zones.served_zone(*file) {
                                zone.part_queries(&part, queries);
                            }
                            continue;
                        }
                        let (name, qtype) = &queries[*next];
                        *next += 1;
                        let mut answers = zones.lookup(name, *qtype, DNSClass::IN).answers;
                        answers.reverse(); // popped from the end below
                        *pending = answers;
                    }
                    match pending.pop() {
                        Some(r) => Some(r),
                        None if !*closed => {
                            *closed = true;
                            // The closing SOA: the first question's answer again.
                            zones.lookup(&soa.0, soa.1, DNSClass::IN).answers.into_iter().next()
                        }
                        None => None,
                    }
                }
            };
            let Some(record) = record else { break };
            size += crate::wire::record_size(&record);
            out.push(record);
            if size >= TRANSFER_MESSAGE_TARGET {
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

impl Iterator for Messages {
    type Item = Vec<u8>;

    /// The next message, encoded (without the TCP length prefix).
    fn next(&mut self) -> Option<Vec<u8>> {
        let message = match &mut self.state {
            State::Encoded(bytes) => {
                self.sent += 1;
                return bytes.take();
            }
            State::Single(message) => message.take()?,
            _ => {
                let records = self.fill()?;
                let mut message = response_to(&self.request, ResponseCode::NoError);
                if self.sent > 0 {
                    message.queries.clear(); // RFC 5936 §2.2: the question in the first message only
                }
                message.answers = records;
                message
            }
        };
        self.sent += 1;
        let mut bytes = encode_transfer_message(&message);
        if let Some(signing) = &mut self.signing
            && !signing.sign(&mut bytes)
        {
            tracing::warn!("cannot sign a transfer message with TSIG");
        }
        Some(bytes)
    }
}

/// Which of our zones `name` is the apex of.
pub(crate) fn zone_of(zones: &Zones, name: &Name) -> Option<ZoneFile> {
    zones.served_at(name).map(|served| served.file)
}
