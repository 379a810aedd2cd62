//! Services whose name stands for the service itself rather than for its pods:
//! ClusterIP services (spec §2.3: A/AAAA of the cluster IPs, an SRV record per named port
//! pointing at the service name, a PTR for each cluster IP, no names below) and
//! ExternalName services (§2.5: a CNAME to the external name, followed when it points
//! into the zone). Their records depend on the Service object alone, never on pods, so a
//! pod event never rebuilds them.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Answer, Node, Zone, address_records};
use crate::cluster::{ObjectKey, Protocol, Service};

/// How many CNAMEs an ExternalName chain inside the zone may have before we stop
/// following it (a loop `a → b → a` stops here too).
const MAX_CHAIN: usize = 8;

/// What a service that is not headless answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceType {
    /// A ClusterIP service (also NodePort and LoadBalancer, which have a cluster IP).
    ClusterIp(ClusterIpRecords),
    /// An ExternalName service: the fully qualified, lower-cased target.
    ExternalName(Name),
}

/// The records of a ClusterIP service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterIpRecords {
    /// `spec.clusterIPs`, one or two (dual-stack).
    pub ips: Box<[IpAddr]>,
    /// The service ports, in `spec.ports` order.
    pub ports: Box<[ClusterPort]>,
}

/// One port of a ClusterIP service: its SRV record names the service port itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterPort {
    /// The port's name, lower-cased; an unnamed port has no `_<port>._<proto>` name.
    pub name: Option<Box<str>>,
    /// The port's protocol.
    pub protocol: Protocol,
    /// The service port.
    pub port: u16,
}

impl ServiceType {
    /// What `service` (not headless) answers, or `None` when it answers nothing: a
    /// ClusterIP service not allocated an address yet, or an external name that is not a
    /// domain name.
    pub fn build(service: &Service) -> Option<ServiceType> {
        if let Some(target) = &service.external_name {
            return Name::from_ascii(format!("{target}.")).ok().map(ServiceType::ExternalName);
        }
        if service.headless || service.cluster_ips.is_empty() {
            return None;
        }
        let ports =
            service.ports.iter().map(|p| ClusterPort::new(p.name.as_deref(), p.protocol, p.port)).collect();
        Some(ServiceType::ClusterIp(ClusterIpRecords { ips: service.cluster_ips.clone(), ports }))
    }

    /// The cluster IPs (none for an ExternalName service): they get PTR records.
    pub fn cluster_ips(&self) -> &[IpAddr] {
        match self {
            ServiceType::ClusterIp(records) => &records.ips,
            ServiceType::ExternalName(_) => &[],
        }
    }
}

impl ClusterPort {
    /// The port `name` (lower-cased), `protocol`, `port` of a ClusterIP service or a
    /// ClusterSetIP import.
    pub(crate) fn new(name: Option<&str>, protocol: Protocol, port: u16) -> Self {
        ClusterPort { name: name.map(|n| n.to_ascii_lowercase().into()), protocol, port }
    }
}

impl ClusterIpRecords {
    /// The named port `_<name>._<proto>` asks for (labels without their underscore).
    pub fn port(&self, name: &str, proto: &str) -> Option<&ClusterPort> {
        self.ports.iter().find(|p| p.name.as_deref() == Some(name) && p.protocol.srv_label() == proto)
    }
}

