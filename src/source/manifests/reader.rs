//! Reading one manifest file as pieces: the documents of a YAML stream (`stream.rs`),
//! each `List` document cut into its items (`yaml_list.rs`), each piece parsed alone and
//! known by a hash of its text. A piece whose hash the file's previous version also had
//! is not parsed again: its objects are unchanged.
//!
//! *Why:* a manifest rewritten whole to change one pod (a controller, a script, `kubectl
//! get -o yaml > file` on a timer) was parsed and converted whole at every write: a
//! 3.5 MB file rewritten five times a second took most of a core (docs/performance.md).
//! And a large stream or List is never in memory as a whole: one document (or item) is
//! parsed at a time, and what was read is handed on in batches as the file is read.
//!
//! JSON files, and YAML that cannot be cut safely (directives, `...` markers, pieces that
//! do not parse alone), are one piece: the whole text, parsed as before.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use serde::de::DeserializeSeed;

use super::seeds::{DocumentSeed, Entry, Pruned, collect_item};
use super::stream::{self, Documents, Next, TextDocuments};
use super::{ManifestError, yaml_list};
use crate::cluster::objects::WIRE_FIELDS;

/// One piece of a file, in file order.
#[derive(Debug)]
pub(super) struct Part {
    /// The hash of its text.
    pub(super) hash: u64,
    /// How many YAML documents start in it (a document numbers the objects in messages).
    pub(super) documents: u32,
    /// Its objects, or that they are those of a piece of the previous version.
    pub(super) found: Found,
}

/// What a piece holds.
#[derive(Debug)]
pub(super) enum Found {
    /// The same text as this piece (by index) of the file's previous version.
    Unchanged(u32),
    /// What was read in it, in order.
    Read(Vec<Entry>),
}

/// What the reader hands on, as it reads.
#[derive(Debug)]
pub(super) enum Message {
    /// The next pieces.
    Parts(Vec<Part>),
    /// The pieces handed on so far are void: the file is read again, whole.
    Restart,
}

/// The pieces of a file's previous version: hash -> (index, documents).
pub(super) type Known = HashMap<u64, (u32, u32), foldhash::fast::FixedState>;

/// Where a file's text comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'a> {
    /// The file: read at once up to [`AT_ONCE`], else as the pieces are parsed.
    File(&'a Path),
    /// A text already read, named `path` in messages.
    Text(&'a Path, &'a str),
}

impl Source<'_> {
    fn path(&self) -> &Path {
        match self {
            Source::File(path) | Source::Text(path, _) => path,
        }
    }

    fn whole(&self) -> Result<Cow<'_, str>, ManifestError> {
        match self {
            Source::File(path) => {
                std::fs::read_to_string(path).map(Into::into).map_err(|e| self.read_error(e))
            }
            Source::Text(_, text) => Ok((*text).into()),
        }
    }

    fn read_error(&self, source: std::io::Error) -> ManifestError {
        ManifestError::Read { path: self.path().to_owned(), source }
    }
}

/// How many pieces, or entries, are handed on at a time.
const BATCH: usize = 512;

/// Files up to this size are read at once, into one allocation, and cut in place; larger
/// ones are read as they are parsed, so that a whole-cluster file is never in memory.
///
/// *Why:* a rewritten file is mostly unchanged pieces, whose cost is reading and hashing:
/// a text grown line by line took half of a reload's time in reallocations and page
/// faults.
const AT_ONCE: u64 = 8 << 20;

/// Reads `source` piece by piece, handing the pieces on to `send` in batches as they are
/// read. `known`: the pieces of the file's previous version, which are not parsed again.
/// On an error nothing sent is to be used.
pub(super) fn read(
    source: Source<'_>,
    known: Option<&Known>,
    send: &mut dyn FnMut(Message),
) -> Result<(), ManifestError> {
    read_at_once_up_to(AT_ONCE, source, known, send)
}

/// [`read`], reading files of up to `at_once` bytes at once.
fn read_at_once_up_to(
    at_once: u64,
    source: Source<'_>,
    known: Option<&Known>,
    send: &mut dyn FnMut(Message),
) -> Result<(), ManifestError> {
    let path = source.path();
    let json = path.extension().is_some_and(|e| e == "json");
    let text;
    let source = match source {
        Source::File(path) if json || std::fs::metadata(path).is_ok_and(|m| m.len() <= at_once) => {
            text = source.whole()?;
            Source::Text(path, &text)
        }
        other => other,
    };
    let unchanged = |hash: u64| known.and_then(|known| known.get(&hash)).copied();
    if !json {
        let mut batch = Batch { parts: Vec::new(), entries: 0, send: &mut *send, sent: false };
        if cut(source, &unchanged, &mut batch)? {
            batch.flush();
            return Ok(());
        }
        // Not safely cut: the whole text, as one piece (with the errors' lines in the file).
        if batch.sent {
            send(Message::Restart);
        }
    }
    let text = source.whole()?;
    let hash = hash(Piece::Whole, 0, &text);
    let found = match unchanged(hash) {
        Some((index, _)) => Found::Unchanged(index),
        None => Found::Read(super::parse::whole(path, &text)?),
    };
    send(Message::Parts(vec![Part { hash, documents: 1, found }]));
    Ok(())
}

