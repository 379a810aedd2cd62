//! Answering one question from an external zone.
//!
//! A name is the apex, a name server with glue, a Service's name H, a host label under
//! H, a pending identity under H (NODATA and its TXT, never NXDOMAIN), an SRV name
//! `_<port>._<proto>.H`, an empty non-terminal above a claimed name, or nothing. A name
//! that is both one Service's H and a host of another's goes to the older Service.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{CNAME, NS, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{ExternalService, ExternalZone, Targets};
use crate::cluster::SharedStr;
use crate::zone::pending::Pending;
use crate::zone::{Answer, address_records};

/// What a name of an external zone is.
pub enum Node<'a> {
    /// The zone's apex.
    Apex,
    /// A name server inside the zone: its glue.
    NameServer(&'a [IpAddr]),
    /// A Service's name (H).
    Service(&'a ExternalService),
    /// A host label under H, and what it answers.
    Host(&'a ExternalService, &'a SharedStr, &'a Targets),
    /// A known identity under H without an address.
    Pending(&'a ExternalService, Pending<'a>),
    /// `_<port>._<proto>.H`: the SRV records of that port.
    Srv(&'a ExternalService, Name, &'a str, &'a str),
    /// A name above a published one, owning no records.
    EmptyNonTerminal,
    /// Nothing.
    NotFound,
}

impl<'a> Node<'a> {
    /// The Service whose records the node is, if any.
    pub fn service(&self) -> Option<&'a ExternalService> {
        match self {
            Node::Service(s) | Node::Host(s, ..) | Node::Pending(s, _) | Node::Srv(s, ..) => Some(s),
            _ => None,
        }
    }
}

/// Of two Services' nodes for one name, the older Service's.
fn older<'a>(a: Node<'a>, b: Node<'a>) -> Node<'a> {
    match (a.service(), b.service()) {
        (Some(x), Some(y)) if (y.created, &y.key) < (x.created, &x.key) => b,
        (Some(_), _) => a,
        _ => b,
    }
}

impl ExternalZone {
    /// Answers one question. `qname` may be in any case; answer owners keep its case.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let lower = qname.to_lowercase();
        if !self.settings.apex.zone_of(&lower)
            || (qclass != DNSClass::IN && qclass != DNSClass::ANY)
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
        {
            return Answer::code(ResponseCode::Refused, false);
        }
        if !self.synced {
            return Answer::code(ResponseCode::ServFail, false);
        }
        let node = self.node(&lower);
        self.answer(qname, qtype, node, true)
    }

    /// What `lower` (a lower-cased name in the zone) is.
    pub fn node(&self, lower: &Name) -> Node<'_> {
        if *lower == self.settings.apex {
            return Node::Apex;
        }
        if let Some((_, glue)) =
            self.settings.nameservers.iter().find(|(ns, glue)| ns == lower && !glue.is_empty())
        {
            return Node::NameServer(glue);
        }
        let own = self.owner(lower).map(Node::Service);
        let below = self.node_below(lower);
        match (own, below) {
            (Some(a), Some(b)) => older(a, b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) if self.has_descendant(lower) => Node::EmptyNonTerminal,
            (None, None) => Node::NotFound,
        }
    }

    /// The node of `lower` as a name under another Service's H: a host, a pending
    /// identity, an SRV name or `_<proto>.H`.
    fn node_below(&self, lower: &Name) -> Option<Node<'_>> {
        if lower.num_labels() <= self.settings.apex.num_labels() {
            return None;
        }
        let first = std::str::from_utf8(lower.iter().next()?).ok()?;
        let parent = lower.base_name();
        if let Some(service) = self.owner(&parent) {
            if let Some(proto) = first.strip_prefix('_') {
                // `_<proto>.H`: an empty non-terminal above its ports' SRV names.
                let has = self.srv_ports(service).iter().any(|(_, p)| *p == proto);
                return has.then_some(Node::EmptyNonTerminal);
            }
            if let Some((label, targets)) = service.host(first) {
                return Some(Node::Host(service, label, targets));
            }
            return service.pending(first).map(|p| Node::Pending(service, p));
        }
        // `_<port>._<proto>.H`
        let port = first.strip_prefix('_')?;
        let second = std::str::from_utf8(parent.iter().next()?).ok()?;
        let proto = second.strip_prefix('_')?;
        let h = parent.base_name();
        let service = self.owner(&h)?;
        let found = self.srv_ports(service).into_iter().find(|(n, p)| *n == port && *p == proto)?;
        Some(Node::Srv(service, h, found.0, found.1))
    }

    /// The named ports of `service` with SRV records, as `(name, protocol label)`.
    fn srv_ports<'a>(&self, service: &'a ExternalService) -> Vec<(&'a str, &'a str)> {
        match &service.cluster {
            Some(_) => service
                .srv_ports()
                .into_iter()
                .filter(|(_, _, targets)| !targets.is_empty())
                .filter_map(|(name, proto, _)| Some((name?, proto)))
                .collect(),
            None => service.ports().iter().map(|p| (&*p.name, p.protocol)).collect(),
        }
    }

    /// The records of `node` for `qtype` (`extra`: the negative SOA and SRV glue too).
    pub(super) fn answer(&self, qname: &Name, qtype: RecordType, node: Node<'_>, extra: bool) -> Answer {
        let mut answer = Answer::code(ResponseCode::NoError, true);
        let owner = || qname.clone();
        let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;
        let mut negative_ttl = self.settings.negative_ttl;
        match node {
            Node::NotFound => {
                answer.rcode = ResponseCode::NXDomain;
            }
            Node::EmptyNonTerminal => {}
            Node::Apex => {
                let ttl = self.settings.ttl;
                if wants(RecordType::SOA) {
                    answer.answers.push(self.soa_record(owner(), ttl));
                }
                if wants(RecordType::NS) {
                    for (ns, _) in &self.settings.nameservers {
                        answer.answers.push(Record::from_rdata(owner(), ttl, RData::NS(NS(ns.clone()))));
                    }
                }
            }
            Node::NameServer(glue) => {
                answer.answers = address_records(owner(), self.settings.ttl, qtype, glue.iter().copied());
            }
            Node::Service(service) => {
                if qtype == RecordType::SRV {
                    // The node of a claimed name: one of the Service's names.
                    self.srv_rrset(&mut answer, &owner(), service, &qname.to_lowercase(), None, extra);
                } else {
                    answer.answers = self.targets(owner(), qtype, service, &service.targets, None);
                }
            }
            Node::Host(service, label, targets) => {
                answer.answers = self.targets(owner(), qtype, service, targets, Some(label));
            }
            Node::Pending(service, pending) => {
                negative_ttl = self.settings.pending_ttl;
                if wants(RecordType::TXT) {
                    let txt = TXT::new(vec![pending.text()]);
                    answer.answers.push(Record::from_rdata(
                        owner(),
                        service.ttl.min(negative_ttl),
                        RData::TXT(txt),
                    ));
                }
            }
            Node::Srv(service, h, port, proto) => {
                if wants(RecordType::SRV) {
                    self.srv_rrset(&mut answer, &owner(), service, &h, Some((port, proto)), extra);
                }
            }
        }
        let apex = &self.settings.apex;
        answer.finish(qtype, || {
            extra.then(|| self.soa_record(apex.clone(), self.settings.ttl.min(negative_ttl)))
        })
    }

    /// The records of `targets` at `owner`: addresses of the families `qtype` asks for,
    /// or a CNAME whatever it asks. `label`: a host's (its own endpoints), else H's.
    fn targets(
        &self,
        owner: Name,
        qtype: RecordType,
        service: &ExternalService,
        targets: &Targets,
        label: Option<&SharedStr>,
    ) -> Vec<Record> {
        let ttl = service.ttl;
        match targets {
            Targets::Name(target) => {
                vec![Record::from_rdata(owner, ttl, RData::CNAME(CNAME((**target).clone())))]
            }
            Targets::Addresses(ips) => address_records(owner, ttl, qtype, ips.iter().copied()),
            Targets::Endpoints => {
                let Some(records) = service.cluster.as_deref() else { return Vec::new() };
                let endpoints = match label {
                    Some(label) => records.labelled(label),
                    None => &records.endpoints[..],
                };
                address_records(owner, ttl, qtype, endpoints.iter().map(|e| e.ip()))
            }
        }
    }

    /// The SRV RRset at `owner` of Service `service` under its name `h`: of one port
    /// (`Some((name, protocol))`) or of all (the bare SRV on H), targets the host names
    /// (headless) or H itself; with the targets' addresses as glue when `extra`.
    fn srv_rrset(
        &self,
        answer: &mut Answer,
        owner: &Name,
        service: &ExternalService,
        h: &Name,
        port: Option<(&str, &str)>,
        extra: bool,
    ) {
        let ttl = service.ttl;
        let wanted =
            |name: Option<&str>, proto: &str| port.is_none_or(|(n, p)| name == Some(n) && proto == p);
        // (target label or None for H, port number), sorted, each once.
        let mut targets: Vec<(Option<&SharedStr>, u16)> = match &service.cluster {
            Some(_) => service
                .srv_ports()
                .into_iter()
                .filter(|(name, proto, _)| wanted(*name, proto))
                .flat_map(|(_, _, targets)| targets)
                .map(|(label, number)| (Some(label), number))
                .collect(),
            None => service
                .ports()
                .iter()
                .filter(|p| wanted(Some(&p.name), p.protocol))
                .map(|p| (None, p.port))
                .collect(),
        };
        targets.sort();
        targets.dedup();
        if targets.is_empty() {
            return;
        }
        let weight = u16::try_from((100 / targets.len()).max(1)).unwrap_or(1);
        let mut glued: Option<Option<&SharedStr>> = None;
        for (label, number) in targets {
            let target = match label {
                Some(label) => Name::from_labels([label.as_bytes()])
                    .and_then(|l| l.append_domain(h))
                    .unwrap_or_else(|_| h.clone()),
                None => h.clone(),
            };
            answer.answers.push(Record::from_rdata(
                owner.clone(),
                ttl,
                RData::SRV(SRV::new(0, weight, number, target.clone())),
            ));
            if extra && glued != Some(label) {
                glued = Some(label);
                let targets = match label {
                    Some(label) => service.host(label).map(|(_, targets)| targets),
                    None => Some(&service.targets),
                };
                if let Some(targets) = targets.filter(|t| !matches!(t, Targets::Name(_))) {
                    answer.additionals.extend(self.targets(target, RecordType::ANY, service, targets, label));
                }
            }
        }
    }

    /// The SOA record at `owner`.
    pub(super) fn soa_record(&self, owner: Name, ttl: u32) -> Record {
        let [refresh, retry, expire] = self.settings.soa_timers.map(|t| i32::try_from(t).unwrap_or(i32::MAX));
        let mname =
            self.settings.nameservers.first().map_or_else(|| self.settings.apex.clone(), |(n, _)| n.clone());
        let soa = SOA::new(
            mname,
            (*self.hostmaster).clone(),
            self.serial,
            refresh,
            retry,
            expire,
            self.settings.negative_ttl,
        );
        Record::from_rdata(owner, ttl, RData::SOA(soa))
    }
}
