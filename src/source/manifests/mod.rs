//! The manifests source: Pods, Services and StatefulSets read from YAML/JSON files.
//!
//! Accepts files and directories (`.yaml`, `.yml`, `.json`), multi-document YAML and
//! `kind: List`, so `kubectl get pods,services,statefulsets -A -o yaml` output works as is.
//! Files are watched (`watch.rs`): a file is read once its writer is done with it, and
//! what changed is published as one batch. A file that breaks keeps its last good
//! objects until it is fixed; an object whose new version is invalid keeps its last good
//! version (the index is told it was refused).
//!
//! Layout: `files.rs` finds the files and reads them in parallel, `reader.rs` reads one
//! file as pieces (`stream.rs` cuts a YAML stream into documents, `yaml_list.rs` a List
//! into items) and parses only the pieces that changed through the serde seeds of
//! `seeds.rs`, `parse.rs` does it for a text, `state.rs` remembers each file's keys
//! (packed by `keys.rs`) and pieces and turns a new reading into updates, `duplicates.rs`
//! finds objects defined more than once, this module
//! turns a look at the files into applies, refusals and deletes, `summary.rs` counts what
//! a reload changed.

mod duplicates;
mod files;
mod keys;
mod parse;
mod reader;
mod seeds;
mod state;
mod stream;
mod summary;
mod watch;
mod yaml_list;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cluster::Kind;
use crate::index::Update;
pub use duplicates::Duplicate;
use files::{Event, Stamp, files_under, read_in_order, stamp};
use keys::Keys;
pub use parse::{FileObjects, ManifestError, Skipped, parse, parse_again, parse_whole};
use state::{FileState, Reading};
pub use watch::run;

/// The manifests under a set of paths. It remembers which objects each file
/// contributed (their keys, not the objects: the index holds the only copy) and a hash
/// of each of its pieces (documents, List items), so a reload parses only the pieces that
/// changed and becomes a diff — applies, refusals and deletes — and a broken file simply
/// contributes no change.
#[derive(Debug)]
pub struct Manifests {
    roots: Vec<PathBuf>,
    /// Which roots were directories when first read (a root may vanish later).
    dirs: Vec<bool>,
    files: BTreeMap<PathBuf, FileState>,
    /// Files that failed to read or parse, by the stamp they had: not read again (nor
    /// reported again) until they change.
    failed: HashMap<PathBuf, Stamp>,
    /// Files seen changed without word that their writer is done, by the stamp they
    /// had: read once a later look finds the same stamp (they held still meanwhile).
    unsettled: HashMap<PathBuf, Stamp>,
    /// Roots found missing (reported once, until they are back).
    missing: HashSet<PathBuf>,
    /// Objects defined more than once that were already said.
    said: duplicates::Said,
    /// Objects found defined more than once by the last load, not said yet.
    duplicates: Vec<Duplicate>,
    /// Objects an edit took out of a file that are kept, not said yet.
    kept: Vec<Kept>,
    /// Files found blank (nothing but white space) by the first load, not said yet.
    blank_at_start: Vec<PathBuf>,
}

/// The most a file can hold to be looked at for being blank: a blank file is small.
const BLANK_AT_MOST: u64 = 4096;

/// Whether the file holds nothing but white space (0 bytes, or what `echo > file`
/// writes): what a write that failed after truncating it leaves.
fn is_blank(path: &Path, stamp: Stamp) -> bool {
    match stamp {
        Some((_, 0)) => true,
        Some((_, size)) if size <= BLANK_AT_MOST => {
            std::fs::read(path).is_ok_and(|bytes| bytes.iter().all(u8::is_ascii_whitespace))
        }
        _ => false,
    }
}

