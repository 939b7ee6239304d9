//! The report adds up: per-master usage sums to the ledger's spent, worker
//! attempts sum to their outcomes, and efficiency is `used / total`.

use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{AttemptReport, Run, RunId, RunStatus, TaskState};
use cortex_consensus::ClusterTime;

use super::json::ratio;
use super::*;

const PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: report-test }
spec:
  budget: { total: 30000, emergencyReserve: 2000 }
  masters:
    security: { personal: 6000, workers: 6000 }
    development: { personal: 8000, workers: 8000 }
  tasks:
    - { id: scan, master: security, worker: scan, budget: 5000, executor: { process: { command: ["true"] } } }
    - { id: fix, master: security, worker: fix, budget: 4000, retries: 1, executor: { process: { command: ["true"] } } }
    - { id: build, master: development, worker: implementation, budget: 6000, executor: { process: { command: ["true"] } } }
    - { id: docs, master: development, worker: documentation, budget: 3000, approval: required, executor: { process: { command: ["true"] } } }
"#;

const T0: ClusterTime = ClusterTime(1_700_000_000_000);

fn at(seconds: u64) -> ClusterTime {
    T0.plus_millis(seconds * 1000)
}

fn id(task: &str) -> TaskId {
    TaskId(task.to_string())
}

fn new_run() -> Run {
    let spec = plan::parse(PLAN).expect("the test plan is valid");
    Run::new(RunId("report-test-0000abcd".into()), spec, T0)
}

fn complete(run: &mut Run, task: &str, attempt: u32, tokens: u64, now: ClusterTime) {
    run.assign(&id(task), attempt, "node-a", now).unwrap();
    let report = AttemptReport::Completed {
        tokens_used: tokens,
        result: None,
        handoffs: vec![],
    };
    run.report(&id(task), attempt, report, now).unwrap();
}

fn fail(run: &mut Run, task: &str, attempt: u32, tokens: u64, now: ClusterTime) {
    run.assign(&id(task), attempt, "node-b", now).unwrap();
    let report = AttemptReport::Failed {
        tokens_used: tokens,
        error: "exit status 1".into(),
    };
    run.report(&id(task), attempt, report, now).unwrap();
}

/// scan completes (1200), fix fails twice (300 + 400) and so ends failed,
/// build is running, docs waits for approval.
fn busy_run() -> Run {
    let mut run = new_run();
    complete(&mut run, "scan", 1, 1200, at(10));
    fail(&mut run, "fix", 1, 300, at(11));
    fail(&mut run, "fix", 2, 400, at(20));
    run.assign(&id("build"), 1, "node-a", at(21)).unwrap();
    run
}

#[test]
fn per_master_usage_adds_up_to_the_ledger() {
    let run = busy_run();
    let report = final_results(&run, at(30));
    let per_master: u64 = report.tokens.per_master.values().sum();
    let masters: u64 = report.masters.values().map(|m| m.tokens.used).sum();
    let tasks: u64 = run.tasks.values().map(|t| t.tokens_spent).sum();
    assert_eq!(report.tokens.used, run.ledger.spent());
    assert_eq!(per_master, run.ledger.spent());
    assert_eq!(masters, run.ledger.spent());
    assert_eq!(tasks, run.ledger.spent());
    assert_eq!(report.tokens.used, 1900);
    assert_eq!(report.tokens.per_master[&MasterRole::Security], 1900);
    assert_eq!(report.tokens.per_master[&MasterRole::Development], 0);
    assert_eq!(report.tokens.reserved, 6000, "build holds its budget");
    assert_eq!(report.tokens.remaining, 30000 - 1900);
}

#[test]
fn worker_totals_add_up_per_master_and_overall() {
    let run = busy_run();
    let report = final_results(&run, at(30));
    let w = report.workers;
    assert_eq!(
        (w.spawned, w.succeeded, w.failed, w.running, w.retried),
        (4, 1, 2, 1, 1)
    );
    assert_eq!(w.spawned, w.succeeded + w.failed + w.running);
    let sum: usize = report.masters.values().map(|m| m.workers.spawned).sum();
    assert_eq!(sum, w.spawned);
    let security = &report.masters[&MasterRole::Security];
    assert_eq!(security.tasks.completed, 1);
    assert_eq!(security.tasks.failed, 1);
    assert_eq!(security.tokens.allocated, 12000);
    let development = &report.masters[&MasterRole::Development];
    assert_eq!(development.tasks.running, 1);
    assert_eq!(development.tasks.pending, 1);
    let tasks: usize = report.masters.values().map(|m| m.tasks.total).sum();
    assert_eq!(tasks, run.tasks.len());
}

