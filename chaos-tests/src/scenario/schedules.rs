//! The fault schedule of each scenario. Each injects its faults through
//! [`Faults`] (which logs them) and measures how long the cluster took to
//! recover; the runner heals whatever a schedule leaves broken.

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::faults::Faults;
use super::recovery::{busiest_lease_holder, live_on, new_leader, reassigned, roles_moved};
use super::{Options, Scenario, AGENTS, LEASE_TTL, NODE_TIMEOUT};
use crate::history::Recovery;

/// Longest a recovery may take before the scenario fails.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(45);

/// What a schedule needs.
pub struct Ctx<'a> {
    pub faults: &'a Faults,
    /// The main run, whose attempts the agent faults aim at.
    pub run: &'a str,
    pub rng: StdRng,
    pub options: &'a Options,
    pub recoveries: Vec<Recovery>,
}

impl Ctx<'_> {
    fn record(&mut self, what: &str, after: &str, took: Duration) {
        eprintln!("cortex-chaos: {what} recovered {took:?} after {after}");
        self.recoveries.push(Recovery {
            what: what.to_string(),
            after_fault: after.to_string(),
            millis: took.as_millis() as u64,
        });
    }

    /// Sleeps until `min` has passed since `since`, then `0..=extra_ms` more
    /// (chosen by the seed): how long a fault stays in place.
    async fn hold_since(&mut self, since: Instant, min: Duration, extra_ms: u64) {
        let held = since.elapsed();
        if held < min {
            tokio::time::sleep(min - held).await;
        }
        if extra_ms > 0 {
            self.hold(0, extra_ms).await;
        }
    }

    /// A pause of `min..=max` milliseconds, chosen by the seed.
    async fn hold(&mut self, min: u64, max: u64) {
        let ms = self.rng.gen_range(min..=max);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    async fn leader(&self) -> anyhow::Result<u64> {
        let cluster = &self.faults.cluster;
        let (leader, _) = new_leader(cluster, &[], Instant::now(), RECOVERY_TIMEOUT).await?;
        Ok(leader)
    }

    /// An agent running attempts of the main run (waits for one), and those
    /// attempts' tasks.
    async fn busy_agent(&mut self) -> anyhow::Result<(String, Vec<String>)> {
        let cluster = self.faults.cluster.clone();
        let start = Instant::now();
        loop {
            let mut agents = AGENTS.to_vec();
            agents.shuffle(&mut self.rng);
            for agent in agents {
                let tasks = live_on(&cluster, self.run, agent).await;
                if !tasks.is_empty() {
                    return Ok((agent.to_string(), tasks));
                }
            }
            anyhow::ensure!(
                start.elapsed() < RECOVERY_TIMEOUT,
                "no agent ran an attempt of {} for {RECOVERY_TIMEOUT:?}",
                self.run
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Runs `scenario`'s schedule.
pub async fn inject(scenario: Scenario, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let faults = ctx.faults;
    let cluster = faults.cluster.clone();
    match scenario {
        Scenario::KillLeader => {
            let leader = ctx.leader().await?;
            faults.kill_voter(leader, "the Raft leader")?;
            let (_, took) =
                new_leader(&cluster, &[leader], Instant::now(), RECOVERY_TIMEOUT).await?;
            ctx.record("leader", "kill leader", took);
            ctx.hold(2_000, 4_000).await;
            faults.restart_voter(leader)?;
        }
        Scenario::KillLeaseHolder => {
            let leader = ctx.leader().await?;
            let (holder, roles) = busiest_lease_holder(&cluster, leader)
                .await
                .context("no lease holder")?;
            let why = format!("holds {} master roles", roles.len());
            faults.kill_voter(holder, &why)?;
            let killed = Instant::now();
            if holder == leader {
                let (_, took) = new_leader(&cluster, &[holder], killed, RECOVERY_TIMEOUT).await?;
                ctx.record("leader", "kill lease holder", took);
            }
            let took = roles_moved(&cluster, holder, &roles, killed, RECOVERY_TIMEOUT).await?;
            ctx.record("leases", "kill lease holder", took);
            ctx.hold(2_000, 4_000).await;
            faults.restart_voter(holder)?;
        }
        Scenario::KillAgent => {
            let (agent, tasks) = ctx.busy_agent().await?;
            faults.kill_agent(&agent, &format!("running {}", tasks.join(" ")))?;
            let killed = Instant::now();
            let took =
                reassigned(&cluster, ctx.run, &agent, &tasks, killed, RECOVERY_TIMEOUT).await?;
            ctx.record("reassignment", "kill agent", took);
            ctx.hold(2_000, 4_000).await;
            faults.restart_agent(&agent)?;
        }
        Scenario::PauseVoter => {
            let leader = ctx.leader().await?;
            let (holder, roles) = busiest_lease_holder(&cluster, leader)
                .await
                .context("no lease holder")?;
            faults.pause_voter(holder, &format!("holds {} master roles", roles.len()))?;
            let paused = Instant::now();
            let took = roles_moved(&cluster, holder, &roles, paused, RECOVERY_TIMEOUT).await?;
            ctx.record("leases", "pause lease holder", took);
            // Stay frozen for at least twice the lease TTL, then wake up as
            // a zombie that still believes in its leases.
            ctx.hold_since(paused, LEASE_TTL * 2, 2_000).await;
            faults.resume_voter(holder)?;
        }
        Scenario::PartitionLeader => {
            let leader = ctx.leader().await?;
            faults.isolate(
                &cluster.voter_host(leader),
                "the Raft leader, into a minority of one",
            )?;
            let cut = Instant::now();
            let (_, took) = new_leader(&cluster, &[leader], cut, RECOVERY_TIMEOUT).await?;
            ctx.record("leader", "partition leader", took);
            ctx.hold_since(cut, NODE_TIMEOUT * 2, 2_000).await;
            faults.heal_network()?;
        }
        Scenario::PartitionAgent => {
            let (agent, tasks) = ctx.busy_agent().await?;
            faults.isolate(&agent, &format!("running {}", tasks.join(" ")))?;
            let cut = Instant::now();
            let took = reassigned(&cluster, ctx.run, &agent, &tasks, cut, RECOVERY_TIMEOUT).await?;
            ctx.record("reassignment", "partition agent", took);
            ctx.hold_since(cut, NODE_TIMEOUT * 3, 0).await;
            faults.heal_network()?;
        }
        Scenario::RestartAll => {
            for id in cluster.ids() {
                faults.kill_voter(id, "all voters at once")?;
            }
            ctx.hold(500, 1_500).await;
            for id in cluster.ids() {
                faults.restart_voter(id)?;
            }
            let (_, took) = new_leader(&cluster, &[], Instant::now(), RECOVERY_TIMEOUT).await?;
            ctx.record("leader", "restart all voters", took);
        }
        Scenario::RedisDown => {
            ctx.hold(500, 1_500).await;
            faults.redis_down()?;
            ctx.hold(4_000, 8_000).await;
            faults.redis_up()?;
        }
        Scenario::RollingRestart => {
            for id in cluster.ids() {
                let leader = ctx.leader().await?;
                faults.kill_voter(id, "rolling restart")?;
                let killed = Instant::now();
                if id == leader {
                    let (_, took) = new_leader(&cluster, &[id], killed, RECOVERY_TIMEOUT).await?;
                    ctx.record("leader", "rolling restart", took);
                }
                ctx.hold(300, 1_000).await;
                faults.restart_voter(id)?;
                cluster.wait_ready(RECOVERY_TIMEOUT).await?;
            }
            for agent in AGENTS {
                faults.kill_agent(agent, "rolling restart")?;
                ctx.hold(300, 1_000).await;
                faults.restart_agent(agent)?;
                ctx.hold(1_000, 1_500).await;
            }
        }
        Scenario::Random => random(ctx).await?,
    }
    Ok(())
}

/// One fault at a time, chosen by the seed, held 1-3 s, then undone.
async fn random(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let faults = ctx.faults;
    let cluster = faults.cluster.clone();
    let end = Instant::now() + ctx.options.random_for;
    while Instant::now() < end {
        let voter = *cluster.ids().choose(&mut ctx.rng).expect("voters");
        let agent = *AGENTS.choose(&mut ctx.rng).expect("agents");
        match ctx.rng.gen_range(0..5) {
            0 => faults.kill_voter(voter, "random")?,
            1 => faults.pause_voter(voter, "random")?,
            2 => faults.isolate(&cluster.voter_host(voter), "random")?,
            3 => faults.kill_agent(agent, "random")?,
            _ => faults.isolate(agent, "random")?,
        }
        ctx.hold(1_000, 3_000).await;
        faults.heal_all()?;
        ctx.hold(500, 1_500).await;
    }
    Ok(())
}
