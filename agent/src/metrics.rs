//! What this node measures about the attempts it executes: how long they
//! ran, and the tokens each model call used.
//!
//! The cluster-wide counts (attempts by outcome, tokens settled) come from
//! the replicated state and are exported by the daemon's leader; what is
//! here is only known where the work ran, so every executing node (agents,
//! and voters that execute) exports it about itself.
//!
//! Labels are bounded: worker types are a closed set and models are the few
//! a cluster's plans name; no task, attempt or node id is ever a label.

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// Upper bounds of attempt durations, in seconds: a one-second builtin up
/// to the hour-long attempts the worker types allow.
const DURATION_BUCKETS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

/// Upper bounds of tokens per call, as the OpenTelemetry GenAI semantic
/// conventions advise for `gen_ai.client.token.usage` (powers of 4).
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// The labels of an attempt's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker_type: String,
}

/// The labels of one model call's usage, named as OpenTelemetry's
/// `gen_ai.token.type` and `gen_ai.request.model` attributes translate to
/// Prometheus.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    gen_ai_token_type: &'static str,
    gen_ai_request_model: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Metrics about the attempts this node ran.
#[derive(Clone, Debug)]
pub struct WorkerMetrics {
    /// `cortex_worker_duration_seconds{worker_type}`.
    duration: HistogramFamily<WorkerLabels>,
    /// `gen_ai_client_token_usage{gen_ai_token_type, gen_ai_request_model}`.
    token_usage: HistogramFamily<TokenLabels>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            duration: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            token_usage: Family::new_with_constructor(|| Histogram::new(TOKEN_BUCKETS)),
        }
    }
}

impl WorkerMetrics {
    /// Adds this node's worker families to `registry`. They are described
    /// (`# HELP`, `# TYPE`) even before the first attempt ends, so a scraper
    /// and the dashboards see them on a node that has not worked yet.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cortex_worker_duration_seconds",
            "Wall time of the attempts this node ran, from start to end, by worker type",
            Described(self.duration.clone()),
        );
        registry.register(
            "gen_ai_client_token_usage",
            "Tokens used per model call made by this node's attempts (OpenTelemetry gen_ai.client.token.usage)",
            Described(self.token_usage.clone()),
        );
    }

    /// An attempt ended here after `seconds` of wall time.
    pub fn attempt_ended(&self, worker_type: &str, seconds: f64) {
        let labels = WorkerLabels {
            worker_type: worker_type.to_string(),
        };
        self.duration.get_or_create(&labels).observe(seconds);
    }

    /// One LLM call's usage (OpenTelemetry GenAI `gen_ai.client.token.usage`).
    pub fn llm_usage(&self, model: &str, input_tokens: u64, output_tokens: u64) {
        for (kind, tokens) in [("input", input_tokens), ("output", output_tokens)] {
            let labels = TokenLabels {
                gen_ai_token_type: kind,
                gen_ai_request_model: model.to_string(),
            };
            self.token_usage
                .get_or_create(&labels)
                .observe(tokens as f64);
        }
    }
}

/// A family that is described even while it holds no series:
/// prometheus-client leaves empty families out of the exposition entirely.
#[derive(Debug)]
struct Described<M>(M);

impl<M: EncodeMetric> EncodeMetric for Described<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

impl<M: TypedMetric> TypedMetric for Described<M> {
    const TYPE: MetricType = M::TYPE;
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn exposition(metrics: &WorkerMetrics) -> String {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn families_are_described_before_any_sample() {
        let text = exposition(&WorkerMetrics::default());
        assert!(text.contains("# TYPE cortex_worker_duration_seconds histogram"));
        assert!(text.contains("# TYPE gen_ai_client_token_usage histogram"));
        assert!(!text.contains("_bucket"), "{text}");
    }

    #[test]
    fn attempts_and_calls_are_observed_with_their_labels() {
        let metrics = WorkerMetrics::default();
        metrics.attempt_ended("scan", 42.0);
        metrics.llm_usage("gpt-4o", 1000, 20);
        let text = exposition(&metrics.clone());
        assert!(
            text.contains(
                r#"cortex_worker_duration_seconds_bucket{le="60.0",worker_type="scan"} 1"#
            ),
            "{text}"
        );
        assert!(text
            .contains(r#"cortex_worker_duration_seconds_bucket{le="30.0",worker_type="scan"} 0"#));
        assert!(text.contains(
            r#"gen_ai_client_token_usage_bucket{le="1024.0",gen_ai_token_type="input",gen_ai_request_model="gpt-4o"} 1"#
        ));
        assert!(text.contains(
            r#"gen_ai_client_token_usage_sum{gen_ai_token_type="output",gen_ai_request_model="gpt-4o"} 20.0"#
        ));
    }
}
