//! Shared copies of the strings, label pairs, label sets and port lists that thousands of
//! objects repeat, so each is stored once, allocated by the index.

use std::collections::HashSet;
use std::sync::Arc;

use super::objects::{NamingPair, TemplateParts};
use super::{
    ContainerPort, Label, Labels, Naming, ObjectKey, Pod, PodTemplate, PortList, Service, ServicePort,
    StatefulSet, TargetPort,
};

/// A set of shared strings (and port lists). Values no object uses any more are dropped
/// now and then.
#[derive(Clone, Debug, Default)]
pub(super) struct Interner {
    strings: HashSet<Arc<str>>,
    pairs: HashSet<Label>,
    label_sets: HashSet<Labels>,
    ports: HashSet<PortList>,
    namings: HashSet<Arc<NamingPair>>,
    templates: HashSet<Arc<TemplateParts>>,
    since_prune: usize,
}

impl Interner {
    /// The shared copy of `s`. A new string is copied rather than kept: everything the
    /// state holds is then allocated by the index, not among a parser's short-lived
    /// allocations on another thread, where one survivor pins a whole page.
    pub(super) fn get(&mut self, s: &Arc<str>) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        self.prune_now_and_then();
        let copy: Arc<str> = Arc::from(&**s);
        self.strings.insert(copy.clone());
        copy
    }

    /// The service with its strings shared and its name copied (see [`get`](Self::get)).
    pub(super) fn service(&mut self, namespace: &Arc<str>, service: &Service) -> Service {
        Service {
            key: ObjectKey { namespace: namespace.clone(), name: Arc::from(&*service.key.name) },
            headless: service.headless,
            // The pods' own pairs: a selector term is a label its pods carry (48 bytes a
            // service when copied).
            selector: service
                .selector
                .as_ref()
                .map(|s| Labels::from_pairs(s.pairs().iter().map(|pair| self.pair(pair)).collect())),
            ports: service
                .ports
                .iter()
                .map(|p| ServicePort {
                    name: p.name.as_ref().map(|n| self.get(n)),
                    protocol: p.protocol,
                    port: p.port,
                    target_port: match &p.target_port {
                        TargetPort::Name(n) => TargetPort::Name(self.get(n)),
                        TargetPort::Number(n) => TargetPort::Number(*n),
                    },
                })
                .collect(),
            publish_not_ready: service.publish_not_ready,
            cluster_ips: service.cluster_ips.clone(),
            external_name: service.external_name.as_ref().map(|n| Arc::from(&**n)),
        }
    }

    /// The StatefulSet with its strings shared and its name copied.
    pub(super) fn statefulset(&mut self, namespace: &Arc<str>, sts: &StatefulSet) -> StatefulSet {
        StatefulSet {
            key: ObjectKey { namespace: namespace.clone(), name: Arc::from(&*sts.key.name) },
            service_name: self.get(&sts.service_name),
            replicas: sts.replicas,
            ordinal_start: sts.ordinal_start,
        }
    }

    fn prune_now_and_then(&mut self) {
        self.since_prune += 1;
        let entries = self.strings.len()
            + self.pairs.len()
            + self.ports.len()
            + self.namings.len()
            + self.templates.len();
        if self.since_prune > 4 * entries.max(4096) {
            self.strings.retain(|s| Arc::strong_count(s) > 1);
            self.pairs.retain(|p| Arc::strong_count(p) > 1);
            self.label_sets.retain(|l| !l.is_shared_only_here());
            self.ports.retain(|p| Arc::strong_count(p) > 1);
            self.namings.retain(|n| Arc::strong_count(n) > 1);
            // Before the parts: a template dropped here releases its labels, naming, ports.
            self.templates.retain(|t| Arc::strong_count(t) > 1);
            self.since_prune = 0;
        }
    }

    fn ports(&mut self, ports: &PortList) -> PortList {
        if let Some(shared) = self.ports.get(ports) {
            return shared.clone();
        }
        self.prune_now_and_then();
        let ports: PortList = Arc::new(
            ports
                .iter()
                .map(|p| ContainerPort { name: self.get(&p.name), port: p.port, protocol: p.protocol })
                .collect(),
        );
        self.ports.insert(ports.clone());
        ports
    }

    /// The pod's labels as a shared set of shared pairs. Values taken from the pod's
    /// name are stored as stand-ins ([`Labels::stored_value`]), so that the pods of one
    /// StatefulSet, whose labels differ only in those, share one set.
    fn labels(&mut self, labels: &Labels, name: &str) -> Labels {
        let mut pairs = labels
            .pairs()
            .iter()
            .map(|pair| match Labels::stored_value(&pair.1, name) {
                Some(stand_in) => self.pair(&(pair.0.clone(), Arc::from(stand_in))),
                None => self.pair(pair),
            })
            .collect::<Vec<Label>>();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        // Looked up by the pairs themselves: a pod whose set exists allocates nothing here.
        if let Some(shared) = self.label_sets.get(&pairs[..]) {
            return shared.clone();
        }
        self.prune_now_and_then();
        let labels = Labels::from_pairs(pairs);
        self.label_sets.insert(labels.clone());
        labels
    }

    /// The shared copy of a label pair.
    fn pair(&mut self, pair: &(Arc<str>, Arc<str>)) -> Label {
        if let Some(shared) = self.pairs.get(pair) {
            return shared.clone();
        }
        self.prune_now_and_then();
        let shared = Arc::new((self.get(&pair.0), self.get(&pair.1)));
        self.pairs.insert(shared.clone());
        shared
    }

    /// The shared copy of a pod's hostname and subdomain pair: one per StatefulSet.
    fn naming(&mut self, naming: &Naming) -> Naming {
        let Some(pair) = naming.pair() else { return Naming::default() };
        if let Some(shared) = self.namings.get(pair) {
            return Naming::from_pair(Some(shared.clone()));
        }
        self.prune_now_and_then();
        let shared = Arc::new(pair.shared(|s| self.get(s)));
        self.namings.insert(shared.clone());
        Naming::from_pair(Some(shared))
    }

    /// The shared copy of a pod's template: its labels, naming and ports each shared,
    /// then the triple itself (one per StatefulSet).
    fn template(&mut self, template: &PodTemplate, name: &str) -> PodTemplate {
        let parts = TemplateParts {
            labels: self.labels(template.labels(), name),
            naming: self.naming(template.naming()),
            ports: self.ports(template.ports()),
        };
        if let Some(shared) = self.templates.get(&parts) {
            return PodTemplate::from_parts(shared.clone());
        }
        self.prune_now_and_then();
        let shared = Arc::new(parts);
        self.templates.insert(shared.clone());
        PodTemplate::from_parts(shared)
    }

    /// The pod with its repeated strings shared. Its labels, hostname and subdomain,
    /// and ports are one template shared by the pods of a StatefulSet (see
    /// [`PodTemplate`]). The name is copied so that everything the state keeps is
    /// allocated here, not among a parser's short-lived allocations, where one survivor
    /// would pin a whole page.
    pub(super) fn pod(&mut self, namespace: &Arc<str>, pod: &Pod) -> Pod {
        let name: Arc<str> = Arc::from(&*pod.key.name);
        Pod {
            template: self.template(&pod.template, &name),
            key: ObjectKey { namespace: namespace.clone(), name },
            ips: pod.ips.clone(),
            ready_condition: pod.ready_condition,
            terminating: pod.terminating,
            phase: pod.phase,
        }
    }
}
