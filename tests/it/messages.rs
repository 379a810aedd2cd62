//! What a person at a terminal sees (issue 17): error messages printed once, bind
//! conflicts that name the right option and a way out, help examples one per line,
//! a forwarding loop refused at startup, a second Ctrl-C, `--listen localhost:PORT`,
//! and the query log's fields. Each test runs the real binary.

use crate::support;

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use support::DEMO;
use support::dns::*;
use support::process::{BIN, LoggedProcess};
use support::upstream::FakeUpstream;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_BACKTRACE", "1").stdin(Stdio::null()).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_error_prints_its_message_once() {
    let output = run(&["serve", "--manifests", "/no/such/dir", "--listen", "127.0.0.1:0", "--admin", "none"]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert_eq!(text.matches("/no/such/dir: no such file or directory").count(), 1, "{text}");
    assert_eq!(text.matches("Error:").count(), 1, "{text}");
    assert!(!text.contains("Caused by"), "nothing the message does not already say: {text}");
}

/// The port a suggestion `try OPTION IP:PORT` names.
fn suggested_port(text: &str, option: &str) -> u16 {
    let rest = text.split(&format!("try {option} 127.0.0.1:")).nth(1).unwrap_or_else(|| panic!("{text}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn a_busy_admin_port_names_admin_and_a_port_that_is_free() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let output = run(&["serve", "--manifests", DEMO, "--listen", "127.0.0.1:0", "--admin", &busy]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains(&format!("cannot listen on {busy} (--admin)")), "{text}");
    let port = suggested_port(&text, "--admin");
    assert_ne!(port.to_string(), busy.rsplit(':').next().unwrap(), "{text}");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "suggested port {port} is busy");
    assert!(text.contains("or --admin none"), "{text}");
    assert!(!text.contains("--listen 127.0.0.1"), "the DNS port is not the problem: {text}");
    assert_eq!(text.matches("Error:").count(), 1, "{text}");
    assert!(!text.contains("Caused by"), "{text}");
}

#[test]
fn a_busy_dns_port_names_listen_and_a_port_that_is_free() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let output = run(&["serve", "--manifests", DEMO, "--listen", &busy, "--admin", "none"]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains(&format!("cannot listen on {busy} (--listen)")), "{text}");
    let port = suggested_port(&text, "--listen");
    assert_ne!(port.to_string(), busy.rsplit(':').next().unwrap(), "{text}");
    assert!(!text.contains("--admin"), "{text}");
}

#[test]
fn help_examples_are_one_per_line() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["explain", "--help"],
        &["records", "--help"],
        &["check-config", "--help"],
    ] {
        let output = run(args);
        let text = String::from_utf8_lossy(&output.stdout);
        let examples: Vec<&str> =
            text.lines().filter(|l| l.starts_with("  headless-dns ") || l.starts_with("  dig @")).collect();
        assert!(examples.len() >= 2, "{args:?}: no examples:\n{text}");
        for line in text.lines() {
            let commands = line.matches("headless-dns ").count() + line.matches("dig @").count();
            assert!(commands <= 1, "{args:?}: commands run together: {line:?}");
        }
    }
    let text = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(text.lines().any(|l| l.starts_with("  dig @127.0.0.1 -p 5353 ")), "{text}");
}

