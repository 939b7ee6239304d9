//! Invariant 1, the budget: no run and no master ever holds more tokens than
//! it has, usage never runs past a reservation, and every reservation is
//! settled or released once the run ends, even when the node that held it
//! died.
//!
//! Checked in every snapshot the history holds (polls and finals): each is
//! one node's applied state at one log index, and the invariant must hold at
//! every index. A state that stays wrong is reported once, with the number of
//! snapshots that showed it.

use std::collections::BTreeMap;

use super::{when, Findings, Verdict};
use crate::history::{History, RunSnapshot};

/// The checker's name in verdicts and reports.
pub const NAME: &str = "budget";

/// Checks [the budget invariant](self); `checked` counts snapshots.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let mut findings = Findings::default();
    let mut overruns: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let polls = history
        .polls
        .iter()
        .map(|p| (&p.run, format!("via {} at {}", p.via, when(history, p.at))));
    let finals = history
        .finals
        .iter()
        .map(|run| (run, "in the finals".to_string()));
    for (run, place) in polls.chain(finals) {
        verdict.checked += 1;
        balances(run, &place, &mut findings);
        for (master, account) in &run.ledger.masters {
            if account.overrun > 0 {
                let worst = overruns.entry((&run.id, master)).or_default();
                *worst = (*worst).max(account.overrun);
            }
        }
    }
    for run in history.finals.iter().filter(|run| run.is_ended()) {
        leaks(run, &mut findings);
    }
    findings.report(&mut verdict);
    for ((run, master), overrun) in overruns {
        verdict.violation(format!(
            "run {run}: master {master} recorded an overrun of {overrun} tokens \
             (usage reported beyond its reservations)"
        ));
    }
    verdict
}

/// The limits that must hold in any snapshot.
fn balances(run: &RunSnapshot, place: &str, findings: &mut Findings) {
    let ledger = &run.ledger;
    let id = &run.id;
    if ledger.spent + ledger.reserved > ledger.total {
        findings.add(format!("{id} total"), || {
            format!(
                "run {id} {place}: spent {} + reserved {} exceeds the budget of {}",
                ledger.spent, ledger.reserved, ledger.total
            )
        });
    }
    let allocated: u64 = ledger.masters.values().map(|a| a.allocation).sum();
    if allocated > ledger.total {
        findings.add(format!("{id} allocations"), || {
            format!(
                "run {id} {place}: the masters' allocations add up to {allocated}, \
                 more than the budget of {}",
                ledger.total
            )
        });
    }
    for (master, account) in &ledger.masters {
        if account.spent + account.reserved > account.allocation {
            findings.add(format!("{id} master {master}"), || {
                format!(
                    "run {id} {place}: master {master} spent {} + reserved {} exceeds its \
                     allocation of {} (grants included: {})",
                    account.spent, account.reserved, account.allocation, account.granted
                )
            });
        }
    }
    let spent: u64 = ledger.masters.values().map(|a| a.spent).sum();
    let reserved: u64 = ledger.masters.values().map(|a| a.reserved).sum();
    if !ledger.masters.is_empty() && (spent, reserved) != (ledger.spent, ledger.reserved) {
        findings.add(format!("{id} sums"), || {
            format!(
                "run {id} {place}: the ledger shows spent {} and reserved {} but its masters \
                 add up to spent {spent} and reserved {reserved}",
                ledger.spent, ledger.reserved
            )
        });
    }
    let held: u64 = run
        .attempts()
        .filter(|(_, a)| a.is_live())
        .map(|(_, a)| a.reserved)
        .sum();
    if held != ledger.reserved {
        findings.add(format!("{id} held"), || {
            format!(
                "run {id} {place}: the ledger holds {} reserved tokens but its live attempts \
                 reserved {held}",
                ledger.reserved
            )
        });
    }
}

/// What must be true of an ended run: nothing reserved, nothing live.
fn leaks(run: &RunSnapshot, findings: &mut Findings) {
    let id = &run.id;
    let status = &run.status;
    if run.ledger.reserved != 0 {
        findings.add(format!("{id} leak"), || {
            format!(
                "run {id} ended {status} but its ledger still holds {} reserved tokens",
                run.ledger.reserved
            )
        });
    }
    for (master, account) in run.ledger.masters.iter().filter(|(_, a)| a.reserved != 0) {
        findings.add(format!("{id} leak {master}"), || {
            format!(
                "run {id} ended {status} but master {master} still holds {} reserved tokens",
                account.reserved
            )
        });
    }
    for (task, attempt) in run.attempts().filter(|(_, a)| a.is_live()) {
        findings.add(format!("{id} live {} {}", task.id, attempt.number), || {
            format!(
                "run {id} ended {status} but task {} attempt {} on {} never ended \
                 (its reservation of {} was not settled)",
                task.id, attempt.number, attempt.node, attempt.reserved
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures;

    #[test]
    fn a_consistent_ledger_passes() {
        let verdict = check(&fixtures::healthy());
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert_eq!(verdict.checked, 4);
    }

    #[test]
    fn overspending_a_master_fails_once_per_state() {
        let mut history = fixtures::healthy();
        for poll in &mut history.polls {
            let dev = poll.run.ledger.masters.get_mut("development").expect("dev");
            dev.allocation = 50;
        }
        let verdict = check(&history);
        assert!(!verdict.passed);
        assert_eq!(verdict.violations.len(), 1, "{:?}", verdict.violations);
        assert!(verdict.violations[0].contains("master development"));
        assert!(verdict.violations[0].contains("and in 2 more snapshots"));
    }

    #[test]
    fn spending_past_the_total_fails() {
        let mut history = fixtures::healthy();
        history.finals[0].ledger.total = 90;
        let verdict = check(&history);
        assert!(verdict
            .violations
            .iter()
            .any(|v| v.contains("run r1 in the finals: spent 100 + reserved 0 exceeds")));
    }

    #[test]
    fn a_leaked_reservation_fails() {
        let mut history = fixtures::healthy();
        let run = &mut history.finals[0];
        run.tasks[1].attempts[0].end = None;
        run.ledger.reserved = 100;
        run.ledger
            .masters
            .get_mut("development")
            .expect("dev")
            .reserved = 100;
        let verdict = check(&history);
        let text = verdict.violations.join("\n");
        assert!(text.contains("ledger still holds 100 reserved"), "{text}");
        assert!(
            text.contains("master development still holds 100"),
            "{text}"
        );
        assert!(
            text.contains("task b attempt 1 on node-2 never ended"),
            "{text}"
        );
    }

    #[test]
    fn an_overrun_fails() {
        let mut history = fixtures::healthy();
        history.finals[0]
            .ledger
            .masters
            .get_mut("security")
            .expect("sec")
            .overrun = 7;
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            ["run r1: master security recorded an overrun of 7 tokens \
              (usage reported beyond its reservations)"]
        );
    }
}
