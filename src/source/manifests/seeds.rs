//! The serde seeds that read a manifest's documents: each object is converted as soon as
//! it is read, and only the fields the DNS rules need become a tree.

use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Skipped;
use crate::cluster::objects::{MCS_SERVICE_NAME_LABEL, WIRE_FIELDS, WireFields};
use crate::cluster::{Kind, Object, ObjectKey};

/// What one object of a manifest became, in file order.
#[derive(Debug, Clone)]
pub(super) enum Entry {
    /// A usable object.
    Object(Object),
    /// An object of a watched kind that failed validation.
    Skipped(Skipped),
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
pub(super) struct DocumentSeed<'a> {
    pub(super) path: &'a Path,
    pub(super) document: usize,
    pub(super) out: &'a mut Vec<Entry>,
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
        let mut items: Option<Vec<Entry>> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                let mut listed = Vec::new();
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
            Some(mut listed) if kind.ends_with("List") => self.out.append(&mut listed),
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
    out: &'a mut Vec<Entry>,
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
        let mut index = 0;
        while let Some(item) = seq.next_element_seed(Pruned(&WIRE_FIELDS))? {
            index += 1;
            collect_item(self.path, self.document, Some(index), item, self.out);
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
pub(super) struct Pruned(pub(super) &'static WireFields);

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

/// Adds what one document (or one item of a list) holds to `out`: its object, or why it
/// was skipped, with its kind and key when they can be read; the items of a list; nothing
/// for the kinds we do not watch.
pub(super) fn collect(path: &Path, document: usize, value: serde_json::Value, out: &mut Vec<Entry>) {
    collect_item(path, document, None, value, out);
}

/// [`collect`] for the `item`th (1-based) item of a list in the document, or the document.
pub(super) fn collect_item(
    path: &Path,
    document: usize,
    item: Option<usize>,
    value: serde_json::Value,
    out: &mut Vec<Entry>,
) {
    let serde_json::Value::Object(mut map) = value else {
        return; // empty documents and stray scalars carry no objects
    };
    let text = |field: &str| map.get(field).and_then(|v| v.as_str()).unwrap_or_default();
    let kind = text("kind");
    if kind == "List" || kind.ends_with("List") && map.contains_key("items") {
        if let Some(serde_json::Value::Array(items)) = map.remove("items") {
            for (i, value) in items.into_iter().enumerate() {
                collect_item(path, document, Some(i + 1), value, out);
            }
        }
        return;
    }
    // Other kinds (Deployments, ConfigMaps, ...) are not ours.
    let Some(kind) = Object::watched_kind(kind, text("apiVersion")) else { return };
    // Read before the conversion takes the value: a refused version needs it.
    let key = document_key(kind, &map);
    match Object::from_json(kind, serde_json::Value::Object(map)) {
        Ok(object) => out.push(Entry::Object(object)),
        Err(error) => {
            out.push(Entry::Skipped(Skipped { path: path.to_owned(), document, item, error, object: key }))
        }
    }
}

/// The kind and key of a document of `kind`, read as leniently as an invalid object
/// allows: `None` without a name, or with a namespace that is not a string. A slice
/// labelled with a ServiceImport's name is a multicluster slice, as when it is valid; a
/// ClusterProperty is cluster-scoped (empty namespace).
fn document_key(kind: Kind, map: &serde_json::Map<String, serde_json::Value>) -> Option<(Kind, ObjectKey)> {
    let meta = map.get("metadata")?.as_object()?;
    let name = meta.get("name")?.as_str().filter(|n| !n.is_empty())?;
    if kind == Kind::ClusterProperty {
        return Some((kind, ObjectKey { namespace: "".into(), name: name.into() }));
    }
    let namespace = match meta.get("namespace") {
        None | Some(serde_json::Value::Null) => "default",
        Some(namespace) => Some(namespace.as_str()?).filter(|n| !n.is_empty()).unwrap_or("default"),
    };
    let multicluster = meta
        .get("labels")
        .and_then(|labels| labels.get(MCS_SERVICE_NAME_LABEL))
        .and_then(|service| service.as_str())
        .is_some_and(|service| !service.is_empty());
    let kind = if kind == Kind::EndpointSlice && multicluster { Kind::McsEndpointSlice } else { kind };
    Some((kind, ObjectKey { namespace: namespace.into(), name: name.into() }))
}
