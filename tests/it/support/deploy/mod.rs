//! The manifests under `deploy/`, parsed, and what their tests share
//! (`tests/it/deploy_*.rs`).
//!
//! Every YAML document below `deploy/` (recursively; `kustomization.yaml` is
//! read separately as a plain `serde_yaml::Value`, and `deploy/monitoring/`, which holds
//! Prometheus rule files rather than Kubernetes objects, is left to `tests/it/monitoring.rs`)
//! is parsed into the matching k8s-openapi type by its `kind`. Unknown kinds are an error,
//! and so is any field the typed object does not know (each document must survive a
//! typed round trip unchanged), which catches misspelt keys that serde would otherwise
//! drop silently. The Prometheus Operator's kinds (PodMonitor, PrometheusRule) have no
//! k8s-openapi type: they are kept as `serde_json::Value`, their metadata typed and the
//! keys of their specs checked against the CRDs' fields.
//!
//! The checks return their findings as a list of errors: [`assert_clean`] requires
//! none, and [`assert_caught`] (the `mutation_*` tests) requires a check to report
//! one value changed in the parsed manifests, so no check is vacuous.

use std::fs;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use serde::Deserialize;

mod accessors;
pub mod base;
pub mod component;

pub use accessors::*;

/// Defaults of the `serve` subcommand that the manifests must agree with.
pub const DEFAULT_ADMIN_PORT: i32 = 8080;
pub const DEFAULT_LAMEDUCK_SECS: i64 = 5;
pub const DEFAULT_PENDING_TTL_SECS: u64 = 1;
pub const DEFAULT_NEGATIVE_TTL_SECS: u64 = 5;
pub const CLUSTER_DOMAIN: &str = "cluster.local";
pub const CLUSTER_ROLE: &str = "headless-dns-reader";
/// The multicluster component's ClusterRole (`deploy/components/multicluster/`).
pub const MULTICLUSTER_ROLE: &str = "headless-dns-multicluster-reader";

/// Directories below `deploy/` that hold no Kubernetes objects: the Prometheus rule file,
/// its promtool tests and the Grafana dashboard (checked by `tests/it/monitoring.rs`).
pub const NOT_MANIFESTS: &[&str] = &["monitoring"];

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub enum Object {
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
    /// `monitoring.coreos.com/v1` PodMonitor (no k8s-openapi type).
    PodMonitor(serde_json::Value),
    /// `monitoring.coreos.com/v1` PrometheusRule (no k8s-openapi type).
    PrometheusRule(serde_json::Value),
}

#[derive(Clone, Debug)]
pub struct Doc {
    pub path: PathBuf,
    /// Directly in `deploy/` (the kustomize base), not in a subdirectory.
    pub in_base: bool,
    /// The directory below `deploy/`, `/`-separated: "" for the base, "sidecar",
    /// "components/multicluster".
    pub dir: String,
    pub obj: Object,
}

#[derive(Clone, Debug)]
pub struct Manifests {
    pub docs: Vec<Doc>,
}

/// Deserialize `value` as `T`, then serialize it back and require the result
/// to equal the input: fields unknown to `T` would otherwise vanish quietly.
pub fn typed<T>(value: serde_yaml::Value, what: &str) -> Result<T, String>
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

/// The fields of the Prometheus Operator's kinds, as their CRDs (monitoring.coreos.com/v1)
/// define them: a misspelt key is an error here, as it is for the typed kinds.
const POD_MONITOR_SPEC: &[&str] = &[
    "attachMetadata",
    "bodySizeLimit",
    "fallbackScrapeProtocol",
    "jobLabel",
    "keepDroppedTargets",
    "labelLimit",
    "labelNameLengthLimit",
    "labelValueLengthLimit",
    "namespaceSelector",
    "nativeHistogramBucketLimit",
    "nativeHistogramMinBucketFactor",
    "podMetricsEndpoints",
    "podTargetLabels",
    "sampleLimit",
    "scrapeClass",
    "scrapeClassicHistograms",
    "scrapeProtocols",
    "selector",
    "selectorMechanism",
    "targetLimit",
];
const POD_METRICS_ENDPOINT: &[&str] = &[
    "authorization",
    "basicAuth",
    "bearerTokenSecret",
    "enableHttp2",
    "filterRunning",
    "followRedirects",
    "honorLabels",
    "honorTimestamps",
    "interval",
    "metricRelabelings",
    "noProxy",
    "oauth2",
    "params",
    "path",
    "port",
    "portNumber",
    "proxyConnectHeader",
    "proxyFromEnvironment",
    "proxyUrl",
    "relabelings",
    "scheme",
    "scrapeTimeout",
    "targetPort",
    "tlsConfig",
    "trackTimestampsStaleness",
];
const PROMETHEUS_RULE_SPEC: &[&str] = &["groups"];
const RULE_GROUP: &[&str] =
    &["name", "interval", "rules", "limit", "partial_response_strategy", "query_offset", "labels"];
const RULE: &[&str] = &["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"];

/// The keys of the mapping `value` (at `path`) are all in `allowed`.
fn keys_within(value: &serde_yaml::Value, allowed: &[&str], path: &str) -> Result<(), String> {
    let map = value.as_mapping().ok_or_else(|| format!("{path} is not a mapping"))?;
    for key in map.keys() {
        let key = key.as_str().unwrap_or("<not a string>");
        if !allowed.contains(&key) {
            return Err(format!("{path}: unknown field {key:?} (known: {allowed:?})"));
        }
    }
    Ok(())
}

