//! `manifests::parse` on arbitrary text, as YAML (`.yaml`, `.yml`) and JSON (`.json`).
//!
//! The first byte picks the file name; the rest is the text (invalid UTF-8 is replaced,
//! as a lossy reader would). Invariants: never panics; errors and skipped objects are
//! `Display`able and name the file; every object the parser returns is usable (non-empty
//! name and namespace, pods without duplicate IPs, StatefulSets with a service name,
//! services without an empty selector, port names or targetPort names).
//!
//! The cut reading (a YAML stream document by document, a `List` item by item) reads
//! exactly what the whole-text reading does (`manifests::parse_whole`): the same objects,
//! the same skipped ones with the same messages, the same error. And a reload's reading,
//! which takes the pieces an earlier version of the file also had as unchanged
//! (`manifests::parse_again`), reads the same objects as a fresh one: the earlier version
//! is the text before a `\x01` byte when there is one (the text after it is the new
//! one), else the text with its first `---` document moved to the end.
#![no_main]

use std::path::Path;

use headless_dns::cluster::{Object, TargetPort};
use headless_dns::source::manifests::{self, ManifestError};
use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 4] = ["m.yaml", "m.json", "dir/m.yml", "list.json"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(text);
    let path = Path::new(PATHS[usize::from(selector) % PATHS.len()]);
    let (before, text) = match text.split_once('\u{1}') {
        Some((before, text)) => (before.to_owned(), text.to_owned()),
        None => (moved(&text), text.into_owned()),
    };
    let parsed = manifests::parse(path, &text);
    let whole = manifests::parse_whole(path, &text);
    match (&parsed, &whole) {
        (Ok(cut), Ok(whole)) => {
            assert_eq!(cut.objects, whole.objects, "cut and whole readings differ");
            assert_eq!(spelled(&cut.skipped), spelled(&whole.skipped), "cut and whole readings differ");
        }
        (Err(cut), Err(whole)) => assert_eq!(cut.to_string(), whole.to_string()),
        _ => panic!("cut and whole readings differ: {parsed:?} / {whole:?}"),
    }
    if let (Ok(fresh), Ok(again)) = (&parsed, manifests::parse_again(path, &before, &text)) {
        assert_eq!(fresh.objects, again.objects, "a reload reads other objects than a fresh reading");
        let skipped = |f: &manifests::FileObjects| {
            f.skipped.iter().map(|s| (s.error.clone(), s.object.clone())).collect::<Vec<_>>()
        };
        assert_eq!(skipped(fresh), skipped(&again));
    }
    match parsed {
        Ok(parsed) => {
            for skipped in &parsed.skipped {
                let message = skipped.to_string();
                assert!(message.starts_with(&*path.to_string_lossy()), "{message}");
                assert!(skipped.document >= 1);
                let _ = format!("{:?}", skipped.error);
            }
            for object in &parsed.objects {
                check_object(object);
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(message.starts_with(&*path.to_string_lossy()), "{message}");
            assert!(matches!(error, ManifestError::Syntax { .. }), "parse only reports syntax errors: {error:?}");
        }
    }
});

/// The text with its first `---`-separated document moved to the end.
fn moved(text: &str) -> String {
    match text.split_once("\n---") {
        Some((first, rest)) => format!("{}\n---\n{first}\n", rest.trim_start_matches(|c| c != '\n')),
        None => text.to_owned(),
    }
}

fn spelled(skipped: &[manifests::Skipped]) -> Vec<String> {
    skipped.iter().map(ToString::to_string).collect()
}

fn check_object(object: &Object) {
    let key = object.key();
    assert!(!key.name.is_empty(), "empty name: {object:?}");
    // ClusterProperties and Nodes are cluster-scoped: the only keys without a namespace.
    let cluster_scoped = matches!(object, Object::ClusterProperty(_) | Object::Node(_));
    assert!(key.namespace.is_empty() == cluster_scoped, "namespace: {object:?}");
    match object {
        Object::Pod(pod) => {
            let ips = pod.ips.to_vec();
            for (i, ip) in ips.iter().enumerate() {
                assert!(!ips[..i].contains(ip), "duplicate pod IP: {object:?}");
            }
            assert!(pod.hostname().map(|h| &**h) != Some(""), "empty hostname: {object:?}");
            assert!(pod.subdomain().map(|s| &**s) != Some(""), "empty subdomain: {object:?}");
        }
        Object::Service(svc) => {
            assert!(svc.selector.as_ref().is_none_or(|s| !s.is_empty()), "empty selector kept: {object:?}");
            for port in &svc.ports {
                assert!(port.name.as_deref() != Some(""), "empty port name: {object:?}");
                if let TargetPort::Name(name) = &port.target_port {
                    assert!(!name.is_empty(), "empty targetPort name: {object:?}");
                }
            }
            if let Some(external) = &svc.external {
                // Every kept name is usable; every dropped value is explained.
                for name in &external.hostnames {
                    assert!(!name.is_empty() && !name.starts_with("*.") && name.len() <= 253, "{object:?}");
                    assert!(!name.ends_with('.') && name.to_ascii_lowercase() == **name, "{object:?}");
                }
                assert!(external.ttl.is_none_or(|ttl| (1..=i32::MAX as u32).contains(&ttl)), "{object:?}");
                assert_eq!(external.node_ports.len(), svc.ports.len(), "{object:?}");
                assert!(external.problems.iter().all(|p| !p.reason.is_empty()), "{object:?}");
            }
        }
        Object::StatefulSet(sts) => {
            assert!(!sts.service_name.is_empty(), "empty serviceName: {object:?}");
        }
        Object::EndpointSlice(slice) => {
            assert!(slice.service_name.as_deref() != Some(""), "empty service name kept: {object:?}");
            for endpoint in &slice.endpoints {
                for (i, ip) in endpoint.addresses.iter().enumerate() {
                    assert!(!endpoint.addresses[..i].contains(ip), "duplicate slice address: {object:?}");
                }
                assert!(endpoint.hostname.as_deref() != Some(""), "empty hostname: {object:?}");
            }
            assert!(slice.ports.iter().all(|p| p.port != 0 && p.name.as_deref() != Some("")), "{object:?}");
            if let Some(origin) = &slice.multicluster {
                assert!(!origin.service.is_empty() && !origin.cluster.is_empty(), "{object:?}");
            }
        }
        Object::ServiceImport(import) => {
            assert!(import.ports.iter().all(|p| p.port != 0 && p.name.as_deref() != Some("")), "{object:?}");
            for (i, ip) in import.ips.iter().enumerate() {
                assert!(!import.ips[..i].contains(ip), "duplicate ClusterSet IP: {object:?}");
            }
        }
        Object::ServiceExport(_) => {}
        Object::Node(node) => {
            for ips in [&node.external_ips, &node.internal_ips] {
                for (i, ip) in ips.iter().enumerate() {
                    assert!(!ips[..i].contains(ip), "duplicate node address: {object:?}");
                }
            }
        }
        Object::ClusterProperty(property) => {
            if &*key.name == "id.k8s.io" {
                assert!(headless_dns::zone::records::is_dns_label(&property.value), "{object:?}");
            }
        }
    }
}
