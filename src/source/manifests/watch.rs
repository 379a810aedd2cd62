//! Watching the manifests and republishing what changed.
//!
//! A file is read when its writer is done: inotify's close-after-write or a rename into
//! place, never on the truncation or the writes before (`kubectl get ... > file`
//! truncates the file first, and a half-written file would drop objects). Only events
//! that can change a manifest's content are acted on: our own reads (open, access,
//! close-without-write) are not, or each reload would trigger the next. A file root
//! watches its directory (not recursively) for that one file; a directory root watches
//! itself recursively. Where no watch can be set up (a vanished root, no inotify) the
//! files are polled, and a changed file is read once its size and modification time
//! held still between two looks. An idle server makes no file-system calls.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RenameMode};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::summary;
use super::{Manifests, ReadRule, files::is_manifest};
use crate::cluster::Kind;
use crate::index::{IndexHandle, Update};

/// How often roots without a watch are looked at.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a file changed without word from its writer must hold still before it is read.
const SETTLE: Duration = Duration::from_secs(1);
/// Changes arriving within this window are reloaded together.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// What the watcher reports, from the notify thread to the reload loop.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signal {
    /// A manifest was created, truncated or written, and its writer has not closed it.
    Writing(PathBuf),
    /// A manifest's writer is done (closed it after writing, or renamed it into place).
    Done(PathBuf),
    /// A manifest was removed or renamed away.
    Gone(PathBuf),
    /// A manifest's permissions or times changed (`chmod` may make it readable): read
    /// it again unless it is being written.
    Attributes(PathBuf),
    /// Something else under a directory root changed (a directory, a symlink swap):
    /// rescan, reading changed files once they hold still.
    Rescan,
    /// The watch of root `i` is gone: its directory vanished or moved.
    Lost(usize),
    /// The kernel dropped events (queue overflow): what is being written is unknown.
    Overflow,
    /// The watcher failed (e.g. the watch limit when adding a new subdirectory).
    Failed(String),
}

/// One root, as given and as the watcher reports its paths (absolute).
#[derive(Debug)]
struct Root {
    given: PathBuf,
    absolute: PathBuf,
    dir: bool,
    /// A file root that is a symlink (a ConfigMap volume's `cluster.yaml ->
    /// ..data/cluster.yaml`): the links it goes through may be swapped in its directory,
    /// and the file it points to may be anywhere, unwatched: it is polled too.
    link: bool,
}

impl Root {
    /// `dir`: whether the root was a directory when loaded (it may be gone by now).
    fn new(given: &Path, dir: bool) -> Self {
        let absolute =
            std::env::current_dir().map(|cwd| cwd.join(given)).unwrap_or_else(|_| given.to_owned());
        let link = !dir && std::fs::symlink_metadata(given).is_ok_and(|m| m.file_type().is_symlink());
        Self { given: given.to_owned(), dir, link, absolute }
    }

    /// What is watched: a directory root itself (recursively), a file root's directory.
    fn target(&self) -> PathBuf {
        match self.absolute.parent() {
            Some(parent) if !self.dir => parent.to_owned(),
            _ => self.absolute.clone(),
        }
    }

    /// `path` (absolute, from the watcher) as the reload names it, when it lies in this
    /// root, with whether it is a manifest (a visible `.yaml`/`.yml`/`.json` file).
    fn locate(&self, path: &Path) -> Option<(PathBuf, bool)> {
        if !self.dir {
            let sibling = self.link && path.parent() == Some(&self.target());
            return (path == self.absolute || sibling).then(|| (self.given.clone(), path == self.absolute));
        }
        let relative = path.strip_prefix(&self.absolute).ok()?;
        if relative.as_os_str().is_empty() {
            return None;
        }
        let hidden = |part: &std::ffi::OsStr| part.to_str().is_some_and(|p| p.starts_with('.'));
        let mut parts: Vec<_> = relative.iter().collect();
        let last = parts.pop().is_some_and(hidden);
        if parts.into_iter().any(hidden) {
            return None; // inside a hidden directory (`.git`, a ConfigMap's `..2024_...`): never read
        }
        Some((self.given.join(relative), !last && is_manifest(path)))
    }
}

