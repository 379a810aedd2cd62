//! The packed keys of the objects one manifest file contributed.

use crate::cluster::{Kind, ObjectKey};

/// The keys of the objects one file contributed, packed into one allocation. Each key
/// is a kind byte, the namespace (empty: the previous key's; a cluster-scoped kind's is
/// empty and written as nothing), then the name as the
/// length of the prefix it shares with the previous name and the rest. A file's objects
/// are mostly one namespace and numbered names (`web-0`, `web-1`), so a key takes about
/// 6 bytes: a `Vec<ObjectKey>` would cost three allocations per object, as much as the
/// object's DNS data, and plain packing four times as much.
#[derive(Debug, Default)]
pub(super) struct FileKeys(Box<[u8]>);

impl FileKeys {
    pub(super) fn new<'a>(keys: impl Iterator<Item = (Kind, &'a ObjectKey)>) -> Self {
        fn put(packed: &mut Vec<u8>, bytes: &[u8]) {
            put_len(packed, bytes.len());
            packed.extend_from_slice(bytes);
        }
        let mut packed = Vec::new();
        let (mut namespace, mut name): (&str, &str) = ("", "");
        for (kind, key) in keys {
            packed.push(kind as u8);
            // A cluster-scoped key has none: the next namespaced key spells its own out.
            let key_namespace: &str = if kind.is_cluster_scoped() { "" } else { &key.namespace };
            put(&mut packed, if key_namespace == namespace { b"" } else { key_namespace.as_bytes() });
            let shared = name.bytes().zip(key.name.bytes()).take_while(|(a, b)| a == b).count();
            put_len(&mut packed, shared);
            put(&mut packed, &key.name.as_bytes()[shared..]);
            (namespace, name) = (key_namespace, &key.name);
        }
        Self(packed.into())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Calls `f` with each key, in the order they were packed.
    pub(super) fn for_each(&self, mut f: impl FnMut(Kind, &str, &str)) {
        let (mut rest, mut namespace, mut name) = (&self.0[..], "", Vec::new());
        while let Some((&kind, tail)) = rest.split_first() {
            let Some((ns, tail)) = take_bytes(tail) else { return };
            let Some((shared, tail)) = take_len(tail) else { return };
            let Some((suffix, tail)) = take_bytes(tail) else { return };
            rest = tail;
            let kind = Kind::ALL.get(usize::from(kind)).copied();
            if kind.is_some_and(Kind::is_cluster_scoped) {
                namespace = "";
            } else if !ns.is_empty() {
                namespace = std::str::from_utf8(ns).unwrap_or_default();
            }
            name.truncate(shared);
            name.extend_from_slice(suffix);
            // Packed from `&str`s, and cut only where two of them share a prefix.
            if let (Some(kind), Ok(name)) = (kind, std::str::from_utf8(&name)) {
                f(kind, namespace, name);
            }
        }
    }
}

/// Appends `len` as a LEB128 varint (one byte below 128).
fn put_len(packed: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        packed.push((len as u8) | 0x80);
        len >>= 7;
    }
    packed.push(len as u8);
}

/// Splits a LEB128 varint off the front of `bytes`.
fn take_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (mut len, mut shift) = (0usize, 0);
    for (i, &b) in bytes.iter().enumerate() {
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some((len, &bytes[i + 1..]));
        }
        shift += 7;
    }
    None
}

/// Splits a length-prefixed byte string off the front of `bytes`.
fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, after) = take_len(bytes)?;
    after.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_read_back_as_packed() {
        let long = "x".repeat(300);
        let keys: Vec<(Kind, ObjectKey)> = [
            (Kind::Service, "ns-a", "web"),
            (Kind::Pod, "ns-a", "web-0"),
            (Kind::Pod, "ns-a", "web-10"),
            (Kind::Pod, "ns-a", "web-1"),
            (Kind::StatefulSet, "ns-b", "web"),
            (Kind::Pod, "ns-b", &long),
            (Kind::Pod, "ns-a", "caf\u{e9}"),
            (Kind::Pod, "ns-a", "caf\u{e8}"),
            (Kind::Pod, "ns-a", ""),
            // Cluster-scoped keys between namespaced ones of one namespace.
            (Kind::Node, "", "node-1"),
            (Kind::Pod, "ns-a", "node-1x"),
            (Kind::Node, "", "node-2"),
            (Kind::ClusterProperty, "", "id.k8s.io"),
            (Kind::Pod, "ns-a", "web-0"),
        ]
        .into_iter()
        .map(|(kind, ns, name)| (kind, ObjectKey { namespace: ns.into(), name: name.into() }))
        .collect();
        let packed = FileKeys::new(keys.iter().map(|(kind, key)| (*kind, key)));
        let mut read = Vec::new();
        packed.for_each(|kind, ns, name| {
            read.push((kind, ObjectKey { namespace: ns.into(), name: name.into() }));
        });
        assert_eq!(read, keys);
        assert!(packed.0.len() < 450, "{} bytes", packed.0.len());
        assert!(FileKeys::new(std::iter::empty()).is_empty());
    }
}
