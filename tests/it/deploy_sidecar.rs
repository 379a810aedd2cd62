//! The sidecar example (`deploy/sidecar/`): a StatefulSet whose pods resolve through their
//! own headless-dns on 127.0.0.1, with its RBAC bound to the base's ClusterRole.

use crate::support;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use support::deploy::*;

/// The directory of the example below `deploy/`.
const SIDECAR: &str = "sidecar";

fn check_sidecar(m: &Manifests) -> Vec<String> {
    let mut errs = Vec::new();
    // Only what deploy/sidecar/ holds: the components have RBAC objects of their own.
    let Some(sts) = one(only_in!(m, StatefulSet, SIDECAR), "StatefulSet in deploy/sidecar/", &mut errs)
    else {
        return errs;
    };
    let ns = ns_of(&sts.metadata);
    ensure!(errs, !ns.is_empty(), "StatefulSet has no namespace");
    let spec = sts.spec.clone().unwrap_or_default();
    ensure!(errs, sts.metadata.name.as_deref() == Some("web"), "StatefulSet must be named web");
    ensure!(errs, spec.replicas == Some(3), "StatefulSet replicas must be 3, got {:?}", spec.replicas);
    let pod_labels = labels_of_pod_spec_template(&spec.template.metadata);
    if let Err(e) = selector_matches(&spec.selector, &pod_labels) {
        errs.push(format!("StatefulSet selector vs its pod template: {e}"));
    }
    let svc_name = spec.service_name.clone().unwrap_or_default();
    ensure!(errs, svc_name == "nginx", "serviceName must be nginx, got {svc_name:?}");
    let svc = only_in!(m, Service, SIDECAR)
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some(svc_name.as_str()) && ns_of(&s.metadata) == ns);
    match svc {
        None => errs.push(format!("no Service {ns}/{svc_name} next to the StatefulSet")),
        Some(svc) => {
            let s = svc.spec.clone().unwrap_or_default();
            ensure!(errs, s.cluster_ip.as_deref() == Some("None"), "Service {svc_name} must be headless");
            match &s.selector {
                Some(sel) => {
                    if let Err(e) = map_matches(sel, &pod_labels) {
                        errs.push(format!("Service {svc_name} selector: {e}"));
                    }
                }
                None => errs.push(format!("Service {svc_name} has no selector")),
            }
        }
    }

    let pod = spec.template.spec.clone().unwrap_or_default();
    let Some(c) = headless_container(&pod) else {
        errs.push("StatefulSet pod has no headless-dns container".into());
        return errs;
    };
    let args = c.args.clone().unwrap_or_default();
    ensure!(errs, args.first().map(String::as_str) == Some("serve"), "sidecar args must start with `serve`");
    let listen = flag_values(&args, "--listen");
    ensure!(errs, listen == ["127.0.0.1:53"], "sidecar must listen on 127.0.0.1:53, got {listen:?}");
    let admin = flag_values(&args, "--admin");
    ensure!(errs, admin == ["127.0.0.1:8080"], "sidecar admin must be 127.0.0.1:8080, got {admin:?}");
    let (request, limit) = support::deploy::sizing("deploy/sidecar/statefulset.yaml");
    let resources = c.resources.clone().unwrap_or_default();
    let memory = |m: &Option<
        std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >| { m.as_ref().and_then(|m| m.get("memory")).map(|q| q.0.clone()) };
    ensure!(
        errs,
        memory(&resources.requests) == Some(request.clone())
            && memory(&resources.limits) == Some(limit.clone()),
        "sidecar memory must be {request} requested, {limit} limit (docs/running-in-a-cluster.md, Sizing)"
    );
    ensure!(
        errs,
        !flag_values(&args, "--forward").is_empty(),
        "sidecar needs --forward so other names resolve"
    );
    ensure!(errs, args.iter().any(|a| a == "--fallthrough"), "sidecar needs --fallthrough");
    if let Some(p) = listen.first().and_then(|l| port_of(l)) {
        check_unprivileged_port(&pod, p, "sidecar", &mut errs);
    }
    check_security(&pod, c, "sidecar", &mut errs);

    ensure!(errs, pod.dns_policy.as_deref() == Some("None"), "sidecar pod must use dnsPolicy None");
    let dns = pod.dns_config.clone().unwrap_or_default();
    let listen_ip = listen.first().and_then(|l| l.rsplit_once(':')).map(|(ip, _)| ip.to_owned());
    ensure!(
        errs,
        dns.nameservers.as_deref() == listen_ip.as_ref().map(std::slice::from_ref),
        "dnsConfig.nameservers {:?} must be exactly the sidecar's listen address {listen_ip:?}",
        dns.nameservers
    );
    let want_search = vec![
        format!("{ns}.svc.{CLUSTER_DOMAIN}"),
        format!("svc.{CLUSTER_DOMAIN}"),
        CLUSTER_DOMAIN.to_string(),
    ];
    ensure!(
        errs,
        dns.searches.as_ref() == Some(&want_search),
        "dnsConfig.searches must be {want_search:?}, got {:?}",
        dns.searches
    );
    let ndots = dns
        .options
        .iter()
        .flatten()
        .find(|o| o.name.as_deref() == Some("ndots"))
        .and_then(|o| o.value.clone());
    ensure!(errs, ndots.as_deref() == Some("5"), "dnsConfig ndots must be 5, got {ndots:?}");
    let pod_ns_env = c
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "POD_NAMESPACE")
        .and_then(|e| e.value_from.as_ref()?.field_ref.as_ref().map(|f| f.field_path.clone()));
    ensure!(
        errs,
        pod_ns_env.as_deref() == Some("metadata.namespace"),
        "POD_NAMESPACE must come from the downward API (metadata.namespace), got {pod_ns_env:?}"
    );

    // RBAC: the pod's ServiceAccount is bound to the base's ClusterRole.
    let sa = pod.service_account_name.clone().unwrap_or_default();
    ensure!(
        errs,
        only_in!(m, ServiceAccount, SIDECAR)
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(sa.as_str()) && ns_of(&s.metadata) == ns),
        "no ServiceAccount {ns}/{sa:?} for the sidecar"
    );
    let role_exists =
        only!(m, ClusterRole, Some(true)).iter().any(|c| c.metadata.name.as_deref() == Some(CLUSTER_ROLE));
    ensure!(errs, role_exists, "ClusterRole {CLUSTER_ROLE} not found in the base (deploy/*.yaml)");
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: sa.clone(),
        namespace: Some(ns.clone()),
        api_group: None,
    };
    let good_ref = |r: &RoleRef| {
        r.kind == "ClusterRole" && r.name == CLUSTER_ROLE && r.api_group == "rbac.authorization.k8s.io"
    };
    let bound = only_in!(m, RoleBinding, SIDECAR).iter().any(|rb| {
        rb.metadata.name.as_deref() == Some(CLUSTER_ROLE)
            && ns_of(&rb.metadata) == ns
            && good_ref(&rb.role_ref)
            && rb.subjects.iter().flatten().any(|s| *s == subject)
    }) || only_in!(m, ClusterRoleBinding, SIDECAR)
        .iter()
        .any(|b| good_ref(&b.role_ref) && b.subjects.iter().flatten().any(|s| *s == subject));
    ensure!(
        errs,
        bound,
        "ServiceAccount {ns}/{sa} is not bound to ClusterRole {CLUSTER_ROLE} by a binding named {CLUSTER_ROLE}"
    );
    // A namespaced RoleBinding only works if the sidecar watches only its namespace.
    if only_in!(m, ClusterRoleBinding, SIDECAR).is_empty() {
        let ns_env =
            c.env.iter().flatten().find(|e| e.name == "HEADLESS_DNS_NAMESPACE").and_then(|e| e.value.clone());
        ensure!(
            errs,
            ns_env.as_deref() == Some("$(POD_NAMESPACE)") || !flag_values(&args, "--namespace").is_empty(),
            "with only a RoleBinding the sidecar must be limited to its namespace (--namespace / HEADLESS_DNS_NAMESPACE)"
        );
    }
    errs
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn sidecar_example_is_consistent() {
    assert_clean("deploy/sidecar", check_sidecar(&load()));
}

fn sidecar_container(m: &mut Manifests) -> &mut Container {
    let sts = m
        .docs
        .iter_mut()
        .find_map(|d| match &mut d.obj {
            Object::StatefulSet(x) => Some(x),
            _ => None,
        })
        .expect("StatefulSet");
    let pod = sts.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    pod.containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten())
        .find(|c| c.name == "headless-dns")
        .expect("sidecar container")
}

#[test]
fn mutation_sidecar() {
    assert_caught(
        |m| {
            let args = sidecar_container(m).args.as_mut().unwrap();
            args.retain(|a| a != "--fallthrough");
        },
        check_sidecar,
        "--fallthrough",
    );
    assert_caught(
        |m| {
            for d in m.docs.iter_mut() {
                if let Object::StatefulSet(s) = &mut d.obj {
                    let pod = s.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
                    pod.dns_config.as_mut().unwrap().nameservers = Some(vec!["10.96.0.10".into()]);
                }
            }
        },
        check_sidecar,
        "nameservers",
    );
    assert_caught(
        |m| {
            for d in m.docs.iter_mut() {
                if let Object::RoleBinding(b) = &mut d.obj {
                    b.role_ref.name = "view".into();
                }
            }
        },
        check_sidecar,
        "not bound",
    );
}
