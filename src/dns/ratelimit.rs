//! Optional response rate limiting (`--rate-limit QPS`, off by default), per client prefix.
//!
//! UDP answers to one /24 (IPv4) or /56 (IPv6) beyond QPS per second (with a one-second
//! burst) are not sent as is: every second one is an empty TC=1 reply, so a real client
//! retries over TCP, and the rest are dropped. A spoofed-source flood can therefore not turn
//! the server into an amplifier aimed at a victim. TCP is not limited (it cannot be spoofed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// What to do with one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Send,
    /// Send an empty TC=1 reply instead.
    Slip,
    /// Send nothing.
    Drop,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    limited: u64,
}

/// Token buckets per client prefix.
pub struct RateLimiter {
    qps: f64,
    buckets: Mutex<HashMap<[u8; 8], Bucket>>,
}

/// Prefixes tracked at most; beyond that the table is emptied (every prefix starts full).
const MAX_PREFIXES: usize = 100_000;

impl RateLimiter {
    /// A limiter allowing `qps` answers per second per prefix.
    pub fn new(qps: u32) -> Self {
        Self { qps: f64::from(qps.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    fn prefix(ip: IpAddr) -> [u8; 8] {
        let mut key = [0u8; 8];
        match ip {
            IpAddr::V4(v4) => key[..3].copy_from_slice(&v4.octets()[..3]),
            IpAddr::V6(v6) => {
                key[..7].copy_from_slice(&v6.octets()[..7]);
                key[7] = 6;
            }
        }
        key
    }

    /// Whether an answer to `client` may be sent now.
    pub fn check(&self, client: IpAddr, now: Instant) -> Verdict {
        let Ok(mut buckets) = self.buckets.lock() else { return Verdict::Send };
        if buckets.len() >= MAX_PREFIXES {
            buckets.clear();
        }
        let bucket =
            buckets.entry(Self::prefix(client)).or_insert(Bucket { tokens: self.qps, last: now, limited: 0 });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.qps).min(self.qps);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Send;
        }
        bucket.limited += 1;
        if bucket.limited % 2 == 1 { Verdict::Slip } else { Verdict::Drop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_per_prefix_and_refills() {
        let limiter = RateLimiter::new(5);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let same_prefix: IpAddr = "192.0.2.99".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let sent = (0..5).filter(|_| limiter.check(a, now) == Verdict::Send).count();
        assert_eq!(sent, 5);
        assert_eq!(limiter.check(same_prefix, now), Verdict::Slip, "the /24 shares the budget");
        assert_eq!(limiter.check(a, now), Verdict::Drop);
        assert_eq!(limiter.check(other, now), Verdict::Send, "other prefixes are unaffected");
        assert_eq!(limiter.check(a, now + Duration::from_millis(400)), Verdict::Send, "refilled");
    }
}
