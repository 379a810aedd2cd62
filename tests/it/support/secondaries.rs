//! Real secondaries for the transfer tests — Knot (`knotd`), NSD and BIND (`named`), from
//! Debian's `knot`, `nsd` and `bind9` packages (scripts/test.sh installs them) — with the
//! configurations docs/transfers.md gives, on unprivileged ports in a temporary directory.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::dns::udp;

/// The TSIG key of the signed variants (`transfer`, hmac-sha256).
pub const SECRET: &str = "c2Vjb25kYXJpZXMgdGVzdCBrZXksIDMyIGJ5dGVzISE=";

/// Writes a secondary's configuration into a directory; returns its arguments and log file.
pub type Configure = fn(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf);

/// [`Configure`] for a secondary of `zone` (e.g. an external zone, `example.com`).
pub type ConfigureZone =
    fn(dir: &Path, port: u16, primary: SocketAddr, zone: &str, tsig: bool) -> (Vec<String>, PathBuf);

/// A secondary: what to run, its configuration, and how its log says what happened.
pub struct Secondary {
    pub program: &'static str,
    pub package: &'static str,
    /// Writes the configuration into `dir` for a secondary on `port` of our server at
    /// `primary`; returns the arguments to start it in the foreground and its log file.
    /// With `tsig`, transfers and NOTIFYs are signed with the key `transfer` ([`SECRET`]).
    pub configure: Configure,
    /// The same for a secondary of another zone than cluster.local.
    pub configure_zone: ConfigureZone,
    /// What its log says when it receives a NOTIFY, and when it completes an IXFR (NSD
    /// and BIND do not name the transfer type at info level: our metrics say it).
    pub notify_line: &'static str,
    pub ixfr_line: Option<&'static str>,
}

pub fn knot(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
    knot_zone(dir, port, primary, "cluster.local", tsig)
}

pub fn knot_zone(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig: bool,
) -> (Vec<String>, PathBuf) {
    super::xfer::knot_secondary(dir, port, primary, zone, tsig.then_some(SECRET))
}

/// Knot signing what it receives (`dnssec-signing: on`, its default policy: ECDSA P-256
/// KSK and ZSK, NSEC), its keys under `dir`: the signing secondary of a hidden primary.
pub fn knot_signing(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig: bool,
) -> (Vec<String>, PathBuf) {
    let signing = "    dnssec-signing: on\n";
    super::xfer::knot_secondary_with(dir, port, primary, zone, tsig.then_some(SECRET), signing)
}

pub fn nsd(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
    nsd_zone(dir, port, primary, "cluster.local", tsig)
}

pub fn nsd_zone(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig: bool,
) -> (Vec<String>, PathBuf) {
    let d = dir.display();
    let (ip, pport) = (primary.ip(), primary.port());
    let (keys, key) = match tsig {
        true => (
            format!("key:\n    name: transfer\n    algorithm: hmac-sha256\n    secret: \"{SECRET}\"\n"),
            "transfer",
        ),
        false => (String::new(), "NOKEY"),
    };
    let conf = format!(
        r#"{keys}server:
    ip-address: 127.0.0.1@{port}
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    username: ""
    chroot: ""
    database: ""
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    xfrdir: "{d}"
    logfile: "{d}/nsd.log"
    verbosity: 2
    server-count: 1
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {zone}
    zonefile: "{zone}.zone"
    allow-notify: {ip} {key}
    request-xfr: {ip}@{pport} {key}
"#
    );
    std::fs::write(dir.join("nsd.conf"), conf).unwrap();
    (vec!["-d".into(), "-c".into(), format!("{d}/nsd.conf")], dir.join("nsd.log"))
}

pub fn bind(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
    bind_zone(dir, port, primary, "cluster.local", tsig)
}

pub fn bind_zone(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zone: &str,
    tsig: bool,
) -> (Vec<String>, PathBuf) {
    let d = dir.display();
    let (ip, pport) = (primary.ip(), primary.port());
    let (keys, key) = match tsig {
        true => (
            format!("key \"transfer\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n"),
            " key \"transfer\"",
        ),
        false => (String::new(), ""),
    };
    let conf = format!(
        r#"{keys}options {{
    directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{d}/named.pid";
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
logging {{
    channel log {{ file "{d}/named.log"; severity info; print-time yes; print-category yes; }};
    category default {{ log; }};
    category xfer-in {{ log; }};
    category notify {{ log; }};
}};
zone "{zone}" {{
    type secondary;
    primaries {{ {ip} port {pport}{key}; }};
    max-records-per-type 0;
    file "{zone}.db";
}};
"#
    );
    std::fs::write(dir.join("named.conf"), conf).unwrap();
    (vec!["-f".into(), "-c".into(), format!("{d}/named.conf")], dir.join("named.log"))
}

