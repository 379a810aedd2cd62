//! The index thread: what is queued while it works is applied together and published
//! once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use super::*;
use crate::index::{PublishObserver, spawn};

/// Counts publications.
#[derive(Default)]
struct Publications(AtomicUsize);

impl PublishObserver for Publications {
    fn published(&self, _: Duration, _: &ClusterState, _: &Zones) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_burst_queued_while_the_index_works_is_one_publication_with_every_event() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let publications = Arc::new(Publications::default());
    let (handle, zones) = spawn(ZoneSettings::new("cluster.local").unwrap(), publications.clone());
    handle.send(Update::Batch(vec![service(), pod("p-0", [10, 0, 0, 1])]));
    handle.send(Update::Synced(true));
    runtime.block_on(handle.inspect(|_| ())).unwrap();
    let first = publications.0.load(Ordering::SeqCst);
    assert_eq!(first, 1, "the first load is one publication");

    // The index thread busy (here: a job that waits for the burst to be queued) ...
    let (release, wait) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let busy = handle.clone();
    let job = std::thread::spawn(move || {
        runtime.block_on(busy.inspect(move |_| {
            started.send(()).unwrap();
            wait.recv().unwrap()
        }))
    });
    running.recv().unwrap();
    const BURST: u8 = 200;
    // ... 200 pod events arrive: a rolling restart's new addresses.
    for i in 0..BURST {
        assert!(handle.send(pod(&format!("p-{i}"), [10, 0, 1, i])));
    }
    release.send(()).unwrap();
    job.join().unwrap().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(handle.inspect(|_| ())).unwrap();
    let burst = publications.0.load(Ordering::SeqCst) - first;
    assert!((1..usize::from(BURST)).contains(&burst), "{burst} publications for {BURST} events");
    assert!(burst <= 2, "what was queued is applied together: {burst} publications");
    // Every event is in what is served.
    let served = zones.load();
    let records = served.cluster().service("ns", "web").expect("served");
    let mut addresses: Vec<String> = records.endpoints.iter().map(|e| e.ip().to_string()).collect();
    addresses.sort();
    let mut expected: Vec<String> = (0..BURST).map(|i| format!("10.0.1.{i}")).collect();
    expected.sort();
    assert_eq!(addresses, expected);
}

#[test]
fn a_change_and_its_revision_are_published_together_so_the_serial_is_its_revision() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (handle, zones) = spawn(ZoneSettings::new("cluster.local").unwrap(), Arc::new(()));
    handle.send(Update::SerialsFromRevisions);
    handle.send_revised(1, Update::Batch(vec![service(), pod("p-0", [10, 0, 0, 1])]));
    handle.send(Update::Synced(true));
    runtime.block_on(handle.inspect(|_| ())).unwrap();
    assert_eq!(zones.load().cluster().serial(), 1, "the list's revision");
    // Bursts of changes with consecutive revisions, sent while the index thread commits
    // the previous ones: however it batched them, the serial after each burst is the
    // revision of its last change (one ahead if a commit had seen that revision without
    // its change, still 1 if the revisions were lost).
    let mut revision = 1;
    for burst in 0..400 {
        for _ in 0..=burst % 4 {
            revision += 1;
            let address = [10, 0, (revision >> 8) as u8, revision as u8];
            assert!(handle.send_revised(revision, pod("p-0", address)));
        }
        runtime.block_on(handle.inspect(|_| ())).unwrap();
        assert_eq!(zones.load().cluster().serial(), revision as u32, "after burst {burst}");
    }
}
