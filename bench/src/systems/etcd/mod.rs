//! The budget ledger on etcd, done the best correct way a client can.
//!
//! A pool is one key holding `capacity reserved spent`; a reservation is a
//! key holding its amount. Every change is one transaction that compares
//! the pool key's `mod_revision` with the one this client last saw (and,
//! on settle, the reservation's), writes both keys if nothing changed in
//! between, and otherwise returns the current values in its `else` branch
//! so the retry needs no extra read. Each handle remembers the last value
//! it saw of each pool, so an uncontended call is a single round trip; a
//! refusal is only ever decided on a value etcd has just returned, never
//! on the remembered one, which may be stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, KvClient, Txn, TxnOp, TxnResponse};

use super::{Balance, BudgetLedger, Reservation};
use layout::{decode, encode, get_results, parse_amount, pool_key, reservation_key, Seen};

mod layout;

/// Longest a single request may take before the call fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Lost compares after which one call gives up: a livelock, not contention.
const MAX_ATTEMPTS: u32 = 10_000;

/// One client of the etcd ledger.
pub struct EtcdLedger {
    /// Where new handles connect.
    endpoints: Vec<String>,
    /// This handle's connection.
    kv: KvClient,
    /// The last value and `mod_revision` of each pool this handle saw.
    seen: HashMap<String, Seen>,
    /// Reservations this handle made: id to (amount, `mod_revision`), so a
    /// settle can compare instead of reading the reservation first.
    held: HashMap<String, (u64, i64)>,
    /// Lost compares of every handle of this ledger.
    conflicts: Arc<AtomicU64>,
}

impl EtcdLedger {
    /// Connects to etcd at `endpoints` (`http://HOST:PORT`).
    pub async fn connect_to(endpoints: &[String]) -> anyhow::Result<EtcdLedger> {
        Ok(EtcdLedger {
            endpoints: endpoints.to_vec(),
            kv: connect(endpoints).await?.kv_client(),
            seen: HashMap::new(),
            held: HashMap::new(),
            conflicts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The pool's current value, by a linearizable read.
    async fn read(&mut self, pool: &str) -> anyhow::Result<Seen> {
        let response = self.kv.get(pool_key(pool), None).await?;
        let kv = response
            .kvs()
            .first()
            .with_context(|| format!("no pool {pool}"))?;
        let seen = decode(kv)?;
        self.seen.insert(pool.to_string(), seen);
        Ok(seen)
    }

    /// The remembered value, or a fresh read; and whether it is fresh.
    async fn current(&mut self, pool: &str) -> anyhow::Result<(Seen, bool)> {
        match self.seen.get(pool) {
            Some(seen) => Ok((*seen, false)),
            None => Ok((self.read(pool).await?, true)),
        }
    }

    /// If `response` committed, remembers `next` as `pool`'s value and
    /// answers the revision it was written at.
    fn committed(
        &mut self,
        pool: &str,
        next: Balance,
        response: &TxnResponse,
    ) -> anyhow::Result<Option<i64>> {
        if !response.succeeded() {
            return Ok(None);
        }
        let revision = response.header().context("no header")?.revision();
        let seen = Seen {
            balance: next,
            revision,
        };
        self.seen.insert(pool.to_string(), seen);
        Ok(Some(revision))
    }

    fn lost_compare(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }
}

/// A client with the options every handle uses.
pub async fn connect(endpoints: &[String]) -> anyhow::Result<Client> {
    let options = ConnectOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(Duration::from_secs(2));
    Client::connect(endpoints, Some(options))
        .await
        .with_context(|| format!("connecting to etcd at {endpoints:?}"))
}

impl BudgetLedger for EtcdLedger {
    async fn connect(&self) -> anyhow::Result<Self> {
        Ok(EtcdLedger {
            conflicts: self.conflicts.clone(),
            ..EtcdLedger::connect_to(&self.endpoints).await?
        })
    }

    async fn open(&mut self, pools: &[String], capacity: u64) -> anyhow::Result<()> {
        let empty = Balance {
            capacity,
            ..Balance::default()
        };
        for pool in pools {
            let key = pool_key(pool);
            let txn = Txn::new()
                .when([Compare::version(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.clone(), encode(&empty), None)])
                .or_else([TxnOp::get(key, None)]);
            let response = self.kv.txn(txn).await?;
            if !response.succeeded() {
                let existing = get_results(&response.op_responses())[0]
                    .map(decode)
                    .transpose()?;
                if existing.is_some_and(|seen| seen.balance.capacity != capacity) {
                    bail!("pool {pool} exists with another capacity");
                }
            }
        }
        Ok(())
    }

    async fn reserve(&mut self, pool: &str, id: &str, amount: u64) -> anyhow::Result<Reservation> {
        let (key, held_key) = (pool_key(pool), reservation_key(pool, id));
        let (mut seen, mut fresh) = self.current(pool).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Balance {
                capacity,
                reserved,
                spent,
            } = seen.balance;
            if reserved + spent + amount > capacity {
                if fresh {
                    return Ok(Reservation::Refused);
                }
                (seen, fresh) = (self.read(pool).await?, true);
                continue;
            }
            let next = Balance {
                reserved: reserved + amount,
                ..seen.balance
            };
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(key.clone(), CompareOp::Equal, seen.revision),
                    Compare::version(held_key.clone(), CompareOp::Equal, 0),
                ])
                .and_then([
                    TxnOp::put(key.clone(), encode(&next), None),
                    TxnOp::put(held_key.clone(), amount.to_string(), None),
                ])
                .or_else([
                    TxnOp::get(key.clone(), None),
                    TxnOp::get(held_key.clone(), None),
                ]);
            let response = self.kv.txn(txn).await?;
            if let Some(revision) = self.committed(pool, next, &response)? {
                self.held.insert(id.to_string(), (amount, revision));
                return Ok(Reservation::Reserved);
            }
            let answers = response.op_responses();
            let [pool_kv, held_kv] = get_results(&answers);
            if held_kv.is_some() {
                bail!("reservation {id} of {pool} exists already");
            }
            seen = decode(pool_kv.with_context(|| format!("no pool {pool}"))?)?;
            fresh = true;
            self.seen.insert(pool.to_string(), seen);
            self.lost_compare();
        }
        bail!("reserve on {pool} lost {MAX_ATTEMPTS} compares in a row")
    }

