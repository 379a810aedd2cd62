//! Rebuilding the zone from the cluster state: every service (a load) or only the ones a
//! change touched, with their PTR entries and counters.

use std::sync::Arc;

use super::Zone;
use super::build;
use super::records::ServiceRecords;
use crate::cluster::SharedStr;
use crate::cluster::{ClusterState, ObjectKey, Touched};

impl Zone {
    /// Rebuilds every service and the pod records from `state` (a full load). Returns the
    /// services that changed.
    pub fn rebuild_all(&mut self, state: &ClusterState) -> Vec<ObjectKey> {
        let mut keys: Touched = self.services().map(|(k, _)| k).collect();
        for (ns_name, ns) in state.namespaces() {
            keys.extend(
                ns.services.keys().map(|name| ObjectKey { namespace: ns_name.clone(), name: name.clone() }),
            );
        }
        let changed = self.rebuild(state, &keys, &crate::cluster::Changes::default());
        self.sync_pods(state);
        changed
    }

    /// Rebuilds the records of the `touched` services from `state`, knowing what `changes`
    /// the state saw since the last rebuild: a service whose definition did not change is
    /// rebuilt from its previous members plus the changed pods, instead of scanning its
    /// namespace (no changes known: every touched service from its namespace). Returns the services whose records changed (a touched
    /// service can come out the same: a pod's unrelated field changed), so that the serial
    /// moves only when there is one and replicas in the same state keep the same serial.
    pub fn rebuild(
        &mut self,
        state: &ClusterState,
        touched: &Touched,
        changes: &crate::cluster::Changes,
    ) -> Vec<ObjectKey> {
        let mut changed = Vec::new();
        if touched.is_empty() {
            return changed;
        }
        // Rebuilding many services of one namespace (a load, a relist): index its pods by
        // label once instead of scanning them all for every service.
        let mut per_namespace: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for key in touched {
            *per_namespace.entry(&key.namespace).or_default() += 1;
        }
        let mut indexes: std::collections::HashMap<&str, build::PodsByLabel<'_>> =
            std::collections::HashMap::new();
        for key in touched {
            let old = self.services.get(&key.namespace).and_then(|s| s.get(&key.name)).cloned();
            let candidates: Option<Vec<SharedStr>> = match (&old, &changes.pods) {
                (Some(old), Some(pods)) if !changes.services.contains(key) => Some(
                    old.members()
                        .cloned()
                        .chain(pods.iter().filter(|p| p.namespace == key.namespace).map(|p| p.name.clone()))
                        .collect(),
                ),
                _ => None,
            };
            let index = if per_namespace[&*key.namespace] > 8 {
                Some(
                    &*indexes
                        .entry(&key.namespace)
                        .or_insert_with(|| build::pods_by_label(state, &key.namespace)),
                )
            } else {
                None
            };
            let records =
                ServiceRecords::build(state, key, self.settings.endpoint_names, index, candidates.as_deref());
            if self.replace_service(key, records) {
                changed.push(key.clone());
            }
        }
        changed
    }

    /// Publishes `records` (`None`: nothing) as the records of `key`, keeping the PTR
    /// entries and the counters in step. Returns whether the records changed.
    pub(crate) fn replace_service(&mut self, key: &ObjectKey, records: Option<ServiceRecords>) -> bool {
        let old = self.services.get(&key.namespace).and_then(|s| s.get(&key.name)).cloned();
        if old.as_deref() == records.as_ref() {
            return false;
        }
        let service_key = Arc::new(key.clone());
        // The reverse index changes by the addresses published before and not after, and
        // the reverse: one rescheduled pod is one pair out and one in, whatever the size.
        if !self.reverse_deferred {
            let (before, after) = (
                ServiceRecords::published_set(old.as_deref()),
                ServiceRecords::published_set(records.as_ref()),
            );
            for ip in before.iter().filter(|ip| after.binary_search(ip).is_err()) {
                self.remove_ptr(*ip, &service_key);
            }
            for ip in after.iter().filter(|ip| before.binary_search(ip).is_err()) {
                self.insert_ptr(*ip, &service_key);
            }
        }
        if let Some(old) = &old {
            self.service_count -= 1;
            self.endpoint_count -= old.endpoints.len();
        }
        let Some(records) = records else {
            if let Some(services) = self.services.get_mut(&key.namespace) {
                services.remove(&key.name);
                if services.is_empty() {
                    self.services.remove(&key.namespace);
                }
            }
            return true;
        };
        self.service_count += 1;
        self.endpoint_count += records.endpoints.len();
        // One insert replaces the old version: one path of the maps copied, not two.
        let records = Arc::new(records);
        match self.services.get_mut(&key.namespace) {
            Some(services) => {
                services.insert(key.name.clone(), records);
            }
            None => {
                self.services.insert(key.namespace.clone(), imbl::OrdMap::unit(key.name.clone(), records));
            }
        }
        true
    }
}
