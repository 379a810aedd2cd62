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

/// A secondary: what to run, its configuration, and how its log says what happened.
pub struct Secondary {
    pub program: &'static str,
    pub package: &'static str,
    /// Writes the configuration into `dir` for a secondary on `port` of our server at
    /// `primary`; returns the arguments to start it in the foreground and its log file.
    /// With `tsig`, transfers and NOTIFYs are signed with the key `transfer` ([`SECRET`]).
    pub configure: Configure,
    /// What its log says when it receives a NOTIFY, and when it completes an IXFR (NSD
    /// and BIND do not name the transfer type at info level: our metrics say it).
    pub notify_line: &'static str,
    pub ixfr_line: Option<&'static str>,
}

pub fn knot(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
    super::xfer::knot_secondary(dir, port, primary, "cluster.local", tsig.then_some(SECRET))
}

pub fn nsd(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
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
    name: cluster.local
    zonefile: "cluster.local.zone"
    allow-notify: {ip} {key}
    request-xfr: {ip}@{pport} {key}
"#
    );
    std::fs::write(dir.join("nsd.conf"), conf).unwrap();
    (vec!["-d".into(), "-c".into(), format!("{d}/nsd.conf")], dir.join("nsd.log"))
}

pub fn bind(dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> (Vec<String>, PathBuf) {
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
zone "cluster.local" {{
    type secondary;
    primaries {{ {ip} port {pport}{key}; }};
    max-records-per-type 0;
    file "cluster.local.db";
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

pub async fn soa_serial(addr: SocketAddr) -> Option<u32> {
    let mut client = udp(addr).await;
    let r = tokio::time::timeout(
        Duration::from_secs(1),
        hickory_net::client::ClientHandle::query(
            &mut client,
            super::dns::name("cluster.local."),
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
        notify_line: "notify, incoming",
        ixfr_line: Some("IXFR, incoming"),
    }
}

pub fn nsd_secondary() -> Secondary {
    Secondary {
        program: "nsd",
        package: "nsd",
        configure: nsd,
        notify_line: "notify for cluster.local. from 127.0.0.1",
        ixfr_line: None,
    }
}

pub fn bind_secondary() -> Secondary {
    Secondary {
        program: "named",
        package: "bind9",
        configure: bind,
        notify_line: "received notify for zone 'cluster.local'",
        ixfr_line: None,
    }
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
}

impl Running {
    /// Starts `secondary` on `port` (see [`Secondary::configure`]).
    pub fn start(secondary: &Secondary, dir: &Path, port: u16, primary: SocketAddr, tsig: bool) -> Self {
        let who = secondary.program;
        let state = dir.join(who);
        std::fs::create_dir_all(&state).unwrap();
        let (args, log) = (secondary.configure)(&state, port, primary, tsig);
        let child = tokio::process::Command::new(secondary.program)
            .args(&args)
            .stdout(Stdio::from(std::fs::File::create(state.join("stdout")).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(state.join("stderr")).unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{who} is installed (Debian package {}; scripts/test.sh installs it): {e}",
                    secondary.package
                )
            });
        Self { addr: ([127, 0, 0, 1], port).into(), child, state, log, who }
    }

    /// Its log, standard output and standard error.
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}{}", read(&self.log), read(&self.state.join("stdout")), read(&self.state.join("stderr")))
    }

    /// Waits until it serves `serial` (20 s at most).
    pub async fn wait_for_serial(&mut self, serial: u32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while soa_serial(self.addr).await != Some(serial) {
            assert!(Instant::now() < deadline, "{} never loaded serial {serial}:\n{}", self.who, self.logs());
            assert!(self.child.try_wait().unwrap().is_none(), "{} exited:\n{}", self.who, self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
