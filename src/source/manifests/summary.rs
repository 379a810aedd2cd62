//! What a load or reload changed, counted against the state the index serves, for the
//! log: a reload re-reads the changed pieces of files (a whole JSON file, say), so the
//! updates it produces may re-apply objects that did not change.

use std::collections::HashSet;
use std::fmt;

use crate::cluster::{ClusterState, Kind, Object, ObjectKey};
use crate::index::Update;

/// Objects added, changed and removed by a reload, per kind (indexed by `Kind as usize`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// Objects the state did not have.
    pub added: [usize; Kind::ALL.len()],
    /// Objects the state had with other content.
    pub changed: [usize; Kind::ALL.len()],
    /// Objects the state had (or had refused) and no file has any more.
    pub removed: [usize; Kind::ALL.len()],
    /// Objects whose new version was refused, their previous version served.
    pub rejected: [usize; Kind::ALL.len()],
    /// Objects whose new version was refused, with no earlier good version to serve.
    pub rejected_unserved: [usize; Kind::ALL.len()],
    /// Services the state holds once the reload is applied.
    pub services_after: usize,
}

impl Changed {
    /// Whether the reload changes nothing.
    pub fn is_empty(&self) -> bool {
        [self.added, self.changed, self.removed, self.rejected, self.rejected_unserved]
            .iter()
            .all(|counts| counts.iter().all(|&n| n == 0))
    }
}

/// Counts of objects per kind, spelled for the log: "3 pods, 1 service, 0 statefulsets, 0
/// endpointslices"; the other kinds (multicluster, nodes) only when there are any.
pub fn counts(counts: [usize; Kind::ALL.len()]) -> String {
    Kind::ALL
        .iter()
        .filter(|&&kind| Kind::ALWAYS.contains(&kind) || counts[kind as usize] > 0)
        .map(|&kind| noun(counts[kind as usize], kind))
        .collect::<Vec<_>>()
        .join(", ")
}

fn noun(n: usize, kind: Kind) -> String {
    let word = kind.noun();
    if kind == Kind::ClusterProperty && n != 1 {
        return format!("{n} clusterproperties");
    }
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

impl fmt::Display for Changed {
    /// "1 pod changed", "2 pods added, 1 service removed", "1 pod rejected (serving its
    /// previous version)"; "nothing" when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let verbs = [
            (self.added, "added", ["", ""]),
            (self.changed, "changed", ["", ""]),
            (self.removed, "removed", ["", ""]),
            (
                self.rejected,
                "rejected",
                [" (serving its previous version)", " (serving their previous versions)"],
            ),
            (self.rejected_unserved, "rejected", [" (no earlier good version: not served)"; 2]),
        ];
        for (counts, verb, [one, many]) in verbs {
            for kind in Kind::ALL {
                let n = counts[kind as usize];
                if n > 0 {
                    parts.push(format!("{} {verb}{}", noun(n, kind), if n == 1 { one } else { many }));
                }
            }
        }
        if parts.is_empty() { f.write_str("nothing") } else { f.write_str(&parts.join(", ")) }
    }
}

/// Keeps only the updates of a reload that change `state`, and counts them. An object
/// applied twice (two files define it) counts once, as its last version; the index
/// would skip the unchanged applies anyway, so the kept updates publish the same zone.
/// A refusal the state already records (the same error, from a file read again) is
/// dropped, so the index logs a refused version once; an unchanged apply or a delete of an
/// object whose version was refused is kept, to clear the refusal.
pub fn against(state: &ClusterState, updates: Vec<Update>) -> (Vec<Update>, Changed) {
    let mut summary =
        Changed { services_after: state.counts()[Kind::Service as usize].1, ..Changed::default() };
    // Keys applied or deleted in this reload: their refusals are news whatever the state says.
    let replaced: HashSet<(Kind, &ObjectKey)> = updates
        .iter()
        .filter_map(|update| match update {
            Update::Apply(object) => Some((object.kind(), object.key())),
            Update::Delete(kind, key) => Some((*kind, key)),
            _ => None,
        })
        .collect();
    let mut seen: HashSet<(Kind, ObjectKey)> = HashSet::new();
    let mut refused: HashSet<(Kind, ObjectKey)> = HashSet::new();
    let mut kept = Vec::new();
    // Backwards: the last apply of a key is the one that stays.
    for update in updates.iter().rev() {
        match update {
            Update::Apply(object) => {
                let (kind, key) = (object.kind(), object.key());
                if !seen.insert((kind, key.clone())) {
                    continue;
                }
                match served(state, object) {
                    Some(true) if state.rejection(kind, key).is_none() => continue,
                    Some(_) => summary.changed[kind as usize] += 1,
                    None => {
                        summary.added[kind as usize] += 1;
                        summary.services_after += usize::from(kind == Kind::Service);
                    }
                }
            }
            Update::Delete(kind, key) => {
                if !seen.insert((*kind, key.clone())) {
                    continue;
                }
                // A key that was only ever refused is deleted to clear its refusal: nothing
                // served goes, so nothing is said removed.
                if holds(state, *kind, key) {
                    summary.services_after -= usize::from(*kind == Kind::Service);
                    summary.removed[*kind as usize] += 1;
                } else if state.rejection(*kind, key).is_none() {
                    continue;
                }
            }
            // A refusal does not hide an earlier apply of the key (another file's good
            // version): both are kept, in order, and the index serves the good one.
            Update::Rejected(kind, key, rejection) => {
                let known = state.rejection(*kind, key).is_some_and(|r| r.error == rejection.error);
                if !refused.insert((*kind, key.clone())) || known && !replaced.contains(&(*kind, key)) {
                    continue;
                }
                if holds(state, *kind, key) {
                    summary.rejected[*kind as usize] += 1;
                } else {
                    summary.rejected_unserved[*kind as usize] += 1;
                }
            }
            _ => {}
        }
        kept.push(update.clone());
    }
    kept.reverse();
    (kept, summary)
}