pub fn counter(metrics: &str, row: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(row).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {row} in {metrics}"))
}

/// The IXFRs answered with differences, from a metrics page.
pub fn incremental_transfers(metrics: &str) -> u64 {
    counter(metrics, "headless_dns_transfers_total{type=\"ixfr\",result=\"incremental\"}")
}

/// The transfers answered with the whole zone (AXFRs, and IXFRs answered in full), from a
/// metrics page.
pub fn full_transfers(metrics: &str) -> u64 {
    counter(metrics, "headless_dns_transfers_total{type=\"axfr\",result=\"full\"}")
        + counter(metrics, "headless_dns_transfers_total{type=\"ixfr\",result=\"full\"}")
}

/// The serial of cluster.local's SOA at `addr`, if it answers it.
pub async fn soa_serial(addr: SocketAddr) -> Option<u32> {
    soa_serial_of(addr, "cluster.local.").await
}

/// The serial of `zone`'s SOA at `addr`, if it answers it.
pub async fn soa_serial_of(addr: SocketAddr, zone: &str) -> Option<u32> {
    let mut client = udp(addr).await;
    let r = tokio::time::timeout(
        Duration::from_secs(1),
        hickory_net::client::ClientHandle::query(
            &mut client,
            super::dns::name(zone),
            hickory_proto::rr::DNSClass::IN,
            RecordType::SOA,
        ),
    )
    .await
    .ok()?
    .ok()?;
    match r.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) if r.metadata.response_code == ResponseCode::NoError => Some(soa.serial),
        _ => None,
    }
}

pub fn knot_secondary() -> Secondary {
    Secondary {
        program: "knotd",
        package: "knot",
        configure: knot,
        configure_zone: knot_zone,
        notify_line: "notify, incoming",
        ixfr_line: Some("IXFR, incoming"),
    }
}

pub fn nsd_secondary() -> Secondary {
    Secondary {
        program: "nsd",
        package: "nsd",
        configure: nsd,
        configure_zone: nsd_zone,
        notify_line: "notify for cluster.local. from 127.0.0.1",
        ixfr_line: None,
    }
}

pub fn bind_secondary() -> Secondary {
    Secondary {
        program: "named",
        package: "bind9",
        configure: bind,
        configure_zone: bind_zone,
        notify_line: "received notify for zone 'cluster.local'",
        ixfr_line: None,
    }
}

/// Knot as the signing secondary (`dnssec-signing: on`) of a zone other than cluster.local.
pub fn knot_signing_secondary() -> Secondary {
    Secondary { configure_zone: knot_signing, ..knot_secondary() }
}

/// A secondary started on a free port for our server at `primary`, with its state in `dir`.
pub struct Running {
    /// Its address.
    pub addr: SocketAddr,
    child: tokio::process::Child,
    state: PathBuf,
    log: PathBuf,
    /// Its name, for messages.
    pub who: &'static str,
    /// The zone whose serial [`Running::wait_for_serial`] waits for (fully qualified).
    zone: String,
}

