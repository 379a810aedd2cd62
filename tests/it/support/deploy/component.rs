//! What the optional kustomize components (`deploy/components/`) have in common: a
//! `kustomization.yaml` that is a Component listing its directory's files, and JSON
//! patches applied to the base Deployment as kustomize would.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use serde_json::Value;

use super::deploy_dir;
use super::ensure;

/// A component's `kustomization.yaml`: a kustomize Component that lists exactly the YAML
/// files of its directory.
pub fn check_component_kustomization(dir: &str, k: &serde_yaml::Value) -> Vec<String> {
    let mut errs = Vec::new();
    let field = |key: &str| k.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    ensure!(
        errs,
        field("apiVersion").as_deref() == Some("kustomize.config.k8s.io/v1alpha1"),
        "deploy/{dir}/kustomization.yaml: apiVersion must be kustomize.config.k8s.io/v1alpha1, got {:?}",
        field("apiVersion")
    );
    ensure!(
        errs,
        field("kind").as_deref() == Some("Component"),
        "deploy/{dir}/kustomization.yaml: kind must be Component, got {:?}",
        field("kind")
    );
    let listed: BTreeSet<String> = k
        .get("resources")
        .and_then(|r| r.as_sequence())
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or("<not a string>").to_owned())
        .collect();
    let files: BTreeSet<String> = fs::read_dir(deploy_dir().join(dir))
        .unwrap_or_else(|e| panic!("deploy/{dir}: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    ensure!(
        errs,
        listed == files,
        "deploy/{dir}/kustomization.yaml lists {listed:?}, but the directory holds {files:?}"
    );
    errs
}

/// Applies the operations of an RFC 6902 JSON patch that kustomize's `patches` take
/// (`add`, `replace`, `remove`) to `doc`.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    for op in ops.as_array().ok_or("a JSON patch is a list of operations")? {
        let kind = op["op"].as_str().ok_or("an operation without `op`")?;
        let path = op["path"].as_str().ok_or("an operation without `path`")?;
        let tokens: Vec<String> = path
            .strip_prefix('/')
            .ok_or_else(|| format!("{path}: a path starts with /"))?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let (last, parents) = tokens.split_last().ok_or_else(|| format!("{path}: empty"))?;
        let mut target = &mut *doc;
        for t in parents {
            target = match target {
                Value::Object(o) => o.get_mut(t),
                Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            }
            .ok_or_else(|| format!("{path}: the document has no {t:?} there"))?;
        }
        let index = |len: usize| last.parse::<usize>().ok().filter(|&i| i < len);
        let value = op.get("value").cloned();
        match (kind, target, value) {
            ("add", Value::Array(a), Some(v)) if last == "-" => a.push(v),
            ("add", Value::Array(a), Some(v)) => match last.parse::<usize>().ok().filter(|&i| i <= a.len()) {
                Some(i) => a.insert(i, v),
                None => return Err(format!("{path}: no index {last} to insert at")),
            },
            ("add", Value::Object(o), Some(v)) => {
                o.insert(last.clone(), v);
            }
            ("replace", Value::Object(o), Some(v)) if o.contains_key(last) => {
                o.insert(last.clone(), v);
            }
            ("replace", Value::Array(a), Some(v)) if index(a.len()).is_some() => {
                let i = index(a.len()).unwrap();
                a[i] = v;
            }
            ("remove", Value::Object(o), _) if o.contains_key(last) => {
                o.remove(last);
            }
            ("remove", Value::Array(a), _) if index(a.len()).is_some() => {
                let i = index(a.len()).unwrap();
                a.remove(i);
            }
            (kind, _, _) => return Err(format!("{path}: cannot {kind} there")),
        }
    }
    Ok(())
}

/// `crb` (the `what` ClusterRoleBinding) binds ClusterRole `role` to exactly the
/// ServiceAccount `ns`/`sa`.
pub fn check_binding(crb: &ClusterRoleBinding, what: &str, role: &str, ns: &str, sa: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let want_ref = RoleRef {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: "ClusterRole".into(),
        name: role.into(),
    };
    ensure!(
        errs,
        crb.role_ref == want_ref,
        "the {what} ClusterRoleBinding must refer to ClusterRole {role}, got {:?}",
        crb.role_ref
    );
    let want = Subject {
        kind: "ServiceAccount".into(),
        name: sa.into(),
        namespace: Some(ns.into()),
        api_group: None,
    };
    ensure!(
        errs,
        crb.subjects.as_deref() == Some(&[want][..]),
        "the {what} ClusterRoleBinding must bind exactly ServiceAccount {ns}/{sa}, got {:?}",
        crb.subjects
    );
    errs
}
