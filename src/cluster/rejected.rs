//! Objects whose newest version failed validation. The last good version stays in the
//! state (an object never seen good stays absent), and this remembers why the newest one
//! was refused, for `explain` and the metrics, until a good version or a deletion comes.
//!
//! *Why:* a bad value edited into a live manifest, or an object an operator's controller
//! wrote half-right, must not take the object's name with it: an identity that answered
//! keeps answering from what was last right, and the log, the metrics and `explain` say
//! that what is served is not the newest version.

use std::sync::Arc;

use super::{ClusterState, Kind, ObjectError, ObjectKey};

/// A refused version of an object: why, and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// What is wrong with it.
    pub error: ObjectError,
    /// Where it was read: a manifest file and document, or the API's resourceVersion.
    pub origin: String,
}

impl ClusterState {
    /// The newest version of `kind`/`key` was refused: the stored version, if any, stays
    /// (a running relist counts it as seen), and the refusal is remembered. Returns
    /// whether a previous version is being served.
    pub fn reject(&mut self, kind: Kind, key: &ObjectKey, rejection: Rejection) -> bool {
        self.mark_seen(kind, key);
        self.rejected.insert((kind, key.clone()), Arc::new(rejection));
        self.stored_address(kind, key).is_some()
    }

    /// Why the newest version of `kind`/`key` was refused, while what is served is older
    /// (or nothing).
    pub fn rejection(&self, kind: Kind, key: &ObjectKey) -> Option<&Rejection> {
        self.rejected.get(&(kind, key.clone())).map(|r| &**r)
    }

    /// Every object whose newest version was refused, with why.
    pub fn rejections(&self) -> impl Iterator<Item = (Kind, &ObjectKey, &Rejection)> {
        self.rejected.iter().map(|((kind, key), rejection)| (*kind, key, &**rejection))
    }

    /// A good version of `kind`/`key` arrived, or it was deleted: no refusal to report.
    pub(super) fn accepted(&mut self, kind: Kind, key: &ObjectKey) {
        if !self.rejected.is_empty() {
            self.rejected.remove(&(kind, key.clone()));
        }
    }
}