#[test]
fn efficiency_is_used_over_total_rounded_to_three_places() {
    let run = busy_run();
    let report = final_results(&run, at(30));
    assert_eq!(report.tokens.efficiency, 0.063, "1900 / 30000");
    assert_eq!(ratio(10_000, 30_000), 0.333);
    assert_eq!(ratio(20_000, 30_000), 0.667);
    assert_eq!(ratio(30_000, 30_000), 1.0);
    assert_eq!(ratio(5, 0), 0.0);
}

#[test]
fn duration_runs_to_the_end_or_to_now() {
    let mut run = busy_run();
    assert_eq!(final_results(&run, at(30)).run.duration_seconds, 30.0);
    run.cancel("enough", at(42)).unwrap();
    let report = final_results(&run, at(100));
    assert_eq!(report.run.duration_seconds, 42.0);
    assert_eq!(report.run.status, RunStatus::Cancelled);
    assert_eq!(
        report.tokens.reserved, 0,
        "cancelling released build's reservation"
    );
}

#[test]
fn views_count_every_task_and_show_the_accounts() {
    let run = busy_run();
    let detail = detail(&run);
    let counts = detail.task_counts;
    assert_eq!(counts.total, 4);
    assert_eq!(
        counts.ended() + counts.pending + counts.running + counts.blocked,
        4
    );
    assert_eq!(counts.unsuccessful(), 1);
    let order: Vec<&str> = detail.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(order, ["scan", "fix", "build", "docs"]);
    let fix = &detail.tasks[1];
    assert_eq!(fix.state, TaskState::Failed);
    assert_eq!(fix.attempts.len(), 2);
    assert_eq!(fix.attempts[0].end.as_deref(), Some("failed"));
    assert_eq!(fix.attempts[0].end_reason.as_deref(), Some("exit status 1"));
    let security = &detail.ledger.masters[&MasterRole::Security];
    assert_eq!(
        (security.allocation, security.spent, security.available),
        (12000, 1900, 10100)
    );
    let development = &detail.ledger.masters[&MasterRole::Development];
    assert_eq!((development.reserved, development.available), (6000, 10000));
    assert_eq!(detail.ledger.emergency_reserve_left, 2000);
    assert_eq!(detail.nodes["node-a"].completed, 1);
    assert_eq!(detail.nodes["node-a"].running, 1);
    assert_eq!(detail.nodes["node-b"].failed, 2);
}

#[test]
fn markdown_summary_shows_the_figures_and_derived_next_steps() {
    let run = busy_run();
    let md = executive_summary(&run, at(30));
    assert!(
        md.starts_with("# Cortex report-test - Execution Report\n"),
        "{md}"
    );
    assert!(md.contains("- Token Usage: 1900 / 30000 (6.3%)"), "{md}");
    assert!(md.contains("- Workers Deployed: 4 (1 retries)"), "{md}");
    assert!(md.contains("- 1 of 4 tasks completed"), "{md}");
    assert!(
        md.contains("| security | 1/2 | 1 | 3 | 1 | 2 | 0 | 1 | 1900 / 12000 (15.8%) | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("Investigate task fix (security, failed): exit status 1"),
        "{md}"
    );
    assert!(md.contains("Approve task docs (development)"), "{md}");
    assert!(
        md.contains("Wait for the run to finish: 1 running, 1 pending, 0 blocked"),
        "{md}"
    );
}

#[test]
fn markdown_of_a_clean_run_has_nothing_to_do() {
    let mut run = new_run();
    complete(&mut run, "scan", 1, 1000, at(1));
    complete(&mut run, "fix", 1, 1000, at(2));
    complete(&mut run, "build", 1, 1000, at(3));
    run.approve(&id("docs")).unwrap();
    complete(&mut run, "docs", 1, 1000, at(4));
    assert_eq!(run.status, RunStatus::Completed);
    let md = executive_summary(&run, at(99));
    assert!(md.contains("- Status: completed\n"), "{md}");
    assert!(md.contains("- Duration: 4.0s\n"), "{md}");
    assert!(md.contains("- security: every task completed (2)"), "{md}");
    assert!(md.contains("1. None: every task completed."), "{md}");
    assert_eq!(final_results(&run, at(99)).tokens.efficiency, 0.133);
}

#[test]
fn views_read_back_as_the_cli_reads_them() {
    let run = busy_run();
    let detail = detail(&run);
    let text = serde_json::to_string(&detail).unwrap();
    let back: RunDetail = serde_json::from_str(&text).unwrap();
    assert_eq!(back, detail);
    let summary = summary(&run);
    let back: RunSummary = serde_json::from_value(serde_json::to_value(&summary).unwrap()).unwrap();
    assert_eq!(back, summary);
    let value = serde_json::to_value(&detail).unwrap();
    assert_eq!(value["tasks"][1]["state"], "failed");
    assert_eq!(value["task_counts"]["failed"], 1);
}
