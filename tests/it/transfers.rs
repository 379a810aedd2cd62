//! Zone transfers over real sockets: AXFR (several messages, exactly what `records` prints
//! and what queries answer), who may transfer, and kdig as a real client.

use crate::support;

use std::path::Path;
use std::time::Duration;

use headless_dns::zone::zonefile::ZoneFile;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use support::demo;
use support::dns::{query, raw_tcp, raw_udp, start, tcp};
use support::xfer::{big_service, records, request, transfer};

fn key(r: &Record) -> String {
    format!("{} {} {} {}", r.name.to_lowercase(), r.ttl, r.record_type(), r.data)
}

#[tokio::test]
async fn axfr_sends_exactly_the_served_records_in_several_messages() {
    let dir = tempfile::tempdir().unwrap();
    big_service(dir.path(), 600);
    let server = start(dir.path(), &["--transfer-allow", "127.0.0.0/8"]).await;
    let addr = server.dns_addrs[0];
    let messages = transfer(addr, &request("cluster.local.", RecordType::AXFR, None)).await;
    assert!(messages.len() > 1, "a 600-pod zone takes several messages, got {}", messages.len());
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative, "message {i} is authoritative");
        assert_eq!(m.metadata.id, 0x4242);
        assert_eq!(m.queries.len(), usize::from(i == 0), "the question is in the first message only");
    }
    let got = records(&messages);
    // SOA first and last, and between them exactly what `records` prints, in order.
    let zone = server.zones.load_full();
    let mut want = zone.zone_records(ZoneFile::Forward);
    assert_eq!(want[0].record_type(), RecordType::SOA);
    want.push(want[0].clone());
    assert_eq!(got.iter().map(key).collect::<Vec<_>>(), want.iter().map(key).collect::<Vec<_>>());
    // 600 A, 60 AAAA for the endpoints, the service's 660 and 600 SRV: not a trivial zone.
    assert!(got.len() > 1800, "{} records", got.len());
    // And every RRset is what a query answers.
    let mut client = tcp(addr).await;
    let mut rrsets: Vec<(String, RecordType)> =
        got[1..got.len() - 1].iter().map(|r| (r.name.to_string(), r.record_type())).collect();
    rrsets.dedup();
    for (owner, qtype) in rrsets.iter().step_by(7) {
        let live = query(&mut client, owner, *qtype).await;
        let mut live: Vec<String> = live.answers.iter().map(key).collect();
        let mut transferred: Vec<String> = got
            .iter()
            .filter(|r| r.name.to_string() == *owner && r.record_type() == *qtype)
            .map(key)
            .collect();
        if *qtype == RecordType::SOA {
            transferred.truncate(1);
        }
        live.sort();
        transferred.sort();
        assert_eq!(live, transferred, "{owner} {qtype}");
    }
    let metrics = server.metrics.render();
    assert!(metrics.contains("headless_dns_transfers_total{type=\"axfr\",result=\"full\"} 1"), "{metrics}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn reverse_zones_transfer_their_ptr_records() {
    let server = start(demo(), &["--transfer-allow", "127.0.0.1/32"]).await;
    let zone = server.zones.load_full();
    for (apex, which) in [("in-addr.arpa.", ZoneFile::InAddrArpa), ("ip6.arpa.", ZoneFile::Ip6Arpa)] {
        let got = records(&transfer(server.dns_addrs[0], &request(apex, RecordType::AXFR, None)).await);
        let mut want = zone.zone_records(which);
        want.push(want[0].clone());
        assert!(want.iter().any(|r| r.record_type() == RecordType::PTR), "{apex}: the demo has PTRs");
        assert_eq!(
            got.iter().map(key).collect::<Vec<_>>(),
            want.iter().map(key).collect::<Vec<_>>(),
            "{apex}"
        );
    }
    // Not the apex of one of our zones: NOTAUTH, no records.
    let m = transfer(server.dns_addrs[0], &request("svc.cluster.local.", RecordType::AXFR, None)).await;
    assert_eq!(m[0].metadata.response_code, ResponseCode::NotAuth);
    assert!(m[0].answers.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn transfers_are_refused_outside_transfer_allow_and_over_udp() {
    let axfr = request("cluster.local.", RecordType::AXFR, None);
    // No --transfer-allow: nobody, not even loopback.
    let server = start(demo(), &[]).await;
    let reply = Message::from_vec(&raw_tcp(server.dns_addrs[0], &axfr).await).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(reply.answers.is_empty());
    server.stop().await.unwrap();
    // Another network allowed: loopback still refused, on TCP and for IXFR too.
    let server = start(demo(), &["--transfer-allow", "10.0.0.0/8"]).await;
    for packet in [axfr.clone(), request("cluster.local.", RecordType::IXFR, Some(1))] {
        let reply = Message::from_vec(&raw_tcp(server.dns_addrs[0], &packet).await).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    }
    let metrics = server.metrics.render();
    for t in ["axfr", "ixfr"] {
        let row = format!("headless_dns_transfers_total{{type=\"{t}\",result=\"refused\"}} 1");
        assert!(metrics.contains(&row), "{row} in {metrics}");
    }
    server.stop().await.unwrap();
    // Allowed, but over UDP: refused (RFC 5936 §4.2).
    let server = start(demo(), &["--transfer-allow", "127.0.0.0/8"]).await;
    let reply = raw_udp(server.dns_addrs[0], &axfr, Duration::from_secs(2)).await.expect("an answer");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    // The same connection still answers ordinary queries after a transfer.
    let mut client = tcp(server.dns_addrs[0]).await;
    let r = query(&mut client, "web-0.nginx.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.answers.len(), 1);
    server.stop().await.unwrap();
}

/// kdig (Debian package knot-dnsutils, installed by scripts/test.sh) as a real client.
#[tokio::test]
async fn kdig_transfers_the_zone() {
    let dir = tempfile::tempdir().unwrap();
    big_service(dir.path(), 300);
    let server = start(dir.path(), &["--transfer-allow", "127.0.0.1/32"]).await;
    let addr = server.dns_addrs[0];
    let output = tokio::process::Command::new("kdig")
        .args([
            &format!("@{}", addr.ip()),
            "-p",
            &addr.port().to_string(),
            "+noall",
            "+answer",
            "AXFR",
            "cluster.local.",
        ])
        .output()
        .await
        .expect("kdig is installed (Debian package knot-dnsutils; scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with(';')).collect();
    let want = server.zones.load().zone_records(ZoneFile::Forward).len() + 1;
    assert_eq!(lines.len(), want, "{text}");
    assert!(lines[0].contains("SOA") && lines[lines.len() - 1].contains("SOA"));
    assert!(text.contains("big-299.big.ns.svc.cluster.local."));
    server.stop().await.unwrap();
}

/// A service `web` in namespace `ns` with pods web-0..web-4; `moved` gives web-2 another IP.
fn web(dir: &Path, web2: &str) {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {clusterIP: None, selector: {app: web}}\n",
    );
    for i in 0..5 {
        let ip = if i == 2 { web2.to_owned() } else { format!("10.0.0.{}", 10 + i) };
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i}, namespace: ns, labels: {{app: web}}}}\nspec: {{hostname: web-{i}, subdomain: web}}\nstatus: {{podIPs: [{{ip: {ip}}}], conditions: [{{type: Ready, status: \"True\"}}]}}\n"
        ));
    }
    std::fs::write(dir.join("web.yaml"), yaml).unwrap();
}

async fn kdig(addr: std::net::SocketAddr, args: &[&str]) -> Vec<String> {
    let output = tokio::process::Command::new("kdig")
        .args([&format!("@{}", addr.ip()), "-p", &addr.port().to_string(), "+noall", "+answer"])
        .args(args)
        .output()
        .await
        .expect("kdig is installed (Debian package knot-dnsutils; scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn kdig_ixfr_gets_the_changed_records_the_current_soa_or_the_whole_zone() {
    let dir = tempfile::tempdir().unwrap();
    web(dir.path(), "10.0.0.12");
    let server = start(dir.path(), &["--transfer-allow", "127.0.0.1/32"]).await;
    let addr = server.dns_addrs[0];
    let old = server.zones.load().serial();
    web(dir.path(), "10.0.9.99");
    support::dns::eventually(
        addr,
        "web-2.web.ns.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(10),
        |r| support::dns::addresses(r) == ["10.0.9.99"],
    )
    .await;
    let new = server.zones.load().serial();
    assert!(new != old);
    let soa = |s: u32| {
        format!(
            "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. {s} 7200 1800 86400 5"
        )
    };
    // From the old serial: exactly web-2's address, at its name, the service's and its
    // verified pod record's.
    let got = kdig(addr, &[&format!("IXFR={old}"), "cluster.local."]).await;
    assert_eq!(
        got,
        [
            soa(new),
            soa(old),
            "web.ns.svc.cluster.local. 5 IN A 10.0.0.12".into(),
            "web-2.web.ns.svc.cluster.local. 5 IN A 10.0.0.12".into(),
            "10-0-0-12.ns.pod.cluster.local. 5 IN A 10.0.0.12".into(),
            soa(new),
            "web.ns.svc.cluster.local. 5 IN A 10.0.9.99".into(),
            "web-2.web.ns.svc.cluster.local. 5 IN A 10.0.9.99".into(),
            "10-0-9-99.ns.pod.cluster.local. 5 IN A 10.0.9.99".into(),
            soa(new),
        ]
    );
    // The reverse zone: the old PTR goes, the new one comes.
    let got = kdig(addr, &[&format!("IXFR={old}"), "in-addr.arpa."]).await;
    assert!(
        got.contains(&"12.0.0.10.in-addr.arpa. 5 IN PTR web-2.web.ns.svc.cluster.local.".to_owned()),
        "{got:?}"
    );
    assert!(
        got.contains(&"99.9.0.10.in-addr.arpa. 5 IN PTR web-2.web.ns.svc.cluster.local.".to_owned()),
        "{got:?}"
    );
    assert_eq!(got.len(), 6, "{got:?}");
    // From the current serial: the SOA alone.
    assert_eq!(kdig(addr, &[&format!("IXFR={new}"), "cluster.local."]).await, [soa(new)]);
    // From a serial the journal does not know: the whole zone.
    let got = kdig(addr, &[&format!("IXFR={}", old.wrapping_sub(1000)), "cluster.local."]).await;
    assert_eq!(got.len(), server.zones.load().zone_records(ZoneFile::Forward).len() + 1);
    assert_eq!((got[0].clone(), got[got.len() - 1].clone()), (soa(new), soa(new)));
    assert!(got.contains(&"web-4.web.ns.svc.cluster.local. 5 IN A 10.0.0.14".to_owned()));
    // Over UDP: the SOA when current, else TC so the client retries over TCP.
    let udp = |serial| request("cluster.local.", RecordType::IXFR, Some(serial));
    let current =
        Message::from_vec(&raw_udp(addr, &udp(new), Duration::from_secs(2)).await.unwrap()).unwrap();
    assert_eq!(current.answers.iter().map(key).collect::<Vec<_>>().len(), 1);
    assert!(!current.metadata.truncation);
    let behind = Message::from_vec(&raw_udp(addr, &udp(old), Duration::from_secs(2)).await.unwrap()).unwrap();
    assert!(behind.metadata.truncation && behind.answers.is_empty());
    let metrics = server.metrics.render();
    for (result, n) in [("incremental", 3), ("current", 2), ("full", 1)] {
        let row = format!("headless_dns_transfers_total{{type=\"ixfr\",result=\"{result}\"}} {n}");
        assert!(metrics.contains(&row), "{row} in {metrics}");
    }
    assert!(metrics.contains("headless_dns_ixfr_journal_changes 1"), "{metrics}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_journal_ixfr_sends_the_whole_zone() {
    let dir = tempfile::tempdir().unwrap();
    web(dir.path(), "10.0.0.12");
    let server = start(dir.path(), &["--transfer-allow", "127.0.0.1/32", "--ixfr-journal", "0"]).await;
    let addr = server.dns_addrs[0];
    let old = server.zones.load().serial();
    web(dir.path(), "10.0.9.99");
    support::dns::eventually(
        addr,
        "web-2.web.ns.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(10),
        |r| support::dns::addresses(r) == ["10.0.9.99"],
    )
    .await;
    let got = records(&transfer(addr, &request("cluster.local.", RecordType::IXFR, Some(old))).await);
    let zone = server.zones.load_full();
    let mut want = zone.zone_records(ZoneFile::Forward);
    want.push(want[0].clone());
    assert_eq!(got.iter().map(key).collect::<Vec<_>>(), want.iter().map(key).collect::<Vec<_>>());
    server.stop().await.unwrap();
}

/// Receives one NOTIFY at `secondary` within `wait`: the message and where it came from.
async fn notified(
    secondary: &tokio::net::UdpSocket,
    wait: Duration,
) -> Option<(Message, std::net::SocketAddr)> {
    let mut buf = vec![0u8; 4096];
    let (n, from) = tokio::time::timeout(wait, secondary.recv_from(&mut buf)).await.ok()?.unwrap();
    Some((Message::from_vec(&buf[..n]).expect("a NOTIFY decodes"), from))
}

fn notify_serial(m: &Message) -> u32 {
    assert_eq!(m.metadata.op_code, hickory_proto::op::OpCode::Notify);
    assert_eq!(m.metadata.message_type, hickory_proto::op::MessageType::Query);
    assert!(m.metadata.authoritative);
    assert_eq!(m.queries[0].name().to_string(), "cluster.local.");
    assert_eq!(m.queries[0].query_type(), RecordType::SOA);
    match &m.answers[0].data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        other => panic!("not an SOA: {other:?}"),
    }
}

async fn acknowledge(secondary: &tokio::net::UdpSocket, m: &Message, to: std::net::SocketAddr) {
    let mut reply = m.clone();
    reply.metadata.message_type = hickory_proto::op::MessageType::Response;
    reply.answers.clear();
    secondary.send_to(&reply.to_vec().unwrap(), to).await.unwrap();
}

#[tokio::test]
async fn notify_is_retried_with_backoff_until_answered_then_sent_once_per_change() {
    let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = secondary.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    web(dir.path(), "10.0.0.12");
    let server = start(dir.path(), &["--notify", &target]).await;
    let serial = server.zones.load().serial();
    // Unanswered: sent again after 1 s, then after 2 s (backoff).
    let (first, _) = notified(&secondary, Duration::from_secs(3)).await.expect("a NOTIFY once serving");
    let t0 = std::time::Instant::now();
    assert_eq!(notify_serial(&first), serial);
    let (second, _) = notified(&secondary, Duration::from_secs(3)).await.expect("retried");
    let gap1 = t0.elapsed();
    let (third, from) = notified(&secondary, Duration::from_secs(5)).await.expect("retried again");
    let gap2 = t0.elapsed() - gap1;
    assert_ne!(first.metadata.id, second.metadata.id, "each try has its own ID");
    assert!(
        gap1 >= Duration::from_millis(900) && gap2 > gap1 + Duration::from_millis(500),
        "{gap1:?} then {gap2:?}"
    );
    acknowledge(&secondary, &third, from).await;
    // Answered: nothing more until the serial changes.
    assert!(notified(&secondary, Duration::from_millis(2500)).await.is_none(), "no NOTIFY without a change");
    // A change: a NOTIFY with the new serial, well within 2 s.
    let changed = std::time::Instant::now();
    web(dir.path(), "10.0.9.99");
    let (m, from) = notified(&secondary, Duration::from_secs(2)).await.expect("a NOTIFY after the change");
    assert!(changed.elapsed() < Duration::from_secs(2));
    let new = notify_serial(&m);
    assert!(new != serial && new == server.zones.load().serial());
    acknowledge(&secondary, &m, from).await;
    // A burst of changes: coalesced, at most one a second, the last with the last serial.
    for i in 0..6 {
        web(dir.path(), &format!("10.0.8.{i}"));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut times = Vec::new();
    let mut last = 0;
    while let Some((m, from)) = notified(&secondary, Duration::from_millis(2500)).await {
        times.push(std::time::Instant::now());
        last = notify_serial(&m);
        acknowledge(&secondary, &m, from).await;
    }
    assert!(!times.is_empty() && times.len() <= 3, "{} NOTIFYs for 6 changes in 0.9 s", times.len());
    assert!(times.windows(2).all(|w| w[1] - w[0] >= Duration::from_millis(900)), "at most one a second");
    assert_eq!(last, server.zones.load().serial(), "the last NOTIFY carries the last serial");
    let metrics = server.metrics.render();
    assert!(metrics.contains("headless_dns_notifies_total{result=\"timeout\"} 2"), "{metrics}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn soa_timers_are_configurable() {
    let server =
        start(demo(), &["--soa-refresh", "300", "--soa-retry", "60", "--soa-expire", "604800"]).await;
    let mut client = tcp(server.dns_addrs[0]).await;
    let r = query(&mut client, "cluster.local.", RecordType::SOA).await;
    let hickory_proto::rr::RData::SOA(soa) = &r.answers[0].data else { panic!("no SOA") };
    assert_eq!((soa.refresh, soa.retry, soa.expire), (300, 60, 604800));
    server.stop().await.unwrap();
}

/// kdig's exit status and everything it printed.
async fn kdig_raw(addr: std::net::SocketAddr, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new("kdig")
        .args([&format!("@{}", addr.ip()), "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .await
        .expect("kdig is installed (Debian package knot-dnsutils; scripts/test.sh installs it)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success() && !text.contains(";; ERROR"), text)
}

#[tokio::test]
async fn tsig_signed_transfers_verify_in_kdig_and_unsigned_or_wrong_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let zone_dir = dir.path().join("zone");
    std::fs::create_dir(&zone_dir).unwrap();
    big_service(&zone_dir, 600);
    // Two keys: one on the command line, one from a file (as a mounted Secret).
    let k256 = "dHJhbnNmZXIga2V5IGZvciB0ZXN0cywgMzIgYnl0ZXM=";
    let k512 = "YW5vdGhlciBrZXksIHRoaXMgb25lIGZvciBobWFjLXNoYTUxMiB0ZXN0cyEhISE=";
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("# a Secret\nother:hmac-sha512:{k512}\n")).unwrap();
    let server = start(
        &zone_dir,
        &[
            "--transfer-allow",
            "127.0.0.1/32",
            "--tsig-key",
            &format!("transfer:hmac-sha256:{k256}"),
            "--tsig-key-file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    let addr = server.dns_addrs[0];
    let records = server.zones.load().zone_records(ZoneFile::Forward).len() + 1;
    for key in [format!("hmac-sha256:transfer:{k256}"), format!("hmac-sha512:other:{k512}")] {
        // kdig checks the TSIG of every message of the answer (RFC 8945 §5.3.1).
        let (ok, text) = kdig_raw(addr, &["-y", &key, "AXFR", "cluster.local."]).await;
        assert!(ok, "{key}: {text}");
        let answers = text.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).count();
        // Every message carries a TSIG record, which kdig prints too.
        let messages: usize = text
            .lines()
            .find_map(|l| l.strip_prefix(";; Received ")?.split('(').nth(1)?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no message count in {text}"));
        assert!(messages > 1, "{text}");
        assert_eq!(answers, records + messages, "{key}: {text}");
        assert_eq!(text.matches("TSIG\thmac-").count(), messages, "one TSIG per message: {text}");
    }
    // kdig checks only the first message: hickory's verifier checks the chain.
    for (name, algorithm, secret) in [
        ("transfer.", hickory_proto::rr::rdata::tsig::TsigAlgorithm::HmacSha256, k256),
        ("other.", hickory_proto::rr::rdata::tsig::TsigAlgorithm::HmacSha512, k512),
    ] {
        let key = decode_base64(secret);
        let signer = hickory_proto::rr::TSigner::new(key, algorithm, name.parse().unwrap(), 300).unwrap();
        let request = Message::from_vec(&request("cluster.local.", RecordType::AXFR, None)).unwrap();
        let messages = support::xfer::signed_transfer(addr, request, &signer)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(messages.len() > 1);
        assert_eq!(support::xfer::records(&messages).len(), records_count(&server));
    }
    let serial = server.zones.load().serial();
    let (ok, text) = kdig_raw(
        addr,
        &["-y", &format!("hmac-sha256:transfer:{k256}"), &format!("IXFR={serial}"), "cluster.local."],
    )
    .await;
    assert!(ok && text.contains(&format!("{serial} 7200 1800 86400")), "{text}");
    // Unsigned: REFUSED. A wrong secret: NOTAUTH/BADSIG. An unknown key: NOTAUTH/BADKEY.
    let (ok, text) = kdig_raw(addr, &["AXFR", "cluster.local."]).await;
    assert!(!ok && text.contains("REFUSED"), "{text}");
    let (ok, text) =
        kdig_raw(addr, &["-y", "hmac-sha256:transfer:d3Jvbmcgc2VjcmV0", "AXFR", "cluster.local."]).await;
    assert!(!ok && text.contains("BADSIG"), "{text}");
    let (ok, text) =
        kdig_raw(addr, &["-y", &format!("hmac-sha256:stranger:{k256}"), "AXFR", "cluster.local."]).await;
    assert!(!ok && text.contains("BADKEY"), "{text}");
    let raw =
        Message::from_vec(&raw_tcp(addr, &request("cluster.local.", RecordType::AXFR, None)).await).unwrap();
    assert_eq!(raw.metadata.response_code, ResponseCode::Refused);
    let metrics = server.metrics.render();
    assert!(metrics.contains("headless_dns_transfers_total{type=\"axfr\",result=\"badsig\"} 2"), "{metrics}");
    assert!(!metrics.contains(k256) && !metrics.contains(k512));
    server.stop().await.unwrap();
}

fn records_count(server: &headless_dns::app::Running) -> usize {
    server.zones.load().zone_records(ZoneFile::Forward).len() + 1
}

/// Standard base64, for the test keys.
fn decode_base64(text: &str) -> Vec<u8> {
    base64::Engine::decode(&headless_dns::xfer::tsig::BASE64, text).expect("a test key is base64")
}
