//! A pod's addresses, with the usual single IPv4 address held inline.
//!
//! *Why:* a boxed slice of one `IpAddr` is a 16-byte pointer plus a 24-byte allocation,
//! and nearly every pod has exactly one IPv4 address. The inline form fits in the 16 bytes the pointer took (the pointer's
//! non-null niche tells the two forms apart), so a [`super::Pod`] needs no second
//! allocation. Dual-stack pods and pods with several addresses keep a boxed list.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `status.podIPs` (else `status.podIP`), primary first, without duplicates.
///
/// Always in its canonical form (one IPv4 address inline, anything else listed), so the
/// derived equality and hash compare the addresses themselves.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Addresses(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Exactly one address, IPv4.
    V4(Ipv4Addr),
    /// No address, or several, or one IPv6 address.
    List(Box<[IpAddr]>),
}

impl Addresses {
    /// No address (a pod not yet scheduled or started).
    pub fn none() -> Self {
        Addresses(Repr::List(Box::new([])))
    }

    /// The addresses, primary first.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + Clone + '_ {
        let (one, list): (Option<IpAddr>, &[IpAddr]) = match &self.0 {
            Repr::V4(ip) => (Some(IpAddr::V4(*ip)), &[]),
            Repr::List(list) => (None, list),
        };
        one.into_iter().chain(list.iter().copied())
    }

    /// How many addresses.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::V4(_) => 1,
            Repr::List(list) => list.len(),
        }
    }

    /// Whether the pod has no address.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `ip` is one of them.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.iter().any(|own| own == *ip)
    }

    /// The primary address.
    pub fn first(&self) -> Option<IpAddr> {
        self.iter().next()
    }

    /// The addresses as a vector.
    pub fn to_vec(&self) -> Vec<IpAddr> {
        self.iter().collect()
    }
}

impl Default for Addresses {
    fn default() -> Self {
        Self::none()
    }
}

impl fmt::Debug for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<IpAddr>> for Addresses {
    fn from(ips: Vec<IpAddr>) -> Self {
        match ips.as_slice() {
            [IpAddr::V4(ip)] => Addresses(Repr::V4(*ip)),
            _ => Addresses(Repr::List(ips.into_boxed_slice())),
        }
    }
}

impl From<Box<[IpAddr]>> for Addresses {
    fn from(ips: Box<[IpAddr]>) -> Self {
        Vec::from(ips).into()
    }
}

impl<const N: usize> From<[IpAddr; N]> for Addresses {
    fn from(ips: [IpAddr; N]) -> Self {
        Vec::from(ips).into()
    }
}

impl FromIterator<IpAddr> for Addresses {
    fn from_iter<I: IntoIterator<Item = IpAddr>>(ips: I) -> Self {
        ips.into_iter().collect::<Vec<_>>().into()
    }
}

/// One address in 16 bytes instead of `IpAddr`'s 17 (24 in a struct beside a pointer):
/// IPv4 inline, IPv6 boxed. For the zone's endpoints, a million of which are IPv4 in a
/// typical cluster: with a label pointer, an endpoint is 32 bytes instead of 40, and a
/// StatefulSet of 10 pods' endpoint list fits a 320-byte allocation instead of 448.
///
/// Ordered as `IpAddr` is (IPv4 before IPv6, then by address).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CompactIp {
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Box<Ipv6Addr>),
}

impl CompactIp {
    /// The address.
    pub fn get(&self) -> IpAddr {
        match self {
            CompactIp::V4(ip) => IpAddr::V4(*ip),
            CompactIp::V6(ip) => IpAddr::V6(**ip),
        }
    }
}

impl From<IpAddr> for CompactIp {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => CompactIp::V4(ip),
            IpAddr::V6(ip) => CompactIp::V6(Box::new(ip)),
        }
    }
}

impl fmt::Debug for CompactIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_ipv4_address_is_inline_and_the_type_stays_two_words() {
        assert_eq!(std::mem::size_of::<Addresses>(), 16);
        assert!(matches!(Addresses::from(vec![ip("10.0.0.1")]).0, Repr::V4(_)));
        assert!(matches!(Addresses::from(vec![ip("fd00::1")]).0, Repr::List(_)));
    }

    #[test]
    fn every_form_reads_back_what_it_was_given() {
        for ips in [vec![], vec![ip("10.0.0.1")], vec![ip("fd00::1")], vec![ip("10.0.0.1"), ip("fd00::1")]] {
            let addresses = Addresses::from(ips.clone());
            assert_eq!(addresses.to_vec(), ips);
            assert_eq!(addresses.len(), ips.len());
            assert_eq!(addresses.is_empty(), ips.is_empty());
            assert_eq!(addresses.first(), ips.first().copied());
            assert!(ips.iter().all(|ip| addresses.contains(ip)));
            assert!(!addresses.contains(&ip("10.9.9.9")));
            assert_eq!(format!("{addresses:?}"), format!("{ips:?}"));
        }
    }

    #[test]
    fn a_compact_address_is_two_words_and_orders_as_ipaddr() {
        assert_eq!(std::mem::size_of::<CompactIp>(), 16);
        let mut ips = vec![ip("fd00::2"), ip("10.0.0.2"), ip("fd00::1"), ip("10.0.0.1")];
        let mut compact: Vec<CompactIp> = ips.iter().copied().map(CompactIp::from).collect();
        ips.sort();
        compact.sort();
        assert_eq!(compact.iter().map(CompactIp::get).collect::<Vec<_>>(), ips);
    }

    #[test]
    fn equal_addresses_are_equal_however_they_were_built() {
        let boxed: Box<[IpAddr]> = Box::new([ip("10.0.0.1")]);
        assert_eq!(Addresses::from(boxed), Addresses::from([ip("10.0.0.1")]));
        assert_eq!(Addresses::from_iter([ip("10.0.0.1")]), Addresses::from(vec![ip("10.0.0.1")]));
        assert_ne!(Addresses::from([ip("10.0.0.1")]), Addresses::from([ip("10.0.0.1"), ip("10.0.0.2")]));
        assert_eq!(Addresses::default(), Addresses::none());
    }
}
