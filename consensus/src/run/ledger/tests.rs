use proptest::prelude::*;

use super::*;
use crate::plan::{BudgetSpec, DependencyPolicy, MasterPools};

fn ledger(pools: &[(MasterRole, u64, u64)], total: u64, reserve: u64) -> Ledger {
    let spec = RunSpec {
        name: "t".into(),
        budget: BudgetSpec {
            total,
            emergency_reserve: reserve,
        },
        masters: pools
            .iter()
            .map(|(role, personal, workers)| {
                (
                    *role,
                    MasterPools {
                        personal: *personal,
                        workers: *workers,
                    },
                )
            })
            .collect(),
        tasks: vec![],
        phases: vec![],
        timeout_ms: None,
        on_dependency_failure: DependencyPolicy::Fail,
    };
    Ledger::open(&spec)
}

fn key(task: &str, attempt: u32) -> ReservationKey {
    (TaskId(task.into()), attempt)
}

const SEC: MasterRole = MasterRole::Security;
const DEV: MasterRole = MasterRole::Development;

#[test]
fn reserve_settle_release_round_trip() {
    let mut l = ledger(&[(SEC, 1_000, 9_000)], 20_000, 5_000);
    l.reserve(SEC, key("a", 1), 8_000).unwrap();
    assert_eq!(l.accounts[&SEC].available(), 2_000);
    let s = l.settle(&key("a", 1), 3_000).unwrap();
    assert_eq!(
        s,
        Settlement {
            spent: 3_000,
            released: 5_000,
            overrun: 0
        }
    );
    l.reserve(SEC, key("b", 1), 2_000).unwrap();
    assert_eq!(l.release(&key("b", 1)).unwrap().released, 2_000);
    assert_eq!(l.spent(), 3_000);
    assert_eq!(l.reserved(), 0);
    l.check().unwrap();
}

#[test]
fn usage_beyond_the_reservation_is_capped_and_recorded_as_overrun() {
    let mut l = ledger(&[(SEC, 0, 10_000)], 10_000, 0);
    l.reserve(SEC, key("a", 1), 4_000).unwrap();
    let s = l.settle(&key("a", 1), 6_500).unwrap();
    assert_eq!(
        s,
        Settlement {
            spent: 4_000,
            released: 0,
            overrun: 2_500
        }
    );
    assert_eq!(l.accounts[&SEC].overrun, 2_500);
    l.check().unwrap();
}

#[test]
fn refusals_change_nothing() {
    let mut l = ledger(&[(SEC, 0, 5_000), (DEV, 0, 5_000)], 12_000, 2_000);
    let before = l.clone();
    assert!(matches!(
        l.reserve(SEC, key("a", 1), 5_001),
        Err(LedgerError::Insufficient { .. })
    ));
    assert!(matches!(
        l.reserve(MasterRole::Testing, key("a", 1), 1),
        Err(LedgerError::NoAccount(_))
    ));
    assert!(matches!(
        l.grant(SEC, 2_001),
        Err(LedgerError::ReserveTooSmall { .. })
    ));
    assert!(matches!(
        l.reallocate(SEC, DEV, 5_001),
        Err(LedgerError::Insufficient { .. })
    ));
    assert!(matches!(
        l.settle(&key("zz", 1), 1),
        Err(LedgerError::NoReservation(_))
    ));
    assert_eq!(l, before);
    l.reserve(SEC, key("a", 1), 10).unwrap();
    assert!(matches!(
        l.reserve(SEC, key("a", 1), 10),
        Err(LedgerError::Duplicate(_))
    ));
}

#[test]
fn reserve_is_drawn_only_by_grants_and_moves_keep_the_total() {
    let mut l = ledger(&[(SEC, 0, 5_000), (DEV, 0, 5_000)], 12_000, 2_000);
    assert!(
        l.reserve(SEC, key("a", 1), 6_000).is_err(),
        "the reserve is not drawn implicitly"
    );
    l.grant(SEC, 1_000).unwrap();
    l.reserve(SEC, key("a", 1), 6_000).unwrap();
    l.reallocate(DEV, SEC, 3_000).unwrap();
    l.reserve(SEC, key("b", 1), 3_000).unwrap();
    assert_eq!(l.accounts[&DEV].available(), 2_000);
    l.check().unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Reserve(usize, u8, u64),
    Settle(u8, u64),
    Release(u8),
    Grant(usize, u64),
    Move(usize, usize, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, 0u8..8, 0u64..6_000).prop_map(|(m, k, a)| Op::Reserve(m, k, a)),
        (0u8..8, 0u64..9_000).prop_map(|(k, u)| Op::Settle(k, u)),
        (0u8..8).prop_map(Op::Release),
        (0usize..3, 0u64..3_000).prop_map(|(m, a)| Op::Grant(m, a)),
        (0usize..3, 0usize..3, 0u64..4_000).prop_map(|(a, b, n)| Op::Move(a, b, n)),
    ]
}

proptest! {
    /// Any sequence of operations keeps the invariants; a refused operation
    /// leaves the ledger exactly as it was.
    #[test]
    fn invariants_hold_under_any_sequence(ops in prop::collection::vec(op(), 0..80)) {
        let roles = [SEC, DEV, MasterRole::Testing];
        let mut l = ledger(&[(SEC, 1_000, 5_000), (DEV, 2_000, 3_000), (MasterRole::Testing, 0, 4_000)], 20_000, 4_000);
        for op in ops {
            let before = l.clone();
            let result = match op {
                Op::Reserve(m, k, a) => l.reserve(roles[m], key("t", k as u32), a),
                Op::Settle(k, u) => l.settle(&key("t", k as u32), u).map(|_| ()),
                Op::Release(k) => l.release(&key("t", k as u32)).map(|_| ()),
                Op::Grant(m, a) => l.grant(roles[m], a),
                Op::Move(a, b, n) => l.reallocate(roles[a], roles[b], n),
            };
            if result.is_err() {
                prop_assert_eq!(&l, &before);
            }
            prop_assert!(l.check().is_ok(), "{:?}", l.check());
        }
    }
}
