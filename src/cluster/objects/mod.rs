//! Trimmed Kubernetes objects: only the fields the DNS rules read.
//!
//! Both sources (manifest files and the API watch) deserialize straight into the
//! `*Wire` types below, which name only the fields we need, so serde skips the rest
//! of every object (managedFields, specs of containers, ...) without allocating it.
//! The wire types are then validated into [`Pod`], [`Service`] and [`StatefulSet`],
//! which is where a missing field becomes an [`ObjectError`] instead of a panic.
//!
//! One file per kind (`pod`, `service`, `statefulset`, `endpointslice`, `node`, and
//! `multicluster` for the MCS API's kinds), with its trimmed type and its wire form;
//! `external` holds what a Service publishes in external zones (its external-dns
//! annotations), `labels` the shared label sets, `wire` what a reader must keep.

/// The strings objects are named and labelled with: object names, namespaces, label keys
/// and values, endpoint labels. Sixteen bytes, the text inline up to 15 bytes, else
/// shared behind a reference count like an `Arc<str>`.
///
/// *Why:* most of these are short (`web-0`, `app-1234-7`, `default`, `10-1-2-3`), and as
/// an `Arc<str>` each was an allocation of its own: a 32-byte block per pod name, a
/// million of them at a million pods. Inline, they cost nothing beyond the 16 bytes the
/// `Arc<str>` pointer took, and a pod name shared as an endpoint label is copied, not
/// counted.
pub type SharedStr = ecow::EcoString;

mod addresses;
mod endpointslice;
mod external;
mod labels;
mod malformed;
mod multicluster;
mod node;
mod pod;
mod service;
mod statefulset;
mod template;
mod wire;

use std::sync::Arc;

pub use addresses::{Addresses, CompactIp};
pub use endpointslice::{
    CONTROLLER, EndpointSlice, EndpointSliceWire, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, SliceEndpoint,
    SlicePort, WATCH_SELECTOR,
};
pub use external::{
    EXTERNAL_DNS_ALPHA_PREFIX, EXTERNAL_DNS_PREFIX, EndpointsType, ExposedType, ExternalProblem,
    ExternalSpec, ExternalSpecFields, ExternalTarget, Ingress, above_apex,
};
pub use labels::{Label, Labels, label};
pub use multicluster::{
    ABOUT_GROUP, CLUSTER_ID_PROPERTY, ClusterProperty, ClusterPropertyWire, ImportPort, ImportType,
    MCS_GROUP, MCS_SERVICE_NAME_LABEL, MCS_SOURCE_CLUSTER_LABEL, MCS_WATCH_SELECTOR, McsOrigin,
    ServiceExport, ServiceExportWire, ServiceImport, ServiceImportWire,
};
pub use node::{Node, NodeWire};
pub use pod::{ContainerPort, Naming, NamingPair, Phase, Pod, PodWire, PortList};
pub use service::{Service, ServicePort, ServiceWire, TOLERATE_UNREADY_ANNOTATION, TargetPort};
pub use statefulset::{StatefulSet, StatefulSetWire};
pub use template::{PodTemplate, TemplateParts};
pub use wire::{MetaWire, WIRE_FIELDS, WireFields};

/// Addresses as written (pod IPs, slice endpoints, ClusterSet IPs), parsed, each kept once
/// in its first place; the first that is not an IP is `invalid`'s error.
fn unique_ips(
    raw: impl IntoIterator<Item = String>,
    invalid: impl Fn(String) -> ObjectError,
) -> Result<Vec<std::net::IpAddr>, ObjectError> {
    let mut ips = Vec::new();
    for raw in raw {
        let ip: std::net::IpAddr = raw.parse().map_err(|_| invalid(raw.clone()))?;
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    Ok(ips)
}

/// A port's number (1–65535) and protocol (TCP when absent) of a slice or an import; the
/// error names `fields.0` or `fields.1` through `invalid`.
fn port_and_protocol(
    number: i64,
    protocol: Option<&str>,
    fields: (&'static str, &'static str),
    invalid: impl Fn(&'static str, String) -> ObjectError,
) -> Result<(u16, Protocol), ObjectError> {
    let port = u16::try_from(number)
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| invalid(fields.0, number.to_string()))?;
    let protocol =
        Protocol::parse(protocol).ok_or_else(|| invalid(fields.1, protocol.unwrap_or_default().into()))?;
    Ok((port, protocol))
}

/// An RFC 1123 subdomain, as Kubernetes requires of object names: at most 253
/// characters, [`is_dns_label`]s joined by dots.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// An RFC 1123 label: 1–63 of `[a-z0-9-]`, not starting or ending with `-`.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Which of the watched kinds an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// `v1/Pod`
    Pod,
    /// `v1/Service`
    Service,
    /// `apps/v1/StatefulSet`
    StatefulSet,
    /// `discovery.k8s.io/v1/EndpointSlice`, only the ones the EndpointSlice controller
    /// does not manage (selectorless services).
    EndpointSlice,
    /// `multicluster.x-k8s.io` ServiceImport (v1beta1 or v1alpha1).
    ServiceImport,
    /// `multicluster.x-k8s.io` ServiceExport.
    ServiceExport,
    /// `about.k8s.io/v1alpha1` ClusterProperty (cluster-scoped).
    ClusterProperty,
    /// An EndpointSlice of a ServiceImport (labelled `multicluster.kubernetes.io/service-name`).
    McsEndpointSlice,
    /// `v1/Node` (cluster-scoped): its addresses, for external zones. Watched only when
    /// asked (`KubeOptions::watch_nodes`).
    Node,
}

