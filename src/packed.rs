//! Rebuilding persistent B-trees with full nodes.
//!
//! `imbl`'s ordered maps split a full node in the middle. Keys inserted in ascending
//! order (a load: files and API lists come sorted) therefore leave every node half full,
//! and a node's array is allocated at full size whatever it holds: half of each is
//! empty. Inserting the even-numbered keys first and then the odd ones fills each leaf
//! the first pass left half full, without a split. The rebuilt tree holds the same
//! entries in about half the node memory (figures: docs/performance.md, design notes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use imbl::{OrdMap, OrdSet};

/// The entries of `sorted` in the order that fills the nodes: even positions, then odd.
/// The source is walked twice instead of being copied into two vectors: right after a
/// load that copy was as large as the tree itself, at the moment of the highest peak.
fn filling_order<T>(sorted: impl Iterator<Item = T> + Clone) -> impl Iterator<Item = T> {
    sorted.clone().step_by(2).chain(sorted.skip(1).step_by(2))
}

/// A set of `sorted` (ascending: a set's `iter()`, or a sorted slice's) with full nodes.
pub fn set<K: Ord + Clone>(sorted: impl Iterator<Item = K> + Clone) -> OrdSet<K> {
    let mut packed = OrdSet::new();
    for key in filling_order(sorted) {
        packed.insert(key);
    }
    packed
}

/// A map of `sorted` (ascending by key: a map's `iter()`) with full nodes.
pub fn map<K: Ord + Clone, V: Clone>(sorted: impl Iterator<Item = (K, V)> + Clone) -> OrdMap<K, V> {
    let mut packed = OrdMap::new();
    for (key, value) in filling_order(sorted) {
        packed.insert(key, value);
    }
    packed
}

/// An IPv4 and an IPv6 set of `(address, value)` pairs.
pub type FamilySets<T> = (OrdSet<(Ipv4Addr, T)>, OrdSet<(Ipv6Addr, T)>);

/// `(address, value)` pairs in any order, without duplicates, as an IPv4 and an IPv6 set
/// with full nodes: how the pods-by-address and the PTR index are built at once after a
/// load. Each family's vector is freed before the next set is built.
pub fn by_family<T: Ord + Clone>(pairs: impl Iterator<Item = (IpAddr, T)>) -> FamilySets<T> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (ip, value) in pairs {
        match ip {
            IpAddr::V4(ip) => v4.push((ip, value)),
            IpAddr::V6(ip) => v6.push((ip, value)),
        }
    }
    v4.sort();
    v4.dedup();
    let v4_set = set(v4.iter().cloned());
    drop(v4);
    v6.sort();
    v6.dedup();
    (v4_set, set(v6.iter().cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_every_entry_in_order() {
        for n in [0, 1, 2, 15, 16, 17, 1000, 4097] {
            let sorted: OrdMap<u32, u32> = (0..n).map(|i| (i * 3, i)).collect();
            let packed = map(sorted.iter().map(|(k, v)| (*k, *v)));
            assert_eq!(packed, sorted);
            assert!(packed.iter().map(|(k, _)| *k).eq((0..n).map(|i| i * 3)));
            let keys: OrdSet<u32> = sorted.keys().copied().collect();
            assert_eq!(set(keys.iter().copied()), keys);
        }
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let pairs = [(ip("fd00::1"), 2), (ip("10.0.0.2"), 1), (ip("10.0.0.1"), 3), (ip("10.0.0.2"), 1)];
        let (v4, v6) = by_family(pairs.into_iter());
        assert!(v4.iter().eq(&[("10.0.0.1".parse().unwrap(), 3), ("10.0.0.2".parse().unwrap(), 1)]));
        assert!(v6.iter().eq(&[("fd00::1".parse().unwrap(), 2)]));
        {}
    }
}
