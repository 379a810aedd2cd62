//! The trimmed [`Pod`] and its wire form.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use super::labels::{boxed_map, label, name_value};
use super::{Addresses, Kind, Labels, MetaWire, ObjectError, ObjectKey, PodTemplate, Protocol};
use crate::cluster::SharedStr;
use crate::cluster::placement::Placement;

/// A named container port, used to resolve a service's named `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ContainerPort {
    /// The port's name (`http`, `metrics`, ...).
    pub name: SharedStr,
    /// The container port number.
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: Protocol,
}

/// A pod's container ports. Shared, since the pods of one StatefulSet or Deployment all
/// declare the same list, and behind a thin pointer: 8 bytes instead of 16 keep a
/// [`PodTemplate`] in a 48-byte allocation (one per StatefulSet).
pub type PortList = Arc<Box<[ContainerPort]>>;

/// A pod's `status.phase`.
///
/// *Why kept:* since Kubernetes 1.27 the kubelet moves a deleted or evicted pod to a
/// terminal phase while the object, and its old IP, remain; the CNI may already have
/// given that IP to another pod. The EndpointSlice controller never publishes a pod in
/// a terminal phase, and neither do we.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Phase {
    /// Absent or a value we do not know: not terminal.
    #[default]
    Unknown,
    /// `Pending`.
    Pending,
    /// `Running`.
    Running,
    /// `Succeeded`: terminal.
    Succeeded,
    /// `Failed`: terminal.
    Failed,
}

impl Phase {
    fn parse(value: Option<&str>) -> Phase {
        match value {
            Some("Pending") => Phase::Pending,
            Some("Running") => Phase::Running,
            Some("Succeeded") => Phase::Succeeded,
            Some("Failed") => Phase::Failed,
            _ => Phase::Unknown,
        }
    }

    /// `Failed` or `Succeeded`: the pod's containers are done and will not restart.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }

    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Unknown => "Unknown",
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
}

/// A pod, trimmed to what DNS needs.
///
/// Equality compares label values as read through [`label`](Self::label), so a pod
/// kept by the cluster state (whose labels may take values from its name) equals the
/// same pod as it arrives.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(from = "PodRecord", into = "PodRecord")]
pub struct Pod {
    /// Namespace and name.
    pub key: ObjectKey,
    /// Labels, hostname and subdomain, container ports: shared by the pods of one
    /// workload. Read them through [`label`](Self::label), [`label_pairs`](Self::label_pairs),
    /// [`hostname`](Self::hostname), [`subdomain`](Self::subdomain) and
    /// [`ports`](Self::ports): in a pod kept by the cluster state, label values equal to
    /// the pod's name or ordinal are stand-ins taken from the name (see
    /// [`Labels::stored_value`]).
    pub template: PodTemplate,
    /// `status.podIPs` (else `status.podIP`), primary first; one IPv4 address inline.
    pub ips: Addresses,
    /// The `Ready` condition is `True`.
    pub ready_condition: bool,
    /// `metadata.deletionTimestamp` is set: the pod is terminating.
    pub terminating: bool,
    /// `status.phase`. A byte in the padding after the flags: the pod stays in its
    /// 80-byte allocation. Absent in state files written before it was kept.
    #[serde(default)]
    pub phase: Phase,
    /// `spec.nodeName` and `status.hostIPs` (else `status.hostIP`), for external zones
    /// (`endpoints-type: NodeExternalIP` or `HostIP`): a 4-byte id of the pair, in the
    /// padding after the flags, shared by the pods of one node.
    pub placement: Placement,
}

/// A pod's `spec.hostname` and `spec.subdomain`, as one shared pointer.
///
/// *Why:* every pod of a StatefulSet has its own name as hostname and the service as
/// subdomain. With the hostname stored as "the pod's name", those pods share one pair
/// (the interner keeps it), and with it one [`PodTemplate`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Naming(Option<Arc<NamingPair>>);

/// What a [`Naming`] points to.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NamingPair {
    hostname: Hostname,
    subdomain: Option<SharedStr>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Hostname {
    None,
    /// The pod's own name (a StatefulSet pod).
    PodName,
    Other(SharedStr),
}

impl Naming {
    /// The naming of pod `pod_name` with these `spec.hostname` and `spec.subdomain`.
    pub fn new(hostname: Option<SharedStr>, subdomain: Option<SharedStr>, pod_name: &str) -> Self {
        let hostname = match hostname {
            None => Hostname::None,
            Some(h) if *h == *pod_name => Hostname::PodName,
            Some(h) => Hostname::Other(h),
        };
        if hostname == Hostname::None && subdomain.is_none() {
            return Naming(None);
        }
        Naming(Some(Arc::new(NamingPair { hostname, subdomain })))
    }

    /// The pair itself, for sharing (the interner keeps one per distinct pair).
    pub fn pair(&self) -> Option<&Arc<NamingPair>> {
        self.0.as_ref()
    }

