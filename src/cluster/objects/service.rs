//! The trimmed [`Service`] and its wire form.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::external::{ExternalFields, ExternalSpec, LoadBalancerWire};
use super::labels::boxed_map;
use super::{Kind, Labels, MetaWire, ObjectError, ObjectKey, Protocol};
use crate::cluster::SharedStr;

/// A service's `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetPort {
    /// A port number.
    Number(u16),
    /// A container port name, looked up per pod.
    Name(SharedStr),
}

/// One entry of a service's `spec.ports`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServicePort {
    /// The port name; only named ports get SRV records.
    pub name: Option<SharedStr>,
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
    /// `spec.clusterIP` is `None`: its name stands for its pods (spec §2.4).
    pub headless: bool,
    /// `spec.selector`; a service without one has no endpoints we can compute.
    pub selector: Option<Labels>,
    /// `spec.ports`. A boxed slice, not a `Vec`: 8 bytes less keep a service in its
    /// 128-byte allocation with [`external`](Self::external).
    pub ports: Box<[ServicePort]>,
    /// `spec.publishNotReadyAddresses`, or the legacy tolerate-unready annotation.
    pub publish_not_ready: bool,
    /// `spec.clusterIPs` (else `spec.clusterIP`), primary first: what the name of a
    /// ClusterIP service answers (spec §2.3). Empty for headless and ExternalName
    /// services, and for a ClusterIP service not allocated an address yet.
    #[serde(default)]
    pub cluster_ips: Box<[IpAddr]>,
    /// `spec.externalName` of a `type: ExternalName` service, lower-cased and without a
    /// trailing dot: its name is a CNAME to it (spec §2.5). A box, not a
    /// [`SharedStr`]: it has no spare value for `None`, and 8 bytes more put every
    /// service in a 160-byte allocation instead of 128.
    #[serde(default)]
    pub external_name: Option<Box<str>>,
    /// What it publishes in external zones: present when it has an external-dns
    /// `hostname` annotation (see [`ExternalSpec`]). Boxed: most services have none, and
    /// the box costs them 8 bytes, within the 128-byte allocation.
    #[serde(default)]
    pub external: Option<Box<ExternalSpec>>,
}

