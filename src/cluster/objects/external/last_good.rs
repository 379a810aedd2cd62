//! Bad input does not take a name away: when a new version of a Service's annotation
//! cannot be used at all (every hostname invalid, a `ttl` that is not a duration, ...),
//! the value its previous version had keeps being served, and the problem says so.

use super::{ExternalProblem, ExternalSpec, ExternalSpecFields};
use crate::cluster::SharedStr;

/// What [`ExternalProblem::reason`](super::ExternalProblem) gets when the previous value
/// is kept.
const KEPT: &str = "; the previous value is served";

impl crate::cluster::objects::Service {
    /// This version of the Service with, in its external spec, the values of `previous`'s
    /// it has no usable replacement for ([`ExternalSpec::keep_last_good`]) and the
    /// hostnames when none of its own is one the external zones at `apexes` publish
    /// ([`ExternalSpec::keep_publishable_hostnames`]); `None` when nothing is kept.
    pub fn with_last_good_external(&self, previous: Option<&Self>, apexes: &[SharedStr]) -> Option<Self> {
        let (previous, new) = (previous?.external.as_deref()?, self.external.as_deref()?);
        if new.problems().is_empty() && apexes.is_empty() {
            return None;
        }
        let mut spec = new.clone();
        let kept_hostnames = spec.keep_publishable_hostnames(previous, apexes);
        let kept_values = !spec.problems().is_empty() && spec.keep_last_good(previous);
        if !kept_hostnames && !kept_values {
            return None;
        }
        let mut service = self.clone();
        service.external = Some(Box::new(spec));
        Some(service)
    }
}

impl ExternalSpec {
    /// Keeps `previous`'s value of each annotation this version has a problem with and no
    /// usable value for. Returns whether anything was kept.
    pub fn keep_last_good(&mut self, previous: &ExternalSpec) -> bool {
        if self.problems().is_empty() {
            return false;
        }
        let mut fields = ExternalSpecFields::from(self.clone());
        let kept = fields.keep_last_good(previous);
        if kept {
            *self = fields.into();
        }
        kept
    }
}

impl ExternalSpecFields {
    fn keep_last_good(&mut self, previous: &ExternalSpec) -> bool {
        let mut kept = false;
        for problem in self.problems.iter_mut() {
            let key = problem.annotation.rsplit('/').next().unwrap_or_default();
            let keep = match key {
                "hostname" if self.hostnames.is_empty() && !previous.hostnames.is_empty() => {
                    self.hostnames = previous.hostnames.clone();
                    true
                }
                "ttl" if self.ttl.is_none() && previous.ttl.is_some() => {
                    self.ttl = previous.ttl;
                    true
                }
                "target" if self.target.is_none() && previous.target().is_some() => {
                    self.target = previous.target().cloned();
                    true
                }
                "endpoints-type" if self.endpoints_type != previous.endpoints_type => {
                    self.endpoints_type = previous.endpoints_type;
                    true
                }
                _ => false,
            };
            if keep && !problem.reason.ends_with(KEPT) {
                // The fallback the parser announced no longer applies.
                let reason = problem.reason.trim_end_matches(": the pod IPs are published");
                problem.reason = format!("{reason}{KEPT}").into();
                kept = true;
            }
        }
        kept
    }
}

impl ExternalSpec {
    /// Keeps `previous`'s hostnames when no hostname of this version is one the served
    /// external zones (`apexes`: lower-cased, without the trailing dot) publish, while one
    /// of `previous`'s was: a zone typed wrong (`kafka.example.org` for `.com`) or the apex
    /// itself would otherwise take every name of the Service off the zone, and resolvers
    /// would cache the NXDOMAIN. Each such hostname becomes a problem saying so. A version
    /// with some publishable hostname is kept as it is (the others are only logged), and
    /// without external zones there is nothing to check. Returns whether it kept them.
    pub fn keep_publishable_hostnames(&mut self, previous: &ExternalSpec, apexes: &[SharedStr]) -> bool {
        if apexes.is_empty() || self.hostnames.is_empty() {
            return false;
        }
        let Some(reasons) =
            self.hostnames.iter().map(|h| unpublishable(h, apexes)).collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        if previous.hostnames.iter().all(|h| unpublishable(h, apexes).is_some()) {
            return false;
        }
        let mut fields = ExternalSpecFields::from(self.clone());
        let mut problems = std::mem::take(&mut fields.problems).into_vec();
        for (hostname, reason) in self.hostnames.iter().zip(reasons) {
            problems.push(ExternalProblem {
                annotation: HOSTNAME.into(),
                value: hostname.clone(),
                reason: format!("{reason}{KEPT}").into(),
            });
        }
        fields.problems = problems.into();
        fields.hostnames = previous.hostnames.clone();
        *self = fields.into();
        true
    }
}

/// What [`ExternalProblem::annotation`] names for a hostname no external zone publishes:
/// found after parsing, against the served zones, when which prefix it had is not kept.
const HOSTNAME: &str = "hostname";

/// Why no external zone of `apexes` publishes `hostname`, or `None` when one does.
fn unpublishable(hostname: &str, apexes: &[SharedStr]) -> Option<String> {
    let above = |apex: &str| super::above_apex(hostname, apex.split('.').map(str::as_bytes));
    if apexes.iter().any(|apex| above(apex).is_some_and(|above| !above.is_empty())) {
        return None;
    }
    let zones = apexes.iter().map(|a| format!("{a}.")).collect::<Vec<_>>().join(", ");
    Some(if apexes.iter().any(|apex| above(apex) == Some("")) {
        format!("the apex of external zone {hostname}., whose records are the zone's own (SOA, NS)")
    } else {
        format!("in no external zone ({zones})")
    })
}
