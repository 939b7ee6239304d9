//! Tests of the report on the checkers' healthy fixture history.

use super::markdown::SUMMARY_HEADER;
use super::*;
use crate::checkers::fixtures;

fn report(results: Vec<ScenarioResult>) -> Report {
    Report {
        results,
        generated_at: 1_709_296_496_000,
        machine: "ci-2core".into(),
    }
}

#[test]
fn a_result_summarises_its_history() {
    let result = ScenarioResult::judge(&fixtures::healthy());
    assert!(result.passed);
    assert_eq!(result.scenario, "kill-worker-node");
    assert_eq!(result.duration_ms, 2_600);
    assert_eq!(result.faults_injected, 1);
    assert_eq!(result.faults[0].at_ms, 500);
    assert_eq!(
        (result.runs_acked, result.runs_refused, result.runs_unknown),
        (1, 0, 0)
    );
    assert_eq!((result.tasks, result.attempts, result.retries), (2, 3, 1));
    assert_eq!(result.fenced_attempts, 1);
    assert_eq!((result.tokens_spent, result.tokens_budget), (100, 1000));
    assert_eq!(result.worst_recovery("leases"), Some(700));
    assert_eq!(result.worst_recovery("leader"), None);
}

#[test]
fn the_summary_table_has_one_row_per_run() {
    let markdown = report(vec![ScenarioResult::judge(&fixtures::healthy())]).to_markdown();
    assert!(markdown.starts_with("# Cortex chaos report\n"));
    assert!(markdown.contains("Generated 2024-03-01 12:34:56 UTC on ci-2core."));
    assert_eq!(
        SUMMARY_HEADER,
        "| scenario | seed | faults | tasks | attempts | retries | tokens spent/budget \
         | leader recovery | lease recovery | reassignment | invariants | time |"
    );
    let lines: Vec<&str> = markdown.lines().collect();
    let header = lines
        .iter()
        .position(|l| *l == SUMMARY_HEADER)
        .expect("header");
    assert_eq!(
        lines[header + 2],
        "| kill-worker-node | 42 | 1 | 2 | 3 | 1 | 100/1000 | — | 700 ms | 600 ms | ✓ | 2.6 s |"
    );
    assert!(markdown.contains("- +0.500 s kill node-2\n"));
    assert!(markdown.contains("- ✓ fencing (3 checked)\n"));
}

#[test]
fn a_failing_verdict_shows_its_violation() {
    let mut history = fixtures::healthy();
    history.effects.push(fixtures::effect("b", 1, 2_300));
    let result = ScenarioResult::judge(&history);
    assert!(!result.passed);
    assert_eq!(result.failed_checkers(), ["fencing"]);
    let markdown = report(vec![result]).to_markdown();
    assert!(markdown.contains("| ✗ fencing | 2.6 s |"), "{markdown}");
    assert!(markdown.contains("### kill-worker-node, seed 42 — FAILED"));
    assert!(markdown.contains(
        "- ✗ fencing (4 checked): 1 violation\n  - run r1 task b attempt 1 wrote step 1 at \
         t+1.300s: 300 ms after the attempt on node-2 ended fenced at t+1.000s (node node-2 lost)\n"
    ));
}

#[test]
fn recovery_times_are_aggregated_across_seeds() {
    let first = ScenarioResult::judge(&fixtures::healthy());
    let mut second = first.clone();
    second.seed = 43;
    second.recovery[0].millis = 1_400;
    let mut third = first.clone();
    third.seed = 44;
    third.recovery[0].millis = 200;
    let markdown = report(vec![first, second, third]).to_markdown();
    assert!(markdown.contains("| scenario | recovery | seeds | samples | min | median | max |"));
    assert!(
        markdown.contains("| kill-worker-node | reassignment | 3 | 3 | 200 ms | 600 ms | 1.4 s |"),
        "{markdown}"
    );
}

#[test]
fn the_report_round_trips_through_json_and_disk() {
    let report = report(vec![ScenarioResult::judge(&fixtures::healthy())]);
    let back: Report = serde_json::from_str(&report.to_json()).expect("parses");
    assert_eq!(back, report);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("reports");
    report.write(&out).expect("writes");
    let markdown = std::fs::read_to_string(out.join("chaos-report.md")).expect("md");
    assert_eq!(markdown, report.to_markdown());
    assert!(out.join("chaos-report.json").exists());
}
