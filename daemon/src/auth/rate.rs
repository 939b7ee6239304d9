//! Per-token rate limits on changes: a token bucket per caller name, so one
//! runaway script cannot flood the Raft log while others keep working.
//!
//! Each caller may make `burst` changes at once and `per_second` more every
//! second after that; beyond, the API answers 429 `rate_limited` with a
//! `Retry-After`. Reads are not limited, nor is the admin token (it
//! operates the cluster and drives the benchmarks). Buckets are keyed by
//! the token's name, of which there are at most a few hundred (the tokens
//! file's limit), so the map stays small.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default changes per second per token.
pub const DEFAULT_PER_SECOND: u32 = 50;
/// Default burst per token.
pub const DEFAULT_BURST: u32 = 100;

/// Token buckets by caller name.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_second` changes a second after a burst of `burst` (both ≥ 1).
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one change from `caller`'s bucket at `now`; when it is empty,
    /// how long until it holds one again.
    pub fn take(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_caller() {
        let limiter = RateLimiter::new(2, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", start).is_ok());
        }
        let wait = limiter.take("a", start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another caller has a bucket of its own.
        assert!(limiter.take("b", start).is_ok());
        // Half a second later one more change fits, and only one.
        let later = start + Duration::from_millis(500);
        assert!(limiter.take("a", later).is_ok());
        assert!(limiter.take("a", later).is_err());
        // A long pause refills to the burst, not beyond.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.take("a", much_later).is_ok());
        }
        assert!(limiter.take("a", much_later).is_err());
    }
}
