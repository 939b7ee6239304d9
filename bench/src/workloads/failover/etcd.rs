//! Leader kills on etcd: the writers share nothing but the endpoints; each
//! has a client balancing over all three members that asks followers to
//! fail at once when they have no leader (`require_leader`), so a write
//! is retried instead of waiting out the election.

use std::time::Duration;

use etcd_client::{Client, ConnectOptions, KvClient};

use super::{schedule, Load, Writer, RECOVERY_TIMEOUT, WRITERS, WRITE_TIMEOUT};
use crate::peers::{etcd::EtcdCluster, MEMBERS};
use crate::results::FailoverTrial;
use crate::workloads::Settings;

impl Writer for KvClient {
    async fn put(&mut self, key: String, value: String) -> anyhow::Result<()> {
        KvClient::put(self, key, value, None).await?;
        Ok(())
    }
}

/// Kills the leader of a fresh etcd cluster once per trial.
pub async fn trials(settings: &Settings) -> anyhow::Result<Vec<FailoverTrial>> {
    let (count, warmup) = schedule(settings);
    let mut cluster = EtcdCluster::start(MEMBERS).await?;
    let mut trials = Vec::new();
    for trial in 0..count {
        let options = ConnectOptions::new()
            .with_timeout(WRITE_TIMEOUT)
            .with_connect_timeout(Duration::from_millis(500))
            .with_require_leader(true);
        let mut writers = Vec::new();
        for _ in 0..WRITERS {
            let client = Client::connect(cluster.client_urls(), Some(options.clone())).await?;
            writers.push(client.kv_client());
        }
        let load = Load::start(writers, trial);
        tokio::time::sleep(warmup).await;
        let leader = cluster.leader().await?;
        cluster.kill(leader)?;
        load.killed();
        eprintln!("failover etcd trial {}: killed m{}", trial + 1, leader + 1);
        let write_ms = load.first_ack_ms().await;
        let acked = load.stop().await;
        eprintln!(
            "failover etcd trial {}: next write after {} ({acked} writes acknowledged)",
            trial + 1,
            shown(write_ms)
        );
        trials.push(FailoverTrial {
            killed: leader as u64 + 1,
            write_ms,
            leases_ms: None,
            note: write_ms
                .is_none()
                .then(|| format!("no write acknowledged within {RECOVERY_TIMEOUT:?}")),
        });
        cluster.restart(leader)?;
        cluster.wait_healthy(RECOVERY_TIMEOUT).await?;
    }
    Ok(trials)
}

/// A figure in ms, or "none".
pub fn shown(ms: Option<f64>) -> String {
    ms.map_or_else(|| "none".into(), |ms| format!("{ms:.0} ms"))
}
