//! The optional kustomize components (`deploy/components/`), checked against the base they
//! are added to:
//!
//! * `multicluster/`: a ClusterRole granting exactly list/watch on the Multi-Cluster
//!   Services kinds (which the base's ClusterRole does not), bound to the base Deployment's
//!   ServiceAccount, and a JSON patch adding `--multicluster-zone clusterset.local` to the
//!   Deployment's arguments: applied here to the parsed base, the result is read by the
//!   server's own command-line parser;
//! * `monitoring/`: a PodMonitor that selects the Deployment's pods and scrapes `/metrics`
//!   on the container port `--admin` listens on, and a PrometheusRule (that its groups are
//!   `deploy/monitoring/rules.yaml`'s is `tests/it/monitoring.rs`'s check).
//!
//! Each component's `kustomization.yaml` is a `Component` listing exactly its directory's
//! files. The `mutation_*` tests change one value and require the check to report it.

use crate::support;

use clap::Parser;
use headless_dns::config::{Cli, Command};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;
use support::deploy::base::{check_grants, multicluster_grants};
use support::deploy::component::{check_binding, check_component_kustomization, json_patch};
use support::deploy::*;

const MULTICLUSTER: &str = "components/multicluster";
const MONITORING: &str = "components/monitoring";

fn base_deployment(m: &Manifests) -> Option<&Deployment> {
    only!(m, Deployment, Some(true)).into_iter().next()
}

/// The multicluster component: its own ClusterRole with exactly the MCS kinds, bound to the
/// base's ServiceAccount, and the Deployment patched to serve clusterset.local.
fn check_multicluster(m: &Manifests, k: &serde_yaml::Value) -> Vec<String> {
    let mut errs = check_component_kustomization(MULTICLUSTER, k);
    let Some(dep) = base_deployment(m) else {
        errs.push("no Deployment in the base".into());
        return errs;
    };
    let ns = ns_of(&dep.metadata);
    let pod = dep.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
    let sa = pod.service_account_name.clone().unwrap_or_default();

    // RBAC: a ClusterRole of its own, bound to the Deployment's ServiceAccount.
    if let Some(cr) = one(
        only_in!(m, ClusterRole, MULTICLUSTER),
        "ClusterRole in deploy/components/multicluster/",
        &mut errs,
    ) {
        ensure!(
            errs,
            cr.metadata.name.as_deref() == Some(MULTICLUSTER_ROLE),
            "the multicluster ClusterRole must be named {MULTICLUSTER_ROLE}, got {:?}",
            cr.metadata.name
        );
        errs.extend(check_grants(cr, &multicluster_grants()));
    }
    if let Some(crb) = one(
        only_in!(m, ClusterRoleBinding, MULTICLUSTER),
        "ClusterRoleBinding in deploy/components/multicluster/",
        &mut errs,
    ) {
        errs.extend(check_binding(crb, "multicluster", MULTICLUSTER_ROLE, &ns, &sa));
    }

    // The patch, applied to the base Deployment.
    let patches = k.get("patches").and_then(|p| p.as_sequence()).cloned().unwrap_or_default();
    ensure!(
        errs,
        patches.len() == 1,
        "the multicluster component must have one patch, got {}",
        patches.len()
    );
    let mut patched = serde_json::to_value(dep).expect("Deployment to JSON");
    for p in &patches {
        let target = |key: &str| p.get("target").and_then(|t| t.get(key)).and_then(|v| v.as_str());
        ensure!(
            errs,
            target("group") == Some("apps")
                && target("kind") == Some("Deployment")
                && target("name") == dep.metadata.name.as_deref(),
            "the multicluster patch must target the apps Deployment {:?}, got {:?}",
            dep.metadata.name,
            p.get("target")
        );
        let ops = p
            .get("patch")
            .and_then(|t| t.as_str())
            .ok_or_else(|| "the multicluster patch has no inline `patch`".to_owned())
            .and_then(|t| {
                serde_yaml::from_str::<Value>(t).map_err(|e| format!("the multicluster patch: {e}"))
            });
        match ops.and_then(|ops| json_patch(&mut patched, &ops)) {
            Ok(()) => {}
            Err(e) => errs.push(format!("the multicluster patch does not apply to the base Deployment: {e}")),
        }
    }
    let patched: Deployment = match serde_json::from_value(patched) {
        Ok(d) => d,
        Err(e) => {
            errs.push(format!("the patched Deployment is no Deployment: {e}"));
            return errs;
        }
    };
    let args_of = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(headless_container)
            .and_then(|c| c.args.clone())
            .unwrap_or_default()
    };
    let (before, after) = (args_of(dep), args_of(&patched));
    let added = after.strip_prefix(before.as_slice()).unwrap_or_default();
    ensure!(
        errs,
        added == ["--multicluster-zone", "clusterset.local"],
        "the multicluster patch must add `--multicluster-zone clusterset.local` to the headless-dns \
         container's args, which become {after:?}"
    );
    // The server's own parser reads the patched arguments as intended.
    match Cli::try_parse_from(std::iter::once("headless-dns".to_owned()).chain(after.iter().cloned())) {
        Ok(Cli { command: Command::Serve(serve), .. }) => ensure!(
            errs,
            serve.multicluster_zone.as_deref() == Some("clusterset.local"),
            "the patched args give --multicluster-zone {:?}",
            serve.multicluster_zone
        ),
        Ok(_) => errs.push(format!("the patched args are not `serve`: {after:?}")),
        Err(e) => errs.push(format!("the server rejects the patched args {after:?}: {e}")),
    }
    errs
}

