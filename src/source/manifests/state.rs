//! What is remembered of each manifest file between reloads (its stamp, the keys of its
//! objects, a hash of each of its pieces), and how a new reading of a file becomes
//! updates: applies for the pieces that changed, refusals for their invalid objects, and
//! the keys that may have to be deleted.

use std::collections::HashSet;

use super::Skipped;
use super::files::Stamp;
use super::keys::{FileKeys, KeyHasher, Keys, KeysBuilder, key_hash, put_len, take_len};
use super::reader::{Found, Known, Message, Part};
use super::seeds::Entry;
use crate::cluster::rejected::Rejection;
use crate::cluster::{Kind, ObjectKey};
use crate::index::Update;

/// One file as last read.
#[derive(Debug)]
pub(super) struct FileState {
    pub(super) stamp: Stamp,
    /// The keys of its objects, refused ones included (their previous versions stay),
    /// piece after piece.
    pub(super) keys: FileKeys,
    pieces: Pieces,
    /// Some key came from two pieces: which version is served depends on all of them, so
    /// the next reading parses every piece.
    duplicates: bool,
    /// Another file stopped holding one of its objects, whose served version may have
    /// been that file's: read it again, every piece, so that its own is served.
    stale: bool,
    /// The keys of its objects whose version in it is refused (usually none).
    refused: Box<[(Kind, ObjectKey)]>,
}

impl FileState {
    /// Has the file read again, in full, at the next look (see [`FileState::stale`]).
    pub(super) fn read_again_in_full(&mut self) {
        self.stale = true;
    }

    /// Whether some object is defined twice in it.
    pub(super) fn has_duplicates(&self) -> bool {
        self.duplicates
    }

    /// Whether it is to be read again although it did not change.
    pub(super) fn is_stale(&self) -> bool {
        self.stale
    }

    /// The pieces a new reading need not parse again, by hash; `None`: parse them all.
    pub(super) fn known(&self) -> Option<Known> {
        if self.duplicates || self.stale {
            return None;
        }
        let mut known = Known::default();
        let pieces = self.pieces.iter().enumerate().filter(|(_, (hash, _, _))| *hash != KEPT_PIECE);
        for (index, (hash, _, documents)) in pieces {
            known.entry(hash).or_insert((index as u32, documents));
        }
        Some(known)
    }
}

/// Each piece's hash (8 bytes), key count and document count (LEB128 varints): about 10
/// bytes a piece.
#[derive(Debug, Default)]
struct Pieces(Box<[u8]>);

impl Pieces {
    /// (hash, keys, documents) of each piece, in order.
    fn iter(&self) -> impl Iterator<Item = (u64, usize, u32)> + '_ {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (hash, tail) = rest.split_first_chunk::<8>()?;
            let (keys, tail) = take_len(tail)?;
            let (documents, tail) = take_len(tail)?;
            rest = tail;
            Some((u64::from_le_bytes(*hash), keys, u32::try_from(documents).ok()?))
        })
    }
}

/// A new reading of one file, taken in as the reader hands it on.
pub(super) struct Reading<'a> {
    old: Option<&'a FileState>,
    /// The previous version's keys, unpacked once a piece is found unchanged, with where
    /// each piece's keys start.
    old_keys: Option<(Keys, Vec<usize>)>,
    /// Which pieces of the previous version are still there.
    reused: Vec<bool>,
    keys: KeysBuilder,
    pieces: Vec<u8>,
    /// The keys so far (hashed): a key seen twice marks duplicates.
    seen: HashSet<u64, KeyHasher>,
    duplicates: bool,
    /// The keys of the objects refused in the changed pieces.
    refused: Vec<(Kind, ObjectKey)>,
    /// The keys (hashed) of the changed pieces' objects: the only ones that can be new to
    /// the file.
    parsed: Vec<u64>,
    /// The keys (hashed) of the objects read valid, kept only when the previous version
    /// refused some: whether those still are refused.
    applied: Option<HashSet<u64, KeyHasher>>,
    /// The updates of the changed pieces, in file order.
    pub(super) updates: Vec<Update>,
    /// What was skipped in the changed pieces.
    pub(super) skipped: Vec<Skipped>,
}

