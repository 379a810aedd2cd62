//! The rule that names a question's group, and the change log's window.

use std::net::IpAddr;

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;

use super::*;
use crate::zone::ZoneSettings;
use crate::zone::tests::{SERVICE, basic, sts_pod, zones_with};

fn wire(name: &str) -> Vec<u8> {
    Name::from_ascii(name).unwrap().to_bytes().unwrap()
}

fn group(zones: &Zones, name: &str) -> Group {
    zones.group_of(&wire(name)).group
}

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey { namespace: namespace.into(), name: name.into() }
}

fn cluster_zones() -> Zones {
    let mut zones = Zones::new(ZoneSettings::new("cluster.local").unwrap());
    *zones.cluster_mut() = basic();
    zones
}

#[test]
fn every_name_below_a_service_is_in_the_services_group_or_its_labels() {
    let zones = cluster_zones();
    let svc1 = Group::service(false, &key("ns", "svc1"));
    for name in [
        "svc1.ns.svc.cluster.local.",
        "_http._tcp.svc1.ns.svc.cluster.local.",
        "_tcp.svc1.ns.svc.cluster.local.",
        "a.b.c.svc1.ns.svc.cluster.local.",
    ] {
        assert_eq!(group(&zones, name), svc1, "{name}");
    }
    // A label's own answer has a group of its own, in any case.
    for (name, label) in [
        ("web-0.svc1.ns.svc.cluster.local.", "web-0"),
        ("WEB-1.Svc1.NS.svc.Cluster.Local.", "web-1"),
        ("no-such-pod.svc1.ns.svc.cluster.local.", "no-such-pod"),
    ] {
        assert_eq!(group(&zones, name), Group::label(&key("ns", "svc1"), label), "{name}");
        assert_ne!(Group::label(&key("ns", "svc1"), label), svc1);
    }
    assert_ne!(Group::label(&key("ns", "svc1"), "web-0"), Group::label(&key("ns", "svc2"), "web-0"));
    // A service that does not exist yet: the group its creation changes.
    assert_eq!(group(&zones, "later.ns.svc.cluster.local."), Group::service(false, &key("ns", "later")));
    assert_ne!(group(&zones, "svc1.other.svc.cluster.local."), svc1);
    assert_eq!(group(&zones, "ns.svc.cluster.local."), Group::namespace(false, "ns"));
    assert_ne!(Group::namespace(false, "ns"), svc1);
}

#[test]
fn addresses_pod_records_and_fixed_names_have_their_groups() {
    let zones = cluster_zones();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(group(&zones, "1.0.0.10.in-addr.arpa."), Group::address(ip("10.0.0.1")));
    assert_eq!(group(&zones, "1.0.0.10.IN-ADDR.ARPA."), Group::address(ip("10.0.0.1")));
    let v6 = Name::from(ip("fd00::2")).to_ascii();
    assert_eq!(group(&zones, &v6), Group::address(ip("fd00::2")));
    for partial in
        ["0.10.in-addr.arpa.", "in-addr.arpa.", "01.0.0.10.in-addr.arpa.", "x.0.0.10.in-addr.arpa."]
    {
        assert_eq!(group(&zones, partial), Group::reverse_prefix(), "{partial}");
    }
    assert_eq!(group(&zones, "10-0-0-1.ns.pod.cluster.local."), Group::pod_address(ip("10.0.0.1")));
    assert_eq!(group(&zones, "fd00--2.ns.pod.cluster.local."), Group::pod_address(ip("fd00::2")));
    for fixed in [
        "cluster.local.",
        "dns-version.cluster.local.",
        "ns.dns.cluster.local.",
        "svc.cluster.local.",
        "pod.cluster.local.",
        "ns.pod.cluster.local.",
        "nope.pod.ns.pod.cluster.local.",
        "nothing.cluster.local.",
        "example.com.",
    ] {
        assert!(group(&zones, fixed).is_static(), "{fixed}");
    }
    let serial_of = |name: &str| zones.group_of(&wire(name)).serial_of;
    assert_eq!(serial_of("web-0.svc1.ns.svc.cluster.local."), Some(0));
    assert_eq!(serial_of("1.0.0.10.in-addr.arpa."), Some(0));
    assert_eq!(serial_of("example.com."), None);
}

#[test]
fn an_external_name_into_the_zone_is_volatile_and_one_out_of_it_is_not() {
    let yaml = format!(
        "{SERVICE}{}apiVersion: v1\nkind: Service\nmetadata: {{name: alias, namespace: ns}}\n\
         spec: {{type: ExternalName, externalName: svc1.ns.svc.cluster.local}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: ns}}\n\
         spec: {{type: ExternalName, externalName: db.example.com}}\n",
        sts_pod("web-0", &["10.0.0.1"], true)
    );
    let zones = zones_with(ZoneSettings::new("cluster.local").unwrap(), &yaml);
    assert_eq!(group(&zones, "alias.ns.svc.cluster.local."), Group::volatile());
    assert_eq!(group(&zones, "db.ns.svc.cluster.local."), Group::service(false, &key("ns", "db")));
}

#[test]
fn the_multicluster_zones_names_have_groups_of_their_own() {
    let zones = zones_with(crate::zone::tests::multicluster::settings(Some("c1")), SERVICE);
    let grouped = zones.group_of(&wire("web-0.c1.svc1.ns.svc.clusterset.local."));
    assert_eq!(grouped.group, Group::service(true, &key("ns", "svc1")));
    assert_ne!(grouped.group, Group::service(false, &key("ns", "svc1")));
    assert_eq!(grouped.serial_of, Some(1));
}

#[test]
fn a_change_log_tells_what_changed_since_a_position_within_its_window() {
    let mut log = ChangeLog::default();
    let start = log.position();
    let one = Invalidation::Groups(vec![Group::address("10.0.0.1".parse().unwrap())].into());
    log.push(one.clone());
    log.push(Invalidation::All);
    let since: Vec<&Invalidation> = log.since(start).unwrap().collect();
    assert_eq!(since, [&one, &Invalidation::All]);
    assert_eq!(log.since(log.position()).unwrap().count(), 0);
    // Another index's log, or a position the log no longer reaches: unknown.
    assert!(ChangeLog::default().since(start).is_none());
    for _ in 0..WINDOW_PUBLICATIONS {
        log.push(one.clone());
    }
    assert!(log.since(start).is_none());
    // Bounded by groups too: publications of many groups each leave the window sooner.
    let mut log = ChangeLog::default();
    let many = Invalidation::Groups(
        (0..WINDOW_GROUPS / 4)
            .map(|i| Group::address(std::net::IpAddr::from((i as u32).to_be_bytes())))
            .collect(),
    );
    let start = log.position();
    log.push(many.clone());
    let after_first = log.position();
    for _ in 0..3 {
        log.push(many.clone());
    }
    assert_eq!(log.since(start).unwrap().count(), 4, "four quarters fit");
    log.push(many.clone());
    assert!(log.since(start).is_none(), "the first quarter left");
    assert_eq!(log.since(after_first).unwrap().count(), 4);
    let mut recent = log.clone();
    let position = recent.position();
    recent.push(Invalidation::All);
    assert_eq!(recent.since(position).unwrap().count(), 1);
}
