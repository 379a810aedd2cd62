//! The cluster domain's and the multicluster zone's names, from the zone outwards: which
//! [`Node`] a forward name is (apex, service, endpoint, SRV port, pod record, ...).

use hickory_proto::rr::Name;

use super::{Node, ServiceRecords, Zone, ZoneKind};
use crate::cluster::ObjectKey;
use crate::cluster::SharedStr;

impl Zone {
    pub(super) fn forward_node(&self, lower: &Name) -> Node<'_> {
        let depth = usize::from(lower.num_labels() - self.settings.origin.num_labels());
        // Labels from the zone outwards: [svc, ns, service, label-or-proto, port].
        let mut labels: Vec<&[u8]> = lower.iter().take(depth).collect();
        labels.reverse();
        let text = |i: usize| std::str::from_utf8(labels[i]).unwrap_or("");
        match depth {
            0 => Node::Apex,
            1 => match text(0) {
                "dns-version" => Node::DnsVersion,
                "svc" | "dns" => Node::EmptyNonTerminal,
                "pod" if self.kind == ZoneKind::Cluster => self.pod_node(&[]),
                _ => Node::NotFound,
            },
            2 | 3 if text(0) == "pod" && self.kind == ZoneKind::Cluster => {
                let below: Vec<&str> = (1..depth).map(text).collect();
                self.pod_node(&below)
            }
            2 if text(0) == "dns" && text(1) == "ns" => Node::NameServer,
            2 if text(0) == "svc" && self.services.contains_key(text(1)) => Node::EmptyNonTerminal,
            3..=5 if text(0) == "svc" => {
                let Some((key, records)) = self.find_service(text(1), text(2)) else { return Node::NotFound };
                if let Some(t) = &records.service_type {
                    let below: Vec<&str> = (3..depth).map(text).collect();
                    return self.typed_service_node(key, t, &below);
                }
                match depth {
                    3 if records.endpoints.is_empty() => Node::NotFound,
                    3 => Node::Service(key, records),
                    4 if text(3).starts_with('_') => {
                        let proto = &text(3)[1..];
                        if records.srv.iter().any(|p| {
                            p.name.is_some() && p.protocol.srv_label() == proto && p.has_targets(records)
                        }) {
                            Node::EmptyNonTerminal
                        } else {
                            Node::NotFound
                        }
                    }
                    // The multicluster zone: `<clusterid>` under a headless import.
                    4 if self.kind == ZoneKind::Multicluster => self.cluster_id_node(records, text(3)),
                    5 if self.kind == ZoneKind::Multicluster && !text(4).starts_with('_') => {
                        let label = format!("{}.{}", text(4), text(3));
                        if let Some(e) = records.labelled(&label).first() {
                            Node::Endpoint(records, &e.label)
                        } else {
                            self.pending(records, &label).map_or(Node::NotFound, Node::Pending)
                        }
                    }
                    4 => {
                        let label = text(3);
                        if let Some(e) = records.labelled(label).first() {
                            Node::Endpoint(records, &e.label)
                        } else {
                            self.pending(records, label).map_or(Node::NotFound, Node::Pending)
                        }
                    }
                    _ => {
                        let (port, proto) = (text(4), text(3));
                        let found =
                            port.strip_prefix('_').zip(proto.strip_prefix('_')).and_then(|(port, proto)| {
                                records.srv.iter().find(|p| {
                                    p.name.as_deref() == Some(port)
                                        && p.protocol.srv_label() == proto
                                        && p.has_targets(records)
                                })
                            });
                        found.map_or(Node::NotFound, |p| Node::Srv(key, records, p))
                    }
                }
            }
            _ => Node::NotFound,
        }
    }

    pub(super) fn find_service(&self, namespace: &str, name: &str) -> Option<(ObjectKey, &ServiceRecords)> {
        let (ns, services) = self.services.get_key_value(namespace)?;
        let (name, records) = services.get_key_value(name)?;
        Some((ObjectKey { namespace: ns.clone(), name: name.clone() }, records))
    }
}

impl Zone {
    /// `<clusterid>.<svc>.<ns>.svc.<multicluster zone>`: exists (an empty non-terminal) when an
    /// endpoint or a known identity of that cluster is below it.
    fn cluster_id_node<'a>(&self, records: &ServiceRecords, cluster: &str) -> Node<'a> {
        let of_cluster =
            |label: &SharedStr| label.strip_suffix(cluster).is_some_and(|rest| rest.ends_with('.'));
        let known = records.endpoints.iter().any(|e| of_cluster(&e.label))
            || records.pending_pods.iter().any(of_cluster)
            || (!records.identities.is_empty() && self.local_cluster.as_deref() == Some(cluster));
        if known { Node::EmptyNonTerminal } else { Node::NotFound }
    }
}
