//! Leader kills on Cortex: writers that follow the leader themselves, and
//! a watch on the master leases, which the dead voter's share of must move
//! to the survivors before their roles schedule anything again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::bail;
use cortex_chaos::history::LeaseObservation;
use cortex_chaos::ProcessCluster;

use super::etcd::shown;
use super::{schedule, Load, Writer, RECOVERY_TIMEOUT, WRITERS, WRITE_TIMEOUT};
use crate::peers;
use crate::results::FailoverTrial;
use crate::systems::cortex::CortexApi;
use crate::workloads::Settings;

/// Master roles a healthy cluster holds leases for (Cortex's
/// `MasterRole::ALL`).
const MASTER_ROLES: usize = 7;
/// Pause between two reads of the lease table.
const LEASE_POLL: Duration = Duration::from_millis(20);

/// A writer with a client per voter, starting with the one it believes leads.
struct Follower {
    voters: Vec<CortexApi>,
    believed: usize,
}

impl Writer for Follower {
    async fn put(&mut self, key: String, value: String) -> anyhow::Result<()> {
        self.voters[self.believed].put_kv(&key, &value).await
    }

    fn move_on(&mut self) {
        self.believed = (self.believed + 1) % self.voters.len();
    }
}

/// Kills the leader of a fresh Cortex cluster once per trial.
pub async fn trials(settings: &Settings) -> anyhow::Result<Vec<FailoverTrial>> {
    let (count, warmup) = schedule(settings);
    let peers = peers::start_cortex(&settings.cortex_bin).await?;
    let cluster = &peers.cluster;
    leases_held(cluster, None, RECOVERY_TIMEOUT).await?;
    let mut trials = Vec::new();
    for trial in 0..count {
        let ids = cluster.ids();
        let leader = cluster.wait_leader(RECOVERY_TIMEOUT, &[]).await?;
        let mut writers = Vec::new();
        for _ in 0..WRITERS {
            let voters = ids
                .iter()
                .map(|&id| CortexApi::new(&cluster.api_url(id), cluster.token(), WRITE_TIMEOUT))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let believed = ids.iter().position(|&id| id == leader).unwrap_or(0);
            writers.push(Follower { voters, believed });
        }
        let load = Load::start(writers, trial);
        tokio::time::sleep(warmup).await;
        let leader = cluster.wait_leader(RECOVERY_TIMEOUT, &[]).await?;
        cluster.kill(leader)?;
        let killed_at = load.killed();
        eprintln!("failover Cortex trial {}: killed node {leader}", trial + 1);
        let (write_ms, leases) = tokio::join!(
            load.first_ack_ms(),
            leases_held(cluster, Some(leader), RECOVERY_TIMEOUT)
        );
        let leases_ms = leases
            .as_ref()
            .ok()
            .map(|at| at.duration_since(killed_at).as_secs_f64() * 1e3);
        let acked = load.stop().await;
        eprintln!(
            "failover Cortex trial {}: next write after {}, leases held after {} \
             ({acked} writes acknowledged)",
            trial + 1,
            shown(write_ms),
            shown(leases_ms)
        );
        let mut notes = Vec::new();
        if write_ms.is_none() {
            notes.push(format!("no write acknowledged within {RECOVERY_TIMEOUT:?}"));
        }
        if let Err(error) = leases {
            notes.push(format!("{error:#}"));
        }
        trials.push(FailoverTrial {
            killed: leader,
            write_ms,
            leases_ms,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        });
        cluster.restart(leader)?;
        cluster.wait_ready(Duration::from_secs(60)).await?;
        leases_held(cluster, None, RECOVERY_TIMEOUT).await?;
    }
    Ok(trials)
}

/// Waits until some live voter other than `dead` reports every master role
/// held by a live voter other than `dead`; returns when it first did.
async fn leases_held(
    cluster: &ProcessCluster,
    dead: Option<u64>,
    timeout: Duration,
) -> anyhow::Result<Instant> {
    let start = Instant::now();
    let mut last = String::from("no voter answered");
    loop {
        let live: Vec<u64> = cluster
            .live_ids()
            .into_iter()
            .filter(|&id| Some(id) != dead)
            .collect();
        for &via in &live {
            let Ok(status) = cluster.get_json_from(via, "/v1/cluster").await else {
                continue;
            };
            let leases: Vec<LeaseObservation> =
                serde_json::from_value(status["leases"].clone()).unwrap_or_default();
            let held: BTreeSet<&str> = leases
                .iter()
                .filter(|lease| live.contains(&lease.holder))
                .map(|lease| lease.role.as_str())
                .collect();
            if held.len() >= MASTER_ROLES {
                return Ok(Instant::now());
            }
            last = format!("node {via} sees live holders for {held:?}");
        }
        if start.elapsed() > timeout {
            bail!("master leases not all held by live voters within {timeout:?}: {last}");
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}
