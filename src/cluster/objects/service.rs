//! The trimmed [`Service`] and its wire form.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::labels::boxed_map;
use super::{Kind, Labels, MetaWire, ObjectError, ObjectKey, Protocol};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::{Kind, Object};
    use serde_json::json;
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
}
