//! Executes the attempts the state assigns to this node.
//!
//! * [`supervisor`] follows the node's assignments: starts an attempt that
//!   appears, stops one that disappears (fenced, cancelled, expired).
//! * [`attempt`] runs one attempt: time limit, token cap, progress, logs
//!   and the final report, whatever the executor; [`assets`] writes what
//!   it discovers to the catalog; [`activity`] shows watchers what it is
//!   doing right now.
//! * The executors themselves — [`process`], [`llm`], [`k8s_job`], the
//!   builtins in `crate::builtin` — only do the work and describe it as
//!   protocol [`Line`]s; they hold no policy. [`output`] reads what a
//!   worker prints (a process's stdout, a Job's pod log) the same way for
//!   all of them. [`secrets`] resolves the secrets a plan references and
//!   redacts them from everything reported.

pub mod activity;
pub mod assets;
pub mod attempt;
pub mod k8s_job;
pub mod llm;
pub mod output;
pub mod process;
pub mod secrets;
pub mod stream_json;
pub mod supervisor;

use std::time::Duration;

use cortex_consensus::plan::{ExecutorSpec, TaskId};
use cortex_consensus::run::RunId;
use cortex_consensus::state::assignments::Assignment;
use tokio::sync::{mpsc, watch};

use crate::metrics::WorkerMetrics;
use crate::protocol::Line;
use secrets::Redactor;

pub use k8s_job::JobSite;
pub use supervisor::supervise;

/// An attempt's identity: run, task and attempt number.
pub type AttemptKey = (RunId, TaskId, u32);

/// What an executor knows about the attempt it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The run.
    pub run: RunId,
    /// The task.
    pub task: TaskId,
    /// The attempt number (1 for the first).
    pub attempt: u32,
    /// The node it runs on.
    pub node: String,
    /// Tokens reserved for it: usage must stay below.
    pub reserved: u64,
    /// Its time limit.
    pub timeout: Duration,
    /// The task's last checkpoint (JSON text), to resume from.
    pub checkpoint: Option<String>,
}

impl Context {
    /// The context of `assignment` on `node`.
    pub fn of(assignment: &Assignment, node: &str) -> Context {
        Context {
            run: assignment.run.clone(),
            task: assignment.task.clone(),
            attempt: assignment.attempt,
            node: node.to_string(),
            reserved: assignment.reserved,
            timeout: Duration::from_millis(assignment.timeout_ms),
            checkpoint: assignment.checkpoint.clone(),
        }
    }

    /// The environment every worker process gets (documented in
    /// `docs/worker-protocol.md`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CORTEX_RUN_ID", self.run.0.clone()),
            ("CORTEX_TASK_ID", self.task.0.clone()),
            ("CORTEX_ATTEMPT", self.attempt.to_string()),
            ("CORTEX_NODE", self.node.clone()),
            ("CORTEX_TOKEN_BUDGET", self.reserved.to_string()),
            ("CORTEX_TIMEOUT_SECONDS", self.timeout.as_secs().to_string()),
            (
                "CORTEX_CHECKPOINT",
                self.checkpoint.clone().unwrap_or_default(),
            ),
        ]
    }
}

/// Where an executor describes its work, in the worker protocol's terms,
/// and what it measures on the side.
#[derive(Debug, Clone)]
pub struct Events {
    lines: mpsc::UnboundedSender<Line>,
    metrics: WorkerMetrics,
    redactor: Redactor,
}

impl Events {
    /// A sender and the receiver the attempt reads; measurements go to
    /// metrics nobody exports (see [`Events::measured_by`]).
    pub fn channel() -> (Events, mpsc::UnboundedReceiver<Line>) {
        let (lines, rx) = mpsc::unbounded_channel();
        let metrics = WorkerMetrics::default();
        let redactor = Redactor::default();
        (
            Events {
                lines,
                metrics,
                redactor,
            },
            rx,
        )
    }

    /// The same events, measured into the node's `metrics`.
    pub fn measured_by(self, metrics: WorkerMetrics) -> Events {
        Events { metrics, ..self }
    }

    /// Reports one event, with the attempt's secrets redacted. Events after
    /// the attempt ended are dropped.
    pub fn send(&self, line: Line) {
        let _ = self.lines.send(self.redactor.line(line));
    }

    /// The attempt's secrets: an executor adds each value it reads.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Records one model call's usage (the tokens still go in a `Tokens` line).
    pub fn model_usage(&self, model: &str, input_tokens: u64, output_tokens: u64) {
        self.metrics.llm_usage(model, input_tokens, output_tokens);
    }

    /// Reports a log line.
    pub fn log(&self, line: impl Into<String>) {
        self.send(Line::Log(line.into()));
    }
}

/// Asks an executor to finish now and hand back what it has (the token
/// cap was reached). It gets a grace period; then it is dropped.
pub type WrapUp = watch::Receiver<bool>;

/// Runs `executor` to its end: `Ok` if the work succeeded, `Err` with the
/// reason otherwise. Dropping the future stops the work (processes killed,
/// Jobs deleted). `jobs` is where this node runs `k8s-job` attempts; a node
/// without one refuses them.
pub async fn execute(
    executor: &ExecutorSpec,
    context: &Context,
    jobs: Option<&JobSite>,
    events: &Events,
    wrap_up: WrapUp,
) -> Result<(), String> {
    match executor {
        ExecutorSpec::Process(spec) => process::run(spec, context, events, wrap_up).await,
        ExecutorSpec::Llm(spec) => llm::run(spec, context, events).await,
        ExecutorSpec::Builtin(spec) => crate::builtin::run(spec, context, events).await,
        ExecutorSpec::K8sJob(spec) => match jobs {
            Some(site) => k8s_job::run(spec, context, site, events, wrap_up).await,
            None => Err(k8s_job::not_enabled(&context.node)),
        },
    }
}
