//! Starts and stops everything a node runs besides Raft.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use cortex_consensus::ConsensusHandle;

use crate::options::RuntimeOptions;
use crate::{executor, heartbeat, masters};

/// The running loops of one node.
pub struct NodeRuntime {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl NodeRuntime {
    /// Starts heartbeats, the master-role loop and (unless disabled) the executor.
    pub fn start(handle: ConsensusHandle, options: RuntimeOptions) -> NodeRuntime {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(heartbeat::run(
                handle.clone(),
                options.clone(),
                stopped.clone(),
            )),
            tokio::spawn(masters::run(
                handle.clone(),
                options.clone(),
                stopped.clone(),
            )),
        ];
        if options.execute {
            tasks.push(tokio::spawn(executor::supervise(
                handle,
                options.node_name.clone(),
                stopped,
            )));
        }
        NodeRuntime { stop, tasks }
    }

    /// Stops the loops (leases are released, running attempts stopped).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
