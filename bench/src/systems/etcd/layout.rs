//! How the ledger is laid out in etcd's key space: a key per pool holding
//! `capacity reserved spent` as decimal text, and a key per live
//! reservation holding its amount. Text rather than JSON, so `etcdctl get`
//! shows a pool at a glance.

use anyhow::{bail, Context};
use etcd_client::{KeyValue, TxnOpResponse};

use crate::systems::Balance;

/// A pool's value at one revision.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The balances the value holds.
    pub balance: Balance,
    /// The key's `mod_revision`: what the next transaction compares.
    pub revision: i64,
}

/// The key of `pool`.
pub fn pool_key(pool: &str) -> String {
    format!("/ledger/pools/{pool}")
}

/// The key of reservation `id` of `pool`.
pub fn reservation_key(pool: &str, id: &str) -> String {
    format!("/ledger/reservations/{pool}/{id}")
}

/// A pool's value.
pub fn encode(balance: &Balance) -> String {
    format!(
        "{} {} {}",
        balance.capacity, balance.reserved, balance.spent
    )
}

/// The balances in a pool's value.
fn parse_balance(text: &str) -> anyhow::Result<Balance> {
    let figures: Vec<u64> = text
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad pool value {text:?}"))?;
    let [capacity, reserved, spent] = figures[..] else {
        bail!("bad pool value {text:?}");
    };
    Ok(Balance {
        capacity,
        reserved,
        spent,
    })
}

/// A pool key as etcd returned it.
pub fn decode(kv: &KeyValue) -> anyhow::Result<Seen> {
    Ok(Seen {
        balance: parse_balance(kv.value_str()?)?,
        revision: kv.mod_revision(),
    })
}

/// The amount a reservation key holds.
pub fn parse_amount(kv: &KeyValue) -> anyhow::Result<u64> {
    Ok(kv.value_str()?.parse()?)
}

/// The first key of each of the first two `get` answers of a transaction
/// (`None` where the key did not exist).
pub fn get_results(answers: &[TxnOpResponse]) -> [Option<&KeyValue>; 2] {
    let mut found = answers.iter().map(|answer| match answer {
        TxnOpResponse::Get(get) => get.kvs().first(),
        _ => None,
    });
    [found.next().flatten(), found.next().flatten()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_values_round_trip_and_reject_garbage() {
        let balance = Balance {
            capacity: 2_314_286,
            reserved: 8_000,
            spent: 17,
        };
        assert_eq!(encode(&balance), "2314286 8000 17");
        assert_eq!(parse_balance(&encode(&balance)).expect("parse"), balance);
        assert!(parse_balance("1 2").is_err());
        assert!(parse_balance("1 2 x").is_err());
    }
}
