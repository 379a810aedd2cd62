//! The identity promise behind secondaries: a name a StatefulSet owns never answers
//! NXDOMAIN from a Knot, NSD or BIND secondary either. Pending identities (an ordinal
//! without a pod, a pod not ready, a hostnamed pod not ready, a deleted StatefulSet pod)
//! own a TXT record, so they travel in the zone transfer; every name of the scenario is
//! asked of us and of the secondary, after the first AXFR and after each IXFR, and must
//! get the same response code and the same answer records.

use crate::support;

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::dns::start;
use support::secondaries::{
    Running, Secondary, answer, bind_secondary, full_transfers, incremental_transfers, knot_secondary,
    nsd_secondary,
};

const SERVICE: &str = "db.data.svc.cluster.local.";

/// The pods of StatefulSet `db`: `(ordinal, IP or none, ready)`.
type Pods<'a> = &'a [(u32, Option<&'a str>, bool)];

/// Headless service `db` (port `pg`), StatefulSet `db` with `replicas`, its `pods`, and a
/// hostnamed pod `solo` of the same service that is never ready.
fn manifests(dir: &Path, replicas: u32, pods: Pods<'_>) {
    let mut yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: data}}\n\
         spec: {{clusterIP: None, selector: {{app: db}}, ports: [{{name: pg, port: 5432}}]}}\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: data}}\n\
         spec: {{serviceName: db, replicas: {replicas}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: solo, namespace: data, labels: {{app: db}}}}\n\
         spec: {{hostname: solo, subdomain: db}}\n\
         status: {{podIPs: [{{ip: 10.9.0.1}}], conditions: [{{type: Ready, status: \"False\"}}]}}\n"
    );
    for (ordinal, ip, ready) in pods {
        let ips = ip.map_or_else(String::new, |ip| format!("{{ip: {ip}}}"));
        let ready = if *ready { "True" } else { "False" };
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: db-{ordinal}, namespace: data, labels: {{app: db}}}}\n\
             spec: {{hostname: db-{ordinal}, subdomain: db}}\n\
             status: {{podIPs: [{ips}], conditions: [{{type: Ready, status: \"{ready}\"}}]}}\n"
        ));
    }
    let path = dir.join("db.yaml");
    std::fs::write(dir.join(".db.yaml.tmp"), yaml).unwrap();
    std::fs::rename(dir.join(".db.yaml.tmp"), path).unwrap();
}

/// Every name of the scenario: the service, its SRV, ordinals 0..6 (some beyond the
/// replicas), `solo`, and a name that never exists.
fn names() -> Vec<String> {
    let mut names = vec![SERVICE.to_owned(), format!("_pg._tcp.{SERVICE}"), format!("solo.{SERVICE}")];
    names.extend((0..7).map(|i| format!("db-{i}.{SERVICE}")));
    names.push(format!("nothing.{SERVICE}"));
    names
}

/// Asks every name for A, AAAA, TXT and SRV of both servers; returns how many names were
/// pending (NOERROR, a TXT and no address) on ours.
async fn same_everywhere(ours: std::net::SocketAddr, secondary: &Running, step: &str) -> usize {
    let mut pending = 0;
    for name in names() {
        for qtype in [RecordType::A, RecordType::AAAA, RecordType::TXT, RecordType::SRV] {
            let (a, b) = (answer(ours, &name, qtype).await, answer(secondary.addr, &name, qtype).await);
            assert_eq!(a, b, "{}, {step}: {name} {qtype}\n{}", secondary.who, secondary.logs());
            if qtype == RecordType::TXT
                && a.0 == ResponseCode::NoError
                && a.1.iter().any(|r| r.contains("pending: "))
            {
                pending += 1;
            }
        }
    }
    pending
}

async fn never_nxdomain_behind(secondary: Secondary) {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("manifests");
    std::fs::create_dir(&files).unwrap();
    // db-0 ready, db-1 not ready, db-2 not created yet, db-3 ready; solo not ready.
    manifests(
        &files,
        4,
        &[(0, Some("10.0.1.10"), true), (1, Some("10.0.1.11"), false), (3, Some("10.0.1.13"), true)],
    );
    let port = support::ports::free_port();
    let notify = format!("127.0.0.1:{port}");
    let server = start(&files, &["--transfer-allow", "127.0.0.1/32", "--notify", &notify]).await;
    let ours = server.dns_addrs[0];
    let mut running = Running::start(&secondary, dir.path(), port, ours, false);
    running.wait_for_serial(server.zones.load().serial()).await;
    assert_eq!(same_everywhere(ours, &running, "after the AXFR").await, 3, "db-1, db-2 and solo are pending");
    let (a, _) = answer(running.addr, &format!("db-2.{SERVICE}"), RecordType::A).await;
    assert_eq!(a, ResponseCode::NoError, "{}: a pending ordinal is NODATA on the secondary", running.who);

    let before = server.metrics.render();
    let steps: [(&str, u32, Pods<'_>, usize); 6] = [
        ("db-0 deleted", 4, &[(1, Some("10.0.1.11"), false), (3, Some("10.0.1.13"), true)], 4),
        (
            "db-0 recreated without an IP",
            4,
            &[(0, None, false), (1, Some("10.0.1.11"), false), (3, Some("10.0.1.13"), true)],
            4,
        ),
        (
            "db-0 rescheduled to a new IP, ready",
            4,
            &[(0, Some("10.0.2.10"), true), (1, Some("10.0.1.11"), false), (3, Some("10.0.1.13"), true)],
            3,
        ),
        (
            "db-1 ready",
            4,
            &[(0, Some("10.0.2.10"), true), (1, Some("10.0.1.11"), true), (3, Some("10.0.1.13"), true)],
            2,
        ),
        ("scaled down to 2", 2, &[(0, Some("10.0.2.10"), true), (1, Some("10.0.1.11"), true)], 1),
        ("scaled up to 6", 6, &[(0, Some("10.0.2.10"), true), (1, Some("10.0.1.11"), true)], 5),
    ];
    for (step, replicas, pods, pending) in steps {
        let serial = server.zones.load().serial();
        manifests(&files, replicas, pods);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while server.zones.load().serial() == serial {
            assert!(std::time::Instant::now() < deadline, "{step}: never served");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        running.wait_for_serial(server.zones.load().serial()).await;
        assert_eq!(same_everywhere(ours, &running, step).await, pending, "{step}: pending names");
    }
    let after = server.metrics.render();
    assert!(
        incremental_transfers(&after) >= incremental_transfers(&before) + 6,
        "{}: each step by IXFR",
        running.who
    );
    assert_eq!(full_transfers(&after), full_transfers(&before), "{}: no second full transfer", running.who);
    // Scaled down: the ordinals beyond the replicas are gone everywhere.
    let (code, _) = answer(running.addr, &format!("db-6.{SERVICE}"), RecordType::A).await;
    assert_eq!(code, ResponseCode::NXDomain, "db-6 is beyond 6 replicas");
    running.stop().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn knot_never_answers_nxdomain_for_a_pending_identity() {
    never_nxdomain_behind(knot_secondary()).await;
}

#[tokio::test]
async fn nsd_never_answers_nxdomain_for_a_pending_identity() {
    never_nxdomain_behind(nsd_secondary()).await;
}

#[tokio::test]
async fn bind_never_answers_nxdomain_for_a_pending_identity() {
    never_nxdomain_behind(bind_secondary()).await;
}
