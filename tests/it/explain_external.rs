//! `explain` for the names of external zones (offline, from manifests): which Service
//! publishes a name and from what, why a per-pod name is pending, which Service lost a
//! contested name, and the annotations that ask for names they cannot have.

use headless_dns::app;
use headless_dns::config::{Command, parse_from};
use headless_dns::explain::Explanation;

const EXTERNAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/external");

fn explain(manifests: &str, name: &str, extra: &[&str]) -> Explanation {
    let mut argv = vec!["headless-dns", "explain", name, "--manifests", manifests, "--format", "json"];
    argv.extend_from_slice(&["--external-zone", "example.com"]);
    argv.extend_from_slice(extra);
    let command = parse_from(argv.iter().map(Into::into).collect()).expect("valid command").command;
    let Command::Explain(args) = command else { panic!("not explain") };
    serde_json::from_str(&app::explain(&args).expect("explain works")).expect("JSON explanation")
}

fn has(e: &Explanation, needle: &str) -> bool {
    e.reasons.iter().any(|r| r.contains(needle))
}

#[test]
fn a_broker_name_is_its_pod_and_its_service() {
    let e = explain(EXTERNAL, "kafka-0.kafka.example.com", &[]);
    assert_eq!(
        (e.rcode.as_str(), &e.answers[..]),
        ("NOERROR", &["kafka-0.kafka.example.com. 30 IN A 10.244.1.20".to_owned()][..])
    );
    assert!(has(&e, "kafka.example.com. is published by headless Service kafka/kafka"), "{:?}", e.reasons);
    assert!(has(&e, "kafka-0 is the spec.hostname of a ready pod"), "{:?}", e.reasons);
    assert!(has(&e, "pod kafka-0 (10.244.1.20) is ready"), "{:?}", e.reasons);
}

#[test]
fn a_pending_broker_says_why_and_that_it_is_never_nxdomain() {
    let e = explain(EXTERNAL, "kafka-2.kafka.example.com", &[]);
    assert_eq!((e.rcode.as_str(), e.answers.len()), ("NOERROR", 0));
    assert!(has(&e, "pending: ordinal 2 of StatefulSet kafka has no ready pod"), "{:?}", e.reasons);
    assert!(has(&e, "never NXDOMAIN"), "{:?}", e.reasons);
    assert!(has(&e, "pod kafka-2"), "{:?}", e.reasons);
}

#[test]
fn node_external_ip_names_name_the_nodes() {
    let e = explain(EXTERNAL, "broker.example.com", &[]);
    assert!(has(&e, "endpoints-type NodeExternalIP"), "{:?}", e.reasons);
    assert!(has(&e, "pod kafka-0 runs on node node-a (203.0.113.11)"), "{:?}", e.reasons);
    let e = explain(EXTERNAL, "bootstrap.example.com", &[]);
    assert!(has(&e, "LoadBalancer Service kafka/kafka-bootstrap"), "{:?}", e.reasons);
    assert!(has(&e, "ingress IP"), "{:?}", e.reasons);
}

#[test]
fn unknown_names_apex_and_names_outside_every_zone() {
    let e = explain(EXTERNAL, "kafka-9.kafka.example.com", &[]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(has(&e, "neither the hostname of a pod it selects nor an ordinal"), "{:?}", e.reasons);
    let e = explain(EXTERNAL, "nothing.example.com", &[]);
    assert!(
        has(&e, "no Service has nothing.example.com in its external-dns hostname annotation"),
        "{:?}",
        e.reasons
    );
    let e = explain(EXTERNAL, "example.com", &[]);
    assert!(has(&e, "external zone's apex"), "{:?}", e.reasons);
}

/// Two Services claim one name (the older wins); one asks for a name outside the zone;
/// one has an unusable ttl.
#[test]
fn conflicts_and_annotation_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let service = |name: &str, created: &str, annotations: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: app\n  \
             creationTimestamp: \"{created}\"\n  annotations:\n{annotations}\nspec:\n  type: LoadBalancer\n  \
             clusterIP: 10.96.0.{n}\nstatus:\n  loadBalancer:\n    ingress: [{{ip: 198.51.100.{n}}}]\n---\n",
            n = name.len()
        )
    };
    let yaml = [
        service("old", "2026-01-01T00:00:00Z", "    external-dns.alpha.kubernetes.io/hostname: api.example.com"),
        service("newer", "2026-06-01T00:00:00Z", "    external-dns.alpha.kubernetes.io/hostname: api.example.com"),
        service("elsewhere", "2026-06-01T00:00:00Z", "    external-dns.alpha.kubernetes.io/hostname: api.example.org"),
        service(
            "typo",
            "2026-06-01T00:00:00Z",
            "    external-dns.alpha.kubernetes.io/hostname: typo.example.com\n    external-dns.alpha.kubernetes.io/ttl: ten",
        ),
    ]
    .concat();
    std::fs::write(dir.path().join("services.yaml"), yaml).unwrap();
    let manifests = dir.path().to_str().unwrap();
    let e = explain(manifests, "api.example.com", &[]);
    assert_eq!(e.answers, ["api.example.com. 5 IN A 198.51.100.3"], "the older Service, old, is served");
    assert!(has(&e, "app/newer claims api.example.com. too, and is not served there"), "{:?}", e.reasons);
    let e = explain(manifests, "api.example.org", &[]);
    assert_eq!(e.rcode, "REFUSED");
    assert!(
        has(
            &e,
            "app/elsewhere has it in its external-dns hostname annotation, but it is in no external zone"
        ),
        "{:?}",
        e.reasons
    );
    let e = explain(manifests, "typo.example.com", &[]);
    assert!(has(&e, "ttl=\"ten\": not a duration"), "{:?}", e.reasons);
}

/// Offline, without `--external-zone`: a pod's name under an annotated hostname says which
/// Service asks for it and that no external zone holds it.
#[test]
fn a_pod_name_under_a_hostname_no_zone_serves_names_its_service() {
    let argv =
        ["headless-dns", "explain", "kafka-2.kafka.example.com", "--manifests", EXTERNAL, "--format", "json"];
    let command = parse_from(argv.iter().map(Into::into).collect()).expect("valid command").command;
    let Command::Explain(args) = command else { panic!("not explain") };
    let e: Explanation = serde_json::from_str(&app::explain(&args).expect("explain works")).unwrap();
    assert_eq!(e.rcode, "REFUSED");
    assert!(
        has(&e, "kafka/kafka has kafka.example.com in its external-dns hostname annotation, under which")
            && has(&e, "no external zone (--external-zone) holds it"),
        "{:?}",
        e.reasons
    );
}

/// A hostname that is only a wildcard publishes nothing: a pod's name under it names the
/// Service and the annotation left out.
#[test]
fn a_pod_name_under_a_wildcard_hostname_names_the_annotation_left_out() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["kafka.yaml", "nodes.yaml"] {
        let text = std::fs::read_to_string(format!("{EXTERNAL}/{file}")).unwrap();
        let text = text.replace("hostname: kafka.example.com\n", "hostname: \"*.kafka.example.com\"\n");
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let e = explain(dir.path().to_str().unwrap(), "kafka-0.kafka.example.com", &[]);
    assert_eq!(e.rcode, "NXDOMAIN");
    assert!(has(&e, "kafka/kafka asks for kafka.example.com"), "{:?}", e.reasons);
    assert!(has(&e, "\"*.kafka.example.com\": a wildcard is not published"), "{:?}", e.reasons);
}
