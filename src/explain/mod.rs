//! Explain: why a name resolves as it does, in plain sentences.
//!
//! Pure: reads a cluster state and the zones built from it. It first asks the zones for
//! the real answer (so the explanation can never disagree with what the server says),
//! then walks the objects behind the name: the service, the pods it selects, their
//! readiness, hostnames and ports, and the StatefulSets that own identities under it.
//!
//! By concern: `service` (namespaces, headless services, one sentence per pod),
//! `service_types` (ClusterIP and ExternalName services), `slices` (selectorless services
//! and their EndpointSlices), `endpoint` (`<label>.<svc>` and StatefulSet identities),
//! `srv` (named-port and bare SRV RRsets), `pod_records` (`a-b-c-d.<ns>.pod.<zone>`),
//! `reverse` (PTR), `nodata` (why a name has no record of the asked type) and `search`
//! (short names a pod's search path expands, and bare addresses); `multicluster` the
//! multicluster zone's names (which import, which cluster); `external` the external
//! zones' names (which Service, which targets, why pending); `serial` the SOA serial;
//! `rejected` the newest versions validation refused.

mod endpoint;
mod external;
mod multicluster;
mod nodata;
mod pod_records;
mod pod_sentence;
mod rejected;
mod reverse;
mod search;
mod serial;
mod service;
mod service_types;
mod slices;
mod srv;

use std::fmt::Write as _;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::cluster::ClusterState;
use crate::zone::{Zone, Zones};

/// The answer to "why does NAME resolve like this?".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    /// The name asked about, fully qualified.
    pub name: String,
    /// The record type asked about.
    pub qtype: String,
    /// The response code the server gives.
    pub rcode: String,
    /// The answer records, in zone-file presentation.
    pub answers: Vec<String>,
    /// Why, one sentence each.
    pub reasons: Vec<String>,
}

impl Explanation {
    /// The explanation as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!("{} {}: {}\n", self.name, self.qtype, self.rcode);
        for a in &self.answers {
            let _ = writeln!(out, "  {a}");
        }
        for r in &self.reasons {
            let _ = writeln!(out, "- {r}");
        }
        out
    }
}

/// Explains `name`/`qtype` against `state` and the `zones` built from it.
///
/// `name` may also be an address (`10.244.2.11`: its PTR is explained) or a short name
/// as a pod would write it (`web-0.nginx`: the search-path expansions that exist).
pub fn explain(state: &ClusterState, zones: &Zones, name: &str, qtype: RecordType) -> Explanation {
    let input = name.trim();
    if let Some(explained) = search::explain_address(state, zones, input) {
        return explained;
    }
    if let Some(explained) = search::explain_short_name(state, zones, input, qtype) {
        return explained;
    }
    explain_name(state, zones, input, qtype)
}

