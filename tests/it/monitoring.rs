//! The monitoring kit: the Prometheus rules (`deploy/monitoring/rules.yaml`), their promtool
//! unit tests (`deploy/monitoring/tests/`), the Grafana dashboard
//! (`deploy/monitoring/dashboard.json`) and the PrometheusRule made from the rules
//! (`deploy/components/monitoring/prometheusrule.yaml`).
//!
//! * promtool (Debian package `prometheus`, which scripts/test.sh installs) checks the rule
//!   file, runs its unit tests, and parses every dashboard query: promtool has no offline
//!   query check, so each becomes the expression of a recording rule in a generated file;
//! * every alert is unit-tested firing and not firing, every recording rule is evaluated,
//!   and every alert carries a severity and the annotations that say what to check;
//! * the PrometheusRule's groups are the rule file's, text and all
//!   (`HEADLESS_DNS_REGENERATE=1 cargo test --test it monitoring::` rewrites it);
//! * a demo server's `/metrics` exports every metric the rules and the dashboard name, and
//!   the label values they select; the dashboard shows every family the server exports.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use headless_dns::admin::client;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use support::deploy::deploy_dir;
use support::dns::{serve_args, wait_synced};

/// Metrics that the kit may name before the server exports them, each with where: rule
/// groups by name, and "dashboard". Only those places, and only that metric, are let off
/// the "exported by the server" check. Once `src/admin/metrics.rs` exports the metric,
/// delete its line: the test fails until then, saying so.
const NOT_YET_EXPORTED: &[(&str, &[&str])] = &[];

/// Where NOT_YET_EXPORTED lets the dashboard's queries off.
const DASHBOARD: &str = "dashboard";

/// What the dashboard's Grafana variables stand for when promtool parses its queries.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "5m"),
    ("$__interval", "1m"),
    ("$__range", "1h"),
    ("$job", "headless-dns"),
    ("$instance", ".*"),
];

fn monitoring_dir() -> PathBuf {
    deploy_dir().join("monitoring")
}

fn prometheus_rule_path() -> PathBuf {
    deploy_dir().join("components/monitoring/prometheusrule.yaml")
}

/// Runs promtool in `deploy/monitoring/`: whether it succeeded, and what it printed.
fn promtool(args: &[&str]) -> (bool, String) {
    let output =
        Command::new("promtool").args(args).current_dir(monitoring_dir()).output().unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install the Debian package `prometheus` (scripts/test.sh does)"
            )
        });
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_yaml(path: &Path) -> Yaml {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn seq(value: &Yaml, key: &str) -> Vec<Yaml> {
    value.get(key).and_then(|v| v.as_sequence()).cloned().unwrap_or_default()
}

fn string(value: &Yaml, key: &str) -> Option<String> {
    value.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

// ---------------------------------------------------------------------------
// The rules and the dashboard, read
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Rule {
    group: String,
    /// The alert's or the recorded series' name.
    name: String,
    alert: bool,
    expr: String,
    labels: Yaml,
    annotations: Yaml,
}

fn rules() -> Vec<Rule> {
    let file = read_yaml(&monitoring_dir().join("rules.yaml"));
    let mut out = Vec::new();
    for group in seq(&file, "groups") {
        let group_name = string(&group, "name").expect("a group has a name");
        for rule in seq(&group, "rules") {
            let alert = string(&rule, "alert");
            out.push(Rule {
                group: group_name.clone(),
                name: alert
                    .clone()
                    .or_else(|| string(&rule, "record"))
                    .expect("a rule is an alert or a record"),
                alert: alert.is_some(),
                expr: string(&rule, "expr").expect("a rule has an expr"),
                labels: rule.get("labels").cloned().unwrap_or(Yaml::Null),
                annotations: rule.get("annotations").cloned().unwrap_or(Yaml::Null),
            });
        }
    }
    out
}

fn dashboard() -> Json {
    let path = monitoring_dir().join("dashboard.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, rows' nested panels included.
fn panels(d: &Json) -> Vec<&Json> {
    fn walk<'a>(list: &'a Json, out: &mut Vec<&'a Json>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

/// Every panel query of the dashboard: (where it is, its PromQL).
fn dashboard_queries(d: &Json) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let what = format!(
                "dashboard panel {} {:?} query {}",
                p["id"],
                p["title"].as_str().unwrap_or(""),
                t["refId"]
            );
            out.push((what, t["expr"].as_str().unwrap_or_default().to_owned()));
        }
    }
    out
}

/// The dashboard's variable queries (`label_values(...)`, not PromQL, but naming metrics).
fn variable_queries(d: &Json) -> Vec<(String, String)> {
    d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let q = v["query"]["query"].as_str().or(v["query"].as_str()).unwrap_or_default();
            (format!("dashboard variable {}", v["name"]), q.to_owned())
        })
        .collect()
}

