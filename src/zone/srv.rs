//! SRV answers: the RRset of one named port (`_<port>._<proto>.<svc>.<ns>.svc.<zone>`)
//! and the bare RRset on the service name itself (`<svc>.<ns>.svc.<zone>`).
//!
//! The bare RRset is what peer discovery asks for: `dig SRV kubia.default.svc.cluster.local`,
//! or Node's `dns.resolveSrv` in Kubernetes in Action's StatefulSet chapter. kube-dns and
//! CoreDNS answer it (CoreDNS treats a missing `_port._proto` as matching every port and
//! protocol), so it lists every port of every ready endpoint, named or not.
//!
//! Nothing is stored for it: the zone already keeps each port's targets, and the bare
//! set is derived from them at lookup time (the UDP fast path caches the encoded answer).

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Answer, ServiceRecords, Zone, address_records};
use crate::cluster::ObjectKey;
use crate::cluster::SharedStr;

impl ServiceRecords {
    /// The targets of the bare SRV RRset on the service name: `(endpoint label, endpoint
    /// port)` over every service port, named or not, whatever its protocol; sorted, each
    /// pair once. An endpoint serving two service ports on one number gets one record, as
    /// in CoreDNS (which drops SRV records with the same target and port). Empty when the
    /// service has no ports, or no ready endpoint serves any: the name then answers NODATA.
    pub fn bare_srv_targets(&self) -> Vec<(&SharedStr, u16)> {
        let mut targets: Vec<(&SharedStr, u16)> = self.srv.iter().flat_map(|p| p.targets(self)).collect();
        targets.sort();
        targets.dedup();
        targets
    }
}

impl Zone {
    /// Adds an SRV RRset at `owner` to `answer`: priority 0, weight `floor(100 / N)` (at
    /// least 1) over its N records, and each target's addresses in the additional section,
    /// once per target (`targets` must keep a target's records together, as sorted lists
    /// do). Generic over what a target is, so that any kind of service can use it:
    /// `target_name` names a target, `glue` gives the addresses of a named target. A
    /// headless service's targets are its endpoint labels ([`Self::endpoint_srv_rrset`]);
    /// a ClusterIP service's are `((), service port)` per port, named
    /// `<svc>.<ns>.svc.<zone>.`, with its cluster IPs as glue (`cluster_ip_srv_rrset`).
    pub(crate) fn srv_rrset<T: Copy + PartialEq>(
        &self,
        answer: &mut Answer,
        owner: &Name,
        targets: &[(T, u16)],
        target_name: impl Fn(T) -> Name,
        glue: impl Fn(T, Name) -> Vec<Record>,
    ) {
        if targets.is_empty() {
            return;
        }
        let ttl = self.settings.ttl;
        let weight = u16::try_from((100 / targets.len()).max(1)).unwrap_or(1);
        let mut previous: Option<T> = None;
        for &(target, port) in targets {
            let name = target_name(target);
            answer.answers.push(Record::from_rdata(
                owner.clone(),
                ttl,
                RData::SRV(SRV::new(0, weight, port, name.clone())),
            ));
            if previous != Some(target) {
                previous = Some(target);
                answer.additionals.extend(glue(target, name));
            }
        }
    }

    /// The SRV RRset of a headless service's endpoints on the given `(label, port)`
    /// targets: targets `<label>.<svc>.<ns>.svc.<zone>.`, their A/AAAA as glue.
    pub(crate) fn endpoint_srv_rrset(
        &self,
        answer: &mut Answer,
        owner: &Name,
        key: &ObjectKey,
        records: &ServiceRecords,
        targets: &[(&SharedStr, u16)],
    ) {
        let ttl = self.settings.ttl;
        self.srv_rrset(
            answer,
            owner,
            targets,
            |label| self.endpoint_name(key, label),
            |label, name| {
                address_records(name, ttl, RecordType::ANY, records.labelled(label).iter().map(|e| e.ip()))
            },
        );
    }
}
