//! Labels and selectors: sorted, shared sets of shared key/value pairs, with the
//! stand-ins that let the pods of one StatefulSet share a set.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cluster::SharedStr;

/// One label (or selector term): a shared key/value pair. Pods of one workload carry the
/// same pairs, so each is stored once and a pod holds an 8-byte pointer per label.
pub type Label = Arc<(SharedStr, SharedStr)>;

/// Labels (or a selector), sorted by key: a shared slice of shared pairs rather than a
/// map, since a pod has a handful and there are many pods. Pods with the same labels can
/// share one slice (see [`stored_value`](Self::stored_value)). One allocation: the pairs
/// follow the reference counts (a pod holds its labels through its
/// [`PodTemplate`](super::PodTemplate), so the pointer's 16 bytes are not per pod).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Labels(Arc<[Label]>);

/// Stand-in for a label value equal to the pod's name. A NUL byte is never part of a
/// label value (the API server rejects it), so no real value reads as a stand-in.
const NAME_VALUE: &str = "\0name";
/// Stand-in for a label value equal to the pod's ordinal (the digits after its last `-`).
const ORDINAL_VALUE: &str = "\0ordinal";

/// The ordinal of a pod named `<set>-<ordinal>`.
fn ordinal(name: &str) -> Option<&str> {
    let (_, ordinal) = name.rsplit_once('-')?;
    (!ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit())).then_some(ordinal)
}

/// A stored label value as read: stand-ins become the part of `name` they stand for.
pub(super) fn name_value<'a>(value: &'a str, name: &'a str) -> &'a str {
    match value {
        NAME_VALUE => name,
        ORDINAL_VALUE => ordinal(name).unwrap_or_default(),
        _ => value,
    }
}

impl Labels {
    /// Labels from already shared pairs, sorted here.
    pub fn from_pairs(mut pairs: Vec<Label>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self(pairs.into())
    }

    /// The value the cluster state stores for label value `value` of pod `name`: a
    /// stand-in when the value is the pod's name or ordinal, else `value` itself.
    ///
    /// *Why:* the StatefulSet controller labels each pod with its own name
    /// (`statefulset.kubernetes.io/pod-name`) and ordinal (`apps.kubernetes.io/pod-index`),
    /// which makes every pod's label set unique. With those values read from the name,
    /// the pods of one StatefulSet have equal labels and share one stored set: 8 bytes
    /// per pod instead of a slice and a pair of its own.
    pub fn stored_value(value: &str, name: &str) -> Option<&'static str> {
        if value == name {
            Some(NAME_VALUE)
        } else if ordinal(name) == Some(value) {
            Some(ORDINAL_VALUE)
        } else {
            None
        }
    }

    /// The `(key, value)` pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&SharedStr, &SharedStr)> {
        self.0.iter().map(|pair| (&pair.0, &pair.1))
    }

    /// True when no one but the holder of this handle uses the set (an interner's
    /// entry that no object refers to any more).
    pub fn is_shared_only_here(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// The shared pairs themselves.
    pub fn pairs(&self) -> &[Label] {
        &self.0
    }

    /// The first pair by key.
    pub fn first(&self) -> Option<(&SharedStr, &SharedStr)> {
        self.iter().next()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Looks a set up by its pairs (sorted by key), without building it first.
impl std::borrow::Borrow<[Label]> for Labels {
    fn borrow(&self) -> &[Label] {
        &self.0[..]
    }
}

impl FromIterator<(SharedStr, SharedStr)> for Labels {
    fn from_iter<I: IntoIterator<Item = (SharedStr, SharedStr)>>(pairs: I) -> Self {
        Self::from_pairs(pairs.into_iter().map(Arc::new).collect())
    }
}

impl From<Vec<(SharedStr, SharedStr)>> for Labels {
    fn from(pairs: Vec<(SharedStr, SharedStr)>) -> Self {
        pairs.into_iter().collect()
    }
}

impl<const N: usize> From<[(SharedStr, SharedStr); N]> for Labels {
    fn from(pairs: [(SharedStr, SharedStr); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// The value of `key` in `labels`.
pub fn label<'a>(labels: &'a Labels, key: &str) -> Option<&'a str> {
    labels.0.binary_search_by(|pair| (*pair.0).cmp(key)).ok().map(|i| &*labels.0[i].1)
}

pub(super) fn boxed_map(map: Option<BTreeMap<String, String>>) -> Labels {
    map.unwrap_or_default().into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}
