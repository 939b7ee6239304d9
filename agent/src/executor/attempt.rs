//! Runs one attempt, whatever its executor, and reports it through Raft.
//!
//! The policy lives here, not in the executors: the time limit (the work is
//! dropped, which kills a process group), the hard token cap (the executor
//! is asked to wrap up, gets [`GRACE`] to hand back a partial result, then
//! is dropped), throttled progress with log lines and checkpoints, assets
//! written to the catalog in batches, and a final report retried until the
//! cluster takes it or refuses it as stale.

use std::time::Duration;

use cortex_consensus::command::Command;
use cortex_consensus::plan::ExecutorSpec;
use cortex_consensus::run::{AttemptReport, Handoff};
use cortex_consensus::state::assignments::Assignment;
use cortex_consensus::ConsensusError;
use tokio::sync::{mpsc, watch};

use super::activity::{Activity, ACTIVITY_EVERY};
use super::assets::AssetSink;
use super::{execute, AttemptKey, Context, Events, JobSite};
use crate::control::Control;
use crate::protocol::Line;
use crate::telemetry::Telemetry;

/// Progress (with logs and checkpoints) is reported at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(300);
/// Time an executor gets to hand back a partial result at the token cap.
pub const GRACE: Duration = Duration::from_secs(3);
/// Longest error text reported (the tail of a failing worker's output).
const MAX_ERROR_BYTES: usize = 2048;

/// What the attempt has said so far.
#[derive(Default)]
struct Tally {
    tokens: u64,
    percent: u8,
    message: Option<String>,
    checkpoint: Option<String>,
    result: Option<String>,
    handoffs: Vec<Handoff>,
    /// Lines not reported yet.
    logs: Vec<String>,
    last_log: Option<String>,
    /// Whether anything changed since the last progress report.
    dirty: bool,
}

impl Tally {
    fn take(&mut self, line: Line) {
        self.dirty = true;
        match line {
            Line::Progress { percent, message } => {
                self.percent = percent;
                self.message = message;
            }
            Line::Tokens(n) => self.tokens = self.tokens.saturating_add(n),
            Line::Checkpoint(c) => self.checkpoint = Some(c),
            Line::Result(r) => self.result = Some(r),
            Line::Handoff(h) => self.handoffs.push(h),
            Line::Asset(_) => {} // taken by the attempt's AssetSink
            Line::Log(l) => {
                self.last_log = Some(l.clone());
                self.logs.push(l);
            }
        }
    }

    /// A progress report of what changed, if anything did.
    fn progress(&mut self) -> Option<AttemptReport> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let mut logs = std::mem::take(&mut self.logs);
        let mut bytes = 0;
        // One report carries a bounded amount; the state keeps only a tail anyway.
        logs.retain(|l| {
            bytes += l.len();
            bytes <= AttemptReport::MAX_LOG_BYTES / 2
        });
        Some(AttemptReport::Progress {
            tokens_used: self.tokens,
            percent: self.percent,
            message: self
                .message
                .clone()
                .map(|m| truncate(m, AttemptReport::MAX_MESSAGE_BYTES)),
            checkpoint: self
                .checkpoint
                .take()
                .filter(|c| c.len() <= AttemptReport::MAX_DOCUMENT_BYTES),
            logs,
        })
    }
}

/// How the work ended, before it is turned into a report.
enum Ending {
    Finished(Result<(), String>),
    TimedOut,
    Capped,
}

/// Awaits `work` unless `cancelled` turns true first (`None`).
async fn unless_cancelled<T>(
    cancelled: &mut watch::Receiver<bool>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = cancelled.wait_for(|c| *c) => None,
    }
}