fn resolv_conf(dir: &tempfile::TempDir, nameservers: &[&str]) -> String {
    let path = dir.path().join("resolv.conf");
    let text: String = nameservers.iter().map(|n| format!("nameserver {n}\n")).collect();
    std::fs::write(&path, format!("search default.svc.cluster.local\n{text}options ndots:5\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn forwarding_to_ourselves_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    // The README's sidecar: listening on 127.0.0.1:53 with a resolv.conf naming 127.0.0.1.
    let only_us = format!("resolv.conf:{}", resolv_conf(&dir, &["127.0.0.1"]));
    for listen in ["127.0.0.1:53", "0.0.0.0:53"] {
        let output = run(&[
            "serve",
            "--manifests",
            DEMO,
            "--listen",
            listen,
            "--admin",
            "none",
            "--forward",
            &only_us,
        ]);
        let text = stderr(&output);
        assert!(!output.status.success(), "{listen}: {text}");
        assert!(text.contains(&format!("127.0.0.1:53 (from --forward {only_us})")), "{listen}: {text}");
        assert!(text.contains("would forward to itself"), "{text}");
    }
    // Another nameserver remains: a warning for the dropped one, and it starts.
    let mixed = format!("resolv.conf:{}", resolv_conf(&dir, &["127.0.0.1", "192.0.2.53"]));
    let output = run(&["check-config", "--listen", "127.0.0.1:53", "--forward", &mixed]);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("not forwarding to 127.0.0.1:53") && text.contains("WARN"), "{text}");
    // Another port is another server.
    let output = run(&["check-config", "--listen", "127.0.0.1:5353", "--forward", &only_us]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("not forwarding"), "{}", stderr(&output));
}

/// A running server whose stderr lines are collected, and its DNS address.
struct Server {
    process: LoggedProcess,
    dns: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let process = LoggedProcess::spawn(args);
        let deadline = Instant::now() + Duration::from_secs(30);
        let dns = loop {
            let found = process
                .find(|l| l.contains("answering DNS"))
                .and_then(|l| l.split("addr=").nth(1)?.split_whitespace().next()?.parse::<SocketAddr>().ok());
            if let Some(dns) = found {
                break dns;
            }
            assert!(Instant::now() < deadline, "no DNS address logged: {:?}", process.lines());
            std::thread::sleep(Duration::from_millis(20));
        };
        Server { process, dns }
    }

    fn signal(&self, name: &str) {
        assert!(Command::new("kill").args([name, &self.process.pid()]).status().unwrap().success());
    }

    /// The first logged line containing every one of `words`, waiting up to 10 s.
    async fn logged(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.process.find(|l| words.iter().all(|w| l.contains(w))) {
                return line;
            }
            assert!(Instant::now() < deadline, "no line with {words:?} in {:?}", self.process.lines());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_second_ctrl_c_exits_at_once() {
    let mut server = Server::start(&[
        "serve",
        "--manifests",
        DEMO,
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "none",
        "--lameduck",
        "30",
    ]);
    wait_synced(server.dns).await;
    server.signal("-INT");
    server.logged(&["shutting down"]).await;
    let second = Instant::now();
    server.signal("-INT");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.process.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after the second SIGINT (lameduck 30 s)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(second.elapsed() < Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{status:?}");
    server.logged(&["second SIGINT"]).await;
}

#[tokio::test]
async fn listen_takes_a_host_name() {
    let server = Server::start(&["serve", "--manifests", DEMO, "--listen", "localhost:0", "--admin", "none"]);
    assert!(server.dns.ip().is_loopback(), "{}", server.dns);
    wait_synced(server.dns).await;
    let mut client = udp(server.dns).await;
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn the_query_log_says_the_rcode_in_one_word_and_where_the_answer_came_from() {
    let up = FakeUpstream::start().await;
    up.add(Record::from_rdata(name("www.example.test."), 300, RData::A(A::new(192, 0, 2, 1))));
    let upstream = up.addr.to_string();
    let server = Server::start(&[
        "serve",
        "--manifests",
        DEMO,
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "none",
        "--query-log",
        "--forward",
        &upstream,
        "--forward-cache",
        "100",
    ]);
    wait_synced(server.dns).await;
    let mut client = udp(server.dns).await;
    let r = query(&mut client, "nosuch.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    let line = server.logged(&["nosuch.default.svc.cluster.local"]).await;
    assert!(line.contains("rcode=NXDOMAIN") && line.contains("answered=local"), "{line}");
    for (i, expected) in ["answered=forwarded", "answered=cache"].into_iter().enumerate() {
        let r = query(&mut client, "www.example.test.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        let deadline = Instant::now() + Duration::from_secs(10);
        let lines = loop {
            let lines: Vec<String> =
                server.process.lines().into_iter().filter(|l| l.contains("www.example.test")).collect();
            if lines.len() > i || Instant::now() > deadline {
                break lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let line = lines.get(i).unwrap_or_else(|| panic!("query {i} not logged: {lines:?}"));
        assert!(line.contains("rcode=NOERROR") && line.contains(expected), "{line}");
    }
}
