//! When a failed model request is sent again.
//!
//! Rate limits (429), server errors (500, 502, 503, 504), Anthropic's
//! "overloaded" (529) and connection failures are retried; every other
//! answer is final. The wait before retry `n` is `first_delay · 2ⁿ⁻¹`,
//! capped at `max_delay`, then jittered down to between half and all of it
//! so that many attempts rate-limited together do not come back together.
//! A server's `retry-after-ms` or `retry-after` (seconds) raises the wait to
//! what it asked, still within `max_delay`. No wait runs past the attempt's
//! time limit: the call gives up instead.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// HTTP statuses worth another try.
const RETRIED: [u16; 6] = [429, 500, 502, 503, 504, 529];

/// A retry schedule. The default is for real APIs; tests use one with
/// millisecond waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Requests sent at most for one call, the first included.
    pub tries: u32,
    /// Wait before the first retry; doubled for each one after it.
    pub first_delay: Duration,
    /// Longest wait between two tries, a server's `retry-after` included.
    pub max_delay: Duration,
}

impl Default for Retry {
    /// Five tries: waits of about 1, 2, 4 and 8 seconds (longer if the
    /// server asks, up to 30).
    fn default() -> Retry {
        Retry {
            tries: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// The wait after `failed` tries (1 for the first failure). `jitter` is
    /// a number in `[0, 1]` (random in production) choosing where between
    /// half and all of the exponential wait it falls; `retry_after` is what
    /// the server asked for, if anything.
    pub fn delay(&self, failed: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        let exponential = self
            .first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let jittered = exponential.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        match retry_after {
            Some(asked) => asked.max(jittered).min(self.max_delay),
            None => jittered,
        }
    }
}

/// Whether an answer with `status` is worth another try.
pub(super) fn is_retried(status: StatusCode) -> bool {
    RETRIED.contains(&status.as_u16())
}

/// The wait a server asked for: `retry-after-ms` (milliseconds, as OpenAI
/// sends) or `retry-after` in seconds. An HTTP date is not understood and
/// leaves the schedule's own wait.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    // Bounded so that a silly value cannot overflow a Duration.
    const MOST_SECONDS: f64 = 86_400.0;
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).min(MOST_SECONDS)))
        .or_else(|| number("retry-after").map(|s| Duration::from_secs_f64(s.min(MOST_SECONDS))))
}
