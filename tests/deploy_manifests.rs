//! Static checks of the Kubernetes manifests under `deploy/`.
//!
//! Every YAML document below `deploy/` (recursively; `kustomization.yaml` is
//! read separately as a plain `serde_yaml::Value`) is parsed into the
//! matching k8s-openapi type by its `kind`. Unknown kinds are an error, and
//! so is any field the typed object does not know (each document must
//! survive a typed round trip unchanged), which catches misspelt keys that
//! serde would otherwise drop silently.
//!
//! The checks then compare the manifests with what the binary does: the
//! ClusterRole is exactly the read-only set headless-dns needs, the probes hit
//! /healthz and /readyz on the admin port, the container ports agree with
//! `--listen` / `--admin`, the pod is locked down, and the selectors of the
//! Service and PodDisruptionBudget really select the Deployment's pods.
//!
//! The `mutation_*` tests change one value in the parsed manifests and
//! assert that the corresponding check reports it, so no check is vacuous.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

/// Defaults of the `serve` subcommand that the manifests must agree with.
const DEFAULT_ADMIN_PORT: i32 = 8080;
const DEFAULT_LAMEDUCK_SECS: i64 = 5;
const DEFAULT_PENDING_TTL_SECS: u64 = 1;
const DEFAULT_NEGATIVE_TTL_SECS: u64 = 5;
const CLUSTER_DOMAIN: &str = "cluster.local";
const CLUSTER_ROLE: &str = "headless-dns-reader";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Object {
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    RoleBinding(RoleBinding),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Service(Service),
    ServiceAccount(ServiceAccount),
    PodDisruptionBudget(PodDisruptionBudget),
    Namespace(Namespace),
    ConfigMap(ConfigMap),
}

#[derive(Clone, Debug)]
struct Doc {
    path: PathBuf,
    /// Directly in `deploy/` (the kustomize base), not in a subdirectory.
    in_base: bool,
    obj: Object,
}

#[derive(Clone, Debug)]
struct Manifests {
    docs: Vec<Doc>,
}

/// Deserialize `value` as `T`, then serialize it back and require the result
/// to equal the input: fields unknown to `T` would otherwise vanish quietly.
fn typed<T>(value: serde_yaml::Value, what: &str) -> Result<T, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let obj: T = serde_yaml::from_value(value.clone()).map_err(|e| format!("{what}: {e}"))?;
    let back = serde_yaml::to_value(&obj).map_err(|e| format!("{what}: re-serialize: {e}"))?;
    if back != value {
        return Err(format!(
            "{what}: typed round trip changed the document (unknown or misspelt field?)\n\
             --- input ---\n{}\n--- as understood ---\n{}",
            serde_yaml::to_string(&value).unwrap_or_default(),
            serde_yaml::to_string(&back).unwrap_or_default()
        ));
    }
    Ok(obj)
}

/// Parse every document of a multi-document YAML text.
fn parse_documents(text: &str, origin: &str) -> Result<Vec<Object>, String> {
    let mut out = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let what = format!("{origin} document #{i}");
        let value = serde_yaml::Value::deserialize(de).map_err(|e| format!("{what}: invalid YAML: {e}"))?;
        if value.is_null() {
            continue; // empty document (e.g. only comments)
        }
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .ok_or_else(|| format!("{what}: no `kind`"))?
            .to_owned();
        let what = format!("{what} ({kind})");
        let obj = match kind.as_str() {
            "ClusterRole" => Object::ClusterRole(typed(value, &what)?),
            "ClusterRoleBinding" => Object::ClusterRoleBinding(typed(value, &what)?),
            "RoleBinding" => Object::RoleBinding(typed(value, &what)?),
            "Deployment" => Object::Deployment(typed(value, &what)?),
            "StatefulSet" => Object::StatefulSet(typed(value, &what)?),
            "Service" => Object::Service(typed(value, &what)?),
            "ServiceAccount" => Object::ServiceAccount(typed(value, &what)?),
            "PodDisruptionBudget" => Object::PodDisruptionBudget(typed(value, &what)?),
            "Namespace" => Object::Namespace(typed(value, &what)?),
            "ConfigMap" => Object::ConfigMap(typed(value, &what)?),
            other => return Err(format!("{what}: unknown kind {other:?}")),
        };
        out.push(obj);
    }
    Ok(out)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            && p.file_name().and_then(|n| n.to_str()) != Some("kustomization.yaml")
        {
            out.push(p);
        }
    }
}

