//! Keeping the forwarder from forwarding to ourselves.
//!
//! The sidecar's resolv.conf says `nameserver 127.0.0.1` — that is us — so
//! `--forward resolv.conf` there would send every forwarded query back to our own socket,
//! which forwards it again until it times out: SERVFAIL for every name, and no log line
//! saying why. Upstreams that are one of our own listen addresses are dropped with a
//! warning; when none remain, startup fails with what to do instead.

use std::net::{IpAddr, SocketAddr};

/// Whether a query sent to `upstream` would arrive at one of the `listen` sockets. A
/// wildcard listen (`0.0.0.0`, `::`) receives on every local address of the machine; an
/// address is local when a socket can be bound to it.
pub fn is_own_address(upstream: SocketAddr, listen: &[SocketAddr]) -> bool {
    listen.iter().any(|l| {
        l.port() == upstream.port()
            && (same_ip(l.ip(), upstream.ip()) || (l.ip().is_unspecified() && is_local(upstream.ip())))
    })
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// `upstreams` (each with the `--forward` value it came from) without our own listen
/// addresses, warning for each one dropped. An error, naming where they came from and
/// the way out, when nothing remains.
pub fn without_own_addresses(
    upstreams: Vec<(SocketAddr, String)>,
    listen: &[SocketAddr],
) -> Result<Vec<SocketAddr>, String> {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (upstream, given) in upstreams {
        if is_own_address(upstream, listen) {
            tracing::warn!(
                %upstream,
                forward = %given,
                "not forwarding to {upstream}: it is this server's own --listen address (a loop)"
            );
            dropped.push((upstream, given));
        } else if !kept.contains(&upstream) {
            kept.push(upstream);
        }
    }
    if kept.is_empty() && !dropped.is_empty() {
        let sources: Vec<String> = dropped.iter().map(|(u, g)| format!("{u} (from --forward {g})")).collect();
        return Err(format!(
            "every upstream is this server itself, which would forward to itself: {}. \
             Forward to the real resolver instead, e.g. --forward <cluster DNS IP> or \
             --forward resolv.conf:<a resolv.conf naming it>; in a sidecar whose resolv.conf \
             says nameserver 127.0.0.1, use the node's or the cluster DNS's address",
            sources.join(", ")
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn own_addresses_include_what_a_wildcard_listen_covers() {
        let specific = [a("127.0.0.1:53")];
        assert!(is_own_address(a("127.0.0.1:53"), &specific));
        assert!(!is_own_address(a("127.0.0.1:5353"), &specific), "another port is another server");
        assert!(!is_own_address(a("127.0.0.2:53"), &specific), "not the address we bound");
        let wildcard = [a("0.0.0.0:53")];
        assert!(is_own_address(a("127.0.0.1:53"), &wildcard));
        assert!(is_own_address(a("127.0.0.53:53"), &wildcard), "all of 127/8 is local");
        assert!(!is_own_address(a("192.0.2.200:53"), &wildcard), "TEST-NET-1 is nobody's local address here");
        assert!(is_own_address(a("[::ffff:127.0.0.1]:53"), &[a("127.0.0.1:53")]));
        assert!(is_own_address(a("[::1]:53"), &[a("[::]:53")]));
    }

    #[test]
    fn own_addresses_are_dropped_and_none_left_is_an_error() {
        let listen = [a("127.0.0.1:53")];
        let kept = without_own_addresses(
            vec![(a("127.0.0.1:53"), "resolv.conf".into()), (a("10.96.0.10:53"), "resolv.conf".into())],
            &listen,
        )
        .unwrap();
        assert_eq!(kept, vec![a("10.96.0.10:53")]);
        let error =
            without_own_addresses(vec![(a("127.0.0.1:53"), "resolv.conf:/etc/resolv.conf".into())], &listen)
                .unwrap_err();
        assert!(error.contains("127.0.0.1:53 (from --forward resolv.conf:/etc/resolv.conf)"), "{error}");
        assert!(error.contains("--forward <cluster DNS IP>"), "{error}");
    }
}
