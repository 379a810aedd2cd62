//! The SOA serial policy: serials that replicas agree on (from resourceVersions), or the
//! clock's (from manifests). The index is the one place that sets a zone's serial.
//!
//! **From the Kubernetes API** the serial is derived from the resourceVersions of the
//! changes applied (etcd revisions: one counter for the whole cluster, equal on every
//! replica that has seen the same change, and increasing). When a commit changes the
//! records, the serial becomes the highest resourceVersion seen so far, modulo 2³² —
//! or, if that would not move it forward in serial arithmetic, the serial plus one.
//! Two replicas that applied the same events therefore publish the same serial, however
//! they batched them: a replica's serial after a change is that change's revision.
//! That holds only if no commit sees a revision without its change: each change reaches
//! the index together with its revision, in one message
//! ([`send_revised`](super::IndexHandle::send_revised)).
//!
//! - *Bookmarks* advance a watch's resourceVersion without a change; they are not
//!   changes (kube's watcher does not even report them), so they never move the serial.
//! - *A relist* replays every object: a replica that relisted never saw the DELETE
//!   events the others saw. If its records changed, its serial becomes the highest
//!   revision it has seen, which may be ahead of the others' (never behind) until the
//!   next change, which sets every replica to that change's revision. If its records
//!   did not change, its serial does not move.
//! - *Restarts*: revisions only increase, so the first serial after a restart is at least
//!   the last one served. Until the first list completes (answering from `--state-file`)
//!   the serial is 0, which every later revision exceeds.
//!
//! **From manifests** there is no revision: the serial is the Unix time of the change in
//! seconds, bumped past the last one served, so it still increases across restarts.

/// The next serial from manifests: the current Unix time, but always moving forward.
pub fn from_clock(current: u32) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    now.max(current.wrapping_add(1))
}

/// The serial rule of the Kubernetes source: remembers the highest revision seen.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    /// Highest resourceVersion seen; `None` until the source says it has revisions.
    highest: Option<u64>,
    /// Whether every watch has completed its first list.
    listed: bool,
    /// Whether a serial was derived from a real revision yet.
    applied: bool,
}

impl Revisions {
    /// Records a resourceVersion seen (0: serials come from revisions, none known yet).
    /// Recorded with the change it belongs to ([`Index::apply_revised`](super::Index::apply_revised)),
    /// so the commit of the change knows it.
    pub fn saw(&mut self, revision: u64) {
        let highest = self.highest.get_or_insert(0);
        *highest = (*highest).max(revision);
    }

    /// Every watch has completed its first list. Returns true when the serial must be
    /// recomputed even without a change: the highest revision listed replaces the
    /// placeholder (answering from a state file, the list may change nothing).
    /// A sync before any revision (a state file loaded) is not a list: ignored.
    pub fn listed(&mut self) -> bool {
        if self.highest.unwrap_or(0) == 0 {
            return false;
        }
        self.listed = true;
        !self.applied
    }

    /// Whether serials come from revisions (the Kubernetes source).
    pub fn active(&self) -> bool {
        self.highest.is_some()
    }

    /// The serial after a commit, given the serial before it and whether the records changed.
    /// `None` when serials do not come from revisions.
    pub fn next(&mut self, current: u32, changed: bool) -> Option<u32> {
        let highest = self.highest?;
        let candidate = highest as u32; // modulo 2³²: serial arithmetic handles the wrap
        if !self.applied {
            // Until the first complete list, a placeholder every revision exceeds: a
            // partial list's highest revision would differ between replicas.
            if !self.listed || highest == 0 {
                return Some(0);
            }
            self.applied = true;
            return Some(candidate);
        }
        Some(match changed {
            false => current,
            true if crate::wire::serial_gt(candidate, current) => candidate,
            true => current.wrapping_add(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_serial_always_moves_forward() {
        let now = from_clock(0);
        assert!(now > 1_700_000_000, "the Unix time");
        assert_eq!(from_clock(u32::MAX - 1), u32::MAX, "past the clock: one more");
        assert_eq!(from_clock(now + 10), now + 11);
    }

    #[test]
    fn the_serial_is_the_revision_of_the_last_change_however_batched() {
        // Replica a applies revisions 100, 105, 110 one commit each; b the three at once.
        let (mut a, mut b) = (Revisions::default(), Revisions::default());
        a.saw(1);
        b.saw(1);
        assert!(a.listed() && b.listed());
        let mut serial_a = 0;
        for rv in [100, 105, 110] {
            a.saw(rv);
            serial_a = a.next(serial_a, true).unwrap();
        }
        for rv in [100, 105, 110] {
            b.saw(rv);
        }
        let serial_b = b.next(0, true).unwrap();
        assert_eq!((serial_a, serial_b), (110, 110));
        // An event that changes nothing (or a bookmark-like advance) does not move it.
        a.saw(120);
        assert_eq!(a.next(110, false), Some(110));
        // The next change takes the highest revision seen.
        a.saw(130);
        assert_eq!(a.next(110, true), Some(130));
    }

    #[test]
    fn the_first_revision_replaces_the_placeholder_and_wraps_modulo_2_32() {
        let mut r = Revisions::default();
        r.saw(0);
        assert!(!r.listed(), "a state file's sync is not a list");
        assert_eq!(r.next(1, true), Some(0), "answering from the state file: serial 0");
        r.saw(50);
        assert_eq!(r.next(0, false), Some(0), "a partial list does not count");
        r.saw(u64::from(u32::MAX) + 10);
        assert!(r.listed(), "the complete list sets the serial, change or not");
        assert_eq!(r.next(0, false), Some(9), "even without a change, modulo 2^32");
        assert!(!r.listed(), "only once");
        r.saw(u64::from(u32::MAX) + 5); // older: never moves back
        assert_eq!(r.next(9, true), Some(10));
        assert_eq!(Revisions::default().next(5, true), None, "manifests: no revisions");
    }
}