/// Whether `state` holds the object: `Some(true)` as is, `Some(false)` with other content.
fn served(state: &ClusterState, object: &Object) -> Option<bool> {
    let key = object.key();
    if let Object::ClusterProperty(p) = object {
        return state.cluster_property(&key.name).map(|known| **known == **p);
    }
    if let Object::Node(node) = object {
        return state.node(&key.name).map(|known| **known == **node);
    }
    let ns = state.namespace(&key.namespace)?;
    match object {
        Object::Pod(pod) => ns.pods.get(&key.name).map(|p| **p == **pod),
        Object::Service(svc) => ns.services.get(&key.name).map(|s| **s == **svc),
        Object::StatefulSet(sts) => ns.statefulsets.get(&key.name).map(|s| **s == **sts),
        Object::EndpointSlice(slice) if slice.multicluster.is_some() => {
            ns.mcs_slices.get(&key.name).map(|s| **s == **slice)
        }
        Object::EndpointSlice(slice) => ns.endpoint_slices.get(&key.name).map(|s| **s == **slice),
        Object::ServiceImport(import) => ns.imports.get(&key.name).map(|i| **i == **import),
        Object::ServiceExport(export) => ns.exports.get(&key.name).map(|e| **e == **export),
        Object::ClusterProperty(_) | Object::Node(_) => None,
    }
}

