//! One voter: storage, Raft, the gRPC server and cluster formation, wired
//! together. The daemon starts one per process; `cortex dev` and the tests
//! start several in one process on loopback.

mod bootstrap;
mod handle;
mod proposer;
mod recovery;
mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;

use crate::error::ConsensusError;
use crate::store;
use crate::transport::tls::Security;
use crate::transport::{network::NetworkFactory, service, Channels};
use crate::types::{NodeAddr, NodeId, Raft, TypeConfig};
use openraft::network::RaftNetworkFactory;

pub use handle::{ConsensusHandle, Written};
pub use status::{
    ClusterStatus, ExecutorStatus, LeaseStatus, MemberStatus, Membership, NodeStatus,
};

/// How to run one voter.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// This node's id; must be a key of `peers`.
    pub id: NodeId,
    /// Every voter of the initial cluster, this one included, with the
    /// address its Raft gRPC service is reached at.
    pub peers: BTreeMap<NodeId, NodeAddr>,
    /// The admin API address this node reports in its status (informational).
    pub api_addr: String,
    /// Where sled keeps this node's log and snapshots.
    pub data_dir: PathBuf,
    /// Raft timing and compaction.
    pub tuning: Tuning,
    /// mTLS (or, when explicitly chosen, plaintext) for every connection
    /// to and from peers and agents.
    pub security: Security,
}

/// Raft timing and compaction knobs, with defaults for a LAN.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Leader heartbeat period.
    pub heartbeat: Duration,
    /// Followers start an election after a random time in this range without
    /// hearing from a leader. Several heartbeats fit in its lower bound.
    pub election_timeout: (Duration, Duration),
    /// Take a snapshot every this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept in the log behind the last snapshot, so a briefly lagging
    /// follower catches up from the log instead of a full snapshot.
    pub keep_after_snapshot: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            heartbeat: Duration::from_millis(100),
            election_timeout: (Duration::from_millis(400), Duration::from_millis(800)),
            snapshot_every: 5_000,
            keep_after_snapshot: 1_000,
        }
    }
}

impl Tuning {
    fn raft_config(&self) -> Result<openraft::Config, ConsensusError> {
        let config = openraft::Config {
            cluster_name: "cortex".to_string(),
            heartbeat_interval: self.heartbeat.as_millis() as u64,
            election_timeout_min: self.election_timeout.0.as_millis() as u64,
            election_timeout_max: self.election_timeout.1.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_after_snapshot,
            max_payload_entries: 256,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| ConsensusError::Invalid(format!("raft tuning: {e}")))
    }
}

/// How long in-flight gRPC calls get to finish when a node stops.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// A running voter. Dropping it does not stop it; call [`Node::shutdown`].
pub struct Node {
    handle: ConsensusHandle,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Opens storage, starts Raft and serves gRPC on `listener`, then forms
    /// or joins the cluster in the background.
    pub async fn start(
        options: NodeOptions,
        listener: TcpListener,
    ) -> Result<Node, ConsensusError> {
        Node::start_with_network(options, listener, NetworkFactory::new).await
    }

    /// Like [`Node::start`], with the Raft network built by `network` from the
    /// node's gRPC channels. Tests wrap the real network to inject faults.
    pub async fn start_with_network<N, F>(
        options: NodeOptions,
        listener: TcpListener,
        network: F,
    ) -> Result<Node, ConsensusError>
    where
        N: RaftNetworkFactory<TypeConfig>,
        F: FnOnce(Channels) -> N,
    {
        if !options.peers.contains_key(&options.id) {
            return Err(ConsensusError::Invalid(format!(
                "node id {} is not in the peer list",
                options.id
            )));
        }
        let config = Arc::new(options.tuning.raft_config()?);
        let server = server_builder(&options.security)?;
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            ConsensusError::Invalid(format!("data dir {}: {e}", options.data_dir.display()))
        })?;
        let (log_store, state_machine) = open_storage(&options.data_dir).await?;
        let reader = state_machine.reader();
        let channels = Channels::new(options.security.clone());
        let network = network(channels.clone());
        let raft = Raft::new(options.id, config, network, log_store, state_machine)
            .await
            .map_err(|e| ConsensusError::Stopped(e.to_string()))?;
        let recovery = recovery::RecoveryGate::load(&options.data_dir);
        let handle = ConsensusHandle::new(
            raft,
            reader,
            channels,
            options.id,
            options.api_addr.clone(),
            recovery,
        );

        let (stop, stopped) = watch::channel(false);
        let server = serve(server, handle.clone(), listener, stopped.clone());
        let formation = bootstrap::form_or_join(handle.clone(), options.peers.clone(), stopped);
        Ok(Node {
            handle,
            stop,
            tasks: vec![tokio::spawn(server), tokio::spawn(formation)],
        })
    }

    /// The handle to write and read through.
    pub fn handle(&self) -> &ConsensusHandle {
        &self.handle
    }

    /// Stops serving and shuts Raft down; storage is closed when the last
    /// handle is dropped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for mut task in self.tasks {
            // Peers keep their HTTP/2 connections open, so a graceful drain
            // could wait on them indefinitely; give in-flight calls a moment.
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        if let Err(e) = self.handle.raft().shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// The gRPC server, with TLS when configured; a configuration rustls
/// refuses is an error at start, not a server that never accepts.
fn server_builder(security: &Security) -> Result<Server, ConsensusError> {
    let builder = Server::builder().tcp_nodelay(true);
    match security {
        Security::Mtls(tls) => builder
            .tls_config(tls.server_config())
            .map_err(|e| ConsensusError::Invalid(format!("inter-node TLS: {e}"))),
        Security::Plaintext => Ok(builder),
    }
}

async fn serve(
    mut server: Server,
    handle: ConsensusHandle,
    listener: TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    let (raft, cluster) = service::services(handle.clone());
    let agents = crate::transport::agents::service(handle);
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let result = server
        .add_service(raft)
        .add_service(cluster)
        .add_service(agents)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "gRPC server stopped");
    }
}

/// Opens sled, waiting briefly if a previous incarnation of this node in the
/// same process (a restart in `cortex dev` or a test) still holds its lock.
async fn open_storage(
    dir: &std::path::Path,
) -> Result<(store::LogStore, store::StateMachineStore), ConsensusError> {
    let mut attempts = 0;
    loop {
        match store::open(dir).await {
            Err(ConsensusError::Storage(message)) if attempts < 50 && message.contains("lock") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}
