use std::net::IpAddr;

use super::*;
use crate::dns::response_cache::key;

/// A group of its own for test entries, with no serial to patch.
fn group(n: u8) -> Grouped {
    Grouped { group: Group::address(IpAddr::from([192, 0, 2, n])), serial_of: None }
}

fn query(edns: Option<[u8; 11]>) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())];
    q.extend_from_slice(b"\x03web\x05local\x00\x00\x01\x00\x01");
    if let Some(opt) = edns {
        q.extend_from_slice(&opt);
    }
    q
}

#[test]
fn the_cache_answers_each_key_with_its_own_response() {
    let mut cache = ResponseCache::new();
    let keys: Vec<Vec<u8>> = (0..5_000u32).map(|i| format!("key-{i}").into_bytes()).collect();
    for (i, k) in keys.iter().enumerate() {
        cache.insert(k, &vec![i as u8; i % 700], group(0));
    }
    assert_eq!(cache.len(), 5_000);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(cache.get(k), Some(&vec![i as u8; i % 700][..]), "key {i}");
    }
    // A prefix or an extension of a key is another key.
    assert_eq!(cache.get(b"key-1"), Some(&[1u8][..]));
    assert_eq!(cache.get(b"key-"), None);
    assert_eq!(cache.get(b"key-49999"), None);
    // The first response stays (the same key always gets the same bytes).
    cache.insert(b"key-3", b"other", group(0));
    assert_eq!(cache.get(b"key-3"), Some(&[3u8, 3, 3][..]));
    assert_eq!(cache.len(), 5_000);
    // An empty key or response is an entry like any other; a response over 64 KiB is
    // not cached.
    cache.insert(b"", b"", group(0));
    assert_eq!(cache.get(b""), Some(&[][..]));
    cache.insert(b"huge", &vec![0; 70_000], group(0));
    assert_eq!(cache.get(b"huge"), None);
}

