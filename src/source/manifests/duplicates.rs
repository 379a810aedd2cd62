//! Objects defined more than once: in two files, or twice in one.
//!
//! Which version is served follows the reading order (at startup the later file by path,
//! after it the file read last, in a file its later definition), as `kubectl apply` of
//! the files one by one would leave it. That is rarely what was meant: a copy of a
//! manifest left beside it (`cluster-old.yaml`) silently wins at the next restart. So
//! each such object is said once, naming its files and the one whose version is served,
//! and said again only after it was defined once for a while.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::state::FileState;

/// Objects defined in the same places (two files, or twice in one): said as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Each object: `pod default/web-0` (`node node-1` for a cluster-scoped kind).
    pub objects: Vec<String>,
    /// The files that define them, in reading order, the served one last; a file that
    /// defines them twice is listed twice.
    pub files: Vec<PathBuf>,
}

/// How many objects one line names; the others are counted.
const NAMED: usize = 3;

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(served) = self.files.last() else { return Ok(()) };
        let objects = match self.objects.as_slice() {
            [one] => one.clone(),
            many => {
                let named = many[..many.len().min(NAMED)].join(", ");
                match many.len().checked_sub(NAMED).filter(|rest| *rest > 0) {
                    Some(rest) => format!("{} objects ({named} and {rest} more)", many.len()),
                    None => format!("{} objects ({named})", many.len()),
                }
            }
        };
        let (is, each) = if self.objects.len() == 1 { ("is", "its") } else { ("are", "each one's") };
        let mut distinct: Vec<&Path> = Vec::new();
        for file in &self.files {
            if !distinct.contains(&file.as_path()) {
                distinct.push(file);
            }
        }
        if let [only] = distinct.as_slice() {
            let times = self.files.len();
            return write!(
                f,
                "{objects} {is} defined {times} times in {}: {each} last definition is served",
                only.display()
            );
        }
        let listed: Vec<String> = distinct.iter().map(|p| p.display().to_string()).collect();
        write!(
            f,
            "{objects} {is} defined in {} files ({}): the version{} of {}, the file read last, {}",
            distinct.len(),
            listed.join(", "),
            if self.objects.len() == 1 { "" } else { "s" },
            served.display(),
            if self.objects.len() == 1 { "is served" } else { "are served" },
        )
    }
}

/// What was said already, by object (hashed), so that a file rewritten five times a
/// second does not repeat it.
#[derive(Debug, Default)]
pub(super) struct Said(HashSet<u64>);

use super::keys::{KeyHasher as Hasher, key_hash as hash};

