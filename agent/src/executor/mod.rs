//! Executes the attempts the state assigns to this node.
//!
//! The supervisor wakes on every applied change, starts a runner for each
//! live attempt placed here that is not running yet, and stops runners whose
//! attempt is no longer live (fenced after a node loss, cancelled, expired).
//! Runners report progress (throttled) and their final outcome through Raft;
//! a report for a superseded attempt is refused by the state machine.

pub mod process;

use std::collections::HashMap;
use std::time::Duration;

use cortex_consensus::command::Command;
use cortex_consensus::plan::{ExecutorSpec, TaskId};
use cortex_consensus::run::{AttemptReport, RunId};
use cortex_consensus::{ConsensusError, ConsensusHandle};
use tokio::sync::{mpsc, watch};

use process::{Job, Progress};

/// Progress reports are sent at most this often per attempt.
const PROGRESS_EVERY: Duration = Duration::from_millis(300);

type AttemptKey = (RunId, TaskId, u32);

/// Runs until `stop` turns true.
pub async fn supervise(handle: ConsensusHandle, node: String, mut stop: watch::Receiver<bool>) {
    let mut changes = handle.state().changes();
    let mut running: HashMap<AttemptKey, watch::Sender<bool>> = HashMap::new();
    let (done_tx, mut done) = mpsc::unbounded_channel::<AttemptKey>();
    loop {
        let assigned = assigned_here(&handle, &node);
        for (key, job) in &assigned {
            if !running.contains_key(key) {
                let (cancel, cancelled) = watch::channel(false);
                running.insert(key.clone(), cancel);
                tracing::info!(run = %key.0, task = %key.1, attempt = key.2, "starting attempt");
                tokio::spawn(run_attempt(
                    handle.clone(),
                    key.clone(),
                    job.clone(),
                    cancelled,
                    done_tx.clone(),
                ));
            }
        }
        running.retain(|key, cancel| {
            let live = assigned.iter().any(|(k, _)| k == key);
            if !live {
                tracing::info!(run = %key.0, task = %key.1, attempt = key.2, "attempt no longer live; stopping it");
                let _ = cancel.send(true);
            }
            live
        });
        tokio::select! {
            _ = changes.changed() => {}
            Some(key) = done.recv() => { running.remove(&key); }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => {
                for cancel in running.values() {
                    let _ = cancel.send(true);
                }
                return;
            }
        }
    }
}

/// Live attempts placed on `node`, with what is needed to run them.
fn assigned_here(handle: &ConsensusHandle, node: &str) -> Vec<(AttemptKey, Job)> {
    handle.state().read(|machine| {
        let mut assigned = Vec::new();
        for run in machine.state.runs.values() {
            for (id, task) in &run.tasks {
                let Some(attempt) = task.live_attempt().filter(|a| a.node == node) else {
                    continue;
                };
                let ExecutorSpec::Process {
                    command,
                    env,
                    workdir,
                } = &task.spec.executor;
                let mut env = env.clone();
                env.insert("CORTEX_RUN_ID".into(), run.id.0.clone());
                env.insert("CORTEX_TASK_ID".into(), id.0.clone());
                env.insert("CORTEX_ATTEMPT".into(), attempt.number.to_string());
                env.insert("CORTEX_TOKEN_BUDGET".into(), attempt.reserved.to_string());
                env.insert(
                    "CORTEX_TIMEOUT_SECONDS".into(),
                    (task.spec.timeout_ms / 1000).to_string(),
                );
                env.insert(
                    "CORTEX_CHECKPOINT".into(),
                    task.checkpoint.clone().unwrap_or_default(),
                );
                let job = Job {
                    command: command.clone(),
                    env,
                    workdir: workdir.clone(),
                    reserved: attempt.reserved,
                    timeout: Duration::from_millis(task.spec.timeout_ms),
                };
                assigned.push(((run.id.clone(), id.clone(), attempt.number), job));
            }
        }
        assigned
    })
}

async fn run_attempt(
    handle: ConsensusHandle,
    key: AttemptKey,
    job: Job,
    cancelled: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<AttemptKey>,
) {
    let (progress_tx, mut progress) = mpsc::unbounded_channel::<Progress>();
    let runner = tokio::spawn(process::run(job, progress_tx, cancelled.clone()));
    let mut latest: Option<Progress> = None;
    let mut checkpoint: Option<String> = None;
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tokio::select! {
            update = progress.recv() => match update {
                Some(update) => {
                    if update.checkpoint.is_some() {
                        checkpoint = update.checkpoint.clone();
                    }
                    latest = Some(update);
                }
                None => break,
            },
            _ = tick.tick() => {
                if let Some(update) = latest.take() {
                    let report = AttemptReport::Progress {
                        tokens_used: update.tokens_used,
                        percent: update.percent,
                        message: update.message,
                        checkpoint: checkpoint.take(),
                    };
                    // Progress is best effort; the final report is not.
                    let _ = handle.write(report_command(&key, report)).await;
                }
            }
        }
    }
    let report = match runner.await {
        Ok(report) => report,
        Err(e) => AttemptReport::Failed {
            tokens_used: 0,
            error: format!("runner crashed: {e}"),
        },
    };
    if *cancelled.borrow() {
        // Fenced or cancelled: the state already ended this attempt.
        let _ = done.send(key);
        return;
    }
    if let (Some(c), AttemptReport::Completed { .. }) = (checkpoint.take(), &report) {
        // A checkpoint printed just before exiting still reaches the state.
        let progress = AttemptReport::Progress {
            tokens_used: 0,
            percent: 100,
            message: None,
            checkpoint: Some(c),
        };
        let _ = handle.write(report_command(&key, progress)).await;
    }
    loop {
        match handle.write(report_command(&key, report.clone())).await {
            Ok(_) => break,
            Err(ConsensusError::Rejected(rejection)) => {
                // Superseded (fenced, cancelled, run ended): nothing to retry.
                tracing::warn!(run = %key.0, task = %key.1, attempt = key.2, %rejection, "final report refused");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "final report not delivered yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    let _ = done.send(key);
}

fn report_command(key: &AttemptKey, report: AttemptReport) -> Command {
    Command::ReportAttempt {
        run: key.0.clone(),
        task: key.1.clone(),
        attempt: key.2,
        report,
    }
}
