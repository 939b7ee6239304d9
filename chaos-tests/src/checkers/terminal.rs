//! Invariants 2 and 4: every task ends in exactly one terminal state, once,
//! and a task has at most one live attempt at any time.
//!
//! Three kinds of check. In each snapshot: attempts are numbered `1..=n`,
//! only the last may be live, a terminal task has none live and says when
//! (and, unless it completed, why) it ended. Across all snapshots from all
//! nodes: what a terminal task or an ended attempt looks like never differs,
//! and a terminal task never gains attempts. Per node over time: a task seen
//! terminal, or an attempt seen ended, is never seen live again unless the
//! node's state was reset by a fault in between. In the finals, every run
//! and every task of it has ended.

use std::collections::BTreeMap;

use super::{when, Verdict};
use crate::history::{History, Millis, RunSnapshot, TaskSnapshot};

/// The checker's name in verdicts and reports.
pub const NAME: &str = "terminal";

/// One snapshot and where it came from.
struct Seen<'h> {
    /// `via node-1 at t+1.000s` or `in the finals`.
    place: String,
    /// The answering node and when, for polls.
    poll: Option<(&'h str, Millis)>,
    run: &'h RunSnapshot,
}

/// What a terminal task looks like; it must never change.
#[derive(PartialEq, Eq)]
struct Ending<'h> {
    state: &'h str,
    finished_at: Option<Millis>,
    attempts: usize,
}

/// The first terminal observation of each (run, task), and where it was.
type Endings<'h> = BTreeMap<(&'h str, &'h str), (Ending<'h>, String)>;

/// The first end seen of each (run, task, attempt): kind, time, where.
type Ends<'h> = BTreeMap<(&'h str, &'h str, u32), (&'h str, Option<Millis>, String)>;

/// Checks [that tasks end exactly once](self); `checked` counts snapshots.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let mut polls: Vec<_> = history.polls.iter().collect();
    polls.sort_by_key(|p| p.at);
    let seen = polls
        .into_iter()
        .map(|p| Seen {
            place: format!("via {} at {}", p.via, when(history, p.at)),
            poll: Some((p.via.as_str(), p.at)),
            run: &p.run,
        })
        .chain(history.finals.iter().map(|run| Seen {
            place: "in the finals".into(),
            poll: None,
            run,
        }));
    let mut endings = Endings::new();
    let mut ends = Ends::new();
    let mut last: BTreeMap<(&str, &str), Seen> = BTreeMap::new();
    for seen in seen {
        verdict.checked += 1;
        for task in &seen.run.tasks {
            shape(&seen, task, &mut verdict);
            frozen(&seen, task, &mut endings, &mut ends, &mut verdict);
        }
        if let Some((via, at)) = seen.poll {
            if let Some(before) = last.get(&(via, seen.run.id.as_str())) {
                regressions(history, before, &seen, at, &mut verdict);
            }
            last.insert((via, &seen.run.id), seen);
        }
    }
    for run in &history.finals {
        ended(run, &mut verdict);
    }
    verdict
}

/// What must hold within one snapshot of a task.
fn shape(seen: &Seen, task: &TaskSnapshot, verdict: &mut Verdict) {
    let (run, place) = (&seen.run.id, &seen.place);
    let numbers: Vec<u32> = task.attempts.iter().map(|a| a.number).collect();
    if numbers.iter().zip(1..).any(|(n, expected)| *n != expected) {
        verdict.violation(format!(
            "run {run} task {} {place}: attempts are numbered {numbers:?}, not 1..={}",
            task.id,
            numbers.len()
        ));
    }
    let last = task.attempts.len().saturating_sub(1);
    for (i, attempt) in task
        .attempts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_live())
    {
        if i != last {
            verdict.violation(format!(
                "run {run} task {} {place}: attempt {} on {} is still live although attempt {} \
                 followed it",
                task.id, attempt.number, attempt.node, task.attempts[last].number
            ));
        } else if task.is_terminal() {
            verdict.violation(format!(
                "run {run} task {} {place}: the task is {} but attempt {} on {} is still live",
                task.id, task.state, attempt.number, attempt.node
            ));
        }
    }
    for attempt in task
        .attempts
        .iter()
        .filter(|a| !a.is_live() && a.ended_at.is_none())
    {
        verdict.violation(format!(
            "run {run} task {} {place}: attempt {} ended {} but has no ended_at",
            task.id,
            attempt.number,
            attempt.end.as_deref().unwrap_or("?")
        ));
    }
    if task.is_terminal() && task.finished_at.is_none() {
        verdict.violation(format!(
            "run {run} task {} {place}: the task is {} but has no finished_at",
            task.id, task.state
        ));
    }
    let no_reason = task.reason.as_deref().is_none_or(|r| r.trim().is_empty());
    if task.is_terminal() && task.state != "completed" && no_reason {
        verdict.violation(format!(
            "run {run} task {} {place}: the task ended {} without a reason",
            task.id, task.state
        ));
    }
}

