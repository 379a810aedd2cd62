//! The reverse index: which services publish which address, for PTR answers and for
//! the empty non-terminals above published addresses.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::{Node, Zone};
use crate::cluster::ObjectKey;

impl Zone {
    /// Number of distinct addresses with PTR records.
    pub fn reverse_len(&self) -> usize {
        self.reverse_addresses
    }

    /// The services publishing `ip`, in key order.
    pub(super) fn services_of(&self, ip: IpAddr) -> Vec<&Arc<ObjectKey>> {
        match ip {
            IpAddr::V4(ip) => publishers(&self.reverse_v4, ip, &self.reverse_floor).collect(),
            IpAddr::V6(ip) => publishers(&self.reverse_v6, ip, &self.reverse_floor).collect(),
        }
    }

    /// Leaves the reverse index alone until [`rebuild_reverse`](Self::rebuild_reverse).
    ///
    /// *Why:* the first build of a load publishes every service at once. Inserting each
    /// pair into the sets left their nodes half full, and repacking them then held the old
    /// and the new sets together at the moment of the load's highest peak, nodes three
    /// times the index's size. A sorted vector turned into full nodes holds two thirds of
    /// that at most.
    pub(crate) fn defer_reverse(&mut self) {
        self.reverse_deferred = true;
    }

    /// Builds the reverse index from every service's published addresses, with full nodes,
    /// and keeps it up to date from now on.
    pub(crate) fn rebuild_reverse(&mut self) {
        self.reverse_deferred = false;
        let pairs = self.services.iter().flat_map(|(namespace, services)| {
            services.iter().flat_map(move |(name, records)| {
                let service = Arc::new(ObjectKey { namespace: namespace.clone(), name: name.clone() });
                records.published_ips().map(move |ip| (ip, service.clone()))
            })
        });
        let (v4, v6) = crate::packed::by_family(pairs);
        self.reverse_addresses =
            distinct(v4.iter().map(|(ip, _)| ip)) + distinct(v6.iter().map(|(ip, _)| ip));
        (self.reverse_v4, self.reverse_v6) = (v4, v6);
    }

    /// Records that `service` publishes `ip`.
    pub(super) fn insert_ptr(&mut self, ip: IpAddr, service: &Arc<ObjectKey>) {
        let new_address = self.services_of(ip).is_empty();
        let inserted = match ip {
            IpAddr::V4(ip) => self.reverse_v4.insert((ip, service.clone())).is_none(),
            IpAddr::V6(ip) => self.reverse_v6.insert((ip, service.clone())).is_none(),
        };
        if inserted && new_address {
            self.reverse_addresses += 1;
        }
    }

    /// Records that `service` no longer publishes `ip`.
    pub(super) fn remove_ptr(&mut self, ip: IpAddr, service: &Arc<ObjectKey>) {
        let removed = match ip {
            IpAddr::V4(ip) => self.reverse_v4.remove(&(ip, service.clone())).is_some(),
            IpAddr::V6(ip) => self.reverse_v6.remove(&(ip, service.clone())).is_some(),
        };
        if removed && self.services_of(ip).is_empty() {
            self.reverse_addresses -= 1;
        }
    }

    /// The published addresses of one family, in order.
    pub(crate) fn reverse_addresses(&self, v4: bool) -> Vec<IpAddr> {
        let mut addresses: Vec<IpAddr> = if v4 {
            self.reverse_v4.iter().map(|(ip, _)| IpAddr::V4(*ip)).collect()
        } else {
            self.reverse_v6.iter().map(|(ip, _)| IpAddr::V6(*ip)).collect()
        };
        addresses.dedup();
        addresses
    }

    pub(super) fn reverse_node(&self, lower: &Name, apex: &Name) -> Node<'_> {
        if lower == apex {
            return Node::Apex;
        }
        let Ok(net) = lower.parse_arpa_name() else { return Node::NotFound };
        let full = match net.addr() {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if net.prefix_len() == full {
            let services: Vec<&ObjectKey> = self.services_of(net.addr()).into_iter().map(|s| &**s).collect();
            return if services.is_empty() { Node::NotFound } else { Node::Ptr(net.addr(), services) };
        }
        // A shorter name (`2.1.10.in-addr.arpa.`) exists when some address lies under it.
        let floor = &self.reverse_floor;
        let under = match (net.network(), net.broadcast()) {
            (IpAddr::V4(first), IpAddr::V4(last)) => {
                self.reverse_v4.range((first, floor.clone())..).next().is_some_and(|(ip, _)| *ip <= last)
            }
            (IpAddr::V6(first), IpAddr::V6(last)) => {
                self.reverse_v6.range((first, floor.clone())..).next().is_some_and(|(ip, _)| *ip <= last)
            }
            _ => false,
        };
        if under { Node::EmptyNonTerminal } else { Node::NotFound }
    }
}

/// The services publishing `ip` in one family's reverse set.
pub(super) fn publishers<'a, A: Ord + Clone + 'a>(
    set: &'a imbl::OrdSet<(A, Arc<ObjectKey>)>,
    ip: A,
    floor: &Arc<ObjectKey>,
) -> impl Iterator<Item = &'a Arc<ObjectKey>> {
    set.range((ip.clone(), floor.clone())..).take_while(move |(a, _)| *a == ip).map(|(_, s)| s)
}

/// Distinct values of an ordered sequence: one run per value.
fn distinct<A: PartialEq>(ordered: impl Iterator<Item = A>) -> usize {
    let (mut previous, mut count) = (None, 0);
    for value in ordered {
        if previous.as_ref() != Some(&value) {
            count += 1;
            previous = Some(value);
        }
    }
    count
}
