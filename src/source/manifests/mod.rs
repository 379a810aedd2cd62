//! The manifests source: Pods, Services and StatefulSets read from YAML/JSON files.
//!
//! Accepts files and directories (`.yaml`, `.yml`, `.json`), multi-document YAML and
//! `kind: List`, so `kubectl get pods,services,statefulsets -A -o yaml` output works as is.
//! Files are watched; a change is reloaded and published as one replacement of the
//! whole state. A file that breaks keeps its last good objects until it is fixed.

mod keys;
mod parse;
mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cluster::{Kind, ObjectKey};
use crate::index::Update;
use keys::FileKeys;
pub use parse::{FileObjects, ManifestError, Skipped, parse};
pub use watch::run;

/// Reads and parses one manifest file.
fn read_and_parse(path: &Path) -> Result<FileObjects, ManifestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ManifestError::Read { path: path.to_owned(), source })?;
    parse(path, &text)
}

/// Reads and parses `files` on up to one thread per core, handing each result to `each`
/// in the order of `files`, so that a later file's version of an object wins as when
/// they are read one by one. Files are parsed a round of one per thread at a time, which
/// bounds the parsed objects waiting for `each`.
///
/// *Why:* YAML parsing is most of a large load (about 50 ms per MiB); files parse
/// independently, so cores divide it.
fn parse_in_order(files: &[&Path], each: &mut dyn FnMut(usize, Result<FileObjects, ManifestError>)) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (round, paths) in files.chunks(threads).enumerate() {
        let results: Vec<_> = std::thread::scope(|scope| {
            let parsers: Vec<_> = paths
                .iter()
                .map(|path| {
                    std::thread::Builder::new()
                        .name("manifest-parse".into())
                        .spawn_scoped(scope, || read_and_parse(path))
                })
                .collect();
            parsers
                .into_iter()
                .zip(paths)
                .map(|(parser, path)| match parser {
                    Ok(parser) => parser.join().unwrap_or_else(|_| {
                        Err(ManifestError::Syntax {
                            path: path.to_path_buf(),
                            line: 0,
                            column: 0,
                            message: "the parser failed on this file".into(),
                        })
                    }),
                    Err(_) => read_and_parse(path), // no thread to spare: on this one
                })
                .collect()
        });
        for (i, result) in results.into_iter().enumerate() {
            each(round * threads + i, result);
        }
    }
}

/// Whether a directory entry is a manifest we read.
fn is_manifest(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// The manifest files under `root` (a file, or a directory searched recursively), sorted.
fn files_under(root: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let meta = std::fs::metadata(root).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ManifestError::Missing { path: root.to_owned() },
        _ => ManifestError::Read { path: root.to_owned(), source },
    })?;
    if meta.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|source| ManifestError::Read { path: dir.clone(), source })?;
        for entry in entries.flatten() {
            let path = entry.path();
            // Skip hidden entries: editors' swap files, Kubernetes ConfigMap `..data` links.
            if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(_) if is_manifest(&path) => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A file's identity for change detection.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// The manifests under a set of paths. It remembers which objects each file
/// contributed (their keys, not the objects: the index holds the only copy), so a reload
/// becomes a diff — applies and deletes — and a broken file simply contributes no change.
#[derive(Debug)]
pub struct Manifests {
    roots: Vec<PathBuf>,
    files: BTreeMap<PathBuf, (Stamp, FileKeys)>,
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
        Self { roots, files: BTreeMap::new() }
    }

    /// Reads every file whose modification time or size changed since the last load and
    /// returns the changes. A missing root or broken file keeps its previous objects.
    pub fn reload(&mut self) -> LoadReport {
        let mut updates = Vec::new();
        let (errors, skipped) = self.reload_into(usize::MAX, &mut |chunk| updates.extend(chunk));
        LoadReport { errors, skipped, updates }
    }

    /// [`reload`](Self::reload), handing the updates to `sink` in chunks of about
    /// `chunk` objects as the files are parsed. Deletes come in the last chunk; they
    /// only name objects that no file has any more, so no earlier apply undoes them.
    pub fn reload_into(
        &mut self,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Update>),
    ) -> (Vec<ManifestError>, Vec<Skipped>) {
        let (mut errors, mut skipped) = (Vec::new(), Vec::new());
        let mut present: Vec<PathBuf> = Vec::new();
        let mut unavailable_roots: Vec<&Path> = Vec::new();
        for root in &self.roots {
            match files_under(root) {
                Ok(files) => present.extend(files),
                Err(e) => {
                    errors.push(e);
                    unavailable_roots.push(root);
                }
            }
        }
        // Files that disappeared from a readable root are gone with their objects; those
        // under a root that vanished as a whole are kept (a remount, a bad deploy).
        // Objects of gone files, and the previous objects of changed files, are deleted
        // at the end unless some file still has them.
        let mut maybe_deleted: Vec<FileKeys> = Vec::new();
        self.files.retain(|path, (_, keys)| {
            let keep = present.contains(path) || unavailable_roots.iter().any(|r| path.starts_with(r));
            if !keep {
                maybe_deleted.push(std::mem::take(keys));
            }
            keep
        });
        let mut applies = Vec::new();
        let changed: Vec<(PathBuf, Stamp)> = present
            .into_iter()
            .map(|path| {
                let now = stamp(&path);
                (path, now)
            })
            .filter(|(path, now)| self.files.get(path).is_none_or(|(old, _)| old != now))
            .collect();
        let paths: Vec<&Path> = changed.iter().map(|(path, _)| path.as_path()).collect();
        parse_in_order(&paths, &mut |i, result| match result {
            Ok(parsed) => {
                let (path, now) = changed[i].clone();
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
            Err(e) => errors.push(e),
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
        (errors, skipped)
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
        assert_eq!(last_shared.ips[0].to_string(), "10.0.1.11");
    }
}
