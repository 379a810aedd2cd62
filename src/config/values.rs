//! Option values that are more than a string: `--listen` (an address or a host name),
//! `--admin` (an address or `none`), `--notify` (an address, port 53 by default) and
//! `--tsig-key` (whose errors must not repeat the secret), with how `check-config` prints
//! them.

use std::net::{IpAddr, SocketAddr};

/// A `--notify` target: `ADDR:PORT`, `[IPv6]:PORT`, or an address alone (port 53).
pub(super) fn parse_notify(value: &str) -> Result<SocketAddr, String> {
    let addr = value
        .parse::<SocketAddr>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{value:?} is not ADDR, ADDR:PORT or [IPv6]:PORT"))?;
    if addr.port() == 0 {
        return Err("port 0 cannot receive a NOTIFY: give the secondary's port (53 when left out)".into());
    }
    if addr.ip().is_unspecified() {
        return Err(format!("{} is no one's address: give the secondary's", addr.ip()));
    }
    Ok(addr)
}

/// A network in CIDR notation (`--admin-allow`, `--transfer-allow`, `--allow-from`): the
/// prefix length in range, and no host bits set (`10.0.0.1/8` is refused, naming
/// `10.0.0.0/8`: a mistyped address would otherwise allow a whole network silently).
pub(super) fn parse_network(value: &str) -> Result<ipnet::IpNet, String> {
    let Some((address, prefix)) = value.split_once('/') else {
        return Err(format!("{value:?} is not a network in CIDR notation (ADDRESS/PREFIX, e.g. 10.0.0.0/8)"));
    };
    let ip: IpAddr = address.parse().map_err(|_| format!("{address:?} is not an IP address"))?;
    let most = if ip.is_ipv4() { 32 } else { 128 };
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let length: u8 = prefix.parse().ok().filter(|l| *l <= most).ok_or_else(|| {
        format!("the prefix length {prefix:?} is not between 0 and {most} for an {family} network")
    })?;
    let net = ipnet::IpNet::new(ip, length).map_err(|e| e.to_string())?;
    if net.network() != ip {
        return Err(format!("{value} has host bits set: the network is {}", net.trunc()));
    }
    Ok(net)
}

/// A domain name (`--zone`, `--multicluster-zone`), lower-cased: each label 1 to 63 bytes
/// of letters, digits and `-`, the whole at most 253.
pub(super) fn parse_domain(value: &str) -> Result<String, String> {
    let name = value.strip_suffix('.').unwrap_or(value).to_ascii_lowercase();
    if name.is_empty() {
        return Err("a domain name is needed (the root zone cannot be served)".into());
    }
    if name.len() > 253 {
        return Err(format!("{value:?} is longer than a domain name can be (253 bytes)"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("{value:?} has an empty label (two dots in a row, or a leading dot)"));
        }
        if label.len() > 63 {
            return Err(format!("{value:?} has a label longer than 63 bytes: {label:?}"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "{value:?} has the label {label:?}: labels are letters, digits and '-', not starting or ending with '-'"
            ));
        }
    }
    Ok(name)
}

/// One `--listen` value: an address, or a host name and the addresses it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    /// What was given.
    pub given: String,
    /// The addresses to bind.
    pub addrs: Vec<SocketAddr>,
}

/// Parses `ADDR:PORT`, `[IPv6]:PORT` or `HOST:PORT`. A host name is resolved once, at
/// startup; of a name's loopback addresses only those this machine has are kept (no ::1
/// when IPv6 is off), and a name with no usable address is an error.
pub(super) fn parse_listen(value: &str) -> Result<ListenAddr, String> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(ListenAddr { given: value.to_owned(), addrs: vec![addr] });
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err("expected ADDR:PORT, [IPv6]:PORT or HOST:PORT, e.g. 127.0.0.1:5353".into());
    };
    let port: u16 = port.parse().map_err(|_| format!("{port:?} is not a port number"))?;
    if host.is_empty() || host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
        return Err("expected ADDR:PORT, [IPv6]:PORT or HOST:PORT, e.g. 127.0.0.1:5353".into());
    }
    let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| format!("cannot resolve host name {host:?}: {e}"))?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in resolved {
        let usable = !addr.ip().is_loopback() || std::net::UdpSocket::bind((addr.ip(), 0)).is_ok();
        if usable && !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(format!("host name {host:?} has no address this machine can listen on"));
    }
    Ok(ListenAddr { given: value.to_owned(), addrs })
}

impl serde::Serialize for ListenAddr {
    /// As given (`check-config` shows the resolved addresses, see [`ServeArgs::listen_addrs`]).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.given)
    }
}

/// The admin server's address, or off (`none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminAddr(pub Option<SocketAddr>);

pub(super) fn parse_admin(value: &str) -> Result<AdminAddr, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(AdminAddr(None));
    }
    value.parse().map(|a| AdminAddr(Some(a))).map_err(|e| format!("{e}; expected ADDR:PORT or none"))
}

impl serde::Serialize for AdminAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(addr) => s.serialize_str(&addr.to_string()),
            None => s.serialize_str("none"),
        }
    }
}

/// `--external-listen`: ADDR:PORT as `--listen` takes it, or an address alone (port 53).
pub(super) fn parse_external_listen(value: &str) -> Result<ListenAddr, String> {
    match value.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => Ok(ListenAddr { given: value.to_owned(), addrs: vec![SocketAddr::new(ip, 53)] }),
        Err(_) => parse_listen(value),
    }
}

/// A name server of the external zones (`--external-nameserver NAME[=ADDRESS]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nameserver {
    /// As given.
    pub given: String,
    /// The name, lower-cased and fully qualified.
    pub name: hickory_proto::rr::Name,
    /// Its address, when given (glue).
    pub address: Option<IpAddr>,
}

impl serde::Serialize for Nameserver {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.given)
    }
}

/// `--external-nameserver NAME[=ADDRESS]`.
pub(super) fn parse_nameserver(value: &str) -> Result<Nameserver, String> {
    let (name, address) = match value.split_once('=') {
        Some((name, address)) => {
            let ip = address.parse::<IpAddr>().map_err(|_| format!("{address:?} is not an IP address"))?;
            (name, Some(ip))
        }
        None => (value, None),
    };
    let name = parse_domain(name)?;
    let mut parsed = hickory_proto::rr::Name::from_ascii(&name).map_err(|e| e.to_string())?.to_lowercase();
    parsed.set_fqdn(true);
    Ok(Nameserver { given: value.to_owned(), name: parsed, address })
}

/// `--tsig-key NAME:ALGORITHM:SECRET`. clap's own error for a value its parser refuses
/// quotes the value, secret and all, on the terminal and in the pod's log; this parser's
/// error shows it as `NAME:ALGORITHM:<secret>` and says what is wrong with the key.
#[derive(Clone)]
pub(super) struct TsigKeyParser;

impl clap::builder::TypedValueParser for TsigKeyParser {
    type Value = crate::xfer::tsig::TsigKey;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let spec = value.to_string_lossy();
        spec.parse().map_err(|reason: String| {
            let arg = arg.map_or_else(|| "--tsig-key".to_owned(), ToString::to_string);
            let shown = crate::xfer::tsig::TsigKey::redact(&spec);
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value '{shown}' for '{arg}': {reason}\n"),
            )
            .with_cmd(cmd)
        })
    }
}
