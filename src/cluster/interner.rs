//! Shared copies of the strings, label pairs, label sets, port lists and pod templates
//! objects repeat, so each is stored once, allocated by the index.

use std::collections::HashSet;
use std::sync::Arc;

use super::objects::{NamingPair, TemplateParts};
use super::{
    ContainerPort, Label, Labels, Naming, ObjectKey, Pod, PodTemplate, PortList, Service, ServicePort,
    StatefulSet, TargetPort,
};
use crate::cluster::SharedStr;

/// A set of shared strings (and port lists). Values no object uses any more are dropped
/// now and then.
#[derive(Clone, Debug, Default)]
pub(super) struct Interner {
    strings: HashSet<SharedStr>,
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
    ///
    /// A string short enough to be kept inline is not shared: its copy costs nothing.
    pub(super) fn get(&mut self, s: &SharedStr) -> SharedStr {
        if let Some(inline) = SharedStr::try_inline(s) {
            return inline;
        }
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        self.prune_now_and_then();
        let copy: SharedStr = SharedStr::from(&**s);
        self.strings.insert(copy.clone());
        copy
    }

    /// The service with its strings shared and its name copied (see [`get`](Self::get)).
    pub(super) fn service(&mut self, namespace: &SharedStr, service: &Service) -> Service {
        Service {
            key: ObjectKey { namespace: namespace.clone(), name: SharedStr::from(&*service.key.name) },
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
            external_name: service.external_name.clone(),
            external: service.external.as_deref().map(|e| Box::new(e.copied())),
        }
    }

    /// The StatefulSet with its strings shared and its name copied.
    pub(super) fn statefulset(&mut self, namespace: &SharedStr, sts: &StatefulSet) -> StatefulSet {
        StatefulSet {
            key: ObjectKey { namespace: namespace.clone(), name: SharedStr::from(&*sts.key.name) },
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
            self.prune();
        }
    }

