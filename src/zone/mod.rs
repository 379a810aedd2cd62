//! The zone: an immutable snapshot of every name we answer for, and the lookup of one
//! question against it.
//!
//! Pure: no I/O, no clocks except the SOA serial. The zone keeps compact per-service
//! records ([`ServiceRecords`]) rather than resource records, and synthesizes the
//! records of a question on demand. Its maps are persistent (`imbl`), so a writer clones
//! the current zone in O(1), rebuilds only the services a change touched, and publishes
//! the result while readers keep answering from the old one.

pub mod build;
pub mod external;
pub mod invalidation;
pub mod journal;
pub mod multicluster;
mod names;
pub mod pending;
pub mod pods;
mod rebuild;
pub mod records;
mod reverse;
pub mod service_types;
mod set;
mod settings;
mod slices;
mod srv;
pub mod zonefile;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

pub use multicluster::{MULTICLUSTER_SCHEMA_VERSION, MulticlusterSettings};
pub use pods::PodRecords;
pub use records::{Endpoint, EndpointNames, Identities, ServiceRecords, SrvPort};
pub use service_types::{ClusterIpRecords, ClusterPort, ServiceType};
pub use set::{Scope, SharedZones, ZoneKind, Zones};
pub use settings::ZoneSettings;

use crate::cluster::ObjectKey;
use crate::cluster::SharedStr;

/// TTL of the `dns-version` TXT record, as the Kubernetes DNS spec sets it.
pub const DNS_VERSION_TTL: u32 = 28800;
/// The schema version we implement.
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";

/// The result of one lookup: the response code and its sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// NOERROR, NXDOMAIN, SERVFAIL, REFUSED.
    pub rcode: ResponseCode,
    /// The AA bit: set on every answer from a zone we serve.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (the SOA of a negative answer).
    pub authorities: Vec<Record>,
    /// Additional section (addresses of SRV targets).
    pub additionals: Vec<Record>,
}

impl Answer {
    fn code(rcode: ResponseCode, authoritative: bool) -> Self {
        Self { rcode, authoritative, answers: vec![], authorities: vec![], additionals: vec![] }
    }

    /// The last step of every zone's lookup: an ANY question gets one RRset (RFC 8482: a
    /// minimal answer, never the whole node) without additionals; an empty answer gets no
    /// additionals and the negative SOA `soa` gives, if any.
    fn finish(mut self, qtype: RecordType, soa: impl FnOnce() -> Option<Record>) -> Self {
        if qtype == RecordType::ANY {
            if let Some(first) = self.answers.first().map(Record::record_type) {
                self.answers.retain(|r| r.record_type() == first);
            }
            self.additionals.clear();
        }
        if self.answers.is_empty() {
            self.additionals.clear();
            self.authorities.extend(soa());
        }
        self
    }
}