/// Turns one watcher event into signals for the roots it concerns.
fn classify(roots: &[Root], event: &notify::Event) -> Vec<Signal> {
    if event.need_rescan() {
        return vec![Signal::Overflow];
    }
    let mut signals = Vec::new();
    for path in &event.paths {
        for (i, root) in roots.iter().enumerate() {
            // The watched directory itself was deleted or moved away.
            if *path == root.target()
                && matches!(event.kind, EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)))
            {
                signals.push(Signal::Lost(i));
                continue;
            }
            let Some((file, manifest)) = root.locate(path) else { continue };
            let signal = match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) if manifest => Signal::Done(file),
                // Our own reads (open, access, close without writing): never a change.
                EventKind::Access(_) => continue,
                EventKind::Modify(ModifyKind::Metadata(_)) if manifest => Signal::Attributes(file),
                EventKind::Modify(ModifyKind::Metadata(_)) => continue,
                // A symlink or a hard link is complete when created: no writer will close it.
                EventKind::Create(CreateKind::File) | EventKind::Create(CreateKind::Any)
                    if manifest && is_link(path) =>
                {
                    Signal::Done(file)
                }
                EventKind::Create(CreateKind::File) | EventKind::Modify(ModifyKind::Data(_)) if manifest => {
                    Signal::Writing(file)
                }
                EventKind::Create(CreateKind::File) | EventKind::Modify(ModifyKind::Data(_)) => continue,
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => continue, // also reported as From and To
                EventKind::Modify(ModifyKind::Name(RenameMode::To)) if manifest => Signal::Done(file),
                EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) if manifest => {
                    Signal::Gone(file)
                }
                // A directory, a symlink swap: whatever they hold is read once it holds still.
                _ if root.dir || root.link => Signal::Rescan,
                _ => continue,
            };
            signals.push(signal);
        }
    }
    signals
}

/// Whether `path` is a symlink or one more name of an existing file.
fn is_link(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink() || m.nlink() > 1)
}

/// The watches, and the roots that have none (polled).
struct Watches {
    roots: Arc<[Root]>,
    watcher: Option<notify::RecommendedWatcher>,
    polled: Vec<bool>,
    /// Watching failed in a way retrying would not fix: poll every root for good.
    degraded: bool,
}

impl Watches {
    fn start(given: &[PathBuf], dirs: &[bool], tx: UnboundedSender<Signal>) -> Self {
        let roots: Arc<[Root]> = given.iter().zip(dirs).map(|(root, &dir)| Root::new(root, dir)).collect();
        let for_events = roots.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let signals = match event {
                Ok(event) => classify(&for_events, &event),
                Err(error) => vec![Signal::Failed(error.to_string())],
            };
            for signal in signals {
                let _ = tx.send(signal);
            }
        })
        .map_err(|e| {
            tracing::warn!("cannot watch the manifests ({e}); looking every {POLL_INTERVAL:?} instead")
        })
        .ok();
        let mut watches =
            Self { polled: vec![true; roots.len()], degraded: watcher.is_none(), roots, watcher };
        for i in 0..watches.roots.len() {
            if let Err(e) = watches.watch(i) {
                tracing::warn!(
                    "cannot watch {} ({e}); looking every {POLL_INTERVAL:?} instead",
                    watches.roots[i].given.display()
                );
            }
        }
        watches
    }

    fn watch(&mut self, i: usize) -> notify::Result<()> {
        use notify::{RecursiveMode, Watcher};
        let Some(watcher) = &mut self.watcher else { return Ok(()) };
        let root = &self.roots[i];
        let mode = if root.dir { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
        watcher.watch(&root.target(), mode)?;
        self.polled[i] = false;
        Ok(())
    }

    /// Root `i` lost its watch: poll it until it can be watched again.
    fn lost(&mut self, i: usize) {
        if let Some(watcher) = &mut self.watcher {
            use notify::Watcher;
            let _ = watcher.unwatch(&self.roots[i].target());
        }
        self.polled[i] = true;
    }

    /// Tries to watch the polled roots again (a vanished directory may be back).
    fn retry(&mut self) {
        for i in 0..self.roots.len() {
            if self.polled[i] && !self.degraded && self.watch(i).is_ok() {
                tracing::info!("watching {} again", self.roots[i].given.display());
            }
        }
    }

    fn polling(&self) -> bool {
        self.degraded || self.polled.iter().any(|&p| p) || self.roots.iter().any(|r| r.link)
    }
}

/// What the reload loop knows about the files' writers.
#[derive(Default)]
struct Writers {
    writing: HashSet<PathBuf>,
    done: HashSet<PathBuf>,
}

