use proptest::prelude::*;

use super::*;

fn open(pools: &mut Pools, name: &str, capacity: u64) {
    pools
        .apply(&PoolCommand::Open {
            pool: name.into(),
            capacity,
        })
        .expect("open");
}

fn reserve(pools: &mut Pools, pool: &str, id: &str, amount: u64) -> Result<PoolAnswer, PoolError> {
    pools.apply(&PoolCommand::Reserve {
        pool: pool.into(),
        reservation: id.into(),
        amount,
    })
}

fn settle(pools: &mut Pools, pool: &str, id: &str, used: u64) -> Result<PoolAnswer, PoolError> {
    pools.apply(&PoolCommand::Settle {
        pool: pool.into(),
        reservation: id.into(),
        used,
    })
}

#[test]
fn reserve_then_settle_charges_what_was_used_and_returns_the_rest() {
    let mut pools = Pools::default();
    open(&mut pools, "team", 1_000);
    assert_eq!(
        reserve(&mut pools, "team", "r1", 600),
        Ok(PoolAnswer::Reserved { available: 400 })
    );
    assert_eq!(
        settle(&mut pools, "team", "r1", 250),
        Ok(PoolAnswer::Settled {
            spent: 250,
            released: 350,
            overrun: 0
        })
    );
    let pool = pools.get("team").expect("pool");
    assert_eq!((pool.spent, pool.reserved, pool.available()), (250, 0, 750));
}

#[test]
fn a_pool_without_room_refuses_and_changes_nothing() {
    let mut pools = Pools::default();
    open(&mut pools, "team", 1_000);
    reserve(&mut pools, "team", "r1", 900).expect("first fits");
    let before = pools.clone();
    assert_eq!(
        reserve(&mut pools, "team", "r2", 101),
        Err(PoolError::Insufficient {
            pool: "team".into(),
            available: 100,
            needed: 101
        })
    );
    assert_eq!(pools, before);
}

#[test]
fn usage_beyond_the_reservation_is_overrun_not_spend() {
    let mut pools = Pools::default();
    open(&mut pools, "team", 100);
    reserve(&mut pools, "team", "r1", 100).expect("fits");
    settle(&mut pools, "team", "r1", 130).expect("settles");
    let pool = pools.get("team").expect("pool");
    assert_eq!((pool.spent, pool.overrun), (100, 30));
    pools.check().expect("invariants hold");
}

#[test]
fn a_retried_reserve_gets_the_same_answer_and_holds_once() {
    let mut pools = Pools::default();
    open(&mut pools, "team", 1_000);
    reserve(&mut pools, "team", "r1", 300).expect("fits");
    assert_eq!(
        reserve(&mut pools, "team", "r1", 300),
        Ok(PoolAnswer::Reserved { available: 700 })
    );
    assert_eq!(
        reserve(&mut pools, "team", "r1", 301),
        Err(PoolError::Duplicate("r1".into()))
    );
    assert_eq!(pools.get("team").expect("pool").reserved, 300);
}

#[test]
fn settling_twice_or_in_another_pool_is_refused() {
    let mut pools = Pools::default();
    open(&mut pools, "a", 100);
    open(&mut pools, "b", 100);
    reserve(&mut pools, "a", "r1", 50).expect("fits");
    assert!(matches!(
        settle(&mut pools, "b", "r1", 10),
        Err(PoolError::NoReservation { .. })
    ));
    settle(&mut pools, "a", "r1", 10).expect("settles");
    assert!(matches!(
        settle(&mut pools, "a", "r1", 10),
        Err(PoolError::NoReservation { .. })
    ));
    assert_eq!(pools.get("a").expect("pool").spent, 10);
}

#[test]
fn reopening_needs_the_same_capacity() {
    let mut pools = Pools::default();
    open(&mut pools, "team", 100);
    open(&mut pools, "team", 100);
    assert_eq!(
        pools.apply(&PoolCommand::Open {
            pool: "team".into(),
            capacity: 200
        }),
        Err(PoolError::Exists {
            pool: "team".into(),
            capacity: 100
        })
    );
}

#[test]
fn bad_names_and_unknown_pools_are_refused() {
    let mut pools = Pools::default();
    assert_eq!(
        reserve(&mut pools, "", "r", 1),
        Err(PoolError::BadName { len: 0 })
    );
    let long = "x".repeat(MAX_NAME_LEN + 1);
    assert_eq!(
        reserve(&mut pools, "team", &long, 1),
        Err(PoolError::BadName {
            len: MAX_NAME_LEN + 1
        })
    );
    assert_eq!(
        reserve(&mut pools, "team", "r", 1),
        Err(PoolError::NoPool("team".into()))
    );
}

fn command() -> impl Strategy<Value = PoolCommand> {
    let pool = prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from);
    let id = (0u8..6).prop_map(|i| format!("r{i}"));
    prop_oneof![
        (pool.clone(), 0u64..5_000)
            .prop_map(|(pool, capacity)| PoolCommand::Open { pool, capacity }),
        (pool.clone(), id.clone(), 0u64..3_000).prop_map(|(pool, reservation, amount)| {
            PoolCommand::Reserve {
                pool,
                reservation,
                amount,
            }
        }),
        (pool, id, 0u64..4_000).prop_map(|(pool, reservation, used)| PoolCommand::Settle {
            pool,
            reservation,
            used,
        }),
    ]
}

proptest! {
    /// Whatever the sequence, no pool is ever over its capacity, reservations
    /// add up, and a refused command leaves the pools as they were.
    #[test]
    fn invariants_hold_and_refusals_change_nothing(
        commands in prop::collection::vec(command(), 1..80)
    ) {
        let mut pools = Pools::default();
        for command in &commands {
            let before = pools.clone();
            if pools.apply(command).is_err() {
                prop_assert_eq!(&pools, &before);
            }
            prop_assert!(pools.check().is_ok(), "{:?}", pools.check());
        }
    }
}
