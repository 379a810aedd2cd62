//! Unit tests of a pod's wire form: what is kept, trimmed and refused.

use super::*;
use crate::cluster::objects::{Kind, Object};
use serde_json::json;

#[test]
fn pod_prefers_pod_ips_and_reads_readiness() {
    let pod = Object::from_json(
        Kind::Pod,
        json!({"metadata": {"name": "web-0", "namespace": "db", "labels": {"app": "web"}},
               "spec": {"hostname": "web-0", "subdomain": "nginx",
                        "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]},
               "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    )
    .unwrap();
    let Object::Pod(pod) = pod else { panic!("not a pod") };
    assert_eq!(pod.label("app"), Some("web"));
    assert_eq!(pod.key.to_string(), "db/web-0");
    assert_eq!(pod.ips.to_vec(), ["10.0.0.1".parse::<IpAddr>().unwrap(), "fd00::1".parse().unwrap()]);
    assert!(pod.ready_condition);
    assert!(!pod.terminating);
    assert_eq!(pod.phase, Phase::Unknown);
    assert_eq!(pod.ports()[0].port, 8080);
    assert_eq!(pod.ports()[0].protocol, Protocol::Tcp);
}

#[test]
fn a_pod_fits_an_80_byte_allocation_with_its_reference_counts() {
    // A million pods: a field more, and each takes a 96-byte allocator bin instead.
    assert!(std::mem::size_of::<Pod>() + 2 * std::mem::size_of::<usize>() <= 80);
}

#[test]
fn the_pods_of_a_statefulset_share_their_naming() {
    let a = Naming::new(Some("web-0".into()), Some("nginx".into()), "web-0");
    let b = Naming::new(Some("web-1".into()), Some("nginx".into()), "web-1");
    assert_eq!(a, b, "hostname = the pod's name in both");
    let other = Naming::new(Some("web-0".into()), Some("nginx".into()), "web-1");
    assert_ne!(a, other);
    assert_eq!(Naming::new(None, None, "x"), Naming::default());
}

#[test]
fn pod_without_status_is_an_error_not_a_panic() {
    let err = Object::from_json(Kind::Pod, json!({"metadata": {"name": "x"}})).unwrap_err();
    assert!(err.to_string().contains("status is missing"), "{err}");
}

#[test]
fn pod_with_garbage_ip_is_rejected() {
    let err =
        Object::from_json(Kind::Pod, json!({"metadata": {"name": "x"}, "status": {"podIP": "not-an-ip"}}))
            .unwrap_err();
    assert!(matches!(err, ObjectError::InvalidField { field: "status.podIP", .. }), "{err}");
    let err = Object::from_json(
        Kind::Pod,
        json!({"metadata": {"name": "x"}, "status": {"podIPs": [{"ip": "1.2.3"}]}}),
    )
    .unwrap_err();
    assert!(matches!(err, ObjectError::InvalidField { field: "status.podIPs", .. }), "{err}");
}

/// The API server keeps podIP equal to podIPs[0]; a hand edit of one alone is refused (the
/// last good version is then served), not silently ignored.
#[test]
fn a_pod_ip_that_is_not_the_first_of_pod_ips_is_rejected() {
    let pod = |pod_ip: &str| {
        json!({"metadata": {"name": "x"},
            "status": {"podIP": pod_ip, "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}})
    };
    for bad in ["10.0.0.300", "10.0.0.2", "fd00::1"] {
        let err = Object::from_json(Kind::Pod, pod(bad)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Pod default/x: status.podIP (it must be status.podIPs[0]) has an invalid value {bad:?}")
        );
    }
    assert!(Object::from_json(Kind::Pod, pod("10.0.0.1")).is_ok());
    assert!(Object::from_json(Kind::Pod, pod("")).is_ok(), "an empty podIP is no podIP");
}

#[test]
fn pod_reads_its_node_and_host_addresses_into_a_shared_placement() {
    let parse = |spec: serde_json::Value, status: serde_json::Value| {
        let mut status = status;
        status["podIP"] = json!("10.0.0.1");
        let Object::Pod(pod) =
            Object::from_json(Kind::Pod, json!({"metadata": {"name": "x"}, "spec": spec, "status": status}))
                .unwrap()
        else {
            panic!("not a pod")
        };
        pod
    };
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let dual = parse(
        json!({"nodeName": "worker-a.example.internal"}),
        json!({"hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}, {"ip": "2001:db8::10"}]}),
    );
    assert_eq!(dual.placement.node().as_deref(), Some("worker-a.example.internal"));
    assert_eq!(&*dual.placement.host_ips(), [ip("192.0.2.10"), ip("2001:db8::10")]);
    // hostIP alone (before hostIPs existed); an unusable one is left out, not fatal.
    let single = parse(json!({"nodeName": "worker-a.example.internal"}), json!({"hostIP": "192.0.2.10"}));
    assert_eq!(&*single.placement.host_ips(), [ip("192.0.2.10")]);
    let bad = parse(json!({"nodeName": "worker-a.example.internal"}), json!({"hostIP": "nope"}));
    assert!(bad.placement.host_ips().is_empty());
    assert_eq!(bad.placement.node().as_deref(), Some("worker-a.example.internal"));
    // The pods of one node share it; pending pods have none.
    let other = parse(
        json!({"nodeName": "worker-a.example.internal"}),
        json!({"hostIPs": [{"ip": "192.0.2.10"}, {"ip": "2001:db8::10"}]}),
    );
    assert_eq!(other.placement, dual.placement);
    assert_eq!(parse(json!({}), json!({})).placement, Placement::NONE);
    // Equality (what skips an unchanged pod) includes it.
    assert_ne!(*single, *dual);
    assert_eq!(Pod { placement: dual.placement, ..(*single).clone() }, *dual);
}

#[test]
fn pod_reads_its_phase() {
    for (phase, expected, terminal) in [
        ("Running", Phase::Running, false),
        ("Pending", Phase::Pending, false),
        ("Failed", Phase::Failed, true),
        ("Succeeded", Phase::Succeeded, true),
        ("Bogus", Phase::Unknown, false),
    ] {
        let Object::Pod(pod) = Object::from_json(
            Kind::Pod,
            json!({"metadata": {"name": "x"}, "status": {"phase": phase, "podIP": "10.0.0.1"}}),
        )
        .unwrap() else {
            panic!("not a pod")
        };
        assert_eq!((pod.phase, pod.phase.is_terminal()), (expected, terminal), "{phase}");
    }
}

#[test]
fn what_the_api_server_would_refuse_is_refused_naming_the_field() {
    let pod = |metadata: serde_json::Value, spec: serde_json::Value| {
        Object::from_json(
            Kind::Pod,
            json!({"metadata": metadata, "spec": spec, "status": {"podIP": "10.0.0.1"}}),
        )
    };
    let name = json!({"name": "web-2"});
    let refused = |metadata: serde_json::Value, spec: serde_json::Value| {
        pod(metadata, spec).expect_err("refused").to_string()
    };
    // A hostname or subdomain that is not a DNS label would publish a name nobody asks for.
    assert_eq!(
        refused(name.clone(), json!({"hostname": "Web_2", "subdomain": "nginx"})),
        "Pod default/web-2: spec.hostname (a DNS label: a-z, 0-9 and '-') has an invalid value \"Web_2\""
    );
    assert_eq!(
        refused(name.clone(), json!({"hostname": "web-2", "subdomain": "ngi.nx"})),
        "Pod default/web-2: spec.subdomain (a DNS label: a-z, 0-9 and '-') has an invalid value \"ngi.nx\""
    );
    // Every container port is checked, named or not: none silently leaves the SRV records.
    let ports = |port: serde_json::Value| json!({"containers": [{"ports": [port]}]});
    assert_eq!(
        refused(name.clone(), ports(json!({"name": "http", "containerPort": 70000}))),
        "Pod default/web-2: spec.containers[].ports[].containerPort (1-65535) has an invalid value \"70000\""
    );
    assert!(refused(name.clone(), ports(json!({"containerPort": 0}))).contains("containerPort"));
    assert_eq!(
        refused(name.clone(), ports(json!({"name": "dns", "containerPort": 53, "protocol": "udp"}))),
        "Pod default/web-2: spec.containers[].ports[].protocol (TCP, UDP or SCTP) has an invalid value \"udp\""
    );
    // Names and namespaces as Kubernetes requires them.
    assert_eq!(
        refused(json!({"name": "Web_1!"}), json!({})),
        "Pod default/Web_1!: metadata.name (a DNS subdomain: a-z, 0-9, '-' and '.') has an invalid value \"Web_1!\""
    );
    assert_eq!(
        refused(json!({"name": "web-1", "namespace": "Default!"}), json!({})),
        "Pod Default!/web-1: metadata.namespace (a DNS label: a-z, 0-9 and '-') has an invalid value \"Default!\""
    );
    // What is valid still reads: a dotted pod name, an unnamed port, no hostname.
    let ok = pod(json!({"name": "web.0"}), ports(json!({"containerPort": 8080}))).unwrap();
    let Object::Pod(ok) = ok else { panic!("not a pod") };
    assert!(ok.ports().is_empty() && ok.hostname().is_none());
}
