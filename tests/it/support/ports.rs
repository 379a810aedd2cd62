//! Ports for the external servers the tests start (unbound, knotd, nsd, named).
//!
//! *Why not the kernel's choice:* a port found free by binding to port 0 and closing is
//! handed out again by the next `bind(0)`, and the tests' own servers bind to port 0 all
//! the time: a secondary started on such a port found another test's server there (and
//! its zone), once in a full run. Ports are picked at random below the kernel's
//! ephemeral range instead, which no `bind(0)` ever returns, and checked free on TCP and
//! UDP.

/// A port below the ephemeral range, free on 127.0.0.1 for both TCP and UDP right now.
pub fn free_port() -> u16 {
    let ephemeral_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 20_000.min(ephemeral_start / 2);
    loop {
        let port = low + rand::random::<u16>() % (ephemeral_start - low);
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        if tcp.is_ok() && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
