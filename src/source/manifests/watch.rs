//! Watching the manifests and republishing what changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Manifests;
use crate::index::{IndexHandle, Update};

/// How often the files are checked when no change notification arrives (a fallback for
/// file systems without inotify, and for roots that were deleted and re-created).
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Changes arriving within this window are reloaded together.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// Marks the loaded manifests (already sent by [`load_strict`]) as complete, then
/// watches them and republishes every change, one batch per reload, until `index` goes
/// away.
pub async fn run(mut manifests: Manifests, index: IndexHandle) {
    index.send(Update::Synced(true));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let _watcher = watch(&manifests.roots, tx);
    loop {
        tokio::select! {
            event = rx.recv() => if event.is_none() { break },
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
        while rx.try_recv().is_ok() {}
        let report = manifests.reload();
        for error in &report.errors {
            tracing::error!("{error}; still serving the last good version of it");
        }
        for skipped in &report.skipped {
            tracing::warn!("{skipped}");
        }
        if report.changed() {
            tracing::info!(changes = report.updates.len(), "manifests changed, reloaded");
            if !index.send(Update::Batch(report.updates)) {
                break;
            }
        }
    }
}

/// Watches each root (a file's directory, so editors' rename-on-save is seen).
fn watch(
    roots: &[PathBuf],
    tx: tokio::sync::mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .map_err(|e| tracing::warn!("cannot watch manifests ({e}); checking every {POLL_INTERVAL:?} instead"))
    .ok()?;
    for root in roots {
        let target =
            if root.is_dir() { root.clone() } else { root.parent().map(Path::to_owned).unwrap_or_default() };
        let target = if target.as_os_str().is_empty() { PathBuf::from(".") } else { target };
        if let Err(e) = watcher.watch(&target, RecursiveMode::Recursive) {
            tracing::warn!(
                "cannot watch {} ({e}); checking every {POLL_INTERVAL:?} instead",
                target.display()
            );
        }
    }
    Some(watcher)
}
