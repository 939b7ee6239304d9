//! Chaos scenarios: a real cluster (three voters that only coordinate, four
//! agents that execute, each in its own network namespace), the seeded
//! workload, one fault schedule, then a must-heal phase; the outcome is a
//! [`History`] for the checkers.
//!
//! A scenario is seeded: the seed picks the workload and every choice of
//! the fault schedule (which agent, how long, which fault next), so a
//! failing seed replays the same plan and the same kind of schedule.
//! Timing still varies from run to run: it is a real cluster.

mod faults;
mod recorder;
mod recovery;
mod runner;
mod schedules;

use std::path::PathBuf;
use std::time::Duration;

pub use recorder::now_ms;
pub use runner::run;

/// The agents, named like the K3s nodes they would run on.
pub const AGENTS: [&str; 4] = [
    "k3s-worker01",
    "k3s-worker02",
    "k3s-worker03",
    "k3s-worker04",
];
/// Silence after which voters declare a node lost (and agents stop acting
/// three quarters of it after their last committed heartbeat).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(2);
/// The daemons' default master-role lease TTL.
pub const LEASE_TTL: Duration = Duration::from_secs(3);

/// One fault schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SIGKILL the Raft leader mid-run, restart it later.
    KillLeader,
    /// SIGKILL the voter holding the most master leases.
    KillLeaseHolder,
    /// SIGKILL an agent while it runs attempts, restart it later.
    KillAgent,
    /// SIGSTOP a lease-holding voter past the lease TTL, then SIGCONT it: a
    /// zombie master that wakes up believing it still holds its roles.
    PauseVoter,
    /// Cut the leader off from every other node (it stays in the minority).
    PartitionLeader,
    /// Cut an agent with running attempts off from the voters past the node
    /// timeout (a zombie worker), then heal.
    PartitionAgent,
    /// SIGKILL all three voters at once and restart them.
    RestartAll,
    /// Kill Redis (the event fan-out) for the middle of the run.
    RedisDown,
    /// Restart every voter, then every agent, one at a time.
    RollingRestart,
    /// Random kills, pauses and partitions for a while.
    Random,
}

impl Scenario {
    /// Every scenario, in the order the report lists them.
    pub const ALL: [Scenario; 10] = [
        Scenario::KillLeader,
        Scenario::KillLeaseHolder,
        Scenario::KillAgent,
        Scenario::PauseVoter,
        Scenario::PartitionLeader,
        Scenario::PartitionAgent,
        Scenario::RestartAll,
        Scenario::RedisDown,
        Scenario::RollingRestart,
        Scenario::Random,
    ];

    /// The subset `.ci/run` runs on every change.
    pub const FAST: [Scenario; 4] = [
        Scenario::KillLeader,
        Scenario::KillAgent,
        Scenario::PartitionAgent,
        Scenario::RestartAll,
    ];

    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillLeader => "kill-leader",
            Scenario::KillLeaseHolder => "kill-lease-holder",
            Scenario::KillAgent => "kill-agent",
            Scenario::PauseVoter => "pause-voter",
            Scenario::PartitionLeader => "partition-leader",
            Scenario::PartitionAgent => "partition-agent",
            Scenario::RestartAll => "restart-all",
            Scenario::RedisDown => "redis-down",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::Random => "random",
        }
    }

    /// The scenario called `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the cluster runs with Redis for this scenario.
    fn uses_redis(self) -> bool {
        self == Scenario::RedisDown
    }
}

/// How scenarios run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `cortex` binary.
    pub binary: PathBuf,
    /// How long the random schedule injects faults.
    pub random_for: Duration,
    /// How long the runs get to finish once the faults stopped.
    pub heal_deadline: Duration,
}

impl Options {
    /// Defaults for `binary`: 20 s of random faults, 120 s to heal.
    pub fn new(binary: impl Into<PathBuf>) -> Options {
        Options {
            binary: binary.into(),
            random_for: Duration::from_secs(20),
            heal_deadline: Duration::from_secs(120),
        }
    }
}
