//! The checks of the kustomize base, `deploy/*.yaml`: the ClusterRole, and the Deployment
//! with its Namespace, ServiceAccount, ClusterRoleBinding, Service and
//! PodDisruptionBudget, compared with what the binary does.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

/// A (apiGroup, resource, verb) a ClusterRole grants.
pub type Grant = (String, String, String);

fn grants_of(pairs: &[(&str, &str)], verbs: &[&str]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for (g, res) in pairs {
        for v in verbs {
            out.insert((g.to_string(), res.to_string(), v.to_string()));
        }
    }
    out
}

/// What the default configuration reads: get/list/watch on pods, services and
/// statefulsets, and list/watch on the slices of selectorless services (what the watcher
/// does).
pub fn base_grants() -> BTreeSet<Grant> {
    let mut want =
        grants_of(&[("", "pods"), ("", "services"), ("apps", "statefulsets")], &["get", "list", "watch"]);
    want.extend(grants_of(&[("discovery.k8s.io", "endpointslices")], &["list", "watch"]));
    want
}

/// What --multicluster-zone reads besides: the MCS API's kinds and the cluster id, list
/// and watch (`deploy/components/multicluster/`).
pub fn multicluster_grants() -> BTreeSet<Grant> {
    grants_of(
        &[
            ("multicluster.x-k8s.io", "serviceimports"),
            ("multicluster.x-k8s.io", "serviceexports"),
            ("about.k8s.io", "clusterproperties"),
        ],
        &["list", "watch"],
    )
}

