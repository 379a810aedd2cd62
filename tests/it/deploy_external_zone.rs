//! The kustomize component `deploy/components/external-zone/`, checked against the base it
//! is added to: a ClusterRole granting exactly list/watch on Nodes, bound to the base
//! Deployment's ServiceAccount; a JSON patch adding `--external-zone example.com` and
//! `--external-listen 0.0.0.0:5354` to the Deployment's arguments and the listener's
//! container ports (the patched arguments are read by the server's own parser); and a
//! Service selecting the Deployment's pods on those ports. The `mutation_*` test changes
//! one value at a time and requires the check to report it.

use crate::support;

use std::collections::BTreeSet;

use clap::Parser;
use headless_dns::config::{Cli, Command};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use support::deploy::component::{check_binding, check_component_kustomization, json_patch};
use support::deploy::*;

const DIR: &str = "components/external-zone";
const ROLE: &str = "headless-dns-node-reader";

fn node_grants() -> BTreeSet<(String, String, String)> {
    ["list", "watch"].iter().map(|v| (String::new(), "nodes".to_owned(), (*v).to_owned())).collect()
}

/// Every problem of the component against the base, as messages.
fn check(m: &Manifests, k: &serde_yaml::Value) -> Vec<String> {
    let mut errs = check_component_kustomization(DIR, k);
    let Some(dep) = only!(m, Deployment, Some(true)).into_iter().next() else {
        errs.push("no Deployment in the base".into());
        return errs;
    };
    let ns = ns_of(&dep.metadata);
    let pod = dep.spec.as_ref().and_then(|s| s.template.spec.clone()).unwrap_or_default();
    let sa = pod.service_account_name.clone().unwrap_or_default();
    if let Some(cr) =
        one(only_in!(m, ClusterRole, DIR), "ClusterRole in deploy/components/external-zone/", &mut errs)
    {
        ensure!(errs, cr.metadata.name.as_deref() == Some(ROLE), "the ClusterRole must be named {ROLE}");
        errs.extend(support::deploy::base::check_grants(cr, &node_grants()));
    }
    if let Some(crb) = one(
        only_in!(m, ClusterRoleBinding, DIR),
        "ClusterRoleBinding in deploy/components/external-zone/",
        &mut errs,
    ) {
        errs.extend(check_binding(crb, "external-zone", ROLE, &ns, &sa));
    }
    // The patch, applied to the base Deployment.
    let mut patched = serde_json::to_value(dep).expect("Deployment to JSON");
    let patches = k.get("patches").and_then(|p| p.as_sequence()).cloned().unwrap_or_default();
    ensure!(errs, patches.len() == 1, "the component must have one patch, got {}", patches.len());
    for p in &patches {
        let target = |key: &str| p.get("target").and_then(|t| t.get(key)).and_then(|v| v.as_str());
        ensure!(
            errs,
            target("kind") == Some("Deployment") && target("name") == dep.metadata.name.as_deref(),
            "the patch must target the Deployment {:?}",
            dep.metadata.name
        );
        let ops = p
            .get("patch")
            .and_then(|t| t.as_str())
            .ok_or_else(|| "the patch has no inline `patch`".to_owned())
            .and_then(|t| serde_yaml::from_str::<Value>(t).map_err(|e| format!("the patch: {e}")));
        if let Err(e) = ops.and_then(|ops| json_patch(&mut patched, &ops)) {
            errs.push(format!("the patch does not apply to the base Deployment: {e}"));
        }
    }
    let patched: Deployment = match serde_json::from_value(patched) {
        Ok(d) => d,
        Err(e) => {
            errs.push(format!("the patched Deployment is no Deployment: {e}"));
            return errs;
        }
    };
    let container = patched.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(headless_container);
    let args = container.and_then(|c| c.args.clone()).unwrap_or_default();
    let listen =
        match Cli::try_parse_from(std::iter::once("headless-dns".to_owned()).chain(args.iter().cloned())) {
            Ok(Cli { command: Command::Serve(serve), .. }) => {
                ensure!(
                    errs,
                    serve.external_zone == ["example.com"],
                    "the patched args give --external-zone {:?}",
                    serve.external_zone
                );
                serve.external_listen.first().and_then(|l| l.addrs.first()).map(|a| i32::from(a.port()))
            }
            Ok(_) => {
                errs.push(format!("the patched args are not `serve`: {args:?}"));
                None
            }
            Err(e) => {
                errs.push(format!("the server rejects the patched args {args:?}: {e}"));
                None
            }
        };
    let port = listen;
    ensure!(errs, port.is_some(), "the patched args give no --external-listen");
    // The listener's container ports, UDP and TCP, by name.
    let named: Vec<(String, String)> = container
        .and_then(|c| c.ports.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| Some(p.container_port) == port)
        .map(|p| (p.name.clone().unwrap_or_default(), protocol(&p.protocol).to_owned()))
        .collect();
    for proto in ["UDP", "TCP"] {
        ensure!(
            errs,
            named.iter().any(|(_, p)| p == proto),
            "the patched container has no {proto} port {port:?} for --external-listen: {named:?}"
        );
    }
    // The Service: the Deployment's pods, on those named ports.
    if let Some(svc) =
        one(only_in!(m, Service, DIR), "Service in deploy/components/external-zone/", &mut errs)
    {
        let labels = labels_of_pod_spec_template(&patched.spec.clone().unwrap_or_default().template.metadata);
        let spec = svc.spec.clone().unwrap_or_default();
        let selector = spec.selector.clone().unwrap_or_default();
        ensure!(
            errs,
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "the Service's selector {selector:?} does not select the Deployment's pods {labels:?}"
        );
        ensure!(errs, ns_of(&svc.metadata) == ns, "the Service must be in the Deployment's namespace {ns}");
        for p in spec.ports.iter().flatten() {
            let target = match &p.target_port {
                Some(IntOrString::String(name)) => {
                    named.iter().any(|(n, proto)| n == name && *proto == protocol(&p.protocol))
                }
                Some(IntOrString::Int(n)) => Some(*n) == port,
                None => Some(p.port) == port,
            };
            ensure!(
                errs,
                target,
                "Service port {:?} ({}) does not reach the external listener's container ports {named:?}",
                p.name,
                protocol(&p.protocol)
            );
        }
        let protocols: BTreeSet<&str> = spec.ports.iter().flatten().map(|p| protocol(&p.protocol)).collect();
        ensure!(
            errs,
            protocols == BTreeSet::from(["TCP", "UDP"]),
            "the Service must carry UDP and TCP, got {protocols:?}"
        );
    }
    errs
}

