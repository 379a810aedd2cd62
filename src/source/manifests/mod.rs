//! The manifests source: Pods, Services and StatefulSets read from YAML/JSON files.
//!
//! Accepts files and directories (`.yaml`, `.yml`, `.json`), multi-document YAML and
//! `kind: List`, so `kubectl get pods,services,statefulsets -A -o yaml` output works as is.
//! Files are watched (`watch.rs`): a file is read once its writer is done with it, and
//! what changed is published as one batch. A file that breaks keeps its last good
//! objects until it is fixed.
//!
//! Layout: `parse.rs` reads one file's text, `files.rs` finds and reads the files,
//! `keys.rs` packs the keys each file contributed, this module turns a look at the
//! files into applies and deletes, `summary.rs` counts what a reload changed.

mod files;
mod keys;
mod parse;
mod summary;
mod watch;
mod yaml_list;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cluster::{Kind, ObjectKey};
use crate::index::Update;
use files::{Stamp, files_under, parse_in_order, stamp};
use keys::FileKeys;
pub use parse::{FileObjects, ManifestError, Skipped, parse};
pub use watch::run;

/// The manifests under a set of paths. It remembers which objects each file
/// contributed (their keys, not the objects: the index holds the only copy), so a reload
/// becomes a diff — applies and deletes — and a broken file simply contributes no change.
#[derive(Debug)]
pub struct Manifests {
    roots: Vec<PathBuf>,
    /// Which roots were directories when first read (a root may vanish later).
    dirs: Vec<bool>,
    files: BTreeMap<PathBuf, (Stamp, FileKeys)>,
    /// Files that failed to read or parse, by the stamp they had: not read again (nor
    /// reported again) until they change.
    failed: HashMap<PathBuf, Stamp>,
    /// Files seen changed without word that their writer is done, by the stamp they
    /// had: read once a later look finds the same stamp (they held still meanwhile).
    unsettled: HashMap<PathBuf, Stamp>,
    /// Roots found missing (reported once, until they are back).
    missing: HashSet<PathBuf>,
}

/// Which changed files a reload reads.
#[derive(Debug, Clone, Copy)]
pub enum ReadRule<'a> {
    /// Every file whose stamp changed, at once (the initial load).
    All,
    /// What the watcher knows about the writers: files in `done` were closed after
    /// writing or renamed into place and are read at once; files in `writing` are open
    /// for writing and are not read (their last good objects stay); any other changed
    /// file is read once its size and modification time held still between two looks
    /// ([`LoadReport::unsettled`] asks for the second look).
    Settled {
        /// Finished files.
        done: &'a HashSet<PathBuf>,
        /// Files being written.
        writing: &'a HashSet<PathBuf>,
    },
}

/// What a (re)load found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files that could not be read or parsed; their previous objects are kept.
    pub errors: Vec<ManifestError>,
    /// Objects skipped for missing or invalid fields.
    pub skipped: Vec<Skipped>,
    /// The changes to apply: applies of the changed files, and deletes of the objects
    /// no file has any more.
    pub updates: Vec<Update>,
    /// Some changed files were left unread until they hold still: look again soon.
    pub unsettled: bool,
}

impl LoadReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        !self.updates.is_empty()
    }
}

/// How many objects an initial load hands to the index at a time: the index converts
/// and stores one chunk while the next files are parsed, and the parsed-but-not-yet-
/// stored objects never pile up for the whole cluster.
pub const LOAD_CHUNK: usize = 8192;