    async fn settle(&mut self, pool: &str, id: &str, used: u64) -> anyhow::Result<()> {
        let (key, held_key) = (pool_key(pool), reservation_key(pool, id));
        let (mut amount, mut held_revision) = match self.held.remove(id) {
            Some(held) => held,
            None => {
                let response = self.kv.get(held_key.clone(), None).await?;
                let kv = response.kvs().first().context("unknown reservation")?;
                (parse_amount(kv)?, kv.mod_revision())
            }
        };
        let (mut seen, mut fresh) = self.current(pool).await?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(reserved) = seen.balance.reserved.checked_sub(amount) else {
                // A remembered value may predate the reservation.
                if fresh {
                    bail!("pool {pool} holds {} < {amount}", seen.balance.reserved);
                }
                (seen, fresh) = (self.read(pool).await?, true);
                continue;
            };
            let next = Balance {
                reserved,
                spent: seen.balance.spent + used.min(amount),
                ..seen.balance
            };
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(key.clone(), CompareOp::Equal, seen.revision),
                    Compare::mod_revision(held_key.clone(), CompareOp::Equal, held_revision),
                ])
                .and_then([
                    TxnOp::put(key.clone(), encode(&next), None),
                    TxnOp::delete(held_key.clone(), None),
                ])
                .or_else([
                    TxnOp::get(key.clone(), None),
                    TxnOp::get(held_key.clone(), None),
                ]);
            let response = self.kv.txn(txn).await?;
            if self.committed(pool, next, &response)?.is_some() {
                return Ok(());
            }
            let answers = response.op_responses();
            let [pool_kv, held_kv] = get_results(&answers);
            let held_kv = held_kv.with_context(|| format!("unknown reservation {id}"))?;
            (amount, held_revision) = (parse_amount(held_kv)?, held_kv.mod_revision());
            seen = decode(pool_kv.with_context(|| format!("no pool {pool}"))?)?;
            fresh = true;
            self.seen.insert(pool.to_string(), seen);
            self.lost_compare();
        }
        bail!("settle on {pool} lost {MAX_ATTEMPTS} compares in a row")
    }

    async fn balance(&mut self, pool: &str) -> anyhow::Result<Balance> {
        Ok(self.read(pool).await?.balance)
    }

    fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }
}
