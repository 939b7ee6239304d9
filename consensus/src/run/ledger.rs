//! A run's token ledger: reserve on assignment, settle actual usage on
//! completion, release the rest; grants from the emergency reserve and
//! moves between masters. Pure bookkeeping whose every operation either
//! keeps the invariants or changes nothing:
//!
//! * per master: `spent + reserved <= limit`, where the limit is its pools
//!   plus what it was granted or given, minus what it gave away;
//! * per run: the limits add up to at most `total`, so `spent + reserved <= total`;
//! * the emergency reserve is drawn only by [`Ledger::grant`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{MasterRole, RunSpec, TaskId};

/// One master's account within a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The plan's personal pool.
    pub personal: u64,
    /// The plan's workers pool.
    pub workers: u64,
    /// Drawn from the emergency reserve by explicit grants.
    pub granted: u64,
    /// Received from other masters.
    pub moved_in: u64,
    /// Given to other masters.
    pub moved_out: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// Settled usage.
    pub spent: u64,
    /// Usage reported beyond reservations (capped, so never in `spent`).
    pub overrun: u64,
}

impl Account {
    /// What this master may have spent and reserved at most.
    pub fn limit(&self) -> u64 {
        (self.personal + self.workers + self.granted + self.moved_in).saturating_sub(self.moved_out)
    }

    /// What it can still reserve.
    pub fn available(&self) -> u64 {
        self.limit().saturating_sub(self.spent + self.reserved)
    }
}

/// Tokens held for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The master paying.
    pub master: MasterRole,
    /// Tokens held.
    pub amount: u64,
}

/// What settling an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settlement {
    /// Added to `spent`.
    pub spent: u64,
    /// Returned to the master.
    pub released: u64,
    /// Reported beyond the reservation.
    pub overrun: u64,
}

/// Why a ledger operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LedgerError {
    /// The master cannot cover the amount.
    #[error("master {master} has {available} tokens available, {needed} needed")]
    Insufficient {
        /// The master.
        master: MasterRole,
        /// What it has.
        available: u64,
        /// What was asked.
        needed: u64,
    },
    /// The emergency reserve cannot cover the grant.
    #[error("emergency reserve has {available} tokens left, {needed} asked")]
    ReserveTooSmall {
        /// What is left.
        available: u64,
        /// What was asked.
        needed: u64,
    },
    /// The master has no account in this run.
    #[error("master {0} has no budget in this run")]
    NoAccount(MasterRole),
    /// Nothing is reserved under this key.
    #[error("no reservation for {0}")]
    NoReservation(String),
    /// A reservation with this key already exists.
    #[error("reservation {0} exists already")]
    Duplicate(String),
}

/// Reservations are keyed by task and attempt number.
pub type ReservationKey = (TaskId, u32);

/// The token accounts of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The run's budget.
    pub total: u64,
    /// The emergency reserve still undrawn.
    pub reserve_left: u64,
    /// Per-master accounts.
    pub accounts: BTreeMap<MasterRole, Account>,
    /// Live reservations.
    pub reservations: BTreeMap<ReservationKey, Reservation>,
}

fn describe(key: &ReservationKey) -> String {
    format!("{}#{}", key.0, key.1)
}

impl Ledger {
    /// Opens the accounts of a validated run.
    pub fn open(spec: &RunSpec) -> Ledger {
        let accounts = spec
            .masters
            .iter()
            .map(|(role, pools)| {
                let account = Account {
                    personal: pools.personal,
                    workers: pools.workers,
                    ..Account::default()
                };
                (*role, account)
            })
            .collect();
        Ledger {
            total: spec.budget.total,
            reserve_left: spec.budget.emergency_reserve,
            accounts,
            reservations: BTreeMap::new(),
        }
    }

    fn account(&mut self, master: MasterRole) -> Result<&mut Account, LedgerError> {
        self.accounts
            .get_mut(&master)
            .ok_or(LedgerError::NoAccount(master))
    }

    /// Holds `amount` tokens of `master` for an attempt.
    pub fn reserve(
        &mut self,
        master: MasterRole,
        key: ReservationKey,
        amount: u64,
    ) -> Result<(), LedgerError> {
        if self.reservations.contains_key(&key) {
            return Err(LedgerError::Duplicate(describe(&key)));
        }
        let account = self.account(master)?;
        let available = account.available();
        if amount > available {
            return Err(LedgerError::Insufficient {
                master,
                available,
                needed: amount,
            });
        }
        account.reserved += amount;
        self.reservations
            .insert(key, Reservation { master, amount });
        Ok(())
    }

    /// Ends a reservation: charges `used` up to the amount held, records the
    /// excess as overrun, and returns the rest to the master.
    pub fn settle(&mut self, key: &ReservationKey, used: u64) -> Result<Settlement, LedgerError> {
        let reservation = self
            .reservations
            .remove(key)
            .ok_or_else(|| LedgerError::NoReservation(describe(key)))?;
        let charged = used.min(reservation.amount);
        let settlement = Settlement {
            spent: charged,
            released: reservation.amount - charged,
            overrun: used - charged,
        };
        let account = self.account(reservation.master)?;
        account.reserved -= reservation.amount;
        account.spent += settlement.spent;
        account.overrun += settlement.overrun;
        Ok(settlement)
    }

    /// Ends a reservation without charging anything (the attempt was fenced off).
    pub fn release(&mut self, key: &ReservationKey) -> Result<Settlement, LedgerError> {
        self.settle(key, 0)
    }

    /// Draws `amount` from the emergency reserve for `master`.
    pub fn grant(&mut self, master: MasterRole, amount: u64) -> Result<(), LedgerError> {
        if amount > self.reserve_left {
            return Err(LedgerError::ReserveTooSmall {
                available: self.reserve_left,
                needed: amount,
            });
        }
        self.account(master)?.granted += amount;
        self.reserve_left -= amount;
        Ok(())
    }

    /// Moves `amount` of unused budget from one master to another.
    pub fn reallocate(
        &mut self,
        from: MasterRole,
        to: MasterRole,
        amount: u64,
    ) -> Result<(), LedgerError> {
        if !self.accounts.contains_key(&to) {
            return Err(LedgerError::NoAccount(to));
        }
        let giver = self.account(from)?;
        let available = giver.available();
        if amount > available {
            return Err(LedgerError::Insufficient {
                master: from,
                available,
                needed: amount,
            });
        }
        giver.moved_out += amount;
        self.account(to)?.moved_in += amount;
        Ok(())
    }

    /// Settled usage of the whole run.
    pub fn spent(&self) -> u64 {
        self.accounts.values().map(|a| a.spent).sum()
    }

    /// Tokens held by live attempts.
    pub fn reserved(&self) -> u64 {
        self.accounts.values().map(|a| a.reserved).sum()
    }

    /// Checks the invariants; the property tests call this after every step.
    pub fn check(&self) -> Result<(), String> {
        let mut limits = 0u64;
        for (role, account) in &self.accounts {
            if account.spent + account.reserved > account.limit() {
                return Err(format!("master {role} is over its limit: {account:?}"));
            }
            let held: u64 = self
                .reservations
                .values()
                .filter(|r| r.master == *role)
                .map(|r| r.amount)
                .sum();
            if held != account.reserved {
                return Err(format!(
                    "master {role} reserved {} but holds {held}",
                    account.reserved
                ));
            }
            limits += account.limit();
        }
        if limits + self.reserve_left > self.total {
            return Err(format!(
                "limits {limits} plus reserve {} exceed total {}",
                self.reserve_left, self.total
            ));
        }
        if self.spent() + self.reserved() > self.total {
            return Err("spent + reserved exceeds total".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