#[test]
fn a_key_is_stored_once_where_the_response_repeats_it() {
    let mut cache = ResponseCache::new();
    let mut k = Vec::new();
    let packet = query(Some([0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]));
    key(&packet, 1232, crate::zone::Scope::ALL, &mut k).unwrap();
    // A response repeating the question, as the general path's do.
    let mut response = vec![0xaa, 0xbb, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
    response.extend_from_slice(&packet[12..]);
    response.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
    cache.insert(&k, &response, group(0));
    assert_eq!(cache.get(&k), Some(&response[..]));
    // Only the EDNS part (4 bytes) and the listener's scope (1 byte) are stored besides
    // the header and the response.
    assert_eq!(cache.arena.len(), HEADER + 4 + 1 + response.len());
    // The same question with another EDNS part, or another question: other keys.
    let mut other = k.clone();
    *other.last_mut().unwrap() = 0;
    assert_eq!(cache.get(&other), None);
    let mut plain = Vec::new();
    key(&query(None), 1232, crate::zone::Scope::ALL, &mut plain).unwrap();
    assert_eq!(cache.get(&plain), None);
    let mut upper = k.clone();
    upper[1] = b'W';
    assert_eq!(cache.get(&upper), None);
    assert_eq!(cache.get(&k[..k.len() - 1]), None);
    // Those keys get their own entries, each answered with its own response.
    cache.insert(&plain, b"plain", group(0));
    cache.insert(&upper, b"upper", group(0));
    assert_eq!((cache.get(&plain), cache.get(&upper)), (Some(&b"plain"[..]), Some(&b"upper"[..])));
    assert_eq!(cache.get(&k), Some(&response[..]));
}

#[test]
fn a_full_cache_drops_its_older_half() {
    let mut cache = ResponseCache::new();
    for i in 0..CAPACITY as u32 {
        assert_eq!(cache.insert(&i.to_le_bytes(), b"r", group(0)), 0);
    }
    assert_eq!(cache.len(), CAPACITY);
    // Entries of one size: the older half by bytes is the first half inserted.
    assert_eq!(cache.insert(b"one more", b"r", group(0)), CAPACITY / 2);
    assert_eq!(cache.len(), CAPACITY / 2 + 1);
    assert_eq!(cache.get(&0u32.to_le_bytes()), None);
    assert_eq!(cache.get(&(CAPACITY as u32 / 2 - 1).to_le_bytes()), None);
    assert_eq!(cache.get(&(CAPACITY as u32 / 2).to_le_bytes()), Some(&b"r"[..]));
    assert_eq!(cache.get(&(CAPACITY as u32 - 1).to_le_bytes()), Some(&b"r"[..]));
    assert_eq!(cache.get(b"one more"), Some(&b"r"[..]));
    // The survivors are still dropped by their group.
    assert_eq!(cache.evict(group(0).group), CAPACITY / 2 + 1);
    // Large responses: the arena's bound comes long before the entry count.
    let mut cache = ResponseCache::new();
    let big = vec![7u8; 60_000];
    let fits = ARENA_BYTES / (HEADER + 4 + big.len());
    for i in 0..fits as u32 {
        assert_eq!(cache.insert(&i.to_le_bytes(), &big, group(0)), 0);
    }
    let dropped = cache.insert(&(fits as u32).to_le_bytes(), &big, group(0));
    assert!((fits / 2 - 1..=fits / 2 + 1).contains(&dropped), "{dropped} of {fits}");
    assert_eq!(cache.len(), fits + 1 - dropped);
    assert!(cache.arena.len() <= ARENA_BYTES);
    assert_eq!(cache.get(&0u32.to_le_bytes()), None);
    assert_eq!(cache.get(&(fits as u32).to_le_bytes()), Some(&big[..]));
}

#[test]
fn dropping_a_group_drops_its_entries_only() {
    let mut cache = ResponseCache::new();
    for i in 0..300u32 {
        cache.insert(&i.to_le_bytes(), &[i as u8; 40], group((i % 3) as u8));
    }
    assert_eq!(cache.evict(group(1).group), 100);
    assert_eq!(cache.evict(group(1).group), 0, "once");
    for i in 0..300u32 {
        let expected = [i as u8; 40];
        assert_eq!(cache.get(&i.to_le_bytes()), (i % 3 != 1).then_some(&expected[..]), "entry {i}");
    }
    assert_eq!(cache.len(), 200);
    // A dropped key can be cached again, under any group.
    cache.insert(&1u32.to_le_bytes(), b"again", group(2));
    assert_eq!(cache.get(&1u32.to_le_bytes()), Some(&b"again"[..]));
    assert_eq!(cache.evict(group(2).group), 101);
}

#[test]
fn a_full_arena_of_mostly_dropped_entries_is_compacted_not_emptied() {
    let mut cache = ResponseCache::new();
    let big = vec![9u8; 4000];
    // Half the arena in group 0, then group 1 fills the rest and is dropped.
    let per_half = ARENA_BYTES / 2 / (HEADER + 4 + big.len());
    for i in 0..per_half as u32 {
        cache.insert(&i.to_le_bytes(), &big, group(0));
    }
    let mut i = 0u32;
    while cache.arena.len() + HEADER + 4 + big.len() <= ARENA_BYTES {
        cache.insert(&(1_000_000 + i).to_le_bytes(), &big, group(1));
        i += 1;
    }
    cache.evict(group(1).group);
    let kept = cache.len();
    // The next entries overflow the arena: the dropped half is reclaimed, group 0 stays.
    for i in 0..10u32 {
        cache.insert(&(2_000_000 + i).to_le_bytes(), &big, group(2));
    }
    assert_eq!(cache.len(), kept + 10);
    assert!(cache.arena.len() < ARENA_BYTES / 2 + 20 * big.len(), "{}", cache.arena.len());
    for i in 0..per_half as u32 {
        assert_eq!(cache.get(&i.to_le_bytes()), Some(&big[..]), "entry {i} survived the compaction");
    }
    // Entries moved by the compaction are still dropped by their group.
    assert_eq!(cache.evict(group(0).group), per_half);
    assert_eq!(cache.len(), 10);
}

#[test]
fn a_hit_patches_the_serial_of_the_zone_followed() {
    use crate::zone::ZoneSettings;
    // A negative answer's bytes: header, question, and an SOA in the authority section.
    let mut response = vec![0xaa, 0xbb, 0x85, 0x03, 0, 1, 0, 0, 0, 1, 0, 0];
    response.extend_from_slice(b"\x03web\x05local\x00\x00\x01\x00\x01");
    response.extend_from_slice(&[0xc0, 0x10, 0, 6, 0, 1, 0, 0, 0, 5, 0, 24]);
    response.extend_from_slice(&[1, b'n', 0xc0, 0x10, 1, b'h', 0xc0, 0x10]); // MNAME, RNAME
    response.extend_from_slice(&[0, 0, 0, 7]); // serial 7
    response.extend_from_slice(&[0; 12]);
    let q = query(None);
    let mut k = Vec::new();
    key(&q, 1232, crate::zone::Scope::ALL, &mut k).unwrap();
    let mut zones = crate::zone::Zones::new(ZoneSettings::new("local").unwrap());
    zones.cluster_mut().set_serial(41);
    let mut cache = ResponseCache::new();
    cache.follow(&Arc::new(zones.clone()));
    cache.insert(&k, &response, Grouped { group: group(0).group, serial_of: Some(0) });
    zones.cluster_mut().set_serial(42);
    zones.record_changes(Invalidation::Groups(Box::new([])));
    assert_eq!(cache.follow(&Arc::new(zones)), Dropped::default());
    let mut out = Vec::new();
    assert!(cache.answer(&k, &q, &mut out));
    let at = response.len() - 16;
    assert_eq!(&out[at..at + 4], &42u32.to_be_bytes(), "the current serial");
    assert_eq!(&out[..2], &q[..2], "the query's ID");
    assert_eq!(&out[2..at], &response[2..at]);
}

#[test]
fn a_miss_on_an_answer_a_change_dropped_is_told_apart() {
    let mut cache = ResponseCache::new();
    cache.insert(b"changed", b"old answer", group(1));
    cache.insert(b"kept", b"answer", group(2));
    assert!(!cache.was_dropped(b"never-cached"));
    assert_eq!(cache.evict(group(1).group), 1);
    assert!(!cache.was_dropped(b"kept"));
    assert!(cache.was_dropped(b"changed"), "its group was dropped");
    assert!(!cache.was_dropped(b"changed"), "told once: the next miss is an ordinary one");
    // Emptied all at once, or to make room: not a change.
    cache.insert(b"changed", b"new answer", group(1));
    cache.clear();
    assert!(!cache.was_dropped(b"changed"));
}
