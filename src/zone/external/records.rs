//! An external zone's records, as a zone file and a transfer hold them: the apex (SOA,
//! NS, glue), then each claimed name with everything below it that its Service owns.
//!
//! Like the cluster zone's, they are produced by asking the zone's own lookup, so the
//! files and transfers hold exactly what the server answers, the name conflicts settled
//! the same way. The IXFR journal diffs a change by the claimed names it touched
//! ([`ExternalZone::records_under`]).

use hickory_proto::rr::{Name, Record, RecordType};

use super::{ExternalService, ExternalZone, NameKey, Targets};

impl ExternalZone {
    /// Every record, apex first.
    pub fn zone_records(&self) -> Vec<Record> {
        let mut queries = self.zone_head_queries();
        for key in self.claims.keys() {
            self.part_queries(&self.name_of(key), &mut queries);
        }
        queries.into_iter().flat_map(|(name, qtype)| self.records(&name, qtype)).collect()
    }

    /// The records of `name`/`qtype` a zone file holds: the answer section of its lookup.
    pub fn records(&self, name: &Name, qtype: RecordType) -> Vec<Record> {
        self.lookup(name, qtype, hickory_proto::rr::DNSClass::IN).answers
    }

    /// The zone as RFC 1035 text, loadable by other DNS servers.
    pub fn zone_file(&self) -> String {
        crate::zone::zonefile::render(&self.zone_records(), self.serial)
    }

    /// The questions of the zone's head: SOA, NS, the name servers' glue.
    pub fn zone_head_queries(&self) -> Vec<(Name, RecordType)> {
        let apex = self.settings.apex.clone();
        let mut queries = vec![(apex.clone(), RecordType::SOA), (apex.clone(), RecordType::NS)];
        for (ns, glue) in &self.settings.nameservers {
            if !glue.is_empty() && apex.zone_of(ns) {
                queries.push((ns.clone(), RecordType::A));
                queries.push((ns.clone(), RecordType::AAAA));
            }
        }
        queries
    }

    /// The claimed names, in order: the parts that follow the head.
    pub fn zone_parts(&self) -> Vec<Name> {
        self.claims.keys().map(|key| self.name_of(key)).collect()
    }

    /// The records of the claimed name `h` and of the names below it that belong to its
    /// owner: its addresses or CNAME, its SRV records, its hosts' addresses and its
    /// pending identities' TXT.
    pub fn records_under(&self, h: &Name) -> Vec<Record> {
        let mut queries = Vec::new();
        self.part_queries(h, &mut queries);
        queries.into_iter().flat_map(|(name, qtype)| self.records(&name, qtype)).collect()
    }

    /// Appends the questions whose answers are [`records_under`](Self::records_under) `h`.
    pub fn part_queries(&self, h: &Name, out: &mut Vec<(Name, RecordType)>) {
        let Some(service) = self.owner(h) else { return };
        let mut queries: Vec<(Name, RecordType)> = Vec::new();
        let address_types = |targets: &Targets| match targets {
            Targets::Name(_) => vec![RecordType::CNAME],
            _ => vec![RecordType::A, RecordType::AAAA],
        };
        for qtype in address_types(&service.targets) {
            queries.push((h.clone(), qtype));
        }
        queries.push((h.clone(), RecordType::SRV));
        for (label, targets) in service.hosts() {
            let Some(name) = below(label, h) else { continue };
            for qtype in address_types(targets) {
                queries.push((name.clone(), qtype));
            }
        }
        for label in service.pending_labels() {
            if let Some(name) = below(&label, h) {
                queries.push((name, RecordType::TXT));
            }
        }
        for (port, proto) in self.srv_names(service) {
            if let Some(name) = below(&format!("_{port}._{proto}"), h) {
                queries.push((name, RecordType::SRV));
            }
        }
        // A name an older Service claims is its records', listed under its own name.
        out.extend(queries.into_iter().filter(|(name, _)| {
            self.node(&name.to_lowercase()).service().is_none_or(|s| s.key == service.key)
        }));
    }

    /// The name a claims key stands for.
    pub(super) fn name_of(&self, key: &NameKey) -> Name {
        let mut labels: Vec<&[u8]> = key.split(|b| *b == 0).filter(|l| !l.is_empty()).collect();
        labels.reverse();
        Name::from_labels(labels)
            .and_then(|n| n.append_domain(&self.settings.apex))
            .unwrap_or_else(|_| self.settings.apex.clone())
    }

    /// The `(port, protocol)` labels of `service`'s SRV names.
    fn srv_names<'a>(&self, service: &'a ExternalService) -> Vec<(&'a str, &'a str)> {
        let mut ports = match &service.cluster {
            Some(_) => service
                .srv_ports()
                .into_iter()
                .filter_map(|(name, proto, _)| Some((name?, proto)))
                .collect::<Vec<_>>(),
            None => service.ports().iter().map(|p| (&*p.name, p.protocol)).collect(),
        };
        ports.sort();
        ports.dedup();
        ports
    }
}

/// `label.h`, if it is a valid name.
fn below(label: &str, h: &Name) -> Option<Name> {
    Name::from_ascii(label).and_then(|l| l.append_domain(h)).ok()
}
