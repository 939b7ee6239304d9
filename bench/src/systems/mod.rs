//! The budget ledger, as each system under test implements it.
//!
//! The logical operation is the same everywhere: a pool holds `capacity`
//! tokens; a reservation holds `amount` of them only if `reserved + spent +
//! amount <= capacity`; settling it charges `min(used, amount)` and frees
//! the rest. Cortex does this as one replicated command per call, etcd as
//! optimistic transactions the client retries ([`etcd`]), Redis as Lua
//! scripts on one unreplicated server ([`redis`]).

pub mod cortex;
pub mod etcd;
pub mod redis;

use std::future::Future;

/// What a reserve call was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The tokens are held under the client's id.
    Reserved,
    /// The pool had no room; nothing changed.
    Refused,
}

/// One pool's balances as the system holds them at the end of a level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    /// Tokens the pool was opened with.
    pub capacity: u64,
    /// Held by reservations not yet settled.
    pub reserved: u64,
    /// Charged by settled reservations.
    pub spent: u64,
}

/// A budget ledger on one system, seen through one client connection.
///
/// A handle is used by one client task at a time (`&mut self`); every
/// client gets its own handle from [`BudgetLedger::connect`], so each has
/// its own connection, as separate processes would.
pub trait BudgetLedger: Sized + Send + Sync + 'static {
    /// Another handle on the same ledger with a connection of its own.
    fn connect(&self) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Creates `pools`, each holding `capacity` tokens.
    fn open(
        &mut self,
        pools: &[String],
        capacity: u64,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Holds `amount` tokens of `pool` under reservation `id` if it has room.
    fn reserve(
        &mut self,
        pool: &str,
        id: &str,
        amount: u64,
    ) -> impl Future<Output = anyhow::Result<Reservation>> + Send;

    /// Ends reservation `id` of `pool`, charging `used` (capped at its amount).
    fn settle(
        &mut self,
        pool: &str,
        id: &str,
        used: u64,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// `pool`'s balances, read after every client has finished.
    fn balance(&mut self, pool: &str) -> impl Future<Output = anyhow::Result<Balance>> + Send;

    /// Transactions retried after losing a compare, over all handles of
    /// this ledger; zero for systems that decide on the server.
    fn conflicts(&self) -> u64 {
        0
    }
}
