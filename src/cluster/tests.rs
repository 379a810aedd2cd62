//! Unit tests of the cluster state: which services a change touches, resyncs, shared label sets.

use super::*;

fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey { namespace: ns.into(), name: name.into() }
}

fn pod(name: &str, app: &str) -> Object {
    Object::Pod(Arc::new(Pod {
        key: key("default", name),
        template: PodTemplate::new(
            [("app".into(), app.into())].into(),
            Naming::default(),
            PortList::default(),
        ),
        ips: Addresses::from(["10.0.0.1".parse().unwrap()]),
        ready_condition: true,
        terminating: false,
        phase: Phase::Running,
        placement: Placement::NONE,
    }))
}

fn service(name: &str, app: &str) -> Object {
    Object::Service(Arc::new(Service {
        key: key("default", name),
        headless: true,
        selector: Some([("app".into(), app.into())].into()),
        ports: Box::new([]),
        publish_not_ready: false,
        cluster_ips: Box::new([]),
        external_name: None,
        external: None,
    }))
}

#[test]
fn pod_changes_touch_the_services_selecting_old_and_new_labels() {
    let mut state = ClusterState::new();
    state.apply(service("a", "a"));
    state.apply(service("b", "b"));
    assert_eq!(state.apply(pod("p", "a")), [key("default", "a")].into());
    // Relabelled from a to b: both services change.
    assert_eq!(state.apply(pod("p", "b")), [key("default", "a"), key("default", "b")].into());
    // The same object again changes nothing.
    assert!(state.apply(pod("p", "b")).is_empty());
    assert_eq!(state.delete(Kind::Pod, &key("default", "p")), [key("default", "b")].into());
    assert!(state.delete(Kind::Pod, &key("default", "p")).is_empty());
}

#[test]
fn resync_deletes_what_was_not_seen_again() {
    let mut state = ClusterState::new();
    state.apply(service("a", "a"));
    state.apply(pod("keep", "a"));
    state.apply(pod("gone", "a"));
    let touched = state.reset(Kind::Pod, [pod("keep", "a")]);
    assert_eq!(touched, [key("default", "a")].into());
    let ns = state.namespace("default").unwrap();
    assert!(ns.pods.contains_key("keep"));
    assert!(!ns.pods.contains_key("gone"));
    // Services were not part of the resync and stay.
    assert!(ns.services.contains_key("a"));
}

#[test]
fn statefulset_touches_its_governing_service() {
    let mut state = ClusterState::new();
    let sts = |svc: &str| {
        Object::StatefulSet(Arc::new(StatefulSet {
            key: key("default", "web"),
            service_name: svc.into(),
            replicas: 3,
            ordinal_start: 0,
        }))
    };
    assert_eq!(state.apply(sts("nginx")), [key("default", "nginx")].into());
    assert_eq!(state.apply(sts("other")), [key("default", "nginx"), key("default", "other")].into());
}

