//! Dispatch: how fast the cluster turns submitted tasks into finished
//! attempts. Three voters that execute nothing, four agents, and runs of
//! no-op tasks (the `noop` builtin: no process is spawned, so what is
//! measured is scheduling, replication and reporting, not `fork`). The
//! same cluster then gives the footprint figures (`footprint.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cortex_chaos::ProcessCluster;
use serde_json::Value;

use crate::results::DispatchResult;
use crate::stats::{rate, Latency};

/// Agents that execute the tasks, named like the seed's worker nodes.
pub const AGENTS: [&str; 4] = [
    "k3s-worker01",
    "k3s-worker02",
    "k3s-worker03",
    "k3s-worker04",
];
/// The masters tasks are spread over (all seven roles of the seed).
const MASTERS: [&str; 7] = [
    "coordinator",
    "development",
    "security",
    "inventory",
    "cicd",
    "testing",
    "monitoring",
];
/// Most tasks in one run (`plan::MAX_TASKS`); more are split over runs.
const TASKS_PER_RUN: u64 = 5_000;
/// How long the whole dispatch may take before it is reported as failed.
const DEADLINE: Duration = Duration::from_secs(600);

/// Sizes of one dispatch measurement.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSize {
    /// No-op tasks in all.
    pub tasks: u64,
    /// Concurrent attempts each agent accepts (`--capacity`).
    pub capacity: u32,
}

/// Starts the cluster the dispatch and footprint workloads share: three
/// voters that execute nothing and [`AGENTS`], all ready.
pub async fn start_cluster(binary: &Path, capacity: u32) -> anyhow::Result<ProcessCluster> {
    let mut cluster = ProcessCluster::start_with_args(binary, 3, &["--no-execute"])?;
    cluster.wait_ready(Duration::from_secs(60)).await?;
    let capacity = capacity.to_string();
    for agent in AGENTS {
        cluster.add_agent(agent, &["--capacity", &capacity])?;
    }
    wait_agents(&cluster).await?;
    Ok(cluster)
}

/// Submits `size.tasks` no-op tasks and waits for all of them to complete.
pub async fn run(cluster: &ProcessCluster, size: DispatchSize) -> anyhow::Result<DispatchResult> {
    let leader = cluster.wait_leader(Duration::from_secs(30), &[]).await?;
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut left = size.tasks;
    while left > 0 {
        let tasks = left.min(TASKS_PER_RUN);
        let plan = noop_plan(&format!("dispatch-{}", runs.len()), tasks);
        runs.push(cluster.submit_run(leader, &plan).await?);
        left -= tasks;
    }
    let mut last_report = Instant::now();
    loop {
        let done = completed_tasks(cluster, leader, &runs).await?;
        if done >= size.tasks {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!("  dispatch: {done}/{} tasks completed", size.tasks);
            last_report = Instant::now();
        }
        if started.elapsed() > DEADLINE {
            bail!(
                "only {done} of {} tasks completed in {DEADLINE:?}",
                size.tasks
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let mut to_start = Vec::new();
    for run in &runs {
        let detail = cluster
            .get_json_from(leader, &format!("/v1/runs/{run}"))
            .await?;
        to_start.extend(start_delays(&detail)?);
    }
    Ok(DispatchResult {
        tasks: size.tasks,
        agents: AGENTS.len() as u32,
        capacity: size.capacity,
        elapsed_s: elapsed.as_secs_f64(),
        tasks_per_s: rate(size.tasks, elapsed),
        submit_to_start: Latency::of(to_start),
    })
}

/// A plan of `tasks` independent no-op tasks over the seven masters, with
/// allocations far above what the tasks reserve.
pub fn noop_plan(name: &str, tasks: u64) -> String {
    let mut plan = format!(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata:\n  name: {name}\nspec:\n  \
         budget: {{ total: {}, emergencyReserve: 0 }}\n  masters:\n",
        MASTERS.len() as u64 * 2_000_000
    );
    for master in MASTERS {
        plan.push_str(&format!(
            "    {master}: {{ personal: 1000000, workers: 1000000 }}\n"
        ));
    }
    plan.push_str("  tasks:\n");
    for i in 0..tasks {
        let master = MASTERS[i as usize % MASTERS.len()];
        plan.push_str(&format!(
            "    - {{ id: t{i}, master: {master}, worker: scan, budget: 10, \
             executor: {{ builtin: {{ name: noop }} }} }}\n"
        ));
    }
    plan
}

/// Completed tasks over `runs`, from the run list of node `via`.
async fn completed_tasks(
    cluster: &ProcessCluster,
    via: u64,
    runs: &[String],
) -> anyhow::Result<u64> {
    let list = cluster.get_json_from(via, "/v1/runs").await?;
    let list = list
        .as_array()
        .or_else(|| list["runs"].as_array())
        .context("run list is an array")?;
    let mut done = 0;
    for run in list {
        if runs.iter().any(|id| run["id"] == id.as_str()) {
            if run["status"] == "failed" || run["status"] == "cancelled" {
                bail!("dispatch run ended {}: {run}", run["status"]);
            }
            done += run["tasks"]["completed"].as_u64().unwrap_or(0);
        }
    }
    Ok(done)
}

/// For every task of a finished run: its first attempt's start (cluster
/// time of the assignment) minus the run's submission.
pub fn start_delays(run: &Value) -> anyhow::Result<Vec<Duration>> {
    let submitted = run["submitted_at"].as_u64().context("submitted_at")?;
    let tasks = run["tasks"].as_array().context("tasks")?;
    tasks
        .iter()
        .map(|task| {
            let started = task["attempts"][0]["started_at"]
                .as_u64()
                .with_context(|| format!("task {} has no attempt", task["id"]))?;
            Ok(Duration::from_millis(started.saturating_sub(submitted)))
        })
        .collect()
}

/// Until the voters list every agent as alive.
async fn wait_agents(cluster: &ProcessCluster) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = cluster.get_json("/v1/cluster").await;
        let alive = status
            .iter()
            .flat_map(|s| s["executors"].as_array())
            .flatten();
        let alive = alive.filter(|e| e["status"] == "alive").count();
        if alive >= AGENTS.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {alive} of the agents registered within a minute");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_delays_are_measured_from_the_submission() {
        let run = json!({
            "submitted_at": 1_000,
            "tasks": [
                { "id": "a", "attempts": [{ "started_at": 1_004 }] },
                { "id": "b", "attempts": [{ "started_at": 1_250 }, { "started_at": 2_000 }] }
            ]
        });
        assert_eq!(
            start_delays(&run).unwrap(),
            vec![Duration::from_millis(4), Duration::from_millis(250)]
        );
        let unstarted = json!({ "submitted_at": 1, "tasks": [{ "id": "c", "attempts": [] }] });
        assert!(start_delays(&unstarted).is_err());
    }

    #[test]
    fn the_noop_plan_parses_with_every_task() {
        let spec = cortex_consensus::plan::parse(&noop_plan("p", 30)).expect("valid plan");
        assert_eq!(spec.tasks.len(), 30);
    }
}
