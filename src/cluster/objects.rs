//! Trimmed Kubernetes objects: only the fields the DNS rules read.
//!
//! Both sources (manifest files and the API watch) deserialize straight into the
//! `*Wire` types below, which name only the fields we need, so serde skips the rest
//! of every object (managedFields, specs of containers, ...) without allocating it.
//! The wire types are then validated into [`Pod`], [`Service`] and [`StatefulSet`],
//! which is where a missing field becomes an [`ObjectError`] instead of a panic.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

/// Which of the three watched kinds an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// `v1/Pod`
    Pod,
    /// `v1/Service`
    Service,
    /// `apps/v1/StatefulSet`
    StatefulSet,
}

impl Kind {
    /// All kinds, in the order a full sync reports them.
    pub const ALL: [Kind; 3] = [Kind::Pod, Kind::Service, Kind::StatefulSet];

    /// The Kubernetes `kind` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::StatefulSet => "StatefulSet",
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
    pub namespace: Arc<str>,
    /// The object's name.
    pub name: Arc<str>,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why an object could not be used. The object is skipped; the rest of the input is kept.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ObjectError {
    /// A field the rules need is absent.
    #[error("{kind} {name}: {field} is missing; the object is skipped")]
    MissingField {
        /// The object's kind.
        kind: &'static str,
        /// `namespace/name`, or `?` when the name itself is missing.
        name: String,
        /// The JSON path of the missing field.
        field: &'static str,
    },
    /// A field is present but its value is unusable.
    #[error("{kind} {name}: {field} has an invalid value {value:?}; the object is skipped")]
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
    #[error("{kind}: {message}; the object is skipped")]
    Malformed {
        /// The object's kind.
        kind: &'static str,
        /// serde's description, which names the field.
        message: String,
    },
}

/// A named container port, used to resolve a service's named `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ContainerPort {
    /// The port's name (`http`, `metrics`, ...).
    pub name: Arc<str>,
    /// The container port number.
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: Protocol,
}

/// A pod's container ports. Shared, since the pods of one StatefulSet or Deployment all
/// declare the same list, and behind a thin pointer: 8 bytes instead of 16 keep a
/// [`Pod`] in a 128-byte allocation rather than a 160-byte one.
pub type PortList = Arc<Box<[ContainerPort]>>;

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// A pod, trimmed to what DNS needs.
///
/// Equality compares label values as read through [`label`](Self::label), so a pod
/// kept by the cluster state (whose labels may take values from its name) equals the
/// same pod as it arrives.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pod {
    /// Namespace and name.
    pub key: ObjectKey,
    /// Labels, matched against service selectors. In a pod kept by the cluster state,
    /// values equal to the pod's name or ordinal are stand-ins taken from the name
    /// (see [`Labels::stored_value`]): read them through [`label`](Self::label)
    /// and [`label_pairs`](Self::label_pairs).
    pub labels: Labels,
    /// `spec.hostname`.
    pub hostname: Option<Arc<str>>,
    /// `spec.subdomain`.
    pub subdomain: Option<Arc<str>>,
    /// `status.podIPs` (else `status.podIP`), primary first.
    pub ips: Box<[IpAddr]>,
    /// The `Ready` condition is `True`.
    pub ready_condition: bool,
    /// `metadata.deletionTimestamp` is set: the pod is terminating.
    pub terminating: bool,
    /// Named container ports of the regular containers.
    pub ports: PortList,
}

impl Pod {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        label(&self.labels, key).map(|value| name_value(value, &self.key.name))
    }

    /// The labels as `(key, value)` pairs, sorted by key.
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.iter().map(|(k, v)| (&**k, name_value(v, &self.key.name)))
    }

    /// This pod with its labels' values spelled out (for saving it).
    pub fn with_plain_labels(&self) -> Pod {
        let labels = self.label_pairs().map(|(k, v)| (Arc::from(k), Arc::from(v))).collect();
        Pod { labels, ..self.clone() }
    }
}

impl PartialEq for Pod {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.hostname == other.hostname
            && self.subdomain == other.subdomain
            && self.ips == other.ips
            && self.ready_condition == other.ready_condition
            && self.terminating == other.terminating
            && self.ports == other.ports
            && self.label_pairs().eq(other.label_pairs())
    }
}

/// A service's `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetPort {
    /// A port number.
    Number(u16),
    /// A container port name, looked up per pod.
    Name(Arc<str>),
}

/// One entry of a service's `spec.ports`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServicePort {
    /// The port name; only named ports get SRV records.
    pub name: Option<Arc<str>>,
    /// The port's protocol.
    pub protocol: Protocol,
    /// The service port.
    pub port: u16,
    /// Where traffic goes on the pod (defaults to `port`).
    pub target_port: TargetPort,
}