/// `cr` grants exactly `want`: plain resource rules, no aggregation, nothing more.
pub fn check_grants(cr: &ClusterRole, want: &BTreeSet<Grant>) -> Vec<String> {
    let mut errs = Vec::new();
    let name = cr.metadata.name.clone().unwrap_or_default();
    ensure!(errs, cr.aggregation_rule.is_none(), "ClusterRole {name} must not aggregate other roles");
    let mut got = BTreeSet::new();
    for (i, r) in cr.rules.iter().flatten().enumerate() {
        ensure!(errs, r.resource_names.is_none(), "{name} rule {i}: unexpected resourceNames");
        ensure!(errs, r.non_resource_urls.is_none(), "{name} rule {i}: unexpected nonResourceURLs");
        ensure!(errs, r.api_groups.as_ref().is_some_and(|g| !g.is_empty()), "{name} rule {i}: no apiGroups");
        ensure!(errs, r.resources.as_ref().is_some_and(|g| !g.is_empty()), "{name} rule {i}: no resources");
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in &r.verbs {
                    got.insert((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    let extra: Vec<_> = got.difference(want).collect();
    let missing: Vec<_> = want.difference(&got).collect();
    ensure!(errs, extra.is_empty(), "ClusterRole {name} grants more than needed: {extra:?}");
    ensure!(errs, missing.is_empty(), "ClusterRole {name} lacks: {missing:?}");
    errs
}

/// The base ClusterRole grants what the default configuration reads and nothing more:
/// the multicluster kinds are the multicluster component's.
pub fn check_cluster_role(cr: &ClusterRole) -> Vec<String> {
    check_grants(cr, &base_grants())
}

pub fn check_base(m: &Manifests) -> Vec<String> {
    let mut errs = Vec::new();
    let base = Some(true);

    // ClusterRole
    let cr = one(only!(m, ClusterRole, base), "ClusterRole in deploy/", &mut errs);
    if let Some(cr) = cr {
        ensure!(
            errs,
            cr.metadata.name.as_deref() == Some(CLUSTER_ROLE),
            "ClusterRole must be named {CLUSTER_ROLE} (the sidecar example binds to it), got {:?}",
            cr.metadata.name
        );
        errs.extend(check_cluster_role(cr));
    }

    let Some(dep) = one(only!(m, Deployment, base), "Deployment in deploy/", &mut errs) else {
        return errs;
    };
    let dep_ns = ns_of(&dep.metadata);
    ensure!(errs, !dep_ns.is_empty(), "Deployment has no namespace");
    let spec = dep.spec.clone().unwrap_or_default();
    ensure!(errs, spec.replicas == Some(2), "Deployment replicas must be 2, got {:?}", spec.replicas);
    let pod_labels = labels_of_pod_spec_template(&spec.template.metadata);
    if let Err(e) = selector_matches(&spec.selector, &pod_labels) {
        errs.push(format!("Deployment selector vs its own pod template: {e}"));
    }
    let pod = spec.template.spec.clone().unwrap_or_default();

    // Namespace object exists for the Deployment's namespace.
    let nss = only!(m, Namespace, base);
    ensure!(
        errs,
        nss.iter().any(|n| n.metadata.name.as_deref() == Some(dep_ns.as_str())),
        "no Namespace {dep_ns:?} in deploy/"
    );

    // Container, args and ports.
    match headless_container(&pod) {
        None => errs.push("Deployment has no container named headless-dns".into()),
        Some(c) => {
            let args = c.args.clone().unwrap_or_default();
            ensure!(
                errs,
                args.first().map(String::as_str) == Some("serve"),
                "args must start with `serve`: {args:?}"
            );
            // The base ClusterRole does not grant the MCS kinds: the zone is the component's.
            ensure!(
                errs,
                flag_values(&args, "--multicluster-zone").is_empty(),
                "the base Deployment must not set --multicluster-zone (its ClusterRole does not grant the \
                 multicluster kinds; deploy/components/multicluster/ adds both)"
            );
            let listen = flag_values(&args, "--listen");
            ensure!(
                errs,
                listen == ["0.0.0.0:53"],
                "Deployment must listen on exactly 0.0.0.0:53, got {listen:?}"
            );
            let admin = flag_values(&args, "--admin");
            let admin_port = match admin.as_slice() {
                [] => Some(DEFAULT_ADMIN_PORT),
                [a] => port_of(a),
                _ => None,
            };
            ensure!(
                errs,
                admin_port == Some(DEFAULT_ADMIN_PORT),
                "--admin must be on port {DEFAULT_ADMIN_PORT}, got {admin:?}"
            );
            for l in &listen {
                let lp = port_of(l);
                for (name, proto) in [("dns", "UDP"), ("dns-tcp", "TCP")] {
                    match container_port(c, name) {
                        None => errs.push(format!("no container port named {name}")),
                        Some(p) => {
                            ensure!(
                                errs,
                                Some(p.container_port) == lp,
                                "port {name} is {} but --listen is {l}",
                                p.container_port
                            );
                            ensure!(
                                errs,
                                p.container_port == 53,
                                "port {name} must be 53, got {}",
                                p.container_port
                            );
                            ensure!(
                                errs,
                                protocol(&p.protocol) == proto,
                                "port {name} must be {proto}, got {}",
                                protocol(&p.protocol)
                            );
                        }
                    }
                }
                if let Some(lp) = lp {
                    check_unprivileged_port(&pod, lp, "Deployment", &mut errs);
                }
            }
            match container_port(c, "admin") {
                None => errs.push("no container port named admin".into()),
                Some(p) => {
                    ensure!(
                        errs,
                        p.container_port == DEFAULT_ADMIN_PORT && Some(p.container_port) == admin_port,
                        "admin containerPort {} must equal the --admin port {admin_port:?} ({DEFAULT_ADMIN_PORT})",
                        p.container_port
                    );
                    ensure!(errs, protocol(&p.protocol) == "TCP", "admin port must be TCP");
                }
            }
            let admin_name = IntOrString::String("admin".into());
            ensure!(
                errs,
                probe_path_port(&c.readiness_probe) == Some(("/readyz".into(), admin_name.clone())),
                "readinessProbe must be httpGet /readyz on port `admin`, got {:?}",
                probe_path_port(&c.readiness_probe)
            );
            ensure!(
                errs,
                probe_path_port(&c.liveness_probe) == Some(("/healthz".into(), admin_name)),
                "livenessProbe must be httpGet /healthz on port `admin`, got {:?}",
                probe_path_port(&c.liveness_probe)
            );
            check_security(&pod, c, "Deployment", &mut errs);

            // Resources: memory as the sizing table says, 100m CPU requested, no CPU limit.
            let res = c.resources.clone().unwrap_or_default();
            let q =
                |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
                 k: &str| { m.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone()) };
            let (request, limit) = super::sizing("deploy/deployment.yaml");
            ensure!(
                errs,
                q(&res.requests, "memory") == Some(request.clone()),
                "requests.memory must be {request} (docs/running-in-a-cluster.md, Sizing)"
            );
            ensure!(errs, q(&res.requests, "cpu").as_deref() == Some("100m"), "requests.cpu must be 100m");
            ensure!(
                errs,
                q(&res.limits, "memory") == Some(limit.clone()),
                "limits.memory must be {limit} (docs/running-in-a-cluster.md, Sizing)"
            );
            ensure!(errs, q(&res.limits, "cpu").is_none(), "there must be no CPU limit");

            let rust_log =
                c.env.iter().flatten().find(|e| e.name == "RUST_LOG").and_then(|e| e.value.clone());
            // A RUST_LOG replaces the built-in filter: a weaker one brings back the kube
            // client's per-request error lines while the API server is away.
            ensure!(
                errs,
                rust_log.as_deref().is_none_or(|v| v == headless_dns::telemetry::DEFAULT_FILTER),
                "RUST_LOG must be unset or the built-in filter, got {rust_log:?}"
            );

            // Grace period must outlast the lameduck window.
            let lameduck = match flag_values(&args, "--lameduck").as_slice() {
                [] => Some(DEFAULT_LAMEDUCK_SECS),
                [v] => v.parse().ok(),
                _ => None,
            };
            let grace = pod.termination_grace_period_seconds;
            ensure!(
                errs,
                matches!((grace, lameduck), (Some(g), Some(l)) if g > l),
                "terminationGracePeriodSeconds {grace:?} must exceed --lameduck {lameduck:?}"
            );
        }
    }

    // Spreading across nodes.
    let spreads = pod.topology_spread_constraints.clone().unwrap_or_default();
    ensure!(
        errs,
        spreads.iter().any(|t| t.topology_key == "kubernetes.io/hostname"
            && t.label_selector.as_ref().is_some_and(|s| selector_matches(s, &pod_labels).is_ok())),
        "no topologySpreadConstraint over kubernetes.io/hostname selecting the pods"
    );
    let anti = pod
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.clone())
        .unwrap_or_default();
    ensure!(
        errs,
        anti.iter().any(|w| w.pod_affinity_term.topology_key == "kubernetes.io/hostname"
            && w.pod_affinity_term
                .label_selector
                .as_ref()
                .is_some_and(|s| selector_matches(s, &pod_labels).is_ok())),
        "no preferred podAntiAffinity over kubernetes.io/hostname selecting the pods"
    );

    // ServiceAccount + ClusterRoleBinding.
    let sa_name = pod.service_account_name.clone().unwrap_or_default();
    ensure!(errs, !sa_name.is_empty(), "Deployment sets no serviceAccountName");
    let sas = only!(m, ServiceAccount, base);
    ensure!(
        errs,
        sas.iter()
            .any(|s| s.metadata.name.as_deref() == Some(sa_name.as_str()) && ns_of(&s.metadata) == dep_ns),
        "no ServiceAccount {sa_name:?} in namespace {dep_ns:?}"
    );
    if let Some(crb) = one(only!(m, ClusterRoleBinding, base), "ClusterRoleBinding in deploy/", &mut errs) {
        let role_name = cr.and_then(|c| c.metadata.name.clone()).unwrap_or_default();
        ensure!(
            errs,
            crb.role_ref
                == RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: role_name.clone(),
                },
            "ClusterRoleBinding roleRef must be ClusterRole {role_name:?}, got {:?}",
            crb.role_ref
        );
        let want = Subject {
            kind: "ServiceAccount".into(),
            name: sa_name.clone(),
            namespace: Some(dep_ns.clone()),
            api_group: None,
        };
        ensure!(
            errs,
            crb.subjects.as_deref() == Some(&[want][..]),
            "ClusterRoleBinding must bind exactly ServiceAccount {dep_ns}/{sa_name}, got {:?}",
            crb.subjects
        );
    }

    // Service
    if let Some(svc) = one(only!(m, Service, base), "Service in deploy/", &mut errs) {
        ensure!(errs, ns_of(&svc.metadata) == dep_ns, "Service must be in {dep_ns:?}");
        let s = svc.spec.clone().unwrap_or_default();
        ensure!(errs, s.type_.as_deref().unwrap_or("ClusterIP") == "ClusterIP", "Service must be ClusterIP");
        ensure!(errs, s.cluster_ip.as_deref() != Some("None"), "Service must not be headless");
        match &s.selector {
            None => errs.push("Service has no selector".into()),
            Some(sel) => {
                if let Err(e) = map_matches(sel, &pod_labels) {
                    errs.push(format!("Service selector: {e}"));
                }
            }
        }
        let ports = s.ports.clone().unwrap_or_default();
        let c = headless_container(&pod);
        for (name, proto) in [("dns", "UDP"), ("dns-tcp", "TCP")] {
            match ports.iter().find(|p| p.name.as_deref() == Some(name)) {
                None => errs.push(format!("Service has no port named {name}")),
                Some(p) => {
                    ensure!(errs, p.port == 53, "Service port {name} must be 53, got {}", p.port);
                    ensure!(errs, protocol(&p.protocol) == proto, "Service port {name} must be {proto}");
                    // targetPort must reach a container port with the same protocol.
                    let target_ok = match (&p.target_port, c) {
                        (Some(IntOrString::String(t)), Some(c)) => {
                            container_port(c, t).is_some_and(|cp| protocol(&cp.protocol) == proto)
                        }
                        (Some(IntOrString::Int(t)), Some(c)) => c
                            .ports
                            .iter()
                            .flatten()
                            .any(|cp| cp.container_port == *t && protocol(&cp.protocol) == proto),
                        (None, Some(c)) => c
                            .ports
                            .iter()
                            .flatten()
                            .any(|cp| cp.container_port == p.port && protocol(&cp.protocol) == proto),
                        _ => false,
                    };
                    ensure!(
                        errs,
                        target_ok,
                        "Service port {name}: targetPort {:?} matches no {proto} container port",
                        p.target_port
                    );
                }
            }
        }
    }

    // PodDisruptionBudget
    if let Some(pdb) = one(only!(m, PodDisruptionBudget, base), "PodDisruptionBudget in deploy/", &mut errs) {
        ensure!(errs, ns_of(&pdb.metadata) == dep_ns, "PDB must be in {dep_ns:?}");
        let s = pdb.spec.clone().unwrap_or_default();
        ensure!(
            errs,
            s.min_available == Some(IntOrString::Int(1)),
            "PDB minAvailable must be 1, got {:?}",
            s.min_available
        );
        ensure!(errs, s.max_unavailable.is_none(), "PDB must not also set maxUnavailable");
        match &s.selector {
            None => errs.push("PDB has no selector".into()),
            Some(sel) => {
                if let Err(e) = selector_matches(sel, &pod_labels) {
                    errs.push(format!("PDB selector: {e}"));
                }
            }
        }
    }
    errs
}
