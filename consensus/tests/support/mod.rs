//! In-process clusters for tests: real nodes, real gRPC on loopback, and a
//! Raft network wrapper that can cut or delay any link between two nodes.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cortex_consensus::node::{Node, NodeOptions, Tuning};
use cortex_consensus::transport::network::{NetworkFactory, PeerClient};
use cortex_consensus::transport::tls::Security;
use cortex_consensus::transport::Channels;
use cortex_consensus::types::{NodeAddr, NodeId, TypeConfig};
use cortex_consensus::ConsensusHandle;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use tempfile::TempDir;
use tokio::net::TcpListener;

/// Which links are cut and how much latency each link adds.
#[derive(Default)]
pub struct Faults {
    cut: Mutex<BTreeSet<(NodeId, NodeId)>>,
    delay: Mutex<HashMap<(NodeId, NodeId), Duration>>,
}

impl Faults {
    /// Cuts every link between `node` and the others, both ways.
    pub fn isolate(&self, node: NodeId, others: impl IntoIterator<Item = NodeId>) {
        let mut cut = self.cut.lock().unwrap();
        for other in others {
            cut.insert((node, other));
            cut.insert((other, node));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.cut.lock().unwrap().clear();
        self.delay.lock().unwrap().clear();
    }

    /// Adds `delay` to every message from `from` to `to`.
    pub fn delay(&self, from: NodeId, to: NodeId, delay: Duration) {
        self.delay.lock().unwrap().insert((from, to), delay);
    }

    fn check(&self, from: NodeId, to: NodeId) -> Result<Duration, Unreachable> {
        if self.cut.lock().unwrap().contains(&(from, to)) {
            return Err(Unreachable::new(&std::io::Error::other("link cut by test")));
        }
        Ok(self
            .delay
            .lock()
            .unwrap()
            .get(&(from, to))
            .copied()
            .unwrap_or_default())
    }
}

/// The real network, with [`Faults`] applied before each RPC.
pub struct FaultyNetwork {
    inner: NetworkFactory,
    faults: Arc<Faults>,
    source: NodeId,
}

/// One faulty link.
pub struct FaultyClient {
    inner: PeerClient,
    faults: Arc<Faults>,
    source: NodeId,
    target: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for FaultyNetwork {
    type Network = FaultyClient;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> FaultyClient {
        FaultyClient {
            inner: self.inner.new_client(target, node).await,
            faults: self.faults.clone(),
            source: self.source,
            target,
        }
    }
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, NodeAddr, RaftError<NodeId, E>>>;

/// Runs `rpc` as if it crossed the link `from -> to`: refused while the link
/// is cut, delayed by its latency, and its answer lost if the link was cut
/// while it was in flight.
async fn through<T, E: std::error::Error>(
    faults: &Faults,
    from: NodeId,
    to: NodeId,
    rpc: impl Future<Output = RpcResult<T, E>>,
) -> RpcResult<T, E> {
    let delay = faults.check(from, to).map_err(RPCError::Unreachable)?;
    tokio::time::sleep(delay).await;
    let result = rpc.await;
    faults.check(to, from).map_err(RPCError::Unreachable)?;
    result
}

impl RaftNetwork<TypeConfig> for FaultyClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        let (faults, from, to) = (self.faults.clone(), self.source, self.target);
        through(&faults, from, to, self.inner.append_entries(rpc, option)).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let (faults, from, to) = (self.faults.clone(), self.source, self.target);
        through(&faults, from, to, self.inner.install_snapshot(rpc, option)).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        let (faults, from, to) = (self.faults.clone(), self.source, self.target);
        through(&faults, from, to, self.inner.vote(rpc, option)).await
    }
}

/// A cluster of in-process nodes on loopback.
pub struct TestCluster {
    pub faults: Arc<Faults>,
    pub peers: BTreeMap<NodeId, NodeAddr>,
    pub nodes: BTreeMap<NodeId, Node>,
    pub tuning: Tuning,
    /// How each node talks to the others; change before a restart to give
    /// a node other credentials. Nodes added later get `base_security`.
    pub security: BTreeMap<NodeId, Security>,
    base_security: Security,
    dir: TempDir,
    listeners: BTreeMap<NodeId, std::net::SocketAddr>,
}

impl TestCluster {
    /// Starts `n` voters with ids 1..=n, talking plaintext.
    pub async fn start(n: u64, tuning: Tuning) -> TestCluster {
        TestCluster::start_secured(n, tuning, Security::Plaintext).await
    }