/// `expr` with the Grafana variables replaced by what promtool can parse.
fn substitute(expr: &str) -> Result<String, String> {
    let mut out = expr.to_owned();
    for (var, value) in GRAFANA_VARIABLES {
        out = out.replace(&format!("${{{}}}", &var[1..]), value).replace(var, value);
    }
    match out.find('$') {
        Some(i) => Err(format!("unknown Grafana variable at {:?}", &out[i..])),
        None => Ok(out),
    }
}

// ---------------------------------------------------------------------------
// PromQL, read just enough: the series an expression selects
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct Selector {
    /// A metric (`headless_dns_...`) or a recorded series (`level:metric:operation`).
    name: String,
    /// (label, operator, value) of the `{...}` right after the name.
    matchers: Vec<(String, String, String)>,
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The end of the string literal starting at `start` (its quote), past the closing quote.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' && quote != '`' { 2 } else { 1 };
    }
    i + 1
}

/// The series `expr` selects by name: identifiers outside strings that start with
/// `headless_dns_` or are recording-rule names (they hold a colon), with their matchers.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
            continue;
        }
        if !ident_char(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && ident_char(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let first = token.chars().next().unwrap();
        if !(first.is_ascii_alphabetic() || first == '_')
            || !(token.starts_with("headless_dns_") || token.contains(':'))
        {
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        let mut matchers = Vec::new();
        if j < chars.len() && chars[j] == '{' {
            let (parsed, end) = parse_matchers(&chars, j);
            matchers = parsed;
            i = end;
        }
        out.push(Selector { name: token, matchers });
    }
    out
}

/// The matchers of the `{...}` starting at `open`, and the index past its `}`.
fn parse_matchers(chars: &[char], open: usize) -> (Vec<(String, String, String)>, usize) {
    let mut out = Vec::new();
    let mut i = open + 1;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '}' {
            return (out, i + 1);
        }
        let start = i;
        while i < chars.len() && ident_char(chars[i]) {
            i += 1;
        }
        let label: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let start = i;
        while i < chars.len() && matches!(chars[i], '=' | '!' | '~') {
            i += 1;
        }
        let op: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || !matches!(chars[i], '"' | '\'' | '`') {
            return (out, i + 1); // not a matcher we understand: stop here
        }
        let end = skip_string(chars, i);
        let raw: String = chars[i + 1..end.saturating_sub(1).max(i + 1)].iter().collect();
        out.push((label, op, raw.replace("\\\"", "\"").replace("\\\\", "\\")));
        i = end;
    }
}

// ---------------------------------------------------------------------------
// What the server exports
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Exported {
    /// Every series name a scrape stores: a counter's `_total`, a histogram's `_bucket`,
    /// `_sum` and `_count`, a gauge's own name (from the `# TYPE` lines, so a family with
    /// no labelled series yet counts too), and every sample's name.
    names: BTreeSet<String>,
    /// Family -> the series names it stores.
    families: BTreeMap<String, BTreeSet<String>>,
    /// Every sample: name and labels.
    samples: Vec<(String, BTreeMap<String, String>)>,
}

