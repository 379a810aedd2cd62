//! The zone: an immutable snapshot of every name we answer for, and the lookup of one
//! question against it.
//!
//! Pure: no I/O, no clocks except the SOA serial. The zone keeps compact per-service
//! records ([`ServiceRecords`]) rather than resource records, and synthesizes the
//! records of a question on demand. Its maps are persistent (`imbl`), so a writer clones
//! the current zone in O(1), rebuilds only the services a change touched, and publishes
//! the result while readers keep answering from the old one.

pub mod build;
pub mod zonefile;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

pub use build::{Endpoint, EndpointNames, Identities, ServiceRecords, SrvPort};

use crate::cluster::{ClusterState, ObjectKey, Touched};

/// TTL of the `dns-version` TXT record, as the Kubernetes DNS spec sets it.
pub const DNS_VERSION_TTL: u32 = 28800;
/// The schema version we implement.
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";

/// What the zone is configured with; fixed for the life of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSettings {
    /// The cluster domain, lower-cased and fully qualified (`cluster.local.`).
    pub origin: Name,
    /// TTL of positive answers.
    pub ttl: u32,
    /// SOA minimum: how long resolvers may cache NXDOMAIN and NODATA.
    pub negative_ttl: u32,
    /// SOA minimum on a pending identity's NODATA: kept short so no cache holds it.
    pub pending_ttl: u32,
    /// How endpoints without a matching hostname are named.
    pub endpoint_names: EndpointNames,
    /// Addresses of `ns.dns.<zone>`, the name server named by the NS and SOA records.
    pub ns_addresses: Vec<IpAddr>,
    /// Bytes of differences the IXFR journal keeps (`--ixfr-journal`).
    pub ixfr_journal: usize,
    /// SOA refresh, retry and expire, in seconds: what secondaries do between NOTIFYs.
    pub soa_timers: [u32; 3],
}

