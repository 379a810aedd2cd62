//! Names as people type them: an address (its PTR is explained), and a short name that a
//! pod's resolver completes with the Kubernetes search path (`<its namespace>.svc.<zone>`,
//! `svc.<zone>`, `<zone>`), such as `web-0.nginx` or `web-0.nginx.default`.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::{Explanation, explain_name};
use crate::cluster::ClusterState;
use crate::zone::Zones;

/// `10.244.2.11` or `fd00::1`: the PTR of its reverse name.
pub(super) fn explain_address(state: &ClusterState, zones: &Zones, input: &str) -> Option<Explanation> {
    let ip: IpAddr = input.parse().ok()?;
    let reverse = Name::from(ip);
    let mut out = explain_name(state, zones, &reverse.to_ascii(), RecordType::PTR);
    out.reasons
        .insert(0, format!("{ip} is an address: this explains the PTR record of its reverse name {reverse}"));
    Some(out)
}

/// A name without a trailing dot that is in none of the zones served here as written:
/// which search-path expansions exist, then the explanation of the first one. `None`
/// when the name is not such a short name (or the zone is not synced: nothing exists yet).
pub(super) fn explain_short_name(
    state: &ClusterState,
    zones: &Zones,
    input: &str,
    qtype: RecordType,
) -> Option<Explanation> {
    if input.ends_with('.') || !zones.is_synced() {
        return None;
    }
    let name = Name::from_ascii(format!("{input}.")).ok()?;
    if zones.serves(&name) {
        return None;
    }
    let origin = zones.cluster().settings().origin.to_ascii();
    // In a pod's search order: its own namespace first (tried for each namespace here).
    let mut expansions: Vec<(String, Option<&str>)> =
        state.namespaces().map(|(ns, _)| (format!("{input}.{ns}.svc.{origin}"), Some(&**ns))).collect();
    expansions.push((format!("{input}.svc.{origin}"), None));
    expansions.push((format!("{input}.{origin}"), None));
    let existing: Vec<(String, Option<&str>, usize)> = expansions
        .into_iter()
        .filter_map(|(expanded, ns)| {
            let answer = zones.lookup(&Name::from_ascii(&expanded).ok()?, qtype, DNSClass::IN);
            (answer.rcode == ResponseCode::NoError).then_some((expanded, ns, answer.answers.len()))
        })
        .collect();
    let search =
        format!("{input}.<its namespace>.svc.{origin}, then {input}.svc.{origin}, then {input}.{origin}");
    let Some((first, ..)) = existing.first() else {
        let mut out = explain_name(state, zones, input, qtype);
        out.reasons.push(format!(
            "{input} is not fully qualified, and none of the names a pod's search path makes of it exists \
             ({search}), in any namespace"
        ));
        return Some(out);
    };
    let mut out = explain_name(state, zones, first, qtype);
    let mut lead = vec![format!(
        "{input} is not fully qualified: a pod's resolver (ndots:5) tries it with its search path first: {search}"
    )];
    let in_namespaces = existing.iter().any(|(_, ns, _)| ns.is_some());
    for (expanded, ns, count) in &existing {
        let from = match ns {
            Some(ns) => format!("from a pod in namespace {ns}"),
            None if in_namespaces => "from a pod in any other namespace".to_owned(),
            None => "from a pod in any namespace".to_owned(),
        };
        let result = match count {
            0 => format!("which exists without {qtype} records (NODATA)"),
            n => format!("which answers {n} {qtype} record(s)"),
        };
        lead.push(format!("{from} it becomes {expanded}, {result}"));
    }
    if existing.len() > 1 {
        lead.push(format!("explained below: {first}"));
    }
    out.reasons.splice(0..0, lead);
    Some(out)
}