fn load() -> Manifests {
    let dir = deploy_dir();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    assert!(!files.is_empty(), "no YAML files under {}", dir.display());
    let mut docs = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let objs = parse_documents(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!objs.is_empty(), "{}: no documents", path.display());
        let in_base = path.parent() == Some(dir.as_path());
        docs.extend(objs.into_iter().map(|obj| Doc { path: path.clone(), in_base, obj }));
    }
    Manifests { docs }
}

fn load_kustomization() -> serde_yaml::Value {
    let path = deploy_dir().join("kustomization.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------

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

macro_rules! ensure {
    ($errs:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $errs.push(format!($($fmt)+));
        }
    };
}

fn one<'a, T>(items: Vec<&'a T>, what: &str, errs: &mut Vec<String>) -> Option<&'a T> {
    if items.len() == 1 {
        Some(items[0])
    } else {
        errs.push(format!("expected exactly one {what}, found {}", items.len()));
        None
    }
}

fn labels_of_pod_spec_template(
    meta: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
) -> BTreeMap<String, String> {
    meta.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default()
}

/// `selector` selects a pod with `labels` (matchLabels only; expressions
/// are not used in these manifests and are rejected).
fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<(), String> {
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

fn map_matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> Result<(), String> {
    selector_matches(&LabelSelector { match_labels: Some(selector.clone()), match_expressions: None }, labels)
}

/// Value following `flag` in `args` (`--flag VALUE` or `--flag=VALUE`).
fn flag_values(args: &[String], flag: &str) -> Vec<String> {
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

fn port_of(addr: &str) -> Option<i32> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn container_port<'a>(c: &'a Container, name: &str) -> Option<&'a k8s_openapi::api::core::v1::ContainerPort> {
    c.ports.as_ref()?.iter().find(|p| p.name.as_deref() == Some(name))
}

fn protocol(p: &Option<String>) -> &str {
    p.as_deref().unwrap_or("TCP")
}

/// The headless-dns container of a pod: by name, in containers or (native
/// sidecar) initContainers.
fn headless_container(spec: &PodSpec) -> Option<&Container> {
    spec.containers.iter().chain(spec.init_containers.iter().flatten()).find(|c| c.name == "headless-dns")
}

fn probe_path_port(p: &Option<k8s_openapi::api::core::v1::Probe>) -> Option<(String, IntOrString)> {
    let h = p.as_ref()?.http_get.as_ref()?;
    Some((h.path.clone().unwrap_or_default(), h.port.clone()))
}

