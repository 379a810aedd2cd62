//! Explain for pod records, `a-b-c-d.<ns>.pod.<zone>` (CoreDNS's `pods` option).

use crate::cluster::{ClusterState, Pod};
use crate::zone::Zone;
use crate::zone::pods::{PodRecords, pod_record_ip};

/// `pod.<zone>` and the names below it; `below` are the labels under `pod`, from the
/// zone outwards.
pub(super) fn explain_pod_record(
    state: &ClusterState,
    zone: &Zone,
    below: &[String],
    reasons: &mut Vec<String>,
) {
    let mode = zone.settings().pods;
    if mode == PodRecords::Disabled {
        reasons.push(
            "pod records are disabled (--pods disabled): every name under pod.<zone> is NXDOMAIN".into(),
        );
        return;
    }
    let [namespace, label] = below else {
        if below.len() < 2 {
            reasons.push(
                "pod.<zone> and <ns>.pod.<zone> exist without records (NODATA) while pod records are on"
                    .into(),
            );
        } else {
            reasons.push("pod records are a-b-c-d.<ns>.pod.<zone>: nothing exists deeper".into());
        }
        return;
    };
    let Some(ip) = pod_record_ip(label) else {
        reasons.push(format!(
            "{label} is not an address written with dashes (10-1-2-3 for IPv4, fd00--1 for IPv6), so the name does not exist"
        ));
        return;
    };
    if mode == PodRecords::Insecure {
        reasons.push(format!(
            "pod records are insecure (--pods insecure): {label} answers {ip} whether a pod has it or not"
        ));
        return;
    }
    let owners: Vec<&Pod> = state
        .namespaces()
        .flat_map(|(_, ns)| ns.pods.values().map(|p| &**p))
        .filter(|p| p.ips.contains(&ip))
        .collect();
    let here: Vec<&&Pod> = owners.iter().filter(|p| *p.key.namespace == **namespace).collect();
    for pod in &here {
        reasons.push(if pod.phase.is_terminal() {
            format!(
                "pod {} has {ip} but is in the terminal phase {}: its address may already belong to another pod, so it does not count",
                pod.key,
                pod.phase.as_str()
            )
        } else {
            format!("pod {} of namespace {namespace} has {ip}, so the record answers it (--pods verified)", pod.key)
        });
    }
    if here.is_empty() {
        let elsewhere: Vec<String> = owners.iter().map(|p| p.key.to_string()).collect();
        reasons.push(format!(
            "no pod of namespace {namespace} has {ip} (--pods verified answers only those){}",
            if elsewhere.is_empty() {
                String::new()
            } else {
                format!("; it belongs to {}", elsewhere.join(", "))
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::explain::explain;
    use crate::explain::tests::load;
    use hickory_proto::rr::RecordType;

    #[test]
    fn pod_records_say_which_pod_has_the_address() {
        let (state, zone) = load(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ns}\nstatus: {phase: Running, podIP: 10.0.0.1}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: other}\nstatus: {phase: Running, podIP: 10.0.0.2}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: ns}\nstatus: {phase: Failed, podIP: 10.0.0.3}\n",
        );
        let reasons = |name: &str| {
            let e = explain(&state, &zone, name, RecordType::A);
            (e.rcode, e.reasons.join(" | "))
        };
        let (rcode, text) = reasons("10-0-0-1.ns.pod.cluster.local");
        assert_eq!(rcode, "NOERROR");
        assert!(text.contains("pod ns/a of namespace ns has 10.0.0.1"), "{text}");
        let (rcode, text) = reasons("10-0-0-2.ns.pod.cluster.local");
        assert_eq!(rcode, "NXDOMAIN");
        assert!(
            text.contains("no pod of namespace ns has 10.0.0.2") && text.contains("it belongs to other/b"),
            "{text}"
        );
        let (rcode, text) = reasons("10-0-0-3.ns.pod.cluster.local");
        assert_eq!(rcode, "NXDOMAIN");
        assert!(text.contains("terminal phase Failed"), "{text}");
        let (_, text) = reasons("web-0.ns.pod.cluster.local");
        assert!(text.contains("is not an address written with dashes"), "{text}");
    }
}
