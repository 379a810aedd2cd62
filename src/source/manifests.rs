//! The manifests source: Pods, Services and StatefulSets read from YAML/JSON files.
//!
//! Accepts files and directories (`.yaml`, `.yml`, `.json`), multi-document YAML and
//! `kind: List`, so `kubectl get pods,services,statefulsets -A -o yaml` output works as is.
//! Files are watched; a change is reloaded and published as one replacement of the
//! whole state. A file that breaks keeps its last good objects until it is fixed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::cluster::objects::{WIRE_FIELDS, WireFields};
use crate::cluster::{Kind, Object, ObjectError, ObjectKey};
use crate::index::{IndexHandle, Update};

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The path does not exist.
    #[error(
        "{path}: no such file or directory; pass a manifest file or a directory of .yaml/.yml/.json files"
    )]
    Missing {
        /// The path given.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML/JSON.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
}

/// An object that was skipped, with where it came from.
#[derive(Debug)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// 1-based index of the YAML document in the file.
    pub document: usize,
    /// Why.
    pub error: ObjectError,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {}): {}", self.path.display(), self.document, self.error)
    }
}

/// The objects of one file, plus what was skipped in it.
#[derive(Debug, Default)]
pub struct FileObjects {
    /// Usable objects.
    pub objects: Vec<Object>,
    /// Objects skipped with a reason.
    pub skipped: Vec<Skipped>,
}

/// Parses one manifest file's text. `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<FileObjects, ManifestError> {
    let syntax = |line: usize, column: usize, message: String| ManifestError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message,
    };
    // Objects are converted as soon as they are read: one document, or one item of a
    // `List`, is in memory as a tree at a time (`kubectl get -o yaml` writes a whole
    // cluster as a single List document).
    let mut out = FileObjects::default();
    if path.extension().is_some_and(|e| e == "json") {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        DocumentSeed { path, document: 1, out: &mut out }
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end())
            .map_err(|e| syntax(e.line(), e.column(), e.to_string()))?;
    } else {
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            DocumentSeed { path, document: i + 1, out: &mut out }.deserialize(document).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                syntax(line, column, e.to_string())
            })?;
        }
    }
    Ok(out)
}

/// The `Visitor` methods for scalars and empty values, which carry no objects: an empty
/// document, a stray scalar, `items: null`. Both seeds below accept and skip them.
macro_rules! ignore_scalars {
    () => {
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
    };
}

/// Reads one document: an object, or a `List` whose items are converted one by one as
/// the parser reaches them instead of after the whole list was read into a tree.
struct DocumentSeed<'a> {
    path: &'a Path,
    document: usize,
    out: &'a mut FileObjects,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Kubernetes object or list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields = serde_json::Map::new();
        // `items` may come before `kind` (kubectl sorts the keys): keep the converted
        // items aside until the kind says whether this is a list.
        let mut items: Option<FileObjects> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                let mut listed = FileObjects::default();
                map.next_value_seed(ItemsSeed {
                    path: self.path,
                    document: self.document,
                    out: &mut listed,
                })?;
                items = Some(listed);
            } else if let Some(part) = WIRE_FIELDS.under(&key) {
                fields.insert(key, map.next_value_seed(Pruned(part))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let kind = fields.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
        match items {
            Some(mut listed) if kind.ends_with("List") => {
                self.out.objects.append(&mut listed.objects);
                self.out.skipped.append(&mut listed.skipped);
            }
            _ => collect(self.path, self.document, serde_json::Value::Object(fields), self.out),
        }
        Ok(())
    }

    // Empty documents and stray scalars or sequences carry no objects.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

/// A list's `items`, each converted to an object as soon as it is read.
struct ItemsSeed<'a> {
    path: &'a Path,
    document: usize,
    out: &'a mut FileObjects,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element_seed(Pruned(&WIRE_FIELDS))? {
            collect(self.path, self.document, item, self.out);
        }
        Ok(())
    }

    // `items: null`, `items: {}` and other shapes: nothing listed.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    ignore_scalars!();
}

