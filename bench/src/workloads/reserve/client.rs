//! One client of a reservation level: reserve a random amount from a
//! random pool, settle a random part of it if granted, and remember what
//! every acknowledged settle charged, for the audit.

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::Rng;

use super::{MAX_AMOUNT, MIN_AMOUNT};
use crate::systems::{BudgetLedger, Reservation};
use crate::workloads::Tally;

/// One client's script.
pub struct Client {
    /// The level's pools, one picked at random per cycle.
    pub pools: Vec<String>,
    /// Reserve-then-settle cycles to run.
    pub cycles: u64,
    /// Picks pools, amounts and usage.
    pub rng: StdRng,
    /// Makes its reservation ids unique among the level's clients.
    pub prefix: String,
    /// When to stop even with cycles left.
    pub deadline: Instant,
}

/// What one client (or all of them) saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latencies and errors.
    pub tally: Tally,
    /// Reservations granted.
    pub reserved: u64,
    /// Reservations refused for lack of room.
    pub refused: u64,
    /// Reservations settled.
    pub settled: u64,
    /// Tokens each settle was acknowledged to charge, per pool.
    pub acked: HashMap<String, u64>,
}

impl Outcome {
    /// Adds another client's outcome to this one.
    pub fn merge(&mut self, other: Outcome) {
        self.tally.merge(other.tally);
        self.reserved += other.reserved;
        self.refused += other.refused;
        self.settled += other.settled;
        for (pool, tokens) in other.acked {
            *self.acked.entry(pool).or_default() += tokens;
        }
    }
}

impl Client {
    /// Runs the cycles until done, the deadline or the first error (after
    /// which the ledger's state is unknown, so going on would prove nothing).
    pub async fn run<L: BudgetLedger>(mut self, mut ledger: L, tick: impl Fn()) -> Outcome {
        let mut seen = Outcome::default();
        for n in 0..self.cycles {
            if Instant::now() >= self.deadline {
                seen.tally.hit_deadline = true;
                break;
            }
            let pool = &self.pools[self.rng.gen_range(0..self.pools.len())];
            let amount = self.rng.gen_range(MIN_AMOUNT..=MAX_AMOUNT);
            let id = format!("{}-{n}", self.prefix);
            let start = Instant::now();
            match ledger.reserve(pool, &id, amount).await {
                Ok(Reservation::Reserved) => seen.reserved += 1,
                Ok(Reservation::Refused) => seen.refused += 1,
                Err(error) => {
                    seen.tally.fail(&error);
                    break;
                }
            }
            seen.tally.latencies.push(start.elapsed());
            tick();
            if seen.reserved == seen.settled {
                continue; // refused: nothing to settle
            }
            let used = self.rng.gen_range(0..=amount);
            let start = Instant::now();
            if let Err(error) = ledger.settle(pool, &id, used).await {
                seen.tally.fail(&error);
                break;
            }
            seen.tally.latencies.push(start.elapsed());
            tick();
            seen.settled += 1;
            *seen.acked.entry(pool.clone()).or_default() += used.min(amount);
        }
        seen
    }
}
