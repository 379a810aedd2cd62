//! Explain: why a name resolves as it does, in plain sentences.
//!
//! Pure: reads a cluster state and the zone built from it. It first asks the zone for
//! the real answer (so the explanation can never disagree with what the server says),
//! then walks the objects behind the name: the service, the pods it selects, their
//! readiness, hostnames and ports, and the StatefulSets that own identities under it.

use std::fmt::Write as _;
use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::cluster::{ClusterState, Namespace, Pod, Service};
use crate::zone::Zone;
use crate::zone::build::{dashed_ip, endpoint_hostname, endpoint_label, endpoint_port, is_ready};

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

/// Explains `name`/`qtype` against `state` and the `zone` built from it.
pub fn explain(state: &ClusterState, zone: &Zone, name: &str, qtype: RecordType) -> Explanation {
    let mut fqdn = name.trim().to_owned();
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
    let answer = zone.lookup(&qname, qtype, DNSClass::IN);
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
    if !origin.zone_of(&lower) && !reverse {
        reasons.push(format!(
            "{fqdn} is outside the zones served here ({origin}, in-addr.arpa., ip6.arpa.), so the answer is REFUSED"
        ));
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
            Ok(net) => explain_reverse(state, zone, net.addr(), net.prefix_len(), reasons),
            Err(_) => reasons.push(format!("{fqdn} is not a valid reverse name for an address")),
        }
        return out;
    }
    let depth = usize::from(lower.num_labels() - origin.num_labels());
    let mut labels: Vec<String> =
        lower.iter().take(depth).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
    labels.reverse(); // from the zone outwards: svc, ns, service, label, port
    match labels.as_slice() {
        [] => {
            reasons.push(format!("{origin} is the zone apex: SOA and NS records"));
            reasons.extend(crate::xfer::serial::explain(zone));
        }
        [v] if v == "dns-version" => reasons.push("the Kubernetes DNS schema version (TXT \"1.1.0\")".into()),
        [v] if v == "svc" => reasons.push("svc.<zone> exists (an empty non-terminal): NODATA".into()),
        [svc, ns] if svc == "svc" => explain_namespace(state, ns, reasons),
        [svc, ns, service, rest @ ..] if svc == "svc" && rest.len() <= 2 => {
            explain_service_name(state, zone, ns, service, rest, reasons)
        }
        _ => reasons.push(format!(
            "{fqdn} does not have the shape of a Kubernetes DNS name (<svc>.<ns>.svc.{origin}, \
             <pod>.<svc>.<ns>.svc.{origin} or _<port>._<proto>.<svc>.<ns>.svc.{origin}); \
             if a search path appended a suffix, the first name tried is the one that exists"
        )),
    }
    if out.rcode == "NXDOMAIN" {
        let closest = closest_names(state, zone, &lower.to_string());
        if !closest.is_empty() {
            out.reasons.push(format!("closest existing names: {}", closest.join(", ")));
        }
    }
    out
}

fn explain_namespace(state: &ClusterState, ns: &str, reasons: &mut Vec<String>) {
    match state.namespace(ns) {
        Some(n) if n.services.values().any(|s| s.headless && s.selector.is_some()) => reasons
            .push(format!("namespace {ns} has headless services: the name exists without records (NODATA)")),
        Some(_) => reasons.push(format!(
            "namespace {ns} has no headless service with a selector, so nothing is served in it"
        )),
        None => reasons.push(format!("no object is known in namespace {ns}")),
    }
}

fn explain_service_name(
    state: &ClusterState,
    zone: &Zone,
    ns_name: &str,
    service_name: &str,
    rest: &[String],
    reasons: &mut Vec<String>,
) {
    let Some(ns) = state.namespace(ns_name) else {
        reasons.push(format!("no object is known in namespace {ns_name}"));
        return;
    };
    let Some(service) = ns.services.get(service_name) else {
        reasons.push(format!("there is no service {service_name} in namespace {ns_name}"));
        if let Some(sts) = ns.statefulsets.values().find(|s| *s.service_name == *service_name) {
            reasons.push(format!(
                "StatefulSet {} names {service_name} as its serviceName, but that service does not exist: \
                 create a headless Service {service_name} (clusterIP: None) for its pods to get DNS names",
                sts.key.name
            ));
        }
        return;
    };
    if !service.headless {
        reasons.push(format!(
            "service {ns_name}/{service_name} is not headless (it has a cluster IP): headless-dns serves only \
             headless services (clusterIP: None); its ClusterIP name is served by the cluster DNS"
        ));
        return;
    }
    if service.selector.is_none() {
        reasons.push(format!(
            "service {ns_name}/{service_name} has no selector: its endpoints are managed by hand, which \
             headless-dns does not watch"
        ));
        return;
    }
    let pods = selected_pods(ns, service);
    match rest {
        [] => {
            reasons.push(format!("headless service {ns_name}/{service_name} selects {} pod(s)", pods.len()));
            if service.publish_not_ready {
                reasons.push("the service publishes not-ready addresses (publishNotReadyAddresses or the tolerate-unready annotation)".into());
            }
            for pod in &pods {
                reasons.push(pod_sentence(service, pod));
            }
            if zone.service(ns_name, service_name).is_none_or(|r| r.endpoints.is_empty()) {
                reasons.push("with no ready endpoint the service name does not exist (NXDOMAIN), as the Kubernetes DNS spec says".into());
            }
        }
        [label] if !label.starts_with('_') => explain_endpoint(zone, ns, service, &pods, label, reasons),
        [proto] => {
            reasons.push(format!("{proto} groups the SRV records of the service's {} ports", &proto[1..]));
        }
        [proto, port] => explain_srv(service, &pods, proto, port, reasons),
        _ => {}
    }
}