#[test]
fn the_external_zone_component_fits_the_base() {
    assert_clean("deploy/components/external-zone", check(&load(), &load_kustomization_in(DIR)));
}

#[test]
fn mutation_external_zone_component() {
    let (m, k) = (load(), load_kustomization_in(DIR));
    let caught = |m: &Manifests, k: &serde_yaml::Value, needle: &str| {
        let errs = check(m, k);
        assert!(errs.iter().any(|e| e.contains(needle)), "expected {needle:?} in {errs:?}");
    };
    let with_patch = |from: &str, to: &str| {
        let mut k = k.clone();
        let text = k["patches"][0]["patch"].as_str().unwrap().replace(from, to);
        k["patches"][0]["patch"] = text.into();
        k
    };
    caught(&m, &with_patch("value: example.com", "value: example.org"), "--external-zone");
    caught(&m, &with_patch("0.0.0.0:5354", "0.0.0.0:5355"), "no UDP port");
    caught(&m, &with_patch("containers/0", "containers/1"), "does not apply");
    caught(&m, &with_patch("name: external-tcp,", "name: ext-tcp,"), "does not reach");
    let mut broken = k.clone();
    broken["resources"].as_sequence_mut().unwrap().pop();
    caught(&m, &broken, "but the directory holds");
    let mut mutated = m.clone();
    for d in mutated.docs.iter_mut().filter(|d| d.dir == DIR) {
        match &mut d.obj {
            Object::ClusterRole(cr) => cr.rules.as_mut().unwrap()[0].verbs.push("get".into()),
            Object::Service(svc) => {
                svc.spec.as_mut().unwrap().selector.as_mut().unwrap().insert("app".into(), "other".into());
            }
            _ => {}
        }
    }
    caught(&mutated, &k, "get");
    caught(&mutated, &k, "does not select");
}
