//! Invariant 3, single master: a master role's lease epoch is held by one
//! daemon only, and a voter's view of the leases never goes back.
//!
//! Every voter applies the same log, so whichever voter is asked, a given
//! (role, epoch) must name the same holder; two holders for one epoch means
//! two daemons could schedule the same role with valid fencing tokens. A
//! voter whose epoch for a role decreases lost applied state, which is only
//! expected right after a fault that restarts it from a snapshot or wipes
//! it; such a step back is noted, not failed.

use std::collections::{BTreeMap, BTreeSet};

use super::{when, Verdict};
use crate::history::{History, Millis};

/// The checker's name in verdicts and reports.
pub const NAME: &str = "leases";

/// Checks [that each lease epoch has one holder](self); `checked` counts
/// lease observations.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let mut polls: Vec<_> = history.lease_polls.iter().collect();
    polls.sort_by_key(|p| p.at);
    let mut holders: BTreeMap<(&str, u64), (u64, &str, Millis)> = BTreeMap::new();
    let mut reported: BTreeSet<(&str, u64, u64)> = BTreeSet::new();
    let mut latest: BTreeMap<(&str, &str), (u64, Millis)> = BTreeMap::new();
    for poll in polls {
        let via = poll.via.as_str();
        for lease in &poll.leases {
            verdict.checked += 1;
            let role = lease.role.as_str();
            let (holder, first_via, first_at) =
                *holders
                    .entry((role, lease.epoch))
                    .or_insert((lease.holder, via, poll.at));
            if holder != lease.holder && reported.insert((role, lease.epoch, lease.holder)) {
                verdict.violation(format!(
                    "lease {role} epoch {}: {first_via} showed node {holder} holding it at {} but \
                     {via} showed node {} at {}",
                    lease.epoch,
                    when(history, first_at),
                    lease.holder,
                    when(history, poll.at)
                ));
            }
            if let Some((epoch, at)) = latest.insert((via, role), (lease.epoch, poll.at)) {
                if lease.epoch >= epoch {
                    continue;
                }
                let step = format!(
                    "{via}'s lease {role} went back from epoch {epoch} at {} to epoch {} at {}",
                    when(history, at),
                    lease.epoch,
                    when(history, poll.at)
                );
                match history.reset_between(via, at, poll.at) {
                    Some(fault) => verdict.note(format!(
                        "{step}, after a {} at {} (replayed state)",
                        fault.fault,
                        when(history, fault.at)
                    )),
                    None => verdict.violation(step),
                }
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures::{self, fault, lease};
    use crate::history::LeasePoll;

    fn poll(at: Millis, via: &str, role: &str, holder: u64, epoch: u64) -> LeasePoll {
        LeasePoll {
            at,
            via: via.into(),
            leases: vec![lease(role, holder, epoch)],
        }
    }

    #[test]
    fn one_holder_per_epoch_passes() {
        let verdict = check(&fixtures::healthy());
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert_eq!(verdict.checked, 6);
    }

    #[test]
    fn two_holders_of_one_epoch_fail_once() {
        let mut history = fixtures::healthy();
        history
            .lease_polls
            .push(poll(3_100, "node-2", "security", 2, 2));
        history
            .lease_polls
            .push(poll(3_200, "node-2", "security", 2, 2));
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            [
                "lease security epoch 2: node-3 showed node 3 holding it at t+1.200s but node-2 \
              showed node 2 at t+2.100s"
            ]
        );
    }

    #[test]
    fn an_epoch_going_back_fails_unless_the_voter_restarted() {
        let mut history = fixtures::healthy();
        history
            .lease_polls
            .push(poll(3_500, "node-1", "security", 2, 1));
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            ["node-1's lease security went back from epoch 2 at t+2.000s to epoch 1 at t+2.500s"]
        );

        history.faults.push(fault(3_400, "wipe", "node-1"));
        let verdict = check(&history);
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert!(verdict.notes[0].ends_with("after a wipe at t+2.400s (replayed state)"));
    }
}
