//! A namespace's pods by name, stored as a set of pod pointers ordered by name: the pod
//! already holds its name, so a map would store the name's pointer a second time.

use std::sync::Arc;

use super::Pod;
use crate::cluster::SharedStr;

/// A namespace's pods by name: a persistent set of the pods ordered by their name, so an
/// entry is the 8-byte pod pointer (a map would store the name's pointer again).
#[derive(Clone, Debug, Default)]
pub struct PodMap(pub(super) imbl::OrdSet<ByName>);

/// A pod ordered and looked up by its name.
#[derive(Clone, Debug)]
pub(super) struct ByName(Arc<Pod>);

impl PartialEq for ByName {
    fn eq(&self, other: &Self) -> bool {
        self.0.key.name == other.0.key.name
    }
}

impl Eq for ByName {}

impl PartialOrd for ByName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key.name.cmp(&other.0.key.name)
    }
}

impl std::borrow::Borrow<str> for ByName {
    fn borrow(&self) -> &str {
        &self.0.key.name
    }
}

impl PodMap {
    /// The pod named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Pod>> {
        self.0.get(name).map(|p| &p.0)
    }

    /// Whether a pod is named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// Adds or replaces a pod; returns the one it replaced.
    pub fn insert(&mut self, pod: Arc<Pod>) -> Option<Arc<Pod>> {
        self.0.insert(ByName(pod)).map(|p| p.0)
    }

    /// Removes the pod named `name`.
    pub fn remove(&mut self, name: &str) -> Option<Arc<Pod>> {
        self.0.remove(name).map(|p| p.0)
    }

    /// The pods, by name.
    pub fn values(&self) -> impl Iterator<Item = &Arc<Pod>> {
        self.0.iter().map(|p| &p.0)
    }

    /// The pods whose name starts with `prefix`, by name.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Arc<Pod>> + 'a {
        use std::ops::Bound;
        self.0
            .range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
            .map(|p| &p.0)
            .take_while(move |p| p.key.name.starts_with(prefix))
    }

    /// The pods' names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &SharedStr> {
        self.values().map(|p| &p.key.name)
    }

    /// Number of pods.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pods.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
