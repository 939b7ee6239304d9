//! Invariant 2 seen from outside: an attempt that was fenced off (its node
//! lost, paused or partitioned away) leaves no side effect after the moment
//! it was fenced. The zombie worker may still be running, but its agent must
//! have stopped it before the cluster moved the task elsewhere, or two
//! attempts act at once.
//!
//! Workers append a line to a shared file before they report each step, so
//! the file is ground truth of who acted when. The attempts' ends come from
//! the finals (the cluster's last word). The same bound holds for every
//! ended attempt: nothing acts after its end was stamped. An effect must
//! also name an attempt that exists, or the cluster lost track of a worker.

use std::collections::BTreeSet;

use super::{when, Verdict};
use crate::history::{History, SideEffect};

/// The checker's name in verdicts and reports.
pub const NAME: &str = "fencing";

/// Checks [that fenced attempts stay quiet](self); `checked` counts side
/// effects, and a note says how many came from fenced attempts.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let mut from_fenced = 0;
    let mut fenced_attempts = BTreeSet::new();
    for effect in &history.effects {
        verdict.checked += 1;
        let place = describe(history, effect);
        let Some(run) = history.final_run(&effect.run_id) else {
            verdict.violation(format!(
                "{place}: run {} is not in the finals",
                effect.run_id
            ));
            continue;
        };
        let Some(task) = run.task(&effect.task) else {
            verdict.violation(format!(
                "{place}: run {} has no task {}",
                effect.run_id, effect.task
            ));
            continue;
        };
        let Some(attempt) = task.attempt(effect.attempt) else {
            let last = task.last_attempt_number();
            let why = if effect.attempt > last {
                format!("the task's last attempt is {last}")
            } else {
                "the task has no such attempt".to_string()
            };
            verdict.violation(format!("{place}: {why}"));
            continue;
        };
        if effect.at < attempt.started_at {
            verdict.violation(format!(
                "{place}: before the attempt was assigned to {} at {}",
                attempt.node,
                when(history, attempt.started_at)
            ));
        }
        if attempt.is_fenced() {
            from_fenced += 1;
            fenced_attempts.insert((&effect.run_id, &effect.task, effect.attempt));
        }
        let (Some(end), Some(ended_at)) = (attempt.end.as_deref(), attempt.ended_at) else {
            continue;
        };
        if effect.at > ended_at {
            verdict.violation(format!(
                "{place}: {} ms after the attempt on {} ended {end} at {}{}",
                effect.at - ended_at,
                attempt.node,
                when(history, ended_at),
                attempt
                    .end_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
    }
    verdict.note(format!(
        "{from_fenced} of {} side effects came from {} fenced attempts",
        history.effects.len(),
        fenced_attempts.len()
    ));
    verdict
}

/// `run r1 task b attempt 1 wrote step 3 at t+1.200s`.
fn describe(history: &History, effect: &SideEffect) -> String {
    format!(
        "run {} task {} attempt {} wrote step {} at {}",
        effect.run_id,
        effect.task,
        effect.attempt,
        effect.step,
        when(history, effect.at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::{self, effect};

    #[test]
    fn effects_before_fencing_pass_and_are_counted() {
        let verdict = check(&fixtures::healthy());
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert_eq!(verdict.checked, 3);
        assert_eq!(
            verdict.notes,
            ["1 of 3 side effects came from 1 fenced attempts"]
        );
    }

    #[test]
    fn an_effect_after_fencing_fails() {
        let mut history = fixtures::healthy();
        history.effects.push(effect("b", 1, 2_300));
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            [
                "run r1 task b attempt 1 wrote step 1 at t+1.300s: 300 ms after the attempt on \
              node-2 ended fenced at t+1.000s (node node-2 lost)"
            ]
        );
    }

    #[test]
    fn effects_from_unknown_attempts_fail() {
        let mut history = fixtures::healthy();
        history.effects.push(effect("b", 3, 2_300));
        history.effects.push(effect("c", 1, 2_300));
        let mut other = effect("a", 1, 2_300);
        other.run_id = "r9".into();
        history.effects.push(other);
        let verdict = check(&history);
        assert_eq!(verdict.violations.len(), 3, "{:?}", verdict.violations);
        assert!(verdict.violations[0].ends_with("the task's last attempt is 2"));
        assert!(verdict.violations[1].ends_with("run r1 has no task c"));
        assert!(verdict.violations[2].ends_with("run r9 is not in the finals"));
    }
}
