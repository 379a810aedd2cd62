//! The trimmed [`EndpointSlice`] and its wire form: the endpoints of a headless Service
//! without a selector, which its operator manages (or which the EndpointSlice mirroring
//! controller copies from a hand-written Endpoints object).
//!
//! The EndpointSlice controller's own slices are never used: for a Service with a
//! selector, pods are the source, which keeps programming latency in the microseconds.
//! The API source does not even receive them (a label selector on `managed-by`); from
//! manifests they are read, marked [`EndpointSlice::managed_by_controller`] and dropped
//! by the cluster state.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::{Kind, MetaWire, ObjectError, ObjectKey, Protocol};
use crate::cluster::SharedStr;

/// The label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The EndpointSlice controller's `managed-by` value: slices it derives from pods.
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// What the API source asks for: slices of a Service that the controller does not manage,
/// and that are not a ServiceImport's (those are watched for the multicluster zone).
pub const WATCH_SELECTOR: &str = "endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io,\
     kubernetes.io/service-name,!multicluster.kubernetes.io/service-name";

/// An EndpointSlice, trimmed to what DNS needs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointSlice {
    /// Namespace and name.
    pub key: ObjectKey,
    /// The `kubernetes.io/service-name` label: the Service whose endpoints these are.
    pub service_name: Option<SharedStr>,
    /// Managed by the EndpointSlice controller: ignored (pods are the source).
    pub managed_by_controller: bool,
    /// The endpoints (none for an `FQDN` slice, whose addresses are not IPs).
    pub endpoints: Vec<SliceEndpoint>,
    /// The ports, which apply to every endpoint of the slice.
    pub ports: Vec<SlicePort>,
    /// Set on a ServiceImport's slice (labelled `multicluster.kubernetes.io/service-name`):
    /// the import and the source cluster. Such a slice is never a local service's.
    #[serde(default)]
    pub multicluster: Option<super::McsOrigin>,
}

/// One endpoint of a slice.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceEndpoint {
    /// `addresses`.
    pub addresses: Box<[IpAddr]>,
    /// `hostname`: its name under the service.
    pub hostname: Option<SharedStr>,
    /// `conditions.ready`; absent means ready, as the API documents.
    pub ready: bool,
}

/// One port of a slice.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlicePort {
    /// The port's name; only named ports get SRV records.
    pub name: Option<SharedStr>,
    /// The port's protocol.
    pub protocol: Protocol,
    /// The endpoints' port number.
    pub port: u16,
}