    /// Drops the shared values no object holds any more.
    fn prune(&mut self) {
        // Outermost first: a template dropped here releases its labels, naming, ports.
        self.templates.retain(|t| Arc::strong_count(t) > 1);
        self.label_sets.retain(|l| !l.is_shared_only_here());
        self.pairs.retain(|p| Arc::strong_count(p) > 1);
        self.ports.retain(|p| Arc::strong_count(p) > 1);
        self.namings.retain(|n| Arc::strong_count(n) > 1);
        // A string does not tell how many share it: keep those the kept pairs, namings
        // and ports hold. One dropped while an object still holds it only costs a copy
        // when it comes again.
        let mut kept: HashSet<SharedStr> = HashSet::new();
        kept.extend(self.pairs.iter().flat_map(|p| [p.0.clone(), p.1.clone()]));
        kept.extend(self.namings.iter().flat_map(|n| n.strings().cloned()));
        kept.extend(self.ports.iter().flat_map(|p| p.iter().map(|c| c.name.clone())));
        kept.retain(|s| !s.is_inline());
        self.strings = kept;
        self.since_prune = 0;
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
                Some(stand_in) => self.pair(&(pair.0.clone(), SharedStr::from(stand_in))),
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
    fn pair(&mut self, pair: &(SharedStr, SharedStr)) -> Label {
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
    ///
    /// `previous`: the version of the pod the state holds, if any. When the new one has
    /// the same template (a pod's IP or readiness changed, the common event), its name and
    /// template are taken from it: no lookups, no copies.
    pub(super) fn pod(&mut self, namespace: &SharedStr, pod: &Pod, previous: Option<&Pod>) -> Pod {
        let (name, template) = match previous.filter(|p| p.key.name == pod.key.name && p.same_template(pod)) {
            Some(previous) => (previous.key.name.clone(), previous.template.clone()),
            None => {
                let name = SharedStr::from(&*pod.key.name);
                (name.clone(), self.template(&pod.template, &name))
            }
        };
        Pod {
            template,
            key: ObjectKey { namespace: namespace.clone(), name },
            ips: pod.ips.clone(),
            ready_condition: pod.ready_condition,
            terminating: pod.terminating,
            phase: pod.phase,
            placement: pod.placement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::PodTemplate;
    use crate::cluster::{Addresses, Phase};

    fn pod(name: &str, hash: &str) -> Pod {
        let labels = [("app".into(), "web".into()), ("controller-revision-hash".into(), hash.into())].into();
        let naming = Naming::new(Some(name.into()), Some("a-subdomain-longer-than-15".into()), name);
        Pod {
            key: ObjectKey { namespace: "default".into(), name: name.into() },
            template: PodTemplate::new(labels, naming, PortList::default()),
            ips: Addresses::none(),
            ready_condition: true,
            terminating: false,
            phase: Phase::Running,
            placement: crate::cluster::Placement::NONE,
        }
    }

    #[test]
    fn long_strings_are_shared_short_ones_inline_and_pruning_keeps_what_is_held() {
        let mut interner = Interner::default();
        let ns = SharedStr::from("default");
        let (a, b) = (
            interner.pod(&ns, &pod("web-0", "web-6d4cf56db6-long"), None),
            interner.pod(&ns, &pod("web-1", "web-6d4cf56db6-long"), None),
        );
        assert!(Arc::ptr_eq(a.template.parts(), b.template.parts()), "one template for both");
        let short = interner.get(&"web".into());
        assert!(short.is_inline() && interner.strings.iter().all(|s| !s.is_inline()));
        let long = |interner: &mut Interner| interner.get(&"controller-revision-hash".into());
        assert_eq!(long(&mut interner).as_ptr(), long(&mut interner).as_ptr(), "one copy of a long string");
        let held = long(&mut interner).as_ptr();

        // A third pod with another revision, then dropped: its template and pair go, the
        // strings the remaining pairs and naming hold stay.
        let c = interner.pod(&ns, &pod("web-2", "web-7f00000000-long"), None);
        assert_eq!(interner.templates.len(), 2);
        drop(c);
        interner.prune();
        assert_eq!(interner.templates.len(), 1);
        assert_eq!(interner.label_sets.len(), 1);
        assert!(interner.pairs.iter().all(|p| &*p.1 != "web-7f00000000-long"));
        assert_eq!(long(&mut interner).as_ptr(), held, "still shared after the prune");
        assert!(interner.strings.contains("a-subdomain-longer-than-15"));
        assert!(!interner.strings.contains("web-7f00000000-long"));
        drop((a, b));
        interner.prune();
        assert!(interner.templates.is_empty() && interner.pairs.is_empty() && interner.strings.is_empty());
    }

    #[test]
    fn a_new_version_with_the_same_template_keeps_the_previous_ones() {
        let mut interner = Interner::default();
        let ns = SharedStr::from("default");
        let first = interner.pod(&ns, &pod("web-0-a-long-pod-name", "rev-1"), None);
        // A new IP: same labels, naming and ports.
        let moved = Pod {
            ips: Addresses::from(["10.0.0.9".parse().unwrap()]),
            ..pod("web-0-a-long-pod-name", "rev-1")
        };
        let second = interner.pod(&ns, &moved, Some(&first));
        assert!(Arc::ptr_eq(first.template.parts(), second.template.parts()));
        assert_eq!(first.key.name.as_ptr(), second.key.name.as_ptr(), "the name is not copied again");
        assert_eq!(second, moved);
        // Another revision: a template of its own, whatever the previous one was.
        let third = interner.pod(&ns, &pod("web-0-a-long-pod-name", "rev-2"), Some(&second));
        assert!(!Arc::ptr_eq(second.template.parts(), third.template.parts()));
        assert_eq!(third.label("controller-revision-hash"), Some("rev-2"));
        // Another pod as `previous` (not the same name) is not taken.
        let other = interner.pod(&ns, &pod("web-1-a-long-pod-name", "rev-1"), Some(&first));
        assert_ne!(other.key.name.as_ptr(), first.key.name.as_ptr());
        assert_eq!(&*other.key.name, "web-1-a-long-pod-name");
    }
}
