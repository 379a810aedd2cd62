//! Nodes in the cluster state: cluster-scoped, by name, for external zones (the
//! addresses of `endpoints-type: NodeExternalIP` pods' nodes, and of NodePort Services).
//!
//! A Node change touches every Service whose external records may read the Nodes: one
//! with an [`ExternalSpec`](super::ExternalSpec) whose `endpoints-type` is
//! `NodeExternalIP` or whose type is `NodePort`, kept in a set as Services come and go.
//! That is all of them, not only those with a pod on the node: Nodes change rarely once
//! trimmed (their heartbeats and conditions are not kept, so an update that only renews
//! them changes nothing), and such Services are few.

use std::sync::Arc;

use super::{ClusterState, EndpointsType, ExposedType, Node, ObjectKey, Service, SharedStr, Touched};

impl Service {
    /// Whether this Service's external records may read the Nodes: external names with
    /// `endpoints-type: NodeExternalIP`, or of a NodePort Service. (Broad on purpose: a
    /// `target` annotation or a Service that is not headless may make them read none, and
    /// touching a Service too many costs only its rebuild.)
    pub fn reads_nodes(&self) -> bool {
        self.external.as_ref().is_some_and(|external| {
            external.endpoints_type == EndpointsType::NodeExternalIp
                || external.service_type == ExposedType::NodePort
        })
    }
}

impl ClusterState {
    /// The Node named `name`.
    pub fn node(&self, name: &str) -> Option<&Arc<Node>> {
        self.nodes.get(name)
    }

    /// Every Node, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.values()
    }

    /// The Services whose external records may read the Nodes (what a Node change
    /// touches): for a bulk load, which cannot tell them by namespace.
    pub fn node_services(&self) -> Touched {
        self.node_services.iter().cloned().collect()
    }

    /// Keeps the set of Services reading the Nodes in step with `old` being replaced by
    /// `new`.
    pub(super) fn index_node_service(&mut self, old: Option<&Service>, new: Option<&Service>) {
        if let Some(old) = old.filter(|s| s.reads_nodes()) {
            self.node_services.remove(&old.key);
        }
        if let Some(new) = new.filter(|s| s.reads_nodes()) {
            self.node_services.insert(new.key.clone());
        }
    }

    /// [`apply`](Self::apply) of a Node (before the relist marks it seen).
    pub(super) fn apply_node(&mut self, node: Arc<Node>) -> Touched {
        if self.nodes.get(&node.key.name).is_some_and(|known| **known == *node) {
            return Touched::new();
        }
        // Copied, so that what the state keeps is allocated by the index (see the interner).
        let name = SharedStr::from(&*node.key.name);
        let node =
            Node { key: ObjectKey { namespace: SharedStr::new(), name: name.clone() }, ..(*node).clone() };
        self.nodes.insert(name, Arc::new(node));
        self.node_services()
    }

    /// [`delete`](Self::delete) of a Node: by name alone.
    pub(super) fn delete_node(&mut self, key: &ObjectKey) -> Touched {
        match self.nodes.remove(&key.name) {
            Some(_) => self.node_services(),
            None => Touched::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testing;
    use crate::cluster::{Kind, Object};

    const NODES: &str = "
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {addresses: [{type: InternalIP, address: 10.0.0.1}, {type: ExternalIP, address: 203.0.113.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
status: {addresses: [{type: InternalIP, address: 10.0.0.2}]}
";

    const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: {name: kafka, namespace: data, annotations: {external-dns.alpha.kubernetes.io/hostname: kafka.example.com,
  external-dns.alpha.kubernetes.io/endpoints-type: NodeExternalIP}}
spec: {clusterIP: None, selector: {app: kafka}}
---
apiVersion: v1
kind: Service
metadata: {name: np, namespace: web, annotations: {external-dns.kubernetes.io/hostname: np.example.com}}
spec: {type: NodePort, clusterIP: 10.96.0.5, ports: [{port: 80, nodePort: 30080}]}
---
apiVersion: v1
kind: Service
metadata: {name: pods, namespace: web, annotations: {external-dns.kubernetes.io/hostname: pods.example.com}}
spec: {clusterIP: None, selector: {app: pods}}
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: web}
spec: {type: NodePort, clusterIP: 10.96.0.6}
";

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey { namespace: ns.into(), name: name.into() }
    }

    #[test]
    fn nodes_are_kept_by_name_counted_and_saved() {
        let state = testing::state(NODES);
        assert_eq!(state.counts()[Kind::Node as usize], (Kind::Node, 2));
        let node = state.node("node-1").expect("node-1");
        assert_eq!(node.external_ips.len(), 1);
        assert_eq!(node.key.namespace.as_str(), "");
        assert_eq!(state.nodes().map(|n| n.name()).collect::<Vec<_>>(), ["node-1", "node-2"]);
        assert!(state.namespaces().next().is_none(), "no namespace for cluster-scoped objects");
        let saved: Vec<Object> = state.objects().collect();
        assert_eq!(saved, testing::objects(NODES));
    }

    #[test]
    fn a_node_change_touches_the_services_reading_nodes() {
        let mut state = testing::state(SERVICES);
        assert_eq!(state.node_services(), [key("data", "kafka"), key("web", "np")].into());
        let nodes = testing::objects(NODES);
        assert_eq!(state.apply(nodes[0].clone()), state.node_services());
        assert!(state.apply(nodes[0].clone()).is_empty(), "unchanged");
        // Only what is kept counts: a renewed heartbeat is the same Node.
        let renewed = testing::objects(
            &NODES.replace("metadata: {name: node-1}", "metadata: {name: node-1, resourceVersion: '9'}"),
        );
        assert!(state.apply(renewed[0].clone()).is_empty());
        let moved = testing::objects(&NODES.replace("203.0.113.1", "203.0.113.9"));
        assert_eq!(state.apply(moved[0].clone()).len(), 2);
        assert_eq!(state.node("node-1").unwrap().external_ips[0].to_string(), "203.0.113.9");
        // A Service that stops reading Nodes leaves the set; a deleted one too.
        let pod_ips =
            SERVICES.replace("external-dns.alpha.kubernetes.io/endpoints-type: NodeExternalIP", "x: y");
        state.apply(testing::objects(&pod_ips)[0].clone());
        assert_eq!(state.node_services(), [key("web", "np")].into());
        state.delete(Kind::Service, &key("web", "np"));
        assert!(state.node_services().is_empty());
        assert!(state.delete(Kind::Node, &key("", "node-1")).is_empty(), "nothing reads nodes now");
        assert!(state.node("node-1").is_none());
        assert!(state.delete(Kind::Node, &key("", "node-1")).is_empty(), "already gone");
    }

    #[test]
    fn a_relist_of_nodes_deletes_the_ones_gone() {
        let mut state = testing::state(&format!("{NODES}---{SERVICES}"));
        let touched = state.reset(Kind::Node, testing::objects(NODES).into_iter().skip(1));
        assert_eq!(touched, state.node_services(), "node-1 deleted");
        assert_eq!(state.nodes().map(|n| n.name()).collect::<Vec<_>>(), ["node-2"]);
        assert_eq!(state.counts()[Kind::Service as usize].1, 4, "other kinds are not relisted");
    }
}
