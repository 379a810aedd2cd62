//! Pod records, as CoreDNS's `pods` option: `a-b-c-d.<ns>.pod.<zone>` (an IPv6 address
//! dashed the same way, `fd00--1`) answers that address.
//!
//! `verified` (the default) answers only when a pod of that namespace has the address and
//! is not in a terminal phase (its address may already belong to another pod); we watch
//! pods anyway, so the check is a lookup in the pods-by-address sets the cluster state
//! keeps. `insecure` answers any well-formed name, `disabled` none. `pod.<zone>` and
//! `<ns>.pod.<zone>` are empty non-terminals whenever pod records are on, so a resolver
//! minimising its queries (RFC 9156) never meets an NXDOMAIN above an existing name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Answer, Node, Zone};
use crate::cluster::{ClusterState, PodIps};

/// Which pod records are answered (CoreDNS's `pods` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodRecords {
    /// None: every name under `pod.<zone>` is NXDOMAIN.
    Disabled,
    /// Any well-formed name answers its address, whether a pod has it or not.
    Insecure,
    /// Only an address a pod of that namespace has (and not in a terminal phase).
    #[default]
    Verified,
}

impl PodRecords {
    /// Every mode.
    pub const ALL: [PodRecords; 3] = [PodRecords::Disabled, PodRecords::Insecure, PodRecords::Verified];

    /// Its name (`--pods`, the config file).
    pub fn name(self) -> &'static str {
        match self {
            PodRecords::Disabled => "disabled",
            PodRecords::Insecure => "insecure",
            PodRecords::Verified => "verified",
        }
    }
}

/// The address a pod record's first label spells, as CoreDNS reads it: three dashes and
/// no `--` is IPv4 (`10-1-2-3`), anything else IPv6 with `-` for `:` (`fd00--1`).
pub fn pod_record_ip(label: &str) -> Option<IpAddr> {
    if label.bytes().filter(|b| *b == b'-').count() == 3 && !label.contains("--") {
        label.replace('-', ".").parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        label.replace('-', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    }
}

impl Zone {
    /// Takes the cluster state's pods by address (an O(1) clone). Returns whether the pod
    /// records can have changed (only verified ones depend on the pods); the caller moves
    /// the serial.
    pub fn sync_pods(&mut self, state: &ClusterState) -> bool {
        if self.settings.pods != PodRecords::Verified {
            return false;
        }
        self.pod_ips = state.pod_ips().cloned();
        true
    }

    /// The node of `pod.<zone>` or a name below it; `below` are the labels under `pod`,
    /// from the zone outwards (`[ns]`, `[ns, a-b-c-d]`).
    pub(super) fn pod_node(&self, below: &[&str]) -> Node<'_> {
        if self.settings.pods == PodRecords::Disabled {
            return Node::NotFound;
        }
        match below {
            [] | [_] => Node::EmptyNonTerminal,
            [namespace, label] => match pod_record_ip(label) {
                Some(ip) if self.pod_record_exists(namespace, ip) => Node::PodRecord(ip),
                _ => Node::NotFound,
            },
            _ => Node::NotFound,
        }
    }

    /// Whether `a-b-c-d.<namespace>.pod.<zone>` answers `ip` under the configured mode.
    pub fn pod_record_exists(&self, namespace: &str, ip: IpAddr) -> bool {
        match self.settings.pods {
            PodRecords::Disabled => false,
            PodRecords::Insecure => true,
            PodRecords::Verified => self.pod_ips.as_ref().is_some_and(|index| {
                index.pods_with(ip).iter().any(|p| *p.key.namespace == *namespace && !p.phase.is_terminal())
            }),
        }
    }

    /// A pod record's address, if the question asks for its family.
    pub(super) fn answer_pod_record(&self, answer: &mut Answer, qname: &Name, qtype: RecordType, ip: IpAddr) {
        let rdata = match ip {
            IpAddr::V4(v4) if matches!(qtype, RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            IpAddr::V6(v6) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => return,
        };
        answer.answers.push(Record::from_rdata(qname.clone(), self.settings.ttl, rdata));
    }

    /// The question whose answer is the pod record of `ip` in `namespace`.
    pub(crate) fn pod_record_query(&self, namespace: &str, ip: IpAddr) -> (Name, RecordType) {
        let name = self.name_of(&[&super::records::dashed_ip(ip), namespace, "pod"]);
        (name, if ip.is_ipv4() { RecordType::A } else { RecordType::AAAA })
    }

    /// The pods by address whose records are listed in zone files: the verified ones. None
    /// in the other modes (insecure answers an unbounded set; disabled none).
    fn listed_pod_ips(&self) -> Option<&PodIps> {
        self.pod_ips.as_ref().filter(|_| self.settings.pods == PodRecords::Verified)
    }

    /// Where the zone file's chunks of pod records start: every [`POD_RECORD_CHUNK`]th
    /// address, never inside one address's pods. A zone transfer turns one chunk into
    /// questions at a time, so 100k pod records never exist as one list of names.
    pub(super) fn pod_record_chunks(&self) -> Vec<IpAddr> {
        let Some(index) = self.listed_pod_ips() else { return Vec::new() };
        let mut starts: Vec<IpAddr> = Vec::new();
        let (mut in_chunk, mut previous) = (0usize, None);
        for (ip, _) in index.iter() {
            if previous != Some(ip) && (starts.is_empty() || in_chunk >= POD_RECORD_CHUNK) {
                starts.push(ip);
                in_chunk = 0;
            }
            in_chunk += 1;
            previous = Some(ip);
        }
        starts
    }

    /// The questions of the pod records from address `from` up to, not including, `to`
    /// (`None`: to the end): a pod record per address and namespace, in address order.
    pub(super) fn pod_record_queries(&self, from: IpAddr, to: Option<IpAddr>) -> Vec<(Name, RecordType)> {
        let Some(index) = self.listed_pod_ips() else { return Vec::new() };
        let mut names: Vec<(Name, RecordType)> = index
            .iter_from(from)
            .take_while(|(ip, _)| to.is_none_or(|to| *ip < to))
            .filter(|(_, pod)| !pod.phase.is_terminal())
            .map(|(ip, pod)| self.pod_record_query(&pod.key.namespace, ip))
            .collect();
        names.dedup();
        names
    }
}

/// At most this many pods' records in one zone-file part (a few hundred KiB of names).
const POD_RECORD_CHUNK: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_record_labels_read_as_coredns_reads_them() {
        assert_eq!(pod_record_ip("10-1-2-3"), Some("10.1.2.3".parse().unwrap()));
        assert_eq!(pod_record_ip("fd00--1"), Some("fd00::1".parse().unwrap()));
        assert_eq!(pod_record_ip("fd00-10-244-1--20"), Some("fd00:10:244:1::20".parse().unwrap()));
        for bad in ["10-1-2", "10-1-2-3-4", "10-1-2-300", "web-0", "", "1---2", "-"] {
            assert_eq!(pod_record_ip(bad), None, "{bad}");
        }
    }
}
