//! Budget pools: named token accounts that live outside any run, for a
//! budget several runs or services draw from (a team's monthly LLM spend,
//! say). The same reserve → settle discipline as a run's ledger, kept as
//! pure bookkeeping whose every operation keeps `spent + reserved <=
//! capacity` or changes nothing. It is also what `cortex-bench` measures
//! against etcd and Redis.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Longest pool name or reservation id.
pub const MAX_NAME_LEN: usize = 128;
/// Most pools the cluster keeps (each is a few dozen bytes of state).
pub const MAX_POOLS: usize = 100_000;
/// Most live reservations across all pools; a client that reserves without
/// ever settling hits this instead of growing the state without bound.
pub const MAX_RESERVATIONS: usize = 1_000_000;

/// A change to the pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolCommand {
    /// Creates a pool; repeating it with the same capacity changes nothing.
    Open {
        /// Its name.
        pool: String,
        /// Tokens it holds.
        capacity: u64,
    },
    /// Holds `amount` tokens of `pool` under `reservation` if it has room.
    Reserve {
        /// The pool.
        pool: String,
        /// The client's id for the reservation (also what settles it).
        reservation: String,
        /// Tokens to hold.
        amount: u64,
    },
    /// Ends a reservation, charging `used` up to the amount held.
    Settle {
        /// The pool.
        pool: String,
        /// The reservation.
        reservation: String,
        /// Tokens actually used.
        used: u64,
    },
}

impl PoolCommand {
    /// Checks the names, without the state.
    pub fn check(&self) -> Result<(), PoolError> {
        let (pool, reservation) = match self {
            PoolCommand::Open { pool, .. } => (pool, None),
            PoolCommand::Reserve {
                pool, reservation, ..
            }
            | PoolCommand::Settle {
                pool, reservation, ..
            } => (pool, Some(reservation)),
        };
        for name in std::iter::once(pool).chain(reservation) {
            if name.is_empty() || name.len() > MAX_NAME_LEN {
                return Err(PoolError::BadName { len: name.len() });
            }
        }
        Ok(())
    }
}

/// A pool's balances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Tokens it holds.
    pub capacity: u64,
    /// Held by live reservations.
    pub reserved: u64,
    /// Settled usage.
    pub spent: u64,
    /// Usage reported beyond reservations (never in `spent`).
    pub overrun: u64,
}

impl Pool {
    /// What can still be reserved.
    pub fn available(&self) -> u64 {
        self.capacity.saturating_sub(self.spent + self.reserved)
    }
}

/// What a pool command answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolAnswer {
    /// The pool after an `Open`.
    Opened(Pool),
    /// The reservation holds its amount; the pool has this much left.
    Reserved {
        /// Tokens still available in the pool.
        available: u64,
    },
    /// The reservation ended.
    Settled {
        /// Charged to the pool.
        spent: u64,
        /// Returned to the pool.
        released: u64,
        /// Reported beyond the amount held.
        overrun: u64,
    },
}

/// Why a pool command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PoolError {
    /// A name or id is empty or too long.
    #[error("pool names and reservation ids must be 1 to {MAX_NAME_LEN} bytes, got {len}")]
    BadName {
        /// Its length.
        len: usize,
    },
    /// No pool by this name.
    #[error("no pool {0}")]
    NoPool(String),
    /// A pool by this name exists with another capacity.
    #[error("pool {pool} exists with capacity {capacity}")]
    Exists {
        /// The pool.
        pool: String,
        /// Its capacity.
        capacity: u64,
    },
    /// The pool cannot cover the amount.
    #[error("pool {pool} has {available} tokens available, {needed} needed")]
    Insufficient {
        /// The pool.
        pool: String,
        /// What it has.
        available: u64,
        /// What was asked.
        needed: u64,
    },
    /// The reservation id is taken, for another amount.
    #[error("reservation {0} exists already")]
    Duplicate(String),
    /// No live reservation by this id in this pool.
    #[error("no reservation {reservation} in pool {pool}")]
    NoReservation {
        /// The pool.
        pool: String,
        /// The reservation.
        reservation: String,
    },
    /// The cluster keeps no more pools or reservations.
    #[error("too many {what} (the limit is {max})")]
    Full {
        /// Pools or reservations.
        what: String,
        /// The limit.
        max: usize,
    },
}

