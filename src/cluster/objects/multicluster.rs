//! The Multi-Cluster Services API kinds (KEP-1645, `multicluster.x-k8s.io`) and the
//! cluster id (KEP-2149, `about.k8s.io`), trimmed to what the multicluster zone needs.
//!
//! - [`ServiceImport`]: a service of the clusterset, as the MCS controller imports it into
//!   this cluster. `v1beta1` and `v1alpha1` share the fields we read (`spec.type`,
//!   `spec.ips`, `spec.ports`), so one wire type reads both.
//! - [`ServiceExport`]: this cluster exports the Service of the same name. Only its
//!   existence matters: it puts the local StatefulSets of that service in the clusterset.
//! - [`ClusterProperty`]: cluster-scoped; the one named `id.k8s.io` holds this cluster's id.
//!
//! The MCS EndpointSlices (the endpoints of an import, one source cluster per slice) are
//! [`EndpointSlice`](super::EndpointSlice)s with [`McsOrigin`] set.

use std::net::IpAddr;

use serde::Deserialize;

use super::{Kind, MetaWire, ObjectError, ObjectKey, Protocol};
use crate::cluster::SharedStr;

/// The MCS API group.
pub const MCS_GROUP: &str = "multicluster.x-k8s.io";
/// The ClusterProperty API group (KEP-2149).
pub const ABOUT_GROUP: &str = "about.k8s.io";
/// The ClusterProperty whose value is this cluster's id.
pub const CLUSTER_ID_PROPERTY: &str = "id.k8s.io";
/// The label naming the ServiceImport an MCS EndpointSlice belongs to.
pub const MCS_SERVICE_NAME_LABEL: &str = "multicluster.kubernetes.io/service-name";
/// The label naming the cluster an MCS EndpointSlice's endpoints are in.
pub const MCS_SOURCE_CLUSTER_LABEL: &str = "multicluster.kubernetes.io/source-cluster";
/// What the API source asks for to watch MCS EndpointSlices.
pub const MCS_WATCH_SELECTOR: &str = MCS_SERVICE_NAME_LABEL;

/// Where an MCS EndpointSlice's endpoints come from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct McsOrigin {
    /// The ServiceImport (in the slice's namespace) these endpoints belong to.
    pub service: SharedStr,
    /// The id of the cluster the endpoints are in.
    pub cluster: SharedStr,
}

/// A ServiceImport's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ImportType {
    /// Reached through its ClusterSet IPs: A/AAAA of those, SRV to the service name.
    ClusterSetIp,
    /// Every ready endpoint of every cluster, each under `<hostname>.<clusterid>`.
    Headless,
}

/// One port of a ServiceImport.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportPort {
    /// The port's name; only named ports get `_<port>._<proto>` names.
    pub name: Option<SharedStr>,
    /// The port's protocol.
    pub protocol: Protocol,
    /// The service port.
    pub port: u16,
}

/// A ServiceImport, trimmed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceImport {
    /// Namespace and name: the same as the exported Services'.
    pub key: ObjectKey,
    /// `spec.type`.
    pub import_type: ImportType,
    /// `spec.ips`: the ClusterSet IPs (ClusterSetIP imports).
    pub ips: Box<[IpAddr]>,
    /// `spec.ports`.
    pub ports: Box<[ImportPort]>,
}

/// A ServiceExport: only its name counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceExport {
    /// Namespace and name of the exported Service.
    pub key: ObjectKey,
}

/// A ClusterProperty (cluster-scoped: the key's namespace is empty).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterProperty {
    /// Empty namespace, and the property's name (`id.k8s.io`).
    pub key: ObjectKey,
    /// `spec.value`.
    pub value: SharedStr,
}

/// A ServiceImport as it arrives (either version).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceImportWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<ImportSpecWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ImportSpecWire {
    #[serde(rename = "type")]
    import_type: Option<String>,
    ips: Option<Vec<String>>,
    ports: Option<Vec<ImportPortWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ImportPortWire {
    name: Option<String>,
    protocol: Option<String>,
    port: Option<i64>,
}