impl ZoneSettings {
    /// Settings with the CoreDNS defaults for `origin` (TTL 5 s, negative 5 s, pending 1 s).
    pub fn new(origin: &str) -> Result<Self, hickory_proto::ProtoError> {
        let mut origin = Name::from_ascii(origin)?.to_lowercase();
        origin.set_fqdn(true);
        Ok(Self {
            origin,
            ttl: 5,
            negative_ttl: 5,
            pending_ttl: 1,
            endpoint_names: EndpointNames::Hostname,
            ns_addresses: vec![IpAddr::from([127, 0, 0, 1])],
            ixfr_journal: crate::xfer::journal::DEFAULT_BYTES,
            soa_timers: [7200, 1800, 86400],
        })
    }
}

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
    Service(&'a ServiceRecords),
    Endpoint(&'a ServiceRecords, &'a str),
    /// A known identity without an address: NODATA with the short pending TTL.
    Pending,
    Srv(ObjectKey, &'a ServiceRecords, &'a SrvPort),
    /// An address and the services publishing it.
    Ptr(IpAddr, Vec<&'a ObjectKey>),
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
    services: imbl::OrdMap<Arc<str>, imbl::OrdMap<Arc<str>, Arc<ServiceRecords>>>,
    /// Every published `(address, service)` pair, IPv4 and IPv6 apart. The PTR labels
    /// are found in the service's endpoints, so an IPv4 entry is 16 bytes and no
    /// allocation; ordering puts one address's services side by side and makes an
    /// address prefix a range.
    reverse_v4: imbl::OrdSet<(Ipv4Addr, Arc<ObjectKey>)>,
    reverse_v6: imbl::OrdSet<(Ipv6Addr, Arc<ObjectKey>)>,
    /// Number of distinct addresses in `reverse`.
    reverse_addresses: usize,
    /// The smallest service key, to start a range at an address.
    reverse_floor: Arc<ObjectKey>,
    service_count: usize,
    endpoint_count: usize,
    in_addr_arpa: Name,
    ip6_arpa: Name,
    /// The differences between recent serials, for IXFR: published with the zone so an
    /// answer's journal and records are of the same serial.
    journal: crate::xfer::journal::Journal,
}

impl Zone {
    /// An empty zone that is not yet synced: in-zone questions answer SERVFAIL.
    pub fn new(settings: ZoneSettings) -> Self {
        let journal = crate::xfer::journal::Journal::new(settings.ixfr_journal);
        Self {
            settings: Arc::new(settings),
            serial: 1,
            synced: false,
            services: imbl::OrdMap::new(),
            reverse_v4: imbl::OrdSet::new(),
            reverse_v6: imbl::OrdSet::new(),
            reverse_addresses: 0,
            reverse_floor: Arc::new(ObjectKey { namespace: "".into(), name: "".into() }),
            service_count: 0,
            endpoint_count: 0,
            in_addr_arpa: Name::from_ascii("in-addr.arpa.").expect("static name"),
            ip6_arpa: Name::from_ascii("ip6.arpa.").expect("static name"),
            journal,
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
        self.services = crate::packed::map(
            self.services.iter().map(|(ns, services)| (ns.clone(), crate::packed::map(services.clone()))),
        );
        self.reverse_v4 = crate::packed::set(self.reverse_v4.clone());
        self.reverse_v6 = crate::packed::set(self.reverse_v6.clone());
    }

    /// Number of distinct addresses with PTR records.
    pub fn reverse_len(&self) -> usize {
        self.reverse_addresses
    }

    /// The services publishing `ip`, in key order.
    fn services_of(&self, ip: IpAddr) -> Vec<&Arc<ObjectKey>> {
        match ip {
            IpAddr::V4(ip) => publishers(&self.reverse_v4, ip, &self.reverse_floor).collect(),
            IpAddr::V6(ip) => publishers(&self.reverse_v6, ip, &self.reverse_floor).collect(),
        }
    }

    /// Records that `service` publishes `ip`.
    fn insert_ptr(&mut self, ip: IpAddr, service: &Arc<ObjectKey>) {
        let new_address = self.services_of(ip).is_empty();
        let inserted = match ip {
            IpAddr::V4(ip) => self.reverse_v4.insert((ip, service.clone())).is_none(),
            IpAddr::V6(ip) => self.reverse_v6.insert((ip, service.clone())).is_none(),
        };
        if inserted && new_address {
            self.reverse_addresses += 1;
        }
    }

    /// Records that `service` no longer publishes `ip`.
    fn remove_ptr(&mut self, ip: IpAddr, service: &Arc<ObjectKey>) {
        let removed = match ip {
            IpAddr::V4(ip) => self.reverse_v4.remove(&(ip, service.clone())).is_some(),
            IpAddr::V6(ip) => self.reverse_v6.remove(&(ip, service.clone())).is_some(),
        };
        if removed && self.services_of(ip).is_empty() {
            self.reverse_addresses -= 1;
        }
    }

    /// The published addresses of one family, in order.
    pub(crate) fn reverse_addresses(&self, v4: bool) -> Vec<IpAddr> {
        let mut addresses: Vec<IpAddr> = if v4 {
            self.reverse_v4.iter().map(|(ip, _)| IpAddr::V4(*ip)).collect()
        } else {
            self.reverse_v6.iter().map(|(ip, _)| IpAddr::V6(*ip)).collect()
        };
        addresses.dedup();
        addresses
    }

    /// Number of served headless services.
    pub fn service_count(&self) -> usize {
        self.service_count
    }

    /// Number of published endpoint addresses, over all services.
    pub fn endpoint_count(&self) -> usize {
        self.endpoint_count
    }

    /// Rebuilds every service from `state` (a full load). Returns the services that changed.
    pub fn rebuild_all(&mut self, state: &ClusterState) -> Vec<ObjectKey> {
        let mut keys: Touched = self.services().map(|(k, _)| k).collect();
        for (ns_name, ns) in state.namespaces() {
            keys.extend(
                ns.services.keys().map(|name| ObjectKey { namespace: ns_name.clone(), name: name.clone() }),
            );
        }
        self.rebuild(state, &keys)
    }

    /// Rebuilds the records of the touched services from `state`, and moves the serial on
    /// when any of them changed. Returns the services whose records changed.
    pub fn rebuild(&mut self, state: &ClusterState, touched: &Touched) -> Vec<ObjectKey> {
        self.rebuild_with(state, touched, &crate::cluster::Changes::default())
    }

    /// The IXFR journal: differences leading to this zone's serial.
    pub fn journal(&self) -> &crate::xfer::journal::Journal {
        &self.journal
    }

    /// Replaces the IXFR journal (the index records each commit's differences).
    pub fn set_journal(&mut self, journal: crate::xfer::journal::Journal) {
        self.journal = journal;
    }

    /// Sets the SOA serial (the index derives it from the cluster's resourceVersions).
    pub fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// [`rebuild`](Self::rebuild), knowing what changed: a service whose definition did
    /// not change is rebuilt from its previous members plus the changed pods, instead of
    /// scanning its namespace. Returns the services whose records changed (a touched
    /// service can come out the same: a pod's unrelated field changed); the serial moves
    /// only when there is one, so replicas in the same state keep the same serial.
    pub fn rebuild_with(
        &mut self,
        state: &ClusterState,
        touched: &Touched,
        changes: &crate::cluster::Changes,
    ) -> Vec<ObjectKey> {
        let mut changed = Vec::new();
        if touched.is_empty() {
            return changed;
        }
        // Rebuilding many services of one namespace (a load, a relist): index its pods by
        // label once instead of scanning them all for every service.
        let mut per_namespace: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for key in touched {
            *per_namespace.entry(&key.namespace).or_default() += 1;
        }
        let mut indexes: std::collections::HashMap<&str, build::PodsByLabel<'_>> =
            std::collections::HashMap::new();
        for key in touched {
            let old = self.services.get_mut(&key.namespace).and_then(|s| s.remove(&key.name));
            let candidates: Option<Vec<Arc<str>>> = match (&old, &changes.pods) {
                (Some(old), Some(pods)) if !changes.services.contains(key) => Some(
                    old.members()
                        .cloned()
                        .chain(pods.iter().filter(|p| p.namespace == key.namespace).map(|p| p.name.clone()))
                        .collect(),
                ),
                _ => None,
            };
            let service_key = Arc::new(key.clone());
            let old_records = old.clone();
            if let Some(old) = old {
                self.service_count -= 1;
                self.endpoint_count -= old.endpoints.len();
                for e in &old.endpoints {
                    self.remove_ptr(e.ip, &service_key);
                }
            }
            let index = if per_namespace[&*key.namespace] > 8 {
                Some(
                    &*indexes
                        .entry(&key.namespace)
                        .or_insert_with(|| build::pods_by_label(state, &key.namespace)),
                )
            } else {
                None
            };
            let Some(records) = ServiceRecords::build_from(
                state,
                key,
                self.settings.endpoint_names,
                index,
                candidates.as_deref(),
            ) else {
                if self.services.get(&key.namespace).is_some_and(|s| s.is_empty()) {
                    self.services.remove(&key.namespace);
                }
                if old_records.is_some() {
                    changed.push(key.clone());
                }
                continue;
            };
            if old_records.as_deref() != Some(&records) {
                changed.push(key.clone());
            }
            for e in &records.endpoints {
                self.insert_ptr(e.ip, &service_key);
            }
            self.service_count += 1;
            self.endpoint_count += records.endpoints.len();
            self.services
                .entry(key.namespace.clone())
                .or_default()
                .insert(key.name.clone(), Arc::new(records));
        }
        if !changed.is_empty() {
            self.serial = next_serial(self.serial);
        }
        changed
    }

    /// Whether `name` is in a zone we are authoritative for (the cluster domain or the
    /// reverse zones); everything else is REFUSED, or forwarded in resolver mode.
    pub fn serves(&self, name: &Name) -> bool {
        let lower = name.to_lowercase();
        [&self.settings.origin, &self.in_addr_arpa, &self.ip6_arpa].iter().any(|apex| apex.zone_of(&lower))
    }

    /// Answers one question. `qname` may be in any case; answer owners keep its case.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let lower = qname.to_lowercase();
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

    fn forward_node(&self, lower: &Name) -> Node<'_> {
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
                _ => Node::NotFound,
            },
            2 if text(0) == "dns" && text(1) == "ns" => Node::NameServer,
            2 if text(0) == "svc" && self.services.contains_key(text(1)) => Node::EmptyNonTerminal,
            3..=5 if text(0) == "svc" => {
                let Some((key, records)) = self.find_service(text(1), text(2)) else { return Node::NotFound };
                match depth {
                    3 if records.endpoints.is_empty() => Node::NotFound,
                    3 => Node::Service(records),
                    4 if text(3).starts_with('_') => {
                        let proto = &text(3)[1..];
                        if records
                            .srv
                            .iter()
                            .any(|p| p.protocol.srv_label() == proto && p.has_targets(records))
                        {
                            Node::EmptyNonTerminal
                        } else {
                            Node::NotFound
                        }
                    }
                    4 => {
                        let label = text(3);
                        if let Some(e) = records.labelled(label).first() {
                            Node::Endpoint(records, &e.label)
                        } else if records.is_pending(label) {
                            Node::Pending
                        } else {
                            Node::NotFound
                        }
                    }
                    _ => {
                        let (port, proto) = (text(4), text(3));
                        let found =
                            port.strip_prefix('_').zip(proto.strip_prefix('_')).and_then(|(port, proto)| {
                                records.srv.iter().find(|p| {
                                    &*p.name == port
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

    fn find_service(&self, namespace: &str, name: &str) -> Option<(ObjectKey, &ServiceRecords)> {
        let (ns, services) = self.services.get_key_value(namespace)?;
        let (name, records) = services.get_key_value(name)?;
        Some((ObjectKey { namespace: ns.clone(), name: name.clone() }, records))
    }

    fn reverse_node(&self, lower: &Name, apex: &Name) -> Node<'_> {
        if lower == apex {
            return Node::Apex;
        }
        let Ok(net) = lower.parse_arpa_name() else { return Node::NotFound };
        let full = match net.addr() {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if net.prefix_len() == full {
            let services: Vec<&ObjectKey> = self.services_of(net.addr()).into_iter().map(|s| &**s).collect();
            return if services.is_empty() { Node::NotFound } else { Node::Ptr(net.addr(), services) };
        }
        // A shorter name (`2.1.10.in-addr.arpa.`) exists when some address lies under it.
        let floor = &self.reverse_floor;
        let under = match (net.network(), net.broadcast()) {
            (IpAddr::V4(first), IpAddr::V4(last)) => {
                self.reverse_v4.range((first, floor.clone())..).next().is_some_and(|(ip, _)| *ip <= last)
            }
            (IpAddr::V6(first), IpAddr::V6(last)) => {
                self.reverse_v6.range((first, floor.clone())..).next().is_some_and(|(ip, _)| *ip <= last)
            }
            _ => false,
        };
        if under { Node::EmptyNonTerminal } else { Node::NotFound }
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
                    let txt = TXT::new(vec![DNS_SCHEMA_VERSION.to_owned()]);
                    answer.answers.push(Record::from_rdata(owner(), DNS_VERSION_TTL, RData::TXT(txt)));
                }
            }
            Node::Service(records) => {
                answer.answers = address_records(owner(), ttl, qtype, records.endpoints.iter());
            }
            Node::Endpoint(records, label) => {
                let endpoints = records.labelled(label).iter();
                answer.answers = address_records(owner(), ttl, qtype, endpoints);
            }
            Node::Srv(key, records, port) => {
                if wants(RecordType::SRV) {
                    let count = port.targets(records).count();
                    let weight = u16::try_from((100 / count).max(1)).unwrap_or(1);
                    let mut glued: std::collections::HashSet<&str> = std::collections::HashSet::new();
                    for (label, number) in port.targets(records) {
                        let target = self.endpoint_name(&key, label);
                        answer.answers.push(Record::from_rdata(
                            owner(),
                            ttl,
                            RData::SRV(SRV::new(0, weight, number, target.clone())),
                        ));
                        if glued.insert(&**label) {
                            let endpoints = records.labelled(label).iter();
                            answer.additionals.extend(address_records(
                                target,
                                ttl,
                                RecordType::ANY,
                                endpoints,
                            ));
                        }
                    }
                }
            }
            Node::Ptr(ip, services) => {
                if wants(RecordType::PTR) {
                    for service in services {
                        let Some(records) = self.service(&service.namespace, &service.name) else { continue };
                        // Endpoints are sorted by label: one name per label with this address.
                        let mut labels: Vec<&str> =
                            records.endpoints.iter().filter(|e| e.ip == ip).map(|e| &*e.label).collect();
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

fn address_records<'a>(
    owner: Name,
    ttl: u32,
    qtype: RecordType,
    endpoints: impl Iterator<Item = &'a Endpoint>,
) -> Vec<Record> {
    let mut ips: Vec<IpAddr> = endpoints.map(|e| e.ip).collect();
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

/// The services publishing `ip` in one family's reverse set.
fn publishers<'a, A: Ord + Clone + 'a>(
    set: &'a imbl::OrdSet<(A, Arc<ObjectKey>)>,
    ip: A,
    floor: &Arc<ObjectKey>,
) -> impl Iterator<Item = &'a Arc<ObjectKey>> {
    set.range((ip.clone(), floor.clone())..).take_while(move |(a, _)| *a == ip).map(|(_, s)| s)
}

/// The next SOA serial: the current Unix time, but always moving forward.
fn next_serial(current: u32) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    now.max(current.wrapping_add(1))
}

#[cfg(test)]
mod tests;
