//! The library's error type, and how an error is shown to a person.
//!
//! Our messages are self-contained sentences: a wrapper's text already includes what it
//! wraps (`cannot load manifests: x.yaml:3:1: ...`), so logs that print only `%error` say
//! everything. thiserror still exposes the wrapped error as `source()`, and anyhow prints
//! the whole chain; [`report`] drops the causes whose text is already shown, so each
//! message appears once while causes that add something are still listed.

use std::net::SocketAddr;

use crate::{config, source};

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest could not be loaded at startup.
    #[error("cannot load manifests: {0}")]
    Manifest(#[from] source::manifests::ManifestError),
    /// The command line, the environment or the config file is unusable: unreadable, or
    /// an option's value (or a combination of options) is invalid.
    #[error(transparent)]
    Options(#[from] config::ConfigError),
    /// A request to a running server failed.
    #[error("{0}")]
    Remote(String),
    /// The Kubernetes API cannot be used.
    #[error(transparent)]
    Kube(#[from] source::kubernetes::KubeError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr} ({option}): {source}; {hint}")]
    Bind {
        /// The option that asked for the address: `--listen` or `--admin`.
        option: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
        /// A way out that differs from what failed (see [`bind_hint`]).
        hint: String,
    },
    /// A socket failed while serving.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bug: a task panicked or was cancelled.
    #[error("internal error: {message}")]
    Internal {
        /// The description.
        message: String,
    },
}

impl Error {
    /// The error for `option`'s address `addr` that could not be bound, with a hint that
    /// names that option and a way out that actually differs from what failed and from
    /// the `configured` addresses (the run's other listeners: a suggested port must not
    /// be one of theirs).
    pub fn bind(
        option: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
        configured: &[SocketAddr],
    ) -> Self {
        let hint = bind_hint(option, addr, &source, configured);
        Error::Bind { option, addr, source, hint }
    }
}

/// How to get past a failed bind of `option`'s address `addr`.
///
/// A port in use: a free port on the same address (for DNS free for UDP and TCP; above
/// 1023, from 5353 for a privileged port), and for `--admin` also `none`. A privileged
/// port without the capability: a free port from 5353. An address that is not this
/// machine's: a free port on 127.0.0.1. Never a port of the `configured` addresses.
pub fn bind_hint(
    option: &'static str,
    addr: SocketAddr,
    error: &std::io::Error,
    configured: &[SocketAddr],
) -> String {
    use std::io::ErrorKind;
    let udp_too = option == "--listen";
    let cause = match error.kind() {
        ErrorKind::AddrInUse => "another process has this port",
        ErrorKind::PermissionDenied => "ports below 1024 need root or CAP_NET_BIND_SERVICE",
        ErrorKind::AddrNotAvailable => "that address is not one of this machine's",
        _ => "this address cannot be used",
    };
    let ip = match error.kind() {
        ErrorKind::AddrNotAvailable => std::net::IpAddr::from([127, 0, 0, 1]),
        _ => addr.ip(),
    };
    let start = if addr.port() < 1024 { 5353 } else { addr.port().saturating_add(1) };
    let free = free_port(ip, start, udp_too, configured).map(|port| SocketAddr::new(ip, port));
    let mut hint = match free {
        Some(free) => format!("{cause}: try {option} {free}"),
        None => format!("{cause}: pick another address with {option}"),
    };
    if option == "--admin" {
        hint.push_str(" or --admin none");
    }
    hint
}

/// The first port from `start` (within 100) that is free on `ip` for TCP, and UDP too,
/// and none of the `configured` addresses' (not yet bound, or bound by this run).
fn free_port(ip: std::net::IpAddr, start: u16, udp_too: bool, configured: &[SocketAddr]) -> Option<u16> {
    (start..=start.saturating_add(100)).filter(|port| configured.iter().all(|c| c.port() != *port)).find(
        |&port| {
            let addr = SocketAddr::new(ip, port);
            std::net::TcpListener::bind(addr).is_ok() && (!udp_too || std::net::UdpSocket::bind(addr).is_ok())
        },
    )
}

/// `error` and its causes for a person: the message, then each cause that says something
/// the messages before it did not (one per line, under `Caused by:`).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.iter().any(|s| s.contains(&text)) {
            shown.push(text);
        }
        source = cause.source();
    }
    let mut out = shown[0].clone();
    if shown.len() > 1 {
        out.push_str("\n\nCaused by:");
        for cause in &shown[1..] {
            out.push_str("\n    ");
            out.push_str(cause);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Embeds(#[from] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer without detail")]
    struct Wraps(#[source] std::io::Error);

    #[test]
    fn report_shows_each_message_once_and_keeps_real_causes() {
        let io = || std::io::Error::other("disk on fire");
        assert_eq!(report(&Embeds(io())), "outer: disk on fire");
        assert_eq!(report(&Wraps(io())), "outer without detail\n\nCaused by:\n    disk on fire");
        let manifest = Error::Options(config::ConfigError::Invalid { message: "bad".into() });
        assert_eq!(report(&manifest), "bad");
    }

    #[test]
    fn a_port_in_use_suggests_a_free_port_of_the_same_option() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let hint = bind_hint("--admin", addr, &error, &[]);
        assert!(hint.contains("try --admin 127.0.0.1:"), "{hint}");
        assert!(hint.ends_with("or --admin none"), "{hint}");
        assert!(!hint.contains(&addr.to_string()), "suggests the port that failed: {hint}");
        let hint = bind_hint("--listen", addr, &error, &[]);
        assert!(hint.contains("try --listen 127.0.0.1:"), "{hint}");
        assert!(!hint.contains("--admin"), "{hint}");
        assert!(!hint.contains(&addr.to_string()), "{hint}");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let hint = bind_hint("--listen", "127.0.0.1:53".parse().unwrap(), &denied, &[]);
        assert!(hint.contains("CAP_NET_BIND_SERVICE") && hint.contains("try --listen 127.0.0.1:5"), "{hint}");
    }

    #[test]
    fn a_suggested_port_is_none_of_the_runs_other_addresses() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        // The next ports are what the run's other listeners ask for (as `--listen :5353
        // --external-listen :5354` would): not suggested, even while they are still free.
        let next = |n: u16| SocketAddr::new(addr.ip(), addr.port() + n);
        let hint = bind_hint("--listen", addr, &error, &[addr, next(1), next(2)]);
        assert!(hint.contains("try --listen 127.0.0.1:"), "{hint}");
        for n in 1..=2 {
            assert!(!hint.ends_with(&format!(":{}", addr.port() + n)), "{hint}");
        }
    }
}
