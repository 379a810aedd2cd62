//! Parsing one manifest file's text: multi-document YAML, JSON and `kind: List`, cut into
//! pieces (`reader.rs`) and read through serde seeds (`seeds.rs`) that convert each object
//! as soon as it is read and keep only the fields the DNS rules need.

use std::path::{Path, PathBuf};

use serde::de::DeserializeSeed;

use super::reader::{self, Found, Message, Source};
use super::seeds::{DocumentSeed, Entry};
use crate::cluster::{Kind, Object, ObjectError, ObjectKey};

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
    /// A path that was read before is gone (a remount, a bad deploy): its objects are
    /// kept until it is back.
    #[error("{path}: no such file or directory any more")]
    Vanished {
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
    /// The file became empty (nothing but white space) while it held objects: most likely a write that
    /// failed after truncating it (`kubectl get ... > file` without a cluster), so its
    /// objects are kept. Writing anything without objects in it (`---`, a comment) or
    /// deleting the file removes them.
    #[error(
        "{path}: the file is empty now (it held {objects} objects; a failed write?); to remove them, delete \
         the file or leave a comment in it"
    )]
    Emptied {
        /// The file.
        path: PathBuf,
        /// How many objects it held.
        objects: usize,
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
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// 1-based index of the YAML document in the file.
    pub document: usize,
    /// 1-based index of the item, when the document is a `List`.
    pub item: Option<usize>,
    /// Why.
    pub error: ObjectError,
    /// Its kind and key, when they could be read: its previous version, if any, is kept
    /// (see [`Update::Rejected`](crate::index::Update::Rejected)).
    pub object: Option<(Kind, ObjectKey)>,
}

