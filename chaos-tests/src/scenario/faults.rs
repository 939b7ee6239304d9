//! Faults as a scenario injects them: each one is logged with its time, and
//! what is still broken is remembered so the must-heal phase can undo it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::cluster::ProcessCluster;
use crate::redis::RedisServer;

use super::recorder::Recorder;

/// The fault injector of one scenario.
pub struct Faults {
    pub cluster: Arc<ProcessCluster>,
    pub recorder: Arc<Recorder>,
    pub redis: Option<Mutex<RedisServer>>,
    /// What is broken now.
    broken: Mutex<Broken>,
}

#[derive(Default)]
struct Broken {
    killed_voters: BTreeSet<u64>,
    paused_voters: BTreeSet<u64>,
    killed_agents: BTreeSet<String>,
    partitioned: bool,
    redis_down: bool,
}

impl Faults {
    pub fn new(
        cluster: Arc<ProcessCluster>,
        recorder: Arc<Recorder>,
        redis: Option<RedisServer>,
    ) -> Faults {
        Faults {
            cluster,
            recorder,
            redis: redis.map(Mutex::new),
            broken: Mutex::default(),
        }
    }

    fn broken(&self) -> std::sync::MutexGuard<'_, Broken> {
        self.broken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// SIGKILLs voter `id`.
    pub fn kill_voter(&self, id: u64, why: &str) -> anyhow::Result<()> {
        self.cluster.kill(id)?;
        self.broken().killed_voters.insert(id);
        self.recorder
            .fault("kill", &self.cluster.voter_host(id), why);
        Ok(())
    }

    /// Restarts killed voter `id` on its data directory.
    pub fn restart_voter(&self, id: u64) -> anyhow::Result<()> {
        self.cluster.restart(id)?;
        self.broken().killed_voters.remove(&id);
        self.recorder
            .fault("restart", &self.cluster.voter_host(id), "same data dir");
        Ok(())
    }

    /// SIGSTOPs voter `id`.
    pub fn pause_voter(&self, id: u64, why: &str) -> anyhow::Result<()> {
        self.cluster.pause(id)?;
        self.broken().paused_voters.insert(id);
        self.recorder
            .fault("pause", &self.cluster.voter_host(id), why);
        Ok(())
    }

    /// SIGCONTs voter `id`.
    pub fn resume_voter(&self, id: u64) -> anyhow::Result<()> {
        self.cluster.resume(id)?;
        self.broken().paused_voters.remove(&id);
        self.recorder
            .fault("resume", &self.cluster.voter_host(id), "");
        Ok(())
    }

    /// SIGKILLs agent `name`.
    pub fn kill_agent(&self, name: &str, why: &str) -> anyhow::Result<()> {
        self.cluster.kill_agent(name)?;
        self.broken().killed_agents.insert(name.to_string());
        self.recorder.fault("kill", name, why);
        Ok(())
    }

    /// Restarts killed agent `name`.
    pub fn restart_agent(&self, name: &str) -> anyhow::Result<()> {
        self.cluster.restart_agent(name)?;
        self.broken().killed_agents.remove(name);
        self.recorder.fault("restart", name, "");
        Ok(())
    }

    /// Cuts `host` off from every other node (the test still reaches it).
    pub fn isolate(&self, host: &str, why: &str) -> anyhow::Result<()> {
        self.cluster.isolate(host)?;
        self.broken().partitioned = true;
        self.recorder.fault("partition", host, why);
        Ok(())
    }

    /// Removes every partition.
    pub fn heal_network(&self) -> anyhow::Result<()> {
        self.cluster.heal()?;
        self.broken().partitioned = false;
        self.recorder
            .fault("heal", "network", "all partitions removed");
        Ok(())
    }

    /// Kills Redis.
    pub fn redis_down(&self) -> anyhow::Result<()> {
        if let Some(redis) = &self.redis {
            redis
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .kill()?;
            self.broken().redis_down = true;
            self.recorder.fault("kill", "redis", "event fan-out down");
        }
        Ok(())
    }

    /// Starts Redis again on its port.
    pub fn redis_up(&self) -> anyhow::Result<()> {
        if let Some(redis) = &self.redis {
            redis
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .restart()?;
            self.broken().redis_down = false;
            self.recorder.fault("restart", "redis", "");
        }
        Ok(())
    }

    /// Undoes every fault still in place: the start of the must-heal phase.
    pub fn heal_all(&self) -> anyhow::Result<()> {
        let (paused, killed, agents, partitioned, redis) = {
            let b = self.broken();
            (
                b.paused_voters.clone(),
                b.killed_voters.clone(),
                b.killed_agents.clone(),
                b.partitioned,
                b.redis_down,
            )
        };
        for id in paused {
            self.resume_voter(id)?;
        }
        for id in killed {
            self.restart_voter(id)?;
        }
        for name in agents {
            self.restart_agent(&name)?;
        }
        if partitioned {
            self.heal_network()?;
        }
        if redis {
            self.redis_up()?;
        }
        Ok(())
    }
}
