//! `explain` and `records` (offline and through a running server), and the identity rules
//! they describe, checked through the DNS interface too.

use crate::support;

use headless_dns::app;
use headless_dns::config::{Command, parse_from};
use headless_dns::explain::Explanation;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use support::dns::*;
use support::{DEMO, demo};

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
    let e = explain_json(&["explain", "web-0.nginx.default.svc.cluster.local", "--manifests", DEMO]);
    assert_eq!(e.rcode, "NOERROR");
    assert_eq!(e.answers, ["web-0.nginx.default.svc.cluster.local. 5 IN A 10.244.1.10"]);
    assert!(e.reasons.iter().any(|r| r.contains("pod web-0 (10.244.1.10) is ready")), "{:?}", e.reasons);
}

#[test]
fn explains_pending_identities() {
    let e = explain_json(&["explain", "db-1.db.data.svc.cluster.local", "--manifests", DEMO]);
    assert_eq!(e.rcode, "NOERROR");
    assert!(e.answers.is_empty());
    assert!(e.reasons.iter().any(|r| r.contains("is not ready")), "{:?}", e.reasons);
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("known identity of StatefulSet db") && r.contains("1 s negative TTL"))
    );
    let e = explain_json(&["explain", "db-2.db.data.svc.cluster.local", "--manifests", DEMO]);
    assert!(e.reasons.iter().any(|r| r.contains("pod db-2 does not exist yet")), "{:?}", e.reasons);
}

#[test]
fn explains_a_subdomain_mismatch() {
    let e = explain_json(&["explain", "odd.db.data.svc.cluster.local", "--manifests", DEMO]);
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
    let e = explain_json(&["explain", "web-7.nginx.default.svc.cluster.local", "--manifests", DEMO]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("StatefulSet web has 3 replicas (ordinals 0..2); web-7 is not one of them"))
    );
    let closest = e.reasons.iter().find(|r| r.starts_with("closest existing names")).expect("closest names");
    assert!(closest.contains("web-0.nginx.default.svc.cluster.local."), "{closest}");
    let e = explain_json(&["explain", "ngnx.default.svc.cluster.local", "--manifests", DEMO]);
    assert!(e.reasons.iter().any(|r| r.contains("there is no service ngnx in namespace default")));
    assert!(e.reasons.iter().any(|r| r.contains("nginx.default.svc.cluster.local.")), "{:?}", e.reasons);
}