/// Runs `assignment` on `node` (its `k8s-job` attempts at `jobs`) until it
/// ends or `cancelled` turns true (the attempt was fenced: nothing is
/// reported then). Sends its key on `done`.
pub async fn run(
    control: Control,
    assignment: Assignment,
    node: String,
    jobs: Option<JobSite>,
    telemetry: Telemetry,
    mut cancelled: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<AttemptKey>,
) {
    let started = tokio::time::Instant::now();
    let key = assignment.key();
    let context = Context::of(&assignment, &node);
    let report = |report: AttemptReport| Command::ReportAttempt {
        run: context.run.clone(),
        task: context.task.clone(),
        attempt: context.attempt,
        report,
    };
    let (events, mut lines) = Events::channel();
    let events = events.measured_by(telemetry.metrics.clone());
    let mut activity = Activity::new(&context, telemetry.bus.clone());
    let (wrap_up, wrapping_up) = watch::channel(false);
    let _ = control.write(report(AttemptReport::Started)).await;

    let mut tally = Tally::default();
    let mut assets = AssetSink::new(&context);
    // Takes one line: assets go to the sink (a bad one becomes a log line).
    let take = |tally: &mut Tally, assets: &mut AssetSink, line: Line| match line {
        Line::Asset(json) => {
            if let Some(problem) = assets.take(&json) {
                tally.take(Line::Log(problem));
            }
        }
        other => tally.take(other),
    };
    let deadline = tokio::time::sleep(context.timeout);
    tokio::pin!(deadline);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    let mut capped = false;
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let mut activity_tick = tokio::time::interval(ACTIVITY_EVERY);
    let work = execute(
        &assignment.executor,
        &context,
        jobs.as_ref(),
        &events,
        wrapping_up,
    );
    // Leaving this block drops the work, which stops it; what it said
    // before stopping still counts.
    let ending = {
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => break Ending::Finished(result),
                Some(line) = lines.recv() => {
                    activity.take(&line, tally.tokens);
                    take(&mut tally, &mut assets, line);
                    if !capped && tally.tokens >= context.reserved {
                        capped = true;
                        let _ = wrap_up.send(true);
                        grace.as_mut().reset(tokio::time::Instant::now() + GRACE);
                    }
                }
                _ = &mut deadline => break Ending::TimedOut,
                _ = &mut grace => break Ending::Capped,
                _ = activity_tick.tick() => activity.publish(),
                _ = tick.tick() => {
                    // The writes wait for a leader; a fenced attempt must
                    // not run on while they do.
                    let reported = unless_cancelled(&mut cancelled, async {
                        if assets.has_pending() {
                            assets.flush(&control).await;
                        }
                        match tally.progress() {
                            Some(progress) => control.write(report(progress)).await.err(),
                            None => None,
                        }
                    })
                    .await;
                    match reported {
                        None => {
                            let _ = done.send(key);
                            return;
                        }
                        Some(Some(ConsensusError::Rejected(why))) => {
                            // Superseded while this node did not know yet.
                            tracing::info!(run = %key.0, task = %key.1, attempt = key.2, %why, "attempt no longer live; stopping it");
                            let _ = done.send(key);
                            return;
                        }
                        Some(_) => {}
                    }
                }
                _ = async { let _ = cancelled.wait_for(|c| *c).await; } => {
                    let _ = done.send(key);
                    return;
                }
            }
        }
    };
    let redactor = events.redactor().clone();
    drop(events);
    while let Ok(line) = lines.try_recv() {
        take(&mut tally, &mut assets, line);
    }
    let ending = match ending {
        Ending::Finished(_) | Ending::Capped if capped => Ending::Capped,
        other => other,
    };
    // A pass ends when it completed and it was one: a discovery builtin, or
    // a worker that reported assets (a task that never does keeps its
    // source untouched, and costs no extra write).
    let discovery = matches!(&assignment.executor, ExecutorSpec::Builtin(b) if b.discovers());
    if matches!(ending, Ending::Finished(Ok(()))) && (discovery || assets.accepted > 0) {
        assets.finish(&control).await;
    } else {
        assets.flush(&control).await;
    }
    if assets.accepted + assets.rejected > 0 {
        tally.take(Line::Log(format!(
            "{} assets catalogued, {} dropped as invalid",
            assets.accepted, assets.rejected
        )));
    }
    if let Some(progress) = tally.progress() {
        let _ = control.write(report(progress)).await;
    }
    let final_report = match ending {
        Ending::Finished(Ok(())) => AttemptReport::Completed {
            tokens_used: tally.tokens,
            result: tally
                .result
                .filter(|r| r.len() <= AttemptReport::MAX_DOCUMENT_BYTES),
            handoffs: tally
                .handoffs
                .into_iter()
                .take(AttemptReport::MAX_HANDOFFS)
                .collect(),
        },
        Ending::Finished(Err(error)) => {
            // An executor's own message may quote what it was given.
            let error = redactor.text(&error);
            let error = match tally.last_log {
                Some(last) if !error.contains(&last) => format!("{error}; last output: {last}"),
                _ => error,
            };
            AttemptReport::Failed {
                tokens_used: tally.tokens,
                error: truncate(error, MAX_ERROR_BYTES),
            }
        }
        Ending::TimedOut => AttemptReport::TimedOut {
            tokens_used: tally.tokens,
        },
        Ending::Capped => AttemptReport::BudgetExceeded {
            tokens_used: tally.tokens,
            partial_result: tally
                .result
                .filter(|r| r.len() <= AttemptReport::MAX_DOCUMENT_BYTES),
        },
    };
    deliver(&control, report(final_report), &key).await;
    telemetry
        .metrics
        .attempt_ended(assignment.worker.as_str(), started.elapsed().as_secs_f64());
    let _ = done.send(key);
}

/// Retries the final report until it is applied or refused.
async fn deliver(control: &Control, command: Command, key: &AttemptKey) {
    loop {
        match control.write(command.clone()).await {
            Ok(_) => return,
            Err(ConsensusError::Rejected(rejection)) => {
                // Superseded (fenced, cancelled, run ended): nothing to retry.
                tracing::warn!(run = %key.0, task = %key.1, attempt = key.2, %rejection, "final report refused");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "final report not delivered yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