/// The objects that some file defines more than once and that were not said before,
/// among those new to the files read now (`added`, hashed; `read_now` in reading order)
/// and those said before (said again only after they were defined once). Only when there
/// are such objects are the files' keys counted: a rewrite that changes values only, the
/// usual one, costs nothing here however many objects the other files hold.
pub(super) fn find(
    files: &BTreeMap<PathBuf, FileState>,
    read_now: &[PathBuf],
    added: &HashSet<u64, Hasher>,
    said: &mut Said,
) -> Vec<Duplicate> {
    // One file without a key twice in it (the usual case) defines nothing twice.
    if files.len() == 1 && files.values().all(|state| !state.has_duplicates()) {
        said.0.clear();
        return Vec::new();
    }
    if read_now.is_empty() || (added.is_empty() && said.0.is_empty()) {
        return Vec::new();
    }
    let now: HashSet<&Path> = read_now.iter().map(PathBuf::as_path).collect();
    let read_before = || files.iter().filter(|(path, _)| !now.contains(path.as_path()));
    let read_now_states = || read_now.iter().filter_map(|path| Some((path, files.get(path)?)));
    // How many definitions each candidate has, in every file.
    let mut counts: HashMap<u64, u32, Hasher> = added.iter().chain(&said.0).map(|&key| (key, 0)).collect();
    for (_, state) in read_before().chain(read_now_states()) {
        state.keys.for_each(|kind, namespace, name| {
            if let Some(count) = counts.get_mut(&hash(kind, namespace, name)) {
                *count += 1;
            }
        });
    }
    said.0.retain(|key| counts.get(key).is_some_and(|&count| count > 1));
    let new: HashSet<u64, Hasher> = counts
        .into_iter()
        .filter(|&(key, count)| count > 1 && !said.0.contains(&key))
        .map(|(key, _)| key)
        .collect();
    if new.is_empty() {
        return Vec::new();
    }
    // Their files in reading order: those read before (by path), then those read now.
    let mut places: Vec<(String, Vec<usize>)> = Vec::new();
    let mut at: HashMap<u64, usize, Hasher> = HashMap::default();
    let paths: Vec<&PathBuf> = read_before().chain(read_now_states()).map(|(path, _)| path).collect();
    for (file, (_, state)) in read_before().chain(read_now_states()).enumerate() {
        state.keys.for_each(|kind, namespace, name| {
            let key = hash(kind, namespace, name);
            if !new.contains(&key) {
                return;
            }
            let index = *at.entry(key).or_insert_with(|| {
                places.push((format!("{} {}", kind.noun(), kind.object_name(namespace, name)), Vec::new()));
                places.len() - 1
            });
            places[index].1.push(file);
        });
    }
    said.0.extend(new);
    // One line per set of places.
    let mut found: Vec<Duplicate> = Vec::new();
    for (object, files) in places {
        let files: Vec<PathBuf> = files.into_iter().map(|i| paths[i].clone()).collect();
        match found.iter_mut().find(|d| d.files == files) {
            Some(duplicate) => duplicate.objects.push(object),
            None => found.push(Duplicate { objects: vec![object], files }),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::Manifests;

    fn pods(names: &[(&str, &str)]) -> String {
        let documents: Vec<String> = names
            .iter()
            .map(|(name, ip)| {
                format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nstatus: {{podIP: {ip}}}\n")
            })
            .collect();
        documents.join("---\n")
    }

    fn said(manifests: &mut Manifests) -> Vec<String> {
        manifests.reload().duplicates.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_object_in_two_files_is_said_once_naming_the_file_served() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b-copy.yaml"));
        std::fs::write(&a, pods(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.2")])).unwrap();
        std::fs::write(&b, pods(&[("web-0", "10.0.0.9")])).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        let (a_shown, b_shown) = (a.display(), b.display());
        assert_eq!(
            said(&mut manifests),
            [format!(
                "pod default/web-0 is defined in 2 files ({a_shown}, {b_shown}): the version of {b_shown}, the \
                 file read last, is served"
            )]
        );
        // Not said again while it stays so, however often a file is rewritten.
        assert!(said(&mut manifests).is_empty());
        std::fs::write(&b, pods(&[("web-0", "10.0.0.8")])).unwrap();
        assert!(said(&mut manifests).is_empty());
        // Edited a.yaml is read last now: its version is the one served.
        std::fs::write(&a, pods(&[("web-0", "10.0.0.3"), ("web-1", "10.0.0.2")])).unwrap();
        assert!(said(&mut manifests).is_empty(), "already said");
        // Defined once for a while, then twice again: said again.
        std::fs::write(&b, pods(&[("db-0", "10.0.0.7")])).unwrap();
        assert!(said(&mut manifests).is_empty());
        std::fs::write(&b, pods(&[("db-0", "10.0.0.7"), ("web-1", "10.0.0.6")])).unwrap();
        assert_eq!(
            said(&mut manifests),
            [format!(
                "pod default/web-1 is defined in 2 files ({a_shown}, {b_shown}): the version of {b_shown}, the \
                 file read last, is served"
            )]
        );
    }

    #[test]
    fn an_object_defined_twice_in_one_file_is_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, pods(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.2"), ("web-0", "10.0.0.3")]))
            .unwrap();
        let mut manifests = Manifests::new(vec![a.clone()]);
        assert_eq!(
            said(&mut manifests),
            [format!(
                "pod default/web-0 is defined 2 times in {}: its last definition is served",
                a.display()
            )]
        );
        std::fs::write(&a, pods(&[("web-0", "10.0.0.1"), ("web-1", "10.0.0.5"), ("web-0", "10.0.0.3")]))
            .unwrap();
        assert!(said(&mut manifests).is_empty());
    }

    #[test]
    fn a_copied_file_is_one_line_naming_a_few_of_its_objects() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["web-0", "web-1", "web-2", "web-3", "web-4"];
        let text = pods(&names.map(|name| (name, "10.0.0.1")));
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("a-old.yaml"));
        std::fs::write(&a, &text).unwrap();
        std::fs::write(&b, &text).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert_eq!(
            said(&mut manifests),
            [format!(
                "5 objects (pod default/web-0, pod default/web-1, pod default/web-2 and 2 more) are defined in \
                 2 files ({}, {}): the versions of {}, the file read last, are served",
                b.display(),
                a.display(),
                a.display()
            )]
        );
    }

    #[test]
    fn objects_defined_once_are_not_said() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), pods(&[("web-0", "10.0.0.1")])).unwrap();
        std::fs::write(dir.path().join("b.yaml"), pods(&[("web-1", "10.0.0.2")])).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert!(said(&mut manifests).is_empty());
    }
}
