//! Work built into Cortex, run by the `builtin` executor.
//!
//! * `noop` and `sleep`: for tests and demos.
//! * [`git`]: `git-inventory`, repositories, branches, commits and authors.
//! * [`kube`]: `k8s-inventory`, Kubernetes resources with their lineage.
//! * [`audit`]: `security-audit`, Kubernetes objects checked against rules.
//!
//! Builtins describe their work as protocol lines (assets, progress, a
//! result), exactly as a process worker would.

pub mod audit;
pub mod git;
pub mod kube;

use std::time::Duration;

use cortex_consensus::plan::BuiltinSpec;

use crate::executor::{Context, Events};
use crate::protocol::Line;

/// Runs `spec`.
pub async fn run(spec: &BuiltinSpec, context: &Context, events: &Events) -> Result<(), String> {
    match spec {
        BuiltinSpec::Noop => {
            events.send(Line::Result("null".into()));
            Ok(())
        }
        BuiltinSpec::Sleep {
            duration_ms,
            tokens,
        } => sleep(*duration_ms, *tokens, context, events).await,
        BuiltinSpec::GitInventory { paths, max_commits } => {
            git::run(paths, *max_commits, events).await
        }
        BuiltinSpec::K8sInventory(target) => kube::run(target, events).await,
        BuiltinSpec::SecurityAudit { manifests, cluster } => {
            audit::run(manifests, cluster.as_ref(), events).await
        }
    }
}

/// Waits `duration_ms` in ten steps, reporting progress and a tenth of
/// `tokens` at each, and a checkpoint of the step reached; resumes from it.
async fn sleep(
    duration_ms: u64,
    tokens: u64,
    context: &Context,
    events: &Events,
) -> Result<(), String> {
    const STEPS: u64 = 10;
    let first = context
        .checkpoint
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|c| c.get("step").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
        .min(STEPS);
    if first > 0 {
        events.log(format!("resuming at step {first} of {STEPS}"));
    }
    for step in first..STEPS {
        tokio::time::sleep(Duration::from_millis(duration_ms / STEPS)).await;
        let share = tokens / STEPS + u64::from(step < tokens % STEPS);
        if share > 0 {
            events.send(Line::Tokens(share));
        }
        events.send(Line::Checkpoint(format!(r#"{{"step":{}}}"#, step + 1)));
        events.send(Line::Progress {
            percent: ((step + 1) * 100 / STEPS) as u8,
            message: Some(format!("step {} of {STEPS}", step + 1)),
        });
    }
    events.send(Line::Result(format!(
        r#"{{"slept_ms":{duration_ms},"resumed_at":{first}}}"#
    )));
    Ok(())
}