/// The items of the sequence at `value[key]`, if any.
fn items<'a>(value: &'a serde_yaml::Value, key: &str) -> &'a [serde_yaml::Value] {
    value.get(key).and_then(|v| v.as_sequence()).map_or(&[], |s| s.as_slice())
}

/// A Prometheus Operator object: `monitoring.coreos.com/v1`, typed metadata, and a spec
/// whose keys the CRD knows.
fn operator_object(value: serde_yaml::Value, what: &str) -> Result<serde_json::Value, String> {
    keys_within(&value, &["apiVersion", "kind", "metadata", "spec"], what)?;
    let api_version = value.get("apiVersion").and_then(|v| v.as_str());
    if api_version != Some("monitoring.coreos.com/v1") {
        return Err(format!("{what}: apiVersion must be monitoring.coreos.com/v1, got {api_version:?}"));
    }
    let metadata = value.get("metadata").cloned().ok_or_else(|| format!("{what}: no metadata"))?;
    typed::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
        metadata,
        &format!("{what} metadata"),
    )?;
    let spec = value.get("spec").ok_or_else(|| format!("{what}: no spec"))?;
    match value.get("kind").and_then(|k| k.as_str()) {
        Some("PodMonitor") => {
            keys_within(spec, POD_MONITOR_SPEC, &format!("{what} spec"))?;
            for (i, e) in items(spec, "podMetricsEndpoints").iter().enumerate() {
                keys_within(e, POD_METRICS_ENDPOINT, &format!("{what} spec.podMetricsEndpoints[{i}]"))?;
            }
        }
        _ => {
            keys_within(spec, PROMETHEUS_RULE_SPEC, &format!("{what} spec"))?;
            for (i, g) in items(spec, "groups").iter().enumerate() {
                keys_within(g, RULE_GROUP, &format!("{what} spec.groups[{i}]"))?;
                for (j, r) in items(g, "rules").iter().enumerate() {
                    keys_within(r, RULE, &format!("{what} spec.groups[{i}].rules[{j}]"))?;
                }
            }
        }
    }
    serde_yaml::from_value(value).map_err(|e| format!("{what}: {e}"))
}

/// Parse every document of a multi-document YAML text.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<Object>, String> {
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
            "PodMonitor" => Object::PodMonitor(operator_object(value, &what)?),
            "PrometheusRule" => Object::PrometheusRule(operator_object(value, &what)?),
            other => return Err(format!("{what}: unknown kind {other:?}")),
        };
        out.push(obj);
    }
    Ok(out)
}

pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    let deploy = deploy_dir();
    for p in entries {
        if p.is_dir() {
            if NOT_MANIFESTS.iter().any(|d| p == deploy.join(d)) {
                continue;
            }
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
            && p.file_name().and_then(|n| n.to_str()) != Some("kustomization.yaml")
        {
            out.push(p);
        }
    }
}

pub fn load() -> Manifests {
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
        let below = path.parent().and_then(|p| p.strip_prefix(&dir).ok()).expect("below deploy/");
        let rel: Vec<&str> = below.iter().filter_map(|c| c.to_str()).collect();
        let rel = rel.join("/");
        docs.extend(objs.into_iter().map(|obj| Doc { path: path.clone(), in_base, dir: rel.clone(), obj }));
    }
    Manifests { docs }
}

/// The Prometheus Operator objects of `kind` ("PodMonitor", "PrometheusRule") in `dir`
/// below `deploy/`.
pub fn operator_objects<'a>(m: &'a Manifests, kind: &str, dir: &str) -> Vec<&'a serde_json::Value> {
    m.docs
        .iter()
        .filter(|d| d.dir == dir)
        .filter_map(|d| match (&d.obj, kind) {
            (Object::PodMonitor(x), "PodMonitor") | (Object::PrometheusRule(x), "PrometheusRule") => Some(x),
            _ => None,
        })
        .collect()
}

pub fn load_kustomization() -> serde_yaml::Value {
    load_kustomization_in("")
}

/// The `kustomization.yaml` of `dir` below `deploy/` ("" for the base, or e.g.
/// "components/monitoring").
pub fn load_kustomization_in(dir: &str) -> serde_yaml::Value {
    let path = deploy_dir().join(dir).join("kustomization.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

pub fn assert_clean(what: &str, errs: Vec<String>) {
    assert!(errs.is_empty(), "{what}:\n  - {}", errs.join("\n  - "));
}

/// Apply `mutate` to a fresh copy and require `check` to report something
/// containing `needle`.
pub fn assert_caught(
    mutate: impl FnOnce(&mut Manifests),
    check: fn(&Manifests) -> Vec<String>,
    needle: &str,
) {
    let mut m = load();
    assert_clean("unmutated", check(&m));
    mutate(&mut m);
    let errs = check(&m);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "mutation not reported (wanted an error containing {needle:?}); got {errs:?}"
    );
}

/// The memory request and limit the sizing table of docs/running-in-a-cluster.md gives
/// `manifest` (the one place they are decided).
pub fn sizing(manifest: &str) -> (String, String) {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/running-in-a-cluster.md"))
        .unwrap();
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| `{manifest}` |")))
        .unwrap_or_else(|| panic!("docs/running-in-a-cluster.md's sizing table has no row for {manifest}"));
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    let [.., request, limit] = cells[..] else { panic!("a sizing row ends with request and limit: {row}") };
    (request.to_owned(), limit.to_owned())
}
