//! What a reader must keep of an object, and the trimmed `metadata` every kind shares.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Kind, ObjectError, ObjectKey};

/// The parts of an object a reader must keep for the `*Wire` types below: a parser that
/// builds a tree of each object (manifests) can skip the rest instead of allocating it.
#[derive(Debug)]
pub enum WireFields {
    /// The whole value.
    All,
    /// Of a map, these keys (the whole value if it is not a map).
    Keys(&'static [(&'static str, WireFields)]),
    /// Of a sequence, this part of each element (the whole value if it is not one).
    Each(&'static WireFields),
}

impl WireFields {
    /// What to keep under `key` of a map: `None` for nothing, the whole value when this
    /// part does not expect a map (for the wire types to reject it as they would).
    pub fn under(&self, key: &str) -> Option<&WireFields> {
        match self {
            WireFields::Keys(keys) => keys.iter().find(|(k, _)| *k == key).map(|(_, part)| part),
            _ => Some(&WireFields::All),
        }
    }
}

/// What [`Object::from_json`] reads of any watched kind: the union of the fields of
/// [`MetaWire`], [`PodWire`], [`ServiceWire`], [`StatefulSetWire`],
/// [`EndpointSliceWire`](super::EndpointSliceWire), [`NodeWire`](super::NodeWire) and the
/// multicluster kinds. Keep it in step with them (the
/// manifests source's tests compare pruned and whole objects).
pub const WIRE_FIELDS: WireFields = {
    use WireFields::{All, Each, Keys};
    Keys(&[
        ("apiVersion", All),
        ("kind", All),
        // A nested list (`collect` flattens it).
        ("items", All),
        (
            "metadata",
            Keys(&[
                ("name", All),
                ("namespace", All),
                ("labels", All),
                ("annotations", All),
                ("deletionTimestamp", All),
                ("resourceVersion", All),
                ("creationTimestamp", All),
            ]),
        ),
        (
            "spec",
            Keys(&[
                // Pod
                ("hostname", All),
                ("subdomain", All),
                ("nodeName", All),
                ("containers", Each(&Keys(&[("ports", All)]))),
                // Service
                ("clusterIP", All),
                ("clusterIPs", All),
                ("type", All),
                ("externalName", All),
                ("selector", All),
                ("ports", All),
                ("publishNotReadyAddresses", All),
                ("externalIPs", All),
                // StatefulSet
                ("serviceName", All),
                ("replicas", All),
                ("ordinals", All),
                ("ips", All),
                ("value", All),
            ]),
        ),
        (
            "status",
            Keys(&[
                // Pod
                ("podIP", All),
                ("podIPs", All),
                ("conditions", All),
                ("phase", All),
                ("hostIP", All),
                ("hostIPs", All),
                // Service
                ("loadBalancer", All),
                // Node
                ("addresses", All),
            ]),
        ),
        // EndpointSlice
        ("addressType", All),
        ("endpoints", Each(&Keys(&[("addresses", All), ("hostname", All), ("conditions", All)]))),
        ("ports", All),
    ])
};

/// `metadata`, trimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetaWire {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `metadata.annotations`.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `metadata.deletionTimestamp`.
    pub deletion_timestamp: Option<String>,
    /// `metadata.resourceVersion` (used by the API source only).
    pub resource_version: Option<String>,
    /// `metadata.creationTimestamp` (RFC 3339; read for Services with external names).
    pub creation_timestamp: Option<String>,
}

impl MetaWire {
    /// The key of a namespaced object (`default` when the namespace is left out), or
    /// `None` without a name.
    pub fn namespaced_key(&self) -> Option<ObjectKey> {
        Some(ObjectKey {
            namespace: self.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default").into(),
            name: self.name.as_deref()?.into(),
        })
    }

    /// The key of a namespaced object, or the error naming the missing name.
    pub(crate) fn key(&self, kind: Kind) -> Result<ObjectKey, ObjectError> {
        let name = self.name.as_deref().filter(|n| !n.is_empty()).ok_or(ObjectError::MissingField {
            kind: kind.as_str(),
            name: "?".into(),
            field: "metadata.name",
        })?;
        let namespace = self.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
        // What the API server requires of every object: its name is a DNS subdomain, its
        // namespace a DNS label (lower-case). A manifest edited by hand can hold anything;
        // such an object could never exist, and its name would reach the zone.
        let invalid = |field, value: &str| ObjectError::InvalidField {
            kind: kind.as_str(),
            name: kind.object_name(namespace, name),
            field,
            value: value.into(),
        };
        if !kind.is_cluster_scoped() && !super::is_dns_label(namespace) {
            return Err(invalid("metadata.namespace (a DNS label: a-z, 0-9 and '-')", namespace));
        }
        if !super::is_dns_subdomain(name) {
            return Err(invalid("metadata.name (a DNS subdomain: a-z, 0-9, '-' and '.')", name));
        }
        Ok(ObjectKey { namespace: namespace.into(), name: name.into() })
    }
}
