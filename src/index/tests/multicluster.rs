//! The index's commits of the multicluster zone: incremental changes, its own serial and
//! journal, and its sync apart from the cluster zone's.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::cluster::{Kind, ObjectKey, testing};
use crate::index::{Index, Update};
use crate::zone::tests::multicluster::{CS, LOCAL, mcs_slice, settings, two_clusters};
use crate::zone::tests::{ask, assert_nxdomain, sts_pod};

fn updates(yaml: &str) -> Vec<Update> {
    testing::objects(yaml).into_iter().map(Update::Apply).collect()
}

/// An index loaded with `yaml`, synced, with `--cluster-id` = `cluster_id`.
fn index(yaml: &str, cluster_id: Option<&str>) -> Index {
    let mut index = Index::new(settings(cluster_id));
    index.apply(Update::Batch(updates(yaml)));
    index.apply(Update::Synced(true));
    index.commit().expect("the first synced zone");
    index
}

#[test]
fn changes_are_incremental_a_slice_moving_between_clusters_renames_its_endpoints() {
    let mut index = index(&two_clusters(), None);
    let before = index.zones().multicluster().unwrap().serial();
    // The slice of west now says north (the same object, relabelled).
    index.apply(Update::Batch(updates(&mcs_slice(
        "svc1-west",
        "north",
        "{addresses: [10.1.0.1], hostname: web-5}",
    ))));
    let z = index.commit().expect("a change is published");
    assert_nxdomain(&ask(&z, &format!("web-0.west.{CS}"), RecordType::A));
    assert_eq!(ask(&z, &format!("web-5.north.{CS}"), RecordType::A).answers.len(), 1);
    assert_eq!(
        ask(&z, &format!("web-0.north.{CS}"), RecordType::A).answers.len(),
        1,
        "the other slice stays"
    );
    assert!(z.multicluster().unwrap().serial() != before, "the multicluster serial moved");
    // The journal has the difference, for IXFR of the multicluster zone.
    assert_eq!(z.multicluster().unwrap().journal().depth(), 1);
    // Deleting the import removes every name.
    index.apply(Update::Delete(
        Kind::ServiceImport,
        ObjectKey { namespace: "ns".into(), name: "svc1".into() },
    ));
    let z = index.commit().expect("a change is published");
    assert_nxdomain(&ask(&z, &format!("web-0.north.{CS}"), RecordType::A));
}

#[test]
fn the_multicluster_zone_answers_servfail_until_its_kinds_are_synced() {
    let mut index = Index::new(settings(None));
    index.apply(Update::MulticlusterSynced(false));
    index.apply(Update::Batch(updates(&format!(
        "{LOCAL}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        two_clusters()
    ))));
    index.apply(Update::Synced(true));
    let z = index.commit().expect("the cluster zone is synced");
    assert_eq!(ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).answers.len(), 1);
    assert_eq!(ask(&z, CS, RecordType::A).rcode, ResponseCode::ServFail);
    index.apply(Update::MulticlusterSynced(true));
    let z = index.commit().expect("the multicluster zone is synced");
    assert_eq!(ask(&z, CS, RecordType::A).answers.len(), 3);
}
