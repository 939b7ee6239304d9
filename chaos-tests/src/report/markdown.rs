//! The Markdown rendering of a [`Report`]: a summary table with one row per
//! scenario run, the details of each run, and recovery times across seeds.
//!
//! The summary answers "did anything break, and how hard did we push"; the
//! details answer "what exactly, and when", so a failure can be matched with
//! the fault that caused it and replayed from its seed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::format::{cell, duration, median, offset, utc};
use super::{Report, ScenarioResult};
use crate::checkers::Verdict;

/// Most violations shown per verdict; the JSON has them all.
const SHOWN_VIOLATIONS: usize = 20;

/// The summary table's header row.
pub(crate) const SUMMARY_HEADER: &str = "| scenario | seed | faults | tasks | attempts | retries \
     | tokens spent/budget | leader recovery | lease recovery | reassignment | invariants | time |";

/// The kinds of recovery in the summary, as `Recovery::what` spells them.
const RECOVERIES: [&str; 3] = ["leader", "leases", "reassignment"];

/// Renders `report`.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    let failed = report.results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(out, "# Cortex chaos report\n");
    let _ = writeln!(
        out,
        "Generated {} on {}. {} scenario runs: {} passed, {} failed.\n",
        utc(report.generated_at),
        report.machine,
        report.results.len(),
        report.results.len() - failed,
        failed
    );
    summary(&mut out, report);
    let _ = writeln!(out, "## Details\n");
    for result in &report.results {
        details(&mut out, result);
    }
    recovery_times(&mut out, report);
    out
}

fn summary(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(out, "{SUMMARY_HEADER}");
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    );
    for r in &report.results {
        let recovery: Vec<String> = RECOVERIES
            .iter()
            .map(|what| r.worst_recovery(what).map_or("—".into(), duration))
            .collect();
        let invariants = match r.failed_checkers() {
            failed if failed.is_empty() => "✓".to_string(),
            failed => format!("✗ {}", failed.join(", ")),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} |",
            cell(&r.scenario),
            r.seed,
            r.faults_injected,
            r.tasks,
            r.attempts,
            r.retries,
            r.tokens_spent,
            r.tokens_budget,
            recovery[0],
            recovery[1],
            recovery[2],
            invariants,
            duration(r.duration_ms)
        );
    }
    let _ = writeln!(out);
}

fn details(out: &mut String, r: &ScenarioResult) {
    let outcome = if r.passed { "passed" } else { "FAILED" };
    let _ = writeln!(out, "### {}, seed {} — {outcome}\n", r.scenario, r.seed);
    let _ = writeln!(
        out,
        "Started {}, ran {}. Runs: {} acknowledged, {} refused, {} unanswered. \
         Tasks {}, attempts {} ({} retries, {} fenced). Tokens {} of {}.\n",
        utc(r.started_at),
        duration(r.duration_ms),
        r.runs_acked,
        r.runs_refused,
        r.runs_unknown,
        r.tasks,
        r.attempts,
        r.retries,
        r.fenced_attempts,
        r.tokens_spent,
        r.tokens_budget
    );
    let _ = writeln!(out, "Fault timeline:\n");
    if r.faults.is_empty() {
        let _ = writeln!(out, "- none");
    }
    for f in &r.faults {
        let note = if f.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", f.note)
        };
        let what = format!("{} {}", f.fault, f.target);
        let _ = writeln!(out, "- {} {}{note}", offset(f.at_ms), what.trim_end());
    }
    if !r.refusals.is_empty() {
        let _ = writeln!(out, "\nRefused submissions:\n");
        for refusal in &r.refusals {
            let _ = writeln!(
                out,
                "- {} {}: {} {}",
                offset(refusal.at_ms),
                refusal.name,
                refusal.status,
                refusal.body.trim()
            );
        }
    }
    if !r.recovery.is_empty() {
        let _ = writeln!(out, "\nRecovery:\n");
        for recovery in &r.recovery {
            let _ = writeln!(
                out,
                "- {} after {}: {}",
                recovery.what,
                recovery.after_fault,
                duration(recovery.millis)
            );
        }
    }
    let _ = writeln!(out, "\nVerdicts:\n");
    for verdict in &r.verdicts {
        self::verdict(out, verdict);
    }
    let _ = writeln!(out);
}

fn verdict(out: &mut String, v: &Verdict) {
    let mark = if v.passed { "✓" } else { "✗" };
    let _ = write!(out, "- {mark} {} ({} checked)", v.name, v.checked);
    match v.violations.len() {
        0 => {}
        1 => {
            let _ = write!(out, ": 1 violation");
        }
        n => {
            let _ = write!(out, ": {n} violations");
        }
    }
    let _ = writeln!(out);
    for violation in v.violations.iter().take(SHOWN_VIOLATIONS) {
        let _ = writeln!(out, "  - {violation}");
    }
    if v.violations.len() > SHOWN_VIOLATIONS {
        let _ = writeln!(
            out,
            "  - … and {} more (see chaos-report.json)",
            v.violations.len() - SHOWN_VIOLATIONS
        );
    }
    for note in &v.notes {
        let _ = writeln!(out, "  - note: {note}");
    }
}

fn recovery_times(out: &mut String, report: &Report) {
    let mut samples: BTreeMap<(&str, &str), (Vec<u64>, usize)> = BTreeMap::new();
    for r in &report.results {
        for recovery in &r.recovery {
            let entry = samples.entry((&r.scenario, &recovery.what)).or_default();
            entry.0.push(recovery.millis);
        }
    }
    for ((scenario, _), (_, seeds)) in samples.iter_mut() {
        *seeds = report
            .results
            .iter()
            .filter(|r| r.scenario == *scenario)
            .count();
    }
    let _ = writeln!(out, "## Recovery times\n");
    if samples.is_empty() {
        let _ = writeln!(out, "No recovery was measured.");
        return;
    }
    let _ = writeln!(
        out,
        "| scenario | recovery | seeds | samples | min | median | max |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for ((scenario, what), (millis, seeds)) in &samples {
        let show = |v: Option<u64>| v.map_or("—".into(), duration);
        let _ = writeln!(
            out,
            "| {} | {} | {seeds} | {} | {} | {} | {} |",
            cell(scenario),
            cell(what),
            millis.len(),
            show(millis.iter().copied().min()),
            show(median(millis)),
            show(millis.iter().copied().max())
        );
    }
}
