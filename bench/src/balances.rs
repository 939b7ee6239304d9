//! The audit that turns a reservation level into a result or a failure.
//!
//! A ledger that is fast because it overspends, loses a settle or leaves
//! tokens held is wrong, and a wrong system has no throughput worth
//! reporting. After every level each pool must hold nothing reserved,
//! have spent no more than its capacity, and have spent exactly what the
//! clients were told their settles charged.

use std::collections::HashMap;

use crate::results::BalanceCheck;
use crate::systems::Balance;

/// Checks every pool's final `balances` against the `capacity` it was
/// opened with and the spending the clients saw acknowledged (`acked`,
/// tokens per pool). Pools that could not be read are passed as `unread`.
pub fn audit(
    capacity: u64,
    balances: &[(String, Balance)],
    acked: &HashMap<String, u64>,
    unread: &[String],
) -> BalanceCheck {
    let mut problems: Vec<String> = unread.to_vec();
    for (pool, balance) in balances {
        let expected = acked.get(pool).copied().unwrap_or(0);
        if balance.capacity != capacity {
            problems.push(format!(
                "{pool}: capacity {} instead of {capacity}",
                balance.capacity
            ));
        }
        if balance.reserved != 0 {
            problems.push(format!(
                "{pool}: {} tokens still reserved after every settle",
                balance.reserved
            ));
        }
        if balance.spent > balance.capacity {
            problems.push(format!(
                "{pool}: overspent, {} spent of {}",
                balance.spent, balance.capacity
            ));
        }
        if balance.spent != expected {
            problems.push(format!(
                "{pool}: spent {} but clients were acknowledged {expected}",
                balance.spent
            ));
        }
    }
    BalanceCheck {
        passed: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(spent: u64, reserved: u64) -> Balance {
        Balance {
            capacity: 10_000,
            reserved,
            spent,
        }
    }

    #[test]
    fn balances_that_add_up_pass() {
        let balances = vec![("a".to_string(), pool(9_000, 0)), ("b".into(), pool(0, 0))];
        let acked = HashMap::from([("a".to_string(), 9_000)]);
        let check = audit(10_000, &balances, &acked, &[]);
        assert!(check.passed, "{:?}", check.problems);
        assert!(check.problems.is_empty());
    }

    #[test]
    fn overspending_leftovers_and_lost_settles_fail() {
        let balances = vec![
            ("over".to_string(), pool(10_500, 0)),
            ("held".into(), pool(100, 50)),
            ("lost".into(), pool(400, 0)),
        ];
        let acked = HashMap::from([
            ("over".to_string(), 10_500),
            ("held".into(), 100),
            ("lost".into(), 700),
        ]);
        let unread = ["gone: no answer".to_string()];
        let check = audit(10_000, &balances, &acked, &unread);
        assert!(!check.passed);
        assert_eq!(
            check.problems,
            [
                "gone: no answer",
                "over: overspent, 10500 spent of 10000",
                "held: 50 tokens still reserved after every settle",
                "lost: spent 400 but clients were acknowledged 700",
            ]
        );
    }

    #[test]
    fn a_pool_with_the_wrong_capacity_fails() {
        let balances = vec![("a".to_string(), pool(0, 0))];
        let check = audit(20_000, &balances, &HashMap::new(), &[]);
        assert_eq!(check.problems, ["a: capacity 10000 instead of 20000"]);
    }
}