impl Exported {
    fn parse(text: &str) -> Self {
        let mut e = Exported::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut words = rest.split_whitespace();
                let (Some(family), Some(kind)) = (words.next(), words.next()) else { continue };
                let names: BTreeSet<String> = match kind {
                    "counter" if family.ends_with("_total") => [family.to_owned()].into(),
                    "counter" => [format!("{family}_total")].into(),
                    "histogram" => {
                        ["_bucket", "_sum", "_count"].iter().map(|s| format!("{family}{s}")).collect()
                    }
                    "summary" => ["", "_sum", "_count"].iter().map(|s| format!("{family}{s}")).collect(),
                    _ => [family.to_owned()].into(),
                };
                e.names.extend(names.iter().cloned());
                e.families.insert(family.to_owned(), names);
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = line[..end].to_owned();
            let mut labels = BTreeMap::new();
            if line[end..].starts_with('{') {
                let chars: Vec<char> = line[end..].chars().collect();
                for (label, _, value) in parse_matchers(&chars, 0).0 {
                    labels.insert(label, value);
                }
            }
            e.names.insert(name.clone());
            e.samples.push((name, labels));
        }
        e
    }

    /// The values `label` takes in the samples of `name`.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<&str> {
        self.samples
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.get(label).map(String::as_str))
            .collect()
    }
}

/// The alternatives of a matcher's value when it is a plain list of words (`a|b|c`), or
/// None for a real regular expression, which is not checked.
fn plain_words(value: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = value.split('|').collect();
    words
        .iter()
        .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)))
        .then_some(words)
}

/// `expr` (from `what`) names only exported metrics, recorded series that a recording rule
/// defines, and label values the server exports; `exempt` metrics are not checked.
fn check_expr(
    what: &str,
    expr: &str,
    exported: &Exported,
    recorded: &BTreeSet<String>,
    exempt: &[&str],
    errs: &mut Vec<String>,
) {
    for s in selectors(expr) {
        if s.name.contains(':') {
            if !recorded.contains(&s.name) {
                errs.push(format!("{what} reads {}, which no recording rule of rules.yaml records", s.name));
            }
            continue;
        }
        if exempt.contains(&s.name.as_str()) {
            continue;
        }
        if !exported.names.contains(&s.name) {
            errs.push(format!("{what} names {}, which the server does not export", s.name));
            continue;
        }
        for (label, op, value) in &s.matchers {
            if value.contains('$') {
                continue; // a Grafana variable
            }
            let Some(words) = plain_words(value) else { continue };
            let values = exported.label_values(&s.name, label);
            for w in words {
                if !values.contains(w) {
                    errs.push(format!(
                        "{what} selects {}{{{label}{op}\"{value}\"}}, but the server exports no {label}=\"{w}\" \
                         for it (it exports {values:?})",
                        s.name
                    ));
                }
            }
        }
    }
}

/// The metrics NOT_YET_EXPORTED lets `place` (a rule group, or DASHBOARD) name.
fn exempt_in<'a>(not_yet: &[(&'a str, &[&str])], place: &str) -> Vec<&'a str> {
    not_yet.iter().filter(|(_, places)| places.contains(&place)).map(|(metric, _)| *metric).collect()
}

/// Everything the rules and the dashboard name against what the server exports, and the
/// dashboard against every exported family.
fn check_kit(
    rules: &[Rule],
    dashboard: &Json,
    exported: &Exported,
    not_yet: &[(&str, &[&str])],
) -> Vec<String> {
    let mut errs = Vec::new();
    let recorded: BTreeSet<String> = rules.iter().filter(|r| !r.alert).map(|r| r.name.clone()).collect();
    for rule in rules {
        let what = format!("rules.yaml group {} rule {}", rule.group, rule.name);
        check_expr(&what, &rule.expr, exported, &recorded, &exempt_in(not_yet, &rule.group), &mut errs);
    }
    let queries: Vec<(String, String)> =
        dashboard_queries(dashboard).into_iter().chain(variable_queries(dashboard)).collect();
    for (metric, places) in not_yet {
        ensure_not_stale(metric, places, rules, &queries, exported, &mut errs);
    }
    let mut shown = BTreeSet::new();
    for (what, expr) in &queries {
        check_expr(what, expr, exported, &BTreeSet::new(), &exempt_in(not_yet, DASHBOARD), &mut errs);
        shown.extend(selectors(expr).into_iter().map(|s| s.name));
    }
    for (family, names) in &exported.families {
        if names.is_disjoint(&shown) {
            errs.push(format!(
                "the dashboard shows nothing of {family} ({names:?}), which the server exports"
            ));
        }
    }
    errs
}