    /// A naming pointing to a shared pair.
    pub(crate) fn from_pair(pair: Option<Arc<NamingPair>>) -> Self {
        Naming(pair)
    }
}

impl NamingPair {
    /// The strings it holds (for the interner).
    pub(crate) fn strings(&self) -> impl Iterator<Item = &SharedStr> {
        let hostname = match &self.hostname {
            Hostname::Other(h) => Some(h),
            Hostname::None | Hostname::PodName => None,
        };
        hostname.into_iter().chain(self.subdomain.as_ref())
    }

    /// The same pair with its strings passed through `share` (the interner's copies).
    pub(crate) fn shared(&self, mut share: impl FnMut(&SharedStr) -> SharedStr) -> NamingPair {
        NamingPair {
            hostname: match &self.hostname {
                Hostname::None => Hostname::None,
                Hostname::PodName => Hostname::PodName,
                Hostname::Other(h) => Hostname::Other(share(h)),
            },
            subdomain: self.subdomain.as_ref().map(share),
        }
    }
}

impl Pod {
    /// `spec.hostname`.
    pub fn hostname(&self) -> Option<&SharedStr> {
        match &self.template.naming().0.as_deref()?.hostname {
            Hostname::None => None,
            Hostname::PodName => Some(&self.key.name),
            Hostname::Other(h) => Some(h),
        }
    }

    /// `spec.subdomain`.
    pub fn subdomain(&self) -> Option<&SharedStr> {
        self.template.naming().0.as_deref()?.subdomain.as_ref()
    }

    /// The named container ports.
    pub fn ports(&self) -> &[ContainerPort] {
        self.template.ports()
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        label(self.template.labels(), key).map(|value| name_value(value, &self.key.name))
    }

    /// The labels as `(key, value)` pairs, sorted by key.
    pub fn label_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.template.labels().iter().map(|(k, v)| (&**k, name_value(v, &self.key.name)))
    }

    /// The pod's labels as shared pairs, for lookups keyed by them: the stored pair where
    /// its value is plain (no allocation), a new one where the value stands for the pod's
    /// name or ordinal.
    pub fn shared_labels(&self) -> impl Iterator<Item = super::Label> + '_ {
        self.template.labels().pairs().iter().map(|label| {
            let value = name_value(&label.1, &self.key.name);
            if std::ptr::eq(value, label.1.as_str()) {
                label.clone()
            } else {
                Arc::new((label.0.clone(), value.into()))
            }
        })
    }

    /// This pod with its labels' values spelled out (for saving it).
    pub fn with_plain_labels(&self) -> Pod {
        let labels = self.label_pairs().map(|(k, v)| (SharedStr::from(k), SharedStr::from(v))).collect();
        Pod { template: self.template.with_labels(labels), ..self.clone() }
    }
}

impl Pod {
    /// Whether `other`'s template reads as this one's: the same labels (stand-ins read as
    /// what they stand for), hostname, subdomain and ports. A pod whose new version has the
    /// same template keeps its shared one, without interning it again.
    pub fn same_template(&self, other: &Pod) -> bool {
        (Arc::ptr_eq(self.template.parts(), other.template.parts()) && self.key.name == other.key.name)
            || (self.hostname() == other.hostname()
                && self.subdomain() == other.subdomain()
                && self.template.ports() == other.template.ports()
                && self.label_pairs().eq(other.label_pairs()))
    }
}

impl PartialEq for Pod {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.ips == other.ips
            && self.ready_condition == other.ready_condition
            && self.terminating == other.terminating
            && self.phase == other.phase
            && self.placement == other.placement
            && self.same_template(other)
    }
}

/// A pod as state files keep it: the fields of [`Pod`], its hostname and subdomain spelled
/// out (files written before [`Naming`] existed keep loading).
#[derive(serde::Serialize, serde::Deserialize)]
struct PodRecord {
    key: ObjectKey,
    labels: Labels,
    hostname: Option<SharedStr>,
    subdomain: Option<SharedStr>,
    ips: Box<[IpAddr]>,
    ready_condition: bool,
    terminating: bool,
    #[serde(default)]
    phase: Phase,
    ports: PortList,
    /// The placement's node name and host addresses, spelled out (ids are per process);
    /// absent in files written before they were kept.
    #[serde(default)]
    node_name: Option<SharedStr>,
    #[serde(default)]
    host_ips: Box<[IpAddr]>,
}

impl From<PodRecord> for Pod {
    fn from(r: PodRecord) -> Pod {
        let naming = Naming::new(r.hostname, r.subdomain, &r.key.name);
        Pod {
            key: r.key,
            template: PodTemplate::new(r.labels, naming, r.ports),
            ips: r.ips.into(),
            ready_condition: r.ready_condition,
            terminating: r.terminating,
            phase: r.phase,
            placement: Placement::new(r.node_name.as_deref(), &r.host_ips),
        }
    }
}