impl Zone {
    /// The node of `<svc>.<ns>.svc.<zone>` or a name below it, for a service of type `t`.
    /// `below` are the labels under the service name, from the zone outwards.
    pub(super) fn typed_service_node<'a>(
        &self,
        key: ObjectKey,
        t: &'a ServiceType,
        below: &[&str],
    ) -> Node<'a> {
        match (t, below) {
            (ServiceType::ExternalName(target), []) => Node::ExternalName(target),
            (ServiceType::ClusterIp(records), []) => Node::ClusterIp(key, records),
            (ServiceType::ClusterIp(records), [proto]) => match proto.strip_prefix('_') {
                Some(proto)
                    if records.ports.iter().any(|p| p.name.is_some() && p.protocol.srv_label() == proto) =>
                {
                    Node::EmptyNonTerminal
                }
                _ => Node::NotFound,
            },
            (ServiceType::ClusterIp(records), [proto, port]) => {
                match port.strip_prefix('_').zip(proto.strip_prefix('_')) {
                    Some((port, proto)) => records
                        .port(port, proto)
                        .map_or(Node::NotFound, |port| Node::ClusterSrv(key, records, port)),
                    None => Node::NotFound,
                }
            }
            // No per-pod names under a ClusterIP service, nothing under an ExternalName.
            _ => Node::NotFound,
        }
    }

    /// `<svc>.<ns>.svc.<zone>` of a ClusterIP service: its cluster IPs of the asked family,
    /// whatever its endpoints; SRV asked of the name itself gets [`Self::cluster_ip_bare_srv`].
    pub(super) fn answer_cluster_ip(
        &self,
        answer: &mut Answer,
        qname: &Name,
        qtype: RecordType,
        key: &ObjectKey,
        records: &ClusterIpRecords,
    ) {
        answer.answers =
            address_records(qname.clone(), self.settings.ttl, qtype, records.ips.iter().copied());
        if qtype == RecordType::SRV {
            self.cluster_ip_bare_srv(answer, qname, key, records);
        }
    }

    /// SRV asked of a ClusterIP service's own name: one record per service port (named
    /// or not), port = the service port, target = the service name, weight as CoreDNS
    /// spreads it (`floor(100 / N)`), the cluster IPs as glue.
    fn cluster_ip_bare_srv(
        &self,
        answer: &mut Answer,
        qname: &Name,
        key: &ObjectKey,
        records: &ClusterIpRecords,
    ) {
        let mut ports: Vec<((), u16)> = records.ports.iter().map(|p| ((), p.port)).collect();
        ports.sort_unstable();
        ports.dedup();
        self.cluster_ip_srv_rrset(answer, qname, key, records, &ports);
    }

    /// `_<port>._<proto>.<svc>.<ns>.svc.<zone>` of a ClusterIP service:
    /// `0 100 <service port> <svc>.<ns>.svc.<zone>.`, the cluster IPs as glue.
    pub(super) fn answer_cluster_srv(
        &self,
        answer: &mut Answer,
        qname: &Name,
        qtype: RecordType,
        key: &ObjectKey,
        records: &ClusterIpRecords,
        port: &ClusterPort,
    ) {
        if matches!(qtype, RecordType::SRV | RecordType::ANY) {
            self.cluster_ip_srv_rrset(answer, qname, key, records, &[((), port.port)]);
        }
    }

    /// The SRV RRset of a ClusterIP service on these ports: every target is the service
    /// name, its cluster IPs the glue ([`Self::srv_rrset`], as headless services use it).
    fn cluster_ip_srv_rrset(
        &self,
        answer: &mut Answer,
        owner: &Name,
        key: &ObjectKey,
        records: &ClusterIpRecords,
        ports: &[((), u16)],
    ) {
        let ttl = self.settings.ttl;
        let target = self.service_name(key);
        self.srv_rrset(
            answer,
            owner,
            ports,
            |()| target.clone(),
            |(), name| address_records(name, ttl, RecordType::ANY, records.ips.iter().copied()),
        );
    }

    /// An ExternalName service's name: the CNAME, and, when the target is in the zone,
    /// the target's own answer after it (its rcode, records and SOA), as an authoritative
    /// server follows a CNAME within its zone (RFC 1034 §4.3.2). A target outside the
    /// zone gets the CNAME alone; the client's resolver follows it.
    pub(super) fn answer_external_name(
        &self,
        qname: &Name,
        qtype: RecordType,
        apex: &Name,
        target: &Name,
    ) -> Answer {
        let mut answer = Answer::code(ResponseCode::NoError, true);
        let ttl = self.settings.ttl;
        let (mut owner, mut target) = (qname.clone(), target);
        for _ in 0..MAX_CHAIN {
            answer.answers.push(Record::from_rdata(owner, ttl, RData::CNAME(CNAME(target.clone()))));
            if matches!(qtype, RecordType::CNAME | RecordType::ANY) || !self.settings.origin.zone_of(target) {
                return answer;
            }
            match self.forward_node(target) {
                Node::ExternalName(next) => (owner, target) = (target.clone(), next),
                node => {
                    let rest = self.answer(target, qtype, apex, node);
                    answer.rcode = rest.rcode;
                    answer.answers.extend(rest.answers);
                    answer.authorities = rest.authorities;
                    answer.additionals = rest.additionals;
                    return answer;
                }
            }
        }
        // A longer chain, or a loop: the CNAMEs so far, which a resolver stops at too.
        answer
    }
}