impl Kind {
    /// All kinds, in the order a full sync reports them.
    pub const ALL: [Kind; 9] = [
        Kind::Pod,
        Kind::Service,
        Kind::StatefulSet,
        Kind::EndpointSlice,
        Kind::ServiceImport,
        Kind::ServiceExport,
        Kind::ClusterProperty,
        Kind::McsEndpointSlice,
        Kind::Node,
    ];

    /// The kinds every source always reads (the others are watched only when asked:
    /// the multicluster kinds, Nodes).
    pub const ALWAYS: [Kind; 4] = [Kind::Pod, Kind::Service, Kind::StatefulSet, Kind::EndpointSlice];

    /// The kinds of the multicluster zone: watched only with `--multicluster-zone`.
    pub const MULTICLUSTER: [Kind; 4] =
        [Kind::ServiceImport, Kind::ServiceExport, Kind::ClusterProperty, Kind::McsEndpointSlice];

    /// How an object of this kind is named in messages: `namespace/name`, or `name` alone
    /// for a cluster-scoped kind (`node-1`, not `default/node-1`).
    pub fn object_name(self, namespace: &str, name: &str) -> String {
        if self.is_cluster_scoped() { name.to_owned() } else { format!("{namespace}/{name}") }
    }

    /// The kind as the log and `explain` say it: [`word`](Self::word), but `multicluster
    /// endpointslice` for a ServiceImport's slices.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::McsEndpointSlice => "multicluster endpointslice",
            other => other.word(),
        }
    }

    /// The kind as one lower-case word (a metric label value): `pod`, `endpointslice`,
    /// `mcs_endpointslice` for a ServiceImport's slices.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Service => "service",
            Kind::StatefulSet => "statefulset",
            Kind::EndpointSlice => "endpointslice",
            Kind::ServiceImport => "serviceimport",
            Kind::ServiceExport => "serviceexport",
            Kind::ClusterProperty => "clusterproperty",
            Kind::McsEndpointSlice => "mcs_endpointslice",
            Kind::Node => "node",
        }
    }

    /// Whether this kind feeds only the multicluster zone.
    pub fn is_multicluster(self) -> bool {
        Self::MULTICLUSTER.contains(&self)
    }

    /// Whether objects of this kind have no namespace (their key's namespace is empty).
    pub fn is_cluster_scoped(self) -> bool {
        matches!(self, Kind::ClusterProperty | Kind::Node)
    }

    /// The Kubernetes `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::StatefulSet => "StatefulSet",
            Kind::EndpointSlice | Kind::McsEndpointSlice => "EndpointSlice",
            Kind::ServiceImport => "ServiceImport",
            Kind::ServiceExport => "ServiceExport",
            Kind::ClusterProperty => "ClusterProperty",
            Kind::Node => "Node",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Namespace and name: how every object is addressed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ObjectKey {
    /// The object's namespace (`default` when a manifest leaves it out).
    pub namespace: SharedStr,
    /// The object's name.
    pub name: SharedStr,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why an object could not be used. The object is refused (its last good version, if any,
/// is served); the rest of the input is kept.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum ObjectError {
    /// A field the rules need is absent.
    #[error("{kind} {name}: {field} is missing")]
    MissingField {
        /// The object's kind.
        kind: &'static str,
        /// `namespace/name`, or `?` when the name itself is missing.
        name: String,
        /// The JSON path of the missing field.
        field: &'static str,
    },
    /// A field is present but its value is unusable.
    #[error("{kind} {name}: {field} has an invalid value {value:?}")]
    InvalidField {
        /// The object's kind.
        kind: &'static str,
        /// `namespace/name`.
        name: String,
        /// The JSON path of the field.
        field: &'static str,
        /// The offending value.
        value: String,
    },
    /// The object does not match the shape of its kind at all.
    #[error("{kind}{}: {message}", .name.as_deref().map(|n| format!(" {n}")).unwrap_or_default())]
    Malformed {
        /// The object's kind.
        kind: &'static str,
        /// `namespace/name`, when the document has a name.
        name: Option<String>,
        /// Where and why: the field's path and serde's description
        /// (`spec.replicas: invalid type: string "three", expected an integer`).
        message: String,
    },
}

impl ObjectError {
    /// Why, as one word for the metrics' `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            ObjectError::MissingField { .. } => "missing_field",
            ObjectError::InvalidField { .. } => "invalid_value",
            ObjectError::Malformed { .. } => "malformed",
        }
    }
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    /// TCP (the Kubernetes default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    fn parse(value: Option<&str>) -> Option<Protocol> {
        match value.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The lower-cased label used in SRV names (`_tcp`).
    pub fn srv_label(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One trimmed object of any watched kind.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Object {
    /// A pod.
    Pod(Arc<Pod>),
    /// A service.
    Service(Arc<Service>),
    /// A StatefulSet.
    StatefulSet(Arc<StatefulSet>),
    /// An EndpointSlice (of a selectorless service, or of a ServiceImport).
    EndpointSlice(Arc<EndpointSlice>),
    /// A ServiceImport.
    ServiceImport(Arc<ServiceImport>),
    /// A ServiceExport.
    ServiceExport(Arc<ServiceExport>),
    /// A ClusterProperty.
    ClusterProperty(Arc<ClusterProperty>),
    /// A Node.
    Node(Arc<Node>),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Pod(_) => Kind::Pod,
            Object::Service(_) => Kind::Service,
            Object::StatefulSet(_) => Kind::StatefulSet,
            Object::EndpointSlice(s) if s.multicluster.is_some() => Kind::McsEndpointSlice,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::ServiceImport(_) => Kind::ServiceImport,
            Object::ServiceExport(_) => Kind::ServiceExport,
            Object::ClusterProperty(_) => Kind::ClusterProperty,
            Object::Node(_) => Kind::Node,
        }
    }

    /// The object's namespace and name.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Object::Pod(p) => &p.key,
            Object::Service(s) => &s.key,
            Object::StatefulSet(s) => &s.key,
            Object::EndpointSlice(s) => &s.key,
            Object::ServiceImport(s) => &s.key,
            Object::ServiceExport(s) => &s.key,
            Object::ClusterProperty(p) => &p.key,
            Object::Node(n) => &n.key,
        }
    }

    /// Which kind a `kind`/`apiVersion` pair names, if it is one we watch.
    pub fn watched_kind(kind: &str, api_version: &str) -> Option<Kind> {
        match (kind, api_version) {
            ("Pod", "v1") => Some(Kind::Pod),
            ("Service", "v1") => Some(Kind::Service),
            ("StatefulSet", "apps/v1") => Some(Kind::StatefulSet),
            ("EndpointSlice", "discovery.k8s.io/v1") => Some(Kind::EndpointSlice),
            ("ServiceImport", "multicluster.x-k8s.io/v1beta1" | "multicluster.x-k8s.io/v1alpha1") => {
                Some(Kind::ServiceImport)
            }
            ("ServiceExport", "multicluster.x-k8s.io/v1beta1" | "multicluster.x-k8s.io/v1alpha1") => {
                Some(Kind::ServiceExport)
            }
            ("ClusterProperty", "about.k8s.io/v1alpha1") => Some(Kind::ClusterProperty),
            ("Node", "v1") => Some(Kind::Node),
            _ => None,
        }
    }

    /// The object one Kubernetes document describes (its `kind` and `apiVersion` read from
    /// it): `None` for a kind we do not watch.
    pub fn from_document(value: serde_json::Value) -> Option<Result<Object, ObjectError>> {
        let text = |field: &str| value.get(field).and_then(|v| v.as_str()).unwrap_or_default();
        let kind = Object::watched_kind(text("kind"), text("apiVersion"))?;
        Some(Object::from_json(kind, value))
    }

    /// Parses one object of a known kind from its JSON (or YAML-as-JSON) form.
    pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, ObjectError> {
        let name = malformed::document_name(&value);
        let malformed = |kind: Kind, e: malformed::WireError| malformed::error(kind, name.as_ref(), e);
        match kind {
            Kind::Pod => serde_path_to_error::deserialize::<_, PodWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_pod()
                .map(|p| Object::Pod(Arc::new(p))),
            Kind::Service => serde_path_to_error::deserialize::<_, ServiceWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_service()
                .map(|s| Object::Service(Arc::new(s))),
            Kind::StatefulSet => serde_path_to_error::deserialize::<_, StatefulSetWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_statefulset()
                .map(|s| Object::StatefulSet(Arc::new(s))),
            Kind::EndpointSlice | Kind::McsEndpointSlice => {
                serde_path_to_error::deserialize::<_, EndpointSliceWire>(value)
                    .map_err(|e| malformed(kind, e))?
                    .into_endpointslice()
                    .map(|s| Object::EndpointSlice(Arc::new(s)))
            }
            Kind::ServiceImport => serde_path_to_error::deserialize::<_, ServiceImportWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_serviceimport()
                .map(|s| Object::ServiceImport(Arc::new(s))),
            Kind::ServiceExport => serde_path_to_error::deserialize::<_, ServiceExportWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_serviceexport()
                .map(|s| Object::ServiceExport(Arc::new(s))),
            Kind::ClusterProperty => serde_path_to_error::deserialize::<_, ClusterPropertyWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_clusterproperty()
                .map(|p| Object::ClusterProperty(Arc::new(p))),
            Kind::Node => serde_path_to_error::deserialize::<_, NodeWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_node()
                .map(|n| Object::Node(Arc::new(n))),
        }
    }
}
