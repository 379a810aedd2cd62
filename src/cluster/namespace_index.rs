//! Per namespace, which headless services may select a pod and which StatefulSets a
//! service governs, so that a pod event and a service rebuild look at a handful of
//! objects instead of every service or StatefulSet of the namespace.
//!
//! *Why:* a namespace can hold thousands of services. Scanning all of them for every pod
//! event made one event cost milliseconds at a million pods, and finding each rebuilt service's StatefulSets by a scan made a full build quadratic in the
//! services of a namespace. Both indexes are persistent sets, cloned with the state in O(1).

use std::ops::Bound;
use std::sync::Arc;

use super::{Label, Namespace, Pod, Service, StatefulSet};
use crate::cluster::SharedStr;

/// The indexes of one namespace; kept in step by the cluster state's apply and delete.
#[derive(Clone, Debug, Default)]
pub struct NamespaceIndex {
    /// `(first selector pair, service name)` of each headless service with a selector:
    /// a service selects a pod only if the pod carries that pair.
    by_first_selector: imbl::OrdSet<(Label, SharedStr)>,
    /// How many entries of `by_first_selector` have each label key: a pod's labels with
    /// other keys select nothing, and are not looked up (most of a StatefulSet pod's
    /// labels: its name, index and revision).
    first_keys: imbl::OrdMap<SharedStr, u32>,
    /// `(serviceName, StatefulSet name)` of each StatefulSet.
    governed: imbl::OrdSet<(SharedStr, SharedStr)>,
}

impl NamespaceIndex {
    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_first_selector.is_empty() && self.governed.is_empty()
    }

    /// The same indexes with full B-tree nodes (see [`crate::packed`]), after a load.
    pub(super) fn packed(&self) -> Self {
        NamespaceIndex {
            by_first_selector: crate::packed::set(self.by_first_selector.iter().cloned()),
            first_keys: self.first_keys.clone(),
            governed: crate::packed::set(self.governed.iter().cloned()),
        }
    }

    /// Keeps the service index in step with `old` being replaced by `new`.
    pub(super) fn service(&mut self, old: Option<&Service>, new: Option<&Service>) {
        if let Some(entry) = old.and_then(selector_entry)
            && self.by_first_selector.remove(&entry).is_some()
        {
            let key = &entry.0.0;
            match self.first_keys.get(key).copied() {
                Some(1) | None => {
                    self.first_keys.remove(key);
                }
                Some(n) => {
                    self.first_keys.insert(key.clone(), n - 1);
                }
            }
        }
        if let Some(entry) = new.and_then(selector_entry) {
            let key = entry.0.0.clone();
            if self.by_first_selector.insert(entry).is_none() {
                *self.first_keys.entry(key).or_insert(0) += 1;
            }
        }
    }

    /// Keeps the StatefulSet index in step with `old` being replaced by `new`.
    pub(super) fn statefulset(&mut self, old: Option<&StatefulSet>, new: Option<&StatefulSet>) {
        if let Some(old) = old {
            self.governed.remove(&(old.service_name.clone(), old.key.name.clone()));
        }
        if let Some(new) = new {
            self.governed.insert((new.service_name.clone(), new.key.name.clone()));
        }
    }
}

fn selector_entry(service: &Service) -> Option<(Label, SharedStr)> {
    let first = service.selector.as_ref()?.pairs().first()?.clone();
    service.headless.then(|| (first, service.key.name.clone()))
}

impl Namespace {
    /// The headless services of this namespace whose selector matches the pod's labels:
    /// the ones whose records a pod changes (a ClusterIP service's do not depend on its pods).
    pub(super) fn services_selecting<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> impl Iterator<Item = &'a Arc<Service>> + 'a {
        pod.shared_labels()
            .filter(move |pair| self.index.first_keys.contains_key(&pair.0))
            .flat_map(move |pair| {
                let from = (pair.clone(), SharedStr::from(""));
                self.index
                    .by_first_selector
                    .range((Bound::Included(from), Bound::Unbounded))
                    .take_while(move |(first, _)| *first == pair)
                    .filter_map(|(_, name)| self.services.get(name))
            })
            .filter(move |s| s.selects(pod))
    }

    /// The StatefulSets of this namespace whose `serviceName` is `service`, by name.
    pub fn statefulsets_of<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = &'a Arc<StatefulSet>> + 'a {
        let from = (SharedStr::from(service), SharedStr::from(""));
        self.index
            .governed
            .range((Bound::Included(from), Bound::Unbounded))
            .take_while(move |(governing, _)| **governing == *service)
            .filter_map(|(_, name)| self.statefulsets.get(name))
    }
}
