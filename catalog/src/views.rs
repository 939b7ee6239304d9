//! Read-only views of runs, tasks, workers (attempts, see [`crate::workers`]),
//! master leases and nodes, built from the replicated state, so one GraphQL
//! endpoint can serve a dashboard.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, ID};
use cortex_consensus::run::{Run, RunId, RunStatus, Task, TaskState};
use cortex_consensus::state::nodes::NodeStatus;

use crate::cluster::{read, SharedCluster};
use crate::scalars::DateTime;
use crate::workers::Worker;

/// A run's lifecycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RunStatus", remote = "RunStatus")]
pub enum RunStatusView {
    /// Submitted; no attempt started yet.
    Pending,
    /// Attempts are running or tasks are pending.
    Running,
    /// Every task completed.
    Completed,
    /// Ended with a task not completed, or past its deadline.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// Where a task is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TaskState", remote = "TaskState")]
pub enum TaskStateView {
    /// Waiting for dependencies, approval, backoff, budget or a node.
    Pending,
    /// An attempt is live.
    Running,
    /// Waiting for an escalation to be resolved.
    Blocked,
    /// Done.
    Completed,
    /// Ended without success.
    Failed,
    /// Cancelled with its run, or skipped.
    Cancelled,
    /// Its budget could not cover it.
    BudgetExceeded,
    /// Its last attempt ran out of time.
    TimedOut,
}

/// A run's token totals.
#[derive(SimpleObject)]
pub struct RunBudget {
    /// The run's budget.
    total: u64,
    /// Settled usage.
    spent: u64,
    /// Held by live attempts.
    reserved: u64,
    /// Emergency reserve not yet granted.
    reserve_left: u64,
}

/// One master's account in a run.
#[derive(SimpleObject)]
pub struct MasterBudget {
    /// The role.
    role: String,
    /// Its limit (pools, grants and moves).
    limit: u64,
    /// Settled usage.
    spent: u64,
    /// Held by live attempts.
    reserved: u64,
    /// What it can still reserve.
    available: u64,
}

/// A task of a run.
#[derive(SimpleObject)]
#[graphql(complex, name = "Task")]
pub struct TaskView {
    /// Its id in the run.
    id: ID,
    /// Its master role.
    master: String,
    /// Its worker type.
    worker_type: String,
    /// Where it is.
    state: TaskStateView,
    /// `critical`, `high`, `medium` or `low`.
    priority: String,
    /// Tasks it waits for.
    depends_on: Vec<String>,
    /// Its phase, if the plan has phases.
    phase: Option<String>,
    /// Why it ended, or why it waits.
    reason: Option<String>,
    /// Tokens settled across its attempts.
    tokens_spent: u64,
    /// When it was created.
    created_at: DateTime,
    /// When it ended.
    finished_at: Option<DateTime>,
    #[graphql(skip)]
    run: RunId,
    #[graphql(skip)]
    task: Task,
}

#[ComplexObject]
impl TaskView {
    /// Its attempts, oldest first.
    async fn attempts(&self) -> Vec<Worker> {
        self.task
            .attempts
            .iter()
            .map(|a| Worker::new(&self.run, &self.task, a))
            .collect()
    }
}

impl TaskView {
    fn new(run: &RunId, task: &Task) -> TaskView {
        TaskView {
            id: ID(task.spec.id.to_string()),
            master: task.spec.master.to_string(),
            worker_type: task.spec.worker.to_string(),
            state: task.state.into(),
            priority: format!("{:?}", task.spec.priority).to_lowercase(),
            depends_on: task
                .spec
                .depends_on
                .iter()
                .map(ToString::to_string)
                .collect(),
            phase: task.spec.phase.clone(),
            reason: task.reason.clone(),
            tokens_spent: task.tokens_spent,
            created_at: DateTime(task.created_at),
            finished_at: task.finished_at.map(DateTime),
            run: run.clone(),
            task: task.clone(),
        }
    }
}

/// A submitted run.
pub struct RunView(Arc<Run>);

#[Object(name = "Run")]
impl RunView {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The plan's name.
    async fn name(&self) -> &str {
        &self.0.spec.name
    }

    /// Where it is.
    async fn status(&self) -> RunStatusView {
        self.0.status.into()
    }

    /// Why it ended, when it did not simply complete.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// When it was submitted.
    async fn submitted_at(&self) -> DateTime {
        DateTime(self.0.submitted_at)
    }

    /// When it ended.
    async fn finished_at(&self) -> Option<DateTime> {
        self.0.finished_at.map(DateTime)
    }

    /// Token totals.
    async fn budget(&self) -> RunBudget {
        let ledger = &self.0.ledger;
        RunBudget {
            total: ledger.total,
            spent: ledger.spent(),
            reserved: ledger.reserved(),
            reserve_left: ledger.reserve_left,
        }
    }