/// Terminal tasks and ended attempts look the same in every snapshot.
fn frozen<'h>(
    seen: &Seen<'h>,
    task: &'h TaskSnapshot,
    endings: &mut Endings<'h>,
    ends: &mut Ends<'h>,
    verdict: &mut Verdict,
) {
    let (run, place) = (seen.run.id.as_str(), &seen.place);
    let ending = Ending {
        state: &task.state,
        finished_at: task.finished_at,
        attempts: task.attempts.len(),
    };
    match endings.get(&(run, &task.id)) {
        Some((first, first_place)) if task.is_terminal() && ending != *first => {
            verdict.violation(format!(
                "run {run} task {}: {first_place} it was {} (finished at {:?}, {} attempts) but \
                 {place} it is {} (finished at {:?}, {} attempts)",
                task.id,
                first.state,
                first.finished_at,
                first.attempts,
                ending.state,
                ending.finished_at,
                ending.attempts
            ));
        }
        Some((first, first_place)) if ending.attempts > first.attempts => {
            verdict.violation(format!(
                "run {run} task {}: {first_place} it was {} with {} attempts but {place} it has \
                 {} attempts",
                task.id, first.state, first.attempts, ending.attempts
            ));
        }
        Some(_) => {}
        None if task.is_terminal() => {
            endings.insert((run, &task.id), (ending, place.clone()));
        }
        None => {}
    }
    for attempt in &task.attempts {
        let Some(end) = attempt.end.as_deref() else {
            continue;
        };
        let key = (run, task.id.as_str(), attempt.number);
        match ends.get(&key) {
            Some((first, first_at, first_place))
                if (*first, *first_at) != (end, attempt.ended_at) =>
            {
                verdict.violation(format!(
                    "run {run} task {} attempt {}: {first_place} it ended {first} at {first_at:?} \
                     but {place} it ended {end} at {:?}",
                    task.id, attempt.number, attempt.ended_at
                ));
            }
            Some(_) => {}
            None => {
                ends.insert(key, (end, attempt.ended_at, place.clone()));
            }
        }
    }
}

/// A node's view of a run never goes back, unless a fault reset its state.
fn regressions(history: &History, before: &Seen, now: &Seen, at: Millis, verdict: &mut Verdict) {
    let Some((via, then)) = before.poll else {
        return;
    };
    if history.reset_between(via, then, at).is_some() {
        return;
    }
    let run = &now.run.id;
    for old in &before.run.tasks {
        let Some(new) = now.run.task(&old.id) else {
            verdict.violation(format!(
                "run {run} task {}: {} it existed but {} it is gone",
                old.id, before.place, now.place
            ));
            continue;
        };
        if old.is_terminal() && !new.is_terminal() {
            verdict.violation(format!(
                "run {run} task {}: {} it was {} but {} it is {} again",
                old.id, before.place, old.state, now.place, new.state
            ));
        }
        if new.attempts.len() < old.attempts.len() {
            verdict.violation(format!(
                "run {run} task {}: {} it had {} attempts but {} only {}",
                old.id,
                before.place,
                old.attempts.len(),
                now.place,
                new.attempts.len()
            ));
        }
        for attempt in old.attempts.iter().filter(|a| !a.is_live()) {
            if new.attempt(attempt.number).is_some_and(|a| a.is_live()) {
                verdict.violation(format!(
                    "run {run} task {} attempt {}: {} it had ended {} but {} it is live again",
                    old.id,
                    attempt.number,
                    before.place,
                    attempt.end.as_deref().unwrap_or("?"),
                    now.place
                ));
            }
        }
    }
}

/// After the faults stopped, every run and all its tasks have ended.
fn ended(run: &RunSnapshot, verdict: &mut Verdict) {
    let live: Vec<String> = run
        .tasks
        .iter()
        .filter(|t| !t.is_terminal())
        .map(|t| format!("{} ({})", t.id, t.state))
        .collect();
    if !run.is_ended() {
        verdict.violation(format!(
            "run {} is still {} in the finals; unfinished tasks: {}",
            run.id,
            run.status,
            if live.is_empty() {
                "none".into()
            } else {
                live.join(", ")
            }
        ));
    } else if !live.is_empty() {
        verdict.violation(format!(
            "run {} ended {} but tasks {} never reached a terminal state",
            run.id,
            run.status,
            live.join(", ")
        ));
    }
    if run.status == "completed" {
        for task in run
            .tasks
            .iter()
            .filter(|t| t.is_terminal() && t.state != "completed")
        {
            verdict.violation(format!(
                "run {} completed but its task {} ended {}",
                run.id, task.id, task.state
            ));
        }
    }
}

#[cfg(test)]
mod tests;