/// An EndpointSlice as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSliceWire {
    /// `metadata`.
    pub metadata: MetaWire,
    address_type: Option<String>,
    endpoints: Option<Vec<SliceEndpointWire>>,
    ports: Option<Vec<SlicePortWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct SliceEndpointWire {
    addresses: Vec<String>,
    hostname: Option<String>,
    conditions: Option<ConditionsWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct ConditionsWire {
    ready: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct SlicePortWire {
    name: Option<String>,
    protocol: Option<String>,
    port: Option<i64>,
}

impl EndpointSliceWire {
    /// Validates the wire form into an [`EndpointSlice`].
    pub fn into_endpointslice(self) -> Result<EndpointSlice, ObjectError> {
        let key = self.metadata.key(Kind::EndpointSlice)?;
        let name = key.to_string();
        let invalid = |field: &'static str, value: String| ObjectError::InvalidField {
            kind: "EndpointSlice",
            name: name.clone(),
            field,
            value,
        };
        let labels: BTreeMap<String, String> = self.metadata.labels.unwrap_or_default();
        let ip_slice = matches!(self.address_type.as_deref(), None | Some("IPv4" | "IPv6"));
        let mut endpoints = Vec::new();
        for endpoint in self.endpoints.unwrap_or_default().into_iter().filter(|_| ip_slice) {
            let addresses =
                super::unique_ips(endpoint.addresses, |raw| invalid("endpoints[].addresses", raw))?;
            endpoints.push(SliceEndpoint {
                addresses: addresses.into(),
                hostname: endpoint.hostname.filter(|h| !h.is_empty()).map(Into::into),
                ready: endpoint.conditions.and_then(|c| c.ready).unwrap_or(true),
            });
        }
        let mut ports = Vec::new();
        for port in self.ports.unwrap_or_default() {
            // A port without a number means "all ports": nothing an SRV record can name.
            let Some(number) = port.port else { continue };
            let fields = ("ports[].port", "ports[].protocol");
            let (number, protocol) =
                super::port_and_protocol(number, port.protocol.as_deref(), fields, invalid)?;
            ports.push(SlicePort {
                name: port.name.filter(|n| !n.is_empty()).map(Into::into),
                protocol,
                port: number,
            });
        }
        let multicluster = match labels.get(super::MCS_SERVICE_NAME_LABEL).filter(|s| !s.is_empty()) {
            None => None,
            Some(service) => {
                let cluster = labels
                    .get(super::MCS_SOURCE_CLUSTER_LABEL)
                    .map(|c| c.to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| ObjectError::MissingField {
                        kind: "EndpointSlice",
                        name: name.clone(),
                        field: "metadata.labels[multicluster.kubernetes.io/source-cluster]",
                    })?;
                if !super::is_dns_label(&cluster) {
                    return Err(invalid(
                        "metadata.labels[multicluster.kubernetes.io/source-cluster]",
                        cluster,
                    ));
                }
                Some(super::McsOrigin { service: service.as_str().into(), cluster: cluster.into() })
            }
        };
        Ok(EndpointSlice {
            multicluster,
            service_name: labels.get(SERVICE_NAME_LABEL).filter(|s| !s.is_empty()).map(|s| s.as_str().into()),
            managed_by_controller: labels.get(MANAGED_BY_LABEL).is_some_and(|m| m == CONTROLLER),
            key,
            endpoints,
            ports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::Object;
    use serde_json::json;
    use std::sync::Arc;

    fn parse(value: serde_json::Value) -> Result<Arc<EndpointSlice>, ObjectError> {
        match Object::from_json(Kind::EndpointSlice, value)? {
            Object::EndpointSlice(slice) => Ok(slice),
            other => panic!("not a slice: {other:?}"),
        }
    }

    #[test]
    fn slice_reads_service_hostnames_readiness_and_ports() {
        let slice = parse(json!({
            "metadata": {"name": "db-1", "namespace": "data",
                         "labels": {SERVICE_NAME_LABEL: "db", MANAGED_BY_LABEL: "my-operator"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.1"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"]}
            ],
            "ports": [{"name": "pg", "port": 5432}, {"name": "all"}]
        }))
        .unwrap();
        assert_eq!(slice.service_name.as_deref(), Some("db"));
        assert!(!slice.managed_by_controller);
        let ready: Vec<bool> = slice.endpoints.iter().map(|e| e.ready).collect();
        assert_eq!(ready, [true, false, true], "ready nil is ready");
        assert_eq!(slice.endpoints[0].hostname.as_deref(), Some("db-0"));
        assert_eq!(slice.ports, [SlicePort { name: Some("pg".into()), protocol: Protocol::Tcp, port: 5432 }]);
    }

    #[test]
    fn controller_slices_are_marked_fqdn_slices_have_no_endpoints_bad_ips_are_errors() {
        let slice = parse(json!({"metadata": {"name": "s", "labels": {MANAGED_BY_LABEL: CONTROLLER}},
                                 "endpoints": [{"addresses": ["10.0.0.1"]}]}))
        .unwrap();
        assert!(slice.managed_by_controller && slice.service_name.is_none());
        let slice = parse(json!({"metadata": {"name": "s"}, "addressType": "FQDN",
                                 "endpoints": [{"addresses": ["db.example.com"]}]}))
        .unwrap();
        assert!(slice.endpoints.is_empty());
        let err = parse(json!({"metadata": {"name": "s"}, "endpoints": [{"addresses": ["10.0.0.300"]}]}))
            .unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "endpoints[].addresses", .. }), "{err}");
    }
}