#[test]
fn explains_srv_ports_and_reverse_names() {
    let e = explain_json(&["explain", "_metrics._tcp.db.data.svc.cluster.local", "SRV", "--manifests", DEMO]);
    assert_eq!(e.answers.len(), 1);
    assert!(
        e.reasons.iter().any(|r| r.contains("pod odd has no container port named \"metrics\"")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "_nope._tcp.db.data.svc.cluster.local", "SRV", "--manifests", DEMO]);
    assert!(e.reasons.iter().any(|r| r.contains("_postgres._tcp, _metrics._tcp")), "{:?}", e.reasons);
    let e = explain_json(&["explain", "21.2.244.10.in-addr.arpa", "PTR", "--manifests", DEMO]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(
        e.reasons.iter().any(|r| r.contains("pod data/db-1") && r.contains("not ready")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "example.com", "--manifests", DEMO]);
    assert_eq!(e.rcode, "REFUSED");
}

#[test]
fn explains_the_bare_srv_records_of_a_service() {
    let e = explain_json(&["explain", "db.data.svc.cluster.local", "SRV", "--manifests", DEMO]);
    assert_eq!(e.rcode, "NOERROR");
    assert_eq!(e.answers.len(), 3, "{:?}", e.answers);
    let has = |needle: &str| e.reasons.iter().any(|r| r.contains(needle));
    for needle in [
        "pod db-0 is a target as db-0.db.data.svc.cluster.local.: postgres (5432/TCP) on 5432, metrics (9187/TCP) on 9187",
        "pod odd is a target as 10-244-2-52.db.data.svc.cluster.local.: postgres (5432/TCP) on 5432",
        "left out: pod odd has no container port named \"metrics\" (TCP)",
        "left out: pod db-1 (10.244.2.21) is not ready",
        "left out: db-1, db-2 (known identities without a ready address",
        "3 record(s), priority 0, weight floor(100 / 3) = 33",
    ] {
        assert!(has(needle), "missing {needle:?} in {:#?}", e.reasons);
    }
    // A headless service with ready endpoints but no ports: NODATA, and why.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: peers, namespace: default}\nspec: {clusterIP: None, selector: {app: p}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: p-0, namespace: default, labels: {app: p}}\n\
         status: {podIP: 10.0.0.1, conditions: [{type: Ready, status: \"True\"}]}\n",
    )
    .unwrap();
    let e = explain_json(&[
        "explain",
        "peers.default.svc.cluster.local",
        "SRV",
        "--manifests",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!((e.rcode.as_str(), e.answers.len()), ("NOERROR", 0));
    assert!(e.reasons.iter().any(|r| r.contains("declares no ports")), "{:?}", e.reasons);
    assert!(
        e.reasons
            .iter()
            .any(|r| r.starts_with("NODATA: peers.default.svc.cluster.local. has A records but no SRV")),
        "{:?}",
        e.reasons
    );
}

#[test]
fn explains_a_starting_pod_as_having_no_ip_yet() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read_to_string(demo().join("data.yaml")).unwrap();
    // db-1 scheduled, no IP yet.
    let starting = data.replace("  podIP: 10.244.2.21\n  podIPs: [{ip: 10.244.2.21}]\n", "");
    assert_ne!(starting, data);
    std::fs::write(dir.path().join("data.yaml"), starting).unwrap();
    let path = dir.path().to_str().unwrap();
    for name in ["db-1.db.data.svc.cluster.local", "db.data.svc.cluster.local"] {
        let e = explain_json(&["explain", name, "--manifests", path]);
        let sentence = e.reasons.iter().find(|r| r.starts_with("pod db-1 ")).expect("a sentence on db-1");
        assert!(sentence.contains("has no IP yet (the pod is starting: scheduled"), "{sentence}");
        assert!(!sentence.contains("hostname, so it is published by IP only"), "{sentence}");
        assert!(sentence.contains("named db-1 (its hostname; its subdomain is db)"), "{sentence}");
    }
}

#[test]
fn without_a_source_the_error_names_both_ways() {
    for command in ["explain", "records"] {
        let mut argv = vec!["headless-dns", command];
        if command == "explain" {
            argv.push("web-0.nginx");
        }
        let Err(err) = parse_from(argv.iter().map(Into::into).collect()) else {
            panic!("no source must be an error")
        };
        let err = err.to_string();
        assert!(err.contains("--manifests") && err.contains("--server"), "{err}");
    }
}

#[test]
fn nodata_says_why_there_is_no_record_of_that_type() {
    let e = explain_json(&["explain", "web-0.nginx.default.svc.cluster.local", "AAAA", "--manifests", DEMO]);
    assert_eq!((e.rcode.as_str(), e.answers.len()), ("NOERROR", 0));
    assert!(
        e.reasons.contains(
            &"NODATA: web-0.nginx.default.svc.cluster.local. has A records but no AAAA record: none of its \
              addresses is IPv6; resolvers cache this NODATA for 5 s (the SOA in the authority section)"
                .to_owned()
        ),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "db.data.svc.cluster.local", "TXT", "--manifests", DEMO]);
    assert!(
        e.reasons
            .iter()
            .any(|r| r.starts_with("NODATA: db.data.svc.cluster.local. has A, AAAA, SRV records but no TXT")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "db-2.db.data.svc.cluster.local", "--manifests", DEMO]);
    assert!(
        e.reasons.iter().any(|r| r.contains("is a pending identity: it owns only the TXT record")
            && r.contains("no A record")
            && r.contains("for 1 s")),
        "{:?}",
        e.reasons
    );
}

#[test]
fn explains_an_address_as_its_ptr_and_short_names_by_the_search_path() {
    let e = explain_json(&["explain", "10.244.2.11", "--manifests", DEMO]);
    assert_eq!(
        (e.name.as_str(), e.qtype.as_str(), e.rcode.as_str()),
        ("11.2.244.10.in-addr.arpa.", "PTR", "NOERROR")
    );
    assert_eq!(e.answers, ["11.2.244.10.in-addr.arpa. 5 IN PTR web-1.nginx.default.svc.cluster.local."]);
    assert!(e.reasons[0].starts_with("10.244.2.11 is an address"), "{:?}", e.reasons);
    let e = explain_json(&["explain", "fd00:10:244:1::20", "--manifests", DEMO]);
    assert_eq!(e.answers.len(), 1, "{e:?}");
    assert!(e.answers[0].ends_with("PTR db-0.db.data.svc.cluster.local."), "{e:?}");

    let e = explain_json(&["explain", "web-0.nginx", "--manifests", DEMO]);
    assert_eq!((e.name.as_str(), e.rcode.as_str()), ("web-0.nginx.default.svc.cluster.local.", "NOERROR"));
    assert_eq!(e.answers, ["web-0.nginx.default.svc.cluster.local. 5 IN A 10.244.1.10"]);
    assert!(e.reasons[0].starts_with("web-0.nginx is not fully qualified"), "{:?}", e.reasons);
    assert!(
        e.reasons.iter().any(|r| r == "from a pod in namespace default it becomes web-0.nginx.default.svc.cluster.local., which answers 1 A record(s)"),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "web-0.nginx.default", "--manifests", DEMO]);
    assert_eq!(e.name, "web-0.nginx.default.svc.cluster.local.");
    assert!(
        e.reasons.iter().any(|r| r
            .starts_with("from a pod in any namespace it becomes web-0.nginx.default.svc.cluster.local.")),
        "{:?}",
        e.reasons
    );
    // A pending identity found through the search path is still explained as one.
    let e = explain_json(&["explain", "db-2.db", "--manifests", DEMO]);
    assert_eq!((e.name.as_str(), e.rcode.as_str()), ("db-2.db.data.svc.cluster.local.", "NOERROR"));
    assert!(
        e.reasons.iter().any(|r| r.contains("which exists without A records (NODATA)")),
        "{:?}",
        e.reasons
    );
    // Nothing matches: the name as written, and the expansions that were tried.
    let e = explain_json(&["explain", "web-0.nope", "--manifests", DEMO]);
    assert_eq!(e.rcode, "REFUSED");
    assert!(
        e.reasons.iter().any(|r| r.contains("none of the names a pod's search path makes of it exists")),
        "{:?}",
        e.reasons
    );
}

#[test]
fn explains_clusterip_external_name_and_selectorless_services() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: default}\nspec: {clusterIP: 10.96.0.5, selector: {app: api}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: manual, namespace: default}\nspec: {clusterIP: None}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: default}\nspec: {type: ExternalName, externalName: db.example.com}\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let e = explain_json(&["explain", "api.default.svc.cluster.local", "--manifests", path]);
    assert_eq!(e.rcode, "NOERROR");
    assert!(
        e.reasons
            .iter()
            .any(|r| r.contains("is a ClusterIP service: its name answers its cluster IPs (10.96.0.5)")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "web-0.api.default.svc.cluster.local", "--manifests", path]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(e.reasons.iter().any(|r| r.contains("it has no per-pod names")), "{:?}", e.reasons);
    let e = explain_json(&["explain", "5.0.96.10.in-addr.arpa", "PTR", "--manifests", path]);
    assert!(
        e.reasons.iter().any(|r| r.contains("is a cluster IP of service default/api")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "ext.default.svc.cluster.local", "--manifests", path]);
    assert_eq!(e.answers.len(), 1, "{:?}", e.answers);
    assert!(
        e.reasons.iter().any(|r| r.contains("ExternalName service: its name is a CNAME to db.example.com.")
            && r.contains("outside this zone")),
        "{:?}",
        e.reasons
    );
    let e = explain_json(&["explain", "manual.default.svc.cluster.local", "--manifests", path]);
    assert!(e.reasons.iter().any(|r| r.contains("has no selector")), "{:?}", e.reasons);
}

