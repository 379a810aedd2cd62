//! [`PodTemplate`]: what the pods of one workload have in common, behind one pointer.

use std::sync::Arc;

use super::{Labels, Naming, PortList};

/// A pod's labels, hostname and subdomain, and named container ports: the parts its
/// workload's pod template decides, shared by all the pods of a StatefulSet.
///
/// *Why one pointer:* each of the three was already shared between those pods (label
/// values equal to the pod's name or ordinal are stored as stand-ins, a hostname equal
/// to the name as "the pod's name"), but three pointers per pod kept a [`Pod`](super::Pod)
/// in a 96-byte allocation; with one, it fits 80. The cluster
/// state's interner keeps one template per distinct triple.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PodTemplate(Arc<TemplateParts>);

/// What a [`PodTemplate`] points to.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TemplateParts {
    /// `metadata.labels` (in a pod kept by the cluster state, with stand-ins: read them
    /// through [`Pod::label`](super::Pod::label)).
    pub labels: Labels,
    /// `spec.hostname` and `spec.subdomain`.
    pub naming: Naming,
    /// Named container ports of the regular containers.
    pub ports: PortList,
}

impl PodTemplate {
    /// A template of these parts, not shared with any other yet.
    pub fn new(labels: Labels, naming: Naming, ports: PortList) -> Self {
        PodTemplate(Arc::new(TemplateParts { labels, naming, ports }))
    }

    /// The labels, as stored.
    pub fn labels(&self) -> &Labels {
        &self.0.labels
    }

    /// The hostname and subdomain.
    pub fn naming(&self) -> &Naming {
        &self.0.naming
    }

    /// The named container ports.
    pub fn ports(&self) -> &PortList {
        &self.0.ports
    }

    /// The same template with other labels.
    pub fn with_labels(&self, labels: Labels) -> Self {
        PodTemplate::new(labels, self.0.naming.clone(), self.0.ports.clone())
    }

    /// The shared parts (whether two pods share them).
    pub fn parts(&self) -> &Arc<TemplateParts> {
        &self.0
    }

    /// A template pointing to shared parts.
    pub(crate) fn from_parts(parts: Arc<TemplateParts>) -> Self {
        PodTemplate(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compare_by_their_parts() {
        let labels = Labels::from([("app".into(), "web".into())]);
        let naming = Naming::new(Some("web-0".into()), Some("nginx".into()), "web-0");
        let a = PodTemplate::new(labels.clone(), naming.clone(), PortList::default());
        let b = PodTemplate::new(labels, naming, PortList::default());
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(a.parts(), b.parts()));
        let other = a.with_labels(Labels::from([("app".into(), "db".into())]));
        assert_ne!(a, other);
        assert_eq!(other.naming(), a.naming());
    }
}