/// A service, trimmed to what DNS needs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Service {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `spec.clusterIP` is `None`: only headless services are served.
    pub headless: bool,
    /// `spec.selector`; a service without one has no endpoints we can compute.
    pub selector: Option<Labels>,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
    /// `spec.publishNotReadyAddresses`, or the legacy tolerate-unready annotation.
    pub publish_not_ready: bool,
}

/// A StatefulSet, trimmed to the identities it owns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatefulSet {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `spec.serviceName`: the governing headless service.
    pub service_name: Arc<str>,
    /// `spec.replicas` (default 1).
    pub replicas: u32,
    /// `spec.ordinals.start` (default 0).
    pub ordinal_start: u32,
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
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Pod(_) => Kind::Pod,
            Object::Service(_) => Kind::Service,
            Object::StatefulSet(_) => Kind::StatefulSet,
        }
    }

    /// The object's namespace and name.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Object::Pod(p) => &p.key,
            Object::Service(s) => &s.key,
            Object::StatefulSet(s) => &s.key,
        }
    }

    /// Which kind a `kind`/`apiVersion` pair names, if it is one we watch.
    pub fn watched_kind(kind: &str, api_version: &str) -> Option<Kind> {
        match (kind, api_version) {
            ("Pod", "v1") => Some(Kind::Pod),
            ("Service", "v1") => Some(Kind::Service),
            ("StatefulSet", "apps/v1") => Some(Kind::StatefulSet),
            _ => None,
        }
    }

    /// Parses one object of a known kind from its JSON (or YAML-as-JSON) form.
    pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Object, ObjectError> {
        fn malformed(kind: Kind, e: serde_json::Error) -> ObjectError {
            ObjectError::Malformed { kind: kind.as_str(), message: e.to_string() }
        }
        match kind {
            Kind::Pod => serde_json::from_value::<PodWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_pod()
                .map(|p| Object::Pod(Arc::new(p))),
            Kind::Service => serde_json::from_value::<ServiceWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_service()
                .map(|s| Object::Service(Arc::new(s))),
            Kind::StatefulSet => serde_json::from_value::<StatefulSetWire>(value)
                .map_err(|e| malformed(kind, e))?
                .into_statefulset()
                .map(|s| Object::StatefulSet(Arc::new(s))),
        }
    }
}

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
/// [`MetaWire`], [`PodWire`], [`ServiceWire`] and [`StatefulSetWire`]. Keep it in step
/// with them (the manifests source's tests compare pruned and whole objects).
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
            ]),
        ),
        (
            "spec",
            Keys(&[
                // Pod
                ("hostname", All),
                ("subdomain", All),
                ("containers", Each(&Keys(&[("ports", All)]))),
                // Service
                ("clusterIP", All),
                ("selector", All),
                ("ports", All),
                ("publishNotReadyAddresses", All),
                // StatefulSet
                ("serviceName", All),
                ("replicas", All),
                ("ordinals", All),
            ]),
        ),
        ("status", Keys(&[("podIP", All), ("podIPs", All), ("conditions", All)])),
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
}

impl MetaWire {
    fn key(&self, kind: Kind) -> Result<ObjectKey, ObjectError> {
        let name = self.name.as_deref().filter(|n| !n.is_empty()).ok_or(ObjectError::MissingField {
            kind: kind.as_str(),
            name: "?".into(),
            field: "metadata.name",
        })?;
        let namespace = self.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
        Ok(ObjectKey { namespace: namespace.into(), name: name.into() })
    }
}

/// One label (or selector term): a shared key/value pair. Pods of one workload carry the
/// same pairs, so each is stored once and a pod holds an 8-byte pointer per label.
pub type Label = Arc<(Arc<str>, Arc<str>)>;

/// Labels (or a selector), sorted by key: a shared slice of shared pairs rather than a
/// map, since a pod has a handful and there are many pods. Pods with the same labels can
/// share one slice (see [`stored_value`](Self::stored_value)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Labels(Arc<[Label]>);

/// Stand-in for a label value equal to the pod's name. A NUL byte is never part of a
/// label value (the API server rejects it), so no real value reads as a stand-in.
const NAME_VALUE: &str = "\0name";
/// Stand-in for a label value equal to the pod's ordinal (the digits after its last `-`).
const ORDINAL_VALUE: &str = "\0ordinal";

/// The ordinal of a pod named `<set>-<ordinal>`.
fn ordinal(name: &str) -> Option<&str> {
    let (_, ordinal) = name.rsplit_once('-')?;
    (!ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit())).then_some(ordinal)
}