impl Writers {
    /// Takes in a signal; returns whether it calls for a reload.
    fn note(&mut self, signal: Signal, watches: &mut Watches) -> bool {
        match signal {
            Signal::Writing(path) => {
                self.done.remove(&path);
                self.writing.insert(path);
                false
            }
            Signal::Done(path) => {
                self.writing.remove(&path);
                self.done.insert(path);
                true
            }
            Signal::Gone(path) => {
                self.writing.remove(&path);
                self.done.remove(&path);
                true
            }
            Signal::Attributes(path) => {
                let idle = !self.writing.contains(&path);
                if idle {
                    self.done.insert(path);
                }
                idle
            }
            Signal::Rescan => true,
            Signal::Lost(i) => {
                if !watches.polled[i] {
                    tracing::warn!(
                        "{}: the watched directory is gone; keeping its objects, looking every {POLL_INTERVAL:?}",
                        watches.roots[i].given.display()
                    );
                    watches.lost(i);
                }
                true
            }
            Signal::Overflow => {
                // Closes may have been lost: what was being written is read once it holds still.
                tracing::warn!("the manifest watcher lost events; rescanning");
                self.writing.clear();
                true
            }
            Signal::Failed(error) => {
                if !watches.degraded {
                    tracing::warn!(
                        "the manifest watcher failed ({error}); looking every {POLL_INTERVAL:?} from now on"
                    );
                }
                watches.degraded = true;
                true
            }
        }
    }
}

/// Marks the loaded manifests (already sent by [`load_strict`](super::load_strict)) as
/// complete, says what was loaded, then watches them and republishes every change, one
/// batch per reload, until `index` goes away.
pub async fn run(mut manifests: Manifests, index: IndexHandle) {
    index.send(Update::Synced(true));
    for duplicate in manifests.take_duplicates() {
        tracing::warn!("{duplicate}");
    }
    // Its objects cannot be kept (nothing was loaded before), but it must not go unsaid.
    for path in manifests.take_blank_at_start() {
        tracing::warn!(
            "{}: the file is empty: no objects (a failed write before the start?)",
            path.display()
        );
    }
    let files = manifests.file_count();
    let Some(counts) = index.inspect(|index| index.state().counts().map(|(_, n)| n)).await else { return };
    tracing::info!("loaded {} from {files} files", summary::counts(counts));
    if counts[Kind::Service as usize] == 0 {
        warn_no_service();
    }
    let (tx, mut rx): (_, UnboundedReceiver<Signal>) = unbounded_channel();
    let mut watches = Watches::start(manifests.roots(), manifests.root_dirs(), tx);
    let mut writers = Writers::default();
    // One look once the watches are set up: a file changed since it was loaded sent no
    // event to a watch that did not exist yet.
    let mut settle_at: Option<Instant> = Some(Instant::now());
    let mut poll_at = Instant::now() + POLL_INTERVAL;
    // Without a watcher no signal ever comes (its sender is gone): poll only.
    let mut signals = true;
    loop {
        let wake = match (settle_at, watches.polling()) {
            (Some(at), true) => Some(at.min(poll_at)),
            (Some(at), false) => Some(at),
            (None, true) => Some(poll_at),
            (None, false) => None, // inotify covers everything: sleep until an event
        };
        let reload = tokio::select! {
            signal = rx.recv(), if signals => match signal {
                Some(signal) => writers.note(signal, &mut watches),
                None => {
                    signals = false;
                    false
                }
            },
            () = sleep_until(wake), if wake.is_some() => true,
            else => break,
        };
        if !reload {
            continue;
        }
        tokio::time::sleep(DEBOUNCE).await;
        while let Ok(signal) = rx.try_recv() {
            writers.note(signal, &mut watches);
        }
        if watches.polling() && Instant::now() >= poll_at {
            watches.retry();
            poll_at = Instant::now() + POLL_INTERVAL;
        }
        let report =
            manifests.reload_with(ReadRule::Settled { done: &writers.done, writing: &writers.writing });
        writers.done.clear();
        settle_at = report.unsettled.then(|| Instant::now() + SETTLE);
        for error in &report.errors {
            tracing::error!("{error}; still serving the last good version of it");
        }
        // Said once, so that the last word about a file is not its old error.
        for path in &report.recovered {
            tracing::info!("{}: read without errors again; serving what it holds now", path.display());
        }
        for duplicate in &report.duplicates {
            tracing::warn!("{duplicate}");
        }
        for kept in &report.kept {
            tracing::warn!("{kept}");
        }
        // Refused versions of named objects are logged by the index, once each.
        for skipped in report.skipped.iter().filter(|skipped| skipped.object.is_none()) {
            tracing::warn!("{skipped}");
        }
        if !report.changed() {
            continue;
        }
        let Some((updates, changed)) =
            index.inspect(move |index| summary::against(index.state(), report.updates)).await
        else {
            break;
        };
        if changed.is_empty() {
            continue;
        }
        tracing::info!("manifests reloaded: {changed}");
        if changed.services_after == 0 {
            warn_no_service();
        }
        if !index.send(Update::Batch(updates)) {
            break;
        }
    }
}

