//! Accessors of the parsed manifests and the checks of a headless-dns container that
//! the Deployment and the sidecar share.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

macro_rules! only {
    ($m:expr, $variant:ident, $in_base:expr) => {{
        let found: Vec<&$variant> = $m
            .docs
            .iter()
            .filter(|d| $in_base.map_or(true, |b: bool| d.in_base == b))
            .filter_map(|d| match &d.obj {
                Object::$variant(x) => Some(x),
                _ => None,
            })
            .collect();
        found
    }};
}
pub(crate) use only;

/// The objects of one kind in one directory below `deploy/` (`Doc::dir`).
#[allow(unused_macros)]
macro_rules! only_in {
    ($m:expr, $variant:ident, $dir:expr) => {{
        let found: Vec<&$variant> = $m
            .docs
            .iter()
            .filter(|d| d.dir == $dir)
            .filter_map(|d| match &d.obj {
                Object::$variant(x) => Some(x),
                _ => None,
            })
            .collect();
        found
    }};
}
#[allow(unused_imports)]
pub(crate) use only_in;

macro_rules! ensure {
    ($errs:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $errs.push(format!($($fmt)+));
        }
    };
}
pub(crate) use ensure;

pub fn one<'a, T>(items: Vec<&'a T>, what: &str, errs: &mut Vec<String>) -> Option<&'a T> {
    if items.len() == 1 {
        Some(items[0])
    } else {
        errs.push(format!("expected exactly one {what}, found {}", items.len()));
        None
    }
}

pub fn labels_of_pod_spec_template(
    meta: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
) -> BTreeMap<String, String> {
    meta.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default()
}

/// `selector` selects a pod with `labels` (matchLabels only; expressions
/// are not used in these manifests and are rejected).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<(), String> {
    if selector.match_expressions.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err("matchExpressions are not supported by this check".into());
    }
    let want = selector.match_labels.clone().unwrap_or_default();
    if want.is_empty() {
        return Err("empty selector".into());
    }
    for (k, v) in &want {
        if labels.get(k) != Some(v) {
            return Err(format!("selector {k}={v} does not match pod labels {labels:?}"));
        }
    }
    Ok(())
}

pub fn map_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Result<(), String> {
    selector_matches(&LabelSelector { match_labels: Some(selector.clone()), match_expressions: None }, labels)
}

/// Value following `flag` in `args` (`--flag VALUE` or `--flag=VALUE`).
pub fn flag_values(args: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
        } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            out.push(v.to_owned());
        }
    }
    out
}

pub fn port_of(addr: &str) -> Option<i32> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

pub fn container_port<'a>(
    c: &'a Container,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerPort> {
    c.ports.as_ref()?.iter().find(|p| p.name.as_deref() == Some(name))
}

pub fn protocol(p: &Option<String>) -> &str {
    p.as_deref().unwrap_or("TCP")
}

/// The headless-dns container of a pod: by name, in containers or (native
/// sidecar) initContainers.
pub fn headless_container(spec: &PodSpec) -> Option<&Container> {
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == "headless-dns")
}

pub fn probe_path_port(p: &Option<k8s_openapi::api::core::v1::Probe>) -> Option<(String, IntOrString)> {
    let h = p.as_ref()?.http_get.as_ref()?;
    Some((h.path.clone().unwrap_or_default(), h.port.clone()))
}

/// The hardened securityContext every headless-dns container must have
/// (container level, falling back to the pod level where Kubernetes does).
pub fn check_security(spec: &PodSpec, c: &Container, ctx: &str, errs: &mut Vec<String>) {
    let pod = spec.security_context.clone().unwrap_or_default();
    let sc = c.security_context.clone().unwrap_or_default();
    ensure!(
        errs,
        sc.run_as_non_root.or(pod.run_as_non_root) == Some(true),
        "{ctx}: runAsNonRoot must be true"
    );
    ensure!(
        errs,
        sc.run_as_user.or(pod.run_as_user) == Some(65532),
        "{ctx}: runAsUser must be 65532, got {:?}",
        sc.run_as_user.or(pod.run_as_user)
    );
    ensure!(errs, sc.read_only_root_filesystem == Some(true), "{ctx}: readOnlyRootFilesystem must be true");
    ensure!(
        errs,
        sc.allow_privilege_escalation == Some(false),
        "{ctx}: allowPrivilegeEscalation must be false"
    );
    ensure!(errs, sc.privileged != Some(true), "{ctx}: must not be privileged");
    let caps = sc.capabilities.clone().unwrap_or_default();
    ensure!(
        errs,
        caps.drop.as_deref() == Some(&["ALL".to_string()][..]),
        "{ctx}: capabilities.drop must be exactly [ALL], got {:?}",
        caps.drop
    );
    ensure!(
        errs,
        caps.add.as_deref() == Some(&["NET_BIND_SERVICE".to_string()][..]),
        "{ctx}: capabilities.add must be exactly [NET_BIND_SERVICE], got {:?}",
        caps.add
    );
    let seccomp = sc.seccomp_profile.or(pod.seccomp_profile).map(|s| s.type_);
    ensure!(
        errs,
        seccomp.as_deref() == Some("RuntimeDefault"),
        "{ctx}: seccompProfile must be RuntimeDefault, got {seccomp:?}"
    );
}

/// A non-root process cannot bind a port below ip_unprivileged_port_start
/// (capabilities.add is not effective without ambient capabilities), so a
/// pod whose headless-dns listens below 1024 must lower it far enough.
pub fn check_unprivileged_port(spec: &PodSpec, listen_port: i32, ctx: &str, errs: &mut Vec<String>) {
    if listen_port >= 1024 {
        return;
    }
    let start = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref())
        .and_then(|s| s.iter().find(|s| s.name == "net.ipv4.ip_unprivileged_port_start"))
        .map(|s| s.value.parse::<i32>());
    match start {
        Some(Ok(v)) => ensure!(
            errs,
            v <= listen_port,
            "{ctx}: net.ipv4.ip_unprivileged_port_start={v} is above the DNS port {listen_port}"
        ),
        Some(Err(e)) => errs.push(format!("{ctx}: ip_unprivileged_port_start is not a number: {e}")),
        None => errs.push(format!(
            "{ctx}: listens on {listen_port} as non-root but sets no net.ipv4.ip_unprivileged_port_start sysctl"
        )),
    }
}

pub fn ns_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}
