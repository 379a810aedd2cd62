//! How a watcher lives with an API server that fails: exponential backoff with jitter
//! between attempts (at least what a 429's `Retry-After` asks), reset only by real
//! progress (a complete list, or a change after it), and a log that says what happens
//! without a line per attempt: one warning when a kind starts failing, a summary while it
//! keeps failing, one line when it really recovers.
//!
//! *Why our own:* kube's `default_backoff()` resets on every `Ok` event, and its watcher
//! emits the start-of-list event before the list is attempted, so a server that refuses
//! every list was retried several times a second forever, and "recovered" was logged for
//! every attempt. client-go's reflector backs off from 800 ms to 30 s; this does the same.

use std::time::Duration;

use kube::runtime::watcher;
use tokio::time::Instant;

use crate::cluster::Kind;

/// The first wait after a failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a kind that keeps failing is summarized in the log.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Exponential backoff with jitter: doubling from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`],
/// each wait drawn between 80 % and 120 % of the nominal one, so that replicas and kinds
/// that failed together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    nominal: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { nominal: FIRST_BACKOFF }
    }
}

impl Backoff {
    /// The next wait, at least `floor` (a `Retry-After`).
    pub fn next(&mut self, floor: Duration) -> Duration {
        let nominal = self.nominal;
        self.nominal = (self.nominal * 2).min(MAX_BACKOFF);
        let jittered = nominal.mul_f64(0.8 + 0.4 * rand::random::<f64>());
        jittered.min(MAX_BACKOFF).max(floor)
    }

    /// Back to the first wait (after real progress).
    pub fn reset(&mut self) {
        self.nominal = FIRST_BACKOFF;
    }
}

/// What the API server's answer to a failed attempt asks us to wait at least: a 429's
/// `Retry-After` (API Priority and Fairness), else nothing.
pub fn retry_after(error: &watcher::Error) -> Duration {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status))
        | watcher::Error::WatchError(status) => status,
        _ => return Duration::ZERO,
    };
    match (status.code, &status.details) {
        (429, Some(details)) if details.retry_after_seconds > 0 => {
            Duration::from_secs(u64::from(details.retry_after_seconds))
        }
        (429, _) => FIRST_BACKOFF,
        _ => Duration::ZERO,
    }
}

/// The HTTP status of a failed attempt, or what failed instead, for the metrics' `code`.
pub fn error_code(error: &watcher::Error) -> &'static str {
    let status = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(status) => status.code,
            _ => return "connection",
        },
        watcher::Error::WatchError(status) => status.code,
        watcher::Error::NoResourceVersion => return "protocol",
    };
    match status {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        410 => "410",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "other",
    }
}

/// One watcher's failure state, for the log.
#[derive(Debug, Default)]
pub struct Health {
    /// Since when it fails, how many attempts failed, and when it was last summarized.
    failing: Option<(Instant, u64, Instant)>,
}

impl Health {
    /// An attempt failed: the first failure warns, a summary every [`SUMMARY_EVERY`]
    /// after it; each attempt is a debug line.
    pub fn failed(&mut self, kind: Kind, scope: &str, error: &watcher::Error) {
        let now = Instant::now();
        let kind = kind.noun();
        match &mut self.failing {
            None => {
                tracing::warn!(%error, "{kind} watch ({scope}) failed: serving the last known state, retrying with backoff");
                self.failing = Some((now, 1, now));
            }
            Some((since, attempts, summarized)) => {
                *attempts += 1;
                tracing::debug!(%error, attempts = *attempts, "{kind} watch ({scope}) still failing");
                if now.duration_since(*summarized) >= SUMMARY_EVERY {
                    let seconds = now.duration_since(*since).as_secs();
                    tracing::warn!(
                        %error,
                        "{kind} watch ({scope}) still failing: {attempts} attempts in {seconds} s; serving the last known state"
                    );
                    *summarized = now;
                }
            }
        }
    }

    /// Real progress (a complete list, or a change): one line if it was failing.
    pub fn progressed(&mut self, kind: Kind, scope: &str) {
        if let Some((since, attempts, _)) = self.failing.take() {
            let seconds = since.elapsed().as_secs();
            tracing::info!(
                "{} watch ({scope}) recovered after {attempts} failed attempts in {seconds} s",
                kind.noun()
            );
        }
    }

    /// Whether the last attempt failed and nothing succeeded since.
    pub fn is_failing(&self) -> bool {
        self.failing.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_to_thirty_seconds_and_honours_a_floor() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next(Duration::ZERO)).collect();
        for (i, wait) in waits.iter().enumerate() {
            let nominal = (FIRST_BACKOFF * 2u32.pow(i as u32)).min(MAX_BACKOFF);
            assert!(
                *wait >= nominal.mul_f64(0.8) && *wait <= nominal.mul_f64(1.2).min(MAX_BACKOFF),
                "{i}: {wait:?}"
            );
        }
        assert_eq!(backoff.next(Duration::from_secs(90)), Duration::from_secs(90), "Retry-After wins");
        backoff.reset();
        assert!(backoff.next(Duration::ZERO) <= FIRST_BACKOFF.mul_f64(1.2));
    }

    #[test]
    fn a_429_asks_for_its_retry_after() {
        let status = |code: u16, retry: u32| {
            let mut status = kube::core::Status::failure("slow down", "TooManyRequests");
            status.code = code;
            status.details = Some(kube::core::response::StatusDetails {
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                causes: Vec::new(),
                retry_after_seconds: retry,
            });
            Box::new(status)
        };
        let list = |code, retry| watcher::Error::InitialListFailed(kube::Error::Api(status(code, retry)));
        assert_eq!(retry_after(&list(429, 7)), Duration::from_secs(7));
        assert_eq!(retry_after(&list(429, 0)), FIRST_BACKOFF);
        assert_eq!(retry_after(&list(500, 7)), Duration::ZERO);
        assert_eq!((error_code(&list(429, 7)), error_code(&list(503, 0))), ("429", "503"));
        assert_eq!(error_code(&watcher::Error::NoResourceVersion), "protocol");
    }
}
