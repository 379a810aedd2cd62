//! The kustomize base's Deployment and what goes with it (`check_base`): arguments and
//! ports against the server's defaults, probes, the pod's security context, resources and
//! grace period, spreading, and the Service and PodDisruptionBudget selecting its pods.

use crate::support;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use support::deploy::base::check_base;
use support::deploy::*;

#[test]
fn base_manifests_match_the_binary() {
    assert_clean("deploy/ base", check_base(&load()));
}

// ---------------------------------------------------------------------------
// Mutation tests: each check reports a broken manifest
// ---------------------------------------------------------------------------

fn base_deployment(m: &mut Manifests) -> &mut Deployment {
    m.docs
        .iter_mut()
        .filter(|d| d.in_base)
        .find_map(|d| match &mut d.obj {
            Object::Deployment(x) => Some(x),
            _ => None,
        })
        .expect("base Deployment")
}

fn base_container(m: &mut Manifests) -> &mut Container {
    let pod = base_deployment(m).spec.as_mut().unwrap().template.spec.as_mut().unwrap();
    pod.containers.iter_mut().find(|c| c.name == "headless-dns").expect("headless-dns container")
}

#[test]
fn mutation_probe_paths_and_port() {
    assert_caught(
        |m| {
            let c = base_container(m);
            c.readiness_probe.as_mut().unwrap().http_get.as_mut().unwrap().path = Some("/healthz".into());
        },
        check_base,
        "readinessProbe",
    );
    assert_caught(
        |m| {
            let c = base_container(m);
            c.liveness_probe.as_mut().unwrap().http_get.as_mut().unwrap().port = IntOrString::Int(8080);
        },
        check_base,
        "livenessProbe",
    );
}

#[test]
fn mutation_admin_port_and_listen_address() {
    assert_caught(
        |m| {
            let c = base_container(m);
            c.ports
                .as_mut()
                .unwrap()
                .iter_mut()
                .find(|p| p.name.as_deref() == Some("admin"))
                .unwrap()
                .container_port = 9090;
        },
        check_base,
        "admin containerPort",
    );
    assert_caught(
        |m| {
            let args = base_container(m).args.as_mut().unwrap();
            let i = args.iter().position(|a| a == "--listen").unwrap();
            args[i + 1] = "0.0.0.0:5353".into();
        },
        check_base,
        "--listen",
    );
    assert_caught(
        |m| {
            let c = base_container(m);
            c.ports
                .as_mut()
                .unwrap()
                .iter_mut()
                .find(|p| p.name.as_deref() == Some("dns"))
                .unwrap()
                .protocol = Some("TCP".into());
        },
        check_base,
        "port dns must be UDP",
    );
}

#[test]
fn mutation_multicluster_zone_in_base() {
    // The base's ClusterRole does not grant the MCS kinds: the zone is the component's.
    assert_caught(
        |m| {
            base_container(m)
                .args
                .as_mut()
                .unwrap()
                .extend(["--multicluster-zone".into(), "clusterset.local".into()])
        },
        check_base,
        "must not set --multicluster-zone",
    );
}

#[test]
fn mutation_security_context() {
    assert_caught(
        |m| {
            base_container(m).security_context.as_mut().unwrap().capabilities.as_mut().unwrap().add =
                Some(vec!["NET_BIND_SERVICE".into(), "NET_ADMIN".into()])
        },
        check_base,
        "capabilities.add",
    );
    assert_caught(
        |m| base_container(m).security_context.as_mut().unwrap().read_only_root_filesystem = Some(false),
        check_base,
        "readOnlyRootFilesystem",
    );
    assert_caught(
        |m| {
            let d = base_deployment(m);
            let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            pod.security_context.as_mut().unwrap().run_as_non_root = None;
            pod.containers[0].security_context.as_mut().unwrap().run_as_non_root = Some(false);
        },
        check_base,
        "runAsNonRoot",
    );
    assert_caught(
        |m| {
            let pod = base_deployment(m).spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            pod.security_context.as_mut().unwrap().sysctls = None;
        },
        check_base,
        "ip_unprivileged_port_start",
    );
}

#[test]
fn mutation_replicas_resources_and_grace() {
    assert_caught(
        |m| base_deployment(m).spec.as_mut().unwrap().replicas = Some(1),
        check_base,
        "replicas must be 2",
    );
    assert_caught(
        |m| {
            let r = base_container(m).resources.as_mut().unwrap();
            r.limits
                .as_mut()
                .unwrap()
                .insert("cpu".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into()));
        },
        check_base,
        "no CPU limit",
    );
    assert_caught(
        |m| {
            base_deployment(m)
                .spec
                .as_mut()
                .unwrap()
                .template
                .spec
                .as_mut()
                .unwrap()
                .termination_grace_period_seconds = Some(5)
        },
        check_base,
        "terminationGracePeriodSeconds",
    );
}

#[test]
fn mutation_selectors() {
    // Change the pod labels: the PDB and Service no longer select the pods.
    assert_caught(
        |m| {
            let d = base_deployment(m);
            let spec = d.spec.as_mut().unwrap();
            let relabel = |l: &mut BTreeMap<String, String>| {
                for v in l.values_mut() {
                    v.push_str("-x");
                }
            };
            relabel(spec.template.metadata.as_mut().unwrap().labels.as_mut().unwrap());
            relabel(spec.selector.match_labels.as_mut().unwrap());
        },
        check_base,
        "PDB selector",
    );
    assert_caught(
        |m| {
            for d in m.docs.iter_mut().filter(|d| d.in_base) {
                if let Object::Service(s) = &mut d.obj {
                    s.spec.as_mut().unwrap().selector.as_mut().unwrap().insert("tier".into(), "other".into());
                }
            }
        },
        check_base,
        "Service selector",
    );
}

/// A `RUST_LOG` replaces the whole built-in filter: the one the manifests and the sample
/// config show must be that filter, or a copy brings back the kube client's per-request
/// error lines (a log flood while the API server is away).
#[test]
fn the_log_filter_shown_in_manifests_and_config_is_the_built_in_one() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = headless_dns::telemetry::DEFAULT_FILTER;
    let mut shown = 0;
    for file in ["deploy/deployment.yaml", "deploy/sidecar/statefulset.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, _) in lines.iter().enumerate().filter(|(_, l)| l.contains("name: RUST_LOG")) {
            let value = lines[i + 1].trim().trim_start_matches('#').trim();
            assert_eq!(value.strip_prefix("value: "), Some(default), "{file}: {value}");
            shown += 1;
        }
    }
    assert_eq!(shown, 2, "each manifest shows the filter");
    let config = std::fs::read_to_string(root.join("config/headless-dns.toml")).unwrap();
    let comment: String = config
        .lines()
        .skip_while(|l| !l.contains("RUST_LOG"))
        .take(3)
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("");
    assert!(comment.contains(&format!("({default})")), "{comment}");
}
