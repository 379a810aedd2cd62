//! Pending identities: names the zone answers NODATA for, never NXDOMAIN, while they have
//! no ready address: a StatefulSet's ordinals in range without a ready pod, and a
//! selected pod's hostname while the pod is not ready.
//!
//! Each owns one TXT record saying why it is pending. A name that owns no record does not
//! travel in a zone transfer, so without it a secondary (Knot, NSD, BIND) would answer
//! NXDOMAIN for exactly the names this server exists to keep: the TXT makes the name exist
//! in every copy of the zone, and every server that has the zone gives the same rcode and
//! the same answer. Its TTL is `--pending-ttl`, like the NODATA of the name's addresses.

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record};

use super::{Identities, ServiceRecords, Zone, ZoneKind};
use crate::cluster::SharedStr;

/// Why a name is pending: the TXT record's text says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending<'a> {
    /// An ordinal of a StatefulSet governed by the service, without a ready pod.
    Ordinal {
        /// The StatefulSet.
        statefulset: &'a str,
        /// The identity's ordinal.
        ordinal: u64,
    },
    /// A pod the service selects, named by its hostname, that is not ready.
    NotReady,
}

impl Pending<'_> {
    /// The TXT record's text.
    pub fn text(&self) -> String {
        match self {
            Pending::Ordinal { statefulset, ordinal } => {
                format!("pending: ordinal {ordinal} of StatefulSet {statefulset} has no ready pod")
            }
            Pending::NotReady => "pending: the pod with this hostname is not ready".to_owned(),
        }
    }
}

impl Identities {
    /// True when `label` is `<statefulset>-<ordinal>` with the ordinal in range.
    pub fn owns(&self, label: &str) -> bool {
        self.ordinal(label).is_some()
    }

    /// The ordinal `label` names, when it is one of this StatefulSet's in range.
    pub fn ordinal(&self, label: &str) -> Option<u64> {
        let ordinal = label.strip_prefix(&*self.statefulset)?.strip_prefix('-')?;
        // Reject "web-01" and "web-+1": Kubernetes never creates those names.
        if ordinal.is_empty() || (ordinal.len() > 1 && ordinal.starts_with('0')) {
            return None;
        }
        if !ordinal.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let ordinal = ordinal.parse::<u64>().ok()?;
        let range = u64::from(self.start)..u64::from(self.start) + u64::from(self.replicas);
        range.contains(&ordinal).then_some(ordinal)
    }

    /// The labels of every identity in range, in ordinal order.
    pub fn labels(&self) -> impl Iterator<Item = String> + '_ {
        let range = u64::from(self.start)..u64::from(self.start) + u64::from(self.replicas);
        range.map(|ordinal| format!("{}-{ordinal}", self.statefulset))
    }
}

impl ServiceRecords {
    /// True when `label` is a known identity (a StatefulSet ordinal in range, or a
    /// selected not-ready pod's hostname) that has no ready address right now.
    pub fn is_pending(&self, label: &str) -> bool {
        self.pending(label).is_some()
    }

    /// Why `label` is pending, when it is a known identity (a StatefulSet ordinal in
    /// range, or a selected not-ready pod's hostname) with no ready address right now.
    pub fn pending(&self, label: &str) -> Option<Pending<'_>> {
        if !self.labelled(label).is_empty() {
            return None;
        }
        let ordinal = self.identities.iter().find_map(|i| Some((&*i.statefulset, i.ordinal(label)?)));
        match ordinal {
            Some((statefulset, ordinal)) => Some(Pending::Ordinal { statefulset, ordinal }),
            None => self.pending_pods.contains(label).then_some(Pending::NotReady),
        }
    }

    /// Every pending label, each once, sorted: the selected not-ready pods' hostnames and
    /// the ordinals in range without a ready address. In the multicluster zone the
    /// identities are the local cluster's, their labels `<sts>-<i>.<cluster>`.
    pub fn pending_labels(&self, local_cluster: Option<&str>) -> Vec<SharedStr> {
        let mut labels: Vec<SharedStr> = self.pending_pods.iter().cloned().collect();
        let qualified = |label: String| match local_cluster {
            Some(cluster) => format!("{label}.{cluster}"),
            None => label,
        };
        for identities in self.identities.iter() {
            labels.extend(identities.labels().map(qualified).map(SharedStr::from));
        }
        labels.sort();
        labels.dedup();
        labels.retain(|label| self.labelled(label).is_empty());
        labels
    }
}

impl Zone {
    /// Why `label` (a label of service `records`; `<host>.<cluster>` in the multicluster
    /// zone) is pending, if it is.
    pub(super) fn pending<'a>(&self, records: &'a ServiceRecords, label: &str) -> Option<Pending<'a>> {
        if self.kind != ZoneKind::Multicluster {
            return records.pending(label);
        }
        if !records.labelled(label).is_empty() {
            return None;
        }
        if records.pending_pods.contains(label) {
            return Some(Pending::NotReady);
        }
        // The local cluster's StatefulSets, under its id.
        let (host, cluster) = label.split_once('.')?;
        if self.local_cluster.as_deref() != Some(cluster) {
            return None;
        }
        records
            .identities
            .iter()
            .find_map(|i| Some(Pending::Ordinal { statefulset: &i.statefulset, ordinal: i.ordinal(host)? }))
    }

    /// The pending labels of `records` in this zone (see [`ServiceRecords::pending_labels`]).
    pub fn pending_labels(&self, records: &ServiceRecords) -> Vec<SharedStr> {
        match self.kind {
            ZoneKind::Multicluster => records.pending_labels(self.local_cluster.as_deref()),
            _ => records.pending_labels(None),
        }
    }

    /// The TXT record of a pending name.
    pub(super) fn pending_record(&self, owner: Name, pending: &Pending<'_>) -> Record {
        let txt = TXT::new(vec![pending.text()]);
        Record::from_rdata(owner, self.settings.pending_ttl, RData::TXT(txt))
    }
}
