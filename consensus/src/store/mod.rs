//! Durable storage on sled: the Raft log ([`log::LogStore`]) and the state
//! machine with its snapshots ([`state_machine::StateMachineStore`]).
//!
//! Both live in one sled database under a node's data directory, in separate
//! trees, so one `flush` makes a node's whole disk state durable.

pub mod codec;
// openraft's storage traits return its (large) `StorageError`; the helpers
// return the same type so errors pass through with `?` unchanged.
#[allow(clippy::result_large_err)]
pub mod log;
#[allow(clippy::result_large_err)]
pub mod state_machine;

use std::path::Path;

use crate::error::ConsensusError;

pub use log::LogStore;
pub use state_machine::{StateMachineStore, StateReader};

/// Opens (or creates) a node's storage under `dir`.
pub async fn open(dir: &Path) -> Result<(LogStore, StateMachineStore), ConsensusError> {
    let db = sled::Config::new()
        .path(dir)
        // Keep the cache modest: the state machine lives in memory anyway.
        .cache_capacity(64 * 1024 * 1024)
        .open()?;
    let log = LogStore::open(db.clone())?;
    let state_machine = StateMachineStore::open(db)?;
    Ok((log, state_machine))
}
