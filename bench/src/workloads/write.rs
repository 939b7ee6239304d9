//! Replicated writes: 100-byte puts of fresh keys at 1, 16 and 128
//! clients, etcd's `put` against Cortex's `PUT /v1/kv/{key}`. Both are
//! acknowledged only once a majority has the write on disk, and both
//! clients talk to the leader.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use etcd_client::KvClient;

use super::{share, Settings, Tally, LEVELS};
use crate::peers::{self, etcd::EtcdCluster, MEMBERS};
use crate::progress::Progress;
use crate::results::{System, WriteResult};
use crate::stats::{rate, Latency};
use crate::systems::cortex::CortexApi;
use crate::systems::etcd::connect;

/// Bytes in every value.
const VALUE_BYTES: usize = 100;
/// Longest one Cortex request may take.
const CORTEX_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that writes to one system.
enum Writer {
    /// Boxed: an etcd client is several times the size of a Cortex one.
    Etcd(Box<KvClient>),
    Cortex(CortexApi),
}

impl Writer {
    async fn put(&mut self, key: &str, value: &str) -> anyhow::Result<()> {
        match self {
            Writer::Etcd(kv) => kv.put(key, value, None).await.map(drop)?,
            Writer::Cortex(api) => api.put_kv(key, value).await?,
        }
        Ok(())
    }
}

/// Where new writers connect.
enum Target {
    Etcd(String),
    Cortex(CortexApi),
}

impl Target {
    async fn writer(&self) -> anyhow::Result<Writer> {
        Ok(match self {
            Target::Etcd(url) => Writer::Etcd(Box::new(
                connect(std::slice::from_ref(url)).await?.kv_client(),
            )),
            Target::Cortex(api) => Writer::Cortex(api.reconnect()?),
        })
    }
}

/// Runs every level on etcd, then on Cortex.
pub async fn run(settings: &Settings) -> (Vec<WriteResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for system in [System::Etcd, System::Cortex] {
        match on_system(system, settings).await {
            Ok(levels) => results.extend(levels),
            Err(error) => errors.push(format!("write on {system}: {error:#}")),
        }
    }
    (results, errors)
}

async fn on_system(system: System, settings: &Settings) -> anyhow::Result<Vec<WriteResult>> {
    // The peers live until the levels are done.
    let mut etcd = None;
    let mut cortex = None;
    let target = match system {
        System::Cortex => {
            let peers = cortex.insert(peers::start_cortex(&settings.cortex_bin).await?);
            let url = peers.cluster.api_url(peers.leader);
            Target::Cortex(CortexApi::new(&url, peers.cluster.token(), CORTEX_TIMEOUT)?)
        }
        _ => {
            let cluster = etcd.insert(EtcdCluster::start(MEMBERS).await?);
            let leader = cluster.leader().await?;
            Target::Etcd(cluster.client_url(leader))
        }
    };
    let mut results = Vec::new();
    for clients in LEVELS {
        results.push(level(system, &target, settings, clients).await?);
    }
    Ok(results)
}

async fn level(
    system: System,
    target: &Target,
    settings: &Settings,
    clients: u32,
) -> anyhow::Result<WriteResult> {
    let puts = settings.operations(clients);
    let mut writers = Vec::new();
    for index in 0..clients {
        let mut writer = target.writer().await?;
        // One untimed put, so no timed one pays for the connection.
        writer.put(&format!("warmup{clients}-{index}"), "v").await?;
        writers.push(writer);
    }
    let progress = Progress::start(format!("write c={clients} {system}"));
    let deadline = Instant::now() + settings.deadline();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, mut writer) in (0u32..).zip(writers) {
        let count = share(puts, clients, index);
        let done = progress.counter();
        tasks.push(tokio::spawn(async move {
            let value = "v".repeat(VALUE_BYTES);
            let mut tally = Tally::default();
            for n in 0..count {
                if Instant::now() >= deadline {
                    tally.hit_deadline = true;
                    break;
                }
                let key = format!("w{clients}-{index}-{n}");
                let start = Instant::now();
                match writer.put(&key, &value).await {
                    Ok(()) => tally.latencies.push(start.elapsed()),
                    Err(error) => {
                        tally.fail(&error);
                        break;
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await?);
    }
    let elapsed = started.elapsed();
    let ops = total.latencies.len() as u64;
    progress.finish(&format!("{ops} puts, {} errors", total.errors));
    if total.errors > 0 {
        eprintln!(
            "!!! FAILED: write c={clients} on {system}: {}",
            total.first_error.as_deref().unwrap_or_default()
        );
    }
    Ok(WriteResult {
        system,
        clients,
        ops,
        errors: total.errors,
        first_error: total.first_error,
        elapsed_s: elapsed.as_secs_f64(),
        ops_per_s: rate(ops, elapsed),
        latency: Latency::of(total.latencies),
        hit_deadline: total.hit_deadline,
    })
}
