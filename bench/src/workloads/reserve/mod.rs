//! Budget reservations: clients reserve a random 100–8,000 tokens from a
//! random pool if it has room and later settle what they used, on 7 pools
//! (heavy contention) and on 700 (little), at 1, 16 and 128 clients.
//!
//! Pools are sized to run dry near the end of a level, so refusals (the
//! "if the pool has room" branch) are part of every run. After a level the
//! balances are audited ([`crate::balances::audit`]): a system that
//! overspends, or whose balances disagree with what its clients were told,
//! has failed, whatever its speed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{share, Settings, LEVELS};
use crate::balances::audit;
use crate::peers::{self, etcd::EtcdCluster, MEMBERS};
use crate::progress::Progress;
use crate::results::{ReserveResult, System};
use crate::stats::{rate, Latency};
use crate::systems::cortex::{CortexApi, CortexLedger};
use crate::systems::etcd::EtcdLedger;
use crate::systems::redis::RedisLedger;
use crate::systems::BudgetLedger;
use client::{Client, Outcome};

mod client;

/// Pool counts: contended and spread out.
pub const POOLS: [u32; 2] = [7, 700];
/// Smallest reservation.
const MIN_AMOUNT: u64 = 100;
/// Largest reservation.
const MAX_AMOUNT: u64 = 8_000;
/// Share of the expected demand a pool can hold, so pools run dry late.
const FILL: f64 = 0.8;
/// Longest one Cortex request may take.
const CORTEX_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every level on etcd, Redis and Cortex; a system that cannot be
/// started or measured is reported in the errors instead.
pub async fn run(settings: &Settings) -> (Vec<ReserveResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for system in [System::Etcd, System::Redis, System::Cortex] {
        match on_system(system, settings).await {
            Ok(levels) => results.extend(levels),
            Err(error) => errors.push(format!("reserve on {system}: {error:#}")),
        }
    }
    (results, errors)
}

async fn on_system(system: System, settings: &Settings) -> anyhow::Result<Vec<ReserveResult>> {
    match system {
        System::Etcd => {
            let mut etcd = EtcdCluster::start(MEMBERS).await?;
            let leader = etcd.leader().await?;
            let ledger = EtcdLedger::connect_to(&[etcd.client_url(leader)]).await?;
            levels(system, ledger, settings).await
        }
        System::Redis => {
            let redis = peers::start_redis().await?;
            levels(
                system,
                RedisLedger::connect_to(&redis.url()).await?,
                settings,
            )
            .await
        }
        System::Cortex => {
            let cortex = peers::start_cortex(&settings.cortex_bin).await?;
            let url = cortex.cluster.api_url(cortex.leader);
            let api = CortexApi::new(&url, cortex.cluster.token(), CORTEX_TIMEOUT)?;
            levels(system, CortexLedger::new(api), settings).await
        }
    }
}

/// Every (pools, clients) level on one system, in a fixed order.
async fn levels<L: BudgetLedger>(
    system: System,
    mut ledger: L,
    settings: &Settings,
) -> anyhow::Result<Vec<ReserveResult>> {
    let mut results = Vec::new();
    for pools in POOLS {
        for clients in LEVELS {
            let result = level(system, &mut ledger, settings, pools, clients).await?;
            if result.failed() {
                eprintln!(
                    "!!! FAILED: reserve P={pools} c={clients} on {system}: {} errors (first: {}); \
                     balance problems: {:?}",
                    result.errors,
                    result.first_error.as_deref().unwrap_or("none"),
                    result.check.problems
                );
            }
            results.push(result);
        }
    }
    Ok(results)
}

