//! What a scenario records while it runs: faults, submissions, and what the
//! voters said about the runs and the leases, each with the time it was
//! seen. Polls go to every reachable voter in turn, so a stale minority
//! voter's view is recorded too (the checkers compare views per voter).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::watch;

use crate::cluster::{run_ended, ProcessCluster};
use crate::history::{
    FaultRecord, LeaseObservation, LeasePoll, Millis, RunPoll, RunSnapshot, Submission,
    SubmitOutcome,
};

/// Pause between two rounds of polls.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Now, in ms since the Unix epoch (the clock the cluster stamps with).
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Everything recorded so far; shared by the scenario and its pollers.
#[derive(Default)]
pub struct Recorder {
    inner: Mutex<Recorded>,
}

/// The recorded parts of a [`crate::history::History`].
#[derive(Default)]
pub struct Recorded {
    pub faults: Vec<FaultRecord>,
    pub submissions: Vec<Submission>,
    pub polls: Vec<RunPoll>,
    pub lease_polls: Vec<LeasePoll>,
}

impl Recorder {
    /// Runs `f` on the records.
    pub fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Logs a fault (also to stderr, so a test's output shows the timeline).
    pub fn fault(&self, fault: &str, target: &str, note: &str) {
        let at = now_ms();
        eprintln!("cortex-chaos: {at} {fault} {target} {note}");
        self.with(|r| {
            r.faults.push(FaultRecord {
                at,
                fault: fault.to_string(),
                target: target.to_string(),
                note: note.to_string(),
            })
        });
    }

    /// Ids of the runs the cluster acknowledged.
    pub fn acked(&self) -> Vec<String> {
        self.with(|r| {
            r.submissions
                .iter()
                .filter_map(|s| match &s.outcome {
                    SubmitOutcome::Acked { run_id } => Some(run_id.clone()),
                    _ => None,
                })
                .collect()
        })
    }
}

/// Submits `plan` (run `name`) through voter `via` and records the outcome:
/// acknowledged (201), refused (a 4xx: it was not accepted), or unknown (no
/// answer or a 5xx: it may still commit). Returns the run id if acked.
pub async fn submit(
    cluster: &ProcessCluster,
    recorder: &Recorder,
    via: u64,
    name: &str,
    plan: &str,
) -> Option<String> {
    let at = now_ms();
    let outcome = match cluster.post_run(via, plan).await {
        Ok((status, body)) if status == reqwest::StatusCode::CREATED => match body["id"].as_str() {
            Some(id) => SubmitOutcome::Acked {
                run_id: id.to_string(),
            },
            None => SubmitOutcome::Unknown {
                error: format!("201 without a run id: {body}"),
            },
        },
        Ok((status, body)) if status.is_client_error() => SubmitOutcome::Refused {
            status: status.as_u16(),
            body: body.to_string(),
        },
        Ok((status, body)) => SubmitOutcome::Unknown {
            error: format!("{status}: {body}"),
        },
        Err(error) => SubmitOutcome::Unknown {
            error: error.to_string(),
        },
    };
    let id = match &outcome {
        SubmitOutcome::Acked { run_id } => Some(run_id.clone()),
        _ => None,
    };
    let submission = Submission {
        at,
        name: name.to_string(),
        outcome,
    };
    recorder.with(|r| r.submissions.push(submission));
    id
}

/// Polls until `stop`: every unfinished acknowledged run and the leases,
/// from each live voter in turn.
pub async fn poll(
    cluster: Arc<ProcessCluster>,
    recorder: Arc<Recorder>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ended: Vec<String> = Vec::new();
    loop {
        for via in cluster.live_ids() {
            let host = cluster.voter_host(via);
            if let Ok(status) = cluster.get_json_from(via, "/v1/cluster").await {
                if let Some(leases) = leases(&status) {
                    let poll = LeasePoll {
                        at: now_ms(),
                        via: host.clone(),
                        leases,
                    };
                    recorder.with(|r| r.lease_polls.push(poll));
                }
            }
            for id in recorder.acked() {
                if ended.contains(&id) {
                    continue;
                }
                let Ok(run) = cluster.get_json_from(via, &format!("/v1/runs/{id}")).await else {
                    continue;
                };
                let at = now_ms();
                if run_ended(&run) {
                    ended.push(id);
                }
                if let Ok(run) = serde_json::from_value::<RunSnapshot>(run) {
                    let poll = RunPoll {
                        at,
                        via: host.clone(),
                        run,
                    };
                    recorder.with(|r| r.polls.push(poll));
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The `leases` of a `GET /v1/cluster` answer (`None` if it has none).
pub(super) fn leases(status: &Value) -> Option<Vec<LeaseObservation>> {
    serde_json::from_value(status.get("leases")?.clone()).ok()
}