fn holds(state: &ClusterState, kind: Kind, key: &ObjectKey) -> bool {
    if kind == Kind::ClusterProperty {
        return state.cluster_property(&key.name).is_some();
    }
    if kind == Kind::Node {
        return state.node(&key.name).is_some();
    }
    state.namespace(&key.namespace).is_some_and(|ns| match kind {
        Kind::Pod => ns.pods.get(&key.name).is_some(),
        Kind::Service => ns.services.contains_key(&key.name),
        Kind::StatefulSet => ns.statefulsets.contains_key(&key.name),
        Kind::EndpointSlice => ns.endpoint_slices.contains_key(&key.name),
        Kind::ServiceImport => ns.imports.contains_key(&key.name),
        Kind::ServiceExport => ns.exports.contains_key(&key.name),
        Kind::McsEndpointSlice => ns.mcs_slices.contains_key(&key.name),
        Kind::ClusterProperty | Kind::Node => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn objects(text: &str) -> Vec<Object> {
        super::super::parse(Path::new("m.yaml"), text).unwrap().objects
    }

    fn pod(name: &str, ip: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{app: web}}}}\nstatus: {{podIP: {ip}}}\n---\n"
        )
    }

    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: None, selector: {app: web}}\n---\n";

    #[test]
    fn only_objects_whose_content_changed_are_counted_and_kept() {
        let mut state = ClusterState::new();
        let before = format!(
            "{SERVICE}{}{}{}",
            pod("web-0", "10.0.0.1"),
            pod("web-1", "10.0.0.2"),
            pod("gone", "10.0.0.3")
        );
        for object in objects(&before) {
            state.apply(object);
        }
        // The whole file again, one IP changed, one pod new, one deleted, web-0 twice.
        let mut updates: Vec<Update> = objects(&format!(
            "{SERVICE}{}{}{}{}",
            pod("web-0", "10.0.0.9"),
            pod("web-1", "10.0.0.2"),
            pod("web-2", "10.0.0.4"),
            pod("web-0", "10.0.0.1")
        ))
        .into_iter()
        .map(Update::Apply)
        .collect();
        updates
            .push(Update::Delete(Kind::Pod, ObjectKey { namespace: "default".into(), name: "gone".into() }));
        updates
            .push(Update::Delete(Kind::Pod, ObjectKey { namespace: "default".into(), name: "never".into() }));
        let (kept, summary) = against(&state, updates);
        // web-0's last version is the one served: unchanged.
        assert_eq!(summary.to_string(), "1 pod added, 1 pod removed");
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert_eq!(summary.services_after, 1);

        let (kept, summary) =
            against(&state, vec![Update::Apply(objects(&pod("web-1", "10.0.0.7")).remove(0))]);
        assert_eq!((summary.to_string().as_str(), kept.len()), ("1 pod changed", 1));
        let (kept, summary) = against(
            &state,
            vec![Update::Delete(
                Kind::Service,
                ObjectKey { namespace: "default".into(), name: "web".into() },
            )],
        );
        assert_eq!(
            (summary.to_string().as_str(), kept.len(), summary.services_after),
            ("1 service removed", 1, 0)
        );
        let (kept, summary) = against(&state, objects(&before).into_iter().map(Update::Apply).collect());
        assert!(kept.is_empty() && summary.is_empty(), "{summary}");
        assert_eq!(
            counts([3, 1, 0, 2, 0, 0, 0, 0, 0]),
            "3 pods, 1 service, 0 statefulsets, 2 endpointslices"
        );
        assert_eq!(
            counts([0, 0, 0, 0, 1, 2, 1, 2, 3]),
            "0 pods, 0 services, 0 statefulsets, 0 endpointslices, 1 serviceimport, 2 serviceexports, \
             1 clusterproperty, 2 multicluster endpointslices, 3 nodes",
            "the multicluster kinds and nodes only when there are any"
        );
        assert_eq!(
            counts([0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "0 pods, 0 services, 0 statefulsets, 0 endpointslices, 1 node"
        );
    }

    #[test]
    fn refusals_are_counted_apart_and_sent_once() {
        use crate::cluster::rejected::Rejection;
        let mut state = ClusterState::new();
        for object in objects(&format!("{SERVICE}{}", pod("web-0", "10.0.0.1"))) {
            state.apply(object);
        }
        let key = |name: &str| ObjectKey { namespace: "default".into(), name: name.into() };
        let bad = super::super::parse(Path::new("m.yaml"), &pod("web-0", "10.0.999.1")).unwrap();
        let error = bad.skipped[0].error.clone();
        let rejected = |name: &str| {
            Update::Rejected(
                Kind::Pod,
                key(name),
                Rejection { error: error.clone(), origin: "m.yaml (document 1)".into() },
            )
        };
        let (kept, summary) = against(&state, vec![rejected("web-0"), rejected("new")]);
        assert_eq!(
            summary.to_string(),
            "1 pod rejected (serving its previous version), 1 pod rejected (no earlier good version: not served)"
        );
        assert_eq!(kept.len(), 2);
        let (_, summary) = against(&state, vec![rejected("web-0"), rejected("web-0"), rejected("web-1")]);
        assert_eq!(
            summary.to_string(),
            "1 pod rejected (serving its previous version), 1 pod rejected (no earlier good version: not served)"
        );
        let two = Changed { rejected: [2, 0, 0, 0, 0, 0, 0, 0, 0], ..Changed::default() };
        assert_eq!(two.to_string(), "2 pods rejected (serving their previous versions)");

        // Once the state knows: the same refusal again (a file read again) is not news,
        // unless the object is applied or deleted in the same reload.
        state.reject(
            Kind::Pod,
            &key("web-0"),
            Rejection { error: error.clone(), origin: "m.yaml (document 1)".into() },
        );
        state.reject(
            Kind::Pod,
            &key("new"),
            Rejection { error: error.clone(), origin: "m.yaml (document 2)".into() },
        );
        let (kept, summary) = against(&state, vec![rejected("web-0")]);
        assert!(kept.is_empty() && summary.is_empty(), "{summary}");
        let (kept, _) = against(
            &state,
            vec![Update::Apply(objects(&pod("web-0", "10.0.0.2")).remove(0)), rejected("web-0")],
        );
        assert_eq!(kept.len(), 2);
        // The good version back, unchanged: applied, to clear the refusal. The never-good
        // one gone from the file: deleted, for the same reason, but not said removed:
        // nothing served went.
        let (kept, summary) = against(
            &state,
            vec![
                Update::Apply(objects(&pod("web-0", "10.0.0.1")).remove(0)),
                Update::Delete(Kind::Pod, key("new")),
            ],
        );
        assert_eq!((summary.to_string().as_str(), kept.len()), ("1 pod changed", 2));
    }
}