/// One level: fresh pools, `clients` clients, then the audit.
async fn level<L: BudgetLedger>(
    system: System,
    ledger: &mut L,
    settings: &Settings,
    pools: u32,
    clients: u32,
) -> anyhow::Result<ReserveResult> {
    let cycles = settings.operations(clients);
    let capacity = capacity(cycles, pools);
    let names: Vec<String> = (0..pools)
        .map(|i| format!("p{pools}c{clients}-{i}"))
        .collect();
    let mut handles = Vec::new();
    for _ in 0..clients {
        handles.push(ledger.connect().await?);
    }
    // Every client opens a share of the pools, so 700 opens take no longer
    // than they must.
    let chunk = names.len().div_ceil(handles.len());
    let opening = handles.iter_mut().zip(names.chunks(chunk));
    futures::future::try_join_all(opening.map(|(handle, mine)| handle.open(mine, capacity)))
        .await?;
    // One untimed call per client, so no timed call pays for a connection.
    for (handle, pool) in handles.iter_mut().zip(names.iter().cycle()) {
        handle.balance(pool).await?;
    }

    let progress = Progress::start(format!("reserve P={pools} c={clients} {system}"));
    let conflicts_before = ledger.conflicts();
    let deadline = Instant::now() + settings.deadline();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, handle) in (0u32..).zip(handles) {
        let client = Client {
            pools: names.clone(),
            cycles: share(cycles, clients, index),
            rng: StdRng::seed_from_u64(seed(settings.seed, pools, clients, index)),
            prefix: format!("c{index}"),
            deadline,
        };
        let done = progress.counter();
        tasks.push(tokio::spawn(client.run(handle, move || {
            done.fetch_add(1, Ordering::Relaxed);
        })));
    }
    let mut total = Outcome::default();
    for task in tasks {
        total.merge(task.await?);
    }
    let elapsed = started.elapsed();
    let conflicts = ledger.conflicts() - conflicts_before;

    let mut balances = Vec::new();
    let mut unread = Vec::new();
    for pool in &names {
        match ledger.balance(pool).await {
            Ok(balance) => balances.push((pool.clone(), balance)),
            Err(error) => unread.push(format!("{pool}: unreadable: {error:#}")),
        }
    }
    let check = audit(capacity, &balances, &total.acked, &unread);
    let ops = total.tally.latencies.len() as u64;
    progress.finish(&format!(
        "{ops} ops, {} refused, {} errors, {conflicts} conflicts, balances {}",
        total.refused,
        total.tally.errors,
        if check.passed { "ok" } else { "WRONG" }
    ));
    Ok(ReserveResult {
        system,
        pools,
        clients,
        cycles,
        capacity,
        ops,
        reserved: total.reserved,
        refused: total.refused,
        settled: total.settled,
        errors: total.tally.errors,
        first_error: total.tally.first_error,
        conflicts,
        elapsed_s: elapsed.as_secs_f64(),
        ops_per_s: rate(ops, elapsed),
        latency: Latency::of(total.tally.latencies),
        hit_deadline: total.tally.hit_deadline,
        check,
    })
}

/// Tokens per pool: `FILL` of what the level's cycles are expected to use
/// there, but at least one largest reservation.
pub fn capacity(cycles: u64, pools: u32) -> u64 {
    // Amounts are uniform in MIN..=MAX and usage uniform in 0..=amount.
    let mean_used = (MIN_AMOUNT + MAX_AMOUNT) as f64 / 4.0;
    let expected = cycles as f64 / f64::from(pools) * mean_used;
    ((expected * FILL).round() as u64).max(MAX_AMOUNT)
}

/// The same seed per (level, client) on every system, so each is offered
/// the same sequence of pools and amounts.
fn seed(seed: u64, pools: u32, clients: u32, index: u32) -> u64 {
    seed ^ (u64::from(pools) << 40) ^ (u64::from(clients) << 20) ^ u64::from(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_hold_four_fifths_of_the_expected_use() {
        // 10,000 cycles over 7 pools, 2,025 tokens used per cycle on average.
        assert_eq!(capacity(10_000, 7), 2_314_286);
        // Tiny levels still fit the largest reservation.
        assert_eq!(capacity(40, 700), MAX_AMOUNT);
    }
}
