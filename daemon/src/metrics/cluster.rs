//! The cluster-wide series: counts of runs, tasks, attempts, tokens,
//! escalations, nodes, leases and assets, computed from the replicated
//! state at scrape time (a [`Census`]).
//!
//! Only the voter that currently leads exports them, as Kafka's active
//! controller does: every voter holds the same state, so if all three
//! exported, a `sum` over pods would count everything three times. After a
//! leader change the series move to the new leader with the same values
//! (they are functions of the replicated state, not of the process).

use std::fmt;

use cortex_consensus::{ClusterTime, ConsensusHandle};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::census::{
    ActiveRun, Census, MasterCounts, WorkerCounts, FINDING_SEVERITIES, OUTCOMES, RUN_STATUSES,
    SEVERITIES, TASK_PHASES,
};
use super::family::{counter, gauge, NO_LABELS};

/// Exports the [`Census`] of this voter's state while it leads.
pub struct ClusterCollector {
    consensus: ConsensusHandle,
}

impl ClusterCollector {
    /// A collector over `consensus`'s applied state.
    pub fn new(consensus: ConsensusHandle) -> ClusterCollector {
        ClusterCollector { consensus }
    }

    fn leads(&self) -> bool {
        let leader = self.consensus.raft().metrics().borrow().current_leader;
        leader == Some(self.consensus.id())
    }
}

impl fmt::Debug for ClusterCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCollector")
            .field("node", &self.consensus.id())
            .finish()
    }
}

impl Collector for ClusterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        if !self.leads() {
            return Ok(());
        }
        // The leader's clock stamps the entries, so it is the clock the
        // state's times are comparable with.
        let now = ClusterTime::now();
        let census = self.consensus.state().read(|m| Census::of(&m.state, now));
        encode(&census, &mut encoder)
    }
}

/// Writes every cluster-wide family of `census`.
pub fn encode(census: &Census, e: &mut DescriptorEncoder) -> fmt::Result {
    encode_masters(census, e)?;
    encode_workers(census, e)?;
    encode_runs(census, e)?;
    gauge(
        e,
        "cortex_nodes",
        "Nodes registered with the cluster, by liveness.",
        [
            ([("status", "alive")], census.nodes_alive),
            ([("status", "lost")], census.nodes_lost),
        ],
    )?;
    gauge(
        e,
        "cortex_catalog_assets",
        "Assets in the catalog, by asset type.",
        census
            .assets
            .iter()
            .map(|(kind, count)| ([("type", kind.as_str())], *count as u64)),
    )?;
    gauge(
        e,
        "cortex_catalog_findings",
        "Finding assets in the catalog, by severity.",
        FINDING_SEVERITIES
            .iter()
            .zip(census.findings)
            .map(|(severity, n)| ([("severity", *severity)], n)),
    )
}

fn encode_masters(census: &Census, e: &mut DescriptorEncoder) -> fmt::Result {
    let by_master = |value: fn(&MasterCounts) -> u64| {
        census
            .masters
            .iter()
            .map(move |(role, counts)| ([("master", role.as_str())], value(counts)))
    };
    gauge(
        e,
        "cortex_master_tasks_active",
        "Tasks with a live attempt in runs not yet ended, by master role.",
        by_master(|m| m.tasks_active),
    )?;
    counter(
        e,
        "cortex_master_tasks_failed",
        "Tasks that ended failed, timed out or over budget, every run held, by master role.",
        by_master(|m| m.tasks_failed),
    )?;
    counter(
        e,
        "cortex_master_tokens_used",
        "Settled tokens of the tasks of every run held, by master role.",
        by_master(|m| m.tokens_used),
    )?;
    counter(
        e,
        "cortex_master_workers_spawned",
        "Attempts started, every run held, by master role.",
        by_master(|m| m.workers_spawned),
    )?;
    gauge(
        e,
        "cortex_master_tasks",
        "Tasks of runs not yet ended, by master role and phase (pending, running, blocked, ended).",
        census.masters.iter().flat_map(|(role, counts)| {
            TASK_PHASES
                .iter()
                .zip(counts.tasks)
                .map(|(phase, n)| ([("master", role.as_str()), ("state", *phase)], n))
        }),
    )?;
    gauge(
        e,
        "cortex_task_queue_depth",
        "Pending tasks (waiting for dependencies, approval, backoff, budget or a node) of runs not yet ended, by master role.",
        by_master(|m| m.queue_depth),
    )?;
    gauge(
        e,
        "cortex_master_lease_epoch",
        "Epoch (fencing token) of the master role's lease; 0 before it was first taken.",
        by_master(|m| m.lease_epoch),
    )?;
    gauge(
        e,
        "cortex_master_lease_held",
        "1 while a holder's lease on the master role is unexpired.",
        by_master(|m| u64::from(m.lease_held)),
    )
}

fn encode_workers(census: &Census, e: &mut DescriptorEncoder) -> fmt::Result {
    let by_worker = |value: fn(&WorkerCounts) -> u64| {
        census
            .workers
            .iter()
            .map(move |(worker, counts)| ([("worker_type", worker.as_str())], value(counts)))
    };
    counter(
        e,
        "cortex_worker_tokens_used",
        "Settled tokens of the tasks of every run held, by worker type.",
        by_worker(|w| w.tokens_used),
    )?;
    counter(
        e,
        "cortex_worker_attempts",
        "Ended attempts, every run held, by worker type and outcome.",
        census.workers.iter().flat_map(|(worker, counts)| {
            OUTCOMES
                .iter()
                .zip(counts.attempts)
                .map(|(outcome, n)| ([("worker_type", worker.as_str()), ("outcome", *outcome)], n))
        }),
    )?;
    gauge(
        e,
        "cortex_worker_timeout_used_ratio",
        "Largest share of its time limit a live attempt has used since assignment, by worker type; 0 when none is live.",
        census
            .workers
            .iter()
            .map(|(worker, counts)| ([("worker_type", worker.as_str())], counts.timeout_used_ratio)),
    )
}

fn encode_runs(census: &Census, e: &mut DescriptorEncoder) -> fmt::Result {
    gauge(
        e,
        "cortex_runs",
        "Runs held in the state, by status.",
        RUN_STATUSES
            .iter()
            .zip(census.runs)
            .map(|((_, status), n)| ([("status", *status)], n)),
    )?;
    let by_run = |value: fn(&ActiveRun) -> u64| {
        census
            .active_runs
            .iter()
            .map(move |run| ([("run", run.id.as_str())], value(run)))
    };
    gauge(
        e,
        "cortex_tokens_budget",
        "Token budget of each run not yet ended.",
        by_run(|r| r.budget),
    )?;
    gauge(
        e,
        "cortex_tokens_used",
        "Settled tokens of each run not yet ended.",
        by_run(|r| r.used),
    )?;
    gauge(
        e,
        "cortex_tokens_reserved",
        "Tokens held by live attempts of each run not yet ended.",
        by_run(|r| r.reserved),
    )?;
    counter(
        e,
        "cortex_handoffs",
        "Handoffs made by completed tasks, every run held.",
        [(NO_LABELS, census.handoffs)],
    )?;
    counter(
        e,
        "cortex_escalations",
        "Escalations raised, every run held, by severity (budget_exhausted is critical, retries_exhausted high).",
        SEVERITIES
            .iter()
            .zip(census.escalations)
            .map(|(severity, n)| ([("severity", *severity)], n)),
    )?;
    gauge(
        e,
        "cortex_escalations_open",
        "Escalations not yet resolved.",
        [(NO_LABELS, census.escalations_open)],
    )
}
