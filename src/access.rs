//! Who may use a service, as a list of networks: the one access check of the admin
//! endpoints (`--admin-allow`), zone transfers (`--transfer-allow`) and forwarding
//! (`--allow-from`).
//!
//! A client of a dual-stack socket arrives as `::ffff:a.b.c.d` when it speaks IPv4; it is
//! judged by that IPv4 address, so one list serves both kinds of socket.

use std::net::IpAddr;

use ipnet::IpNet;

/// A list of networks whose clients are allowed; empty: nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    networks: Vec<IpNet>,
}

impl AccessList {
    /// The clients of `networks` (each network once, in the order given).
    pub fn new<'a>(networks: impl IntoIterator<Item = &'a IpNet>) -> Self {
        let mut list = Self::default();
        list.extend(networks);
        list
    }

    /// Loopback (`127.0.0.0/8`, `::1`) and `networks`.
    pub fn loopback_and<'a>(networks: impl IntoIterator<Item = &'a IpNet>) -> Self {
        let loopback: [IpNet; 2] = ["127.0.0.0/8", "::1/128"].map(|n| n.parse().expect("static network"));
        let mut list = Self::new(&loopback);
        list.extend(networks);
        list
    }

    fn extend<'a>(&mut self, networks: impl IntoIterator<Item = &'a IpNet>) {
        for net in networks {
            if !self.networks.contains(net) {
                self.networks.push(*net);
            }
        }
    }

    /// Whether `client` is in one of the networks (an IPv4-mapped IPv6 address as IPv4).
    pub fn allows(&self, client: IpAddr) -> bool {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        self.networks.iter().any(|net| net.contains(&client))
    }

    /// The networks, in order.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }

    /// Whether nobody is allowed.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn mapped_ipv4_is_judged_as_ipv4_and_empty_allows_nobody() {
        assert!(!AccessList::default().allows("127.0.0.1".parse().unwrap()), "loopback is not implied");
        let some = AccessList::new(&nets(&["10.0.0.0/8", "fd00::/8"]));
        for ok in ["10.1.2.3", "::ffff:10.0.0.1", "fd00::1"] {
            assert!(some.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["11.0.0.1", "127.0.0.1", "::1", "fe80::1"] {
            assert!(!some.allows(no.parse().unwrap()), "{no}");
        }
    }

    #[test]
    fn loopback_and_keeps_each_network_once() {
        let list = AccessList::loopback_and(&nets(&["10.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8"]));
        assert_eq!(list.networks(), nets(&["127.0.0.0/8", "::1/128", "10.0.0.0/8"]));
        for ok in ["127.9.9.9", "::1", "::ffff:127.0.0.1", "10.0.0.1"] {
            assert!(list.allows(ok.parse().unwrap()), "{ok}");
        }
    }
}
