//! What every voter exports about itself: its Raft view (term, leader, log
//! and applied indexes), how long applying entries takes, and how long its
//! GraphQL requests take. Plus, through [`ClusterCollector`], the
//! cluster-wide series while it leads.

use std::fmt;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cortex_consensus::ConsensusHandle;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::cluster::ClusterCollector;
use super::family::{gauge, NO_LABELS};

/// A voter's own measurements that its API layers feed.
pub struct VoterMetrics {
    /// Seconds per `POST /graphql`, observed by [`time_request`].
    catalog_api_latency: Histogram,
}

impl VoterMetrics {
    /// Registers the voter's families over `consensus` in `registry`.
    pub fn register(registry: &mut Registry, consensus: &ConsensusHandle) -> VoterMetrics {
        registry.register_collector(Box::new(RaftCollector {
            consensus: consensus.clone(),
        }));
        registry.register(
            "cortex_raft_apply_duration_seconds",
            "Seconds each batch of committed entries held the state machine while applied",
            consensus.state().apply_latency(),
        );
        registry.register_collector(Box::new(ClusterCollector::new(consensus.clone())));
        // 0.5 ms to about 4 s: an indexed lookup up to a large search page.
        let catalog_api_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "cortex_catalog_api_latency_seconds",
            "Seconds to answer a GraphQL query or mutation (POST /graphql) on this node",
            catalog_api_latency.clone(),
        );
        VoterMetrics {
            catalog_api_latency,
        }
    }

    /// The histogram [`time_request`] observes, for the GraphQL router.
    pub fn catalog_api_latency(&self) -> Histogram {
        self.catalog_api_latency.clone()
    }
}

/// Middleware observing each request's time to its response into the
/// histogram it is given.
pub async fn time_request(
    State(latency): State<Histogram>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    latency.observe(started.elapsed().as_secs_f64());
    response
}

/// This voter's Raft view, read from openraft's metrics at scrape time.
struct RaftCollector {
    consensus: ConsensusHandle,
}

impl fmt::Debug for RaftCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaftCollector")
            .field("node", &self.consensus.id())
            .finish()
    }
}

impl Collector for RaftCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let (term, leader, last_log, applied) = {
            let metrics = self.consensus.raft().metrics();
            let metrics = metrics.borrow();
            (
                metrics.current_term,
                metrics.current_leader,
                metrics.last_log_index,
                metrics.last_applied.map(|id| id.index),
            )
        };
        let one = |value: u64| [(NO_LABELS, value)];
        gauge(
            &mut e,
            "cortex_raft_term",
            "Current Raft term as this voter knows it.",
            one(term),
        )?;
        gauge(
            &mut e,
            "cortex_raft_is_leader",
            "1 while this voter is the Raft leader.",
            one(u64::from(leader == Some(self.consensus.id()))),
        )?;
        gauge(
            &mut e,
            "cortex_raft_leader_id",
            "Node id of the leader this voter knows; 0 when it knows none.",
            one(leader.unwrap_or(0)),
        )?;
        gauge(
            &mut e,
            "cortex_raft_commit_index",
            "Index of the last entry in this voter's log (openraft 0.9 exposes no commit index; committed entries are at most this).",
            one(last_log.unwrap_or(0)),
        )?;
        gauge(
            &mut e,
            "cortex_raft_applied_index",
            "Index of the last entry applied to this voter's state.",
            one(applied.unwrap_or(0)),
        )
    }
}
