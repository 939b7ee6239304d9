//! Latency summaries from recorded durations.
//!
//! Every operation's duration is kept (a level records at most a few tens
//! of thousands), so percentiles are exact order statistics rather than a
//! histogram's approximation: the p999 of 20,000 samples is the 20th
//! slowest, and nothing is rounded into a bucket.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Percentiles of one set of operations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// How many operations were timed.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest operation.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises `samples` (any order); all zero when there are none.
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Latency {
            count: samples.len() as u64,
            p50_ms: ms(percentile(&samples, 0.50)),
            p99_ms: ms(percentile(&samples, 0.99)),
            p999_ms: ms(percentile(&samples, 0.999)),
            max_ms: ms(samples[samples.len() - 1]),
        }
    }
}

/// The nearest-rank `q` quantile of `sorted` (ascending, not empty): the
/// smallest sample with at least `q` of all samples at or below it.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Operations per second, zero when no time passed.
pub fn rate(ops: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        ops as f64 / seconds
    } else {
        0.0
    }
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_thousand() {
        let samples = millis((1..=1000).rev());
        let latency = Latency::of(samples);
        assert_eq!(latency.count, 1000);
        assert_eq!(latency.p50_ms, 500.0);
        assert_eq!(latency.p99_ms, 990.0);
        assert_eq!(latency.p999_ms, 999.0);
        assert_eq!(latency.max_ms, 1000.0);
    }

    #[test]
    fn small_sets_take_their_top_sample_for_high_percentiles() {
        let sorted = millis([3, 7, 9]);
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(7));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(9));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(3));
        assert_eq!(Latency::of(Vec::new()), Latency::default());
    }

    #[test]
    fn rates_and_medians() {
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