/// The monitoring component: a PodMonitor on the pods' admin port and a PrometheusRule,
/// both in the Deployment's namespace.
fn check_monitoring(m: &Manifests, k: &serde_yaml::Value) -> Vec<String> {
    let mut errs = check_component_kustomization(MONITORING, k);
    let Some(dep) = base_deployment(m) else {
        errs.push("no Deployment in the base".into());
        return errs;
    };
    let ns = ns_of(&dep.metadata);
    let spec = dep.spec.clone().unwrap_or_default();
    let pod_labels = labels_of_pod_spec_template(&spec.template.metadata);
    let pod = spec.template.spec.clone().unwrap_or_default();
    // The container port the admin server listens on, by the port --admin gives.
    let admin_port_name = headless_container(&pod).and_then(|c| {
        let args = c.args.clone().unwrap_or_default();
        let port = match flag_values(&args, "--admin").as_slice() {
            [] => Some(DEFAULT_ADMIN_PORT),
            [a] => port_of(a),
            _ => None,
        }?;
        c.ports
            .iter()
            .flatten()
            .find(|p| p.container_port == port && protocol(&p.protocol) == "TCP")?
            .name
            .clone()
    });

    if let Some(pm) = one(
        operator_objects(m, "PodMonitor", MONITORING),
        "PodMonitor in deploy/components/monitoring/",
        &mut errs,
    ) {
        let pm_ns = pm["metadata"]["namespace"].as_str().unwrap_or_default();
        ensure!(
            errs,
            pm_ns == ns,
            "the PodMonitor must be in the Deployment's namespace {ns:?}, got {pm_ns:?}"
        );
        ensure!(
            errs,
            pm["spec"].get("namespaceSelector").is_none(),
            "the PodMonitor needs no namespaceSelector: it watches its own namespace, the Deployment's"
        );
        match serde_json::from_value::<LabelSelector>(pm["spec"]["selector"].clone()) {
            Ok(sel) => {
                if let Err(e) = selector_matches(&sel, &pod_labels) {
                    errs.push(format!("PodMonitor selector: {e}"));
                }
            }
            Err(e) => errs.push(format!("PodMonitor selector: {e}")),
        }
        let endpoints = pm["spec"]["podMetricsEndpoints"].as_array().cloned().unwrap_or_default();
        ensure!(
            errs,
            endpoints.len() == 1,
            "the PodMonitor must have one podMetricsEndpoint, got {}",
            endpoints.len()
        );
        for e in &endpoints {
            let port = e["port"].as_str();
            ensure!(
                errs,
                admin_port_name.is_some() && port == admin_port_name.as_deref(),
                "the PodMonitor scrapes port {port:?}, but the admin server's container port is named {admin_port_name:?}"
            );
            let path = e["path"].as_str().unwrap_or("/metrics");
            ensure!(errs, path == "/metrics", "the PodMonitor must scrape /metrics, got {path:?}");
            let scheme = e["scheme"].as_str().unwrap_or("http");
            ensure!(errs, scheme == "http", "the admin server speaks http, the PodMonitor says {scheme:?}");
        }
    }
    if let Some(pr) = one(
        operator_objects(m, "PrometheusRule", MONITORING),
        "PrometheusRule in deploy/components/monitoring/",
        &mut errs,
    ) {
        let pr_ns = pr["metadata"]["namespace"].as_str().unwrap_or_default();
        ensure!(
            errs,
            pr_ns == ns,
            "the PrometheusRule must be in the Deployment's namespace {ns:?}, got {pr_ns:?}"
        );
        let groups = pr["spec"]["groups"].as_array().map_or(0, Vec::len);
        ensure!(errs, groups > 0, "the PrometheusRule has no rule groups");
    }
    errs
}