impl From<Pod> for PodRecord {
    fn from(pod: Pod) -> PodRecord {
        let (node_name, host_ips) = pod.placement.parts();
        PodRecord {
            node_name,
            host_ips: host_ips.to_vec().into(),
            hostname: pod.hostname().cloned(),
            subdomain: pod.subdomain().cloned(),
            labels: pod.template.labels().clone(),
            ports: pod.template.ports().clone(),
            key: pod.key,
            ips: pod.ips.to_vec().into(),
            ready_condition: pod.ready_condition,
            terminating: pod.terminating,
            phase: pod.phase,
        }
    }
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
#[serde(rename_all = "camelCase", default)]
struct PodSpecWire {
    hostname: Option<String>,
    subdomain: Option<String>,
    node_name: Option<String>,
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
    phase: Option<String>,
    #[serde(rename = "hostIP")]
    host_ip: Option<String>,
    #[serde(rename = "hostIPs")]
    host_ips: Option<Vec<PodIpWire>>,
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
        let listed = !raw_ips.is_empty();
        let pod_ip = status.pod_ip.filter(|ip| !ip.is_empty());
        if !listed {
            raw_ips.extend(pod_ip.clone());
        }
        let ips = super::unique_ips(raw_ips, |value| ObjectError::InvalidField {
            kind: "Pod",
            name: name.clone(),
            field: if listed { "status.podIPs" } else { "status.podIP" },
            value,
        })?;
        // The API server requires podIP to be podIPs[0]: an edit of one alone (a manifest
        // written by hand) is refused, as any invalid value, rather than silently ignored.
        if let Some(pod_ip) = pod_ip.filter(|_| listed)
            && pod_ip.parse::<IpAddr>().ok() != ips.first().copied()
        {
            return Err(ObjectError::InvalidField {
                kind: "Pod",
                name,
                field: "status.podIP (it must be status.podIPs[0])",
                value: pod_ip,
            });
        }
        let phase = Phase::parse(status.phase.as_deref());
        // The host's addresses matter to external zones only: one that is not an address
        // (the kubelet never writes one) is left out rather than refusing the pod.
        let mut raw_host_ips: Vec<String> =
            status.host_ips.unwrap_or_default().into_iter().filter_map(|h| h.ip).collect();
        if raw_host_ips.is_empty() {
            raw_host_ips.extend(status.host_ip);
        }
        let host_ips: Vec<IpAddr> = raw_host_ips.iter().filter_map(|ip| ip.parse().ok()).collect();
        let ready_condition = status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_.as_deref() == Some("Ready") && c.status.as_deref() == Some("True"));
        let spec = self.spec.unwrap_or_default();
        let invalid = |field, value: &str| ObjectError::InvalidField {
            kind: "Pod",
            name: name.clone(),
            field,
            value: value.into(),
        };
        // As the API server requires: a DNS label each, since they become the labels of
        // the pod's name (`<hostname>.<subdomain>.<ns>.svc`). An invalid one, edited in
        // by hand, would publish a name nobody asks for and leave the real one pending.
        for (field, value) in [
            ("spec.hostname (a DNS label: a-z, 0-9 and '-')", &spec.hostname),
            ("spec.subdomain (a DNS label: a-z, 0-9 and '-')", &spec.subdomain),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty() && !super::is_dns_label(v)) {
                return Err(invalid(field, value));
            }
        }
        let mut ports = Vec::new();
        for port in spec.containers.into_iter().flat_map(|c| c.ports.unwrap_or_default()) {
            let Some(number) = port.container_port else { continue };
            // Checked for every port, named or not, as the API server does: a number out
            // of range or an unknown protocol must not silently drop the pod from SRV.
            let number = u16::try_from(number).ok().filter(|n| *n != 0).ok_or_else(|| {
                invalid("spec.containers[].ports[].containerPort (1-65535)", &number.to_string())
            })?;
            let protocol = Protocol::parse(port.protocol.as_deref()).ok_or_else(|| {
                invalid(
                    "spec.containers[].ports[].protocol (TCP, UDP or SCTP)",
                    port.protocol.as_deref().unwrap_or_default(),
                )
            })?;
            let Some(port_name) = port.name else { continue };
            ports.push(ContainerPort { name: port_name.into(), port: number, protocol });
        }
        let naming = Naming::new(
            spec.hostname.filter(|h| !h.is_empty()).map(Into::into),
            spec.subdomain.filter(|s| !s.is_empty()).map(Into::into),
            &key.name,
        );
        Ok(Pod {
            key,
            template: PodTemplate::new(boxed_map(self.metadata.labels), naming, Arc::new(ports.into())),
            ips: ips.into(),
            ready_condition,
            terminating: self.metadata.deletion_timestamp.is_some(),
            phase,
            placement: Placement::new(spec.node_name.as_deref(), &host_ips),
        })
    }
}

#[cfg(test)]
mod tests;
