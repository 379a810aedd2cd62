//! `explain` and `records` (offline and through a running server), and the identity rules
//! they describe, checked through the DNS interface too.

mod support;

use std::path::Path;

use headless_dns::app;
use headless_dns::config::{Command, parse_from};
use headless_dns::explain::Explanation;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use support::dns::*;

fn demo() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo").to_owned()
}

fn run(argv: &[&str]) -> String {
    let mut full = vec!["headless-dns"];
    full.extend_from_slice(argv);
    match parse_from(full.iter().map(Into::into).collect()).expect("valid command").command {
        Command::Explain(args) => app::explain(&args).expect("explain works"),
        Command::Records(args) => app::records(&args).expect("records works"),
        _ => panic!("not explain/records"),
    }
}

fn explain_json(argv: &[&str]) -> Explanation {
    let mut argv = argv.to_vec();
    argv.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&run(&argv)).expect("JSON explanation")
}

#[test]
fn explains_a_ready_pod_with_its_address() {
    let e = explain_json(&["explain", "web-0.nginx.default.svc.cluster.local", "--manifests", &demo()]);
    assert_eq!(e.rcode, "NOERROR");
    assert_eq!(e.answers, ["web-0.nginx.default.svc.cluster.local. 5 IN A 10.244.1.10"]);
    assert!(e.reasons.iter().any(|r| r.contains("pod web-0 (10.244.1.10) is ready")), "{:?}", e.reasons);
}

#[test]
fn explains_pending_identities() {
    let e = explain_json(&["explain", "db-1.db.data.svc.cluster.local", "--manifests", &demo()]);
    assert_eq!(e.rcode, "NOERROR");
    assert!(e.answers.is_empty());
    assert!(e.reasons.iter().any(|r| r.contains("is not ready")), "{:?}", e.reasons);
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("known identity of StatefulSet db") && r.contains("1 s negative TTL"))
    );
    let e = explain_json(&["explain", "db-2.db.data.svc.cluster.local", "--manifests", &demo()]);
    assert!(e.reasons.iter().any(|r| r.contains("pod db-2 does not exist yet")), "{:?}", e.reasons);
}

#[test]
fn explains_a_subdomain_mismatch() {
    let e = explain_json(&["explain", "odd.db.data.svc.cluster.local", "--manifests", &demo()]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(
        e.reasons.contains(
            &"pod odd has hostname odd but subdomain elsewhere, not db, so only 10-244-2-52.db.data.svc.cluster.local. exists"
                .to_owned()
        ),
        "{:?}",
        e.reasons
    );
}

#[test]
fn explains_names_that_match_nothing_with_the_closest_names() {
    let e = explain_json(&["explain", "web-7.nginx.default.svc.cluster.local", "--manifests", &demo()]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("StatefulSet web has 3 replicas (ordinals 0..2); web-7 is not one of them"))
    );
    let closest = e.reasons.iter().find(|r| r.starts_with("closest existing names")).expect("closest names");
    assert!(closest.contains("web-0.nginx.default.svc.cluster.local."), "{closest}");
    let e = explain_json(&["explain", "ngnx.default.svc.cluster.local", "--manifests", &demo()]);
    assert!(e.reasons.iter().any(|r| r.contains("there is no service ngnx in namespace default")));
    assert!(e.reasons.iter().any(|r| r.contains("nginx.default.svc.cluster.local.")), "{:?}", e.reasons);
}

#[test]
fn explains_srv_ports_and_reverse_names() {
    let e =
        explain_json(&["explain", "_metrics._tcp.db.data.svc.cluster.local", "SRV", "--manifests", &demo()]);
    assert_eq!(e.answers.len(), 1);
    assert!(
        e.reasons.iter().any(|r| r.contains("pod odd has no container port named \"metrics\"")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "_nope._tcp.db.data.svc.cluster.local", "SRV", "--manifests", &demo()]);
    assert!(e.reasons.iter().any(|r| r.contains("_postgres._tcp, _metrics._tcp")), "{:?}", e.reasons);
    let e = explain_json(&["explain", "21.2.244.10.in-addr.arpa", "PTR", "--manifests", &demo()]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(
        e.reasons.iter().any(|r| r.contains("pod data/db-1") && r.contains("not ready")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "example.com", "--manifests", &demo()]);
    assert_eq!(e.rcode, "REFUSED");
}

#[test]
fn explains_clusterip_and_selectorless_services() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: default}\nspec: {clusterIP: 10.96.0.5, selector: {app: api}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: manual, namespace: default}\nspec: {clusterIP: None}\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let e = explain_json(&["explain", "api.default.svc.cluster.local", "--manifests", path]);
    assert!(e.reasons.iter().any(|r| r.contains("is not headless")), "{:?}", e.reasons);
    let e = explain_json(&["explain", "manual.default.svc.cluster.local", "--manifests", path]);
    assert!(e.reasons.iter().any(|r| r.contains("has no selector")), "{:?}", e.reasons);
}

#[test]
fn text_format_is_readable() {
    let text = run(&["explain", "db-1.db.data.svc.cluster.local", "--manifests", &demo()]);
    assert!(text.starts_with("db-1.db.data.svc.cluster.local. A: NOERROR\n"), "{text}");
    assert!(text.contains("\n- db-1 is a known identity"), "{text}");
}