/// Every pool and live reservation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pools {
    pools: BTreeMap<String, Pool>,
    /// Tokens held, by pool and reservation id.
    reservations: BTreeMap<(String, String), u64>,
}

impl Pools {
    /// A pool's balances.
    pub fn get(&self, pool: &str) -> Option<Pool> {
        self.pools.get(pool).copied()
    }

    /// Applies a command; a refused one changes nothing.
    pub fn apply(&mut self, command: &PoolCommand) -> Result<PoolAnswer, PoolError> {
        command.check()?;
        match command {
            PoolCommand::Open { pool, capacity } => self.open(pool, *capacity),
            PoolCommand::Reserve {
                pool,
                reservation,
                amount,
            } => self.reserve(pool, reservation, *amount),
            PoolCommand::Settle {
                pool,
                reservation,
                used,
            } => self.settle(pool, reservation, *used),
        }
    }

    fn open(&mut self, name: &str, capacity: u64) -> Result<PoolAnswer, PoolError> {
        if let Some(pool) = self.pools.get(name) {
            return match pool.capacity == capacity {
                true => Ok(PoolAnswer::Opened(*pool)),
                false => Err(PoolError::Exists {
                    pool: name.to_string(),
                    capacity: pool.capacity,
                }),
            };
        }
        if self.pools.len() >= MAX_POOLS {
            return Err(full("pools", MAX_POOLS));
        }
        let pool = Pool {
            capacity,
            ..Pool::default()
        };
        self.pools.insert(name.to_string(), pool);
        Ok(PoolAnswer::Opened(pool))
    }

    fn reserve(&mut self, name: &str, id: &str, amount: u64) -> Result<PoolAnswer, PoolError> {
        let pool = self
            .pools
            .get_mut(name)
            .ok_or_else(|| PoolError::NoPool(name.to_string()))?;
        let key = (name.to_string(), id.to_string());
        if let Some(held) = self.reservations.get(&key) {
            // A client retrying after a lost answer gets the same answer.
            return match *held == amount {
                true => Ok(PoolAnswer::Reserved {
                    available: pool.available(),
                }),
                false => Err(PoolError::Duplicate(id.to_string())),
            };
        }
        if self.reservations.len() >= MAX_RESERVATIONS {
            return Err(full("reservations", MAX_RESERVATIONS));
        }
        let available = pool.available();
        if amount > available {
            return Err(PoolError::Insufficient {
                pool: name.to_string(),
                available,
                needed: amount,
            });
        }
        pool.reserved += amount;
        self.reservations.insert(key, amount);
        Ok(PoolAnswer::Reserved {
            available: pool.available(),
        })
    }

    fn settle(&mut self, name: &str, id: &str, used: u64) -> Result<PoolAnswer, PoolError> {
        let missing = || PoolError::NoReservation {
            pool: name.to_string(),
            reservation: id.to_string(),
        };
        let key = (name.to_string(), id.to_string());
        let pool = self.pools.get_mut(name).ok_or_else(missing)?;
        let amount = self.reservations.remove(&key).ok_or_else(missing)?;
        let spent = used.min(amount);
        pool.reserved -= amount;
        pool.spent += spent;
        pool.overrun += used - spent;
        Ok(PoolAnswer::Settled {
            spent,
            released: amount - spent,
            overrun: used - spent,
        })
    }

    /// Checks the invariants; the property tests call this after every step.
    pub fn check(&self) -> Result<(), String> {
        for (name, pool) in &self.pools {
            if pool.spent + pool.reserved > pool.capacity {
                return Err(format!("pool {name} is over its capacity: {pool:?}"));
            }
            let held: u64 = self
                .reservations
                .iter()
                .filter(|((pool, _), _)| pool == name)
                .map(|(_, amount)| amount)
                .sum();
            if held != pool.reserved {
                return Err(format!(
                    "pool {name} reserved {} but holds {held}",
                    pool.reserved
                ));
            }
        }
        Ok(())
    }
}

fn full(what: &str, max: usize) -> PoolError {
    PoolError::Full {
        what: what.to_string(),
        max,
    }
}

#[cfg(test)]
mod tests;
