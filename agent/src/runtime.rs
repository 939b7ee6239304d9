//! Starts and stops everything a node runs besides Raft.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use cortex_consensus::remote::RemoteCluster;
use cortex_consensus::ConsensusHandle;

use crate::control::{Assignments, Control};
use crate::options::RuntimeOptions;
use crate::telemetry::Telemetry;
use crate::{executor, heartbeat, lease, masters};

/// The running loops of one node.
pub struct NodeRuntime {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// What the executor hears of its assignments (none when not executing).
    assignments: Option<Assignments>,
}

/// Whether a node is in touch with the cluster: it has heard its
/// assignments and its own lease holds (a heartbeat committed recently).
#[derive(Clone)]
pub struct InTouch(Option<Assignments>);

impl InTouch {
    /// True while the node hears from the cluster (always, for a node that
    /// does not execute: it follows nothing).
    pub fn now(&self) -> bool {
        self.0.as_ref().is_none_or(|a| a.borrow().is_some())
    }
}

impl NodeRuntime {
    /// A voter's runtime: heartbeats, the master-role loop and (unless
    /// disabled) the executor.
    pub fn start(
        handle: ConsensusHandle,
        options: RuntimeOptions,
        telemetry: Telemetry,
    ) -> NodeRuntime {
        let mut runtime =
            NodeRuntime::node(Control::Local(handle.clone()), options.clone(), telemetry);
        let stopped = runtime.stop.subscribe();
        runtime
            .tasks
            .push(tokio::spawn(masters::run(handle, options, stopped)));
        runtime
    }

    /// An agent's runtime: heartbeats and the executor, through the voters.
    pub fn start_agent(
        voters: RemoteCluster,
        options: RuntimeOptions,
        telemetry: Telemetry,
    ) -> NodeRuntime {
        NodeRuntime::node(Control::Remote(voters), options, telemetry)
    }

    /// What every node runs.
    fn node(control: Control, options: RuntimeOptions, telemetry: Telemetry) -> NodeRuntime {
        let (stop, stopped) = watch::channel(false);
        let (renewed, renewals) = watch::channel(None);
        let mut tasks = vec![tokio::spawn(heartbeat::run(
            control.clone(),
            options.clone(),
            renewed,
            stopped.clone(),
        ))];
        let mut followed = None;
        if options.execute {
            let heard = control.follow(
                options.node_name.clone(),
                options.node_timeout,
                stopped.clone(),
            );
            let assignments = lease::gate(
                heard,
                renewals,
                lease::valid_for(options.node_timeout),
                stopped.clone(),
            );
            followed = Some(assignments.clone());
            let jobs = options
                .k8s_jobs_namespace
                .clone()
                .map(executor::JobSite::from_environment);
            tasks.push(tokio::spawn(executor::supervise(
                control,
                options.node_name.clone(),
                jobs,
                assignments,
                telemetry,
                stopped,
            )));
        }
        NodeRuntime {
            stop,
            tasks,
            assignments: followed,
        }
    }

    /// Whether this node is in touch with the cluster (an agent's readiness).
    pub fn in_touch(&self) -> InTouch {
        InTouch(self.assignments.clone())
    }

    /// Stops the loops (leases are released, running attempts stopped).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
