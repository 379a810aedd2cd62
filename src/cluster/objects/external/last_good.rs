//! Bad input does not take a name away: when a new version of a Service's annotation
//! cannot be used at all (every hostname invalid, a `ttl` that is not a duration, ...),
//! the value its previous version had keeps being served, and the problem says so.

use super::{ExternalSpec, ExternalSpecFields};

/// What [`ExternalProblem::reason`](super::ExternalProblem) gets when the previous value
/// is kept.
const KEPT: &str = "; the previous value is served";

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
