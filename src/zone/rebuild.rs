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
        let old = self.services.get(&key.namespace).and_then(|s| s.get(&key.name));
        if old.map(|r| &**r) == records.as_ref() {
            return false;
        }
        let service_key = Arc::new(key.clone());
        let deferred = self.reverse_deferred;
        if let Some(old) = self.services.get_mut(&key.namespace).and_then(|s| s.remove(&key.name)) {
            self.service_count -= 1;
            self.endpoint_count -= old.endpoints.len();
            for ip in old.published_ips().filter(|_| !deferred) {
                self.remove_ptr(ip, &service_key);
            }
        }
        let Some(records) = records else {
            if self.services.get(&key.namespace).is_some_and(|s| s.is_empty()) {
                self.services.remove(&key.namespace);
            }
            return true;
        };
        for ip in records.published_ips().filter(|_| !deferred) {
            self.insert_ptr(ip, &service_key);
        }
        self.service_count += 1;
        self.endpoint_count += records.endpoints.len();
        self.services.entry(key.namespace.clone()).or_default().insert(key.name.clone(), Arc::new(records));
        true
    }
}
