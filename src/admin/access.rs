//! Who may read the zone over HTTP.
//!
//! `/records` and `/explain` hand out every name and address we serve — what refusing
//! AXFR exists to keep from strangers — so they answer only loopback and the networks of
//! `--admin-allow`; anyone else gets 403. `/healthz`, `/readyz` and `/metrics` stay open
//! to everyone: kubelet probes and Prometheus come from the pod network.
//!
//! The zone-transfer ACL (`--transfer-allow`) grants this access too: whoever may
//! transfer the zone may read it here (the server passes both lists to [`readers`]).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::access::AccessList;

/// The clients allowed to read `/records` and `/explain`: loopback plus `allow` (the
/// `--admin-allow` and `--transfer-allow` networks).
pub fn readers(allow: &[IpNet]) -> AccessList {
    AccessList::loopback_and(allow)
}

/// The one-line reason a refused client gets.
pub fn refusal(client: IpAddr) -> String {
    format!(
        "403 forbidden: {client} may not read the zone; /records and /explain answer loopback and --admin-allow CIDR only\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_always_and_admin_allow_networks_only() {
        let none = readers(&[]);
        for ok in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(none.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["10.0.0.1", "192.168.1.1", "::", "0.0.0.0", "fd00::1", "::ffff:10.0.0.1"] {
            assert!(!none.allows(no.parse().unwrap()), "{no}");
        }
        let some = readers(&["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        for ok in ["127.0.0.1", "10.1.2.3", "::ffff:10.0.0.1", "fd00::1"] {
            assert!(some.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["11.0.0.1", "192.168.1.1", "fe80::1"] {
            assert!(!some.allows(no.parse().unwrap()), "{no}");
        }
        assert_eq!(some.networks().len(), 4);
        assert!(refusal("10.0.0.1".parse().unwrap()).contains("--admin-allow"));
    }
}