/// Reads a value into a tree keeping only the given part ([`WIRE_FIELDS`]), so a
/// manifest's container specs, managed fields and status details are parsed but never
/// allocated. What is kept deserializes into the wire types exactly as the whole value.
///
/// *Why:* building the whole tree of each object was a third of a YAML load's time.
struct Pruned(&'static WireFields);

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<serde_json::Value, D::Error> {
        match self.0 {
            WireFields::All => serde::Deserialize::deserialize(deserializer),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.0.under(&key) {
                Some(part) => {
                    kept.insert(key, map.next_value_seed(Pruned(part))?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(serde_json::Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        let part = match self.0 {
            WireFields::Each(part) => part,
            _ => &WireFields::All,
        };
        let mut kept = Vec::new();
        while let Some(element) = seq.next_element_seed(Pruned(part))? {
            kept.push(element);
        }
        Ok(serde_json::Value::Array(kept))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<serde_json::Value, D::Error> {
        self.deserialize(deserializer)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<serde_json::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
}

fn collect(path: &Path, document: usize, value: serde_json::Value, out: &mut FileObjects) {
    let serde_json::Value::Object(mut map) = value else {
        return; // empty documents and stray scalars carry no objects
    };
    let text = |field: &str| map.get(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let (kind, api_version) = (text("kind"), text("apiVersion"));
    if kind == "List" || kind.ends_with("List") && map.contains_key("items") {
        if let Some(serde_json::Value::Array(items)) = map.remove("items") {
            for item in items {
                collect(path, document, item, out);
            }
        }
        return;
    }
    let value = serde_json::Value::Object(map);
    let Some(kind) = Object::watched_kind(&kind, &api_version) else {
        return; // other kinds (Deployments, ConfigMaps, ...) are not ours
    };
    match Object::from_json(kind, value) {
        Ok(object) => out.objects.push(object),
        Err(error) => out.skipped.push(Skipped { path: path.to_owned(), document, error }),
    }
}

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
/// *Why:* YAML parsing is most of a large load (about 50 ms per MiB); files parse
/// independently, so cores divide it.
fn parse_in_order(files: &[&Path], each: &mut dyn FnMut(usize, Result<FileObjects, ManifestError>)) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
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
fn is_manifest(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

/// The manifest files under `root` (a file, or a directory searched recursively), sorted.
fn files_under(root: &Path) -> Result<Vec<PathBuf>, ManifestError> {
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
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// The manifests under a set of paths. It remembers which objects each file
/// contributed (their keys, not the objects: the index holds the only copy), so a reload
/// becomes a diff — applies and deletes — and a broken file simply contributes no change.
#[derive(Debug)]
pub struct Manifests {
    roots: Vec<PathBuf>,
    files: BTreeMap<PathBuf, (Stamp, FileKeys)>,
}

/// The keys of the objects one file contributed, packed into one allocation. Each key
/// is a kind byte, the namespace (empty: the previous key's), then the name as the
/// length of the prefix it shares with the previous name and the rest. A file's objects
/// are mostly one namespace and numbered names (`web-0`, `web-1`), so a key takes about
/// 6 bytes: a `Vec<ObjectKey>` would cost three allocations per object, as much as the
/// object's DNS data, and plain packing 25 bytes (3 MiB at 100k pods).
#[derive(Debug, Default)]
struct FileKeys(Box<[u8]>);

impl FileKeys {
    fn new<'a>(keys: impl Iterator<Item = (Kind, &'a ObjectKey)>) -> Self {
        fn put(packed: &mut Vec<u8>, bytes: &[u8]) {
            put_len(packed, bytes.len());
            packed.extend_from_slice(bytes);
        }
        let mut packed = Vec::new();
        let (mut namespace, mut name): (&str, &str) = ("", "");
        for (kind, key) in keys {
            packed.push(kind as u8);
            put(&mut packed, if *key.namespace == *namespace { b"" } else { key.namespace.as_bytes() });
            let shared = name.bytes().zip(key.name.bytes()).take_while(|(a, b)| a == b).count();
            put_len(&mut packed, shared);
            put(&mut packed, &key.name.as_bytes()[shared..]);
            (namespace, name) = (&key.namespace, &key.name);
        }
        Self(packed.into())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Calls `f` with each key, in the order they were packed.
    fn for_each(&self, mut f: impl FnMut(Kind, &str, &str)) {
        let (mut rest, mut namespace, mut name) = (&self.0[..], "", Vec::new());
        while let Some((&kind, tail)) = rest.split_first() {
            let Some((ns, tail)) = take_bytes(tail) else { return };
            let Some((shared, tail)) = take_len(tail) else { return };
            let Some((suffix, tail)) = take_bytes(tail) else { return };
            rest = tail;
            if !ns.is_empty() {
                namespace = std::str::from_utf8(ns).unwrap_or_default();
            }
            name.truncate(shared);
            name.extend_from_slice(suffix);
            // Packed from `&str`s, and cut only where two of them share a prefix.
            if let (Some(&kind), Ok(name)) = (Kind::ALL.get(usize::from(kind)), std::str::from_utf8(&name)) {
                f(kind, namespace, name);
            }
        }
    }
}

/// Appends `len` as a LEB128 varint (one byte below 128).
fn put_len(packed: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        packed.push((len as u8) | 0x80);
        len >>= 7;
    }
    packed.push(len as u8);
}

/// Splits a LEB128 varint off the front of `bytes`.
fn take_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (mut len, mut shift) = (0usize, 0);
    for (i, &b) in bytes.iter().enumerate() {
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some((len, &bytes[i + 1..]));
        }
        shift += 7;
    }
    None
}

/// Splits a length-prefixed byte string off the front of `bytes`.
fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, after) = take_len(bytes)?;
    after.split_at_checked(len)
}

/// What a (re)load found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files that could not be read or parsed; their previous objects are kept.
    pub errors: Vec<ManifestError>,
    /// Objects skipped for missing or invalid fields.
    pub skipped: Vec<Skipped>,
    /// The changes to apply: applies of the changed files, and deletes of the objects
    /// no file has any more.
    pub updates: Vec<Update>,
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
        Self { roots, files: BTreeMap::new() }
    }

    /// Reads every file whose modification time or size changed since the last load and
    /// returns the changes. A missing root or broken file keeps its previous objects.
    pub fn reload(&mut self) -> LoadReport {
        let mut updates = Vec::new();
        let (errors, skipped) = self.reload_into(usize::MAX, &mut |chunk| updates.extend(chunk));
        LoadReport { errors, skipped, updates }
    }

    /// [`reload`](Self::reload), handing the updates to `sink` in chunks of about
    /// `chunk` objects as the files are parsed. Deletes come in the last chunk; they
    /// only name objects that no file has any more, so no earlier apply undoes them.
    pub fn reload_into(
        &mut self,
        chunk: usize,
        sink: &mut dyn FnMut(Vec<Update>),
    ) -> (Vec<ManifestError>, Vec<Skipped>) {
        let (mut errors, mut skipped) = (Vec::new(), Vec::new());
        let mut present: Vec<PathBuf> = Vec::new();
        let mut unavailable_roots: Vec<&Path> = Vec::new();
        for root in &self.roots {
            match files_under(root) {
                Ok(files) => present.extend(files),
                Err(e) => {
                    errors.push(e);
                    unavailable_roots.push(root);
                }
            }
        }
        // Files that disappeared from a readable root are gone with their objects; those
        // under a root that vanished as a whole are kept (a remount, a bad deploy).
        // Objects of gone files, and the previous objects of changed files, are deleted
        // at the end unless some file still has them.
        let mut maybe_deleted: Vec<FileKeys> = Vec::new();
        self.files.retain(|path, (_, keys)| {
            let keep = present.contains(path) || unavailable_roots.iter().any(|r| path.starts_with(r));
            if !keep {
                maybe_deleted.push(std::mem::take(keys));
            }
            keep
        });
        let mut applies = Vec::new();
        let changed: Vec<(PathBuf, Stamp)> = present
            .into_iter()
            .map(|path| {
                let now = stamp(&path);
                (path, now)
            })
            .filter(|(path, now)| self.files.get(path).is_none_or(|(old, _)| old != now))
            .collect();
        let paths: Vec<&Path> = changed.iter().map(|(path, _)| path.as_path()).collect();
        parse_in_order(&paths, &mut |i, result| match result {
            Ok(parsed) => {
                let (path, now) = changed[i].clone();
                skipped.extend(parsed.skipped);
                let keys = FileKeys::new(parsed.objects.iter().map(|o| (o.kind(), o.key())));
                if let Some((_, old)) = self.files.insert(path, (now, keys)) {
                    maybe_deleted.push(old);
                }
                applies.extend(parsed.objects.into_iter().map(Update::Apply));
                if applies.len() >= chunk {
                    sink(std::mem::take(&mut applies));
                }
            }
            Err(e) => errors.push(e),
        });
        let mut last = Vec::new();
        if maybe_deleted.iter().any(|keys| !keys.is_empty()) {
            // An object deleted from one file but still in another stays. Keys are
            // compared spelled as one string (NUL never occurs in a name), so the scan
            // over every file's keys allocates nothing.
            let spell = |buffer: &mut String, kind: Kind, namespace: &str, name: &str| {
                buffer.clear();
                buffer.extend([kind.as_str(), "\0", namespace, "\0", name]);
            };
            let (mut candidates, mut order) = (std::collections::HashSet::new(), Vec::new());
            let mut buffer = String::new();
            for keys in &maybe_deleted {
                keys.for_each(|kind, namespace, name| {
                    spell(&mut buffer, kind, namespace, name);
                    if candidates.insert(buffer.clone()) {
                        order.push((kind, ObjectKey { namespace: namespace.into(), name: name.into() }));
                    }
                });
            }
            for (_, keys) in self.files.values() {
                keys.for_each(|kind, namespace, name| {
                    spell(&mut buffer, kind, namespace, name);
                    candidates.remove(buffer.as_str());
                });
            }
            for (kind, key) in order {
                spell(&mut buffer, kind, &key.namespace, &key.name);
                if candidates.contains(buffer.as_str()) {
                    last.push(Update::Delete(kind, key));
                }
            }
        }
        last.append(&mut applies);
        if !last.is_empty() {
            sink(last);
        }
        (errors, skipped)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Pod;

    #[test]
    fn lists_and_multi_documents_are_read_and_other_kinds_ignored() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n  spec: {clusterIP: None, selector: {app: a}}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {podIP: 10.0.0.1}\n---\n";
        let parsed = parse(Path::new("x.yaml"), text).unwrap();
        assert_eq!(parsed.objects.len(), 2);
        assert!(parsed.skipped.is_empty());
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse(Path::new("bad.yaml"), "kind: Pod\nmetadata: {name: [\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
        assert!(matches!(err, ManifestError::Syntax { line, .. } if line >= 2), "{text}");
        let err = parse(Path::new("bad.json"), "{\n \"kind\": \n}").unwrap_err();
        assert!(matches!(err, ManifestError::Syntax { line: 3, .. }), "{err}");
    }

    #[test]
    fn objects_with_missing_fields_are_skipped_with_a_reason() {
        let parsed = parse(
            Path::new("m.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: nostatus}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
        )
        .unwrap();
        assert!(parsed.objects.is_empty());
        assert_eq!(parsed.skipped.len(), 2);
        assert!(parsed.skipped[0].to_string().contains("m.yaml (document 1)"));
    }

    #[test]
    fn file_keys_read_back_as_packed() {
        let long = "x".repeat(300);
        let keys: Vec<(Kind, ObjectKey)> = [
            (Kind::Service, "ns-a", "web"),
            (Kind::Pod, "ns-a", "web-0"),
            (Kind::Pod, "ns-a", "web-10"),
            (Kind::Pod, "ns-a", "web-1"),
            (Kind::StatefulSet, "ns-b", "web"),
            (Kind::Pod, "ns-b", &long),
            (Kind::Pod, "ns-a", "caf\u{e9}"),
            (Kind::Pod, "ns-a", "caf\u{e8}"),
            (Kind::Pod, "ns-a", ""),
        ]
        .into_iter()
        .map(|(kind, ns, name)| (kind, ObjectKey { namespace: ns.into(), name: name.into() }))
        .collect();
        let packed = FileKeys::new(keys.iter().map(|(kind, key)| (*kind, key)));
        let mut read = Vec::new();
        packed.for_each(|kind, ns, name| {
            read.push((kind, ObjectKey { namespace: ns.into(), name: name.into() }));
        });
        assert_eq!(read, keys);
        assert!(packed.0.len() < 400, "{} bytes", packed.0.len());
        assert!(FileKeys::new(std::iter::empty()).is_empty());
    }

    #[test]
    fn a_reload_deletes_what_no_file_has_and_keeps_what_moved() {
        let dir = tempfile::tempdir().unwrap();
        let pods = |names: &[&str]| {
            names
                .iter()
                .map(|n| {
                    format!(
                        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\nstatus: {{podIP: 10.0.0.1}}\n"
                    )
                })
                .collect::<Vec<_>>()
                .join("---\n")
        };
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&a, pods(&["web-0", "web-1", "web-2"])).unwrap();
        std::fs::write(&b, pods(&["db-0"])).unwrap();
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        assert_eq!(manifests.reload().updates.len(), 4);
        // web-1 moves to b, web-2 is gone, db-0 is gone.
        std::fs::write(&a, pods(&["web-0"])).unwrap();
        std::fs::write(&b, pods(&["web-1", "extra-0"])).unwrap();
        let deleted: Vec<String> = manifests
            .reload()
            .updates
            .iter()
            .filter_map(|u| match u {
                Update::Delete(Kind::Pod, key) => Some(format!("{}/{}", key.namespace, key.name)),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["default/web-2", "default/db-0"]);
    }

    /// The reference reading: each document's whole tree, then `collect`.
    fn parse_whole(path: &Path, text: &str) -> FileObjects {
        let mut out = FileObjects::default();
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let value: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
            collect(path, i + 1, value, &mut out);
        }
        out
    }

    #[test]
    fn pruned_objects_read_exactly_as_whole_ones() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\n  namespace: db\n  labels: {app: web, statefulset.kubernetes.io/pod-name: web-0}\n  annotations: {a: b}\n  managedFields: [{manager: kubelet, fieldsV1: {f:status: {}}}]\n  ownerReferences: [{kind: StatefulSet, name: web}]\nspec:\n  hostname: web-0\n  subdomain: web\n  containers:\n  - name: c\n    image: nginx\n    env: [{name: A, value: b}]\n    resources: {limits: {cpu: 1}}\n    ports: [{name: http, containerPort: 8080, protocol: TCP}]\n  initContainers: [{name: i, ports: [{name: init, containerPort: 1}]}]\n  volumes: [{name: v, emptyDir: {}}]\nstatus:\n  phase: Running\n  podIP: 10.0.0.1\n  podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]\n  conditions: [{type: Ready, status: 'True', lastTransitionTime: x}]\n  containerStatuses: [{name: c, ready: true}]\n";
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: db, annotations: {service.alpha.kubernetes.io/tolerate-unready-endpoints: 'true'}}\nspec: {clusterIP: None, clusterIPs: [None], selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}], publishNotReadyAddresses: false, sessionAffinity: None}\nstatus: {loadBalancer: {}}\n";
        let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: db, generation: 3}\nspec: {serviceName: web, replicas: 3, ordinals: {start: 2}, selector: {matchLabels: {app: web}}, template: {spec: {containers: [{name: c}]}}}\nstatus: {replicas: 3, conditions: []}\n";
        // Each malformed where a pruned reader might go wrong: the wire types must see
        // (and reject, or accept) the same values.
        let broken = [
            pod.replace("  hostname: web-0", "  hostname: 7"),
            pod.replace("  containers:\n", "  containers: 5\n  old:\n"),
            pod.replace("    ports: [{name: http, containerPort: 8080, protocol: TCP}]", "    ports: x"),
            pod.replace(
                "    ports: [{name: http, containerPort: 8080, protocol: TCP}]",
                "    ports: [{containerPort: x}]",
            ),
            pod.replace("  - name: c\n", "  - 3\n  - name: c\n"),
            pod.replace(
                "  conditions: [{type: Ready, status: 'True', lastTransitionTime: x}]",
                "  conditions: bad",
            ),
            pod.replace("  podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]", "  podIPs: {ip: 10.0.0.1}"),
            pod.replace("  labels: {app: web, statefulset.kubernetes.io/pod-name: web-0}", "  labels: [1]"),
            pod.replace("spec:\n", "spec: x\nold:\n"),
            pod.replace("status:\n", "status: [1]\nold:\n"),
            service.replace("selector: {app: web}", "selector: [app]"),
            service.replace("publishNotReadyAddresses: false", "publishNotReadyAddresses: 1.5"),
            sts.replace("replicas: 3,", "replicas: x,"),
            sts.replace("ordinals: {start: 2}", "ordinals: {start: -1}"),
            sts.replace("metadata: {name: web,", "metadata: {name: ~,"),
        ];
        let mut documents = vec![pod.to_owned(), service.to_owned(), sts.to_owned()];
        documents.extend(broken);
        let items: Vec<String> = documents
            .iter()
            .map(|d| {
                let item = d.trim_end().replace('\n', "\n  ");
                format!("- {item}\n")
            })
            .collect();
        let list = format!("apiVersion: v1\nkind: List\nitems:\n{}", items.concat());
        for text in [documents.join("---\n"), list] {
            let path = Path::new("m.yaml");
            let (pruned, whole) = (parse(path, &text).unwrap(), parse_whole(path, &text));
            assert_eq!(pruned.objects, whole.objects);
            let reasons = |f: &FileObjects| f.skipped.iter().map(ToString::to_string).collect::<Vec<_>>();
            assert_eq!(reasons(&pruned), reasons(&whole));
            assert_eq!((pruned.objects.len(), pruned.skipped.len()), (3, 15), "{:?}", reasons(&pruned));
        }
    }

    #[test]
    fn files_parsed_in_parallel_apply_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        // Files of very different sizes, so parsers finish out of order; every file also
        // has `shared`, whose version from the last file must win.
        for i in 0..12 {
            let mut text = String::new();
            for j in 0..(if i % 3 == 0 { 400 } else { 1 }) {
                text += &format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: f{i:02}-{j}}}\nstatus: {{podIP: 10.0.0.1}}\n---\n"
                );
            }
            text += &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: shared}}\nstatus: {{podIP: 10.0.1.{i}}}\n"
            );
            std::fs::write(dir.path().join(format!("{i:02}.yaml")), text).unwrap();
        }
        let mut manifests = Manifests::new(vec![dir.path().to_owned()]);
        let pods: Vec<Pod> = manifests
            .reload()
            .updates
            .into_iter()
            .filter_map(|u| match u {
                Update::Apply(Object::Pod(pod)) => Some((*pod).clone()),
                _ => None,
            })
            .collect();
        let files: Vec<&str> =
            pods.iter().filter(|p| &*p.key.name != "shared").map(|p| &p.key.name[1..3]).collect();
        let disorder = files.windows(2).find(|w| w[0] > w[1]);
        assert!(
            disorder.is_none(),
            "file {:?} applied after file {:?}",
            disorder.unwrap()[1],
            disorder.unwrap()[0]
        );
        assert_eq!(files.len(), 4 * 400 + 8);
        let last_shared = pods.iter().rev().find(|p| &*p.key.name == "shared").unwrap();
        assert_eq!(last_shared.ips[0].to_string(), "10.0.1.11");
    }
}
