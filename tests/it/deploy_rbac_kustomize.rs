//! The kustomize base's RBAC (the ClusterRole and its binding) and its structure
//! (`kustomization.yaml`).

use crate::support;

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use support::deploy::base::check_base;
use support::deploy::*;

fn check_kustomization(k: &serde_yaml::Value, m: &Manifests) -> Vec<String> {
    let mut errs = Vec::new();
    let dir = deploy_dir();
    ensure!(
        errs,
        k.get("kind").and_then(|v| v.as_str()) == Some("Kustomization"),
        "kustomization.yaml: kind must be Kustomization"
    );
    let listed: Vec<String> = match k.get("resources").and_then(|r| r.as_sequence()) {
        None => {
            errs.push("kustomization.yaml: no resources list".into());
            Vec::new()
        }
        Some(seq) => seq.iter().map(|v| v.as_str().unwrap_or("<not a string>").to_owned()).collect(),
    };
    for r in &listed {
        ensure!(
            errs,
            dir.join(r).is_file(),
            "kustomization.yaml lists {r:?}, which does not exist in deploy/"
        );
    }
    // Every base file is listed (nothing silently left out of `apply -k`).
    let base_files: BTreeSet<String> = m
        .docs
        .iter()
        .filter(|d| d.in_base)
        .filter_map(|d| d.path.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .collect();
    for f in &base_files {
        ensure!(errs, listed.contains(f), "deploy/{f} is not listed in kustomization.yaml resources");
    }
    if let Some(ns) = k.get("namespace").and_then(|v| v.as_str()) {
        for d in m.docs.iter().filter(|d| d.in_base) {
            let meta = match &d.obj {
                Object::Deployment(x) => Some(&x.metadata),
                Object::Service(x) => Some(&x.metadata),
                Object::ServiceAccount(x) => Some(&x.metadata),
                Object::PodDisruptionBudget(x) => Some(&x.metadata),
                _ => None,
            };
            if let Some(meta) = meta {
                ensure!(
                    errs,
                    meta.namespace.as_deref() == Some(ns),
                    "{}: namespace {:?} differs from kustomization namespace {ns:?}",
                    d.path.display(),
                    meta.namespace
                );
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn kustomization_lists_existing_files() {
    assert_clean("deploy/kustomization.yaml", check_kustomization(&load_kustomization(), &load()));
}

#[test]
fn mutation_kustomization_missing_file() {
    let m = load();
    let mut k = load_kustomization();
    assert_clean("unmutated", check_kustomization(&k, &m));
    k["resources"].as_sequence_mut().unwrap().push("no-such-file.yaml".into());
    let errs = check_kustomization(&k, &m);
    assert!(errs.iter().any(|e| e.contains("no-such-file.yaml")), "{errs:?}");

    let mut k = load_kustomization();
    k["resources"].as_sequence_mut().unwrap().retain(|v| v.as_str() != Some("poddisruptionbudget.yaml"));
    let errs = check_kustomization(&k, &m);
    assert!(errs.iter().any(|e| e.contains("poddisruptionbudget.yaml is not listed")), "{errs:?}");
}

// ---------------------------------------------------------------------------
// Mutation tests: each check reports a broken manifest
// ---------------------------------------------------------------------------

fn base_cluster_role(m: &mut Manifests) -> &mut ClusterRole {
    m.docs
        .iter_mut()
        .filter(|d| d.in_base)
        .find_map(|d| match &mut d.obj {
            Object::ClusterRole(x) => Some(x),
            _ => None,
        })
        .expect("base ClusterRole")
}

#[test]
fn mutation_cluster_role_extra_verb() {
    assert_caught(
        |m| base_cluster_role(m).rules.as_mut().unwrap()[0].verbs.push("create".into()),
        check_base,
        "grants more than needed",
    );
}

#[test]
fn mutation_cluster_role_extra_resource_and_missing_rule() {
    assert_caught(
        |m| {
            base_cluster_role(m).rules.as_mut().unwrap()[0].resources.as_mut().unwrap().push("secrets".into())
        },
        check_base,
        "grants more than needed",
    );
    assert_caught(
        |m| {
            base_cluster_role(m).rules.as_mut().unwrap().pop();
        },
        check_base,
        "lacks",
    );
}

#[test]
fn mutation_base_grants_the_multicluster_kinds() {
    // They are the multicluster component's: the base grants what the default reads.
    assert_caught(
        |m| {
            base_cluster_role(m).rules.as_mut().unwrap().push(PolicyRule {
                api_groups: Some(vec!["multicluster.x-k8s.io".into()]),
                resources: Some(vec!["serviceimports".into(), "serviceexports".into()]),
                verbs: vec!["list".into(), "watch".into()],
                ..Default::default()
            })
        },
        check_base,
        "grants more than needed",
    );
}

#[test]
fn mutation_cluster_role_binding_namespace() {
    assert_caught(
        |m| {
            for d in m.docs.iter_mut().filter(|d| d.in_base) {
                if let Object::ClusterRoleBinding(b) = &mut d.obj {
                    b.subjects.as_mut().unwrap()[0].namespace = Some("default".into());
                }
            }
        },
        check_base,
        "must bind exactly ServiceAccount",
    );
}