impl Running {
    /// Starts `secondary` of cluster.local on `port` (see [`Secondary::configure`]).
    pub fn start(secondary: &Secondary, dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> Self {
        let configure = |state: &Path| (secondary.configure)(state, port, primary, tsig);
        Self::spawn(secondary.program, secondary.package, "cluster.local.", dir, port, configure)
    }

    /// Starts `secondary` of `zone` on `port` (see [`Secondary::configure_zone`]).
    pub fn start_zone(
        secondary: &Secondary,
        zone: &str,
        dir: &Path,
        port: u16,
        primary: SocketAddr,
        tsig: bool,
    ) -> Self {
        let configure = |state: &Path| (secondary.configure_zone)(state, port, primary, zone, tsig);
        Self::spawn(secondary.program, secondary.package, zone, dir, port, configure)
    }

    /// Runs `program` (from Debian package `package`) listening on 127.0.0.1 `port` for
    /// `zone`, configured by `configure` in `dir/<program>` (which returns its arguments
    /// and log file).
    pub fn spawn(
        program: &'static str,
        package: &str,
        zone: &str,
        dir: &Path,
        port: u16,
        configure: impl FnOnce(&Path) -> (Vec<String>, PathBuf),
    ) -> Self {
        let who = program;
        let state = dir.join(who);
        std::fs::create_dir_all(&state).unwrap();
        let (args, log) = configure(&state);
        let child = tokio::process::Command::new(program)
            .args(&args)
            .stdout(Stdio::from(std::fs::File::create(state.join("stdout")).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(state.join("stderr")).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{who} is installed (Debian package {package}; scripts/test.sh installs it): {e}")
            });
        let mut zone = zone.to_owned();
        if !zone.ends_with('.') {
            zone.push('.');
        }
        Self { addr: ([127, 0, 0, 1], port).into(), child, state, log, who, zone }
    }

    /// Its log, standard output and standard error.
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}{}", read(&self.log), read(&self.state.join("stdout")), read(&self.state.join("stderr")))
    }

    /// Waits until it serves `serial` in its zone (20 s at most).
    pub async fn wait_for_serial(&mut self, serial: u32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while soa_serial_of(self.addr, &self.zone).await != Some(serial) {
            assert!(Instant::now() < deadline, "{} never loaded serial {serial}:\n{}", self.who, self.logs());
            self.assert_running();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics with its logs if it has exited.
    pub fn assert_running(&mut self) {
        assert!(self.child.try_wait().unwrap().is_none(), "{} exited:\n{}", self.who, self.logs());
    }

    /// Stops it.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// The rcode and the answer records (sorted, as text with TTLs) a server gives.
pub async fn answer(addr: SocketAddr, name: &str, qtype: RecordType) -> (ResponseCode, Vec<String>) {
    let mut client = udp(addr).await;
    let m = super::dns::query(&mut client, name, qtype).await;
    let mut v: Vec<String> = m.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
    v.sort();
    (m.metadata.response_code, v)
}

/// Writes an `unbound` configuration into `dir` (Debian package `unbound`): a validating
/// resolver on 127.0.0.1 `port` that asks the authoritative server at `stub` for `zone`
/// and trusts `zone`'s key `trust_anchor` (a DNSKEY or DS record, presentation format),
/// nothing else: no root hints are needed, and bogus answers are SERVFAIL. Returns its
/// arguments (foreground) and log file.
pub fn unbound_validator(
    dir: &Path,
    port: u16,
    zone: &str,
    stub: SocketAddr,
    trust_anchor: &str,
) -> (Vec<String>, PathBuf) {
    let d = dir.display();
    let conf = format!(
        r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    log-servfail: yes
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
    val-permissive-mode: no
    trust-anchor: "{trust_anchor}"
remote-control:
    control-enable: no
stub-zone:
    name: "{zone}"
    stub-addr: {ip}@{sport}
"#,
        ip = stub.ip(),
        sport = stub.port(),
    );
    std::fs::write(dir.join("unbound.conf"), conf).unwrap();
    (vec!["-d".into(), "-c".into(), format!("{d}/unbound.conf")], dir.join("unbound.log"))
}

/// Asks `addr` over TCP with the DO and AD bits set (and RD, for a resolver): the whole
/// response, RRSIGs and denial proofs included, and the AD bit a validator sets. `None`
/// when nothing listens there or no answer came within 5 s.
pub async fn dnssec_query(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
) -> Option<hickory_proto::op::Message> {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use tokio::io::AsyncWriteExt;
    let mut message = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.metadata.authentic_data = true;
    message.queries.push(Query::query(super::dns::name(name), qtype));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(4096);
    message.edns = Some(edns);
    let packet = message.to_vec().unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&packet);
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(&framed).await.ok()?;
        Some(super::dns::read_frame(&mut stream).await)
    };
    let reply = tokio::time::timeout(Duration::from_secs(5), exchange).await.ok()??;
    Some(Message::from_vec(&reply).unwrap_or_else(|e| panic!("{name} {qtype} from {addr}: {e}")))
}
