//! Per-workstation rate limit of the report route: a token bucket per id
//! (`burst` reports at once, then one per `interval`), in a bounded map.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most workstations tracked at once; beyond it idle ones are forgotten
/// (a forgotten one starts with a full bucket, which is what idle means).
const MAX_TRACKED: usize = 100_000;

/// The limiter.
#[derive(Debug)]
pub(crate) struct RateLimit {
    burst: f64,
    interval: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// `burst` reports at once, then one per `interval` (a zero interval turns
    /// the limit off).
    pub fn new(burst: u32, interval: Duration) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            interval,
            buckets: Mutex::default(),
        }
    }

    /// Takes one report's token for `id`; `false` when it has none left.
    pub fn allow(&self, id: &str, now: Instant) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(id) {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        }
        let bucket = buckets.entry(id.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens < 1.0 {
            return false;
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            at: now,
        };
        true
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let earned =
            now.saturating_duration_since(b.at).as_secs_f64() / self.interval.as_secs_f64();
        (b.tokens + earned).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_one_per_interval() {
        let limit = RateLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!((0..3).all(|_| limit.allow("a", t0)));
        assert!(!limit.allow("a", t0), "the fourth at once is refused");
        assert!(
            limit.allow("b", t0),
            "another workstation has its own bucket"
        );
        assert!(!limit.allow("a", t0 + Duration::from_secs(9)));
        assert!(limit.allow("a", t0 + Duration::from_secs(10)));
    }
}