impl Skipped {
    /// Where it was read, as the index and `explain` name it: `file (document N)`, or
    /// `file (document N, item M)` in a `List`.
    pub fn origin(&self) -> String {
        match self.item {
            Some(item) => format!("{} (document {}, item {item})", self.path.display(), self.document),
            None => format!("{} (document {})", self.path.display(), self.document),
        }
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; the object is skipped", self.origin(), self.error)
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

impl From<Vec<Entry>> for FileObjects {
    fn from(entries: Vec<Entry>) -> Self {
        let mut out = FileObjects::default();
        for entry in entries {
            match entry {
                Entry::Object(object) => out.objects.push(object),
                Entry::Skipped(skipped) => out.skipped.push(skipped),
            }
        }
        out
    }
}

/// Parses one manifest file's text. `path` is only used in messages.
///
/// A YAML stream is parsed one document at a time, a `List` one item at a time (see
/// `reader.rs`); what cannot be cut safely is parsed whole, as [`parse_whole`] does, and
/// the result is the same either way (tested, and fuzzed).
pub fn parse(path: &Path, text: &str) -> Result<FileObjects, ManifestError> {
    let mut entries = Vec::new();
    reader::read(Source::Text(path, text), None, &mut |message| match message {
        Message::Parts(parts) => {
            for part in parts {
                if let Found::Read(mut read) = part.found {
                    entries.append(&mut read);
                }
            }
        }
        Message::Restart => entries.clear(),
    })?;
    Ok(entries.into())
}

/// Parses one manifest file's text without cutting it: each YAML document whole (a
/// `List` item by item as serde_yaml reaches them, after reading all of the document's
/// events). The reference [`parse`] is checked against.
pub fn parse_whole(path: &Path, text: &str) -> Result<FileObjects, ManifestError> {
    whole(path, text).map(Into::into)
}

/// What a reload reads of `text` after reading `before` from the same file: the pieces
/// of `text` that `before` also had are not parsed again, and stand for what they held in
/// `before` (with its document numbers). For the fuzz target, which checks that it reads
/// the same objects as [`parse`].
#[doc(hidden)]
pub fn parse_again(path: &Path, before: &str, text: &str) -> Result<FileObjects, ManifestError> {
    let old = reader::pieces(path, before, None)?;
    let mut entries = Vec::new();
    for part in reader::pieces(path, text, Some(&reader::known(&old)))? {
        match part.found {
            Found::Read(mut read) => entries.append(&mut read),
            Found::Unchanged(index) => {
                if let Some(Found::Read(read)) = old.get(index as usize).map(|part| &part.found) {
                    entries.extend(read.iter().cloned());
                }
            }
        }
    }
    Ok(entries.into())
}

/// [`parse_whole`], as entries in file order.
pub(super) fn whole(path: &Path, text: &str) -> Result<Vec<Entry>, ManifestError> {
    // The parsers' messages end in " at line L column C": the error says it first already.
    let syntax = |line: usize, column: usize, message: String| ManifestError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: message.replacen(&format!(" at line {line} column {column}"), "", 1),
    };
    let mut out = Vec::new();
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

#[cfg(test)]
mod tests {
    use super::super::seeds::collect;
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
        let key = |name: &str| ObjectKey { namespace: "default".into(), name: name.into() };
        assert_eq!(parsed.skipped[0].object, Some((Kind::Pod, key("nostatus"))));
        assert_eq!(parsed.skipped[1].object, Some((Kind::Service, key("s"))));
    }

    #[test]
    fn a_skipped_object_is_named_when_its_kind_and_key_can_be_read() {
        let texts = [
            (
                "kind: Pod
apiVersion: v1
metadata: {name: p, namespace: ns}
",
                Some((Kind::Pod, "ns", "p")),
            ),
            (
                "kind: Pod
apiVersion: v1
metadata: {namespace: ns}
",
                None,
            ),
            (
                "kind: Pod
apiVersion: v1
metadata: {name: p, namespace: [x]}
",
                None,
            ),
            (
                "kind: Pod
apiVersion: v1
metadata: {name: 5}
",
                None,
            ),
            (
                "kind: Pod
apiVersion: v1
metadata: {name: p, namespace: ''}
",
                Some((Kind::Pod, "default", "p")),
            ),
            (
                "kind: ClusterProperty
apiVersion: about.k8s.io/v1alpha1
metadata: {name: id.k8s.io, namespace: x}
spec: {value: Not_A_Label}
",
                Some((Kind::ClusterProperty, "", "id.k8s.io")),
            ),
            (
                "kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {name: s, labels: {multicluster.kubernetes.io/service-name: db}}
",
                Some((Kind::McsEndpointSlice, "default", "s")),
            ),
            (
                "kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {name: s}
endpoints: [{addresses: [x]}]
",
                Some((Kind::EndpointSlice, "default", "s")),
            ),
        ];
        for (text, expected) in texts {
            let parsed = parse(Path::new("m.yaml"), text).unwrap();
            assert_eq!(parsed.skipped.len(), 1, "{text}");
            let expected = expected.map(|(kind, namespace, name): (Kind, &str, &str)| {
                (kind, ObjectKey { namespace: namespace.into(), name: name.into() })
            });
            assert_eq!(parsed.skipped[0].object, expected, "{text}");
            assert_eq!(parsed.skipped[0].origin(), "m.yaml (document 1)");
        }
    }

    /// The reference reading: each document's whole tree, then `collect`.
    fn parse_trees(path: &Path, text: &str) -> FileObjects {
        let mut out = Vec::new();
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let value: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
            collect(path, i + 1, value, &mut out);
        }
        out.into()
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
            let (pruned, trees) = (parse(path, &text).unwrap(), parse_trees(path, &text));
            let whole = parse_whole(path, &text).unwrap();
            // The List is read item by item; the documents, each alone.
            assert!(reader::pieces(path, &text, None).unwrap().len() > 1);
            let reasons = |f: &FileObjects| f.skipped.iter().map(ToString::to_string).collect::<Vec<_>>();
            for reference in [&trees, &whole] {
                assert_eq!(pruned.objects, reference.objects);
                assert_eq!(reasons(&pruned), reasons(reference));
            }
            assert_eq!((pruned.objects.len(), pruned.skipped.len()), (5, 23), "{:?}", reasons(&pruned));
            // A List's items are told apart by their place in it, the documents by theirs.
            let first = &reasons(&pruned)[0];
            let place = if text.contains("kind: List") { "(document 1, item 6)" } else { "(document 6)" };
            assert!(first.starts_with(&format!("m.yaml {place}: Pod db/web-0: spec.hostname: ")), "{first}");
            let external = pruned.objects.iter().find_map(|o| match o {
                Object::Service(s) => s.external.as_ref(),
                _ => None,
            });
            let external = external.expect("the annotated service");
            assert_eq!((external.hostnames.len(), external.problems().len(), external.ttl), (1, 1, Some(60)));
            assert_eq!((external.load_balancer().len(), external.created), (2, 1_714_564_800));
            assert!(pruned.objects.iter().any(|o| matches!(o, Object::Node(n) if n.external_ips.len() == 1)));
        }
    }

    #[test]
    fn a_list_whose_items_do_not_parse_alone_is_read_whole() {
        let path = Path::new("m.yaml");
        // An alias to an anchor in another item; a syntax error, with its line in the file.
        let alias = "kind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: &m {name: a, namespace: d}\n  spec: {clusterIP: None}\n- apiVersion: v1\n  kind: Service\n  metadata: *m\n  spec: {clusterIP: None}\n";
        assert_eq!(reader::pieces(path, alias, None).unwrap().len(), 1, "read whole");
        let parsed = parse(path, alias).unwrap();
        assert_eq!(parsed.objects, parse_trees(path, alias).objects);
        assert_eq!(parsed.objects.len(), 2);
        let broken = "kind: List\nitems:\n- kind: Service\n  metadata: {name: a\n- kind: Pod\n";
        let err = parse(path, broken).unwrap_err().to_string();
        assert!(err.starts_with("m.yaml:5:"), "{err}");
    }

    #[test]
    fn cut_and_whole_readings_agree_where_a_cut_could_go_wrong() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {podIP: 10.0.0.1}\n";
        let item = "- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  status: {podIP: 10.0.0.2}\n";
        let texts = [
            // Lines a List cut drops: a control character, a tab, a no-break space.
            format!("kind: List\nitems:\n{item}# \u{0}\n{item}"),
            format!("kind: List\nitems:\n{item}\t# c\n{item}"),
            format!("kind: List\nitems:\n{item}\u{a0}\n{item}"),
            // A second `items:` after the cut one: the whole reading takes the last.
            format!("kind: List\nitems:\n{item}other: x\nitems:\n{}", item.replace("name: b", "name: c")),
            // A lone CR: libyaml starts a line there, which the cut would move.
            "kind: List\nitems:\n  - abc\rdef\n      ghi\n".to_owned(),
            // Before the first `---`: a byte-order mark in a comment, a tab, a lone CR.
            format!("# a\u{feff}\n---\n{pod}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: c}}\n"),
            format!("\t# a\n---\n{pod}"),
            format!("# a\rb: 1\n---\n{pod}"),
            // Markers libyaml does not take for one, and one it does (after NEL).
            format!("{pod}---\u{a0}\n{pod}"),
            format!("{pod}\u{85}---\n{pod}"),
            // A document left open, an alias across documents.
            format!("{pod}metadata: {{name: [\n---\n{pod}"),
            format!("a: &x 1\n---\n{pod}b: *x\n"),
        ];
        let path = Path::new("m.yaml");
        for text in texts {
            match (parse(path, &text), parse_whole(path, &text)) {
                (Ok(cut), Ok(whole)) => {
                    assert_eq!(cut.objects, whole.objects, "{text:?}");
                    let spelled =
                        |f: &FileObjects| f.skipped.iter().map(ToString::to_string).collect::<Vec<_>>();
                    assert_eq!(spelled(&cut), spelled(&whole), "{text:?}");
                }
                (Err(cut), Err(whole)) => assert_eq!(cut.to_string(), whole.to_string(), "{text:?}"),
                (cut, whole) => panic!("{text:?}: {cut:?} / {whole:?}"),
            }
        }
    }
}
