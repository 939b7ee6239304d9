//! Tables of runs and escalations, as plain
//! text from the API's views (no network; ages use this machine's clock).

use std::fmt::Write as _;

use cortex_consensus::run::Resolution;

use crate::report::escalation::EscalationView;
use crate::report::markdown::human_duration;
use crate::report::view::{wire_name, RunDetail, RunSummary};
pub(super) fn render_list(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "no runs\n".to_string();
    }
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                wire_name(&r.status),
                format!("{}/{}", r.tasks.completed, r.tasks.total),
                r.tasks.unsuccessful().to_string(),
                format!("{}/{}", r.tokens.spent, r.tokens.total),
                age(r.submitted_at),
            ]
        })
        .collect();
    table(
        "",
        &[
            "ID",
            "STATUS",
            "COMPLETED",
            "NOT COMPLETED",
            "TOKENS",
            "SUBMITTED",
        ],
        rows,
    )
}

pub(super) fn render_detail(detail: &RunDetail) -> String {
    let s = detail;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} ({})   status: {}",
        s.id,
        s.name,
        wire_name(&s.status)
    );
    if let Some(reason) = &s.reason {
        let _ = writeln!(out, "reason: {reason}");
    }
    let _ = writeln!(out, "submitted: {}", age(s.submitted_at));
    if let Some(finished) = s.finished_at {
        let took = finished.saturating_sub(s.submitted_at) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "finished: {} (took {})",
            age(finished),
            human_duration(took)
        );
    }
    out.push('\n');
    let rows = detail
        .tasks
        .iter()
        .map(|t| {
            let node = t.attempts.last().map_or("-", |a| a.node.as_str());
            vec![
                t.id.clone(),
                t.master.to_string(),
                t.worker.to_string(),
                wire_name(&t.state),
                t.attempts.len().to_string(),
                node.to_string(),
                format!("{}/{}", t.tokens_spent, t.budget),
                t.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        "TASK", "MASTER", "WORKER", "STATE", "ATTEMPTS", "NODE", "TOKENS", "REASON",
    ];
    out += &table("", &headers, rows);
    out.push('\n');
    let ledger = &detail.ledger;
    let rows = ledger
        .masters
        .iter()
        .map(|(role, a)| {
            let figures = [
                a.allocation,
                a.spent,
                a.reserved,
                a.available,
                a.granted,
                a.moved_in,
                a.moved_out,
                a.overrun,
            ];
            let mut row = vec![role.to_string()];
            row.extend(figures.iter().map(u64::to_string));
            row
        })
        .collect();
    let headers = [
        "MASTER",
        "ALLOCATION",
        "SPENT",
        "RESERVED",
        "AVAILABLE",
        "GRANTED",
        "IN",
        "OUT",
        "OVERRUN",
    ];
    out += &table("", &headers, rows);
    let _ = writeln!(
        out,
        "tokens: {} spent + {} reserved of {}; emergency reserve {} left of {}",
        ledger.spent,
        ledger.reserved,
        ledger.total,
        ledger.emergency_reserve_left,
        ledger.emergency_reserve
    );
    if !detail.escalations.is_empty() {
        out.push('\n');
        out += &render_escalations(&detail.escalations);
    }
    out
}

pub(super) fn render_escalations(list: &[EscalationView]) -> String {
    if list.is_empty() {
        return "no escalations\n".to_string();
    }
    let rows = list
        .iter()
        .map(|e| {
            let status = match &e.resolution {
                None => "open".to_string(),
                Some(resolution) => format!("resolved: {}", resolution_name(resolution)),
            };
            vec![
                e.id.clone(),
                e.task.clone(),
                e.kind.clone(),
                status,
                e.summary.clone(),
            ]
        })
        .collect();
    table(
        "",
        &["ESCALATION", "TASK", "KIND", "STATUS", "SUMMARY"],
        rows,
    )
}

fn resolution_name(resolution: &Resolution) -> String {
    match resolution {
        Resolution::GrantReserve { amount } => format!("granted {amount}"),
        Resolution::Retry => "retry".into(),
        Resolution::Cancel => "cancel".into(),
    }
}

/// How long ago a cluster time was, by this machine's clock.
fn age(at_ms: u64) -> String {
    let now = cortex_consensus::ClusterTime::now().0;
    let seconds = now.saturating_sub(at_ms) / 1000;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s ago"),
        (0, _) => format!("{m}m {s}s ago"),
        _ => format!("{h}h {m}m ago"),
    }
}

/// Left-aligned columns separated by two spaces, every line after `indent`.
fn table(indent: &str, headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(rows.iter()) {
        let mut line = indent.to_string();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out += line.trim_end();
        out.push('\n');
    }
    out
}