/// What a name is, before the question's type is considered.
enum Node<'a> {
    Apex,
    DnsVersion,
    /// `ns.dns.<zone>`: our own addresses.
    NameServer,
    /// Exists, owns no records (`svc.<zone>`, `<ns>.svc.<zone>`, `_tcp.<svc>...`).
    EmptyNonTerminal,
    /// A served service's name: its addresses, and the bare SRV RRset of all its ports.
    Service(ObjectKey, &'a ServiceRecords),
    Endpoint(&'a ServiceRecords, &'a str),
    /// A known identity without an address: its TXT says why; NODATA with the short
    /// pending TTL for every other type.
    Pending(pending::Pending<'a>),
    Srv(ObjectKey, &'a ServiceRecords, &'a SrvPort),
    /// An address and the services publishing it.
    Ptr(IpAddr, Vec<&'a ObjectKey>),
    /// A ClusterIP service's name: its cluster IPs.
    ClusterIp(ObjectKey, &'a ClusterIpRecords),
    /// `_<port>._<proto>` of a ClusterIP service: the service port, on the service name.
    ClusterSrv(ObjectKey, &'a ClusterIpRecords, &'a ClusterPort),
    /// An ExternalName service's name: a CNAME to this target.
    ExternalName(&'a Name),
    /// `a-b-c-d.<ns>.pod.<zone>`: this address.
    PodRecord(IpAddr),
    NotFound,
}

/// An immutable snapshot of everything served. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Zone {
    settings: Arc<ZoneSettings>,
    serial: u32,
    synced: bool,
    /// Services by namespace and name. B-tree maps: persistent like the HAMT maps of
    /// `imbl` but dense (≈60 B per entry instead of ≈180), and ordered for listings.
    services: imbl::OrdMap<SharedStr, imbl::OrdMap<SharedStr, Arc<ServiceRecords>>>,
    /// Every published `(address, service)` pair, IPv4 and IPv6 apart. The PTR labels
    /// are found in the service's endpoints, so an IPv4 entry is 16 bytes and no
    /// allocation; ordering puts one address's services side by side and makes an
    /// address prefix a range.
    reverse_v4: imbl::OrdSet<(Ipv4Addr, Arc<ObjectKey>)>,
    reverse_v6: imbl::OrdSet<(Ipv6Addr, Arc<ObjectKey>)>,
    /// Number of distinct addresses in `reverse`.
    reverse_addresses: usize,
    /// The reverse index is left alone until [`Zone::rebuild_reverse`] (the first build).
    reverse_deferred: bool,
    /// The smallest service key, to start a range at an address.
    reverse_floor: Arc<ObjectKey>,
    service_count: usize,
    endpoint_count: usize,
    /// Pods by address (verified pod records): the cluster state's, shared.
    pod_ips: Option<crate::cluster::PodIps>,
    in_addr_arpa: Name,
    ip6_arpa: Name,
    /// The differences between recent serials, for IXFR: published with the zone so an
    /// answer's journal and records are of the same serial (the index records them).
    journal: journal::Journal,
    /// The cluster zone or the multicluster zone: which names exist below a service.
    kind: ZoneKind,
    /// In the multicluster zone: this cluster's id, under which the records' StatefulSet
    /// identities (the local ones) are names.
    local_cluster: Option<SharedStr>,
    /// The SOA's MNAME and RNAME, built once: every negative answer carries them.
    soa_names: Arc<(Name, Name)>,
}

impl Zone {
    /// An empty cluster zone that is not yet synced: in-zone questions answer SERVFAIL.
    pub fn new(settings: ZoneSettings) -> Self {
        Self::of_kind(settings, ZoneKind::Cluster)
    }

    /// An empty zone of `kind` (the cluster or the multicluster zone), not yet synced.
    pub(crate) fn of_kind(settings: ZoneSettings, kind: ZoneKind) -> Self {
        let journal = journal::Journal::new(settings.ixfr_journal);
        let in_zone = |label: &str| Name::from_ascii(label).and_then(|n| n.append_domain(&settings.origin));
        let soa_names = Arc::new((
            in_zone("ns.dns").unwrap_or_else(|_| settings.origin.clone()),
            in_zone("hostmaster").unwrap_or_else(|_| settings.origin.clone()),
        ));
        Self {
            settings: Arc::new(settings),
            serial: 1,
            synced: false,
            services: imbl::OrdMap::new(),
            reverse_v4: imbl::OrdSet::new(),
            reverse_v6: imbl::OrdSet::new(),
            reverse_addresses: 0,
            reverse_deferred: false,
            reverse_floor: Arc::new(ObjectKey { namespace: "".into(), name: "".into() }),
            service_count: 0,
            endpoint_count: 0,
            pod_ips: None,
            in_addr_arpa: Name::from_ascii("in-addr.arpa.").expect("static name"),
            ip6_arpa: Name::from_ascii("ip6.arpa.").expect("static name"),
            journal,
            kind,
            local_cluster: None,
            soa_names,
        }
    }

    /// Which zone this is.
    pub fn kind(&self) -> ZoneKind {
        self.kind
    }

    /// The settings the zone was built with.
    pub fn settings(&self) -> &ZoneSettings {
        &self.settings
    }

    /// The SOA serial; it changes whenever the records do.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// In the multicluster zone: this cluster's id, once known.
    pub fn local_cluster(&self) -> Option<&str> {
        self.local_cluster.as_deref()
    }

    /// Whether the zone reflects a complete view of the cluster.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Marks the zone as reflecting (or not) a complete view of the cluster.
    pub fn set_synced(&mut self, synced: bool) {
        self.synced = synced;
    }

    /// Every served service with its records, in no particular order.
    pub fn services(&self) -> impl Iterator<Item = (ObjectKey, &ServiceRecords)> + '_ {
        self.services.iter().flat_map(|(ns, services)| {
            services.iter().map(move |(name, records)| {
                (ObjectKey { namespace: ns.clone(), name: name.clone() }, &**records)
            })
        })
    }

    /// The served services of one namespace.
    pub fn services_in(&self, namespace: &str) -> Vec<ObjectKey> {
        self.services.get_key_value(namespace).map_or_else(Vec::new, |(ns, services)| {
            services.keys().map(|name| ObjectKey { namespace: ns.clone(), name: name.clone() }).collect()
        })
    }

    /// The records of one service, shared, if it is served (external zones keep them).
    pub fn service_shared(&self, namespace: &str, name: &str) -> Option<Arc<ServiceRecords>> {
        self.services.get(namespace)?.get(name).cloned()
    }

    /// The records of one service, if it is served.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceRecords> {
        self.services.get(namespace)?.get(name).map(|r| &**r)
    }

    /// Rebuilds the maps with full nodes (see [`crate::packed`]): done once the first
    /// complete zone is built, which inserted everything in ascending order.
    pub fn repack(&mut self) {
        let packed: Vec<_> = self
            .services
            .iter()
            .map(|(ns, services)| {
                (
                    ns.clone(),
                    crate::packed::map(
                        services.iter().map(|(name, records)| (name.clone(), records.clone())),
                    ),
                )
            })
            .collect();
        self.services = crate::packed::map(packed.iter().cloned());
        // The reverse index of the first build is built packed: see `rebuild_reverse`.
    }

    /// Number of served headless services.
    pub fn service_count(&self) -> usize {
        self.service_count
    }

    /// Number of published endpoint addresses, over all services.
    pub fn endpoint_count(&self) -> usize {
        self.endpoint_count
    }

    /// The IXFR journal: differences leading to this zone's serial.
    pub fn journal(&self) -> &journal::Journal {
        &self.journal
    }

    /// Replaces the IXFR journal (the index records each change in it).
    pub fn set_journal(&mut self, journal: journal::Journal) {
        self.journal = journal;
    }

    /// Sets the SOA serial (the index derives it from the cluster's resourceVersions).
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// Whether `name` is in this zone or (the cluster zone) its reverse zones.
    pub fn serves(&self, name: &Name) -> bool {
        self.apex_of(&name.to_lowercase()).is_some()
    }

    /// The apex of this zone or of a reverse zone that holds `lower` (a lower-cased name).
    fn apex_of(&self, lower: &Name) -> Option<&Name> {
        [&self.settings.origin, &self.in_addr_arpa, &self.ip6_arpa]
            .into_iter()
            .find(|apex| apex.zone_of(lower))
    }

    /// Answers one question from this zone and its reverse zones (REFUSED outside them).
    /// `qname` may be in any case; answer owners keep its case.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let lower = qname.to_lowercase();
        let Some(apex) = self.apex_of(&lower) else {
            return Answer::code(ResponseCode::Refused, false);
        };
        if qclass != DNSClass::IN && qclass != DNSClass::ANY {
            return Answer::code(ResponseCode::Refused, false);
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Answer::code(ResponseCode::Refused, false);
        }
        if !self.synced {
            return Answer::code(ResponseCode::ServFail, false);
        }
        let node = if apex == &self.settings.origin {
            self.forward_node(&lower)
        } else {
            self.reverse_node(&lower, apex)
        };
        self.answer(qname, qtype, apex, node)
    }

    fn answer(&self, qname: &Name, qtype: RecordType, apex: &Name, node: Node<'_>) -> Answer {
        let mut answer = Answer::code(ResponseCode::NoError, true);
        let ttl = self.settings.ttl;
        let owner = || qname.clone();
        let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;
        match node {
            Node::NotFound => {
                answer.rcode = ResponseCode::NXDomain;
                answer.authorities.push(self.negative_soa(apex, self.settings.negative_ttl));
                return answer;
            }
            Node::Pending(pending) => {
                if wants(RecordType::TXT) {
                    answer.answers.push(self.pending_record(owner(), &pending));
                } else {
                    answer.authorities.push(self.negative_soa(apex, self.settings.pending_ttl));
                }
                return answer;
            }
            Node::EmptyNonTerminal => {}
            Node::Apex => {
                if wants(RecordType::SOA) {
                    answer.answers.push(self.soa_record(owner(), ttl, self.settings.negative_ttl));
                } else if qtype == RecordType::NS {
                    answer.answers.push(Record::from_rdata(owner(), ttl, RData::NS(NS(self.ns_name()))));
                }
            }
            Node::NameServer => {
                let addresses = self.settings.ns_addresses.iter().filter_map(|ip| match ip {
                    IpAddr::V4(v4) if wants(RecordType::A) => Some(RData::A(A(*v4))),
                    IpAddr::V6(v6) if wants(RecordType::AAAA) => Some(RData::AAAA(AAAA(*v6))),
                    _ => None,
                });
                answer.answers.extend(addresses.map(|rdata| Record::from_rdata(owner(), ttl, rdata)));
            }
            Node::DnsVersion => {
                if wants(RecordType::TXT) {
                    let version = match self.kind {
                        ZoneKind::Multicluster => MULTICLUSTER_SCHEMA_VERSION,
                        _ => DNS_SCHEMA_VERSION,
                    };
                    let txt = TXT::new(vec![version.to_owned()]);
                    answer.answers.push(Record::from_rdata(owner(), DNS_VERSION_TTL, RData::TXT(txt)));
                }
            }
            Node::Service(key, records) => {
                if qtype == RecordType::SRV {
                    let targets = records.bare_srv_targets();
                    self.endpoint_srv_rrset(&mut answer, &owner(), &key, records, &targets);
                } else {
                    answer.answers =
                        address_records(owner(), ttl, qtype, records.endpoints.iter().map(Endpoint::ip));
                }
            }
            Node::ClusterIp(key, records) => self.answer_cluster_ip(&mut answer, qname, qtype, &key, records),
            Node::ClusterSrv(key, records, port) => {
                self.answer_cluster_srv(&mut answer, qname, qtype, &key, records, port)
            }
            Node::ExternalName(target) => return self.answer_external_name(qname, qtype, apex, target),
            Node::PodRecord(ip) => self.answer_pod_record(&mut answer, qname, qtype, ip),
            Node::Endpoint(records, label) => {
                let endpoints = records.labelled(label).iter();
                answer.answers = address_records(owner(), ttl, qtype, endpoints.map(Endpoint::ip));
            }
            Node::Srv(key, records, port) => {
                if wants(RecordType::SRV) {
                    let targets: Vec<(&SharedStr, u16)> = port.targets(records).collect();
                    self.endpoint_srv_rrset(&mut answer, &owner(), &key, records, &targets);
                }
            }
            Node::Ptr(ip, services) => {
                if wants(RecordType::PTR) {
                    for service in services {
                        let Some(records) = self.service(&service.namespace, &service.name) else { continue };
                        if records.service_type.is_some() {
                            // A cluster IP names the service itself.
                            let name = self.service_name(service);
                            answer.answers.push(Record::from_rdata(owner(), ttl, RData::PTR(PTR(name))));
                            continue;
                        }
                        // Endpoints are sorted by label: one name per label with this address.
                        let mut labels: Vec<&str> =
                            records.endpoints.iter().filter(|e| e.ip() == ip).map(|e| &*e.label).collect();
                        labels.dedup();
                        for label in labels {
                            let name = self.endpoint_name(service, label);
                            answer.answers.push(Record::from_rdata(owner(), ttl, RData::PTR(PTR(name))));
                        }
                    }
                }
            }
        }
        answer.finish(qtype, || Some(self.negative_soa(apex, self.settings.negative_ttl)))
    }

    /// `<label>.<service>.<namespace>.svc.<zone>.`
    pub fn endpoint_name(&self, service: &ObjectKey, label: &str) -> Name {
        self.name_of(&[label, &service.name, &service.namespace, "svc"])
    }

    /// The A and AAAA records of `ips` on a headless service's name, as its address
    /// questions answer them (the IXFR journal's difference of a service's addresses).
    pub fn service_address_records(&self, service: &ObjectKey, ips: &[IpAddr]) -> Vec<Record> {
        address_records(self.service_name(service), self.settings.ttl, RecordType::ANY, ips.iter().copied())
    }

    /// `<service>.<namespace>.svc.<zone>.`
    pub fn service_name(&self, service: &ObjectKey) -> Name {
        self.name_of(&[&service.name, &service.namespace, "svc"])
    }

    pub(crate) fn name(&self, relative: &str) -> Name {
        self.name_of(&[relative])
    }

    /// The name of `parts` (each one or more dot-separated labels) in the zone. Built
    /// label by label, not parsed from text: the IXFR journal builds thousands a second.
    pub(crate) fn name_of(&self, parts: &[&str]) -> Name {
        let mut labels = parts.iter().flat_map(|part| part.split('.'));
        labels
            .try_fold(Name::new(), |name, label| name.append_label(label.as_bytes()))
            .and_then(|n| n.append_domain(&self.settings.origin))
            // Only reachable with labels Kubernetes would not accept; fall back to the zone.
            .unwrap_or_else(|_| self.settings.origin.clone())
    }

    pub(crate) fn ns_name(&self) -> Name {
        self.soa_names.0.clone()
    }

    /// The SOA record at `owner` with the given TTL and minimum.
    fn soa_record(&self, owner: Name, ttl: u32, minimum: u32) -> Record {
        let [refresh, retry, expire] = self.settings.soa_timers.map(|t| i32::try_from(t).unwrap_or(i32::MAX));
        let (mname, rname) = (self.soa_names.0.clone(), self.soa_names.1.clone());
        let soa = SOA::new(mname, rname, self.serial, refresh, retry, expire, minimum);
        Record::from_rdata(owner, ttl, RData::SOA(soa))
    }

    /// The SOA for a negative answer: RFC 2308 caches it for min(TTL, minimum).
    fn negative_soa(&self, apex: &Name, minimum: u32) -> Record {
        self.soa_record(apex.clone(), self.settings.ttl.min(minimum), minimum)
    }
}

/// A/AAAA records at `owner` of the addresses of the families `qtype` asks for, sorted
/// and each once: endpoints' addresses, a ClusterIP service's cluster IPs, SRV glue.
fn address_records(
    owner: Name,
    ttl: u32,
    qtype: RecordType,
    ips: impl IntoIterator<Item = IpAddr>,
) -> Vec<Record> {
    let mut ips: Vec<IpAddr> = ips.into_iter().collect();
    ips.sort();
    ips.dedup();
    ips.into_iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v4) if matches!(qtype, RecordType::A | RecordType::ANY) => Some(RData::A(A(v4))),
            IpAddr::V6(v6) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => {
                Some(RData::AAAA(AAAA(v6)))
            }
            _ => None,
        })
        .map(|rdata| Record::from_rdata(owner.clone(), ttl, rdata))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