impl Manifests {
    /// Manifests under `roots` (nothing is read yet).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self {
            dirs: roots.iter().map(|root| root.is_dir()).collect(),
            roots,
            files: BTreeMap::new(),
            failed: HashMap::new(),
            unsettled: HashMap::new(),
            missing: HashSet::new(),
        }
    }

    /// The roots, as given.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Whether each root was a directory when the manifests were created.
    pub fn root_dirs(&self) -> &[bool] {
        &self.dirs
    }

    /// How many files the objects came from.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Reads every file whose modification time or size changed since the last load and
    /// returns the changes. A missing root or broken file keeps its previous objects.
    pub fn reload(&mut self) -> LoadReport {
        self.reload_with(ReadRule::All)
    }

    /// [`reload`](Self::reload), reading only the changed files `rule` allows.
    pub fn reload_with(&mut self, rule: ReadRule<'_>) -> LoadReport {
        let mut updates = Vec::new();
        let (errors, skipped, unsettled) = self.load(usize::MAX, &mut |chunk| updates.extend(chunk), rule);
        LoadReport { errors, skipped, updates, unsettled }
    }

    /// [`reload`](Self::reload), handing the updates to `sink` in chunks of about
    /// `chunk` objects as the files are parsed. Deletes come in the last chunk; they
    /// only name objects that no file has any more, so no earlier apply undoes them.
    pub fn reload_into(
        &mut self,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Update>),
    ) -> (Vec<ManifestError>, Vec<Skipped>) {
        let (errors, skipped, _) = self.load(chunk, sink, ReadRule::All);
        (errors, skipped)
    }

    fn load(
        &mut self,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Update>),
        rule: ReadRule<'_>,
    ) -> (Vec<ManifestError>, Vec<Skipped>, bool) {
        let (mut errors, mut skipped) = (Vec::new(), Vec::new());
        let mut present: Vec<PathBuf> = Vec::new();
        let mut unavailable_roots: Vec<&Path> = Vec::new();
        for root in &self.roots {
            match files_under(root) {
                Ok(files) => {
                    self.missing.remove(root);
                    present.extend(files);
                }
                Err(e) => {
                    // A vanished root is reported once, not at every look until it is back.
                    if !matches!(e, ManifestError::Missing { .. }) || self.missing.insert(root.clone()) {
                        errors.push(e);
                    }
                    unavailable_roots.push(root);
                }
            }
        }
        // Looked up once per known file: a set, not a scan of the list for each.
        let listed: HashSet<&Path> = present.iter().map(PathBuf::as_path).collect();
        self.failed.retain(|path, _| listed.contains(path.as_path()));
        self.unsettled.retain(|path, _| listed.contains(path.as_path()));
        // Files that disappeared from a readable root are gone with their objects; those
        // under a root that vanished as a whole are kept (a remount, a bad deploy).
        // Objects of gone files, and the previous objects of changed files, are deleted
        // at the end unless some file still has them.
        let mut maybe_deleted: Vec<FileKeys> = Vec::new();
        self.files.retain(|path, (_, keys)| {
            let keep =
                listed.contains(path.as_path()) || unavailable_roots.iter().any(|r| path.starts_with(r));
            if !keep {
                maybe_deleted.push(std::mem::take(keys));
            }
            keep
        });
        let mut applies = Vec::new();
        let mut changed: Vec<(PathBuf, Stamp)> = Vec::new();
        let mut unsettled = false;
        for path in present {
            let now = stamp(&path);
            let known = self.files.get(&path).is_some_and(|(old, _)| *old == now)
                || self.failed.get(&path) == Some(&now);
            let read = match rule {
                ReadRule::All => !known,
                ReadRule::Settled { writing, .. } if writing.contains(&path) => false,
                ReadRule::Settled { done, .. } if done.contains(&path) => true,
                ReadRule::Settled { .. } if known => false,
                ReadRule::Settled { .. } => {
                    let held_still = self.unsettled.get(&path) == Some(&now);
                    if !held_still {
                        self.unsettled.insert(path.clone(), now);
                        unsettled = true;
                    }
                    held_still
                }
            };
            if read {
                self.unsettled.remove(&path);
                changed.push((path, now));
            }
        }
        let paths: Vec<&Path> = changed.iter().map(|(path, _)| path.as_path()).collect();
        let settled = matches!(rule, ReadRule::Settled { .. });
        parse_in_order(&paths, &mut |i, result| match result {
            // Written to while it was read (a writer started after the events were
            // taken in): what was read may be half a file. Its writer's close will say
            // when to read it; a polled file is looked at again.
            _ if settled && stamp(&changed[i].0) != changed[i].1 => unsettled = true,
            Ok(parsed) => {
                let (path, now) = changed[i].clone();
                self.failed.remove(&path);
                skipped.extend(parsed.skipped);
                let keys = FileKeys::new(parsed.objects.iter().map(|o| (o.kind(), o.key())));
                if let Some((_, old)) = self.files.insert(path, (now, keys)) {
                    maybe_deleted.push(old);
                }
                applies.extend(parsed.objects.into_iter().map(Update::Apply));
                if applies.len() >= chunk {
                    sink(std::mem::take(&mut applies));
                }
            }
            Err(e) => {
                let (path, now) = changed[i].clone();
                self.failed.insert(path, now);
                errors.push(e);
            }
        });
        let mut last = Vec::new();
        if maybe_deleted.iter().any(|keys| !keys.is_empty()) {
            // An object deleted from one file but still in another stays. Keys are
            // compared spelled as one string (NUL never occurs in a name), so the scan
            // over every file's keys allocates nothing.
            let spell = |buffer: &mut String, kind: Kind, namespace: &str, name: &str| {
                buffer.clear();
                buffer.extend([kind.as_str(), "\0", namespace, "\0", name]);
            };
            let (mut candidates, mut order) = (std::collections::HashSet::new(), Vec::new());
            let mut buffer = String::new();
            for keys in &maybe_deleted {
                keys.for_each(|kind, namespace, name| {
                    spell(&mut buffer, kind, namespace, name);
                    if candidates.insert(buffer.clone()) {
                        order.push((kind, ObjectKey { namespace: namespace.into(), name: name.into() }));
                    }
                });
            }
            for (_, keys) in self.files.values() {
                keys.for_each(|kind, namespace, name| {
                    spell(&mut buffer, kind, namespace, name);
                    candidates.remove(buffer.as_str());
                });
            }
            for (kind, key) in order {
                spell(&mut buffer, kind, &key.namespace, &key.name);
                if candidates.contains(buffer.as_str()) {
                    last.push(Update::Delete(kind, key));
                }
            }
        }
        last.append(&mut applies);
        if !last.is_empty() {
            sink(last);
        }
        (errors, skipped, unsettled)
    }
}