fn multicluster(m: &Manifests) -> Vec<String> {
    check_multicluster(m, &load_kustomization_in(MULTICLUSTER))
}

fn monitoring(m: &Manifests) -> Vec<String> {
    check_monitoring(m, &load_kustomization_in(MONITORING))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn multicluster_component_grants_the_mcs_kinds_and_sets_the_zone() {
    assert_clean("deploy/components/multicluster", multicluster(&load()));
}

#[test]
fn monitoring_component_scrapes_the_admin_port() {
    assert_clean("deploy/components/monitoring", monitoring(&load()));
}

#[test]
fn json_patch_applies_what_kustomize_would() {
    let mut doc = serde_json::json!({"a": {"list": ["x"]}, "b": 1});
    let ops = serde_json::json!([
        {"op": "add", "path": "/a/list/-", "value": "y"},
        {"op": "add", "path": "/a/list/0", "value": "w"},
        {"op": "replace", "path": "/b", "value": 2},
        {"op": "add", "path": "/c~1d", "value": true},
        {"op": "remove", "path": "/a/list/1"},
    ]);
    json_patch(&mut doc, &ops).unwrap();
    assert_eq!(doc, serde_json::json!({"a": {"list": ["w", "y"]}, "b": 2, "c/d": true}));
    let err = json_patch(&mut doc, &serde_json::json!([{"op": "add", "path": "/a/list/5/x", "value": 1}]));
    assert!(err.unwrap_err().contains("no \"5\""));
    let err = json_patch(&mut doc, &serde_json::json!([{"op": "replace", "path": "/nope", "value": 1}]));
    assert!(err.unwrap_err().contains("cannot replace"));
}

// ---------------------------------------------------------------------------
// Mutation tests: each check reports a broken manifest
// ---------------------------------------------------------------------------

fn component_doc<'a>(m: &'a mut Manifests, dir: &str) -> impl Iterator<Item = &'a mut Object> {
    let dir = dir.to_owned();
    m.docs.iter_mut().filter(move |d| d.dir == dir).map(|d| &mut d.obj)
}

fn pod_monitor(m: &mut Manifests) -> &mut Value {
    component_doc(m, MONITORING)
        .find_map(|o| match o {
            Object::PodMonitor(x) => Some(x),
            _ => None,
        })
        .expect("PodMonitor")
}

