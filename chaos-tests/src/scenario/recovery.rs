//! Recovery times, measured from outside: how long after a fault the
//! cluster had a new leader, had moved a dead voter's master roles, or had
//! restarted a lost agent's attempts elsewhere.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

use super::recorder::leases;
use crate::cluster::ProcessCluster;

/// Pause between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(50);

/// Waits until a majority of the voters agree on a leader outside
/// `excluding` (asking only reachable voters outside it); returns it and
/// how long that took since `since`.
pub async fn new_leader(
    cluster: &ProcessCluster,
    excluding: &[u64],
    since: Instant,
    timeout: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let majority = cluster.ids().len() / 2 + 1;
    loop {
        let mut votes: Vec<u64> = Vec::new();
        for id in cluster.live_ids() {
            if excluding.contains(&id) {
                continue;
            }
            if let Some(leader) = cluster.leader(id).await {
                votes.push(leader);
            }
        }
        for &leader in &votes {
            let agreeing = votes.iter().filter(|&&v| v == leader).count();
            if agreeing >= majority && !excluding.contains(&leader) {
                return Ok((leader, since.elapsed()));
            }
        }
        if since.elapsed() > timeout {
            bail!("no leader outside {excluding:?} within {timeout:?} (views: {votes:?})");
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// The voter holding the most master roles and those roles, as voter
/// `via` has applied them.
pub async fn busiest_lease_holder(
    cluster: &ProcessCluster,
    via: u64,
) -> Option<(u64, Vec<String>)> {
    let status = cluster.get_json_from(via, "/v1/cluster").await.ok()?;
    let held = leases(&status)?;
    let holder = cluster
        .ids()
        .into_iter()
        .min_by_key(|id| std::cmp::Reverse(held.iter().filter(|l| l.holder == *id).count()))?;
    let roles = held
        .into_iter()
        .filter(|l| l.holder == holder)
        .map(|l| l.role)
        .collect();
    Some((holder, roles))
}

/// Waits until every role in `roles` is held by a voter other than `from`
/// (as the voters other than `from` report); how long since `since`.
pub async fn roles_moved(
    cluster: &ProcessCluster,
    from: u64,
    roles: &[String],
    since: Instant,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    loop {
        for via in cluster.live_ids().into_iter().filter(|&id| id != from) {
            if let Ok(status) = cluster.get_json_from(via, "/v1/cluster").await {
                let held = leases(&status).unwrap_or_default();
                let moved = roles
                    .iter()
                    .all(|role| held.iter().any(|l| &l.role == role && l.holder != from));
                if moved {
                    return Ok(since.elapsed());
                }
            }
        }
        if since.elapsed() > timeout {
            bail!("roles {roles:?} still on voter {from} after {timeout:?}");
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// Tasks of run `run` with a live attempt on `node`.
pub async fn live_on(cluster: &ProcessCluster, run: &str, node: &str) -> Vec<String> {
    let Some(run) = cluster.get_json(&format!("/v1/runs/{run}")).await else {
        return Vec::new();
    };
    tasks(&run)
        .filter(|task| last_attempt(task).is_some_and(|a| a["node"] == node && a["end"].is_null()))
        .filter_map(|task| task["id"].as_str().map(str::to_string))
        .collect()
}

/// Waits until each of `task_ids` either ended or has an attempt on another
/// node than `node`; how long since `since`.
pub async fn reassigned(
    cluster: &ProcessCluster,
    run: &str,
    node: &str,
    task_ids: &[String],
    since: Instant,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    loop {
        if let Some(detail) = cluster.get_json(&format!("/v1/runs/{run}")).await {
            let moved = task_ids.iter().all(|id| {
                tasks(&detail).any(|task| {
                    task["id"] == id.as_str()
                        && (task["finished_at"].is_u64()
                            || last_attempt(task).is_some_and(|a| a["node"] != node))
                })
            });
            if moved {
                return Ok(since.elapsed());
            }
        }
        if since.elapsed() > timeout {
            bail!("tasks {task_ids:?} of {run} not moved off {node} within {timeout:?}");
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

fn tasks(run: &Value) -> impl Iterator<Item = &Value> {
    run["tasks"].as_array().into_iter().flatten()
}

fn last_attempt(task: &Value) -> Option<&Value> {
    task["attempts"].as_array()?.last()
}