/// Loads the manifests once, handing the objects to `sink` in chunks of [`LOAD_CHUNK`],
/// and fails on the first unreadable or broken file: a server should not start on half
/// its configuration. Returns the manifests (to watch) and the objects skipped.
pub fn load_strict(
    roots: &[PathBuf],
    sink: &mut dyn FnMut(Vec<Update>),
) -> Result<(Manifests, Vec<Skipped>), ManifestError> {
    let mut manifests = Manifests::new(roots.to_vec());
    let (mut errors, skipped) = manifests.reload_into(LOAD_CHUNK, sink);
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    Ok((manifests, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Object, Pod};

    #[test]
    fn a_reload_deletes_what_no_file_has_and_keeps_what_moved() {
        let dir = tempfile::tempdir().unwrap();
        let pods = |names: &[&str]| {
            names
                .iter()
                .map(|n| {
                    format!(
                        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\nstatus: {{podIP: 10.0.0.1}}\n"
                    )
                })
                .collect::<Vec<_>>()
                .join("---\n")
        };
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&a, pods(&["web-0", "web-1", "web-2"])).unwrap();
        std::fs::write(&b, pods(&["db-0"])).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert_eq!(manifests.reload().updates.len(), 4);
        // web-1 moves to b, web-2 is gone, db-0 is gone.
        std::fs::write(&a, pods(&["web-0"])).unwrap();
        std::fs::write(&b, pods(&["web-1", "extra-0"])).unwrap();
        let deleted: Vec<String> = manifests
            .reload()
            .updates
            .iter()
            .filter_map(|u| match u {
                Update::Delete(Kind::Pod, key) => Some(format!("{}/{}", key.namespace, key.name)),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["default/web-2", "default/db-0"]);
    }

    /// Nodes are read alone and from a `kind: List`, keyed by name alone (never by the
    /// namespace of the object before them in their file): one that moves to another file
    /// stays, one no file has any more is deleted.
    #[test]
    fn nodes_are_read_from_documents_and_lists_and_deleted_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let node = |name: &str, ip: &str| {
            format!(
                "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n\
                 status: {{addresses: [{{type: ExternalIP, address: {ip}}}]}}\n"
            )
        };
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: data}\nstatus: {podIP: 10.0.0.1}\n";
        let list = |items: &[String]| {
            let items: Vec<String> =
                items.iter().map(|i| format!("- {}\n", i.trim_end().replace('\n', "\n  "))).collect();
            format!("apiVersion: v1\nkind: NodeList\nitems:\n{}", items.concat())
        };
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&a, format!("{pod}---\n{}", node("node-1", "203.0.113.1"))).unwrap();
        std::fs::write(&b, list(&[node("node-2", "203.0.113.2"), node("node-3", "203.0.113.3")])).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        let nodes = |report: &LoadReport| -> Vec<String> {
            report
                .updates
                .iter()
                .filter_map(|u| match u {
                    Update::Apply(Object::Node(n)) => Some(format!("{}={}", n.name(), n.external_ips[0])),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            nodes(&manifests.reload()),
            ["node-1=203.0.113.1", "node-2=203.0.113.2", "node-3=203.0.113.3"]
        );
        // node-1 (after a namespaced pod in a) moves into b's list, node-2 is gone.
        std::fs::write(&a, pod).unwrap();
        std::fs::write(
            &b,
            format!("{}---\n{pod}", list(&[node("node-1", "203.0.113.1"), node("node-3", "203.0.113.3")])),
        )
        .unwrap();
        let report = manifests.reload();
        let deleted: Vec<String> = report
            .updates
            .iter()
            .filter_map(|u| match u {
                Update::Delete(kind, key) => Some(format!("{kind} {key}")),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["Node /node-2"]);
    }

    #[test]
    fn files_parsed_in_parallel_apply_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        // Files of very different sizes, so parsers finish out of order; every file also
        // has `shared`, whose version from the last file must win.
        for i in 0..12 {
            let mut text = String::new();
            for j in 0..(if i % 3 == 0 { 400 } else { 1 }) {
                text += &format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: f{i:02}-{j}}}\nstatus: {{podIP: 10.0.0.1}}\n---\n"
                );
            }
            text += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: shared}}\nstatus: {{podIP: 10.0.1.{i}}}\n"
            );
            std::fs::write(dir.path().join(format!("{i:02}.yaml")), text).unwrap();
        }
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        let pods: Vec<Pod> = manifests
            .reload()
            .updates
            .into_iter()
            .filter_map(|u| match u {
                Update::Apply(Object::Pod(pod)) => Some((*pod).clone()),
                _ => None,
            })
            .collect();
        let files: Vec<&str> =
            pods.iter().filter(|p| &*p.key.name != "shared").map(|p| &p.key.name[1..3]).collect();
        let disorder = files.windows(2).find(|w| w[0] > w[1]);
        assert!(
            disorder.is_none(),
            "file {:?} applied after file {:?}",
            disorder.unwrap()[1],
            disorder.unwrap()[0]
        );
        assert_eq!(files.len(), 4 * 400 + 8);
        let last_shared = pods.iter().rev().find(|p| &*p.key.name == "shared").unwrap();
        assert_eq!(last_shared.ips.first().unwrap().to_string(), "10.0.1.11");
    }

    #[test]
    fn a_settled_reload_reads_finished_files_and_waits_for_the_others_to_hold_still() {
        let dir = tempfile::tempdir().unwrap();
        let pod = |name: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nstatus: {{podIP: 10.0.0.1}}\n")
        };
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&a, pod("a-0")).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert_eq!(manifests.reload().updates.len(), 1);
        let none = HashSet::new();
        let applied =
            |report: &LoadReport| report.updates.iter().filter(|u| matches!(u, Update::Apply(_))).count();

        // Truncated by a writer that has not closed it: not read, nothing deleted.
        std::fs::write(&a, "").unwrap();
        let writing: HashSet<PathBuf> = [a.clone()].into();
        let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &writing });
        assert!(report.updates.is_empty() && !report.unsettled, "{:?}", report.updates);
        // Closed: read at once.
        std::fs::write(&a, pod("a-1")).unwrap();
        let done: HashSet<PathBuf> = [a.clone()].into();
        let report = manifests.reload_with(ReadRule::Settled { done: &done, writing: &none });
        assert_eq!(applied(&report), 1);

        // Changed without word from its writer (polling, a lost event): read only once it
        // held still between two looks.
        std::fs::write(&b, pod("b-0")).unwrap();
        let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
        assert!(report.updates.is_empty() && report.unsettled);
        std::fs::write(&b, pod("b-0") + "---\n" + &pod("b-1")).unwrap();
        let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
        assert!(report.updates.is_empty() && report.unsettled, "it moved: look again");
        let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
        assert_eq!((applied(&report), report.unsettled), (2, false));

        // A broken file is reported once, and read again only when it changes.
        std::fs::write(&b, "kind: Pod\nmetadata: {name: [\n").unwrap();
        let done: HashSet<PathBuf> = [b.clone()].into();
        let report = manifests.reload_with(ReadRule::Settled { done: &done, writing: &none });
        assert_eq!((report.errors.len(), report.updates.len()), (1, 0));
        for _ in 0..2 {
            let report = manifests.reload_with(ReadRule::Settled { done: &none, writing: &none });
            assert!(report.errors.is_empty() && !report.unsettled && report.updates.is_empty());
            assert!(manifests.reload().errors.is_empty());
        }
        // A vanished root is reported once too, and its objects are kept.
        std::fs::remove_dir_all(dir.path()).unwrap();
        assert_eq!(manifests.reload().errors.len(), 1);
        let report = manifests.reload();
        assert!(report.errors.is_empty() && report.updates.is_empty());
    }
}