#[test]
fn mutation_multicluster_rbac() {
    assert_caught(
        |m| {
            for o in component_doc(m, MULTICLUSTER) {
                if let Object::ClusterRole(cr) = o {
                    cr.rules.as_mut().unwrap()[0].verbs.push("get".into());
                }
            }
        },
        multicluster,
        "grants more than needed",
    );
    assert_caught(
        |m| {
            for o in component_doc(m, MULTICLUSTER) {
                if let Object::ClusterRole(cr) = o {
                    cr.rules.as_mut().unwrap().pop();
                }
            }
        },
        multicluster,
        "lacks",
    );
    assert_caught(
        |m| {
            for o in component_doc(m, MULTICLUSTER) {
                if let Object::ClusterRoleBinding(b) = o {
                    b.subjects.as_mut().unwrap()[0].name = "default".into();
                }
            }
        },
        multicluster,
        "must bind exactly ServiceAccount",
    );
    assert_caught(
        |m| {
            for o in component_doc(m, MULTICLUSTER) {
                if let Object::ClusterRoleBinding(b) = o {
                    b.role_ref.name = CLUSTER_ROLE.into();
                }
            }
        },
        multicluster,
        "must refer to ClusterRole",
    );
}

#[test]
fn mutation_multicluster_patch() {
    let m = load();
    let k = load_kustomization_in(MULTICLUSTER);
    assert_clean("unmutated", check_multicluster(&m, &k));
    let patch_text =
        |k: &mut serde_yaml::Value| -> String { k["patches"][0]["patch"].as_str().unwrap().to_owned() };

    let mut broken = k.clone();
    let text = patch_text(&mut broken).replace("clusterset.local", "clusterset.example");
    broken["patches"][0]["patch"] = text.into();
    let errs = check_multicluster(&m, &broken);
    assert!(errs.iter().any(|e| e.contains("--multicluster-zone clusterset.local")), "{errs:?}");

    let mut broken = k.clone();
    let text = patch_text(&mut broken).replace("containers/0", "containers/1");
    broken["patches"][0]["patch"] = text.into();
    let errs = check_multicluster(&m, &broken);
    assert!(errs.iter().any(|e| e.contains("does not apply")), "{errs:?}");

    let mut broken = k.clone();
    broken["patches"][0]["target"]["name"] = "other".into();
    let errs = check_multicluster(&m, &broken);
    assert!(errs.iter().any(|e| e.contains("must target")), "{errs:?}");

    let mut broken = k.clone();
    broken["resources"].as_sequence_mut().unwrap().pop();
    let errs = check_multicluster(&m, &broken);
    assert!(errs.iter().any(|e| e.contains("but the directory holds")), "{errs:?}");

    let mut broken = k;
    broken["kind"] = "Kustomization".into();
    let errs = check_multicluster(&m, &broken);
    assert!(errs.iter().any(|e| e.contains("kind must be Component")), "{errs:?}");
}

#[test]
fn mutation_pod_monitor() {
    assert_caught(
        |m| pod_monitor(m)["spec"]["podMetricsEndpoints"][0]["port"] = "metrics".into(),
        monitoring,
        "scrapes port",
    );
    assert_caught(
        |m| pod_monitor(m)["spec"]["podMetricsEndpoints"][0]["path"] = "/healthz".into(),
        monitoring,
        "/metrics",
    );
    assert_caught(
        |m| pod_monitor(m)["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "other".into(),
        monitoring,
        "PodMonitor selector",
    );
    assert_caught(|m| pod_monitor(m)["metadata"]["namespace"] = "monitoring".into(), monitoring, "namespace");
    // The Deployment renames its admin port: the PodMonitor no longer names it.
    assert_caught(
        |m| {
            let dep = m
                .docs
                .iter_mut()
                .filter(|d| d.in_base)
                .find_map(|d| match &mut d.obj {
                    Object::Deployment(x) => Some(x),
                    _ => None,
                })
                .unwrap();
            let pod = dep.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            let port = pod.containers[0]
                .ports
                .as_mut()
                .unwrap()
                .iter_mut()
                .find(|p| p.name.as_deref() == Some("admin"));
            port.unwrap().name = Some("http-admin".into());
        },
        monitoring,
        "scrapes port",
    );
}
