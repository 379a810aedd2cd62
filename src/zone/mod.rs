//! The zone: an immutable snapshot of every name we answer for, and the lookup of one
//! question against it.
//!
//! Pure: no I/O, no clocks except the SOA serial. The zone keeps compact per-service
//! records ([`ServiceRecords`]) rather than resource records, and synthesizes the
//! records of a question on demand. Its maps are persistent (`imbl`), so a writer clones
//! the current zone in O(1), rebuilds only the services a change touched, and publishes
//! the result while readers keep answering from the old one.

pub mod build;
pub mod clusterset;
mod forward;
pub mod pods;
mod rebuild;
mod reverse;
pub mod service_types;
mod settings;
mod slices;
mod srv;
pub mod zonefile;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

pub use build::{Endpoint, EndpointNames, Identities, ServiceRecords, SrvPort};
pub use clusterset::{CLUSTERSET_SCHEMA_VERSION, MulticlusterSettings};
pub use pods::PodRecords;
pub use service_types::{ClusterIpRecords, ClusterPort, ServiceType};
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
    /// A known identity without an address: NODATA with the short pending TTL.
    Pending,
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
    /// answer's journal and records are of the same serial.
    journal: crate::xfer::journal::Journal,
    /// The clusterset zone (`--multicluster-zone`), published with this one.
    clusterset: Option<Box<Zone>>,
    /// In the clusterset zone: this cluster's id, under which the records' StatefulSet
    /// identities (the local ones) are names.
    local_cluster: Option<SharedStr>,
}

impl Zone {
    /// An empty zone that is not yet synced: in-zone questions answer SERVFAIL.
    pub fn new(settings: ZoneSettings) -> Self {
        let journal = crate::xfer::journal::Journal::new(settings.ixfr_journal);
        let clusterset = settings.clusterset_settings().map(|s| Box::new(Zone::new(s)));
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
            clusterset,
            local_cluster: None,
        }
    }

    /// The settings the zone was built with.
    pub fn settings(&self) -> &ZoneSettings {
        &self.settings
    }

    /// The SOA serial; it changes whenever the records do.
    pub fn serial(&self) -> u32 {
        self.serial
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
        if let Some(clusterset) = &mut self.clusterset {
            clusterset.repack();
        }
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
    pub fn journal(&self) -> &crate::xfer::journal::Journal {
        &self.journal
    }

    /// Records in the IXFR journal the change from `old` (the previous snapshot) to this
    /// zone: the services `changed` and the pod records of `pod_addresses` (see
    /// [`Journal::record`](crate::xfer::journal::Journal::record)). `first`: the first
    /// build, which starts the journal. Nothing when the serial did not move.
    pub fn record_change(
        &mut self,
        old: &Zone,
        changed: &[ObjectKey],
        pod_addresses: Option<&crate::cluster::PodAddresses>,
        first: bool,
    ) {
        if self.serial == old.serial {
            return;
        }
        let mut journal = self.journal.clone();
        if first {
            journal.clear();
        } else {
            journal.record(old, self, changed, pod_addresses);
        }
        self.journal = journal;
    }

    /// Sets the SOA serial (the index derives it from the cluster's resourceVersions).
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// Whether `name` is in a zone we are authoritative for (the cluster domain or the
    /// reverse zones); everything else is REFUSED, or forwarded in resolver mode.
    pub fn serves(&self, name: &Name) -> bool {
        let lower = name.to_lowercase();
        [&self.settings.origin, &self.in_addr_arpa, &self.ip6_arpa].iter().any(|apex| apex.zone_of(&lower))
            || self.clusterset.as_ref().is_some_and(|c| c.settings.origin.zone_of(&lower))
    }

    /// Answers one question. `qname` may be in any case; answer owners keep its case.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let lower = qname.to_lowercase();
        if let Some(clusterset) = &self.clusterset {
            if clusterset.settings.origin.zone_of(&lower) {
                return clusterset.lookup(qname, qtype, qclass);
            }
            if !self.settings.origin.zone_of(&lower) && matches!(qtype, RecordType::PTR | RecordType::ANY) {
                // Reverse: a clusterset PTR only where no cluster-local one exists (spec §2.4.3).
                let local = self.lookup_here(qname, &lower, qtype, qclass);
                if local.answers.is_empty() && local.rcode != ResponseCode::Refused {
                    let remote = clusterset.lookup_here(qname, &lower, qtype, qclass);
                    if !remote.answers.is_empty() {
                        return remote;
                    }
                }
                return local;
            }
        }
        self.lookup_here(qname, &lower, qtype, qclass)
    }

    /// [`lookup`](Self::lookup) in this zone and its reverse zones only.
    fn lookup_here(&self, qname: &Name, lower: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let lower = lower.clone();
        let apex = if self.settings.origin.zone_of(&lower) {
            &self.settings.origin
        } else if self.in_addr_arpa.zone_of(&lower) {
            &self.in_addr_arpa
        } else if self.ip6_arpa.zone_of(&lower) {
            &self.ip6_arpa
        } else {
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
            Node::Pending => {
                answer.authorities.push(self.negative_soa(apex, self.settings.pending_ttl));
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
                    let version =
                        if self.settings.clusterset { CLUSTERSET_SCHEMA_VERSION } else { DNS_SCHEMA_VERSION };
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
        if qtype == RecordType::ANY {
            // RFC 8482: a minimal answer, one RRset, never the whole node.
            if let Some(first) = answer.answers.first().map(Record::record_type) {
                answer.answers.retain(|r| r.record_type() == first);
            }
            answer.additionals.clear();
        }
        if answer.answers.is_empty() {
            answer.additionals.clear();
            answer.authorities.push(self.negative_soa(apex, self.settings.negative_ttl));
        }
        answer
    }

    /// `<label>.<service>.<namespace>.svc.<zone>.`
    pub fn endpoint_name(&self, service: &ObjectKey, label: &str) -> Name {
        self.name(&format!("{label}.{}.{}.svc", service.name, service.namespace))
    }

    /// `<service>.<namespace>.svc.<zone>.`
    pub fn service_name(&self, service: &ObjectKey) -> Name {
        self.name(&format!("{}.{}.svc", service.name, service.namespace))
    }

    pub(crate) fn name(&self, relative: &str) -> Name {
        Name::from_ascii(relative)
            .and_then(|n| n.append_domain(&self.settings.origin))
            // Only reachable with labels Kubernetes would not accept; fall back to the zone.
            .unwrap_or_else(|_| self.settings.origin.clone())
    }

    pub(crate) fn ns_name(&self) -> Name {
        self.name("ns.dns")
    }

    /// The SOA record at `owner` with the given TTL and minimum.
    fn soa_record(&self, owner: Name, ttl: u32, minimum: u32) -> Record {
        let [refresh, retry, expire] = self.settings.soa_timers.map(|t| i32::try_from(t).unwrap_or(i32::MAX));
        let soa =
            SOA::new(self.ns_name(), self.name("hostmaster"), self.serial, refresh, retry, expire, minimum);
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

/// The next SOA serial: the current Unix time, but always moving forward.
pub(crate) fn next_serial(current: u32) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    now.max(current.wrapping_add(1))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pods;
#[cfg(test)]
mod tests_readiness;
#[cfg(test)]
mod tests_services;
#[cfg(test)]
mod tests_slices;
