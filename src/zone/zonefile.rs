//! Every record the zone serves, as RFC 1035 zone files.
//!
//! The records are produced by asking [`Zone::lookup`] for every name and type the zone
//! holds, so the files contain exactly what the server answers, no more, no less.

use std::fmt::Write as _;

use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{ServiceType, Zone, ZoneKind};
use crate::cluster::ObjectKey;

/// Which zone file to render (and which zone a transfer reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneFile {
    /// The cluster domain: SOA, NS, dns-version, services (A, AAAA, bare SRV), endpoints,
    /// named-port SRV.
    Forward,
    /// `in-addr.arpa.`: PTR records of IPv4 endpoints.
    InAddrArpa,
    /// `ip6.arpa.`: PTR records of IPv6 endpoints.
    Ip6Arpa,
    /// The multicluster zone (`--multicluster-zone`): its forward records.
    Multicluster,
    /// An external zone (`--external-zone`), by its place among them;
    /// [`ZoneFile::EXTERNAL`], every external zone (the file `records` prints for
    /// `external`; one zone is named by its apex in `/records?zone=`).
    External(u8),
}

impl ZoneFile {
    /// Every zone file, in the order the CLI and `/records` list them.
    pub const ALL: [ZoneFile; 5] = [
        ZoneFile::Forward,
        ZoneFile::InAddrArpa,
        ZoneFile::Ip6Arpa,
        ZoneFile::Multicluster,
        ZoneFile::EXTERNAL,
    ];

    /// Every external zone, one file after the other.
    pub const EXTERNAL: ZoneFile = ZoneFile::External(u8::MAX);

    /// Its name on the command line (`--zone-file`) and in `/records?zone=`.
    pub fn name(self) -> &'static str {
        match self {
            ZoneFile::Forward => "forward",
            ZoneFile::InAddrArpa => "in-addr-arpa",
            ZoneFile::Ip6Arpa => "ip6-arpa",
            ZoneFile::Multicluster => "multicluster",
            ZoneFile::External(_) => "external",
        }
    }

    /// What it names: a short sentence for help texts.
    pub fn about(self) -> &'static str {
        match self {
            ZoneFile::Forward => "the cluster domain",
            ZoneFile::InAddrArpa => "PTR records of IPv4 addresses",
            ZoneFile::Ip6Arpa => "PTR records of IPv6 addresses",
            ZoneFile::Multicluster => "the multicluster zone (--multicluster-zone)",
            ZoneFile::External(_) => "the external zones (--external-zone)",
        }
    }

    /// The kind of zone it is a file of.
    pub fn kind(self) -> ZoneKind {
        match self {
            ZoneFile::Forward => ZoneKind::Cluster,
            ZoneFile::InAddrArpa | ZoneFile::Ip6Arpa => ZoneKind::Reverse,
            ZoneFile::Multicluster => ZoneKind::Multicluster,
            ZoneFile::External(_) => ZoneKind::External,
        }
    }
}

impl std::str::FromStr for ZoneFile {
    type Err = String;

