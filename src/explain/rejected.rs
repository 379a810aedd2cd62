//! Explain for refused versions: when an object behind a name had its newest version
//! refused by validation, say so, and which version is served instead.

use crate::cluster::{ClusterState, Kind, ObjectKey};

/// The sentences on refused versions of the objects behind `<label>.<service>.<ns>`: the
/// service, the pod named `label` (a StatefulSet pod's name is its hostname), and the
/// StatefulSets the service governs. Names are matched as DNS matches them, whatever their
/// case: a Service named `Bad_Name` was refused for that very case.
pub(super) fn explain(
    state: &ClusterState,
    ns: &str,
    service: &str,
    label: Option<&str>,
    reasons: &mut Vec<String>,
) {
    let governed: Vec<&str> = state.namespace(ns).map_or_else(Vec::new, |namespace| {
        namespace
            .statefulsets
            .values()
            .filter(|s| *s.service_name == *service)
            .map(|s| &*s.key.name)
            .collect()
    });
    let behind = |kind: Kind, key: &ObjectKey| {
        key.namespace.eq_ignore_ascii_case(ns)
            && match kind {
                Kind::Service => key.name.eq_ignore_ascii_case(service),
                Kind::Pod => label.is_some_and(|l| key.name.eq_ignore_ascii_case(l)),
                Kind::StatefulSet => governed.iter().any(|g| key.name.eq_ignore_ascii_case(g)),
                _ => false,
            }
    };
    let refused: Vec<(Kind, ObjectKey)> = state
        .rejections()
        .filter(|(kind, key, _)| behind(*kind, key))
        .map(|(kind, key, _)| (kind, key.clone()))
        .collect();
    for (kind, key) in refused {
        if kind == Kind::Pod {
            // It exists, refused: not "does not exist yet".
            let missing = format!("pod {} does not exist yet", key.name);
            reasons.retain(|r| !r.starts_with(&missing));
        }
        reasons.extend(sentence(state, kind, &key));
    }
}

/// The sentence on `kind`/`key`'s refused version, if its newest one was refused.
pub(super) fn sentence(state: &ClusterState, kind: Kind, key: &ObjectKey) -> Option<String> {
    let rejection = state.rejection(kind, key)?;
    let served = state.namespace(&key.namespace).is_some_and(|ns| match kind {
        Kind::Pod => ns.pods.get(&key.name).is_some(),
        Kind::Service => ns.services.contains_key(&key.name),
        Kind::StatefulSet => ns.statefulsets.contains_key(&key.name),
        Kind::EndpointSlice => ns.endpoint_slices.contains_key(&key.name),
        _ => false,
    });
    let then = if served {
        "serving the previous one"
    } else {
        "it has no earlier good version, so it is not served"
    };
    Some(format!(
        "the latest version of {} {key} was rejected: {} ({}); {then}",
        kind.noun(),
        rejection.error,
        rejection.origin
    ))
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use crate::cluster::rejected::Rejection;
    use crate::cluster::{Kind, ObjectError, ObjectKey};

    #[test]
    fn a_refused_version_is_named_with_what_is_served_instead() {
        let (mut state, zones) = crate::explain::tests::load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: nginx, namespace: default}\n\
             spec: {clusterIP: None, selector: {app: web}}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: default, labels: {app: web}}\n\
             spec: {hostname: web-0, subdomain: nginx}\n\
             status: {podIP: 10.244.1.10, conditions: [{type: Ready, status: \"True\"}]}\n",
        );
        let error = ObjectError::InvalidField {
            kind: "Pod",
            name: "default/web-0".into(),
            field: "status.podIPs",
            value: "10.244.999.66".into(),
        };
        let key = |name: &str| ObjectKey { namespace: "default".into(), name: name.into() };
        let origin = "config/demo/nginx.yaml (document 3)".to_owned();
        state.reject(Kind::Pod, &key("web-0"), Rejection { error: error.clone(), origin: origin.clone() });
        let explained =
            crate::explain::explain(&state, &zones, "web-0.nginx.default.svc.cluster.local", RecordType::A);
        assert_eq!(explained.answers.len(), 1, "the previous version answers: {explained:?}");
        let says = |text: &str| explained.reasons.iter().any(|r| r.contains(text));
        assert!(
            says(
                "the latest version of pod default/web-0 was rejected: Pod default/web-0: status.podIPs has an invalid value \"10.244.999.66\" (config/demo/nginx.yaml (document 3)); serving the previous one"
            ),
            "{:?}",
            explained.reasons
        );
        state.reject(Kind::Pod, &key("web-1"), Rejection { error, origin });
        let explained =
            crate::explain::explain(&state, &zones, "web-1.nginx.default.svc.cluster.local", RecordType::A);
        assert!(
            explained
                .reasons
                .iter()
                .any(|r| r.ends_with("it has no earlier good version, so it is not served")),
            "{:?}",
            explained.reasons
        );
    }
}
