//! Static checks of the Kubernetes manifests under `deploy/`.
//!
//! Every YAML document below `deploy/` is parsed into the matching k8s-openapi type by its
//! `kind` (`tests/it/support/deploy/`); this file tests that parser. The checks then compare
//! the manifests with what the binary does, one concern a file:
//!
//! * `deploy_rbac_kustomize.rs`: the ClusterRole is exactly the read-only set headless-dns
//!   needs, it is bound to the Deployment's ServiceAccount, and `kustomization.yaml`
//!   lists the base;
//! * `deploy_deployment.rs`: the probes hit /healthz and /readyz on the admin port, the
//!   container ports agree with `--listen` / `--admin`, the pod is locked down, and the
//!   selectors of the Service and PodDisruptionBudget really select the Deployment's pods;
//! * `deploy_components.rs`: the optional kustomize components (`deploy/components/`):
//!   the multicluster RBAC and argument, the PodMonitor and the PrometheusRule;
//! * `deploy_sidecar.rs`: the sidecar example (`deploy/sidecar/`);
//! * `deploy_coredns.rs`: the CoreDNS Corefiles and the kube-dns stubDomains.
//!
//! The `mutation_*` tests change one value in the parsed manifests and
//! assert that the corresponding check reports it, so no check is vacuous.

use crate::support;

use std::collections::BTreeSet;

use support::deploy::*;

#[test]
fn every_document_parses_into_its_type() {
    let m = load();
    // The base has one of each core object; the examples and components add the rest.
    let kinds: BTreeSet<&str> = m
        .docs
        .iter()
        .map(|d| match d.obj {
            Object::ClusterRole(_) => "ClusterRole",
            Object::ClusterRoleBinding(_) => "ClusterRoleBinding",
            Object::RoleBinding(_) => "RoleBinding",
            Object::Deployment(_) => "Deployment",
            Object::StatefulSet(_) => "StatefulSet",
            Object::Service(_) => "Service",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Object::Namespace(_) => "Namespace",
            Object::ConfigMap(_) => "ConfigMap",
            Object::PodMonitor(_) => "PodMonitor",
            Object::PrometheusRule(_) => "PrometheusRule",
        })
        .collect();
    for k in [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "Namespace",
        "PodMonitor",
        "PrometheusRule",
    ] {
        assert!(kinds.contains(k), "no {k} found under deploy/");
    }
}

#[test]
fn parser_rejects_unknown_kinds_and_fields() {
    let err =
        parse_documents("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\n", "inline")
            .expect_err("Ingress must be rejected");
    assert!(err.contains("unknown kind"), "{err}");

    let err = parse_documents(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  namespce: typo\n",
        "inline",
    )
    .expect_err("misspelt field must be rejected");
    assert!(err.contains("round trip"), "{err}");

    let err = parse_documents("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: x\n", "inline")
        .expect_err("wrong apiVersion must be rejected");
    assert!(err.contains("Deployment"), "{err}");

    // The Prometheus Operator's kinds: their specs' keys are the CRDs' fields.
    let err = parse_documents(
        "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: x\nspec:\n  podMetricsEndpoints:\n    - port: admin\n      paht: /metrics\n",
        "inline",
    )
    .expect_err("misspelt PodMonitor field must be rejected");
    assert!(err.contains("unknown field \"paht\""), "{err}");
    let err = parse_documents(
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: x\nspec:\n  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up\n          annotation: {}\n",
        "inline",
    )
    .expect_err("misspelt PrometheusRule field must be rejected");
    assert!(err.contains("unknown field \"annotation\""), "{err}");
    let err = parse_documents(
        "apiVersion: monitoring.coreos.com/v1alpha1\nkind: PodMonitor\nmetadata:\n  name: x\nspec: {}\n",
        "inline",
    )
    .expect_err("wrong apiVersion must be rejected");
    assert!(err.contains("monitoring.coreos.com/v1"), "{err}");

    // Multi-document input with an empty document in between.
    let ok = parse_documents(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\n# nothing\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
        "inline",
    )
    .expect("valid multi-document input");
    assert_eq!(ok.len(), 2);
}
