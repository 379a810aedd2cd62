//! `<label>.<svc>.<ns>.svc.<zone>`: which pod answers under a label, why a pod does not
//! (no IP yet, not ready, hostname/subdomain mismatch), and StatefulSet identities.

use super::pod_sentence;
use crate::cluster::SharedStr;
use crate::cluster::{Namespace, Pod, Service};
use crate::zone::Zone;
use crate::zone::build::{endpoint_hostname, endpoint_label};

pub(super) fn explain(
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
        let labels: Vec<SharedStr> =
            pod.ips.iter().map(|ip| endpoint_label(pod, hostname, ip, names)).collect();
        let named_so = pod.hostname().map(|h| &**h) == Some(label) || *pod.key.name == *label;
        if labels.iter().any(|l| **l == *label) || (pod.ips.is_empty() && named_so) {
            // Its name, or a pod that will have it once it has an IP (a starting pod).
            matched = true;
            reasons.push(pod_sentence::sentence(service, pod));
        } else if named_so {
            matched = true;
            let only = labels.first().map(|l| zone.endpoint_name(key, l).to_string()).unwrap_or_default();
            let sentence = match (pod.hostname(), pod.subdomain()) {
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
    let mut pending_explained = false;
    for sts in ns.statefulsets.values().filter(|s| *s.service_name == *key.name) {
        let last = u64::from(sts.ordinal_start) + u64::from(sts.replicas);
        let owns = records
            .is_some_and(|r| r.identities.iter().any(|i| *i.statefulset == *sts.key.name && i.owns(label)));
        if owns {
            matched = true;
            if records.is_some_and(|r| r.is_pending(label)) {
                pending_explained = true;
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
    if !pending_explained && records.is_some_and(|r| r.is_pending(label)) {
        reasons.push(format!(
            "{label} is the hostname of a selected pod without a ready address: the answer is NODATA with a {} s              negative TTL, never NXDOMAIN, so caches re-ask soon",
            zone.settings().pending_ttl
        ));
    }
    if !matched {
        reasons.push(format!("no pod selected by service {} answers as {label}", key));
    }
}