#[tokio::test]
async fn explain_and_records_through_a_running_server_match_offline() {
    let args = serve_args(&["--manifests", &demo(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
    let server = app::start(&args).await.unwrap();
    wait_synced(server.dns_addrs[0]).await;
    let url = format!("http://{}", server.admin_addr.unwrap());
    let remote = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            (
                run(&["explain", "odd.db.data.svc.cluster.local", "--server", &url]),
                run(&["records", "--server", &url]),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(remote.0, run(&["explain", "odd.db.data.svc.cluster.local", "--manifests", &demo()]));
    let strip_serial = |s: &str| {
        s.lines().filter(|l| !l.contains("SOA") && !l.starts_with(';')).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip_serial(&remote.1), strip_serial(&run(&["records", "--manifests", &demo()])));
    server.stop().await.unwrap();
}

/// The zone file parses with hickory's parser and holds exactly what the server answers.
#[tokio::test]
async fn records_zone_file_parses_and_matches_the_served_answers() {
    let server = start(Path::new(&demo()), &[]).await;
    let addr = server.dns_addrs[0];
    let mut client = tcp(addr).await;
    for (zone_file, origin) in
        [("forward", "cluster.local."), ("in-addr-arpa", "in-addr.arpa."), ("ip6-arpa", "ip6.arpa.")]
    {
        let text = run(&["records", "--manifests", &demo(), "--zone-file", zone_file]);
        let parser = hickory_proto::serialize::txt::Parser::new(text.as_str(), None, None);
        let (parsed_origin, rrsets) = parser.parse().unwrap_or_else(|e| panic!("{zone_file}: {e}\n{text}"));
        assert_eq!(parsed_origin.to_string(), origin);
        assert!(rrsets.len() >= 3, "{zone_file}: {} RRsets", rrsets.len());
        for (key, rrset) in &rrsets {
            let name = key.name.to_string();
            let reply: Message = query(&mut client, &name, key.record_type).await;
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name} {}", key.record_type);
            let mut served: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
            let mut filed: Vec<String> = rrset.records_without_rrsigs().map(|r| r.data.to_string()).collect();
            served.sort();
            filed.sort();
            if key.record_type != RecordType::SOA {
                assert_eq!(served, filed, "{name} {}", key.record_type);
            }
        }
        // And the other way round: every address the server publishes is in the file.
        if zone_file == "forward" {
            for name in [
                "web-0.nginx.default.svc.cluster.local.",
                "db-0.db.data.svc.cluster.local.",
                "10-244-2-52.db.data.svc.cluster.local.",
            ] {
                assert!(
                    rrsets.keys().any(|k| k.name.to_string() == name),
                    "{name} missing from the zone file"
                );
            }
            let srv = rrsets.iter().find(|(k, _)| k.record_type == RecordType::SRV).expect("SRV in file").1;
            assert!(srv.records_without_rrsigs().all(|r| matches!(r.data, RData::SRV(_))));
            // The bare SRV RRsets on the service names (peer discovery), every port included.
            for (name, count) in [("nginx.default.svc.cluster.local.", 3), ("db.data.svc.cluster.local.", 3)]
            {
                let bare = rrsets
                    .iter()
                    .find(|(k, _)| k.record_type == RecordType::SRV && k.name.to_string() == name)
                    .unwrap_or_else(|| panic!("bare SRV of {name} missing from the zone file"))
                    .1;
                assert_eq!(bare.records_without_rrsigs().count(), count, "{name}");
            }
        }
    }
}

/// Knot's zone checker accepts the files (kzonecheck, from Debian's knot-dnssecutils,
/// installed by .ci/run).
#[test]
fn records_zone_files_pass_kzonecheck() {
    let dir = tempfile::tempdir().unwrap();
    for (zone_file, origin) in [("forward", "cluster.local"), ("in-addr-arpa", "in-addr.arpa")] {
        let path = dir.path().join(format!("{zone_file}.zone"));
        std::fs::write(&path, run(&["records", "--manifests", &demo(), "--zone-file", zone_file])).unwrap();
        let output = std::process::Command::new("kzonecheck")
            .args(["-o", origin, path.to_str().unwrap()])
            .output()
            .expect("kzonecheck is installed (apt-get install knot-dnssecutils; .ci/run does)");
        assert!(
            output.status.success(),
            "kzonecheck rejected the {zone_file} zone:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn pending_identities_answer_nodata_with_the_pending_ttl_over_dns() {
    let server = start(Path::new(&demo()), &["--pending-ttl", "2"]).await;
    let mut client = udp(server.dns_addrs[0]).await;
    for name in ["db-1.db.data.svc.cluster.local.", "db-2.db.data.svc.cluster.local."] {
        let r = query(&mut client, name, RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(r.answers.is_empty());
        let soa = &r.authorities[0];
        let RData::SOA(data) = &soa.data else { panic!("SOA expected") };
        assert_eq!((soa.ttl, data.minimum), (2, 2), "{name}");
    }
    // Out of range, and the service name itself with no ready endpoints keeps the spec's rule.
    let r = query(&mut client, "db-3.db.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    let RData::SOA(data) = &r.authorities[0].data else { panic!() };
    assert_eq!(data.minimum, 5, "ordinary NXDOMAIN uses --negative-ttl");
}

#[tokio::test]
async fn endpoint_names_pod_name_uses_pod_names_over_dns() {
    let server = start(Path::new(&demo()), &["--endpoint-names", "pod-name"]).await;
    let mut client = udp(server.dns_addrs[0]).await;
    // `odd` has a mismatched subdomain: named by its pod name instead of 10-244-2-52.
    let r = query(&mut client, "odd.db.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.244.2.52"]);
    let r = query(&mut client, "10-244-2-52.db.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    // Hostnamed pods keep their hostname.
    let r = query(&mut client, "db-0.db.data.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&r), ["10.244.1.20"]);
}
