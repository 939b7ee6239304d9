//! The peers the benchmark starts itself: etcd ([`etcd::EtcdCluster`]),
//! Cortex (three voters through `cortex-chaos`'s process harness, with the
//! daemons' default durability and timeouts) and Redis (`cortex-chaos`'s
//! [`RedisServer`], without persistence).

pub mod etcd;

use std::path::Path;
use std::time::Duration;

use cortex_chaos::{ProcessCluster, RedisServer};

/// Voters (and etcd members) of every replicated system.
pub const MEMBERS: usize = 3;

/// A Cortex cluster that is ready, and its leader.
pub struct CortexPeers {
    /// The voters.
    pub cluster: ProcessCluster,
    /// The node every voter named as leader when it became ready.
    pub leader: u64,
}

/// Starts three Cortex voters from `binary` and waits for an agreed leader.
pub async fn start_cortex(binary: &Path) -> anyhow::Result<CortexPeers> {
    let cluster = ProcessCluster::start_with_args(binary, MEMBERS, &[])?;
    cluster.wait_ready(Duration::from_secs(60)).await?;
    let leader = cluster.wait_leader(Duration::from_secs(30), &[]).await?;
    Ok(CortexPeers { cluster, leader })
}

/// Starts a Redis server (it blocks briefly until the server answers).
pub async fn start_redis() -> anyhow::Result<RedisServer> {
    tokio::task::spawn_blocking(RedisServer::start).await?
}
