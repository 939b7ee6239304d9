//! A validated run: what `plan::parse` produces and `SubmitRun` replicates.
//!
//! These are plain data with every default filled in (budgets, timeouts and
//! retries from the worker type, phases turned into dependencies), so the
//! state machine never needs to know the plan's surface syntax.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::executor::ExecutorSpec;

/// The seven master roles. Each is a lease held by one voter, which then
/// schedules that role's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MasterRole {
    /// Routes work, grants the emergency reserve, watches node liveness.
    Coordinator,
    /// Scanning and remediation.
    Security,
    /// Feature work and fixes.
    Development,
    /// Discovery and cataloguing.
    Inventory,
    /// Pipelines.
    Cicd,
    /// Quality assurance.
    Testing,
    /// Observability.
    Monitoring,
}

impl MasterRole {
    /// Every role, in the seed's order.
    pub const ALL: [MasterRole; 7] = [
        MasterRole::Coordinator,
        MasterRole::Security,
        MasterRole::Development,
        MasterRole::Inventory,
        MasterRole::Cicd,
        MasterRole::Testing,
        MasterRole::Monitoring,
    ];

    /// The name used in plans, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            MasterRole::Coordinator => "coordinator",
            MasterRole::Security => "security",
            MasterRole::Development => "development",
            MasterRole::Inventory => "inventory",
            MasterRole::Cicd => "cicd",
            MasterRole::Testing => "testing",
            MasterRole::Monitoring => "monitoring",
        }
    }
}

impl std::fmt::Display for MasterRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nine worker types of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerType {
    /// Security scanning.
    Scan,
    /// Automated remediation.
    Fix,
    /// Research and investigation.
    Analysis,
    /// Feature building.
    Implementation,
    /// Test creation.
    Test,
    /// Code review.
    Review,
    /// Pull-request creation.
    Pr,
    /// Documentation.
    Documentation,
    /// Deep cataloguing.
    Catalog,
}

/// A worker type's defaults, from the seed plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerDefaults {
    /// Token budget of one task.
    pub budget: u64,
    /// Time limit of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub retries: u32,
}

impl WorkerType {
    /// Every worker type.
    pub const ALL: [WorkerType; 9] = [
        WorkerType::Scan,
        WorkerType::Fix,
        WorkerType::Analysis,
        WorkerType::Implementation,
        WorkerType::Test,
        WorkerType::Review,
        WorkerType::Pr,
        WorkerType::Documentation,
        WorkerType::Catalog,
    ];

    /// The name used in plans, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerType::Scan => "scan",
            WorkerType::Fix => "fix",
            WorkerType::Analysis => "analysis",
            WorkerType::Implementation => "implementation",
            WorkerType::Test => "test",
            WorkerType::Review => "review",
            WorkerType::Pr => "pr",
            WorkerType::Documentation => "documentation",
            WorkerType::Catalog => "catalog",
        }
    }

    /// Budget, timeout and retries when a task does not say (seed numbers).
    pub fn defaults(self) -> WorkerDefaults {
        let (budget, minutes) = match self {
            WorkerType::Scan => (8_000, 15),
            WorkerType::Fix => (5_000, 20),
            WorkerType::Analysis => (5_000, 15),
            WorkerType::Implementation => (10_000, 45),
            WorkerType::Test => (6_000, 20),
            WorkerType::Review => (5_000, 15),
            WorkerType::Pr => (4_000, 10),
            WorkerType::Documentation => (6_000, 20),
            WorkerType::Catalog => (8_000, 15),
        };
        WorkerDefaults {
            budget,
            timeout_ms: minutes * 60_000,
            retries: 2,
        }
    }
}

impl std::fmt::Display for WorkerType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheduling priority; a role's holder starts higher priorities first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// May draw the emergency reserve (through an explicit grant).
    Critical,
    /// Before medium and low.
    High,
    /// The default.
    #[default]
    Medium,
    /// Last.
    Low,
}

/// A task's id, unique within its run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId(pub String);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The run's token budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSpec {
    /// Tokens the run may spend in all.
    pub total: u64,
    /// Part of `total` kept back; drawn only by an explicit grant.
    pub emergency_reserve: u64,
}

/// A master's pools. Its tasks reserve from `workers` first, then `personal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MasterPools {
    /// The master's own pool.
    pub personal: u64,
    /// The pool for its workers' tasks.
    pub workers: u64,
}

impl MasterPools {
    /// Both pools together: the master's allocation.
    pub fn allocation(&self) -> u64 {
        self.personal.saturating_add(self.workers)
    }
}

/// What happens to a task whose dependency did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyPolicy {
    /// The dependent ends `failed` with the reason.
    #[default]
    Fail,
    /// The dependent ends `cancelled` ("skipped") with the reason.
    Skip,
}

/// Where a task may run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    /// A node name, if pinned.
    pub node: Option<String>,
    /// Labels the node must carry (nodeSelector-style, all must match).
    pub labels: BTreeMap<String, String>,
}

/// One validated task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Unique within the run.
    pub id: TaskId,
    /// The role that schedules it and whose pools pay for it.
    pub master: MasterRole,
    /// Its worker type.
    pub worker: WorkerType,
    /// Scheduling priority.
    pub priority: Priority,
    /// Tasks that must complete first, including the tasks of the previous
    /// phase when phases are used.
    pub depends_on: Vec<TaskId>,
    /// Tokens reserved for each attempt.
    pub budget: u64,
    /// Time limit of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Where it may run.
    pub placement: Placement,
    /// How it runs.
    pub executor: ExecutorSpec,
    /// Whether it waits for an approval through the API before starting.
    pub approval_required: bool,
    /// Its phase, if the plan has phases.
    pub phase: Option<String>,
    /// Free text for people.
    pub description: Option<String>,
}

/// One validated run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// `metadata.name` of the plan.
    pub name: String,
    /// The token budget.
    pub budget: BudgetSpec,
    /// Pools of the masters the plan uses (roles absent here have none).
    pub masters: BTreeMap<MasterRole, MasterPools>,
    /// The tasks, in plan order.
    pub tasks: Vec<TaskSpec>,
    /// Phase names in order, if any.
    pub phases: Vec<String>,
    /// Run deadline from submission, in milliseconds, if any.
    pub timeout_ms: Option<u64>,
    /// What a failed dependency does to its dependents.
    pub on_dependency_failure: DependencyPolicy,
}
