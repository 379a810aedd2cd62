//! A cache of forwarded answers that honours TTLs and RFC 2308 negative caching.
//!
//! Keyed by (lower-cased name, type, class, DO bit). A hit is returned with the TTLs
//! decreased by the time spent in the cache and the client's ID and question case.
//! SERVFAIL, REFUSED, truncated answers and negative answers without an SOA are not cached.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

/// The longest any answer is kept, whatever its TTL.
const MAX_TTL: u32 = 3600;

/// What identifies a cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    name: String,
    qtype: u16,
    qclass: u16,
    dnssec_ok: bool,
}

impl CacheKey {
    /// The key of a query, if it has exactly one question.
    pub fn of(query: &Message) -> Option<Self> {
        let [q] = query.queries.as_slice() else { return None };
        Some(Self {
            name: q.name().to_lowercase().to_string(),
            qtype: u16::from(q.query_type()),
            qclass: u16::from(q.query_class()),
            dnssec_ok: query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        })
    }
}

struct Entry {
    reply: Message,
    stored: Instant,
    ttl: u32,
}

/// A bounded LRU cache of upstream answers.
pub struct Cache {
    entries: Mutex<lru::LruCache<CacheKey, Entry>>,
}

impl Cache {
    /// A cache holding at most `size` answers.
    pub fn new(size: NonZeroUsize) -> Self {
        Self { entries: Mutex::new(lru::LruCache::new(size)) }
    }

    /// The cached answer to `query`, adjusted for the time it spent in the cache.
    pub fn get(&self, key: &CacheKey, query: &Message) -> Option<Message> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        let age = entry.stored.elapsed();
        if age >= Duration::from_secs(u64::from(entry.ttl)) {
            entries.pop(key);
            return None;
        }
        let age = age.as_secs() as u32;
        let ttl = entry.ttl;
        let mut reply = entry.reply.clone();
        drop(entries);
        reply.metadata.id = query.metadata.id;
        reply.queries = query.queries.clone();
        for r in
            reply.answers.iter_mut().chain(reply.authorities.iter_mut()).chain(reply.additionals.iter_mut())
        {
            // No record outlives the entry: a cached NXDOMAIN's SOA says how long it is
            // still negative (RFC 2308 §5), not the SOA's own TTL.
            r.ttl = r.ttl.min(ttl).saturating_sub(age);
        }
        Some(reply)
    }

    /// Stores `reply` if it may be cached, for as long as its records allow.
    pub fn put(&self, key: CacheKey, reply: &Message) {
        let Some(ttl) = cache_ttl(reply) else { return };
        if ttl == 0 {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(key, Entry { reply: reply.clone(), stored: Instant::now(), ttl: ttl.min(MAX_TTL) });
        }
    }
}

/// How long a reply may be cached: the smallest answer TTL; for NXDOMAIN and NODATA,
/// min(SOA TTL, SOA minimum) (RFC 2308 §5). `None`: not cacheable.
pub fn cache_ttl(reply: &Message) -> Option<u32> {
    if reply.metadata.truncation {
        return None;
    }
    let negative = match reply.metadata.response_code {
        ResponseCode::NXDomain => true,
        ResponseCode::NoError => reply.answers.is_empty(),
        _ => return None,
    };
    if negative {
        return reply
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) if r.record_type() == RecordType::SOA => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .min();
    }
    reply.answers.iter().map(|r| r.ttl).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{Name, Record};

    fn query(name: &str) -> Message {
        let mut m = Message::new(7, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        m
    }

    fn soa(ttl: u32, minimum: u32) -> Record {
        let n = Name::from_ascii("example.").unwrap();
        Record::from_rdata(n.clone(), ttl, RData::SOA(SOA::new(n.clone(), n, 1, 1, 1, 1, minimum)))
    }

    #[test]
    fn positive_answers_use_the_smallest_ttl_and_age() {
        let cache = Cache::new(NonZeroUsize::new(8).unwrap());
        let q = query("www.example.");
        let mut reply = q.clone();
        reply.metadata.message_type = MessageType::Response;
        reply.answers.push(Record::from_rdata(
            Name::from_ascii("www.example.").unwrap(),
            30,
            RData::A(A::new(1, 2, 3, 4)),
        ));
        reply.answers.push(Record::from_rdata(
            Name::from_ascii("www.example.").unwrap(),
            10,
            RData::A(A::new(1, 2, 3, 5)),
        ));
        assert_eq!(cache_ttl(&reply), Some(10));
        let key = CacheKey::of(&q).unwrap();
        cache.put(key.clone(), &reply);
        let mut again = query("WWW.example.");
        again.metadata.id = 99;
        let hit = cache.get(&CacheKey::of(&again).unwrap(), &again).expect("case-insensitive hit");
        assert_eq!(hit.metadata.id, 99);
        assert_eq!(hit.queries[0].name().to_string(), "WWW.example.");
    }

    #[test]
    fn negative_answers_follow_rfc_2308() {
        let mut nx = query("nope.example.");
        nx.metadata.message_type = MessageType::Response;
        nx.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(cache_ttl(&nx), None, "no SOA: not cached");
        nx.authorities.push(soa(300, 60));
        assert_eq!(cache_ttl(&nx), Some(60));
        let mut nodata = nx.clone();
        nodata.metadata.response_code = ResponseCode::NoError;
        nodata.authorities = vec![soa(20, 60)];
        assert_eq!(cache_ttl(&nodata), Some(20));
        let mut servfail = nx.clone();
        servfail.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(cache_ttl(&servfail), None);
        let mut truncated = nodata.clone();
        truncated.metadata.truncation = true;
        assert_eq!(cache_ttl(&truncated), None);
    }
}
