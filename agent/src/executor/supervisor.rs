//! Follows the node's assignments and keeps exactly those attempts running.
//!
//! An attempt is keyed by run, task and attempt number, so hearing the same
//! list again (a keepalive, another voter after a leader change) never
//! starts it twice, and a new attempt of the same task is a new key. When
//! the list says nothing — the node's lease lapsed (no heartbeat committed
//! for three quarters of the node timeout) or it is out of touch with the
//! cluster — every attempt is stopped, before the cluster can fence them. An
//! attempt that ended here is not started again while this node's view still
//! lists it; one stopped by a lapse starts again (same attempt, from its
//! checkpoint) if the cluster still lists it once the lease is back.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, watch};

use super::{attempt, AttemptKey, JobSite};
use crate::control::{Assignments, Control};
use crate::telemetry::Telemetry;

/// Runs until `stop` turns true, then stops every attempt. `k8s-job`
/// attempts run at `jobs`, if this node has one.
pub async fn supervise(
    control: Control,
    node: String,
    jobs: Option<JobSite>,
    mut assignments: Assignments,
    telemetry: Telemetry,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: HashMap<AttemptKey, watch::Sender<bool>> = HashMap::new();
    // Attempts that ended here but may still be listed until this node's
    // view catches up with their final report: never started again.
    let mut ended: HashSet<AttemptKey> = HashSet::new();
    // Attempts stopped here because the list dropped them, until their
    // worker is gone: if the list names them again (the lease came back),
    // they start again then, never beside their old worker.
    let mut stopping: HashSet<AttemptKey> = HashSet::new();
    let (done_tx, mut done) = mpsc::unbounded_channel::<AttemptKey>();
    loop {
        let current = assignments.borrow_and_update().clone().unwrap_or_default();
        for assignment in &current {
            let key = assignment.key();
            if running.contains_key(&key) || ended.contains(&key) || stopping.contains(&key) {
                continue;
            }
            let (cancel, cancelled) = watch::channel(false);
            running.insert(key.clone(), cancel);
            tracing::info!(run = %key.0, task = %key.1, attempt = key.2, executor = assignment.executor.kind(), "starting attempt");
            tokio::spawn(attempt::run(
                control.clone(),
                assignment.clone(),
                node.clone(),
                jobs.clone(),
                telemetry.clone(),
                cancelled,
                done_tx.clone(),
            ));
        }
        ended.retain(|key| current.iter().any(|a| &a.key() == key));
        running.retain(|key, cancel| {
            let live = current.iter().any(|a| &a.key() == key);
            if !live {
                tracing::info!(run = %key.0, task = %key.1, attempt = key.2, "attempt no longer live; stopping it");
                let _ = cancel.send(true);
                stopping.insert(key.clone());
            }
            live
        });
        tokio::select! {
            changed = assignments.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(key) = done.recv() => {
                running.remove(&key);
                if !stopping.remove(&key) {
                    ended.insert(key);
                }
            }
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    for cancel in running.values() {
        let _ = cancel.send(true);
    }
}