/// Explains one name exactly as written (made fully qualified).
fn explain_name(state: &ClusterState, zones: &Zones, name: &str, qtype: RecordType) -> Explanation {
    let zone = zones.cluster();
    let mut fqdn = name.to_owned();
    if !fqdn.ends_with('.') {
        fqdn.push('.');
    }
    let mut out = Explanation {
        name: fqdn.clone(),
        qtype: qtype.to_string(),
        rcode: String::new(),
        answers: vec![],
        reasons: vec![],
    };
    let Ok(qname) = Name::from_ascii(&fqdn) else {
        out.rcode = "FORMERR".into();
        out.reasons.push(format!("{name:?} is not a valid domain name"));
        return out;
    };
    let answer = zones.lookup(&qname, qtype, DNSClass::IN);
    out.rcode = rcode_name(answer.rcode).to_owned();
    out.answers = answer
        .answers
        .iter()
        .map(|r| format!("{} {} IN {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect();
    let reasons = &mut out.reasons;
    let lower = qname.to_lowercase();
    let origin = &zone.settings().origin;
    let reverse = ["in-addr.arpa.", "ip6.arpa."]
        .iter()
        .any(|apex| Name::from_ascii(apex).is_ok_and(|apex| apex.zone_of(&lower)));
    if let Some(external) = zones.external().iter().find(|z| z.serves(&lower)) {
        external::explain(state, external, &lower, reasons);
        if out.rcode == "NOERROR" && out.answers.is_empty() {
            nodata::explain(zones, &qname, qtype, &answer, &mut out.reasons);
        }
        return out;
    }
    if let Some(multicluster) = zones.multicluster().filter(|c| c.settings().origin.zone_of(&lower)) {
        let depth = usize::from(lower.num_labels() - multicluster.settings().origin.num_labels());
        let mut labels: Vec<String> =
            lower.iter().take(depth).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        labels.reverse();
        multicluster::explain(state, zones, &labels, reasons);
        if out.rcode == "NOERROR" && out.answers.is_empty() {
            nodata::explain(zones, &qname, qtype, &answer, &mut out.reasons);
        }
        return out;
    }
    if !origin.zone_of(&lower) && !reverse {
        let mut others: String =
            zones.multicluster().map(|c| format!("{}, ", c.settings().origin)).unwrap_or_default();
        for zone in zones.external() {
            others.push_str(&format!("{}, ", zone.apex()));
        }
        reasons.push(format!(
            "{fqdn} is outside the zones served here ({origin}, {others}in-addr.arpa., ip6.arpa.), so the \
             answer is REFUSED"
        ));
        for key in external::asked_by(state, &lower) {
            reasons.push(format!(
                "{key} has it in its external-dns hostname annotation, but it is in no external zone \
                 (--external-zone), so it is not published"
            ));
            external::problems(state, &key, reasons);
        }
        // A pod's name under a Service's hostname (`kafka-0.kafka.example.com`).
        let parent = lower.base_name();
        for key in external::asked_by(state, &parent) {
            reasons.push(format!(
                "{key} has {} in its external-dns hostname annotation, under which this would be the name \
                 of one of its pods, but no external zone (--external-zone) holds it, so nothing under it is \
                 published",
                parent.to_string().trim_end_matches('.')
            ));
        }
        return out;
    }
    if !zone.is_synced() {
        reasons.push(
            "the server has not completed its first sync with the cluster: it answers SERVFAIL until then, \
             so that no resolver caches a false NXDOMAIN"
                .into(),
        );
        return out;
    }
    if reverse {
        match lower.parse_arpa_name() {
            Ok(net) => reverse::explain(state, zone, net.addr(), net.prefix_len(), reasons),
            Err(_) => reasons.push(format!("{fqdn} is not a valid reverse name for an address")),
        }
        if let Some(multicluster) = zones.multicluster()
            && answer.answers.iter().any(|r| match &r.data {
                hickory_proto::rr::RData::PTR(ptr) => multicluster.settings().origin.zone_of(&ptr.0),
                _ => false,
            })
        {
            reasons.push(format!(
                "no cluster-local PTR exists for this address, so the {} name of the endpoint is given \
                 (KEP-1645: a clusterset PTR only where no cluster-local one exists)",
                multicluster.settings().origin
            ));
        }
    } else {
        let depth = usize::from(lower.num_labels() - origin.num_labels());
        let mut labels: Vec<String> =
            lower.iter().take(depth).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        labels.reverse(); // from the zone outwards: svc, ns, service, label, port
        match labels.as_slice() {
            [] => {
                reasons.push(format!("{origin} is the zone apex: SOA and NS records"));
                reasons.extend(serial::explain(zone));
            }
            [v] if v == "dns-version" => {
                reasons.push("the Kubernetes DNS schema version (TXT \"1.1.0\")".into())
            }
            [v] if v == "svc" => reasons.push("svc.<zone> exists (an empty non-terminal): NODATA".into()),
            [svc, ns] if svc == "svc" => service::explain_namespace(state, ns, reasons),
            [pod, below @ ..] if pod == "pod" => pod_records::explain_pod_record(state, zone, below, reasons),
            [svc, ns, service, rest @ ..] if svc == "svc" && rest.len() <= 2 => {
                service::explain_service_name(state, zone, ns, service, rest, qtype, reasons);
                let label = rest.first().filter(|l| !l.starts_with('_')).map(String::as_str);
                rejected::explain(state, ns, service, label, reasons);
            }
            _ => reasons.push(format!(
                "{fqdn} does not have the shape of a Kubernetes DNS name (<svc>.<ns>.svc.{origin}, \
                 <pod>.<svc>.<ns>.svc.{origin}, _<port>._<proto>.<svc>.<ns>.svc.{origin} or \
                 <a-b-c-d>.<ns>.pod.{origin}); \
                 if a search path appended a suffix, the first name tried is the one that exists"
            )),
        }
    }
    if out.rcode == "NOERROR" && out.answers.is_empty() {
        nodata::explain(zones, &qname, qtype, &answer, &mut out.reasons);
    }
    if out.rcode == "NXDOMAIN" && !reverse {
        let closest = closest_names(zone, &lower.to_string());
        if !closest.is_empty() {
            out.reasons.push(format!("closest existing names: {}", closest.join(", ")));
        }
    }
    out
}

/// The mnemonic dig prints (`NOERROR`, `NXDOMAIN`, ...).
pub fn rcode_name(rcode: hickory_proto::op::ResponseCode) -> &'static str {
    use hickory_proto::op::ResponseCode as R;
    match rcode {
        R::NoError => "NOERROR",
        R::NXDomain => "NXDOMAIN",
        R::ServFail => "SERVFAIL",
        R::Refused => "REFUSED",
        R::FormErr => "FORMERR",
        R::NotImp => "NOTIMP",
        _ => "OTHER",
    }
}

/// Up to three names that exist closest to `name` (edit distance), for typos: never
/// `name` itself, nor a headless service without ready endpoints (its name does not exist).
fn closest_names(zone: &Zone, name: &str) -> Vec<String> {
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (key, records) in zone.services() {
        let mut names = Vec::new();
        if records.service_type.is_some() || !records.endpoints.is_empty() {
            names.push(zone.service_name(&key).to_string());
        }
        names.extend(records.endpoints.iter().map(|e| zone.endpoint_name(&key, &e.label).to_string()));
        for n in names.into_iter().filter(|n| !n.eq_ignore_ascii_case(name)) {
            let d = edit_distance(name, &n);
            if d <= name.len() / 3 + 2 {
                candidates.push((d, n));
            }
        }
    }
    candidates.sort();
    candidates.dedup_by(|a, b| a.1 == b.1);
    candidates.into_iter().take(3).map(|(_, n)| n).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The state and synced zones of a manifest.
    pub(crate) fn load(yaml: &str) -> (ClusterState, Zones) {
        let zones =
            crate::zone::tests::zones_with(crate::zone::ZoneSettings::new("cluster.local").unwrap(), yaml);
        (crate::cluster::testing::state(yaml), zones)
    }

    #[test]
    fn a_starting_pod_is_explained_with_its_phase() {
        let (state, zone) = load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: ns}\n\
             spec: {clusterIP: None, selector: {app: db}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: ns, labels: {app: db}}\n\
             spec: {hostname: db-0, subdomain: db}\nstatus: {phase: Pending}\n",
        );
        let e = explain(&state, &zone, "db-0.db.ns.svc.cluster.local", RecordType::A);
        assert!(
            e.reasons
                .iter()
                .any(|r| r.starts_with("pod db-0 has no IP yet (the pod is starting, phase Pending:")),
            "{:?}",
            e.reasons
        );
    }

    #[test]
    fn a_pod_in_a_terminal_phase_is_explained_with_its_phase() {
        let (state, zone) = load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: ns}\n\
             spec: {clusterIP: None, publishNotReadyAddresses: true, selector: {app: db}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: db-0, namespace: ns, labels: {app: db}}\n\
             spec: {hostname: db-0, subdomain: db}\nstatus: {phase: Failed, podIP: 10.0.0.1}\n",
        );
        let e = explain(&state, &zone, "db-0.db.ns.svc.cluster.local", RecordType::A);
        assert_eq!(e.rcode, "NOERROR");
        assert!(
            e.reasons.iter().any(|r| r.contains("pod db-0 (10.0.0.1) is in the terminal phase Failed")
                && r.contains("even with publishNotReadyAddresses")),
            "{:?}",
            e.reasons
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("web-0", "web-1"), 1);
        assert_eq!(edit_distance("nginx", "ngin"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
