//! How an [`ExternalSpec`] is kept: the fields every Service with a `hostname` annotation
//! uses inline, the ones most leave empty behind one optional box, so that the spec of
//! a StatefulSet's headless Service stays small (every Service of a large cluster may be
//! exported). [`ExternalSpecFields`] is the plain form: what state files keep, what
//! the parser fills in.

use std::net::IpAddr;

use super::{EndpointsType, ExposedType, ExternalProblem, ExternalSpec, ExternalTarget, Ingress};
use crate::cluster::SharedStr;

/// Every field of an [`ExternalSpec`], plainly (see the spec's fields for their meaning).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalSpecFields {
    /// `hostname`.
    pub hostnames: Box<[SharedStr]>,
    /// `target`: addresses (A/AAAA) or one name (CNAME) instead of the computed targets.
    #[serde(default)]
    pub target: Option<ExternalTarget>,
    /// `ttl` in seconds.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// `endpoints-type`.
    #[serde(default)]
    pub endpoints_type: EndpointsType,
    /// `metadata.creationTimestamp` as Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// `spec.type`.
    #[serde(default)]
    pub service_type: ExposedType,
    /// `status.loadBalancer.ingress`: IPs or hostnames, in their order, each once.
    #[serde(default)]
    pub load_balancer: Box<[Ingress]>,
    /// `spec.externalIPs`, in their order, each once.
    #[serde(default)]
    pub external_ips: Box<[IpAddr]>,
    /// Each port's `nodePort` (NodePort / LoadBalancer), in `spec.ports` order (0: none;
    /// empty when no port has one).
    #[serde(default)]
    pub node_ports: Box<[u16]>,
    /// Annotation values ignored, each with why: one log line each and `explain` show them.
    #[serde(default)]
    pub problems: Box<[ExternalProblem]>,
}

/// The fields of an [`ExternalSpec`] that most Services leave empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Rest {
    target: Option<ExternalTarget>,
    load_balancer: Box<[Ingress]>,
    external_ips: Box<[IpAddr]>,
    node_ports: Box<[u16]>,
    problems: Box<[ExternalProblem]>,
}

/// The rest of a spec without any.
static NO_REST: std::sync::LazyLock<Rest> = std::sync::LazyLock::new(Rest::default);

impl From<ExternalSpecFields> for ExternalSpec {
    fn from(f: ExternalSpecFields) -> Self {
        let rest = Rest {
            target: f.target,
            load_balancer: f.load_balancer,
            external_ips: f.external_ips,
            node_ports: f.node_ports,
            problems: f.problems,
        };
        ExternalSpec {
            hostnames: f.hostnames,
            ttl: f.ttl,
            endpoints_type: f.endpoints_type,
            created: f.created,
            service_type: f.service_type,
            rest: (rest != Rest::default()).then(|| Box::new(rest)),
        }
    }
}

impl From<ExternalSpec> for ExternalSpecFields {
    fn from(spec: ExternalSpec) -> Self {
        let rest = spec.rest.map(|r| *r).unwrap_or_default();
        ExternalSpecFields {
            hostnames: spec.hostnames,
            target: rest.target,
            ttl: spec.ttl,
            endpoints_type: spec.endpoints_type,
            created: spec.created,
            service_type: spec.service_type,
            load_balancer: rest.load_balancer,
            external_ips: rest.external_ips,
            node_ports: rest.node_ports,
            problems: rest.problems,
        }
    }
}

impl ExternalSpec {
    fn rest(&self) -> &Rest {
        self.rest.as_deref().unwrap_or(&NO_REST)
    }

    /// `target`: addresses (A/AAAA) or one name (CNAME) instead of the computed targets.
    pub fn target(&self) -> Option<&ExternalTarget> {
        self.rest().target.as_ref()
    }

    /// `status.loadBalancer.ingress`: IPs or hostnames, in their order, each once.
    pub fn load_balancer(&self) -> &[Ingress] {
        &self.rest().load_balancer
    }

    /// `spec.externalIPs`, in their order, each once.
    pub fn external_ips(&self) -> &[IpAddr] {
        &self.rest().external_ips
    }

    /// Each port's `nodePort` (NodePort / LoadBalancer), in `spec.ports` order (0: none;
    /// empty when no port has one).
    pub fn node_ports(&self) -> &[u16] {
        &self.rest().node_ports
    }

    /// Annotation values ignored, each with why: one log line each and `explain` show them.
    pub fn problems(&self) -> &[ExternalProblem] {
        &self.rest().problems
    }

    /// A copy whose strings are new allocations, not shared with `self`: what the state
    /// keeps is then allocated by the index, not among a parser's short-lived allocations
    /// on another thread, where one survivor pins a whole page (see the interner).
    pub fn copied(&self) -> ExternalSpec {
        let copy = |s: &SharedStr| SharedStr::from(s.as_str());
        let rest = self.rest.as_deref().map(|r| {
            Box::new(Rest {
                target: r.target.as_ref().map(|t| match t {
                    ExternalTarget::Addresses(ips) => ExternalTarget::Addresses(ips.clone()),
                    ExternalTarget::Name(name) => ExternalTarget::Name(copy(name)),
                }),
                load_balancer: r
                    .load_balancer
                    .iter()
                    .map(|i| match i {
                        Ingress::Ip(ip) => Ingress::Ip(*ip),
                        Ingress::Hostname(h) => Ingress::Hostname(copy(h)),
                    })
                    .collect(),
                external_ips: r.external_ips.clone(),
                node_ports: r.node_ports.clone(),
                problems: r
                    .problems
                    .iter()
                    .map(|p| ExternalProblem {
                        annotation: copy(&p.annotation),
                        value: copy(&p.value),
                        reason: p.reason.clone(),
                    })
                    .collect(),
            })
        });
        ExternalSpec {
            hostnames: self.hostnames.iter().map(copy).collect(),
            ttl: self.ttl,
            endpoints_type: self.endpoints_type,
            created: self.created,
            service_type: self.service_type,
            rest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_spec_has_no_rest_and_the_fields_round_trip() {
        let plain =
            ExternalSpecFields { hostnames: Box::new(["kafka.example.com".into()]), ..Default::default() };
        let spec = ExternalSpec::from(plain.clone());
        assert!(spec.rest.is_none());
        assert!(std::mem::size_of::<ExternalSpec>() <= 48, "one small allocation a Service");
        assert_eq!(ExternalSpecFields::from(spec), plain);
        let full = ExternalSpecFields {
            target: Some(ExternalTarget::Name("lb.example.net".into())),
            external_ips: Box::new(["198.51.100.1".parse().unwrap()]),
            node_ports: Box::new([30092]),
            ..plain
        };
        let spec = ExternalSpec::from(full.clone());
        assert_eq!(spec.target(), full.target.as_ref());
        assert_eq!((spec.external_ips(), spec.node_ports()), (&full.external_ips[..], &full.node_ports[..]));
        let copy = spec.copied();
        assert_eq!(copy, spec);
        assert_ne!(copy.hostnames[0].as_ptr(), spec.hostnames[0].as_ptr(), "new allocations");
        assert_eq!(ExternalSpecFields::from(copy), full);
    }
}
