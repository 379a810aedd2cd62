//! Finding, stamping and reading the manifest files under the roots.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::SystemTime;

use super::ManifestError;
use super::reader::{self, Message, Source};
use super::state::FileState;

/// What the reading of one file hands on: its pieces as they are read, then the outcome.
#[derive(Debug)]
pub(super) enum Event {
    /// Pieces read (or a restart).
    Message(Message),
    /// The file is read: nothing it handed on is to be used on an error.
    Done(Result<(), ManifestError>),
}

/// Reads `files` (each with its previous version, whose unchanged pieces are not parsed
/// again) on up to one thread per core, handing what each reads to `each` in the order of
/// `files`, so that a later file's version of an object wins as when they are read one by
/// one. Files are read a round of one per thread at a time; each hands its pieces on
/// through a channel of two batches, so a reader ahead of the others waits rather than
/// piling up what it read.
///
/// *Why:* YAML parsing is most of a large load; files parse independently, so cores
/// divide it. And a file's objects reach the index while it is still being read: a single
/// file of the whole cluster never has all its objects waiting at once.
pub(super) fn read_in_order(files: &[(&Path, Option<&FileState>)], each: &mut dyn FnMut(usize, Event)) {
    // Asked once: it reads the cgroup files, which a reload need not do again.
    static THREADS: OnceLock<usize> = OnceLock::new();
    let threads = *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (round, batch) in files.chunks(threads).enumerate() {
        std::thread::scope(|scope| {
            let readers: Vec<_> = batch
                .iter()
                .map(|&(path, old)| {
                    let (tx, rx) = sync_channel(2);
                    std::thread::Builder::new()
                        .name("manifest-parse".into())
                        .spawn_scoped(scope, move || {
                            let known = old.and_then(FileState::known);
                            let result = reader::read(Source::File(path), known.as_ref(), &mut |message| {
                                let _ = tx.send(Event::Message(message));
                            });
                            let _ = tx.send(Event::Done(result));
                        })
                        .ok()
                        .map(|thread| (thread, rx))
                })
                .collect();
            for (i, (&(path, old), reader)) in batch.iter().zip(readers).enumerate() {
                let index = round * threads + i;
                match reader {
                    Some((thread, rx)) => {
                        let done = drain(&rx, &mut |event| each(index, event));
                        // Joined here, so that a panic is this file's error, not the scope's.
                        let _ = thread.join();
                        if !done {
                            each(index, Event::Done(Err(failed(path))));
                        }
                    }
                    None => {
                        // No thread to spare: on this one.
                        let known = old.and_then(FileState::known);
                        let result = reader::read(Source::File(path), known.as_ref(), &mut |message| {
                            each(index, Event::Message(message))
                        });
                        each(index, Event::Done(result));
                    }
                }
            }
        });
    }
}

/// Hands on what one reader sends until it is done; `false` if it stopped before (it
/// panicked).
fn drain(rx: &Receiver<Event>, each: &mut dyn FnMut(Event)) -> bool {
    while let Ok(event) = rx.recv() {
        let done = matches!(event, Event::Done(_));
        each(event);
        if done {
            return true;
        }
    }
    false
}

fn failed(path: &Path) -> ManifestError {
    ManifestError::Syntax {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: "the parser failed on this file".into(),
    }
}

/// Whether a directory entry is a manifest we read.
pub(super) fn is_manifest(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// The manifest files under `root` (a file, or a directory searched recursively), sorted.
pub(super) fn files_under(root: &Path) -> Result<Vec<PathBuf>, ManifestError> {
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
pub(super) type Stamp = Option<(SystemTime, u64)>;

pub(super) fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}