    /// A name of [`ZoneFile::name`]; `clusterset`, the multicluster zone file's earlier
    /// name, still reads as it.
    fn from_str(name: &str) -> Result<Self, String> {
        if name == "clusterset" {
            return Ok(ZoneFile::Multicluster);
        }
        ZoneFile::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ZoneFile::ALL.iter().map(|f| f.name()).collect();
            format!("unknown zone file {name:?}: one of {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for ZoneFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The questions that list a ClusterIP or ExternalName service's records. An
/// ExternalName is asked for its CNAME only: the records a lookup follows it to belong to
/// their own names.
fn typed_service_queries(service: &Name, t: &ServiceType) -> Vec<(Name, RecordType)> {
    match t {
        ServiceType::ExternalName(_) => vec![(service.clone(), RecordType::CNAME)],
        ServiceType::ClusterIp(records) => {
            let mut queries = vec![
                (service.clone(), RecordType::A),
                (service.clone(), RecordType::AAAA),
                (service.clone(), RecordType::SRV),
            ];
            for port in records.ports.iter() {
                let Some(name) = &port.name else { continue };
                let srv = Name::from_ascii(format!("_{name}._{}", port.protocol.srv_label()))
                    .and_then(|n| n.append_domain(service));
                if let Ok(srv) = srv {
                    queries.push((srv, RecordType::SRV));
                }
            }
            queries
        }
    }
}

/// One part of a zone file after its head: a service's names, or an address's PTR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZonePart {
    /// A served service (forward zone).
    Service(ObjectKey),
    /// A published address (reverse zones).
    Address(std::net::IpAddr),
    /// The verified pod records (`a-b-c-d.<ns>.pod.<zone>`) of the addresses from the first
    /// up to, not including, the second (`None`: to the end), after the services.
    PodRecords(std::net::IpAddr, Option<std::net::IpAddr>),
    /// A name a Service claims in an external zone, with what is below it.
    Name(Name),
}

impl Zone {
    /// The records of one zone file of this zone, apex first, in the order they are
    /// printed: the answers to [`zone_queries`](Self::zone_queries).
    pub fn zone_records(&self, which: ZoneFile) -> Vec<Record> {
        self.zone_queries(which).into_iter().flat_map(|(name, qtype)| self.records(&name, qtype)).collect()
    }

    /// The records of `name`/`qtype` a zone file holds: the answer section of its lookup.
    pub fn records(&self, name: &Name, qtype: RecordType) -> Vec<Record> {
        self.lookup(name, qtype, hickory_proto::rr::DNSClass::IN).answers
    }

    /// One zone file of this zone as text, loadable by other DNS servers.
    pub fn zone_file(&self, which: ZoneFile) -> String {
        render(&self.zone_records(which), self.serial)
    }

    /// The apex of one zone file.
    pub fn zone_apex(&self, which: ZoneFile) -> &Name {
        match which {
            ZoneFile::Forward | ZoneFile::Multicluster | ZoneFile::External(_) => &self.settings.origin,
            ZoneFile::InAddrArpa => &self.in_addr_arpa,
            ZoneFile::Ip6Arpa => &self.ip6_arpa,
        }
    }

    /// The questions whose answers make up one zone file, in order: its head, then each
    /// of its parts'.
    pub fn zone_queries(&self, which: ZoneFile) -> Vec<(Name, RecordType)> {
        let mut queries = self.zone_head_queries(which);
        for part in self.zone_parts(which) {
            self.part_queries(&part, &mut queries);
        }
        queries
    }

    /// The questions at the head of a zone file: the apex's SOA and NS, and in the
    /// forward zone the name server's addresses and `dns-version`.
    pub fn zone_head_queries(&self, which: ZoneFile) -> Vec<(Name, RecordType)> {
        let apex = self.zone_apex(which).clone();
        let mut queries = vec![(apex.clone(), RecordType::SOA), (apex, RecordType::NS)];
        if matches!(which, ZoneFile::Forward | ZoneFile::Multicluster) {
            queries.push((self.ns_name(), RecordType::A));
            queries.push((self.ns_name(), RecordType::AAAA));
            queries.push((self.name("dns-version"), RecordType::TXT));
        }
        queries
    }

    /// What follows the head, in order: the services (forward zones) or the addresses
    /// (reverse zones). Zone transfers turn them into questions one at a time, so a large
    /// zone's questions never exist all at once.
    pub fn zone_parts(&self, which: ZoneFile) -> Vec<ZonePart> {
        match which {
            ZoneFile::Forward | ZoneFile::Multicluster | ZoneFile::External(_) => {
                let mut services: Vec<ObjectKey> = self.services().map(|(key, _)| key).collect();
                services.sort();
                let mut parts: Vec<ZonePart> = services.into_iter().map(ZonePart::Service).collect();
                let starts = self.pod_record_chunks();
                let ends = starts.iter().skip(1).map(|end| Some(*end)).chain([None]);
                parts.extend(starts.iter().zip(ends).map(|(from, to)| ZonePart::PodRecords(*from, to)));
                parts
            }
            ZoneFile::InAddrArpa | ZoneFile::Ip6Arpa => self
                .reverse_addresses(which == ZoneFile::InAddrArpa)
                .into_iter()
                .map(ZonePart::Address)
                .collect(),
        }
    }

    /// Appends the questions of one part of a zone file to `queries`.
    pub fn part_queries(&self, part: &ZonePart, queries: &mut Vec<(Name, RecordType)>) {
        match part {
            ZonePart::Service(key) => {
                if let Some(records) = self.service(&key.namespace, &key.name) {
                    self.service_queries(key, records, queries);
                }
            }
            ZonePart::Address(ip) => queries.push((Name::from(*ip), RecordType::PTR)),
            ZonePart::PodRecords(from, to) => queries.extend(self.pod_record_queries(*from, *to)),
            ZonePart::Name(_) => {}
        }
    }

    /// The questions whose answers are one service's records in the forward zone (the
    /// IXFR journal diffs a changed service's records through them).
    pub fn service_queries(
        &self,
        key: &ObjectKey,
        records: &super::ServiceRecords,
        queries: &mut Vec<(Name, RecordType)>,
    ) {
        self.service_queries_of(key, records, true, None, queries);
    }

    /// [`service_queries`](Self::service_queries), only some of them: the service-wide
    /// names (the service's own, its SRV names) when `service_wide`, and the names of
    /// `labels` (`None`: every endpoint and pending label). Names left out are not built.
    pub fn service_queries_of(
        &self,
        key: &ObjectKey,
        records: &super::ServiceRecords,
        service_wide: bool,
        labels: Option<&[&str]>,
        queries: &mut Vec<(Name, RecordType)>,
    ) {
        let service = self.service_name(key);
        if let Some(t) = &records.service_type {
            if service_wide {
                queries.extend(typed_service_queries(&service, t));
            }
            return;
        }
        if service_wide {
            queries.push((service.clone(), RecordType::A));
            queries.push((service.clone(), RecordType::AAAA));
            // The bare SRV RRset on the service name (every port).
            queries.push((service.clone(), RecordType::SRV));
        }
        match labels {
            None => {
                let mut labels: Vec<&str> = records.endpoints.iter().map(|e| &*e.label).collect();
                labels.dedup();
                for label in labels {
                    let name = self.endpoint_name(key, label);
                    queries.push((name.clone(), RecordType::A));
                    queries.push((name, RecordType::AAAA));
                }
                // Pending identities own a TXT: it keeps them in the transferred zone.
                for label in self.pending_labels(records) {
                    queries.push((self.endpoint_name(key, &label), RecordType::TXT));
                }
            }
            // A label with addresses has those; one without, at most its pending TXT.
            Some(labels) => {
                for label in labels {
                    let name = self.endpoint_name(key, label);
                    if records.labelled(label).is_empty() {
                        queries.push((name, RecordType::TXT));
                    } else {
                        queries.push((name.clone(), RecordType::A));
                        queries.push((name, RecordType::AAAA));
                    }
                }
            }
        }
        if !service_wide {
            return;
        }
        for port in records.srv.iter().filter(|p| p.has_targets(records)) {
            let Some(name) = &port.name else { continue };
            let srv = Name::from_ascii(format!("_{name}._{}", port.protocol.srv_label()))
                .and_then(|n| n.append_domain(&service));
            if let Ok(srv) = srv {
                queries.push((srv, RecordType::SRV));
            }
        }
    }
}

/// `records` (a zone file's, apex first) as RFC 1035 text, loadable by other DNS servers.
pub fn render(records: &[Record], serial: u32) -> String {
    let mut out = String::new();
    let apex = records.first().map(|r| r.name.to_string()).unwrap_or_default();
    let _ = writeln!(out, "; {apex} as served by headless-dns (serial {serial})");
    let _ = writeln!(out, "$ORIGIN {apex}");
    for r in records {
        let data = match &r.data {
            RData::TXT(txt) => txt
                .txt_data
                .iter()
                .map(|t| {
                    format!("\"{}\"", String::from_utf8_lossy(t).replace('\\', "\\\\").replace('"', "\\\""))
                })
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        let _ = writeln!(out, "{}\t{}\tIN\t{}\t{}", r.name, r.ttl, r.record_type(), data);
    }
    out
}