impl<'a> Reading<'a> {
    /// A reading of a file whose previous version is `old`.
    pub(super) fn new(old: Option<&'a FileState>) -> Self {
        Self {
            old,
            old_keys: None,
            reused: Vec::new(),
            keys: KeysBuilder::default(),
            pieces: Vec::new(),
            seen: HashSet::default(),
            duplicates: false,
            refused: Vec::new(),
            parsed: Vec::new(),
            applied: old.filter(|old| !old.refused.is_empty()).map(|_| HashSet::default()),
            updates: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Takes in what the reader handed on.
    pub(super) fn take(&mut self, message: Message) {
        match message {
            Message::Parts(parts) => parts.into_iter().for_each(|part| self.part(part)),
            Message::Restart => {
                let old_keys = self.old_keys.take();
                *self = Self::new(self.old);
                self.old_keys = old_keys;
            }
        }
    }

    fn part(&mut self, part: Part) {
        let mut count = 0;
        match part.found {
            Found::Unchanged(index) => {
                let Some(old) = self.old else { return };
                let (keys, starts) = self.old_keys.get_or_insert_with(|| unpack(old));
                let index = index as usize;
                if let (Some(&start), Some(&end)) = (starts.get(index), starts.get(index + 1)) {
                    for (kind, key) in &keys[start..end] {
                        Self::key(&mut self.keys, &mut self.seen, &mut self.duplicates, *kind, key);
                        count += 1;
                    }
                }
                if self.reused.len() < starts.len() {
                    self.reused.resize(starts.len(), false);
                }
                if let Some(reused) = self.reused.get_mut(index) {
                    *reused = true;
                }
            }
            Found::Read(entries) => {
                for entry in entries {
                    match entry {
                        Entry::Object(object) => {
                            let kind = object.kind();
                            let hash = Self::key(
                                &mut self.keys,
                                &mut self.seen,
                                &mut self.duplicates,
                                kind,
                                object.key(),
                            );
                            if let Some(applied) = &mut self.applied {
                                applied.insert(hash);
                            }
                            self.parsed.push(hash);
                            self.updates.push(Update::Apply(object));
                            count += 1;
                        }
                        Entry::Skipped(skipped) => {
                            if let Some((kind, key)) = &skipped.object {
                                let hash = Self::key(
                                    &mut self.keys,
                                    &mut self.seen,
                                    &mut self.duplicates,
                                    *kind,
                                    key,
                                );
                                self.parsed.push(hash);
                                let rejection =
                                    Rejection { error: skipped.error.clone(), origin: skipped.origin() };
                                self.refused.push((*kind, key.clone()));
                                self.updates.push(Update::Rejected(*kind, key.clone(), rejection));
                                count += 1;
                            }
                            self.skipped.push(skipped);
                        }
                    }
                }
            }
        }
        self.pieces.extend_from_slice(&part.hash.to_le_bytes());
        put_len(&mut self.pieces, count);
        put_len(&mut self.pieces, part.documents as usize);
    }

    fn key(
        keys: &mut KeysBuilder,
        seen: &mut HashSet<u64, KeyHasher>,
        duplicates: &mut bool,
        kind: Kind,
        key: &ObjectKey,
    ) -> u64 {
        keys.push(kind, &key.namespace, &key.name);
        let hash = key_hash(kind, &key.namespace, &key.name);
        *duplicates |= !seen.insert(hash);
        hash
    }

    /// Whether pieces were taken unchanged where which version wins depends on the others
    /// (a key in two pieces): the file must be read again, every piece parsed.
    pub(super) fn needs_full_reading(&self) -> bool {
        self.duplicates && self.reused.contains(&true)
    }

    /// The file as now read, the keys of its previous version's pieces that are gone
    /// (deleted unless some file still has them), and the gone keys kept instead of being
    /// deleted by this reading (to be said).
    ///
    /// An edit that both takes an object out and brings in one that is refused and was
    /// not in the file before (a Service renamed `Nginx`, a pod `web_0`) is most likely a
    /// rename gone wrong: deleting the old object would take its names off the zone
    /// (NXDOMAIN, which resolvers cache) for a typo. So what such an edit takes out is
    /// kept, as a broken file's objects are, and stays kept while the file holds a refused
    /// object; the first version without one deletes what it does not define. Kept keys
    /// stay the file's meanwhile, as a last piece of their own that no text hashes to.
    pub(super) fn finish(mut self, stamp: Stamp) -> Finished {
        let hash = |(kind, key): &(Kind, ObjectKey)| key_hash(*kind, &key.namespace, &key.name);
        let (mut gone, mut kept_before) = (Vec::new(), Vec::new());
        // The previous version's keys, hashed: only when something is refused (rare).
        let mut before = HashSet::<u64, KeyHasher>::default();
        let mut refused = std::mem::take(&mut self.refused);
        if let Some(old) = self.old {
            let reused = std::mem::take(&mut self.reused);
            let (keys, starts) = self.old_keys.take().unwrap_or_else(|| unpack(old));
            let pieces = starts.windows(2).zip(old.pieces.iter()).enumerate();
            for (index, (window, (piece_hash, _, _))) in pieces {
                let piece = &keys[window[0]..window[1]];
                if piece_hash == KEPT_PIECE {
                    kept_before.extend(piece.iter().cloned());
                } else if !reused.get(index).copied().unwrap_or(false) {
                    gone.extend(piece.iter().cloned());
                }
            }
            // Refused before and still in the file, in a piece not read again.
            let applied = self.applied.take().unwrap_or_default();
            for key in old.refused.iter() {
                let h = hash(key);
                if self.seen.contains(&h) && !applied.contains(&h) && !refused.contains(key) {
                    refused.push(key.clone());
                }
            }
            if !refused.is_empty() {
                before.extend(keys.iter().map(hash));
            }
        }
        // New to the file: read in a changed piece, and not in the pieces that went (nor
        // kept from before). A rewrite that only changes values adds none.
        let went: HashSet<u64, KeyHasher> = gone.iter().chain(&kept_before).map(hash).collect();
        let added: Vec<u64> = self.parsed.iter().copied().filter(|h| !went.contains(h)).collect();
        let mut newly_kept = Vec::new();
        let mut kept = Vec::new();
        if refused.is_empty() {
            gone.append(&mut kept_before);
        } else {
            kept = kept_before;
            if refused.iter().any(|key| !before.contains(&hash(key))) {
                newly_kept = std::mem::take(&mut gone);
                kept.extend(newly_kept.iter().cloned());
            }
        }
        // What the file defines again is its own, not kept.
        kept.retain(|key| !self.seen.contains(&hash(key)));
        newly_kept.retain(|key| !self.seen.contains(&hash(key)));
        if !kept.is_empty() {
            for (kind, key) in &kept {
                self.keys.push(*kind, &key.namespace, &key.name);
            }
            self.pieces.extend_from_slice(&KEPT_PIECE.to_le_bytes());
            put_len(&mut self.pieces, kept.len());
            put_len(&mut self.pieces, 0);
        }
        let state = FileState {
            stamp,
            keys: self.keys.finish(),
            pieces: Pieces(self.pieces.into()),
            duplicates: self.duplicates,
            stale: false,
            refused: refused.into(),
        };
        Finished { state, gone, kept: newly_kept, added }
    }
}

/// What a reading of a file comes to (see [`Reading::finish`]).
pub(super) struct Finished {
    /// The file as now read.
    pub(super) state: FileState,
    /// The keys of the previous version's pieces that are gone: deleted unless some file
    /// still has them.
    pub(super) gone: Keys,
    /// The keys that went from the file but are kept, newly (to be said).
    pub(super) kept: Keys,
    /// The keys (hashed) new to the file.
    pub(super) added: Vec<u64>,
}

/// The hash of the piece that holds the objects an edit took out and that are kept
/// (see [`Reading::finish`]): no text's.
const KEPT_PIECE: u64 = 0;

/// A file's keys, unpacked, with where each piece's keys start (and the end).
fn unpack(state: &FileState) -> (Keys, Vec<usize>) {
    let keys = state.keys.to_vec();
    let mut starts = vec![0];
    for (_, count, _) in state.pieces.iter() {
        let next = starts.last().copied().unwrap_or(0) + count;
        starts.push(next.min(keys.len()));
    }
    (keys, starts)
}
