//! Explain for a headless service without a selector: its endpoints come from the
//! EndpointSlices its operator manages.

use crate::cluster::{EndpointSlice, Namespace, Service, SliceEndpoint};
use crate::zone::Zone;
use crate::zone::records::dashed_ip;

/// One sentence on a slice endpoint.
fn endpoint_sentence(slice: &EndpointSlice, endpoint: &SliceEndpoint) -> String {
    let addresses: Vec<String> = endpoint.addresses.iter().map(ToString::to_string).collect();
    let name = match &endpoint.hostname {
        Some(h) => format!("named {h} (its hostname)"),
        None => "named by its dashed address (no hostname)".to_owned(),
    };
    let ready = if endpoint.ready {
        "is ready (conditions.ready is true or absent), so it is published"
    } else {
        "is not ready (conditions.ready is false), so it is not published"
    };
    format!("EndpointSlice {} endpoint {} {name} {ready}", slice.key.name, addresses.join(", "))
}

/// Whether a slice endpoint answers under `label`: its hostname, else its dashed address.
pub(super) fn answers_as(endpoint: &SliceEndpoint, label: &str) -> bool {
    match &endpoint.hostname {
        Some(h) => h.eq_ignore_ascii_case(label),
        None => endpoint.addresses.iter().any(|ip| dashed_ip(*ip) == label),
    }
}

/// `<svc>.<ns>.svc.<zone>` of a selectorless headless service, or a name below it.
pub(super) fn explain_selectorless(
    zone: &Zone,
    ns: &Namespace,
    service: &Service,
    rest: &[String],
    reasons: &mut Vec<String>,
) {
    let key = &service.key;
    let slices: Vec<&EndpointSlice> = ns.slices_of(&key.name).map(|s| &**s).collect();
    reasons.push(format!(
        "headless service {key} has no selector: its endpoints come from the {} EndpointSlice(s) labelled \
         kubernetes.io/service-name={} that its operator manages (the EndpointSlice controller's slices are \
         never used)",
        slices.len(),
        key.name
    ));
    match rest {
        [] => {
            for slice in &slices {
                for endpoint in &slice.endpoints {
                    reasons.push(endpoint_sentence(slice, endpoint));
                }
            }
            if zone.service(&key.namespace, &key.name).is_none_or(|r| r.endpoints.is_empty()) {
                reasons.push("with no ready endpoint the service name does not exist (NXDOMAIN), as the Kubernetes DNS spec says".into());
            }
        }
        [label] if !label.starts_with('_') => {
            let mut found = false;
            for slice in &slices {
                for endpoint in slice.endpoints.iter().filter(|e| answers_as(e, label)) {
                    found = true;
                    reasons.push(endpoint_sentence(slice, endpoint));
                }
            }
            if !found {
                reasons.push(format!("no endpoint of the service's EndpointSlices answers as {label}"));
            }
        }
        [proto, ..] => {
            let named: Vec<String> = slices
                .iter()
                .flat_map(|s| s.ports.iter())
                .filter_map(|p| {
                    p.name.as_ref().map(|n| format!("_{n}._{} on {}", p.protocol.srv_label(), p.port))
                })
                .collect();
            reasons.push(format!(
                "{proto} names the SRV records of the named ports of the service's EndpointSlices: {}",
                if named.is_empty() { "none".to_owned() } else { named.join(", ") }
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::explain::explain;
    use crate::explain::tests::load;
    use hickory_proto::rr::RecordType;

    #[test]
    fn a_selectorless_service_is_explained_by_its_slices() {
        let (state, zone) = load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: ns}\nspec: {clusterIP: None}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
             metadata: {name: db-1, namespace: ns, labels: {kubernetes.io/service-name: db}}\n\
             endpoints: [{addresses: [10.0.0.1], hostname: primary}, \
             {addresses: [10.0.0.2], hostname: replica, conditions: {ready: false}}]\n",
        );
        let e = explain(&state, &zone, "db.ns.svc.cluster.local", RecordType::A);
        assert_eq!(e.rcode, "NOERROR");
        let text = e.reasons.join(" | ");
        assert!(text.contains("has no selector: its endpoints come from the 1 EndpointSlice(s)"), "{text}");
        assert!(text.contains("endpoint 10.0.0.1 named primary (its hostname) is ready"), "{text}");
        let e = explain(&state, &zone, "replica.db.ns.svc.cluster.local", RecordType::A);
        let text = e.reasons.join(" | ");
        assert!(text.contains("is not ready (conditions.ready is false)"), "{text}");
        let e = explain(&state, &zone, "2.0.0.10.in-addr.arpa", RecordType::PTR);
        assert!(e.reasons.join(" | ").contains("not ready, so no PTR"), "{:?}", e.reasons);
    }
}
