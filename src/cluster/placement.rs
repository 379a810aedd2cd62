//! Where a pod runs: its node's name and its host's addresses, as one 4-byte id.
//!
//! External zones publish, for a Service annotated `endpoints-type: NodeExternalIP`, the
//! external addresses of each pod's node, and for `HostIP` the pod's host addresses. A
//! pod keeps both as a [`Placement`]: the id of an interned `(node name, host IPs)`
//! pair, which the pods of one node share.
//!
//! *Why an id:* a [`Pod`](super::Pod) lives in an 80-byte allocation with a few bytes of
//! padding after its flags; a node name and a list of addresses would take 32 bytes more
//! and put every pod in a 112-byte block. The id fits the padding.
//!
//! The table is process-wide, behind a mutex: it is touched when pods are parsed (and by
//! the readers of a placement: zone builds, explain), never on the query path. Pairs are
//! never dropped: a cluster has few nodes, and a pair costs a few dozen bytes for the
//! process's life (a node replaced under a new name adds one).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use hashbrown::{Equivalent, HashMap};

use super::SharedStr;

/// A pod's `spec.nodeName` and `status.hostIPs` (else `status.hostIP`), interned: equal
/// pairs have equal ids, so comparing placements compares the pairs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Placement(u32);

/// One interned pair.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    node: Option<SharedStr>,
    host_ips: Arc<[IpAddr]>,
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Probe { node: self.node.as_deref(), host_ips: &self.host_ips }.hash(state);
    }
}

/// A pair looked up without copying it.
#[derive(Hash)]
struct Probe<'a> {
    node: Option<&'a str>,
    host_ips: &'a [IpAddr],
}

impl Equivalent<Entry> for Probe<'_> {
    fn equivalent(&self, entry: &Entry) -> bool {
        self.node == entry.node.as_deref() && *self.host_ips == *entry.host_ips
    }
}

/// The interned pairs: by id, and ids by pair. Id 0 is the empty pair.
struct Table {
    entries: Vec<Entry>,
    ids: HashMap<Entry, u32, foldhash::fast::RandomState>,
}

fn table() -> MutexGuard<'static, Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let none = Entry { node: None, host_ips: Arc::new([]) };
        let mut ids = HashMap::with_hasher(foldhash::fast::RandomState::default());
        ids.insert(none.clone(), 0);
        Mutex::new(Table { entries: vec![none], ids })
    });
    // A panic while holding the lock leaves the table whole: entries are only appended.
    table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Placement {
    /// No node and no host address: a pod not scheduled yet (or one from a state file or
    /// manifest that does not say).
    pub const NONE: Placement = Placement(0);

    /// The placement of a pod on node `node` (`None` or empty: not scheduled) with host
    /// addresses `host_ips` (primary first; a repeated address is kept once).
    pub fn new(node: Option<&str>, host_ips: &[IpAddr]) -> Placement {
        let node = node.filter(|n| !n.is_empty());
        let mut unique: Vec<IpAddr> = Vec::new();
        let host_ips = if host_ips.iter().enumerate().any(|(i, ip)| host_ips[..i].contains(ip)) {
            for ip in host_ips {
                if !unique.contains(ip) {
                    unique.push(*ip);
                }
            }
            &unique[..]
        } else {
            host_ips
        };
        let mut table = table();
        if let Some(id) = table.ids.get(&Probe { node, host_ips }) {
            return Placement(*id);
        }
        let Ok(id) = u32::try_from(table.entries.len()) else {
            return Placement::NONE; // four billion distinct placements: not a real cluster
        };
        let entry = Entry { node: node.map(SharedStr::from), host_ips: host_ips.into() };
        table.entries.push(entry.clone());
        table.ids.insert(entry, id);
        Placement(id)
    }

    /// Whether this is [`NONE`](Self::NONE).
    pub fn is_none(self) -> bool {
        self == Placement::NONE
    }

    /// The node's name (`spec.nodeName`), when the pod is scheduled.
    pub fn node(self) -> Option<SharedStr> {
        table().entries.get(self.0 as usize).and_then(|e| e.node.clone())
    }

    /// The host's addresses (`status.hostIPs`, else `status.hostIP`), primary first.
    pub fn host_ips(self) -> Arc<[IpAddr]> {
        table()
            .entries
            .get(self.0 as usize)
            .map_or_else(|| Arc::new([]) as Arc<[IpAddr]>, |e| e.host_ips.clone())
    }

    /// Both at once (one lock).
    pub fn parts(self) -> (Option<SharedStr>, Arc<[IpAddr]>) {
        let table = table();
        match table.entries.get(self.0 as usize) {
            Some(entry) => (entry.node.clone(), entry.host_ips.clone()),
            None => (None, Arc::new([])),
        }
    }
}

impl fmt::Debug for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (node, host_ips) = self.parts();
        f.debug_struct("Placement").field("node", &node).field("host_ips", &host_ips).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn equal_pairs_share_one_id_and_read_back() {
        let a = Placement::new(
            Some("node-a-with-a-long-name.example.internal"),
            &ips(&["192.0.2.1", "2001:db8::1"]),
        );
        let b = Placement::new(
            Some("node-a-with-a-long-name.example.internal"),
            &ips(&["192.0.2.1", "2001:db8::1"]),
        );
        assert_eq!(a, b);
        assert_eq!(a.node().as_deref(), Some("node-a-with-a-long-name.example.internal"));
        assert_eq!(&*a.host_ips(), &ips(&["192.0.2.1", "2001:db8::1"])[..]);
        // Another node, other addresses, another order: other ids.
        assert_ne!(a, Placement::new(Some("node-b"), &ips(&["192.0.2.1", "2001:db8::1"])));
        assert_ne!(a, Placement::new(Some("node-a-with-a-long-name.example.internal"), &ips(&["192.0.2.1"])));
        assert_ne!(
            a,
            Placement::new(
                Some("node-a-with-a-long-name.example.internal"),
                &ips(&["2001:db8::1", "192.0.2.1"])
            )
        );
        // A repeated address is kept once.
        assert_eq!(
            a,
            Placement::new(
                Some("node-a-with-a-long-name.example.internal"),
                &ips(&["192.0.2.1", "2001:db8::1", "192.0.2.1"])
            )
        );
    }

    #[test]
    fn nothing_is_none() {
        assert_eq!(Placement::new(None, &[]), Placement::NONE);
        assert_eq!(Placement::new(Some(""), &[]), Placement::NONE);
        assert!(Placement::default().is_none());
        assert_eq!((Placement::NONE.node(), Placement::NONE.host_ips().len()), (None, 0));
        let unscheduled_with_host = Placement::new(None, &ips(&["192.0.2.9"]));
        assert!(!unscheduled_with_host.is_none());
        assert_eq!(unscheduled_with_host.node(), None);
        assert_eq!(std::mem::size_of::<Placement>(), 4);
    }
}
