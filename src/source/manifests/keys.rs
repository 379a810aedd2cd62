//! The packed keys of the objects one manifest file contributed.

use crate::cluster::{Kind, ObjectKey};

/// Keys, unpacked.
pub(super) type Keys = Vec<(Kind, ObjectKey)>;

/// The hasher of [`key_hash`]: fixed, so that hashes from different readings compare.
pub(super) type KeyHasher = foldhash::fast::FixedState;

/// An object's key, hashed: one function, since readings, reloads and the duplicate check
/// compare each other's hashes (which object is new to a file, defined twice, refused).
pub(super) fn key_hash(kind: Kind, namespace: &str, name: &str) -> u64 {
    use std::hash::BuildHasher;
    KeyHasher::default().hash_one((kind, namespace, name))
}

/// The keys of the objects one file contributed, packed into one allocation. Each key
/// is a kind byte, the namespace (its length plus one then its bytes, or 0 for the
/// previous key's), then the name as the length of the prefix it shares with the
/// previous name and the rest. A file's objects
/// are mostly one namespace and numbered names (`web-0`, `web-1`), so a key takes about
/// 6 bytes: a `Vec<ObjectKey>` would cost three allocations per object, as much as the
/// object's DNS data, and plain packing four times as much.
#[derive(Debug, Default)]
pub(super) struct FileKeys(Box<[u8]>);

impl FileKeys {
    #[cfg(test)]
    pub(super) fn new<'a>(keys: impl Iterator<Item = (Kind, &'a ObjectKey)>) -> Self {
        let mut builder = KeysBuilder::default();
        for (kind, key) in keys {
            builder.push(kind, &key.namespace, &key.name);
        }
        builder.finish()
    }

    /// How many keys there are.
    pub(super) fn len(&self) -> usize {
        let mut count = 0;
        self.for_each(|_, _, _| count += 1);
        count
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys, unpacked, in the order they were packed.
    pub(super) fn to_vec(&self) -> Keys {
        let mut keys = Vec::new();
        self.for_each(|kind, namespace, name| {
            keys.push((kind, ObjectKey { namespace: namespace.into(), name: name.into() }));
        });
        keys
    }

    /// Calls `f` with each key, in the order they were packed.
    pub(super) fn for_each(&self, mut f: impl FnMut(Kind, &str, &str)) {
        let (mut rest, mut namespace, mut name) = (&self.0[..], "", Vec::new());
        while let Some((&kind, tail)) = rest.split_first() {
            let Some((ns_len, tail)) = take_len(tail) else { return };
            let tail = match ns_len.checked_sub(1) {
                None => tail, // the previous key's namespace
                Some(len) => {
                    let Some((ns, tail)) = tail.split_at_checked(len) else { return };
                    namespace = std::str::from_utf8(ns).unwrap_or_default();
                    tail
                }
            };
            let Some((shared, tail)) = take_len(tail) else { return };
            let Some((suffix, tail)) = take_bytes(tail) else { return };
            rest = tail;
            name.truncate(shared);
            name.extend_from_slice(suffix);
            // Packed from `&str`s, and cut only where two of them share a prefix.
            if let (Some(&kind), Ok(name)) = (Kind::ALL.get(usize::from(kind)), std::str::from_utf8(&name)) {
                f(kind, namespace, name);
            }
        }
    }
}

/// Packs keys one at a time into a [`FileKeys`].
#[derive(Debug, Default)]
pub(super) struct KeysBuilder {
    packed: Vec<u8>,
    namespace: String,
    name: String,
}

impl KeysBuilder {
    /// Appends one key.
    pub(super) fn push(&mut self, kind: Kind, namespace: &str, name: &str) {
        fn put(packed: &mut Vec<u8>, bytes: &[u8]) {
            put_len(packed, bytes.len());
            packed.extend_from_slice(bytes);
        }
        self.packed.push(kind as u8);
        // Both sides start from the empty namespace (a ClusterProperty's).
        if namespace == self.namespace {
            put_len(&mut self.packed, 0);
        } else {
            put_len(&mut self.packed, namespace.len() + 1);
            self.packed.extend_from_slice(namespace.as_bytes());
        }
        let shared = self.name.bytes().zip(name.bytes()).take_while(|(a, b)| a == b).count();
        put_len(&mut self.packed, shared);
        put(&mut self.packed, &name.as_bytes()[shared..]);
        if namespace != self.namespace {
            namespace.clone_into(&mut self.namespace);
        }
        name.clone_into(&mut self.name);
    }

    /// The keys pushed so far.
    pub(super) fn finish(self) -> FileKeys {
        FileKeys(self.packed.into())
    }
}

/// Appends `len` as a LEB128 varint (one byte below 128).
pub(super) fn put_len(packed: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        packed.push((len as u8) | 0x80);
        len >>= 7;
    }
    packed.push(len as u8);
}

/// Splits a LEB128 varint off the front of `bytes`.
pub(super) fn take_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
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
            // Cluster-scoped after namespaced, and back.
            (Kind::ClusterProperty, "", "id.k8s.io"),
            (Kind::Pod, "ns-a", "web-2"),
            (Kind::Node, "", "node-1"),
            (Kind::Pod, "ns-a", "node-1x"),
            (Kind::Node, "", "node-2"),
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