    /// Starts `n` voters with ids 1..=n, talking as `security` says.
    pub async fn start_secured(n: u64, tuning: Tuning, security: Security) -> TestCluster {
        let dir = tempfile::tempdir().unwrap();
        let mut peers = BTreeMap::new();
        let mut listeners = BTreeMap::new();
        let mut bound = BTreeMap::new();
        for id in 1..=n {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            peers.insert(
                id,
                NodeAddr {
                    raft_addr: addr.to_string(),
                },
            );
            listeners.insert(id, addr);
            bound.insert(id, listener);
        }
        let mut cluster = TestCluster {
            faults: Arc::new(Faults::default()),
            peers,
            nodes: BTreeMap::new(),
            tuning,
            security: (1..=n).map(|id| (id, security.clone())).collect(),
            base_security: security,
            dir,
            listeners,
        };
        for (id, listener) in bound {
            cluster.launch(id, listener).await;
        }
        cluster
    }

    fn options(&self, id: NodeId) -> NodeOptions {
        NodeOptions {
            id,
            peers: self.peers.clone(),
            api_addr: format!("test-node-{id}"),
            data_dir: self.dir.path().join(format!("node-{id}")),
            tuning: self.tuning.clone(),
            security: self
                .security
                .get(&id)
                .unwrap_or(&self.base_security)
                .clone(),
        }
    }

    async fn launch(&mut self, id: NodeId, listener: TcpListener) {
        let faults = self.faults.clone();
        let node =
            Node::start_with_network(self.options(id), listener, move |channels: Channels| {
                FaultyNetwork {
                    inner: NetworkFactory::new(channels),
                    faults,
                    source: id,
                }
            })
            .await
            .unwrap();
        self.nodes.insert(id, node);
    }

    pub fn handle(&self, id: NodeId) -> ConsensusHandle {
        self.nodes[&id].handle().clone()
    }

    /// Stops a node as a crash would, keeping its data directory.
    pub async fn stop(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.remove(&id) {
            node.shutdown().await;
        }
    }

    /// Starts a node that is not running yet on an already bound listener.
    pub async fn restart_with_listener(&mut self, id: NodeId, listener: TcpListener) {
        self.listeners.insert(id, listener.local_addr().unwrap());
        self.launch(id, listener).await;
    }

    /// Starts a stopped node again on its data directory and address.
    pub async fn restart(&mut self, id: NodeId) {
        let addr = self.listeners[&id];
        let listener = wait_until(
            Duration::from_secs(10),
            "the node's port to be free again",
            || async { TcpListener::bind(addr).await.ok() },
        )
        .await;
        self.launch(id, listener).await;
    }

    /// Waits until every running node agrees on one leader, not in `excluding`.
    pub async fn wait_leader(&self, excluding: &[NodeId]) -> NodeId {
        wait_until(
            Duration::from_secs(15),
            "all running nodes to agree on a leader",
            || async {
                let mut leaders = BTreeSet::new();
                for node in self.nodes.values() {
                    leaders.insert(node.handle().raft().metrics().borrow().current_leader);
                }
                match leaders.into_iter().collect::<Vec<_>>().as_slice() {
                    [Some(leader)]
                        if !excluding.contains(leader) && self.nodes.contains_key(leader) =>
                    {
                        Some(*leader)
                    }
                    _ => None,
                }
            },
        )
        .await
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_applied(&self, id: NodeId, index: u64) {
        let handle = self.handle(id);
        wait_until(Duration::from_secs(15), "the node to catch up", || async {
            let applied = handle
                .raft()
                .metrics()
                .borrow()
                .last_applied
                .map(|l| l.index);
            (applied >= Some(index)).then_some(())
        })
        .await
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }
}

/// Polls `probe` every 20 ms until it yields a value; panics with `why` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, why: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {why}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
