//! The run report as the seed's executive summary ("# Cortex ... Execution
//! Report"): headline, key achievements, masters performance, resource
//! utilization and next steps.
//!
//! Every line is derived from [`FinalResults`] and the run's tasks; nothing
//! is estimated or invented. Next steps name what needs a person: failed
//! tasks, open escalations, approvals, and work still in flight.

use std::fmt::Write;

use cortex_consensus::run::{Run, TaskState};
use cortex_consensus::ClusterTime;

use super::json::{final_results, ratio, FinalResults};
use super::view::{node_counts, tasks_in_order, wire_name, TaskCounts};

/// Longest reason quoted in a list item, so one chatty worker cannot bury
/// the report.
const MAX_REASON_CHARS: usize = 200;

/// The Markdown executive summary of `run` as of cluster time `now`.
pub fn executive_summary(run: &Run, now: ClusterTime) -> String {
    let report = final_results(run, now);
    let mut out = String::new();
    headline(&mut out, run, &report);
    achievements(&mut out, run, &report);
    masters_performance(&mut out, &report);
    resource_utilization(&mut out, run, &report);
    next_steps(&mut out, run);
    out
}

fn headline(out: &mut String, run: &Run, report: &FinalResults) {
    let tokens = &report.tokens;
    let active = report
        .masters
        .values()
        .filter(|m| m.tasks.total > 0)
        .count();
    let _ = writeln!(
        out,
        "# Cortex {} - Execution Report\n",
        one_line(&run.spec.name)
    );
    let _ = writeln!(out, "- Run: {}", run.id);
    let status = wire_name(&run.status);
    match &run.reason {
        Some(reason) => {
            let _ = writeln!(out, "- Status: {status} ({})", one_line(reason));
        }
        None => {
            let _ = writeln!(out, "- Status: {status}");
        }
    }
    let ongoing = if run.finished_at.is_none() {
        " so far"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "- Duration: {}{ongoing}",
        human_duration(report.run.duration_seconds)
    );
    let _ = writeln!(out, "- Masters Active: {active}");
    let _ = writeln!(
        out,
        "- Workers Deployed: {} ({} retries)",
        report.workers.spawned, report.workers.retried
    );
    let _ = writeln!(
        out,
        "- Token Usage: {} / {} ({})\n",
        tokens.used,
        tokens.budget_total,
        percent(tokens.efficiency)
    );
}

fn achievements(out: &mut String, run: &Run, report: &FinalResults) {
    let counts = TaskCounts::of(run.tasks.values());
    let _ = writeln!(out, "## Key Achievements:");
    let _ = writeln!(
        out,
        "- {} of {} tasks completed",
        counts.completed, counts.total
    );
    for (role, master) in &report.masters {
        let tasks = &master.tasks;
        if tasks.total > 0 && tasks.completed == tasks.total {
            let _ = writeln!(out, "- {role}: every task completed ({})", tasks.total);
        }
    }
    let workers = &report.workers;
    if workers.spawned > 0 {
        let _ = writeln!(
            out,
            "- {} of {} worker attempts succeeded",
            workers.succeeded, workers.spawned
        );
    }
    if !report.handoffs.is_empty() {
        let _ = writeln!(
            out,
            "- {} tasks handed off between masters",
            report.handoffs.len()
        );
    }
    let resolved = report.escalations.iter().filter(|e| !e.open).count();
    if resolved > 0 {
        let _ = writeln!(out, "- {resolved} escalations resolved");
    }
    out.push('\n');
}

fn masters_performance(out: &mut String, report: &FinalResults) {
    let _ = writeln!(out, "## Masters Performance:");
    let _ = writeln!(
        out,
        "| master | tasks done | not completed | workers | succeeded | failed | fenced | retried | tokens used / allocated | escalations |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for (role, m) in &report.masters {
        let _ = writeln!(
            out,
            "| {role} | {}/{} | {} | {} | {} | {} | {} | {} | {} / {} ({}) | {} |",
            m.tasks.completed,
            m.tasks.total,
            m.tasks.unsuccessful(),
            m.workers.spawned,
            m.workers.succeeded,
            m.workers.failed,
            m.workers.fenced,
            m.workers.retried,
            m.tokens.used,
            m.tokens.allocated,
            percent(ratio(m.tokens.used, m.tokens.allocated)),
            m.escalations,
        );
    }
    out.push('\n');
}

fn resource_utilization(out: &mut String, run: &Run, report: &FinalResults) {
    let tokens = &report.tokens;
    let _ = writeln!(out, "## Resource Utilization:");
    let _ = writeln!(
        out,
        "- Tokens: {} used / {} budget ({}), {} remaining",
        tokens.used,
        tokens.budget_total,
        percent(tokens.efficiency),
        tokens.remaining
    );
    if tokens.reserved > 0 {
        let _ = writeln!(out, "- Reserved: {} held by live attempts", tokens.reserved);
    }
    let _ = writeln!(
        out,
        "- Emergency reserve: {} left of {}",
        tokens.emergency_reserve_left, tokens.emergency_reserve
    );
    if tokens.overrun > 0 {
        let _ = writeln!(
            out,
            "- Overrun: {} tokens reported beyond reservations (not charged)",
            tokens.overrun
        );
    }
    for (node, counts) in node_counts(run) {
        let _ = writeln!(
            out,
            "- Node {node}: {} attempts ({} completed, {} failed, {} fenced, {} running)",
            counts.running + counts.completed + counts.failed + counts.fenced,
            counts.completed,
            counts.failed,
            counts.fenced,
            counts.running
        );
    }
    out.push('\n');
}

fn next_steps(out: &mut String, run: &Run) {
    let mut steps = Vec::new();
    for task in tasks_in_order(run) {
        let id = &task.spec.id;
        let master = task.spec.master;
        let reason = task.reason.as_deref().map(one_line).unwrap_or_default();
        match task.state {
            TaskState::Failed | TaskState::TimedOut | TaskState::BudgetExceeded => {
                let state = wire_name(&task.state);
                steps.push(format!(
                    "Investigate task {id} ({master}, {state}): {reason}"
                ));
            }
            TaskState::Pending
                if !run.status.is_terminal() && task.spec.approval_required && !task.approved =>
            {
                steps.push(format!(
                    "Approve task {id} ({master}): it waits for approval"
                ));
            }
            _ => {}
        }
    }
    for e in run.escalations.iter().filter(|e| e.resolution.is_none()) {
        steps.push(format!(
            "Resolve escalation {} about task {} (grant reserve, retry or cancel)",
            e.id, e.task
        ));
    }
    if !run.status.is_terminal() {
        let counts = TaskCounts::of(run.tasks.values());
        steps.push(format!(
            "Wait for the run to finish: {} running, {} pending, {} blocked",
            counts.running, counts.pending, counts.blocked
        ));
    }
    let _ = writeln!(out, "## Next Steps:");
    if steps.is_empty() {
        let _ = writeln!(out, "1. None: every task completed.");
    }
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "{}. {step}", i + 1);
    }
}

/// `0.831` as `83.1%`.
fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// Seconds as `1h 2m 3s`, `2m 3s` or `3.2s`.
pub fn human_duration(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{seconds:.1}s")
    }
}

/// Text on one line, cut to [`MAX_REASON_CHARS`], safe inside a list item.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= MAX_REASON_CHARS {
        return flat.to_string();
    }
    let cut: String = flat.chars().take(MAX_REASON_CHARS).collect();
    format!("{cut}...")
}
