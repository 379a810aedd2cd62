//! Finding, stamping and reading the manifest files under the roots.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use super::{FileObjects, ManifestError, parse};

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
/// *Why:* YAML parsing is most of a large load; files parse independently, so cores
/// divide it.
pub(super) fn parse_in_order(
    files: &[&Path],
    each: &mut dyn FnMut(usize, Result<FileObjects, ManifestError>),
) {
    // Asked once: it reads the cgroup files, which a reload need not do again.
    static THREADS: OnceLock<usize> = OnceLock::new();
    let threads = *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
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
