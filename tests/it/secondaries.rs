//! Real secondaries — Knot (`knotd`), NSD and BIND (`named`), from Debian's `knot`,
//! `nsd` and `bind9` packages (scripts/test.sh installs them) — started by the tests on
//! unprivileged ports in a temporary directory, with the configurations the README
//! gives. Each transfers the zone, answers every name as we do, and after a pod is
//! rescheduled serves its new address within 2 s, having received a NOTIFY and made an
//! IXFR (our metrics and its log say so), not an AXFR.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use headless_dns::zone::zonefile::ZoneFile;
use hickory_proto::rr::RecordType;
use support::dns::{addresses, query, start, udp};
use support::secondaries::{
    SECRET, Secondary, bind_secondary, counter, full_transfers, incremental_transfers, knot_secondary,
    nsd_secondary, soa_serial,
};

/// A service `web` (named port `http`) in namespace `ns` with pods web-0..web-4, web-4
/// dual-stack; `web2` is web-2's address. With `bulk`, a service `bulk` with that many
/// pods too, so that a transfer takes several messages.
fn manifests(dir: &Path, web2: &str, bulk: usize) {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec: {clusterIP: None, selector: {app: web}, ports: [{name: http, port: 80}]}\n",
    );
    for i in 0..5 {
        let ip = if i == 2 { web2.to_owned() } else { format!("10.0.0.{}", 10 + i) };
        let ips =
            if i == 4 { format!("[{{ip: {ip}}}, {{ip: \"fd00::4\"}}]") } else { format!("[{{ip: {ip}}}]") };
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i}, namespace: ns, labels: {{app: web}}}}\nspec: {{hostname: web-{i}, subdomain: web}}\nstatus: {{podIPs: {ips}, conditions: [{{type: Ready, status: \"True\"}}]}}\n"
        ));
    }
    for i in 0..bulk {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: bulk-{i}, namespace: ns, labels: {{app: bulk}}}}\nspec: {{hostname: bulk-{i}, subdomain: bulk}}\nstatus: {{podIPs: [{{ip: 10.1.{}.{}}}], conditions: [{{type: Ready, status: \"True\"}}]}}\n",
            i / 200,
            i % 200 + 1
        ));
    }
    if bulk > 0 {
        yaml.push_str("---\napiVersion: v1\nkind: Service\nmetadata: {name: bulk, namespace: ns}\nspec: {clusterIP: None, selector: {app: bulk}}\n");
    }
    std::fs::write(dir.join("web.yaml"), yaml).unwrap();
}

/// Every (name, type) of the zone, plus names that do not exist, asked of both servers:
/// the same response code and the same answer records.
async fn same_answers(ours: SocketAddr, theirs: SocketAddr, zone: &headless_dns::zone::Zone, who: &str) {
    let mut questions: Vec<(String, RecordType)> =
        zone.zone_queries(ZoneFile::Forward).into_iter().map(|(n, t)| (n.to_string(), t)).collect();
    questions.push(("web-9.web.ns.svc.cluster.local.".into(), RecordType::A));
    questions.push(("nothing.cluster.local.".into(), RecordType::A));
    let (mut a, mut b) = (udp(ours).await, udp(theirs).await);
    for (name, qtype) in questions {
        let (x, y) = (query(&mut a, &name, qtype).await, query(&mut b, &name, qtype).await);
        let text = |m: &hickory_proto::op::Message| {
            let mut v: Vec<String> =
                m.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
            v.sort();
            v
        };
        assert_eq!(x.metadata.response_code, y.metadata.response_code, "{who}: {name} {qtype}");
        assert_eq!(text(&x), text(&y), "{who}: {name} {qtype}");
    }
}

async fn follows(secondary: Secondary, tsig: bool) {
    let who = secondary.program;
    let bulk = if tsig { 600 } else { 0 };
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("manifests");
    std::fs::create_dir(&files).unwrap();
    manifests(&files, "10.0.0.12", bulk);
    let port = support::ports::free_port();
    let their_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let notify = their_addr.to_string();
    let key = format!("transfer:hmac-sha256:{SECRET}");
    let mut args = vec!["--transfer-allow", "127.0.0.1/32", "--notify", &notify];
    if tsig {
        args.extend(["--tsig-key", &key]);
    }
    let server = start(&files, &args).await;
    let ours = server.dns_addrs[0];
    let state = dir.path().join(who);
    std::fs::create_dir(&state).unwrap();
    let (args, log) = (secondary.configure)(&state, port, ours, tsig);
    let mut child = tokio::process::Command::new(secondary.program)
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
    let logs = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}{}", read(&log), read(&state.join("stdout")), read(&state.join("stderr")))
    };

    // The initial transfer.
    let serial = server.zones.load().serial();
    let deadline = Instant::now() + Duration::from_secs(20);
    while soa_serial(their_addr).await != Some(serial) {
        assert!(Instant::now() < deadline, "{who} never loaded serial {serial}:\n{}", logs());
        assert!(child.try_wait().unwrap().is_none(), "{who} exited:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    same_answers(ours, their_addr, server.zones.load().cluster(), who).await;
    // Our NOTIFYs are answered (the first ones may have gone out before it listened).
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter(&server.metrics.render(), "headless_dns_notifies_total{result=\"answered\"}") == 0 {
        assert!(Instant::now() < deadline, "{who} never answered a NOTIFY:\n{}", logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = server.metrics.render();

    // A pod is rescheduled: served by the secondary within 2 s of our serving it.
    manifests(&files, "10.0.9.99", bulk);
    let name = "web-2.web.ns.svc.cluster.local.";
    support::dns::eventually(ours, name, RecordType::A, Duration::from_secs(10), |r| {
        addresses(r) == ["10.0.9.99"]
    })
    .await;
    let changed = Instant::now();
    let mut client = udp(their_addr).await;
    loop {
        if addresses(&query(&mut client, name, RecordType::A).await) == ["10.0.9.99"] {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "{who} still serves the old address:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = server.metrics.render();
    assert!(
        incremental_transfers(&after) > incremental_transfers(&before),
        "{who} made no IXFR:\n{}",
        logs()
    );
    assert_eq!(
        full_transfers(&after),
        full_transfers(&before),
        "{who} transferred the whole zone again:\n{}",
        logs()
    );
    let log = logs();
    assert!(log.contains(secondary.notify_line), "{who}'s log has no {:?}:\n{log}", secondary.notify_line);
    if let Some(line) = secondary.ixfr_line {
        assert!(log.contains(line), "{who}'s log has no {line:?}:\n{log}");
    }
    same_answers(ours, their_addr, server.zones.load().cluster(), who).await;
    if tsig {
        // The first transfer took several messages, each signed and checked.
        assert!(counter(&after, "headless_dns_transfers_total{type=\"axfr\",result=\"badsig\"}") == 0);
        assert!(
            server.zones.load().zone_records(ZoneFile::Forward).len() > 1200,
            "more than one 16 KiB message"
        );
    }

    child.kill().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn knot_follows_with_notify_and_ixfr() {
    follows(knot_secondary(), false).await;
}

#[tokio::test]
async fn nsd_follows_with_notify_and_ixfr() {
    follows(nsd_secondary(), false).await;
}

#[tokio::test]
async fn bind_follows_with_notify_and_ixfr() {
    follows(bind_secondary(), false).await;
}

/// The same with TSIG: a 600-pod zone whose first transfer takes several signed
/// messages, each checked by the secondary; NOTIFYs signed and required to be.
#[tokio::test]
async fn knot_follows_with_tsig() {
    follows(knot_secondary(), true).await;
}

#[tokio::test]
async fn nsd_follows_with_tsig() {
    follows(nsd_secondary(), true).await;
}

#[tokio::test]
async fn bind_follows_with_tsig() {
    follows(bind_secondary(), true).await;
}
