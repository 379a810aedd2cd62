//! The trimmed [`Node`] and its wire form: a node's name and addresses, which external
//! zones publish for the pods of Services annotated `endpoints-type: NodeExternalIP` and
//! for NodePort Services.

use std::net::IpAddr;

use serde::Deserialize;

use super::{Kind, MetaWire, ObjectError, ObjectKey};

/// A node (cluster-scoped: the key's namespace is empty), trimmed to its addresses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// Empty namespace, and the node's name (what a pod's `spec.nodeName` says).
    pub key: ObjectKey,
    /// `status.addresses` of type `ExternalIP`, in their order, each once.
    pub external_ips: Box<[IpAddr]>,
    /// `status.addresses` of type `InternalIP`, in their order, each once.
    pub internal_ips: Box<[IpAddr]>,
}

impl Node {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.key.name
    }
}

/// A node as it arrives, naming only the fields we read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NodeWire {
    /// `metadata`.
    pub metadata: MetaWire,
    status: Option<NodeStatusWire>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct NodeStatusWire {
    addresses: Option<Vec<NodeAddressWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct NodeAddressWire {
    #[serde(rename = "type")]
    type_: Option<String>,
    address: Option<String>,
}

impl NodeWire {
    /// Validates the wire form into a [`Node`]. Only the name is required; an address
    /// that is not an IP (the API server does not check them) is left out, as are the
    /// other address types (`Hostname`, `ExternalDNS`, `InternalDNS`).
    pub fn into_node(self) -> Result<Node, ObjectError> {
        let name = self.metadata.key(Kind::Node)?.name;
        let (mut external_ips, mut internal_ips) = (Vec::new(), Vec::new());
        for address in self.status.and_then(|s| s.addresses).unwrap_or_default() {
            let list = match address.type_.as_deref() {
                Some("ExternalIP") => &mut external_ips,
                Some("InternalIP") => &mut internal_ips,
                _ => continue,
            };
            let Some(ip) = address.address.and_then(|a| a.trim().parse::<IpAddr>().ok()) else { continue };
            if !list.contains(&ip) {
                list.push(ip);
            }
        }
        Ok(Node {
            key: ObjectKey { namespace: "".into(), name },
            external_ips: external_ips.into(),
            internal_ips: internal_ips.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::Object;
    use serde_json::json;

    fn ips(list: &[&str]) -> Box<[IpAddr]> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn a_node_keeps_its_external_and_internal_addresses_only() {
        let kind = Object::watched_kind("Node", "v1").expect("a watched kind");
        assert_eq!(kind, Kind::Node);
        let object = Object::from_json(
            kind,
            json!({"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": "node-1", "namespace": "ignored", "labels": {"a": "b"}},
                   "spec": {"podCIDR": "10.244.1.0/24", "providerID": "aws:///x"},
                   "status": {"addresses": [
                       {"type": "InternalIP", "address": "10.0.0.1"},
                       {"type": "ExternalIP", "address": "203.0.113.1"},
                       {"type": "Hostname", "address": "node-1"},
                       {"type": "InternalDNS", "address": "node-1.internal"},
                       {"type": "InternalIP", "address": "fd00::1"},
                       {"type": "ExternalIP", "address": "2001:db8::1"},
                       {"type": "ExternalIP", "address": "203.0.113.1"},
                       {"type": "ExternalIP", "address": "not-an-ip"}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "capacity": {"cpu": "4"}}}),
        )
        .unwrap();
        assert_eq!(object.kind(), Kind::Node);
        assert_eq!(
            object.key(),
            &ObjectKey { namespace: "".into(), name: "node-1".into() },
            "cluster-scoped"
        );
        let Object::Node(node) = object else { panic!("{object:?}") };
        assert_eq!(node.name(), "node-1");
        assert_eq!(node.external_ips, ips(&["203.0.113.1", "2001:db8::1"]));
        assert_eq!(node.internal_ips, ips(&["10.0.0.1", "fd00::1"]));
    }

    #[test]
    fn a_node_without_status_has_no_addresses_and_one_without_a_name_is_refused() {
        let Object::Node(node) = Object::from_json(Kind::Node, json!({"metadata": {"name": "n"}})).unwrap()
        else {
            panic!("not a node")
        };
        assert!(node.external_ips.is_empty() && node.internal_ips.is_empty());
        let err = Object::from_json(Kind::Node, json!({"metadata": {}})).unwrap_err();
        assert!(
            matches!(err, ObjectError::MissingField { kind: "Node", field: "metadata.name", .. }),
            "{err}"
        );
        let err =
            Object::from_json(Kind::Node, json!({"metadata": {"name": "n"}, "status": {"addresses": 5}}))
                .unwrap_err();
        assert!(matches!(err, ObjectError::Malformed { .. }), "{err}");
    }
}