#[test]
fn text_format_is_readable() {
    let text = run(&["explain", "db-1.db.data.svc.cluster.local", "--manifests", DEMO]);
    assert!(text.starts_with("db-1.db.data.svc.cluster.local. A: NOERROR\n"), "{text}");
    assert!(text.contains("\n- db-1 is a known identity"), "{text}");
}

#[tokio::test]
async fn explain_and_records_through_a_running_server_match_offline() {
    let args = serve_args(&["--manifests", DEMO, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
    let server = app::start(&args).await.unwrap();
    wait_synced(server.dns_addrs[0]).await;
    let url = format!("http://{}", server.admin_addr.unwrap());
    let remote = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            (
                run(&["explain", "odd.db.data.svc.cluster.local", "--server", &url]),
                run(&["records", "--server", &url]),
                run(&["explain", "odd.db.data.svc.cluster.local", "--server", &url, "--format", "json"]),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(remote.0, run(&["explain", "odd.db.data.svc.cluster.local", "--manifests", DEMO]));
    // The JSON too, as printed offline: indented, and ending in a newline (a shell prompt
    // after it starts on a line of its own).
    let offline = run(&["explain", "odd.db.data.svc.cluster.local", "--manifests", DEMO, "--format", "json"]);
    assert!(remote.2.ends_with("}\n"), "{:?}", remote.2);
    assert_eq!(remote.2, offline);
    let strip_serial = |s: &str| {
        s.lines().filter(|l| !l.contains("SOA") && !l.starts_with(';')).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(strip_serial(&remote.1), strip_serial(&run(&["records", "--manifests", DEMO])));
    server.stop().await.unwrap();
}

/// The zone file parses with hickory's parser and holds exactly what the server answers.
#[tokio::test]
async fn records_zone_file_parses_and_matches_the_served_answers() {
    let server = start(demo(), &[]).await;
    let addr = server.dns_addrs[0];
    let mut client = tcp(addr).await;
    for (zone_file, origin) in
        [("forward", "cluster.local."), ("in-addr-arpa", "in-addr.arpa."), ("ip6-arpa", "ip6.arpa.")]
    {
        let text = run(&["records", "--manifests", DEMO, "--zone-file", zone_file]);
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
                // A ClusterIP and an ExternalName service.
                "web.default.svc.cluster.local.",
                "_web._tcp.web.default.svc.cluster.local.",
                "warehouse.data.svc.cluster.local.",
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
/// installed by scripts/test.sh).
#[test]
fn records_zone_files_pass_kzonecheck() {
    let dir = tempfile::tempdir().unwrap();
    for (zone_file, origin) in [("forward", "cluster.local"), ("in-addr-arpa", "in-addr.arpa")] {
        let path = dir.path().join(format!("{zone_file}.zone"));
        std::fs::write(&path, run(&["records", "--manifests", DEMO, "--zone-file", zone_file])).unwrap();
        let output = std::process::Command::new("kzonecheck")
            .args(["-o", origin, path.to_str().unwrap()])
            .output()
            .expect("kzonecheck is installed (Debian package knot-dnssecutils; scripts/test.sh installs it)");
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
    let server = start(demo(), &["--pending-ttl", "2"]).await;
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
    let server = start(demo(), &["--endpoint-names", "pod-name"]).await;
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
