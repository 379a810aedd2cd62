//! The fast path's response cache against a plain map: random inserts and lookups, with
//! responses that often repeat their key from byte 12 on (as a DNS response repeats the
//! question), so the cache stores only part of the key.
//!
//! Invariants: a lookup finds exactly what the model holds (the first response inserted
//! for a key; nothing for a key never inserted), whatever the keys share with each other
//! or with the responses.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use headless_dns::dns::response_cache::ResponseCache;
use headless_dns::zone::invalidation::{Group, Grouped};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Inserts `response` under `key`; with `repeat`, the response's bytes from 12 on
    /// start with the first `repeat` bytes of the key.
    Insert { key: Vec<u8>, header: [u8; 12], repeat: Option<u8>, tail: Vec<u8> },
    /// Looks up `key`.
    Get { key: Vec<u8> },
    /// Looks up a key inserted before (by index), changed at one byte or cut short.
    GetNear { index: u8, flip: Option<(u8, u8)>, cut: Option<u8> },
}

fuzz_target!(|ops: Vec<Op>| {
    let mut cache = ResponseCache::new();
    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for op in ops {
        match op {
            Op::Insert { key, header, repeat, tail } => {
                let mut response = header.to_vec();
                if let Some(n) = repeat {
                    response.extend_from_slice(&key[..usize::from(n).min(key.len())]);
                }
                response.extend_from_slice(&tail);
                let grouped = Grouped { group: Group::reverse_prefix(), serial_of: None };
                cache.insert(&key, &response, grouped);
                model.entry(key.clone()).or_insert(response);
                keys.push(key);
            }
            Op::Get { key } => {
                assert_eq!(cache.get(&key), model.get(&key).map(|r| &r[..]), "key {key:?}");
            }
            Op::GetNear { index, flip, cut } => {
                let Some(mut key) = keys.get(usize::from(index) % keys.len().max(1)).cloned() else { continue };
                if let Some((at, bits)) = flip
                    && !key.is_empty()
                {
                    let at = usize::from(at) % key.len();
                    key[at] ^= bits;
                }
                if let Some(cut) = cut {
                    key.truncate(usize::from(cut) % (key.len() + 1));
                }
                assert_eq!(cache.get(&key), model.get(&key).map(|r| &r[..]), "key {key:?}");
            }
        }
        assert_eq!(cache.len(), model.len());
    }
});
