//! Parsing one manifest file: multi-document YAML, JSON and `kind: List`, read through
//! serde seeds that convert each object as soon as it is read and keep only the fields the
//! DNS rules need.

use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::cluster::objects::{WIRE_FIELDS, WireFields};
use crate::cluster::{Object, ObjectError};

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
        write!(
            f,
            "{} (document {}): {}; the object is skipped",
            self.path.display(),
            self.document,
            self.error
        )
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
    } else if let Some(listed) = parse_list_items(path, text) {
        out = listed;
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

/// A one-document YAML `List` read item by item (see [`super::yaml_list`]): `None` when
/// the file is not one, or a piece does not parse alone; the caller then reads it whole.
fn parse_list_items(path: &Path, text: &str) -> Option<FileObjects> {
    #[derive(serde::Deserialize)]
    struct Header {
        kind: Option<String>,
    }
    let split = super::yaml_list::split(text)?;
    let header: Header = serde_yaml::from_str(&split.header).ok()?;
    if !header.kind.is_some_and(|kind| kind.ends_with("List")) {
        return None;
    }
    let mut out = FileObjects::default();
    for item in &split.items {
        let mut documents = serde_yaml::Deserializer::from_str(item);
        let value = Pruned(&WIRE_FIELDS).deserialize(documents.next()?).ok()?;
        if documents.next().is_some() {
            return None;
        }
        collect(path, 1, value, &mut out);
    }
    Some(out)
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
    let kind = text("kind");
    if kind == "List" || kind.ends_with("List") && map.contains_key("items") {
        if let Some(serde_json::Value::Array(items)) = map.remove("items") {
            for item in items {
                collect(path, document, item, out);
            }
        }
        return;
    }
    match Object::from_document(serde_json::Value::Object(map)) {
        None => {} // other kinds (Deployments, ConfigMaps, ...) are not ours
        Some(Ok(object)) => out.objects.push(object),
        Some(Err(error)) => out.skipped.push(Skipped { path: path.to_owned(), document, error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\n  namespace: db\n  labels: {app: web, statefulset.kubernetes.io/pod-name: web-0}\n  annotations: {a: b}\n  managedFields: [{manager: kubelet, fieldsV1: {f:status: {}}}]\n  ownerReferences: [{kind: StatefulSet, name: web}]\nspec:\n  hostname: web-0\n  subdomain: web\n  nodeName: node-1\n  containers:\n  - name: c\n    image: nginx\n    env: [{name: A, value: b}]\n    resources: {limits: {cpu: 1}}\n    ports: [{name: http, containerPort: 8080, protocol: TCP}]\n  initContainers: [{name: i, ports: [{name: init, containerPort: 1}]}]\n  volumes: [{name: v, emptyDir: {}}]\nstatus:\n  phase: Running\n  podIP: 10.0.0.1\n  podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}]\n  hostIP: 192.0.2.1\n  hostIPs: [{ip: 192.0.2.1}, {ip: '2001:db8::1'}]\n  conditions: [{type: Ready, status: 'True', lastTransitionTime: x}]\n  containerStatuses: [{name: c, ready: true}]\n";
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: db, annotations: {service.alpha.kubernetes.io/tolerate-unready-endpoints: 'true'}}\nspec: {clusterIP: None, clusterIPs: [None], selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}], publishNotReadyAddresses: false, sessionAffinity: None}\nstatus: {loadBalancer: {}}\n";
        let exposed = "apiVersion: v1\nkind: Service\nmetadata: {name: lb, namespace: db, creationTimestamp: '2024-05-01T12:00:00Z', uid: x, annotations: {external-dns.alpha.kubernetes.io/hostname: 'lb.example.com,*.x.example.com', external-dns.kubernetes.io/ttl: 1m, kubectl.kubernetes.io/last-applied-configuration: '{}'}}\nspec: {type: LoadBalancer, clusterIP: 10.96.0.9, externalIPs: [198.51.100.1], ports: [{name: http, port: 80, nodePort: 30080, targetPort: 8080}], externalTrafficPolicy: Cluster}\nstatus: {loadBalancer: {ingress: [{ip: 203.0.113.1, ipMode: VIP}, {hostname: lb.example.net}]}, conditions: []}\n";
        let node = "apiVersion: v1\nkind: Node\nmetadata: {name: node-1, labels: {kubernetes.io/os: linux}}\nspec: {podCIDR: 10.244.1.0/24, taints: []}\nstatus:\n  addresses: [{type: InternalIP, address: 10.0.0.1}, {type: ExternalIP, address: 203.0.113.1}, {type: Hostname, address: node-1}]\n  capacity: {cpu: '4'}\n  conditions: [{type: Ready, status: 'True'}]\n  images: [{names: [nginx], sizeBytes: 1}]\n";
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
            pod.replace("  nodeName: node-1", "  nodeName: [1]"),
            pod.replace("  hostIPs: [{ip: 192.0.2.1}, {ip: '2001:db8::1'}]", "  hostIPs: 7"),
            exposed.replace("externalIPs: [198.51.100.1]", "externalIPs: 5"),
            exposed.replace("nodePort: 30080", "nodePort: x"),
            exposed.replace("{ip: 203.0.113.1, ipMode: VIP}", "{ip: [1]}"),
            exposed.replace("creationTimestamp: '2024-05-01T12:00:00Z'", "creationTimestamp: {}"),
            node.replace("  addresses: [", "  addresses: x\n  old: ["),
            node.replace("metadata: {name: node-1,", "metadata: {"),
        ];
        let mut documents =
            vec![pod.to_owned(), service.to_owned(), sts.to_owned(), exposed.to_owned(), node.to_owned()];
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
            // The List is read item by item; the documents, each whole.
            assert_eq!(parse_list_items(path, &text).is_some(), text.contains("kind: List\nitems:"));
            assert_eq!(pruned.objects, whole.objects);
            let reasons = |f: &FileObjects| f.skipped.iter().map(ToString::to_string).collect::<Vec<_>>();
            assert_eq!(reasons(&pruned), reasons(&whole));
            assert_eq!((pruned.objects.len(), pruned.skipped.len()), (5, 23), "{:?}", reasons(&pruned));
            let external = pruned.objects.iter().find_map(|o| match o {
                Object::Service(s) => s.external.as_ref(),
                _ => None,
            });
            let external = external.expect("the annotated service");
            assert_eq!((external.hostnames.len(), external.problems.len(), external.ttl), (1, 1, Some(60)));
            assert_eq!((external.load_balancer.len(), external.created), (2, 1_714_564_800));
            assert!(pruned.objects.iter().any(|o| matches!(o, Object::Node(n) if n.external_ips.len() == 1)));
        }
    }

    #[test]
    fn a_list_whose_items_do_not_parse_alone_is_read_whole() {
        let path = Path::new("m.yaml");
        // An alias to an anchor in another item; a syntax error, with its line in the file.
        let alias = "kind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: &m {name: a, namespace: d}\n  spec: {clusterIP: None}\n- apiVersion: v1\n  kind: Service\n  metadata: *m\n  spec: {clusterIP: None}\n";
        assert!(parse_list_items(path, alias).is_none());
        let parsed = parse(path, alias).unwrap();
        assert_eq!(parsed.objects, parse_whole(path, alias).objects);
        assert_eq!(parsed.objects.len(), 2);
        let broken = "kind: List\nitems:\n- kind: Service\n  metadata: {name: a\n- kind: Pod\n";
        assert!(parse_list_items(path, broken).is_none());
        let err = parse(path, broken).unwrap_err().to_string();
        assert!(err.contains("m.yaml") && err.contains("line 5"), "{err}");
    }
}