/// Cuts a YAML file into pieces and parses the changed ones into `out`; `false` when the
/// file must be read whole instead.
fn cut(
    source: Source<'_>,
    unchanged: &dyn Fn(u64) -> Option<(u32, u32)>,
    out: &mut Batch<'_>,
) -> Result<bool, ManifestError> {
    let path = source.path();
    let mut documents: Box<dyn Iterator<Item = std::io::Result<Next<Cow<'_, str>>>>> = match source {
        Source::Text(_, text) => Box::new(TextDocuments::new(text).map(|next| {
            Ok(match next {
                Next::Document(document) => Next::Document(Cow::Borrowed(document)),
                Next::Unsafe => Next::Unsafe,
            })
        })),
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| source.read_error(e))?;
            let mut documents = Documents::new(std::io::BufReader::with_capacity(64 << 10, file));
            Box::new(std::iter::from_fn(move || documents.next().transpose()).map(|next| {
                next.map(|next| match next {
                    Next::Document(document) => Next::Document(Cow::Owned(document)),
                    Next::Unsafe => Next::Unsafe,
                })
            }))
        }
    };
    // Documents so far: numbers the objects in messages.
    let mut count = 0usize;
    while let Some(next) = documents.next().transpose().map_err(|e| source.read_error(e))? {
        let text = match next {
            Next::Document(text) => text,
            Next::Unsafe => return Ok(false),
        };
        if count == 0 && stream::is_blank(&text) {
            continue; // comments before the first `---`: no document
        }
        if let Some(split) = list_items(&text) {
            count += 1;
            for (i, item) in split.items.iter().enumerate() {
                let hash = hash(Piece::Item, item.by, item.raw);
                let found = match unchanged(hash) {
                    Some((index, _)) => Found::Unchanged(index),
                    None => match parse_item(path, count, i + 1, &item.text()) {
                        Some(entries) => Found::Read(entries),
                        None => return Ok(false),
                    },
                };
                out.push(Part { hash, documents: u32::from(i == 0), found });
            }
            continue;
        }
        let hash = hash(Piece::Document, 0, stream::content(&text));
        if let Some((index, documents)) = unchanged(hash) {
            count += documents as usize;
            out.push(Part { hash, documents, found: Found::Unchanged(index) });
            continue;
        }
        let mut entries = Vec::new();
        let Some(documents) = parse_documents(path, count, &text, &mut entries) else { return Ok(false) };
        count += documents as usize;
        out.push(Part { hash, documents, found: Found::Read(entries) });
    }
    Ok(true)
}

/// Parts waiting to be handed on.
struct Batch<'a> {
    parts: Vec<Part>,
    entries: usize,
    send: &'a mut dyn FnMut(Message),
    sent: bool,
}

impl Batch<'_> {
    fn push(&mut self, part: Part) {
        if let Found::Read(entries) = &part.found {
            self.entries += entries.len();
        }
        self.parts.push(part);
        if self.parts.len() >= BATCH || self.entries >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.parts.is_empty() {
            (self.send)(Message::Parts(std::mem::take(&mut self.parts)));
            self.entries = 0;
            self.sent = true;
        }
    }
}

/// What a hash is of: the same text means the same objects only as the same kind of piece
/// (and a document and a List item count their documents apart).
#[derive(Clone, Copy)]
enum Piece {
    Whole,
    Document,
    Item,
}