#[test]
fn statefulset_touches_the_external_services_selecting_its_pods() {
    let mut state = ClusterState::new();
    // `public` selects web's pods and publishes in an external zone, where its pending
    // ordinals follow web's replicas; `internal` selects them too but publishes nothing.
    let spec: ExternalSpec = serde_json::from_str(r#"{"hostnames": ["public.example.com"]}"#).unwrap();
    let Object::Service(public) = service("public", "web") else { unreachable!() };
    state.apply(Object::Service(Arc::new(Service { external: Some(Box::new(spec)), ..(*public).clone() })));
    state.apply(service("internal", "web"));
    state.apply(sts_pod("web-0"));
    state.apply(sts_pod("webapp-0"));
    let sts = |name: &str, replicas| {
        Object::StatefulSet(Arc::new(StatefulSet {
            key: key("default", name),
            service_name: "nginx".into(),
            replicas,
            ordinal_start: 0,
        }))
    };
    let web = [key("default", "nginx"), key("default", "public")].into();
    assert_eq!(state.apply(sts("web", 3)), web);
    assert_eq!(state.apply(sts("web", 5)), web, "scaled up: public's pending ordinals change");
    assert_eq!(state.delete(Kind::StatefulSet, &key("default", "web")), web);
    // A StatefulSet none of whose pods (`other-<ordinal>`) a Service selects.
    assert_eq!(state.apply(sts("other", 2)), [key("default", "nginx")].into());
}

/// A StatefulSet pod as the controller labels it.
fn sts_pod(name: &str) -> Object {
    let ordinal = name.rsplit_once('-').unwrap().1;
    Object::Pod(Arc::new(Pod {
        key: key("default", name),
        template: PodTemplate::new(
            [
                ("app".into(), "web".into()),
                ("apps.kubernetes.io/pod-index".into(), ordinal.into()),
                ("statefulset.kubernetes.io/pod-name".into(), name.into()),
            ]
            .into(),
            Naming::new(Some(name.into()), Some("web".into()), name),
            Arc::new(Box::new([ContainerPort { name: "http".into(), port: 8080, protocol: Protocol::Tcp }])),
        ),
        ips: Addresses::from(["10.0.0.1".parse().unwrap()]),
        ready_condition: true,
        terminating: false,
        phase: Phase::Running,
        placement: Placement::NONE,
    }))
}

#[test]
fn statefulset_pods_share_one_label_set_and_read_their_own_values() {
    let mut state = ClusterState::new();
    // A per-pod service selects on the pod-name label, a value taken from the name.
    let Object::Service(per_pod) = service("web-1", "web") else { unreachable!() };
    state.apply(Object::Service(Arc::new(Service {
        selector: Some([("statefulset.kubernetes.io/pod-name".into(), "web-1".into())].into()),
        ..(*per_pod).clone()
    })));
    for name in ["web-0", "web-1", "web-12"] {
        state.apply(sts_pod(name));
    }
    let ns = state.namespace("default").unwrap();
    let (a, b, c) =
        (ns.pods.get("web-0").unwrap(), ns.pods.get("web-1").unwrap(), ns.pods.get("web-12").unwrap());
    // One template (labels, hostname/subdomain, ports) for the three, each reading its
    // own name as hostname and label values.
    let template = |p: &Pod| Arc::as_ptr(p.template.parts());
    assert!(template(a) == template(b) && template(a) == template(c));
    assert_eq!((c.hostname().map(|h| &**h), c.subdomain().map(|s| &**s)), (Some("web-12"), Some("web")));
    assert_eq!(c.label("statefulset.kubernetes.io/pod-name"), Some("web-12"));
    assert_eq!(c.label("apps.kubernetes.io/pod-index"), Some("12"));
    assert_eq!(c.label("app"), Some("web"));
    let service = ns.services.get("web-1").unwrap();
    assert!(service.selects(b) && !service.selects(a) && !service.selects(c));
    // The stored pod equals the one that arrived: re-applying it changes nothing.
    assert!(state.apply_untracked(sts_pod("web-12")));
    assert!(state.apply(sts_pod("web-1")).is_empty());
    // Saved objects spell the values out.
    let saved: Vec<Object> = state.objects().filter(|o| o.kind() == Kind::Pod).collect();
    let Object::Pod(saved) = &saved[2] else { unreachable!() };
    assert_eq!(saved.key.name.as_str(), "web-12");
    let Object::Pod(arrived) = sts_pod("web-12") else { unreachable!() };
    assert_eq!(saved.template.labels(), arrived.template.labels());
    assert_eq!(saved.ports(), arrived.ports());
}

#[test]
fn label_values_read_back_as_they_arrived() {
    let mut state = ClusterState::new();
    let Object::Pod(raw) = pod("web-3", "web-3x") else { unreachable!() };
    let labels = [("app".into(), "3".into()), ("b".into(), "web-3x".into())].into();
    let relabelled = Pod { template: raw.template.with_labels(labels), ..(*raw).clone() };
    state.apply(Object::Pod(Arc::new(relabelled.clone())));
    let stored = state.namespace("default").unwrap().pods.get("web-3").unwrap().clone();
    assert_eq!(stored.label_pairs().collect::<Vec<_>>(), [("app", "3"), ("b", "web-3x")]);
    assert_eq!(*stored, relabelled);
}

#[test]
fn the_namespace_indexes_follow_selector_and_service_name_changes() {
    let mut state = ClusterState::new();
    state.apply(service("a", "web"));
    state.apply(service("b", "db"));
    assert_eq!(state.apply(pod("p", "web")), [key("default", "a")].into());
    // The service now selects db pods: the web pod no longer touches it, db pods do.
    state.apply(service("a", "db"));
    assert_eq!(state.apply(pod("p", "web")), Touched::new(), "nothing selects app=web any more");
    assert_eq!(state.apply(pod("q", "db")), [key("default", "a"), key("default", "b")].into());
    state.delete(Kind::Service, &key("default", "b"));
    assert_eq!(state.apply(pod("r", "db")), [key("default", "a")].into());
    // A StatefulSet moving to another service is found under the new one only.
    let sts = |service: &str| {
        Object::StatefulSet(Arc::new(StatefulSet {
            key: key("default", "web"),
            service_name: service.into(),
            replicas: 3,
            ordinal_start: 0,
        }))
    };
    state.apply(sts("a"));
    let names = |state: &ClusterState, service: &str| -> Vec<String> {
        let ns = state.namespace("default").unwrap();
        ns.statefulsets_of(service).map(|s| s.key.name.to_string()).collect()
    };
    assert_eq!(names(&state, "a"), ["web"]);
    state.apply(sts("b"));
    assert!(names(&state, "a").is_empty());
    assert_eq!(names(&state, "b"), ["web"]);
    state.delete(Kind::StatefulSet, &key("default", "web"));
    assert!(names(&state, "b").is_empty());
}

/// A relist remembers the addresses of the objects it applies: objects re-applied
/// unchanged, changed, applied twice, kept (invalid in the relist) and applied untracked
/// all stay; only the ones the relist did not mention go, whatever was freed meanwhile.
#[test]
fn a_relist_keeps_exactly_what_it_applied_or_kept() {
    let mut state = ClusterState::new();
    state.apply(service("a", "a"));
    for name in ["same", "changed", "twice", "kept", "untracked", "gone-1", "gone-2"] {
        state.apply(pod(name, "a"));
    }
    state.begin_resync(Kind::Pod);
    state.apply(pod("same", "a"));
    state.apply(pod("changed", "b"));
    state.apply(pod("twice", "b"));
    state.apply(pod("twice", "c"));
    state.apply(pod("new", "a"));
    let rejection = super::rejected::Rejection {
        error: super::ObjectError::Malformed { kind: "Pod", name: None, message: "bad".into() },
        origin: "test".into(),
    };
    assert!(state.reject(Kind::Pod, &key("default", "kept"), rejection), "a previous version is served");
    state.apply_untracked(pod("untracked", "d"));
    state.finish_resync(Kind::Pod);
    let ns = state.namespace("default").unwrap();
    let mut names: Vec<&str> = ns.pods.keys().map(|n| &**n).collect();
    names.sort();
    assert_eq!(names, ["changed", "kept", "new", "same", "twice", "untracked"]);
    assert_eq!(ns.pods.get("twice").unwrap().label("app"), Some("c"));
    // A second relist of nothing empties the kind.
    state.reset(Kind::Pod, []);
    assert!(state.namespace("default").is_none_or(|ns| ns.pods.is_empty()));
}

/// A refused version keeps the last good one and is remembered until a good version or
/// a deletion; an object never seen good is remembered without being served.
#[test]
fn a_refused_version_keeps_the_last_good_one_until_a_good_version_comes() {
    let mut state = ClusterState::new();
    state.apply(pod("web-0", "a"));
    let refused = |value: &str| super::rejected::Rejection {
        error: super::ObjectError::InvalidField {
            kind: "Pod",
            name: "default/web-0".into(),
            field: "status.podIPs",
            value: value.into(),
        },
        origin: "nginx.yaml (document 2)".into(),
    };
    assert!(state.reject(Kind::Pod, &key("default", "web-0"), refused("10.244.999.66")));
    assert_eq!(state.namespace("default").unwrap().pods.get("web-0").unwrap().label("app"), Some("a"));
    let why = state.rejection(Kind::Pod, &key("default", "web-0")).expect("remembered");
    assert_eq!(why.error.reason(), "invalid_value");
    assert_eq!(state.rejections().count(), 1);
    state.apply(pod("web-0", "b"));
    assert!(state.rejection(Kind::Pod, &key("default", "web-0")).is_none(), "a good version clears it");
    assert!(!state.reject(Kind::Pod, &key("default", "never"), refused("x")), "nothing earlier to serve");
    assert!(state.rejection(Kind::Pod, &key("default", "never")).is_some());
    state.delete(Kind::Pod, &key("default", "never"));
    assert_eq!(state.rejections().count(), 0, "a deletion clears it");
}

#[test]
fn a_pod_is_matched_against_first_selector_keys_still_in_use() {
    let mut state = ClusterState::new();
    // Two services with the same first selector pair, then one with another value.
    state.apply(service("a1", "a"));
    state.apply(service("a2", "a"));
    state.apply(service("b", "b"));
    assert_eq!(state.apply(pod("p", "a")), [key("default", "a1"), key("default", "a2")].into());
    // One of the two goes: the key stays in use for the other.
    state.delete(Kind::Service, &key("default", "a1"));
    assert_eq!(state.apply(pod("p", "b")), [key("default", "a2"), key("default", "b")].into());
    // The last services selecting on `app` go: a pod selects nothing, and one comes back.
    state.delete(Kind::Service, &key("default", "a2"));
    state.delete(Kind::Service, &key("default", "b"));
    assert!(state.apply(pod("p", "a")).is_empty());
    state.apply(service("a1", "a"));
    assert_eq!(state.apply(pod("q", "a")), [key("default", "a1")].into());
}
