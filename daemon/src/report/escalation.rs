//! What happened between masters and people in a run: handoffs (work a
//! completed task created for another master) and escalations (tasks that
//! wait for a person), as the run views and `GET /v1/escalations` show them.

use cortex_consensus::plan::MasterRole;
use cortex_consensus::run::{Escalation, EscalationKind, Resolution, Run};
use serde::{Deserialize, Serialize};

/// A handoff: a task a completed task created for another master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffView {
    /// The completed task.
    pub from: String,
    /// The task it created.
    pub task: String,
    /// The new task's master, if the task exists.
    pub master: Option<MasterRole>,
}

/// One escalation, as `GET /v1/escalations` and the run views show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationView {
    /// `<run>-<n>`: what `POST /v1/escalations/{id}/resolve` takes.
    pub id: String,
    /// The run it belongs to.
    pub run: String,
    /// The task it is about.
    pub task: String,
    /// That task's master.
    pub master: Option<MasterRole>,
    /// `budget_exhausted` or `retries_exhausted`.
    pub kind: String,
    /// What happened, for people.
    pub summary: String,
    /// When it was raised.
    pub raised_at: u64,
    /// Whether it still waits for a person.
    pub open: bool,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// When.
    pub resolved_at: Option<u64>,
}

/// The handoffs of `run`, oldest first.
pub fn handoffs(run: &Run) -> Vec<HandoffView> {
    run.handoffs
        .iter()
        .map(|(from, task)| HandoffView {
            from: from.0.clone(),
            task: task.0.clone(),
            master: run.tasks.get(task).map(|t| t.spec.master),
        })
        .collect()
}

/// The escalations of `run`, oldest first.
pub fn escalations(run: &Run) -> Vec<EscalationView> {
    run.escalations
        .iter()
        .map(|e| escalation_view(run, e))
        .collect()
}

fn escalation_view(run: &Run, e: &Escalation) -> EscalationView {
    let (kind, summary) = match &e.kind {
        EscalationKind::BudgetExhausted { needed, available } => (
            "budget_exhausted",
            format!(
                "task {} needs {needed} tokens; its master has {available}",
                e.task
            ),
        ),
        EscalationKind::RetriesExhausted { error } => (
            "retries_exhausted",
            format!("task {} used up its retries: {error}", e.task),
        ),
    };
    EscalationView {
        id: e.id.clone(),
        run: run.id.0.clone(),
        task: e.task.0.clone(),
        master: run.tasks.get(&e.task).map(|t| t.spec.master),
        kind: kind.to_string(),
        summary,
        raised_at: e.raised_at.0,
        open: e.resolution.is_none(),
        resolution: e.resolution.clone(),
        resolved_at: e.resolved_at.map(|t| t.0),
    }
}