fn selected_pods<'a>(ns: &'a Namespace, service: &Service) -> Vec<&'a Pod> {
    let mut pods: Vec<&Pod> = ns.pods.values().map(|p| &**p).filter(|p| service.selects(p)).collect();
    pods.sort_by(|a, b| a.key.name.cmp(&b.key.name));
    pods
}

fn ips(pod: &Pod) -> String {
    if pod.ips.is_empty() {
        "no IP yet".into()
    } else {
        pod.ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// One sentence on a pod's readiness and name as an endpoint of `service`.
fn pod_sentence(service: &Service, pod: &Pod) -> String {
    let why = if pod.ips.is_empty() {
        "has no IP yet, so it is not an endpoint".to_owned()
    } else if is_ready(service, pod) {
        if service.publish_not_ready && (!pod.ready_condition || pod.terminating) {
            "is published although not ready (the service publishes not-ready addresses)".to_owned()
        } else {
            "is ready".to_owned()
        }
    } else if pod.terminating {
        "is terminating (deletionTimestamp is set), so it is not published".to_owned()
    } else {
        "is not ready (its Ready condition is not True), so it is not published".to_owned()
    };
    let name = match endpoint_hostname(service, pod) {
        Some(h) => format!("{h} (its hostname; its subdomain is {})", service.key.name),
        None => match (&pod.hostname, &pod.subdomain) {
            (Some(h), Some(s)) => format!(
                "by its dashed IP only: it has hostname {h} but subdomain {s}, not {}",
                service.key.name
            ),
            (Some(h), None) => format!("by its dashed IP only: it has hostname {h} but no subdomain"),
            _ => "by its dashed IP (it has no hostname/subdomain)".to_owned(),
        },
    };
    format!("pod {} ({}) {why}; it is named {name}", pod.key.name, ips(pod))
}

fn explain_endpoint(
    zone: &Zone,
    ns: &Namespace,
    service: &Service,
    pods: &[&Pod],
    label: &str,
    reasons: &mut Vec<String>,
) {
    let key = &service.key;
    let names = zone.settings().endpoint_names;
    let mut matched = false;
    for pod in pods {
        let hostname = endpoint_hostname(service, pod);
        let labels: Vec<std::sync::Arc<str>> =
            pod.ips.iter().map(|ip| endpoint_label(pod, hostname, *ip, names)).collect();
        if labels.iter().any(|l| **l == *label) {
            matched = true;
            reasons.push(pod_sentence(service, pod));
        } else if pod.hostname.as_deref() == Some(label) || *pod.key.name == *label {
            matched = true;
            let only = labels.first().map(|l| zone.endpoint_name(key, l).to_string()).unwrap_or_default();
            let sentence = match (&pod.hostname, &pod.subdomain) {
                (Some(h), Some(s)) if **s != *key.name => format!(
                    "pod {} has hostname {h} but subdomain {s}, not {}, so only {only} exists",
                    pod.key.name, key.name
                ),
                (Some(h), None) => format!(
                    "pod {} has hostname {h} but no subdomain; set spec.subdomain: {} for {label} to exist; meanwhile only {only} exists",
                    pod.key.name, key.name
                ),
                _ => format!(
                    "pod {} has no spec.hostname, so it is published by IP only ({only}); StatefulSets set it, \
                     or use --endpoint-names pod-name",
                    pod.key.name
                ),
            };
            reasons.push(sentence);
        }
    }
    let records = zone.service(&key.namespace, &key.name);
    for sts in ns.statefulsets.values().filter(|s| *s.service_name == *key.name) {
        let last = u64::from(sts.ordinal_start) + u64::from(sts.replicas);
        let owns = records
            .is_some_and(|r| r.identities.iter().any(|i| *i.statefulset == *sts.key.name && i.owns(label)));
        if owns {
            matched = true;
            if records.is_some_and(|r| r.is_pending(label)) {
                reasons.push(format!(
                    "{label} is a known identity of StatefulSet {} (replicas {}, ordinals {}..{}) and has no ready address \
                     yet: the answer is NODATA with a {} s negative TTL, never NXDOMAIN, so caches re-ask soon",
                    sts.key.name,
                    sts.replicas,
                    sts.ordinal_start,
                    last.saturating_sub(1),
                    zone.settings().pending_ttl
                ));
                if !pods.iter().any(|p| *p.key.name == *label) {
                    reasons.push(format!("pod {label} does not exist yet (being created or rescheduled)"));
                }
            }
        } else if label.starts_with(&format!("{}-", sts.key.name)) {
            reasons.push(format!(
                "StatefulSet {} has {} replicas (ordinals {}..{}); {label} is not one of them",
                sts.key.name,
                sts.replicas,
                sts.ordinal_start,
                last.saturating_sub(1)
            ));
        }
    }
    if !matched {
        reasons.push(format!("no pod selected by service {} answers as {label}", key));
    }
}

fn explain_srv(service: &Service, pods: &[&Pod], proto: &str, port: &str, reasons: &mut Vec<String>) {
    let (proto, port) = (proto.trim_start_matches('_'), port.trim_start_matches('_'));
    let Some(sp) = service.ports.iter().find(|p| {
        p.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(port)) && p.protocol.srv_label() == proto
    }) else {
        let named: Vec<String> = service
            .ports
            .iter()
            .filter_map(|p| p.name.as_ref().map(|n| format!("_{n}._{}", p.protocol.srv_label())))
            .collect();
        reasons.push(format!(
            "service {} has no port named {port} with protocol {proto}; its SRV names are: {}",
            service.key,
            if named.is_empty() {
                "none (only named ports get SRV records)".into()
            } else {
                named.join(", ")
            }
        ));
        return;
    };
    for pod in pods {
        if !is_ready(service, pod) || pod.ips.is_empty() {
            reasons.push(pod_sentence(service, pod));
            continue;
        }
        match endpoint_port(pod, sp.protocol, &sp.target_port) {
            Some(n) => reasons.push(format!("pod {} serves port {port} on {n}", pod.key.name)),
            None => reasons.push(format!(
                "pod {} has no container port named {:?} ({}), so it has no SRV record for {port}",
                pod.key.name,
                match &sp.target_port {
                    crate::cluster::TargetPort::Name(n) => n.to_string(),
                    crate::cluster::TargetPort::Number(n) => n.to_string(),
                },
                proto.to_uppercase()
            )),
        }
    }
}

fn explain_reverse(state: &ClusterState, zone: &Zone, ip: IpAddr, prefix: u8, reasons: &mut Vec<String>) {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if prefix != full {
        reasons.push(
            "a partial reverse name: it exists (NODATA) when some published address lies under it".into(),
        );
        return;
    }
    let owners: Vec<(&Pod, &str)> = state
        .namespaces()
        .flat_map(|(ns_name, ns)| ns.pods.values().map(move |p| (&**p, &**ns_name)))
        .filter(|(p, _)| p.ips.contains(&ip))
        .collect();
    if owners.is_empty() {
        reasons.push(format!("no known pod has the address {ip}"));
    }
    for (pod, ns_name) in owners {
        let ns = state.namespace(ns_name).expect("pod's namespace");
        let services: Vec<&Service> = ns
            .services
            .values()
            .map(|s| &**s)
            .filter(|s| s.headless && s.selector.is_some() && s.selects(pod))
            .collect();
        if services.is_empty() {
            reasons.push(format!(
                "pod {}/{} has {ip} but no headless service selects it, so it has no PTR record",
                ns_name, pod.key.name
            ));
        }
        for s in services {
            let hostname = endpoint_hostname(s, pod);
            let label = endpoint_label(pod, hostname, ip, zone.settings().endpoint_names);
            reasons.push(format!(
                "{ip} belongs to pod {}/{}, selected by headless service {}: {}",
                ns_name,
                pod.key.name,
                s.key.name,
                if is_ready(s, pod) {
                    format!("PTR {}", zone.endpoint_name(&s.key, &label))
                } else {
                    format!("not ready, so no PTR (would be {})", dashed_ip(ip))
                }
            ));
        }
    }
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

/// Up to three served names closest to `name` (edit distance), for typos.
fn closest_names(state: &ClusterState, zone: &Zone, name: &str) -> Vec<String> {
    let _ = state;
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (key, records) in zone.services() {
        let mut names = vec![zone.service_name(&key).to_string()];
        names.extend(records.endpoints.iter().map(|e| zone.endpoint_name(&key, &e.label).to_string()));
        for n in names {
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
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("web-0", "web-1"), 1);
        assert_eq!(edit_distance("nginx", "ngin"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