/// A service as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceWire {
    /// `metadata`.
    pub metadata: MetaWire,
    spec: Option<ServiceSpecWire>,
    status: Option<ServiceStatusWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServiceStatusWire {
    load_balancer: Option<LoadBalancerWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServiceSpecWire {
    #[serde(rename = "clusterIP")]
    cluster_ip: Option<String>,
    #[serde(rename = "clusterIPs")]
    cluster_ips: Option<Vec<String>>,
    #[serde(rename = "type")]
    type_: Option<String>,
    external_name: Option<String>,
    selector: Option<BTreeMap<String, String>>,
    ports: Option<Vec<ServicePortWire>>,
    publish_not_ready_addresses: Option<bool>,
    #[serde(rename = "externalIPs")]
    external_ips: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServicePortWire {
    name: Option<String>,
    protocol: Option<String>,
    port: Option<i64>,
    target_port: Option<serde_json::Value>,
    node_port: Option<i64>,
}

/// The legacy annotation that predates `publishNotReadyAddresses`.
pub const TOLERATE_UNREADY_ANNOTATION: &str = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

impl ServiceWire {
    /// Validates the wire form into a [`Service`].
    pub fn into_service(self) -> Result<Service, ObjectError> {
        let key = self.metadata.key(Kind::Service)?;
        let name = key.to_string();
        // Its name is a DNS label of every name it answers under (Kubernetes requires an
        // RFC 1035 label): one that is not could never be asked for.
        if !super::is_dns_label(&key.name) {
            return Err(ObjectError::InvalidField {
                kind: "Service",
                name: name.clone(),
                field: "metadata.name (a DNS label: a-z, 0-9 and '-')",
                value: key.name.to_string(),
            });
        }
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
        let wire_ports = spec.ports.unwrap_or_default();
        // Kept only for external names (most services have none: no allocation).
        let node_ports = if ExternalSpec::wanted(self.metadata.annotations.as_ref()) {
            wire_ports.iter().map(|p| p.node_port).collect()
        } else {
            Vec::new()
        };
        for port in wire_ports {
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
        // The field the addresses were read from, to name it when one is invalid.
        let (ips_field, mut raw_ips) = match spec.cluster_ips {
            Some(ips) if !ips.is_empty() => ("spec.clusterIPs", ips),
            _ => ("spec.clusterIP", Vec::new()),
        };
        if raw_ips.is_empty() {
            raw_ips.extend(spec.cluster_ip);
        }
        // A type the API server does not know (`ClusterIp`) would be served as some other.
        if let Some(type_) = spec.type_.as_deref().filter(|t| !t.is_empty())
            && !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&type_)
        {
            return Err(invalid(
                "spec.type (ClusterIP, NodePort, LoadBalancer or ExternalName)",
                type_.into(),
            ));
        }
        let external = spec.type_.as_deref() == Some("ExternalName");
        let headless = !external && raw_ips.first().is_some_and(|ip| ip == "None");
        let mut cluster_ips = Vec::new();
        for raw in raw_ips.into_iter().filter(|ip| !external && !headless && !ip.is_empty()) {
            let ip: IpAddr = raw.parse().map_err(|_| invalid(ips_field, raw.clone()))?;
            if !cluster_ips.contains(&ip) {
                cluster_ips.push(ip);
            }
        }
        let external_name = if external {
            let target = spec.external_name.unwrap_or_default();
            let trimmed = target.strip_suffix('.').unwrap_or(&target).to_ascii_lowercase();
            if trimmed.is_empty() {
                return Err(ObjectError::MissingField {
                    kind: "Service",
                    name: name.clone(),
                    field: "spec.externalName",
                });
            }
            // A name a DNS answer can carry: labels of 1–63 bytes, 253 in all.
            if trimmed.len() > 253 || trimmed.split('.').any(|l| l.is_empty() || l.len() > 63) {
                return Err(invalid("spec.externalName", target));
            }
            Some(trimmed.into())
        } else {
            None
        };
        let external = ExternalSpec::read(ExternalFields {
            annotations: self.metadata.annotations.as_ref(),
            creation_timestamp: self.metadata.creation_timestamp.as_deref(),
            service_type: spec.type_.as_deref(),
            external_ips: spec.external_ips.as_deref().unwrap_or_default(),
            node_ports,
            load_balancer: self.status.as_ref().and_then(|s| s.load_balancer.as_ref()),
        });
        Ok(Service {
            key,
            headless,
            cluster_ips: cluster_ips.into(),
            external_name,
            selector: spec.selector.filter(|s| !s.is_empty()).map(|s| boxed_map(Some(s))),
            ports: ports.into(),
            publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false) || tolerate,
            external: external.map(Box::new),
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

    #[test]
    fn a_service_fits_a_128_byte_allocation_with_its_reference_counts() {
        // 100k services at a million pods: 8 bytes more and each takes a 160-byte block.
        assert!(std::mem::size_of::<Service>() + 2 * std::mem::size_of::<usize>() <= 128);
    }

    #[test]
    fn service_reads_cluster_ips_and_external_name() {
        let parse = |spec: serde_json::Value| {
            let Object::Service(svc) =
                Object::from_json(Kind::Service, json!({"metadata": {"name": "s"}, "spec": spec}))?
            else {
                panic!("not a service")
            };
            Ok::<_, ObjectError>(svc)
        };
        let dual =
            parse(json!({"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1", "fd00:96::1"]})).unwrap();
        assert!(!dual.headless && dual.external_name.is_none());
        assert_eq!(
            &*dual.cluster_ips,
            &["10.96.0.1".parse::<IpAddr>().unwrap(), "fd00:96::1".parse().unwrap()]
        );
        let single = parse(json!({"clusterIP": "10.96.0.2"})).unwrap();
        assert_eq!(&*single.cluster_ips, &["10.96.0.2".parse::<IpAddr>().unwrap()]);
        let headless = parse(json!({"clusterIP": "None", "clusterIPs": ["None"]})).unwrap();
        assert!(headless.headless && headless.cluster_ips.is_empty());
        let pending = parse(json!({"type": "ClusterIP"})).unwrap();
        assert!(!pending.headless && pending.cluster_ips.is_empty());
        let external = parse(json!({"type": "ExternalName", "externalName": "DB.Example.com."})).unwrap();
        assert_eq!(external.external_name.as_deref(), Some("db.example.com"));
        assert!(!external.headless && external.cluster_ips.is_empty());
        let err = parse(json!({"type": "ExternalName"})).unwrap_err();
        assert!(matches!(err, ObjectError::MissingField { field: "spec.externalName", .. }), "{err}");
        let err = parse(json!({"type": "ExternalName", "externalName": "a..b"})).unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "spec.externalName", .. }), "{err}");
        // The error names the field the object actually wrote.
        let err = parse(json!({"clusterIP": "10.96.0.300"})).unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "spec.clusterIP", .. }), "{err}");
        let err =
            parse(json!({"clusterIP": "10.96.0.3", "clusterIPs": ["10.96.0.3", "fd00::zz"]})).unwrap_err();
        assert!(matches!(err, ObjectError::InvalidField { field: "spec.clusterIPs", .. }), "{err}"); // A type the API server does not know is refused; an empty one is the default.
        let err = parse(json!({"type": "ClusterIp", "clusterIP": "None"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Service default/s: spec.type (ClusterIP, NodePort, LoadBalancer or ExternalName) has an invalid value \"ClusterIp\""
        );
        assert!(parse(json!({"type": "", "clusterIP": "None"})).unwrap().headless);
    }
}
