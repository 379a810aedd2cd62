//! Peer discovery as the books teach it (issue 18): one SRV lookup on the headless
//! service's bare name returns every pod, asked by real clients — Node.js's `dns.Resolver`
//! (c-ares, as Kubernetes in Action's StatefulSet app uses it), `dig` and `kdig`.
//!
//! The clients come from Debian packages (`nodejs`, `bind9-dnsutils`, `knot-dnsutils`);
//! a test whose client is missing fails with a message naming the package.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use support::demo;
use support::dns::*;

/// Runs a client command, failing with the Debian package's name when it is missing.
async fn run(program: &str, package: &str, args: &[&str]) -> String {
    let child = tokio::process::Command::new(program).args(args).kill_on_drop(true).output();
    let output = match tokio::time::timeout(Duration::from_secs(30), child).await {
        Err(_) => panic!("{program} {args:?} did not finish within 30 s"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{program} is not installed: apt-get install {package}")
        }
        Ok(Err(e)) => panic!("{program} could not run: {e}"),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `dns.resolveSrv(name)` through a `dns.Resolver` pointed at `server`: the records as
/// `port target` lines, sorted.
async fn node_resolve_srv(server: SocketAddr, name: &str) -> Vec<String> {
    let script = format!(
        "const dns = require('dns');
         const resolver = new dns.Resolver();
         resolver.setServers(['{server}']);
         resolver.resolveSrv('{name}', (err, records) => {{
           if (err) {{ console.error('resolveSrv failed: ' + err.code); process.exit(1); }}
           for (const r of records) console.log(r.priority + ' ' + r.weight + ' ' + r.port + ' ' + r.name);
         }});"
    );
    let stdout = run("node", "nodejs", &["-e", &script]).await;
    let mut records: Vec<String> = stdout.lines().map(str::to_owned).collect();
    records.sort();
    records
}

#[tokio::test]
async fn node_resolve_srv_finds_every_pod_of_the_demo_statefulset() {
    let server = start(demo(), &[]).await;
    let records = node_resolve_srv(server.dns_addrs[0], "nginx.default.svc.cluster.local").await;
    // Port `web` (80) has targetPort `http`: the pods' container port 8080.
    assert_eq!(
        records,
        [
            "0 33 8080 web-0.nginx.default.svc.cluster.local",
            "0 33 8080 web-1.nginx.default.svc.cluster.local",
            "0 33 8080 web-2.nginx.default.svc.cluster.local",
        ]
    );
    // The second workload: every port of db-0, and the stray pod by its dashed IP; the
    // not-ready db-1 and the pending db-2 are not peers.
    let records = node_resolve_srv(server.dns_addrs[0], "db.data.svc.cluster.local").await;
    assert_eq!(
        records,
        [
            "0 33 5432 10-244-2-52.db.data.svc.cluster.local",
            "0 33 5432 db-0.db.data.svc.cluster.local",
            "0 33 9187 db-0.db.data.svc.cluster.local",
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn node_resolve_srv_gets_a_hundred_peers_through_its_tcp_retry() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: {name: kubia, namespace: default}\n\
         spec: {clusterIP: None, selector: {app: kubia}, ports: [{port: 8080}]}\n---\n",
    );
    for i in 0..100 {
        yaml += &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: kubia-{i}, namespace: default, labels: {{app: kubia}}}}\n\
             spec: {{hostname: kubia-{i}, subdomain: kubia}}\n\
             status: {{podIP: 10.1.0.{}, conditions: [{{type: Ready, status: \"True\"}}]}}\n---\n",
            i + 1
        );
    }
    std::fs::write(dir.path().join("kubia.yaml"), yaml).unwrap();
    let server = start(dir.path(), &[]).await;
    // 100 records do not fit a UDP answer: c-ares gets TC=1 and asks again over TCP.
    let records = node_resolve_srv(server.dns_addrs[0], "kubia.default.svc.cluster.local").await;
    let mut expected: Vec<String> =
        (0..100).map(|i| format!("0 1 8080 kubia-{i}.kubia.default.svc.cluster.local")).collect();
    expected.sort();
    assert_eq!(records, expected);
    server.stop().await.unwrap();
}

/// The records of one section of dig's or kdig's output, as `owner type data` lines.
fn section(output: &str, name: &str) -> Vec<String> {
    let header = format!(";; {name} SECTION:");
    let mut lines: Vec<String> = output
        .lines()
        .skip_while(|l| !l.starts_with(&header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            // owner TTL IN TYPE DATA...
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert!(fields.len() >= 5 && fields[2] == "IN", "unexpected record line {l:?}");
            format!("{} {} {}", fields[0], fields[3], fields[4..].join(" "))
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn dig_and_kdig_show_the_peers_and_their_addresses_as_glue() {
    let server = start(demo(), &[]).await;
    let (ip, port) = (server.dns_addrs[0].ip().to_string(), server.dns_addrs[0].port().to_string());
    let at = format!("@{ip}");
    for (program, package) in [("dig", "bind9-dnsutils"), ("kdig", "knot-dnsutils")] {
        let out = run(program, package, &[&at, "-p", &port, "db.data.svc.cluster.local", "SRV"]).await;
        assert!(out.contains("NOERROR"), "{program}: {out}");
        assert_eq!(
            section(&out, "ANSWER"),
            [
                "db.data.svc.cluster.local. SRV 0 33 5432 10-244-2-52.db.data.svc.cluster.local.",
                "db.data.svc.cluster.local. SRV 0 33 5432 db-0.db.data.svc.cluster.local.",
                "db.data.svc.cluster.local. SRV 0 33 9187 db-0.db.data.svc.cluster.local.",
            ],
            "{program}: {out}"
        );
        // Each target's addresses once, both families of the dual-stack db-0.
        assert_eq!(
            section(&out, "ADDITIONAL"),
            [
                "10-244-2-52.db.data.svc.cluster.local. A 10.244.2.52",
                "db-0.db.data.svc.cluster.local. A 10.244.1.20",
                "db-0.db.data.svc.cluster.local. AAAA fd00:10:244:1::20",
            ],
            "{program}: {out}"
        );
        let out = run(program, package, &[&at, "-p", &port, "nginx.default.svc.cluster.local", "SRV"]).await;
        assert_eq!(section(&out, "ANSWER").len(), 3, "{program}: {out}");
        assert_eq!(
            section(&out, "ADDITIONAL"),
            [
                "web-0.nginx.default.svc.cluster.local. A 10.244.1.10",
                "web-1.nginx.default.svc.cluster.local. A 10.244.2.11",
                "web-2.nginx.default.svc.cluster.local. A 10.244.3.12",
            ],
            "{program}: {out}"
        );
    }
    server.stop().await.unwrap();
}
