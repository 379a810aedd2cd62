//! Unit tests of pod records, `a-b-c-d.<ns>.pod.<zone>`, in the three `--pods` modes.

use hickory_proto::rr::RecordType;

use super::{ask, assert_nodata, assert_nxdomain, data};
use crate::cluster::{ClusterState, testing};
use crate::zone::zonefile::{self, ZoneFile, ZonePart};
use crate::zone::*;

pub(crate) fn pod(name: &str, ns: &str, phase: &str, ips: &[&str]) -> String {
    let list: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         status: {{phase: {phase}, podIPs: [{}]}}\n---\n",
        list.join(", ")
    )
}

fn zone_with(mode: PodRecords, yaml: &str) -> Zone {
    let mut state = ClusterState::new();
    for o in testing::objects(yaml) {
        state.apply(o);
    }
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.pods = mode;
    let mut zone = Zone::new(settings);
    zone.rebuild_all(&state);
    zone.set_synced(true);
    zone
}

fn cluster() -> String {
    format!(
        "{}{}{}",
        pod("a", "ns", "Running", &["10.0.0.1", "fd00::1"]),
        pod("b", "other", "Running", &["10.0.0.2"]),
        pod("gone", "ns", "Failed", &["10.0.0.3"]),
    )
}

#[test]
fn verified_answers_only_an_address_a_live_pod_of_that_namespace_has() {
    let z = zone_with(PodRecords::Verified, &cluster());
    assert_eq!(
        data(&ask(&z, "10-0-0-1.ns.pod.cluster.local.", RecordType::A).answers),
        ["10-0-0-1.ns.pod.cluster.local. 10.0.0.1"]
    );
    assert_eq!(
        data(&ask(&z, "fd00--1.ns.pod.cluster.local.", RecordType::AAAA).answers),
        ["fd00--1.ns.pod.cluster.local. fd00::1"]
    );
    // The other family: the name exists, NODATA.
    assert_nodata(&ask(&z, "10-0-0-1.ns.pod.cluster.local.", RecordType::AAAA), 5);
    // Another namespace's pod, a terminal pod, no pod: NXDOMAIN.
    assert_nxdomain(&ask(&z, "10-0-0-2.ns.pod.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "10-0-0-3.ns.pod.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "10-0-0-9.ns.pod.cluster.local.", RecordType::A));
    assert_eq!(ask(&z, "10-0-0-2.other.pod.cluster.local.", RecordType::A).answers.len(), 1);
    // Malformed and deeper names.
    assert_nxdomain(&ask(&z, "web-0.ns.pod.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "x.10-0-0-1.ns.pod.cluster.local.", RecordType::A));
    // The names above exist, so qname-minimising resolvers get through.
    assert_nodata(&ask(&z, "pod.cluster.local.", RecordType::A), 5);
    assert_nodata(&ask(&z, "ns.pod.cluster.local.", RecordType::A), 5);
}

#[test]
fn insecure_answers_any_well_formed_name_and_disabled_none() {
    let z = zone_with(PodRecords::Insecure, &cluster());
    for (name, ip) in
        [("10-0-0-9.nowhere", "10.0.0.9"), ("10-0-0-3.ns", "10.0.0.3"), ("fd00--7.x", "fd00::7")]
    {
        let qtype = if ip.contains(':') { RecordType::AAAA } else { RecordType::A };
        let owner = format!("{name}.pod.cluster.local.");
        assert_eq!(data(&ask(&z, &owner, qtype).answers), [format!("{owner} {ip}")]);
    }
    assert_nxdomain(&ask(&z, "10-0-0-300.ns.pod.cluster.local.", RecordType::A));
    let z = zone_with(PodRecords::Disabled, &cluster());
    assert_nxdomain(&ask(&z, "10-0-0-1.ns.pod.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "ns.pod.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "pod.cluster.local.", RecordType::A));
}

#[test]
fn verified_pod_records_are_in_the_zone_file() {
    let z = zone_with(PodRecords::Verified, &cluster());
    let text = z.zone_file(zonefile::ZoneFile::Forward);
    assert!(text.contains("10-0-0-1.ns.pod.cluster.local.\t5\tIN\tA\t10.0.0.1"), "{text}");
    assert!(text.contains("fd00--1.ns.pod.cluster.local.\t5\tIN\tAAAA\tfd00::1"), "{text}");
    assert!(!text.contains("10-0-0-3"), "a terminal pod's record: {text}");
    let z = zone_with(PodRecords::Insecure, &cluster());
    assert!(!z.zone_file(zonefile::ZoneFile::Forward).contains(".pod."));
}

#[test]
fn zone_file_parts_list_every_pod_record_once_in_chunks() {
    // 2,300 pods: IPv4 and IPv6, two pods on one address (in two namespaces, and twice in
    // one) right where the first chunk would end, and a terminal pod.
    let mut yaml = String::new();
    for i in 0..2300u32 {
        let v4 = format!("10.1.{}.{}", i / 256, i % 256);
        let v6 = format!("fd00::{:x}", i + 1);
        yaml += &pod(&format!("p{i}"), "ns", "Running", &[&v4, &v6]);
    }
    yaml += &pod("twin", "other", "Running", &["10.1.4.0"]); // address of p1024
    yaml += &pod("twin2", "ns", "Running", &["10.1.4.0"]);
    yaml += &pod("dead", "ns", "Failed", &["10.9.9.9"]);
    let z = zone_with(PodRecords::Verified, &yaml);
    let parts: Vec<ZonePart> = z
        .zone_parts(ZoneFile::Forward)
        .into_iter()
        .filter(|p| matches!(p, ZonePart::PodRecords(..)))
        .collect();
    assert!(parts.len() >= 4, "{} chunks", parts.len());
    let mut names = Vec::new();
    for part in &parts {
        let mut queries = Vec::new();
        z.part_queries(part, &mut queries);
        assert!(queries.len() <= 1024 + 2, "{part:?}: {} questions", queries.len());
        names.extend(queries.into_iter().map(|(name, _)| name.to_ascii()));
    }
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "a pod record listed twice");
    assert_eq!(names.len(), 2300 * 2 + 1, "every live address once per namespace");
    assert!(names.contains(&"10-1-4-0.other.pod.cluster.local.".to_owned()));
    assert!(!names.iter().any(|n| n.starts_with("10-9-9-9.")), "a terminal pod has no record");
    // In disabled mode nothing is listed.
    let z = zone_with(PodRecords::Disabled, &yaml);
    assert!(!z.zone_parts(ZoneFile::Forward).iter().any(|p| matches!(p, ZonePart::PodRecords(..))));
}
