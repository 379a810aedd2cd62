//! What a document that does not have the shape of its kind is told: the object's name
//! when it has one, the path of the field, and serde's reason in Kubernetes' words rather
//! than our wire types' (`expected a mapping`, not `expected struct ConditionWire`).

use super::{Kind, ObjectError, SharedStr};

/// The error of reading a wire type, with the path of the field it happened at.
pub(super) type WireError = serde_path_to_error::Error<serde_json::Error>;

/// A document's name, read before the document is taken by its conversion, which a
/// refusal then names. Held in strings that keep short names inline: every document pays
/// for this read, and only a refused one for the text.
pub(super) struct DocumentName {
    namespace: Option<SharedStr>,
    name: SharedStr,
}

/// The name of a document, if it has one.
pub(super) fn document_name(value: &serde_json::Value) -> Option<DocumentName> {
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str().filter(|n| !n.is_empty())?;
    let namespace = meta.get("namespace").and_then(|n| n.as_str()).filter(|n| !n.is_empty());
    Some(DocumentName { namespace: namespace.map(SharedStr::from), name: name.into() })
}

/// The [`ObjectError::Malformed`] of a `kind` document named `name` that `error` refused:
/// `namespace/name` (namespace `default` when it has none), or the name alone for a
/// cluster-scoped kind.
pub(super) fn error(kind: Kind, name: Option<&DocumentName>, error: WireError) -> ObjectError {
    let name = name.map(|n| kind.object_name(n.namespace.as_deref().unwrap_or("default"), &n.name));
    let path = error.path().to_string();
    let reason = plain(&error.into_inner().to_string());
    let message = if path.is_empty() || path == "." { reason } else { format!("{path}: {reason}") };
    ObjectError::Malformed { kind: kind.as_str(), name, message }
}

/// serde's reason with our type names put in the manifest's terms: a struct is a mapping,
/// an integer type an integer.
fn plain(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find("expected ") {
        let (before, after) = rest.split_at(at + "expected ".len());
        out.push_str(before);
        let word_end = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        if let Some(name) = after.strip_prefix("struct ") {
            out.push_str("a mapping");
            rest = &name[word_end(name)..];
        } else {
            let end = word_end(after);
            match &after[..end] {
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
                    out.push_str("an integer")
                }
                word => out.push_str(word),
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::Object;
    use super::*;
    use serde_json::json;

    fn message(kind: Kind, value: serde_json::Value) -> String {
        Object::from_json(kind, value).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_malformed_document_names_its_object_the_field_and_the_reason_in_plain_words() {
        let sts = json!({"metadata": {"name": "web"}, "spec": {"serviceName": "nginx", "replicas": "three"}});
        assert_eq!(
            message(Kind::StatefulSet, sts),
            "StatefulSet default/web: spec.replicas: invalid type: string \"three\", expected an integer"
        );
        let pod = json!({"metadata": {"name": "web-1", "namespace": "shop"},
            "status": {"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}, "oops"]}});
        assert_eq!(
            message(Kind::Pod, pod),
            "Pod shop/web-1: status.conditions[1]: invalid type: string \"oops\", expected a mapping"
        );
        let node = json!({"metadata": {"name": "node-1"}, "status": {"addresses": "x"}});
        assert_eq!(
            message(Kind::Node, node),
            "Node node-1: status.addresses: invalid type: string \"x\", expected a sequence"
        );
        let nameless = json!({"status": {"podIPs": 5}});
        assert_eq!(
            message(Kind::Pod, nameless),
            "Pod: status.podIPs: invalid type: integer `5`, expected a sequence"
        );
    }

    #[test]
    fn plain_words_leave_the_rest_alone() {
        assert_eq!(
            plain("expected u16 or expected struct FooWire!"),
            "expected an integer or expected a mapping!"
        );
        assert_eq!(plain("missing field `name`"), "missing field `name`");
        assert_eq!(plain("expected a string"), "expected a string");
    }
}
