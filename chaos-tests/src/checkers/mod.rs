//! The invariants of `ARCHITECTURE.md` §5, checked after the fact against a
//! [`History`], one invariant per file.
//!
//! Every checker is a pure `fn(&History) -> Verdict`: the scenario only
//! records, and judging is separate, so a checker can be unit-tested with a
//! hand-written history that breaks exactly its invariant, and a saved
//! history can be judged again when a checker improves. Each violation is a
//! sentence naming the run, task, attempt, node and time involved, because a
//! chaos failure is only useful if it can be traced in the daemons' logs.
//!
//! Reads of a run come from the answering node's applied state, which may
//! trail the leader's, so checks that compare observations over time do it
//! per node and forgive a node that went back after a fault that resets its
//! state ([`crate::history::STATE_RESETTING_FAULTS`]); checks of values that
//! never change once set (a terminal state, an attempt's end) compare all
//! nodes, since every state machine applies the same log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::{History, Millis};

pub mod acks;
pub mod budget;
pub mod fencing;
pub mod healing;
pub mod leases;
pub mod terminal;

#[cfg(test)]
pub(crate) mod fixtures;

/// A checker: judges one history against one invariant.
pub type Checker = fn(&History) -> Verdict;

/// What one checker concluded about one history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The checker's name (its file name).
    pub name: String,
    /// True when there is no violation.
    pub passed: bool,
    /// How many observations it looked at, so a pass over nothing shows.
    pub checked: usize,
    /// Each violation as a sentence naming run, task, attempt and time.
    pub violations: Vec<String>,
    /// What else the checker found worth reporting (not failures).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Verdict {
    /// A passing verdict with nothing checked yet.
    pub fn new(name: &str) -> Verdict {
        Verdict {
            name: name.to_string(),
            passed: true,
            checked: 0,
            violations: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a violation; the verdict fails.
    pub fn violation(&mut self, sentence: impl Into<String>) {
        self.passed = false;
        self.violations.push(sentence.into());
    }

    /// Records a remark that is not a failure.
    pub fn note(&mut self, sentence: impl Into<String>) {
        self.notes.push(sentence.into());
    }
}

/// Every checker with its name, in report order.
pub fn all() -> Vec<(&'static str, Checker)> {
    vec![
        (budget::NAME, budget::check as Checker),
        (terminal::NAME, terminal::check),
        (fencing::NAME, fencing::check),
        (acks::NAME, acks::check),
        (leases::NAME, leases::check),
        (healing::NAME, healing::check),
    ]
}

/// Runs every checker of [`all`] on `history`.
pub fn run_all(history: &History) -> Vec<Verdict> {
    all().into_iter().map(|(_, check)| check(history)).collect()
}

/// `at` relative to the scenario's start, as violations show it
/// (`t+12.345s`), so times read against the fault timeline.
pub(crate) fn when(history: &History, at: Millis) -> String {
    let (sign, ms) = if at >= history.started_at {
        ('+', at - history.started_at)
    } else {
        ('-', history.started_at - at)
    };
    format!("t{sign}{}.{:03}s", ms / 1000, ms % 1000)
}

/// Violations that may repeat in many snapshots (a state over its limit
/// stays over it), kept once with the number of snapshots that showed them.
#[derive(Default)]
pub(crate) struct Findings {
    /// Keys in the order first seen.
    order: Vec<String>,
    /// The first sentence for each key and how often the key was seen.
    seen: BTreeMap<String, (String, usize)>,
}

impl Findings {
    /// Records the finding `key`; `sentence` is built the first time only.
    pub(crate) fn add(&mut self, key: String, sentence: impl FnOnce() -> String) {
        match self.seen.get_mut(&key) {
            Some((_, count)) => *count += 1,
            None => {
                self.seen.insert(key.clone(), (sentence(), 1));
                self.order.push(key);
            }
        }
    }

    /// Adds one violation per finding to `verdict`.
    pub(crate) fn report(mut self, verdict: &mut Verdict) {
        for key in &self.order {
            if let Some((sentence, count)) = self.seen.remove(key) {
                match count {
                    1 => verdict.violation(sentence),
                    n => verdict.violation(format!("{sentence} (and in {} more snapshots)", n - 1)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_relative_to_the_start() {
        let history = History {
            started_at: 10_000,
            ..History::default()
        };
        assert_eq!(when(&history, 22_345), "t+12.345s");
        assert_eq!(when(&history, 9_950), "t-0.050s");
    }

    #[test]
    fn repeated_findings_are_reported_once() {
        let mut findings = Findings::default();
        findings.add("k".into(), || "over".into());
        findings.add("k".into(), || unreachable!("built once"));
        findings.add("j".into(), || "under".into());
        let mut verdict = Verdict::new("x");
        findings.report(&mut verdict);
        assert!(!verdict.passed);
        assert_eq!(
            verdict.violations,
            ["over (and in 1 more snapshots)", "under"]
        );
    }

    #[test]
    fn every_checker_passes_a_healthy_history() {
        let history = fixtures::healthy();
        for verdict in run_all(&history) {
            assert!(verdict.passed, "{}: {:?}", verdict.name, verdict.violations);
            assert!(verdict.checked > 0, "{} checked nothing", verdict.name);
        }
        assert_eq!(all().len(), 6);
    }
}