impl ServiceImportWire {
    /// Validates the wire form into a [`ServiceImport`].
    pub fn into_serviceimport(self) -> Result<ServiceImport, ObjectError> {
        let key = self.metadata.key(Kind::ServiceImport)?;
        let name = key.to_string();
        let invalid = |field: &'static str, value: String| ObjectError::InvalidField {
            kind: "ServiceImport",
            name: name.clone(),
            field,
            value,
        };
        let spec = self.spec.unwrap_or_default();
        let import_type = match spec.import_type.as_deref() {
            Some("ClusterSetIP") => ImportType::ClusterSetIp,
            Some("Headless") => ImportType::Headless,
            Some(other) => return Err(invalid("spec.type", other.to_owned())),
            None => {
                return Err(ObjectError::MissingField { kind: "ServiceImport", name, field: "spec.type" });
            }
        };
        let ips = super::unique_ips(spec.ips.unwrap_or_default(), |raw| invalid("spec.ips", raw))?;
        let mut ports = Vec::new();
        for port in spec.ports.unwrap_or_default() {
            let fields = ("spec.ports[].port", "spec.ports[].protocol");
            let (number, protocol) =
                super::port_and_protocol(port.port.unwrap_or(0), port.protocol.as_deref(), fields, invalid)?;
            ports.push(ImportPort {
                name: port.name.filter(|n| !n.is_empty()).map(Into::into),
                protocol,
                port: number,
            });
        }
        Ok(ServiceImport { key, import_type, ips: ips.into(), ports: ports.into() })
    }
}

/// A ServiceExport as it arrives (either version).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceExportWire {
    /// `metadata`.
    pub metadata: MetaWire,
}

impl ServiceExportWire {
    /// Validates the wire form into a [`ServiceExport`].
    pub fn into_serviceexport(self) -> Result<ServiceExport, ObjectError> {
        Ok(ServiceExport { key: self.metadata.key(Kind::ServiceExport)? })
    }
}

/// A ClusterProperty as it arrives.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterPropertyWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<PropertySpecWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct PropertySpecWire {
    value: Option<String>,
}

impl ClusterPropertyWire {
    /// Validates the wire form into a [`ClusterProperty`]. The `id.k8s.io` value must be a
    /// DNS label (it becomes one in `<hostname>.<clusterid>.<svc>...`); other properties
    /// are kept as they are.
    pub fn into_clusterproperty(self) -> Result<ClusterProperty, ObjectError> {
        let name = self.metadata.key(Kind::ClusterProperty)?.name;
        let mut value = self.spec.and_then(|s| s.value).unwrap_or_default();
        if *name == *CLUSTER_ID_PROPERTY {
            value = value.to_ascii_lowercase();
        }
        if *name == *CLUSTER_ID_PROPERTY && !super::is_dns_label(&value) {
            return Err(ObjectError::InvalidField {
                kind: "ClusterProperty",
                name: name.to_string(),
                field: "spec.value",
                value,
            });
        }
        Ok(ClusterProperty { key: ObjectKey { namespace: "".into(), name }, value: value.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::Object;
    use serde_json::json;

    #[test]
    fn imports_of_both_versions_read_type_ips_and_ports() {
        for version in ["multicluster.x-k8s.io/v1beta1", "multicluster.x-k8s.io/v1alpha1"] {
            let kind = Object::watched_kind("ServiceImport", version).expect("a watched kind");
            let object = Object::from_json(
                kind,
                json!({"apiVersion": version, "kind": "ServiceImport",
                       "metadata": {"name": "db", "namespace": "data"},
                       "spec": {"type": "ClusterSetIP", "ips": ["10.42.0.1", "fd00::1"],
                                "ports": [{"name": "pg", "port": 5432}, {"port": 53, "protocol": "UDP"}]}}),
            )
            .unwrap();
            let Object::ServiceImport(import) = object else { panic!("{object:?}") };
            assert_eq!(import.import_type, ImportType::ClusterSetIp);
            assert_eq!(import.ips.len(), 2);
            assert_eq!(import.ports[0].name.as_deref(), Some("pg"));
            assert_eq!(import.ports[1].protocol, Protocol::Udp);
        }
    }

    #[test]
    fn bad_imports_and_cluster_ids_are_clear_errors() {
        let err = Object::from_json(Kind::ServiceImport, json!({"metadata": {"name": "db"}, "spec": {}}))
            .unwrap_err();
        assert!(matches!(err, ObjectError::MissingField { field: "spec.type", .. }), "{err}");
        let err = Object::from_json(
            Kind::ServiceImport,
            json!({"metadata": {"name": "db"}, "spec": {"type": "Headless", "ips": ["nope"]}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("spec.ips"), "{err}");
        let err = Object::from_json(
            Kind::ClusterProperty,
            json!({"metadata": {"name": "id.k8s.io"}, "spec": {"value": "not a label"}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("spec.value"), "{err}");
        let ok = Object::from_json(
            Kind::ClusterProperty,
            json!({"metadata": {"name": "id.k8s.io"}, "spec": {"value": "East-1"}}),
        )
        .unwrap();
        assert_eq!(ok.key().namespace.as_str(), "", "cluster-scoped");
        let Object::ClusterProperty(property) = ok else { panic!("{ok:?}") };
        assert_eq!(&*property.value, "east-1", "a cluster id is a DNS label: lower-cased");
    }
}