/// A stored label value as read: stand-ins become the part of `name` they stand for.
fn name_value<'a>(value: &'a str, name: &'a str) -> &'a str {
    match value {
        NAME_VALUE => name,
        ORDINAL_VALUE => ordinal(name).unwrap_or_default(),
        _ => value,
    }
}

impl Labels {
    /// Labels from already shared pairs, sorted here.
    pub fn from_pairs(mut pairs: Vec<Label>) -> Self {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Self(pairs.into())
    }

    /// The value the cluster state stores for label value `value` of pod `name`: a
    /// stand-in when the value is the pod's name or ordinal, else `value` itself.
    ///
    /// *Why:* the StatefulSet controller labels each pod with its own name
    /// (`statefulset.kubernetes.io/pod-name`) and ordinal (`apps.kubernetes.io/pod-index`),
    /// which makes every pod's label set unique. With those values read from the name,
    /// the pods of one StatefulSet have equal labels and share one stored set: 8 bytes
    /// per pod instead of a slice and a pair of its own (about 8 MiB at 100k pods).
    pub fn stored_value(value: &str, name: &str) -> Option<&'static str> {
        if value == name {
            Some(NAME_VALUE)
        } else if ordinal(name) == Some(value) {
            Some(ORDINAL_VALUE)
        } else {
            None
        }
    }

    /// The `(key, value)` pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<str>)> {
        self.0.iter().map(|pair| (&pair.0, &pair.1))
    }

    /// True when no one but the holder of this handle uses the set (an interner's
    /// entry that no object refers to any more).
    pub fn is_shared_only_here(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// The shared pairs themselves.
    pub fn pairs(&self) -> &[Label] {
        &self.0
    }

    /// The first pair by key.
    pub fn first(&self) -> Option<(&Arc<str>, &Arc<str>)> {
        self.iter().next()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Looks a set up by its pairs (sorted by key), without building it first.
impl std::borrow::Borrow<[Label]> for Labels {
    fn borrow(&self) -> &[Label] {
        &self.0
    }
}

impl FromIterator<(Arc<str>, Arc<str>)> for Labels {
    fn from_iter<I: IntoIterator<Item = (Arc<str>, Arc<str>)>>(pairs: I) -> Self {
        Self::from_pairs(pairs.into_iter().map(Arc::new).collect())
    }
}

impl From<Vec<(Arc<str>, Arc<str>)>> for Labels {
    fn from(pairs: Vec<(Arc<str>, Arc<str>)>) -> Self {
        pairs.into_iter().collect()
    }
}

impl<const N: usize> From<[(Arc<str>, Arc<str>); N]> for Labels {
    fn from(pairs: [(Arc<str>, Arc<str>); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// The value of `key` in `labels`.
pub fn label<'a>(labels: &'a Labels, key: &str) -> Option<&'a str> {
    labels.0.binary_search_by(|pair| (*pair.0).cmp(key)).ok().map(|i| &*labels.0[i].1)
}

fn boxed_map(map: Option<BTreeMap<String, String>>) -> Labels {
    map.unwrap_or_default().into_iter().map(|(k, v)| (k.into(), v.into())).collect()
}

/// A pod as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<PodSpecWire>,
    status: Option<PodStatusWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct PodSpecWire {
    hostname: Option<String>,
    subdomain: Option<String>,
    containers: Vec<ContainerWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ContainerWire {
    ports: Option<Vec<ContainerPortWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ContainerPortWire {
    name: Option<String>,
    container_port: Option<i64>,
    protocol: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PodStatusWire {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIpWire>>,
    conditions: Option<Vec<ConditionWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct PodIpWire {
    ip: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ConditionWire {
    #[serde(rename = "type")]
    type_: Option<String>,
    status: Option<String>,
}

impl PodWire {
    /// Validates the wire form into a [`Pod`].
    pub fn into_pod(self) -> Result<Pod, ObjectError> {
        let key = self.metadata.key(Kind::Pod)?;
        let name = key.to_string();
        let status = self.status.ok_or_else(|| ObjectError::MissingField {
            kind: "Pod",
            name: name.clone(),
            field: "status",
        })?;
        let mut raw_ips: Vec<String> =
            status.pod_ips.unwrap_or_default().into_iter().filter_map(|p| p.ip).collect();
        if raw_ips.is_empty() {
            raw_ips.extend(status.pod_ip);
        }
        let mut ips = Vec::with_capacity(raw_ips.len());
        for raw in raw_ips {
            let ip: IpAddr = raw.parse().map_err(|_| ObjectError::InvalidField {
                kind: "Pod",
                name: name.clone(),
                field: "status.podIPs",
                value: raw.clone(),
            })?;
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        let ready_condition = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_.as_deref() == Some("Ready") && c.status.as_deref() == Some("True"));
        let spec = self.spec.unwrap_or_default();
        let mut ports = Vec::new();
        for port in spec.containers.into_iter().flat_map(|c| c.ports.unwrap_or_default()) {
            let (Some(port_name), Some(number)) = (port.name, port.container_port) else { continue };
            let (Ok(number), Some(protocol)) =
                (u16::try_from(number), Protocol::parse(port.protocol.as_deref()))
            else {
                continue;
            };
            ports.push(ContainerPort { name: port_name.into(), port: number, protocol });
        }
        Ok(Pod {
            key,
            labels: boxed_map(self.metadata.labels),
            hostname: spec.hostname.filter(|h| !h.is_empty()).map(Into::into),
            subdomain: spec.subdomain.filter(|s| !s.is_empty()).map(Into::into),
            ips: ips.into(),
            ready_condition,
            terminating: self.metadata.deletion_timestamp.is_some(),
            ports: Arc::new(ports.into()),
        })
    }
}

/// A service as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<ServiceSpecWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServiceSpecWire {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    selector: Option<BTreeMap<String, String>>,
    ports: Option<Vec<ServicePortWire>>,
    publish_not_ready_addresses: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServicePortWire {
    name: Option<String>,
    protocol: Option<String>,
    port: Option<i64>,
    target_port: Option<serde_json::Value>,
}

/// The legacy annotation that predates `publishNotReadyAddresses`.
pub const TOLERATE_UNREADY_ANNOTATION: &str = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

impl ServiceWire {
    /// Validates the wire form into a [`Service`].
    pub fn into_service(self) -> Result<Service, ObjectError> {
        let key = self.metadata.key(Kind::Service)?;
        let name = key.to_string();
        let spec = self.spec.ok_or_else(|| ObjectError::MissingField {
            kind: "Service",
            name: name.clone(),
            field: "spec",
        })?;
        let invalid = |field: &'static str, value: String| ObjectError::InvalidField {
            kind: "Service",
            name: name.clone(),
            field,
            value,
        };
        let mut ports = Vec::new();
        for port in spec.ports.unwrap_or_default() {
            let number = port.port.ok_or_else(|| ObjectError::MissingField {
                kind: "Service",
                name: name.clone(),
                field: "spec.ports[].port",
            })?;
            let number =
                u16::try_from(number).map_err(|_| invalid("spec.ports[].port", number.to_string()))?;
            let protocol = Protocol::parse(port.protocol.as_deref())
                .ok_or_else(|| invalid("spec.ports[].protocol", port.protocol.clone().unwrap_or_default()))?;
            let target_port = match port.target_port {
                None | Some(serde_json::Value::Null) => TargetPort::Number(number),
                Some(serde_json::Value::Number(n)) => TargetPort::Number(
                    n.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| *n != 0)
                        .ok_or_else(|| invalid("spec.ports[].targetPort", n.to_string()))?,
                ),
                Some(serde_json::Value::String(s)) => match s.parse::<u16>() {
                    Ok(n) if n != 0 => TargetPort::Number(n),
                    _ if !s.is_empty() => TargetPort::Name(s.into()),
                    _ => return Err(invalid("spec.ports[].targetPort", s)),
                },
                Some(other) => return Err(invalid("spec.ports[].targetPort", other.to_string())),
            };
            ports.push(ServicePort {
                name: port.name.filter(|n| !n.is_empty()).map(Into::into),
                protocol,
                port: number,
                target_port,
            });
        }
        let tolerate = self
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(TOLERATE_UNREADY_ANNOTATION))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(Service {
            key,
            headless: spec.cluster_ip.as_deref() == Some("None"),
            selector: spec.selector.filter(|s| !s.is_empty()).map(|s| boxed_map(Some(s))),
            ports,
            publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false) || tolerate,
        })
    }
}

/// A StatefulSet as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatefulSetWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<StatefulSetSpecWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StatefulSetSpecWire {
    service_name: Option<String>,
    replicas: Option<i64>,
    ordinals: Option<OrdinalsWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct OrdinalsWire {
    start: Option<i64>,
}

impl StatefulSetWire {
    /// Validates the wire form into a [`StatefulSet`].
    pub fn into_statefulset(self) -> Result<StatefulSet, ObjectError> {
        let key = self.metadata.key(Kind::StatefulSet)?;
        let name = key.to_string();
        let spec = self.spec.ok_or_else(|| ObjectError::MissingField {
            kind: "StatefulSet",
            name: name.clone(),
            field: "spec",
        })?;
        let service_name = spec.service_name.filter(|s| !s.is_empty()).ok_or_else(|| {
            ObjectError::MissingField { kind: "StatefulSet", name: name.clone(), field: "spec.serviceName" }
        })?;
        let count = |field: &'static str, value: Option<i64>, default: u32| {
            value.map_or(Ok(default), |v| {
                u32::try_from(v).map_err(|_| ObjectError::InvalidField {
                    kind: "StatefulSet",
                    name: name.clone(),
                    field,
                    value: v.to_string(),
                })
            })
        };
        Ok(StatefulSet {
            service_name: service_name.into(),
            replicas: count("spec.replicas", spec.replicas, 1)?,
            ordinal_start: count("spec.ordinals.start", spec.ordinals.and_then(|o| o.start), 0)?,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_prefers_pod_ips_and_reads_readiness() {
        let pod = Object::from_json(
            Kind::Pod,
            json!({"metadata": {"name": "web-0", "namespace": "db", "labels": {"app": "web"}},
                   "spec": {"hostname": "web-0", "subdomain": "nginx",
                            "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]},
                   "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
                              "conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .unwrap();
        let Object::Pod(pod) = pod else { panic!("not a pod") };
        assert_eq!(label(&pod.labels, "app"), Some("web"));
        assert_eq!(pod.key.to_string(), "db/web-0");
        assert_eq!(&*pod.ips, &["10.0.0.1".parse::<IpAddr>().unwrap(), "fd00::1".parse().unwrap()]);
        assert!(pod.ready_condition);
        assert!(!pod.terminating);
        assert_eq!(pod.ports[0].port, 8080);
        assert_eq!(pod.ports[0].protocol, Protocol::Tcp);
    }

    #[test]
    fn a_pod_fits_a_128_byte_allocation_with_its_reference_counts() {
        // 100k pods: a field more, and each takes a 160-byte allocator bin instead.
        assert!(std::mem::size_of::<Pod>() + 2 * std::mem::size_of::<usize>() <= 128);
    }

    #[test]
    fn pod_without_status_is_an_error_not_a_panic() {
        let err = Object::from_json(Kind::Pod, json!({"metadata": {"name": "x"}})).unwrap_err();
        assert!(err.to_string().contains("status is missing"), "{err}");
    }

    #[test]
    fn pod_with_garbage_ip_is_rejected() {
        let err = Object::from_json(
            Kind::Pod,
            json!({"metadata": {"name": "x"}, "status": {"podIP": "not-an-ip"}}),
        )
        .unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "status.podIPs", .. }));
    }

    #[test]
    fn service_reads_headless_named_target_port_and_legacy_annotation() {
        let svc = Object::from_json(
            Kind::Service,
            json!({"metadata": {"name": "nginx", "annotations": {TOLERATE_UNREADY_ANNOTATION: "true"}},
                   "spec": {"clusterIP": "None", "selector": {"app": "web"},
                            "ports": [{"name": "web", "port": 80, "targetPort": "http"},
                                      {"port": 53, "protocol": "UDP"}]}}),
        )
        .unwrap();
        let Object::Service(svc) = svc else { panic!("not a service") };
        assert!(svc.headless);
        assert!(svc.publish_not_ready);
        assert_eq!(svc.ports[0].target_port, TargetPort::Name("http".into()));
        assert_eq!(svc.ports[1].target_port, TargetPort::Number(53));
        assert_eq!(svc.ports[1].protocol, Protocol::Udp);
    }

    #[test]
    fn wrong_types_are_malformed_errors() {
        let err = Object::from_json(Kind::Service, json!({"metadata": {"name": 5}})).unwrap_err();
        assert!(matches!(err, ObjectError::Malformed { .. }), "{err}");
        let err = Object::from_json(
            Kind::StatefulSet,
            json!({"metadata": {"name": "web"}, "spec": {"serviceName": "nginx", "replicas": -1}}),
        )
        .unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "spec.replicas", .. }));
    }

    #[test]
    fn statefulset_defaults() {
        let sts = Object::from_json(
            Kind::StatefulSet,
            json!({"metadata": {"name": "web"}, "spec": {"serviceName": "nginx"}}),
        )
        .unwrap();
        assert_eq!(
            sts,
            Object::StatefulSet(Arc::new(StatefulSet {
                key: ObjectKey { namespace: "default".into(), name: "web".into() },
                service_name: "nginx".into(),
                replicas: 1,
                ordinal_start: 0,
            }))
        );
    }
}
