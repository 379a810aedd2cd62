//! Unit tests of the index: updates in, published zones out (no I/O). Besides the first
//! build and the reverse index, the incremental commits of each record rule
//! ([`rebuilds`]), serials and journals, and the multicluster zone's ([`multicluster`]).

mod multicluster;
mod rebuilds;
mod thread;

use std::sync::Arc;

use super::*;
use crate::cluster::{Pod, Service};

fn service() -> Update {
    Update::Apply(Object::Service(Arc::new(Service {
        key: ObjectKey { namespace: "ns".into(), name: "web".into() },
        headless: true,
        selector: Some([("app".into(), "web".into())].into()),
        ports: Box::new([]),
        publish_not_ready: false,
        cluster_ips: Box::new([]),
        external_name: None,
        external: None,
    })))
}

fn pod(name: &str, ip: [u8; 4]) -> Update {
    Update::Apply(Object::Pod(Arc::new(Pod {
        key: ObjectKey { namespace: "ns".into(), name: name.into() },
        template: crate::cluster::PodTemplate::new(
            [("app".into(), "web".into())].into(),
            Default::default(),
            Default::default(),
        ),
        ips: crate::cluster::Addresses::from([ip.into()]),
        ready_condition: true,
        terminating: false,
        phase: crate::cluster::Phase::Running,
        placement: crate::cluster::Placement::NONE,
    })))
}

#[test]
fn the_zone_is_built_once_when_the_first_load_completes() {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    index.apply(Update::Batch(vec![service(), pod("a", [10, 0, 0, 1])]));
    assert!(index.commit().is_none(), "an unsynced zone answers SERVFAIL: nothing to publish");
    index.apply(Update::Batch(vec![pod("b", [10, 0, 0, 2])]));
    assert!(index.commit().is_none());
    assert_eq!(index.zones().cluster().service_count(), 0, "no intermediate zone was built");
    index.apply(Update::Synced(true));
    let zone = index.commit().expect("the first synced zone is published");
    assert!(zone.is_synced());
    let records = zone.cluster().service("ns", "web").expect("built from every chunk");
    assert_eq!(records.endpoints.len(), 2);
    // Once synced, a lost sync still publishes (SERVFAIL) and later changes are built.
    index.apply(Update::Synced(false));
    assert!(!index.commit().expect("the loss of sync is published").is_synced());
    index.apply(pod("c", [10, 0, 0, 3]));
    let zone = index.commit().expect("built while unsynced after the first sync");
    assert_eq!(zone.cluster().service("ns", "web").map(|r| r.endpoints.len()), Some(3));
}

#[test]
fn the_first_zone_builds_its_reverse_index_at_once_and_keeps_it_in_step_after() {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let Update::Apply(Object::Service(web)) = service() else { unreachable!() };
    let mut web2 = (*web).clone();
    web2.key.name = "web2".into();
    let web2 = Update::Apply(Object::Service(Arc::new(web2)));
    index.apply(Update::Batch(vec![service(), web2, pod("a", [10, 0, 0, 1]), pod("b", [10, 0, 0, 2])]));
    index.apply(Update::Synced(true));
    let zone = index.commit().expect("published");
    // The same records inserted pair by pair, as every later build does.
    let mut incremental = Zone::new(ZoneSettings::new("cluster.local").unwrap());
    incremental.rebuild_all(index.state());
    assert_eq!(zone.cluster().reverse_len(), 2, "two addresses, each published by two services");
    assert_eq!(zone.cluster().reverse_len(), incremental.reverse_len());
    assert_eq!(zone.cluster().reverse_addresses(true), incremental.reverse_addresses(true));
    index.apply(pod("c", [10, 0, 0, 3]));
    assert_eq!(index.commit().expect("changed").cluster().reverse_len(), 3);
    index.apply(Update::Delete(Kind::Pod, ObjectKey { namespace: "ns".into(), name: "a".into() }));
    let zone = index.commit().expect("changed");
    assert_eq!(zone.cluster().reverse_len(), 2);
    assert_eq!(
        zone.cluster().reverse_addresses(true),
        ["10.0.0.2".parse::<std::net::IpAddr>().unwrap(), "10.0.0.3".parse().unwrap()]
    );
}

#[test]
fn a_relist_publishes_nothing_until_it_completes_and_a_list_cut_short_nothing_of_its_own() {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    index.apply(Update::Batch(vec![service(), pod("a", [10, 0, 0, 1]), pod("b", [10, 0, 0, 2])]));
    index.apply(Update::Synced(true));
    let first = index.commit().expect("published");
    let addresses = |zones: &Zones| {
        let records = zones.cluster().service("ns", "web").expect("served");
        records.endpoints.iter().map(|e| e.ip().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(addresses(&first), ["10.0.0.1", "10.0.0.2"]);
    // A relist (after a 410) applies a's new address, then its list is cut short.
    index.apply(Update::BeginResync(Kind::Pod));
    index.apply(pod("a", [10, 0, 0, 9]));
    assert!(index.commit().is_none(), "a relist in progress publishes nothing");
    index.apply(Update::ListFailed(Kind::Pod));
    assert!(index.commit().is_none(), "a list cut short publishes nothing of its own");
    // The relist starts over and completes: a moved, b gone, c new, all at once.
    index.apply(Update::BeginResync(Kind::Pod));
    index.apply(pod("a", [10, 0, 0, 9]));
    assert!(index.commit().is_none());
    index.apply(pod("c", [10, 0, 0, 3]));
    index.apply(Update::FinishResync(Kind::Pod));
    let relisted = index.commit().expect("the completed relist is published");
    assert_eq!(addresses(&relisted), ["10.0.0.3", "10.0.0.9"]);
    // A list refused before it applied anything (RBAC) holds nothing back.
    index.apply(Update::BeginResync(Kind::EndpointSlice));
    index.apply(Update::ListFailed(Kind::EndpointSlice));
    index.apply(pod("d", [10, 0, 0, 4]));
    let next = index.commit().expect("published at once");
    assert_eq!(addresses(&next), ["10.0.0.3", "10.0.0.4", "10.0.0.9"]);
}