fn warn_no_service() {
    tracing::warn!(
        "the manifests hold no Service: pods get DNS names only through a headless Service, so every name answers NXDOMAIN"
    );
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, RemoveKind};

    fn event(kind: EventKind, path: &Path) -> notify::Event {
        notify::Event::new(kind).add_path(path.to_owned())
    }

    #[test]
    fn only_events_that_can_change_a_manifest_count() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.yaml");
        std::fs::write(&file, "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let roots = [Root::new(&file, false), Root::new(&dir.path().join("sub"), true)];
        let sub = |name: &str| dir.path().join("sub").join(name);
        let close_write = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let cases: Vec<(EventKind, PathBuf, Vec<Signal>)> = vec![
            // Reads never trigger a reload.
            (EventKind::Access(AccessKind::Open(AccessMode::Any)), file.clone(), vec![]),
            (EventKind::Access(AccessKind::Close(AccessMode::Read)), file.clone(), vec![]),
            (EventKind::Access(AccessKind::Open(AccessMode::Any)), dir.path().join("sub"), vec![]),
            (EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)), sub("README"), vec![]),
            // Permissions may make a file readable again.
            (
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                sub("a.yaml"),
                vec![Signal::Attributes(sub("a.yaml"))],
            ),
            // A truncation or a write: wait for the close.
            (
                EventKind::Modify(ModifyKind::Data(DataChange::Any)),
                file.clone(),
                vec![Signal::Writing(file.clone())],
            ),
            (EventKind::Create(CreateKind::File), sub("a.yaml"), vec![Signal::Writing(sub("a.yaml"))]),
            (close_write, file.clone(), vec![Signal::Done(file.clone())]),
            (
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                sub("b.json"),
                vec![Signal::Done(sub("b.json"))],
            ),
            (EventKind::Remove(RemoveKind::File), sub("b.json"), vec![Signal::Gone(sub("b.json"))]),
            // A file root's siblings are not ours; a directory root's other entries may be
            // directories or symlink swaps, but their writes are not manifests.
            (close_write, dir.path().join("other.yaml"), vec![]),
            (EventKind::Remove(RemoveKind::File), dir.path().join("other.yaml"), vec![]),
            (close_write, sub(".a.yaml.swp"), vec![]),
            (close_write, sub("README.md"), vec![]),
            (EventKind::Modify(ModifyKind::Name(RenameMode::To)), sub("..data"), vec![Signal::Rescan]),
            (EventKind::Create(CreateKind::Folder), sub("more"), vec![Signal::Rescan]),
            (EventKind::Modify(ModifyKind::Name(RenameMode::To)), sub(".git/index"), vec![]),
            (EventKind::Remove(RemoveKind::Folder), sub("..2024_01/x.yaml"), vec![]),
            // The watched directories themselves going away.
            (EventKind::Remove(RemoveKind::Folder), dir.path().join("sub"), vec![Signal::Lost(1)]),
            (
                EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                dir.path().to_owned(),
                vec![Signal::Lost(0)],
            ),
        ];
        for (kind, path, expected) in cases {
            assert_eq!(classify(&roots, &event(kind, &path)), expected, "{kind:?} {}", path.display());
        }
        // A file root that is a symlink: swapping the links next to it is a change.
        let mount = dir.path().join("mount");
        std::fs::create_dir(&mount).unwrap();
        std::os::unix::fs::symlink("..data/cluster.yaml", mount.join("cluster.yaml")).unwrap();
        let linked = [Root::new(&mount.join("cluster.yaml"), false)];
        let rename_to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(classify(&linked, &event(rename_to, &mount.join("..data"))), [Signal::Rescan]);
        assert_eq!(classify(&linked, &event(close_write, &mount.join("other.yaml"))), []);
        assert_eq!(classify(&roots, &event(rename_to, &dir.path().join("..data"))), [], "not a link");
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(classify(&roots, &overflow), [Signal::Overflow]);
    }
}
