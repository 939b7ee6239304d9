//! What one benchmark run measured, as written to `results.json`.
//!
//! Plain serde data with no behaviour beyond small derived figures, so the
//! report can be rendered (and tested) from a hand-built value and a later
//! tool can read the JSON back. Every figure in here was measured by this
//! run; a workload that did not run is absent, not zero.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::Latency;

/// Everything one `cortex-bench` invocation produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// When the run started, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// Whether `--quick` shrank every count (figures are then only a smoke test).
    pub quick: bool,
    /// Seed of every random choice (pools, amounts, usage).
    pub seed: u64,
    /// The machine the figures belong to.
    pub machine: Machine,
    /// Disk and network floor of this machine.
    pub physical: Option<PhysicalResult>,
    /// Budget reservations, one entry per system, pool count and concurrency.
    pub reserve: Vec<ReserveResult>,
    /// Small replicated puts, one entry per system and concurrency.
    pub write: Vec<WriteResult>,
    /// Leader kill under load, one entry per system.
    pub failover: Vec<FailoverResult>,
    /// No-op tasks dispatched to agents (Cortex only).
    pub dispatch: Option<DispatchResult>,
    /// Memory and disk used by the Cortex daemons.
    pub footprint: Option<FootprintResult>,
    /// Workloads or systems that could not be measured at all, and why.
    pub errors: Vec<String>,
}

impl Results {
    /// Whether anything failed: an unmeasured workload, a level with errors
    /// or a ledger whose balances did not add up.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || self.reserve.iter().any(ReserveResult::failed)
            || self.write.iter().any(|w| w.errors > 0)
    }
}

/// A system under test.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// Three Cortex voters (openraft on sled). The default only so records
    /// can be built field by field.
    #[default]
    Cortex,
    /// Three etcd members.
    Etcd,
    /// One Redis server: no replication, no durability; the upper reference.
    Redis,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::Cortex => "Cortex",
            System::Etcd => "etcd",
            System::Redis => "Redis",
        })
    }
}

/// Facts about the machine, so figures from two machines are not compared blindly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// CPUs this process may run on.
    pub cores: u32,
    /// Total memory.
    pub memory_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// Where every system keeps its data.
    pub data_dir: String,
    /// Filesystem type of `data_dir` (fsync cost depends on it).
    pub data_fs: String,
    /// `etcd --version`, first line.
    pub etcd_version: String,
    /// `redis-server --version`.
    pub redis_version: String,
    /// `cortex --version`.
    pub cortex_version: String,
}

/// The physical floor: what one durable write and one round trip cost here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhysicalResult {
    /// `pwrite` of 4 KiB at offset 0 followed by `fdatasync`.
    pub fsync_4k: Latency,
    /// One byte there and back over loopback TCP with `TCP_NODELAY`.
    pub loopback_rtt: Latency,
}

/// One level of the reservation workload on one system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReserveResult {
    /// The system.
    pub system: System,
    /// Pools the reservations spread over (fewer pools, more contention).
    pub pools: u32,
    /// Concurrent clients.
    pub clients: u32,
    /// Reserve-then-settle cycles the clients were given.
    pub cycles: u64,
    /// Tokens in each pool, sized so pools run dry near the end.
    pub capacity: u64,
    /// Reserve and settle calls answered (refusals included).
    pub ops: u64,
    /// Reservations granted.
    pub reserved: u64,
    /// Reservations refused for lack of room.
    pub refused: u64,
    /// Reservations settled.
    pub settled: u64,
    /// Calls that failed (transport or unexpected answer).
    pub errors: u64,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
    /// Transactions retried after losing a compare (etcd only).
    pub conflicts: u64,
    /// Wall time of the level.
    pub elapsed_s: f64,
    /// `ops` per second of wall time.
    pub ops_per_s: f64,
    /// Latency of every reserve and settle call.
    pub latency: Latency,
    /// Whether the level's deadline stopped the clients before their cycles ended.
    pub hit_deadline: bool,
    /// Whether the final balances match what the clients were told.
    pub check: BalanceCheck,
}

impl ReserveResult {
    /// A level with errors or wrong balances is a failure, not a figure.
    pub fn failed(&self) -> bool {
        self.errors > 0 || !self.check.passed
    }
}

/// The audit of a ledger's final balances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceCheck {
    /// True when every pool adds up.
    pub passed: bool,
    /// What did not (pool and figures), empty when `passed`.
    pub problems: Vec<String>,
}

/// One level of the replicated-write workload on one system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteResult {
    /// The system.
    pub system: System,
    /// Concurrent clients.
    pub clients: u32,
    /// Puts acknowledged.
    pub ops: u64,
    /// Puts that failed.
    pub errors: u64,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
    /// Wall time of the level.
    pub elapsed_s: f64,
    /// `ops` per second of wall time.
    pub ops_per_s: f64,
    /// Latency of every acknowledged put.
    pub latency: Latency,
    /// Whether the level's deadline stopped the clients early.
    pub hit_deadline: bool,
}

/// Leader kills on one system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverResult {
    /// The system.
    pub system: System,
    /// Each kill.
    pub trials: Vec<FailoverTrial>,
    /// Median of the trials' `write_ms`.
    pub median_write_ms: Option<f64>,
    /// Median of the trials' `leases_ms` (Cortex only).
    pub median_leases_ms: Option<f64>,
}

/// One SIGKILL of the leader under load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverTrial {
    /// The member killed.
    pub killed: u64,
    /// From the kill to the first acknowledged write that was sent after it.
    pub write_ms: Option<f64>,
    /// From the kill until every master lease was held by a live voter.
    pub leases_ms: Option<f64>,
    /// Why a figure is missing.
    pub note: Option<String>,
}

/// No-op tasks dispatched through Cortex to its agents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchResult {
    /// Tasks submitted.
    pub tasks: u64,
    /// Agents executing them.
    pub agents: u32,
    /// Concurrent attempts each agent accepted (`--capacity`).
    pub capacity: u32,
    /// From the first submission to the last task finished.
    pub elapsed_s: f64,
    /// `tasks` per second of `elapsed_s`.
    pub tasks_per_s: f64,
    /// From a task's submission to its attempt starting on an agent.
    pub submit_to_start: Latency,
}

/// What the Cortex daemons occupy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FootprintResult {
    /// Resident memory of an agent with nothing to do.
    pub idle_agent_rss_mib: f64,
    /// Resident memory of each voter.
    pub voter_rss_mib: Vec<f64>,
    /// Size of each voter's sled directory.
    pub sled_dir_mib: Vec<f64>,
}