/// The hardened securityContext every headless-dns container must have
/// (container level, falling back to the pod level where Kubernetes does).
fn check_security(spec: &PodSpec, c: &Container, ctx: &str, errs: &mut Vec<String>) {
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
fn check_unprivileged_port(spec: &PodSpec, listen_port: i32, ctx: &str, errs: &mut Vec<String>) {
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

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn check_cluster_role(cr: &ClusterRole) -> Vec<String> {
    let mut errs = Vec::new();
    ensure!(errs, cr.aggregation_rule.is_none(), "ClusterRole must not aggregate other roles");
    let mut got = BTreeSet::new();
    for (i, r) in cr.rules.iter().flatten().enumerate() {
        ensure!(errs, r.resource_names.is_none(), "rule {i}: unexpected resourceNames");
        ensure!(errs, r.non_resource_urls.is_none(), "rule {i}: unexpected nonResourceURLs");
        ensure!(errs, r.api_groups.as_ref().is_some_and(|g| !g.is_empty()), "rule {i}: no apiGroups");
        ensure!(errs, r.resources.as_ref().is_some_and(|g| !g.is_empty()), "rule {i}: no resources");
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in &r.verbs {
                    got.insert((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    let mut want = BTreeSet::new();
    for (g, res) in [("", "pods"), ("", "services"), ("apps", "statefulsets")] {
        for v in ["get", "list", "watch"] {
            want.insert((g.to_string(), res.to_string(), v.to_string()));
        }
    }
    // The slices of selectorless services: what the watcher does, list and watch.
    for v in ["list", "watch"] {
        want.insert(("discovery.k8s.io".to_string(), "endpointslices".to_string(), v.to_string()));
    }
    // --multicluster-zone: the MCS API's kinds and the cluster id, list and watch.
    for (g, res) in [
        ("multicluster.x-k8s.io", "serviceimports"),
        ("multicluster.x-k8s.io", "serviceexports"),
        ("about.k8s.io", "clusterproperties"),
    ] {
        for v in ["list", "watch"] {
            want.insert((g.to_string(), res.to_string(), v.to_string()));
        }
    }
    let extra: Vec<_> = got.difference(&want).collect();
    let missing: Vec<_> = want.difference(&got).collect();
    ensure!(errs, extra.is_empty(), "ClusterRole grants more than needed: {extra:?}");
    ensure!(errs, missing.is_empty(), "ClusterRole lacks: {missing:?}");
    errs
}

fn ns_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn check_base(m: &Manifests) -> Vec<String> {
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

            // Resources: 128Mi/100m requests, 384Mi memory limit (from the memory benchmarks), no CPU limit.
            let res = c.resources.clone().unwrap_or_default();
            let q =
                |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
                 k: &str| { m.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone()) };
            ensure!(
                errs,
                q(&res.requests, "memory").as_deref() == Some("128Mi"),
                "requests.memory must be 128Mi"
            );
            ensure!(errs, q(&res.requests, "cpu").as_deref() == Some("100m"), "requests.cpu must be 100m");
            ensure!(
                errs,
                q(&res.limits, "memory").as_deref() == Some("384Mi"),
                "limits.memory must be 384Mi"
            );
            ensure!(errs, q(&res.limits, "cpu").is_none(), "there must be no CPU limit");

            let rust_log =
                c.env.iter().flatten().find(|e| e.name == "RUST_LOG").and_then(|e| e.value.clone());
            ensure!(
                errs,
                rust_log.as_deref() == Some("info,hickory_server=warn"),
                "RUST_LOG must be info,hickory_server=warn, got {rust_log:?}"
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

fn check_sidecar(m: &Manifests) -> Vec<String> {
    let mut errs = Vec::new();
    let sub = Some(false);
    let Some(sts) = one(only!(m, StatefulSet, sub), "StatefulSet under deploy/*/", &mut errs) else {
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
    let svc = only!(m, Service, sub)
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
        only!(m, ServiceAccount, sub)
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(sa.as_str()) && ns_of(&s.metadata) == ns),
        "no ServiceAccount {ns}/{sa:?} for the sidecar"
    );
    let role_exists =
        only!(m, ClusterRole, None::<bool>).iter().any(|c| c.metadata.name.as_deref() == Some(CLUSTER_ROLE));
    ensure!(errs, role_exists, "ClusterRole {CLUSTER_ROLE} not found in deploy/");
    let subject = Subject {
        kind: "ServiceAccount".into(),
        name: sa.clone(),
        namespace: Some(ns.clone()),
        api_group: None,
    };
    let good_ref = |r: &RoleRef| {
        r.kind == "ClusterRole" && r.name == CLUSTER_ROLE && r.api_group == "rbac.authorization.k8s.io"
    };
    let bound = only!(m, RoleBinding, sub).iter().any(|rb| {
        rb.metadata.name.as_deref() == Some(CLUSTER_ROLE)
            && ns_of(&rb.metadata) == ns
            && good_ref(&rb.role_ref)
            && rb.subjects.iter().flatten().any(|s| *s == subject)
    }) || only!(m, ClusterRoleBinding, sub)
        .iter()
        .any(|b| good_ref(&b.role_ref) && b.subjects.iter().flatten().any(|s| *s == subject));
    ensure!(
        errs,
        bound,
        "ServiceAccount {ns}/{sa} is not bound to ClusterRole {CLUSTER_ROLE} by a binding named {CLUSTER_ROLE}"
    );
    // A namespaced RoleBinding only works if the sidecar watches only its namespace.
    if only!(m, ClusterRoleBinding, sub).is_empty() {
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

/// The recommended CoreDNS Corefile hands the whole cluster domain to
/// headless-dns (and only the reverse zones of the cluster's networks, never all
/// of in-addr.arpa), the kube-dns stubDomains point at the same address, and the
/// denial cache keeps headless-dns's short negative TTLs.
fn check_coredns(m: &Manifests, corefile: &str) -> Vec<String> {
    let (mut errs, forward_targets) = check_corefile(corefile);
    let whole_zone = corefile
        .lines()
        .map(str::trim)
        .any(|l| l.split_whitespace().next().is_some_and(|z| z.trim_end_matches(":53") == CLUSTER_DOMAIN));
    ensure!(errs, whole_zone, "Corefile: no server block hands the cluster domain to headless-dns");
    errs.extend(check_stub_domains(m, &forward_targets));
    errs
}

/// A Corefile's `forward` targets are IPs and its denial cache keeps the short
/// negative TTLs; it never forwards all reverse names. Returns the targets.
fn check_corefile(corefile: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut errs = Vec::new();
    let mut forward_targets = BTreeSet::new();
    let mut denials = 0;
    for line in corefile.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["forward", ".", targets @ ..] => {
                // `forward . IP {` opens the plugin's options block.
                for t in targets.iter().filter(|t| **t != "{") {
                    if *t != "/etc/resolv.conf" {
                        forward_targets.insert(t.to_string());
                    }
                }
            }
            ["denial", cap, ttl, min] => {
                denials += 1;
                let (cap, ttl, min) = (cap.parse::<u64>(), ttl.parse::<u64>(), min.parse::<u64>());
                ensure!(errs, cap.is_ok(), "Corefile: denial capacity not a number: {line}");
                ensure!(
                    errs,
                    ttl.as_ref().is_ok_and(|t| *t <= DEFAULT_NEGATIVE_TTL_SECS),
                    "Corefile: denial TTL must be <= --negative-ttl ({DEFAULT_NEGATIVE_TTL_SECS}): {line}"
                );
                ensure!(
                    errs,
                    min.as_ref().is_ok_and(|m| *m <= DEFAULT_PENDING_TTL_SECS && *m > 0),
                    "Corefile: denial MINTTL must be 1..={DEFAULT_PENDING_TTL_SECS} to honour --pending-ttl: {line}"
                );
            }
            ["denial", ..] => {
                errs.push(format!("Corefile: denial without MINTTL keeps CoreDNS's 5 s floor: {line}"))
            }
            [zone, .., "{"] if ["in-addr.arpa", "ip6.arpa"].contains(&zone.trim_end_matches(":53")) => errs.push(
                format!("Corefile: every reverse name to headless-dns turns other PTR lookups into NXDOMAIN: {line}"),
            ),
            _ => {}
        }
    }
    ensure!(errs, !forward_targets.is_empty(), "Corefile: no `forward .` to headless-dns");
    ensure!(errs, denials > 0, "Corefile: no denial cache settings");
    for t in &forward_targets {
        ensure!(errs, t.parse::<std::net::IpAddr>().is_ok(), "Corefile: forward target {t} is not an IP");
    }
    (errs, forward_targets)
}

/// The kube-dns stubDomains: strictly below the cluster domain, to the Corefile's targets.
fn check_stub_domains(m: &Manifests, forward_targets: &BTreeSet<String>) -> Vec<String> {
    let mut errs = Vec::new();

    let cms = only!(m, ConfigMap, Some(false));
    let Some(cm) = cms.iter().find(|c| c.metadata.name.as_deref() == Some("kube-dns")) else {
        errs.push("no kube-dns ConfigMap under deploy/coredns/".into());
        return errs;
    };
    ensure!(errs, ns_of(&cm.metadata) == "kube-system", "kube-dns ConfigMap must be in kube-system");
    let raw = cm.data.as_ref().and_then(|d| d.get("stubDomains")).cloned().unwrap_or_default();
    // JSON is valid YAML flow syntax, so serde_yaml reads it.
    match serde_yaml::from_str::<BTreeMap<String, Vec<String>>>(&raw) {
        Err(e) => errs.push(format!("stubDomains is not a JSON map of lists: {e}")),
        Ok(stubs) => {
            ensure!(errs, !stubs.is_empty(), "stubDomains is empty");
            for (domain, servers) in &stubs {
                ensure!(
                    errs,
                    domain != CLUSTER_DOMAIN && domain.ends_with(&format!(".{CLUSTER_DOMAIN}")),
                    "stub domain {domain:?} must be strictly below {CLUSTER_DOMAIN} (kube-dns cannot stub the cluster domain)"
                );
                for s in servers {
                    ensure!(
                        errs,
                        forward_targets.contains(s),
                        "stub server {s} for {domain} differs from the Corefile forward targets {forward_targets:?}"
                    );
                }
            }
        }
    }
    errs
}

fn assert_clean(what: &str, errs: Vec<String>) {
    assert!(errs.is_empty(), "{what}:\n  - {}", errs.join("\n  - "));
}

fn read_corefile() -> String {
    let p = deploy_dir().join("coredns").join("Corefile");
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------
// Tests on the real files
// ---------------------------------------------------------------------------

#[test]
fn every_document_parses_into_its_type() {
    let m = load();
    // The base has one of each core object; the examples add the rest.
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
    ] {
        assert!(kinds.contains(k), "no {k} found under deploy/");
    }
}

#[test]
fn base_manifests_match_the_binary() {
    assert_clean("deploy/ base", check_base(&load()));
}

#[test]
fn kustomization_lists_existing_files() {
    assert_clean("deploy/kustomization.yaml", check_kustomization(&load_kustomization(), &load()));
}

#[test]
fn sidecar_example_is_consistent() {
    assert_clean("deploy/sidecar", check_sidecar(&load()));
}

#[test]
fn coredns_and_kube_dns_examples_are_consistent() {
    assert_clean("deploy/coredns", check_coredns(&load(), &read_corefile()));
}

/// The narrow alternatives and the NodeLocal DNSCache variant forward to the same
/// headless-dns address with the same denial cache.
#[test]
fn narrow_and_nodelocal_corefiles_are_consistent() {
    let (_, main_targets) = check_corefile(&read_corefile());
    for file in ["Corefile.narrow", "nodelocaldns-Corefile"] {
        let p = deploy_dir().join("coredns").join(file);
        let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let (errs, targets) = check_corefile(&text);
        assert_clean(file, errs);
        assert_eq!(targets, main_targets, "{file} forwards elsewhere");
    }
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

/// Apply `mutate` to a fresh copy and require `check` to report something
/// containing `needle`.
fn assert_caught(mutate: impl FnOnce(&mut Manifests), check: fn(&Manifests) -> Vec<String>, needle: &str) {
    let mut m = load();
    assert_clean("unmutated", check(&m));
    mutate(&mut m);
    let errs = check(&m);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "mutation not reported (wanted an error containing {needle:?}); got {errs:?}"
    );
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

#[test]
fn mutation_corefile() {
    let m = load();
    let corefile = read_corefile();
    assert_clean("unmutated", check_coredns(&m, &corefile));
    let errs = check_coredns(&m, &corefile.replace("denial 9984 5 1", "denial 9984 5"));
    assert!(errs.iter().any(|e| e.contains("5 s floor")), "{errs:?}");
    let errs = check_coredns(&m, &corefile.replace("forward . 10.96.0.53", "forward . 10.96.0.54"));
    assert!(errs.iter().any(|e| e.contains("differs from the Corefile")), "{errs:?}");
    let errs = check_coredns(&m, &corefile.replace("\ncluster.local:53 {", "\nsvc.cluster.local:53 {"));
    assert!(errs.iter().any(|e| e.contains("no server block hands the cluster domain")), "{errs:?}");
    let errs = check_coredns(&m, &corefile.replace("10.in-addr.arpa:53 {", "in-addr.arpa:53 {"));
    assert!(errs.iter().any(|e| e.contains("other PTR lookups")), "{errs:?}");
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

    // Multi-document input with an empty document in between.
    let ok = parse_documents(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\n# nothing\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
        "inline",
    )
    .expect("valid multi-document input");
    assert_eq!(ok.len(), 2);
}