/// A piece's hash: of its text, and for a List item the indentation it is cut by.
fn hash(piece: Piece, by: usize, text: &str) -> u64 {
    let mut hasher = foldhash::quality::FixedState::with_seed(0x6d61_6e69_6665_7374).build_hasher();
    hasher.write_u8(piece as u8);
    hasher.write_usize(by);
    hasher.write_usize(text.len());
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// A `List` document cut into its items, or `None` when `text` is not one (see
/// [`yaml_list`]).
fn list_items(text: &str) -> Option<yaml_list::Split<'_>> {
    #[derive(serde::Deserialize)]
    struct Header {
        kind: Option<String>,
        /// Another `items` key besides the cut one: the whole reading takes the last.
        items: Option<serde::de::IgnoredAny>,
    }
    // Cheap refusals first: most documents of a stream are single objects. A document
    // whose `---` line carries more (a tag, a node) is not cut.
    let first = text.split_inclusive('\n').next().unwrap_or_default();
    if !text.contains("items:") || stream::is_marker(first, "---") && !stream::is_bare_marker(first) {
        return None;
    }
    let split = yaml_list::split(text)?;
    let header: Header = serde_yaml::from_str(&split.header).ok()?;
    (header.items.is_none() && header.kind.is_some_and(|kind| kind.ends_with("List"))).then_some(split)
}

/// The `index`th item (1-based) of a List, the `document`-th of its file: `None` when it
/// does not parse as one document on its own.
fn parse_item(path: &Path, document: usize, index: usize, item: &str) -> Option<Vec<Entry>> {
    let mut documents = serde_yaml::Deserializer::from_str(item);
    let value = Pruned(&WIRE_FIELDS).deserialize(documents.next()?).ok()?;
    if documents.next().is_some() {
        return None;
    }
    let mut entries = Vec::new();
    collect_item(path, document, Some(index), value, &mut entries);
    Some(entries)
}

/// The documents of one piece of a stream (one, unless libyaml breaks lines where the
/// cut did not look), numbered after the `before` ones: how many, or `None` when they do
/// not parse alone.
fn parse_documents(path: &Path, before: usize, text: &str, out: &mut Vec<Entry>) -> Option<u32> {
    let mut count = 0;
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        DocumentSeed { path, document: before + i + 1, out: &mut *out }.deserialize(document).ok()?;
        count += 1;
    }
    Some(count)
}

/// Every piece of a text, as [`read`] hands them on (after any restart), the `known`
/// ones unchanged.
pub(super) fn pieces(path: &Path, text: &str, known: Option<&Known>) -> Result<Vec<Part>, ManifestError> {
    let mut parts = Vec::new();
    read(Source::Text(path, text), known, &mut |message| match message {
        Message::Parts(mut more) => parts.append(&mut more),
        Message::Restart => parts.clear(),
    })?;
    Ok(parts)
}

