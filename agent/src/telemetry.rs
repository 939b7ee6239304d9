//! What a node tells observers while it works, besides the replicated
//! reports: live worker activity on the process's event bus, and metrics
//! about the attempts it ran. Neither is needed for correctness; both are
//! cheap to drop.

use cortex_consensus::events::Bus;

use crate::metrics::WorkerMetrics;

/// The node's bus and metrics, shared by everything it runs.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// Where live worker activity goes (SSE watchers, the Redis bridge).
    pub bus: Bus,
    /// Attempt durations and model usage.
    pub metrics: WorkerMetrics,
}
