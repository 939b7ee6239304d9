//! The workloads: each starts the systems it measures, drives them with
//! the same concurrency levels and the same logical operation, and returns
//! what it measured. Only one system runs at a time, so no system's
//! figures pay for another's processes.

pub mod dispatch;
pub mod failover;
pub mod footprint;
pub mod physical;
pub mod reserve;
pub mod write;

use std::path::PathBuf;
use std::time::Duration;

/// Concurrent clients of every throughput level.
pub const LEVELS: [u32; 3] = [1, 16, 128];

/// How one benchmark run is sized.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tiny counts: a smoke test of the whole tool, not figures.
    pub quick: bool,
    /// Seed of every random choice.
    pub seed: u64,
    /// The `cortex` binary the voters run.
    pub cortex_bin: PathBuf,
}

impl Settings {
    /// Operations (cycles, puts) of a level with `clients` clients: enough
    /// for a stable p99 (a single client is slower, so gets fewer).
    pub fn operations(&self, clients: u32) -> u64 {
        match (self.quick, clients) {
            (true, 1) => 40,
            (true, _) => 320,
            (false, 1) => 2_000,
            (false, _) => 10_000,
        }
    }

    /// Wall time after which a level stops with what it did, so one
    /// pathologically contended system cannot hold the whole run.
    pub fn deadline(&self) -> Duration {
        match self.quick {
            true => Duration::from_secs(10),
            false => Duration::from_secs(60),
        }
    }
}

/// What one client of a level saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Duration of every answered call.
    pub latencies: Vec<Duration>,
    /// Calls that failed.
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Whether the deadline stopped the client.
    pub hit_deadline: bool,
}

impl Tally {
    /// Records a failed call.
    pub fn fail(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{error:#}"));
    }

    /// Adds another client's tally to this one.
    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.hit_deadline |= other.hit_deadline;
    }
}

/// Client `index`'s share of `total` operations over `clients` clients.
pub fn share(total: u64, clients: u32, index: u32) -> u64 {
    let clients = u64::from(clients);
    total / clients + u64::from(u64::from(index) < total % clients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_total() {
        for (total, clients) in [(10_000, 128), (40, 16), (5, 1), (3, 16)] {
            let sum: u64 = (0..clients).map(|i| share(total, clients, i)).sum();
            assert_eq!(sum, total, "{total} over {clients}");
        }
        assert_eq!(share(10, 3, 0), 4);
        assert_eq!(share(10, 3, 2), 3);
    }
}
