//! The terminal checker on a healthy history and on histories that break it.

use super::*;
use crate::checkers::fixtures::{self, attempt};
use crate::history::RunPoll;

fn violations(history: &History) -> String {
    let verdict = check(history);
    assert!(!verdict.passed, "expected a violation");
    verdict.violations.join("\n")
}

#[test]
fn tasks_that_end_once_pass() {
    let verdict = check(&fixtures::healthy());
    assert!(verdict.passed, "{:?}", verdict.violations);
    assert_eq!(verdict.checked, 4);
}

#[test]
fn a_terminal_task_seen_live_again_on_the_same_node_fails() {
    let mut history = fixtures::healthy();
    history.polls.push(RunPoll {
        at: 3_700,
        via: "node-1".into(),
        run: fixtures::running_run(),
    });
    let text = violations(&history);
    assert!(
        text.contains("via node-1 at t+2.600s it was completed but via node-1 at t+2.700s it is running again"),
        "{text}"
    );
}

#[test]
fn a_node_that_restarted_may_trail() {
    let mut history = fixtures::healthy();
    history.polls.push(RunPoll {
        at: 3_100,
        via: "node-2".into(),
        run: fixtures::completed_run(),
    });
    history.polls.push(RunPoll {
        at: 3_200,
        via: "node-2".into(),
        run: fixtures::running_run(),
    });
    history
        .faults
        .push(fixtures::fault(3_150, "restart", "node-2"));
    let verdict = check(&history);
    assert!(verdict.passed, "{:?}", verdict.violations);
}

#[test]
fn a_different_ending_on_another_node_fails() {
    let mut history = fixtures::healthy();
    let task = &mut history.finals[0].tasks[1];
    task.finished_at = Some(3_900);
    let text = violations(&history);
    assert!(text.contains("run r1 task b: via node-3 at t+1.900s it was completed (finished at Some(3500), 2 attempts) but in the finals it is completed (finished at Some(3900), 2 attempts)"), "{text}");
}

#[test]
fn more_attempts_after_the_end_fail() {
    let mut history = fixtures::healthy();
    let task = &mut history.finals[0].tasks[1];
    task.attempts
        .push(attempt(3, "node-1", 3_600, Some(("completed", 3_700, 0))));
    let text = violations(&history);
    assert!(
        text.contains("it is completed (finished at Some(3500), 3 attempts)"),
        "{text}"
    );
}

#[test]
fn two_live_attempts_fail() {
    let mut history = fixtures::healthy();
    let task = &mut history.polls[1].run.tasks[1];
    task.attempts.push(attempt(2, "node-3", 1_900, None));
    let text = violations(&history);
    assert!(
        text.contains("attempt 1 on node-2 is still live although attempt 2 followed it"),
        "{text}"
    );
}

#[test]
fn an_attempt_whose_end_changes_fails() {
    let mut history = fixtures::healthy();
    history.finals[0].tasks[1].attempts[0].end = Some("failed".into());
    let text = violations(&history);
    assert!(text.contains("run r1 task b attempt 1: via node-3 at t+1.900s it ended fenced at Some(2000) but in the finals it ended failed"), "{text}");
}

#[test]
fn misnumbered_attempts_fail() {
    let mut history = fixtures::healthy();
    history.finals[0].tasks[1].attempts[1].number = 3;
    let text = violations(&history);
    assert!(
        text.contains("attempts are numbered [1, 3], not 1..=2"),
        "{text}"
    );
}

#[test]
fn an_unfinished_run_in_the_finals_fails() {
    let mut history = fixtures::healthy();
    history.finals[0] = fixtures::running_run();
    let text = violations(&history);
    assert!(
        text.contains("run r1 is still running in the finals; unfinished tasks: b (running)"),
        "{text}"
    );
}

#[test]
fn a_failed_task_without_a_reason_fails() {
    let mut history = fixtures::healthy();
    let run = &mut history.finals[0];
    run.status = "failed".into();
    run.tasks[1].state = "failed".into();
    let text = violations(&history);
    assert!(
        text.contains("in the finals: the task ended failed without a reason"),
        "{text}"
    );
}
