//! The CoreDNS examples (`deploy/coredns/`): the Corefiles hand the cluster domain to
//! headless-dns with a denial cache that keeps its short negative TTLs, and the kube-dns
//! stubDomains point at the same address.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use k8s_openapi::api::core::v1::ConfigMap;
use support::deploy::*;

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

    let cms = only_in!(m, ConfigMap, "coredns");
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

fn read_corefile() -> String {
    let p = deploy_dir().join("coredns").join("Corefile");
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

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
