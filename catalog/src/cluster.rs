//! What the schema needs from the cluster, as a trait: read the locally
//! applied state, wake on change, and replicate a command. The daemon
//! passes a [`ConsensusHandle`]; tests pass an in-memory state machine.
//!
//! Reads answer from this node's applied state (a follower may trail the
//! leader by a few milliseconds, as the admin API's run reads do). A write
//! returns once this node has applied it too, so a mutation reads back what
//! it wrote wherever it was sent.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::async_trait::async_trait;
use cortex_consensus::audit::Actor;
use cortex_consensus::catalog::Catalog;
use cortex_consensus::{Command, ConsensusError, ConsensusHandle, Response, State};
use tokio::sync::watch;

/// How long a write waits for this node to apply what the leader committed.
const LOCAL_APPLY_WAIT: Duration = Duration::from_secs(5);

/// The cluster as the schema sees it.
#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// Runs `read` on the locally applied state; keep it short.
    fn read(&self, read: &mut dyn FnMut(&State));

    /// Ticks after every applied batch of entries.
    fn changes(&self) -> watch::Receiver<u64>;

    /// Replicates `command` on behalf of `actor` (so it is audited) and
    /// answers once it is applied here too.
    async fn write(&self, actor: Actor, command: Command) -> Result<Response, ConsensusError>;
}

/// A shared cluster, as stored in the schema's data.
pub type SharedCluster = Arc<dyn Cluster>;

/// A limit on how often a caller may change something, checked before each
/// mutation's write (the daemon shares it with its REST routes, so a token
/// has one budget whichever API it uses). Without one in the request's
/// data, mutations are not limited.
pub trait ChangeLimit: Send + Sync + 'static {
    /// Takes one change from `actor`'s allowance; when there is none left,
    /// how long until there is.
    fn take(&self, actor: &Actor) -> Result<(), Duration>;
}

/// A shared change limit, as put in a request's data.
pub type SharedChangeLimit = Arc<dyn ChangeLimit>;

/// Reads one value out of the applied state.
pub fn read<T>(cluster: &dyn Cluster, read: impl FnOnce(&State) -> T) -> T {
    let mut read = Some(read);
    let mut out = None;
    cluster.read(&mut |state| out = read.take().map(|read| read(state)));
    out.expect("Cluster::read calls its reader once")
}

/// The catalog as applied now: an O(1) copy, so a query does not hold the
/// state lock while it runs.
pub fn catalog(cluster: &dyn Cluster) -> Catalog {
    read(cluster, |state| state.catalog.clone())
}

#[async_trait]
impl Cluster for ConsensusHandle {
    fn read(&self, read: &mut dyn FnMut(&State)) {
        self.state().read(|machine| read(&machine.state));
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.state().changes()
    }

    async fn write(&self, actor: Actor, command: Command) -> Result<Response, ConsensusError> {
        let written = self.write_as(actor, command).await?;
        let mut applied = self.state().changes();
        let caught_up = tokio::time::timeout(
            LOCAL_APPLY_WAIT,
            applied.wait_for(|index| *index >= written.index),
        )
        .await;
        if !matches!(caught_up, Ok(Ok(_))) {
            tracing::warn!(
                index = written.index,
                "write committed but not applied here in time"
            );
        }
        Ok(written.response)
    }
}