/// Objects an edit took out of a file while bringing in a refused one (a rename gone
/// wrong): kept until the file holds no refused object (see `state.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The file.
    pub path: PathBuf,
    /// The objects kept.
    pub objects: Keys,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named: Vec<String> = self
            .objects
            .iter()
            .take(3)
            .map(|(kind, key)| format!("{} {}", kind.noun(), kind.object_name(&key.namespace, &key.name)))
            .collect();
        let more = self.objects.len().saturating_sub(named.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        write!(
            f,
            "{}: keeping {}{more}, which this version no longer defines, while it holds an object that \
             is refused (a rename gone wrong?); they go once the file holds no refused object",
            self.path.display(),
            named.join(", ")
        )
    }
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
    /// Objects skipped for missing or invalid fields. Those with a kind and key
    /// ([`Skipped::object`]) are also among the updates as refused
    /// ([`Update::Rejected`]), which the index logs.
    pub skipped: Vec<Skipped>,
    /// The changes to apply: applies and refusals of the changed pieces of the changed
    /// files, and deletes of the objects no file has any more.
    pub updates: Vec<Update>,
    /// Some changed files were left unread until they hold still: look again soon.
    pub unsettled: bool,
    /// Files whose last reading had failed and that read without errors now.
    pub recovered: Vec<PathBuf>,
    /// Objects the files read now define more than once (in two files, or twice in one),
    /// each reported once.
    pub duplicates: Vec<Duplicate>,
    /// Objects an edit took out of a file but that are kept: it brought in a refused one.
    pub kept: Vec<Kept>,
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
            said: Default::default(),
            duplicates: Vec::new(),
            kept: Vec::new(),
            blank_at_start: Vec::new(),
        }
    }

    /// The objects the loads so far found defined more than once and that were not
    /// taken yet (a first load's: [`load_strict`] does not return them).
    pub fn take_duplicates(&mut self) -> Vec<Duplicate> {
        std::mem::take(&mut self.duplicates)
    }

    /// The files the first load found blank (nothing but white space), once.
    pub fn take_blank_at_start(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.blank_at_start)
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
        let mut recovered = Vec::new();
        let (errors, skipped, unsettled) =
            self.load(None, &mut |chunk| updates.extend(chunk), rule, &mut recovered);
        let duplicates = self.take_duplicates();
        let kept = std::mem::take(&mut self.kept);
        LoadReport { errors, skipped, updates, unsettled, recovered, duplicates, kept }
    }

    /// [`reload`](Self::reload) for a first load, handing the updates to `sink` in chunks
    /// of about `chunk` objects as the files are read, a file's while it is still being
    /// read. Deletes come in the last chunk; they only name objects that no file has any
    /// more, so no earlier apply undoes them. A broken file's objects read before the
    /// error may have been handed on: a first load stops on any error.
    pub fn reload_into(
        &mut self,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Update>),
    ) -> (Vec<ManifestError>, Vec<Skipped>) {
        let (errors, skipped, _) = self.load(Some(chunk), sink, ReadRule::All, &mut Vec::new());
        (errors, skipped)
    }

    /// `chunk`: hand updates on as they are read, in chunks of this size (a first load);
    /// `None`: once every file is read. The files that had failed and read well now are
    /// added to `recovered`.
    fn load(
        &mut self,
        chunk: Option<usize>,
        sink: &mut dyn FnMut(Vec<Update>),
        rule: ReadRule<'_>,
        recovered: &mut Vec<PathBuf>,
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
                    // A vanished root is reported once, not at every look until it is back,
                    // and without the startup's hint on what to pass.
                    let e = match e {
                        ManifestError::Missing { path } if chunk.is_none() => {
                            ManifestError::Vanished { path }
                        }
                        other => other,
                    };
                    if !matches!(e, ManifestError::Vanished { .. }) || self.missing.insert(root.clone()) {
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
        // Objects of gone files, and those of the changed files' pieces that are gone, are
        // deleted at the end unless some file still has them.
        let mut maybe_deleted: Keys = Vec::new();
        self.files.retain(|path, state| {
            let keep =
                listed.contains(path.as_path()) || unavailable_roots.iter().any(|r| path.starts_with(r));
            if !keep {
                maybe_deleted.extend(state.keys.to_vec());
            }
            keep
        });
        let mut changed: Vec<(PathBuf, Stamp)> = Vec::new();
        let mut unsettled = false;
        for path in present {
            let now = stamp(&path);
            let stale = self.files.get(&path).is_some_and(FileState::is_stale);
            let known = self.files.get(&path).is_some_and(|state| state.stamp == now && !stale)
                || self.failed.get(&path) == Some(&now);
            let read = match rule {
                ReadRule::All => !known,
                ReadRule::Settled { writing, .. } if writing.contains(&path) => false,
                ReadRule::Settled { done, .. } if done.contains(&path) => true,
                ReadRule::Settled { .. } if stale => true,
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
                // Emptied (nothing but white space: a truncation, `echo > file`) while it
                // held objects: kept, as a broken file's are. At startup: said.
                if is_blank(&path, now) {
                    let held = self.files.get(&path).map_or(0, |state| state.keys.len());
                    if held > 0 {
                        self.failed.insert(path.clone(), now);
                        errors.push(ManifestError::Emptied { path, objects: held });
                        continue;
                    }
                    if chunk.is_some() {
                        self.blank_at_start.push(path.clone());
                    }
                }
                changed.push((path, now));
            }
        }
        // The changed files' previous versions, out of the map while they are read: their
        // readers skip the unchanged pieces, and a file that fails gets its back.
        let olds: Vec<Option<FileState>> = changed.iter().map(|(path, _)| self.files.remove(path)).collect();
        let settled = matches!(rule, ReadRule::Settled { .. });
        let mut applies: Vec<Update> = Vec::new();
        let mut read: Vec<Option<state::Finished>> = (0..changed.len()).map(|_| None).collect();
        {
            let inputs: Vec<(&Path, Option<&FileState>)> =
                changed.iter().zip(&olds).map(|((path, _), old)| (path.as_path(), old.as_ref())).collect();
            let mut readings: Vec<Option<Reading<'_>>> = (0..changed.len()).map(|_| None).collect();
            read_in_order(&inputs, &mut |i, event| {
                let reading = readings[i].get_or_insert_with(|| Reading::new(olds[i].as_ref()));
                let (path, now) = &changed[i];
                match event {
                    Event::Message(message) => {
                        reading.take(message);
                        if let Some(chunk) = chunk {
                            applies.append(&mut reading.updates);
                            if applies.len() >= chunk {
                                sink(std::mem::take(&mut applies));
                            }
                        }
                    }
                    Event::Done(mut result) => {
                        let mut reading =
                            readings[i].take().unwrap_or_else(|| Reading::new(olds[i].as_ref()));
                        if result.is_ok() && reading.needs_full_reading() {
                            reading.take(reader::Message::Restart);
                            let source = reader::Source::File(path);
                            result = reader::read(source, None, &mut |message| reading.take(message));
                        }
                        // Written to while it was read (a writer started after the events
                        // were taken in): what was read may be half a file. Its writer's
                        // close will say when to read it; a polled file is looked at again.
                        if settled && stamp(path) != *now {
                            unsettled = true;
                            return;
                        }
                        match result {
                            Ok(()) => {
                                if self.failed.remove(path).is_some() {
                                    recovered.push(path.clone());
                                }
                                skipped.append(&mut reading.skipped);
                                applies.append(&mut reading.updates);
                                read[i] = Some(reading.finish(*now));
                                if chunk.is_some_and(|chunk| applies.len() >= chunk) {
                                    sink(std::mem::take(&mut applies));
                                }
                            }
                            Err(e) => {
                                self.failed.insert(path.clone(), *now);
                                errors.push(e);
                            }
                        }
                    }
                }
            });
        }
        // Files read get their new state, the others (broken, unsettled) keep the old one.
        let mut read_now: Vec<PathBuf> = Vec::new();
        let mut added: HashSet<u64, keys::KeyHasher> = HashSet::default();
        for (((path, _), old), new) in changed.into_iter().zip(olds).zip(read) {
            match new {
                Some(state::Finished { state, gone, kept, added: new_keys }) => {
                    maybe_deleted.extend(gone);
                    added.extend(new_keys);
                    if !kept.is_empty() {
                        self.kept.push(Kept { path: path.clone(), objects: kept });
                    }
                    read_now.push(path.clone());
                    self.files.insert(path, state);
                }
                None => {
                    if let Some(old) = old {
                        self.files.insert(path, old);
                    }
                }
            }
        }
        let found = duplicates::find(&self.files, &read_now, &added, &mut self.said);
        self.duplicates.extend(found);
        let (mut last, reread) = self.deletes(maybe_deleted, &read_now);
        unsettled |= reread;
        last.append(&mut applies);
        if !last.is_empty() {
            sink(last);
        }
        (errors, skipped, unsettled)
    }

    /// Deletes of the `candidates` that no file has any more (an object deleted from one
    /// file but still in another stays), in order, each once.
    ///
    /// A candidate that only files not read now (`read_now`) still have is not deleted,
    /// but the version served may have been the one that went (the same object in two
    /// files, one removed): those files are marked to be read again, in full, so that
    /// theirs is served. Returns the deletes and whether a file was so marked.
    fn deletes(&mut self, candidates: Keys, read_now: &[PathBuf]) -> (Vec<Update>, bool) {
        if candidates.is_empty() {
            return (Vec::new(), false);
        }
        let read_now: HashSet<&Path> = read_now.iter().map(PathBuf::as_path).collect();
        // Keys are compared spelled as one string (NUL never occurs in a name), so the
        // scan over every file's keys allocates nothing.
        let spell = |buffer: &mut String, kind: Kind, namespace: &str, name: &str| {
            buffer.clear();
            buffer.extend([kind.as_str(), "\0", namespace, "\0", name]);
        };
        let mut buffer = String::new();
        let mut pending = HashSet::new();
        let mut order = Vec::new();
        for (kind, key) in candidates {
            spell(&mut buffer, kind, &key.namespace, &key.name);
            if pending.insert(buffer.clone()) {
                order.push((kind, key));
            }
        }
        // Held by a file read now: its version has just been applied.
        for (_, state) in self.files.iter().filter(|(path, _)| read_now.contains(path.as_path())) {
            state.keys.for_each(|kind, namespace, name| {
                spell(&mut buffer, kind, namespace, name);
                pending.remove(buffer.as_str());
            });
        }
        let (mut held, mut reread) = (HashSet::new(), false);
        for (_, state) in self.files.iter_mut().filter(|(path, _)| !read_now.contains(path.as_path())) {
            let mut holds = false;
            state.keys.for_each(|kind, namespace, name| {
                spell(&mut buffer, kind, namespace, name);
                if pending.contains(buffer.as_str()) {
                    holds = true;
                    held.insert(buffer.clone());
                }
            });
            if holds {
                state.read_again_in_full();
                reread = true;
            }
        }
        let deletes = order
            .into_iter()
            .filter(|(kind, key)| {
                spell(&mut buffer, *kind, &key.namespace, &key.name);
                pending.contains(buffer.as_str()) && !held.contains(buffer.as_str())
            })
            .map(|(kind, key)| Update::Delete(kind, key))
            .collect();
        (deletes, reread)
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
mod tests;