/// The pieces of a reading, as a reading of the next version looks them up.
pub(super) fn known(parts: &[Part]) -> Known {
    let mut known = Known::default();
    for (index, part) in parts.iter().enumerate() {
        known.entry(part.hash).or_insert((index as u32, part.documents));
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "m.yaml";

    fn pod(name: &str, ip: &str) -> String {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nstatus: {{podIP: {ip}}}\n")
    }

    /// What each piece holds: `unchanged <index>`, or the names of its objects and the
    /// documents of its skipped objects, with the piece's document count.
    fn shape(parts: &[Part]) -> Vec<String> {
        parts
            .iter()
            .map(|part| match &part.found {
                Found::Unchanged(index) => format!("unchanged {index} ({})", part.documents),
                Found::Read(entries) => {
                    let names: Vec<String> = entries
                        .iter()
                        .map(|entry| match entry {
                            Entry::Object(object) => object.key().name.to_string(),
                            Entry::Skipped(skipped) => format!("skipped in {}", skipped.document),
                        })
                        .collect();
                    format!("{} ({})", names.join(" "), part.documents)
                }
            })
            .collect()
    }

    #[test]
    fn a_stream_and_its_lists_are_read_piece_by_piece() {
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n- {}",
            pod("b", "10.0.0.2").replace('\n', "\n  ").trim_end(),
            pod("c", "10.0.0.3").replace('\n', "\n  ").trim_end(),
        );
        let text = format!(
            "# a comment\n---\n{}---\n{list}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: d}}\n",
            pod("a", "10.0.0.1")
        );
        let parts = pieces(Path::new(PATH), &text, None).unwrap();
        assert_eq!(shape(&parts), ["a (1)", "b (1)", "c (0)", "skipped in 3 (1)"]);
    }

    #[test]
    fn unchanged_pieces_are_not_parsed_again_wherever_they_moved() {
        let path = Path::new(PATH);
        let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\n";
        let before = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), bad.to_owned(), pod("c", "10.0.0.3")];
        let old = pieces(path, &before.join("---\n"), None).unwrap();
        assert_eq!(shape(&old), ["a (1)", "b (1)", "skipped in 3 (1)", "c (1)"]);
        // c moves first, b changes, a new bad one after the old one: the new one is
        // numbered by the documents before it, unchanged ones included.
        let after = [
            pod("c", "10.0.0.3"),
            pod("a", "10.0.0.1"),
            pod("b", "10.0.0.9"),
            bad.to_owned(),
            bad.replace("bad", "worse"),
        ];
        let new = pieces(path, &after.join("---\n"), Some(&known(&old))).unwrap();
        assert_eq!(
            shape(&new),
            ["unchanged 3 (1)", "unchanged 0 (1)", "b (1)", "unchanged 2 (1)", "skipped in 5 (1)"]
        );
        // The same in a List: items are known by their text too.
        let list = |pods: &[String]| {
            let items: Vec<String> =
                pods.iter().map(|p| format!("- {}\n", p.trim_end().replace('\n', "\n  "))).collect();
            format!(
                "apiVersion: v1\nitems:\n{}kind: List\nmetadata: {{resourceVersion: \"1\"}}\n",
                items.concat()
            )
        };
        let old = pieces(path, &list(&before), None).unwrap();
        assert_eq!(shape(&old), ["a (1)", "b (0)", "skipped in 1 (0)", "c (0)"]);
        let new = pieces(path, &list(&after).replace("\"1\"", "\"2\""), Some(&known(&old))).unwrap();
        assert_eq!(
            shape(&new),
            ["unchanged 3 (1)", "unchanged 0 (0)", "b (0)", "unchanged 2 (0)", "skipped in 1 (0)"]
        );
    }

    #[test]
    fn what_cannot_be_cut_safely_is_read_whole_as_one_piece() {
        let path = Path::new(PATH);
        let directive = format!("%YAML 1.1\n---\n{}---\n{}", pod("a", "10.0.0.1"), pod("b", "10.0.0.2"));
        let parts = pieces(path, &directive, None).unwrap();
        assert_eq!(shape(&parts), ["a b (1)"]);
        assert_eq!(shape(&pieces(path, &directive, Some(&known(&parts))).unwrap()), ["unchanged 0 (1)"]);
        // An alias to another item's anchor, after more pieces than one batch: what was
        // handed on is restarted.
        let many: Vec<String> = (0..600).map(|i| pod(&format!("p{i}"), "10.0.0.1")).collect();
        let alias = "kind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: &m {name: a, namespace: d}\n  spec: {clusterIP: None}\n- apiVersion: v1\n  kind: Service\n  metadata: *m\n  spec: {clusterIP: None}\n";
        let text = format!("{}---\n{alias}", many.join("---\n"));
        let parts = pieces(path, &text, None).unwrap();
        assert_eq!(parts.len(), 1);
        let Found::Read(entries) = &parts[0].found else { panic!() };
        assert_eq!(entries.len(), 602);
        // A syntax error in one document: the whole file's error, at its line in the file.
        let broken = format!("{}---\nkind: Pod\nmetadata: {{name: [\n", many[..3].join("---\n"));
        let error = pieces(path, &broken, None).unwrap_err().to_string();
        assert_eq!(error, super::super::parse_whole(path, &broken).unwrap_err().to_string());
        assert!(error.starts_with("m.yaml:18:"), "{error}");
        // JSON: one piece.
        let json = Path::new("m.json");
        let text = r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "status": {"podIP": "10.0.0.1"}}]}"#;
        assert_eq!(shape(&pieces(json, text, None).unwrap()), ["a (1)"]);
    }

    #[test]
    fn a_file_read_as_it_is_parsed_is_cut_as_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  status: {podIP: 10.0.0.2}\n";
        let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: c}\n";
        let texts = [
            format!("# header\n---\n{}---\n{list}---\n{bad}", pod("a", "10.0.0.1")),
            format!("%YAML 1.1\n---\n{}", pod("a", "10.0.0.1")),
            format!("{}---\nkind: Pod\nmetadata: {{name: [\n", pod("a", "10.0.0.1")),
        ];
        for (i, text) in texts.iter().enumerate() {
            let path = dir.path().join(format!("{i}.yaml"));
            std::fs::write(&path, text).unwrap();
            for at_once in [0, u64::MAX] {
                let mut parts = Vec::new();
                let read =
                    read_at_once_up_to(at_once, Source::File(&path), None, &mut |message| match message {
                        Message::Parts(mut more) => parts.append(&mut more),
                        Message::Restart => parts.clear(),
                    });
                match pieces(&path, text, None) {
                    Ok(expected) => {
                        read.unwrap();
                        assert_eq!(shape(&parts), shape(&expected), "{text}");
                        let hashes = |p: &[Part]| p.iter().map(|p| p.hash).collect::<Vec<_>>();
                        assert_eq!(hashes(&parts), hashes(&expected));
                    }
                    Err(error) => assert_eq!(read.unwrap_err().to_string(), error.to_string()),
                }
            }
        }
    }
}