    /// Accounts per master.
    async fn masters(&self) -> Vec<MasterBudget> {
        self.0
            .ledger
            .accounts
            .iter()
            .map(|(role, account)| MasterBudget {
                role: role.to_string(),
                limit: account.limit(),
                spent: account.spent,
                reserved: account.reserved,
                available: account.available(),
            })
            .collect()
    }

    /// Its tasks in plan order (handoffs last), optionally in one state.
    async fn tasks(&self, state: Option<TaskStateView>) -> Vec<TaskView> {
        let run = &self.0;
        run.order
            .iter()
            .filter_map(|id| run.tasks.get(id))
            .filter(|task| state.is_none_or(|s| TaskState::from(s) == task.state))
            .map(|task| TaskView::new(&run.id, task))
            .collect()
    }
}

/// A master-role lease.
#[derive(SimpleObject)]
pub struct MasterLease {
    /// The role.
    role: String,
    /// The voter holding it.
    holder: u64,
    /// Its fencing epoch.
    epoch: u64,
    /// When it lapses unless renewed.
    expires_at: DateTime,
}

/// A node that executes attempts.
#[derive(SimpleObject)]
pub struct ClusterNode {
    /// Its name.
    name: String,
    /// `true` while it heartbeats.
    alive: bool,
    /// Attempts it runs at once.
    capacity: u32,
    /// Its Raft id if it is a voter.
    voter: Option<u64>,
    /// Its last heartbeat.
    last_heartbeat: DateTime,
}

/// Run, worker, lease and node queries.
#[derive(Default)]
pub struct RunQuery;

#[Object]
impl RunQuery {
    /// Runs, newest first, optionally with one status.
    async fn runs(&self, ctx: &Context<'_>, status: Option<RunStatusView>) -> Vec<RunView> {
        let cluster = ctx.data_unchecked::<SharedCluster>();
        let mut runs: Vec<Arc<Run>> = read(cluster.as_ref(), |state| {
            state
                .runs
                .values()
                .filter(|run| status.is_none_or(|s| RunStatus::from(s) == run.status))
                .map(|run| Arc::new(run.clone()))
                .collect()
        });
        runs.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at).then(a.id.cmp(&b.id)));
        runs.into_iter().map(RunView).collect()
    }

    /// A run by id.
    async fn run(&self, ctx: &Context<'_>, id: ID) -> Option<RunView> {
        let cluster = ctx.data_unchecked::<SharedCluster>();
        read(cluster.as_ref(), |state| {
            state
                .runs
                .get(&RunId(id.0))
                .map(|run| RunView(Arc::new(run.clone())))
        })
    }

    /// Workers (attempts) of every run, or of one; only live ones unless
    /// `live` is false.
    async fn workers(
        &self,
        ctx: &Context<'_>,
        run_id: Option<ID>,
        #[graphql(default = true)] live: bool,
    ) -> Vec<Worker> {
        let cluster = ctx.data_unchecked::<SharedCluster>();
        read(cluster.as_ref(), |state| {
            let mut workers = Vec::new();
            let runs = state
                .runs
                .values()
                .filter(|run| run_id.as_ref().is_none_or(|id| run.id.0 == id.0));
            for run in runs {
                for task in run.order.iter().filter_map(|id| run.tasks.get(id)) {
                    for attempt in &task.attempts {
                        if !live || attempt.end.is_none() {
                            workers.push(Worker::new(&run.id, task, attempt));
                        }
                    }
                }
            }
            workers
        })
    }

    /// The master-role leases and their holders.
    async fn masters(&self, ctx: &Context<'_>) -> Vec<MasterLease> {
        let cluster = ctx.data_unchecked::<SharedCluster>();
        read(cluster.as_ref(), |state| {
            state
                .leases
                .held
                .iter()
                .map(|(role, lease)| MasterLease {
                    role: role.to_string(),
                    holder: lease.holder,
                    epoch: lease.epoch,
                    expires_at: DateTime(lease.expires_at),
                })
                .collect()
        })
    }

    /// Nodes that execute attempts.
    async fn nodes(&self, ctx: &Context<'_>) -> Vec<ClusterNode> {
        let cluster = ctx.data_unchecked::<SharedCluster>();
        read(cluster.as_ref(), |state| {
            state
                .nodes
                .by_name
                .values()
                .map(|node| ClusterNode {
                    name: node.name.clone(),
                    alive: node.status == NodeStatus::Alive,
                    capacity: node.capacity,
                    voter: node.voter,
                    last_heartbeat: DateTime(node.last_heartbeat),
                })
                .collect()
        })
    }
}