/// An exemption of NOT_YET_EXPORTED is still needed: the metric is not exported, and each
/// place it is let off in names it.
fn ensure_not_stale(
    metric: &str,
    places: &[&str],
    rules: &[Rule],
    queries: &[(String, String)],
    exported: &Exported,
    errs: &mut Vec<String>,
) {
    if exported.names.contains(metric) {
        errs.push(format!(
            "the server exports {metric} now: delete its line from NOT_YET_EXPORTED in tests/it/monitoring.rs, \
             so that {places:?} are checked against the server for it too"
        ));
    }
    let names = |expr: &str| selectors(expr).iter().any(|s| s.name == metric);
    for place in places {
        let named = if *place == DASHBOARD {
            queries.iter().any(|(_, q)| names(q))
        } else {
            rules.iter().any(|r| r.group == *place && names(&r.expr))
        };
        if !named {
            errs.push(format!(
                "NOT_YET_EXPORTED lets off {metric} in {place}, which does not name it: update the line"
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Tests: promtool
// ---------------------------------------------------------------------------

fn unit_test_files() -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(monitoring_dir().join("tests"))
        .expect("deploy/monitoring/tests")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("tests/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no promtool tests in deploy/monitoring/tests/");
    files
}

#[test]
fn promtool_checks_the_rules() {
    let (ok, out) = promtool(&["check", "rules", "rules.yaml"]);
    assert!(ok, "promtool check rules deploy/monitoring/rules.yaml:\n{out}");
}

#[test]
fn promtool_unit_tests_pass() {
    let files = unit_test_files();
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out) = promtool(&args);
    assert!(ok, "promtool test rules {}:\n{out}", files.join(" "));
}

#[test]
fn every_rule_is_unit_tested() {
    let mut fired = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    let mut evaluated = String::new();
    let mut errs = Vec::new();
    for file in unit_test_files() {
        let test = read_yaml(&monitoring_dir().join(&file));
        let rule_files: Vec<String> =
            seq(&test, "rule_files").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        if rule_files != ["../rules.yaml"] {
            errs.push(format!("{file}: rule_files must be [../rules.yaml], got {rule_files:?}"));
        }
        for case in seq(&test, "tests") {
            for t in seq(&case, "alert_rule_test") {
                let name = string(&t, "alertname").unwrap_or_default();
                if seq(&t, "exp_alerts").is_empty() {
                    quiet.insert(name)
                } else {
                    fired.insert(name)
                };
            }
            for t in seq(&case, "promql_expr_test") {
                evaluated.push_str(&string(&t, "expr").unwrap_or_default());
                evaluated.push('\n');
            }
        }
    }
    for rule in rules() {
        if rule.alert {
            if !fired.contains(&rule.name) {
                errs.push(format!("no promtool test has {} firing", rule.name));
            }
            if !quiet.contains(&rule.name) {
                errs.push(format!("no promtool test has {} not firing", rule.name));
            }
        } else if !selectors(&evaluated).iter().any(|s| s.name == rule.name) {
            errs.push(format!("no promtool test evaluates the recording rule {}", rule.name));
        }
    }
    assert!(errs.is_empty(), "deploy/monitoring/tests/:\n  - {}", errs.join("\n  - "));
}

#[test]
fn alerts_say_what_to_check() {
    let mut errs = Vec::new();
    for rule in rules() {
        if !rule.alert {
            ensure_recorded_name(&rule.name, &mut errs);
            continue;
        }
        let name = &rule.name;
        if !name.starts_with("HeadlessDns") {
            errs.push(format!("alert {name}: alert names start with HeadlessDns"));
        }
        let severity = string(&rule.labels, "severity");
        if !matches!(severity.as_deref(), Some("warning" | "critical")) {
            errs.push(format!("alert {name}: severity must be warning or critical, got {severity:?}"));
        }
        let summary = string(&rule.annotations, "summary").unwrap_or_default();
        let description = string(&rule.annotations, "description").unwrap_or_default();
        if summary.trim().is_empty() {
            errs.push(format!("alert {name}: no summary"));
        }
        // What to check: a description that goes beyond the summary, naming a place to look.
        let looks = ["log", "/readyz", "explain", "RBAC", "ClusterRole", "--"];
        if description.len() < 2 * summary.len() || !looks.iter().any(|l| description.contains(l)) {
            errs.push(format!("alert {name}: the description must say what to check (the log, /readyz, explain, RBAC, a flag)"));
        }
    }
    assert!(errs.is_empty(), "deploy/monitoring/rules.yaml:\n  - {}", errs.join("\n  - "));
}

/// A recorded series is named `level:metric:operations`.
fn ensure_recorded_name(name: &str, errs: &mut Vec<String>) {
    let parts: Vec<&str> = name.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) || !parts[1].starts_with("headless_dns_") {
        errs.push(format!("recording rule {name}: name it level:headless_dns_<metric>:operations"));
    }
}

// ---------------------------------------------------------------------------
// Tests: the PrometheusRule
// ---------------------------------------------------------------------------

/// The PrometheusRule as it should read: its own lines down to `spec:`, then the rule file
/// from `groups:` on, indented under `spec`.
fn generated_prometheus_rule(current: &str, rules: &str) -> String {
    let head = current.lines().position(|l| l == "spec:").expect("prometheusrule.yaml has a `spec:` line");
    let mut out: String = current.lines().take(head + 1).map(|l| format!("{l}\n")).collect();
    for line in rules.lines().skip_while(|l| !l.starts_with("groups:")) {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn prometheus_rule_is_the_rule_file() {
    let path = prometheus_rule_path();
    let current = read(&path);
    let rules_text = read(&monitoring_dir().join("rules.yaml"));
    let want = generated_prometheus_rule(&current, &rules_text);
    if current != want {
        if std::env::var_os("HEADLESS_DNS_REGENERATE").is_some() {
            fs::write(&path, &want).unwrap();
            eprintln!("rewrote {} from deploy/monitoring/rules.yaml", path.display());
            return;
        }
        let groups_differ = serde_yaml::from_str::<Yaml>(&current).ok().map(|v| v["spec"]["groups"].clone())
            != serde_yaml::from_str::<Yaml>(&rules_text).ok().map(|v| v["groups"].clone());
        panic!(
            "{} is not deploy/monitoring/rules.yaml's groups ({}): run\n  \
             HEADLESS_DNS_REGENERATE=1 cargo test --test it monitoring::prometheus_rule\nto rewrite it",
            path.display(),
            if groups_differ { "the rules differ" } else { "only comments or layout differ" }
        );
    }
    // Read back as YAML, the generated text is the same groups.
    let spec = read_yaml(&path)["spec"]["groups"].clone();
    assert_eq!(spec, read_yaml(&monitoring_dir().join("rules.yaml"))["groups"]);
}

#[test]
fn prometheus_rule_generation_keeps_the_head_and_indents_the_groups() {
    let current = "# head\nkind: PrometheusRule\nspec:\n  groups: []\n";
    let rules = "# a comment\ngroups:\n  - name: g\n\n    rules: []\n";
    assert_eq!(
        generated_prometheus_rule(current, rules),
        "# head\nkind: PrometheusRule\nspec:\n  groups:\n    - name: g\n\n      rules: []\n"
    );
}

// ---------------------------------------------------------------------------
// Tests: the dashboard
// ---------------------------------------------------------------------------

#[test]
fn dashboard_is_well_formed() {
    let d = dashboard();
    let mut errs = Vec::new();
    let declared: BTreeSet<String> = d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str().map(|n| format!("${n}")))
        .collect();
    for var in ["$datasource", "$job", "$instance"] {
        if !declared.contains(var) {
            errs.push(format!("the dashboard declares no variable {var}"));
        }
    }
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        let title = p["title"].as_str().unwrap_or_default();
        if !ids.insert(p["id"].as_i64()) {
            errs.push(format!("panel {title:?}: id {} is not unique", p["id"]));
        }
        let (x, w) = (p["gridPos"]["x"].as_i64().unwrap_or(-1), p["gridPos"]["w"].as_i64().unwrap_or(0));
        if x < 0 || w <= 0 || x + w > 24 {
            errs.push(format!("panel {title:?}: gridPos {} is outside the 24 columns", p["gridPos"]));
        }
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != "${datasource}" {
            errs.push(format!("panel {title:?}: its datasource must be the ${{datasource}} variable"));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            errs.push(format!("panel {title:?} has no query"));
        }
        let refs: BTreeSet<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
        if refs.len() != targets.len() {
            errs.push(format!("panel {title:?}: every query needs its own refId"));
        }
    }
    for (what, expr) in dashboard_queries(&d) {
        if expr.trim().is_empty() {
            errs.push(format!("{what} is empty"));
        }
        // Every series is the chosen job's and instances'.
        for s in selectors(&expr) {
            let scoped = |label: &str, var: &str| s.matchers.iter().any(|(l, _, v)| l == label && v == var);
            if !(scoped("job", "$job") && scoped("instance", "$instance")) {
                errs.push(format!(
                    "{what}: {} is not limited to job=\"$job\", instance=~\"$instance\"",
                    s.name
                ));
            }
        }
        let vars = expr.match_indices('$').map(|(i, _)| {
            expr[i..]
                .chars()
                .take_while(|c| *c == '$' || c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        });
        for var in vars.filter(|v| !v.starts_with("$__")) {
            if !declared.contains(&var) {
                errs.push(format!("{what} uses {var}, which the dashboard does not declare"));
            }
        }
    }
    assert!(errs.is_empty(), "deploy/monitoring/dashboard.json:\n  - {}", errs.join("\n  - "));
}

#[test]
fn dashboard_queries_are_valid_promql() {
    let queries = dashboard_queries(&dashboard());
    assert!(!queries.is_empty(), "the dashboard has no queries");
    let mut rules = Vec::new();
    let mut legend = Vec::new();
    for (i, (what, expr)) in queries.iter().enumerate() {
        let expr = substitute(expr).unwrap_or_else(|e| panic!("{what}: {e}"));
        let record = format!("dashboard:query_{i}:promql");
        legend.push(format!("{record}: {what}"));
        let mut rule = serde_yaml::Mapping::new();
        rule.insert("record".into(), record.into());
        rule.insert("expr".into(), expr.into());
        rules.push(Yaml::Mapping(rule));
    }
    let mut group = serde_yaml::Mapping::new();
    group.insert("name".into(), "dashboard".into());
    group.insert("rules".into(), Yaml::Sequence(rules));
    let mut file = serde_yaml::Mapping::new();
    file.insert("groups".into(), Yaml::Sequence(vec![Yaml::Mapping(group)]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard-queries.yaml");
    fs::write(&path, serde_yaml::to_string(&file).unwrap()).unwrap();
    let (ok, out) = promtool(&["check", "rules", path.to_str().unwrap()]);
    assert!(ok, "promtool rejects a dashboard query:\n{out}\nwhich is:\n  {}", legend.join("\n  "));
}

#[test]
fn promtool_sees_a_broken_dashboard_query() {
    // The check above is not vacuous: promtool rejects an expression that does not parse.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    fs::write(
        &path,
        "groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: sum by (le (rate(x[5m]))\n",
    )
    .unwrap();
    let (ok, out) = promtool(&["check", "rules", path.to_str().unwrap()]);
    assert!(!ok, "{out}");
}

// ---------------------------------------------------------------------------
// Tests: against a running server
// ---------------------------------------------------------------------------

#[test]
fn selectors_find_metrics_and_matchers_outside_strings() {
    let expr = r#"sum by (rcode) (rate(headless_dns_queries_total{rcode=~"SERVFAIL|REFUSED", job="$job"}[5m]))
        / on (job) instance_rcode:headless_dns_queries:rate5m and label_replace(up, "x", "headless_dns_fake", "", "")
        > 0.5 and headless_dns_synced == 0"#;
    let found = selectors(expr);
    let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["headless_dns_queries_total", "instance_rcode:headless_dns_queries:rate5m", "headless_dns_synced"]
    );
    assert_eq!(
        found[0].matchers,
        [("rcode".into(), "=~".into(), "SERVFAIL|REFUSED".into()), ("job".into(), "=".into(), "$job".into())]
    );
    let exported = Exported::parse(
        "# TYPE headless_dns_queries counter\nheadless_dns_queries_total{qtype=\"A\",rcode=\"SERVFAIL\"} 0\n\
         # TYPE headless_dns_rejected counter\n# TYPE headless_dns_x histogram\nheadless_dns_x_bucket{le=\"+Inf\"} 1\n# EOF\n",
    );
    assert!(exported.names.contains("headless_dns_queries_total"));
    assert!(exported.names.contains("headless_dns_rejected_total"), "a family without series counts");
    assert!(exported.names.contains("headless_dns_x_sum"));
    assert_eq!(exported.label_values("headless_dns_queries_total", "rcode"), BTreeSet::from(["SERVFAIL"]));
}

#[tokio::test]
async fn rules_and_dashboard_name_only_exported_metrics() {
    let args =
        // With an external zone: its metrics have series only then.
        serve_args(&[
            "--manifests",
            support::DEMO,
            "--manifests",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/external"),
            "--external-zone",
            "example.com",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ]);
    let running = headless_dns::app::start(&args).await.expect("server starts");
    wait_synced(running.dns_addrs[0]).await;
    let base = format!("http://{}", running.admin_addr.unwrap());
    let text = tokio::task::spawn_blocking(move || client::get(&base, "/metrics"))
        .await
        .unwrap()
        .expect("GET /metrics");
    running.stop().await.unwrap();
    let exported = Exported::parse(&text);
    assert!(exported.families.len() > 10, "few metric families in\n{text}");

    let (rules, dashboard) = (rules(), dashboard());
    let errs = check_kit(&rules, &dashboard, &exported, NOT_YET_EXPORTED);
    assert!(
        errs.is_empty(),
        "the monitoring kit against the server's /metrics:\n  - {}",
        errs.join("\n  - ")
    );

    // The check is not vacuous: a misspelt metric, a label value the server never exports,
    // a family the dashboard leaves out and a lifted exemption are each reported.
    let mut broken = rules.clone();
    let i = broken.iter().position(|r| r.expr.contains("headless_dns_synced")).unwrap();
    broken[i].expr = broken[i].expr.replace("headless_dns_synced", "headless_dns_sync");
    let errs = check_kit(&broken, &dashboard, &exported, NOT_YET_EXPORTED);
    assert!(
        errs.iter().any(|e| e.contains("headless_dns_sync, which the server does not export")),
        "{errs:?}"
    );

    let mut broken = rules.clone();
    let i = broken.iter().position(|r| r.expr.contains("result=\"timeout\"")).unwrap();
    broken[i].expr = broken[i].expr.replace("result=\"timeout\"", "result=\"timedout\"");
    let errs = check_kit(&broken, &dashboard, &exported, NOT_YET_EXPORTED);
    assert!(errs.iter().any(|e| e.contains("no result=\"timedout\"")), "{errs:?}");

    let mut broken = dashboard.clone();
    let text = serde_json::to_string(&broken)
        .unwrap()
        .replace("headless_dns_ixfr_journal_bytes", "headless_dns_synced");
    broken = serde_json::from_str(&text).unwrap();
    let errs = check_kit(&rules, &broken, &exported, NOT_YET_EXPORTED);
    assert!(errs.iter().any(|e| e.contains("shows nothing of headless_dns_ixfr_journal_bytes")), "{errs:?}");

    // Without its exemption, a metric the server does not export yet is reported.
    for (metric, _) in NOT_YET_EXPORTED {
        let errs = check_kit(&rules, &dashboard, &exported, &[]);
        let says = format!("{metric}, which the server does not export");
        assert!(errs.iter().any(|e| e.contains(&says)), "{errs:?}");
    }
}
