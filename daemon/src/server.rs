//! Runs one daemon. A voter binds its two listeners, starts the consensus
//! node and serves the admin API; an agent starts its runtime against the
//! voters and serves health probes. Both serve `/metrics` (see
//! `crate::metrics`), and run until told to stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use cortex_agent::metrics::WorkerMetrics;
use cortex_agent::{NodeRuntime, Telemetry};
use cortex_consensus::node::{Node, NodeOptions};
use cortex_consensus::remote::RemoteCluster;
use cortex_consensus::ConsensusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::events::EventsState;
use crate::api::{self, AppState};
use crate::auth::Access;
use crate::config::{AgentConfig, VoterConfig};
use crate::events::Observability;
use crate::metrics::{Metrics, VoterMetrics};

/// A voter serving Raft and the admin API, with its node runtime.
pub struct RunningVoter {
    node: Node,
    runtime: NodeRuntime,
    api: JoinHandle<()>,
    stop: watch::Sender<bool>,
    /// Where the admin API actually listens (resolved port 0 included).
    pub api_addr: SocketAddr,
}

impl RunningVoter {
    /// The consensus handle of this voter.
    pub fn consensus(&self) -> &ConsensusHandle {
        self.node.handle()
    }

    /// Stops the runtime (releasing leases), the API, then Raft.
    pub async fn shutdown(self) {
        self.stop_runtime().await.shutdown().await;
    }

    /// Stops the node runtime only, while Raft keeps serving: releasing
    /// leases needs a quorum, so a multi-voter process (`cortex dev`) stops
    /// every runtime before any Raft node.
    pub async fn stop_runtime(self) -> StoppingVoter {
        self.runtime.shutdown().await;
        StoppingVoter {
            node: self.node,
            api: self.api,
            stop: self.stop,
        }
    }
}

/// A voter whose runtime has stopped; Raft and the API still serve.
pub struct StoppingVoter {
    node: Node,
    api: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl StoppingVoter {
    /// Stops the API (open requests get a moment), then Raft.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(2), &mut self.api)
            .await
            .is_err()
        {
            self.api.abort();
        }
        self.node.shutdown().await;
    }
}

/// Binds the listeners and starts serving.
pub async fn start_voter(
    config: &VoterConfig,
    access: Access,
    observability: &Observability,
) -> anyhow::Result<RunningVoter> {
    let raft_listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", config.listen))?;
    let api_listener = TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("cannot listen on {} (--api-addr)", config.api_addr))?;
    let api_addr = api_listener.local_addr()?;
    let options = NodeOptions {
        id: config.node_id,
        peers: config.peers.clone(),
        api_addr: api_addr.to_string(),
        data_dir: config.data_dir.clone(),
        tuning: config.tuning.clone(),
        security: config.security.clone(),
    };
    let node = Node::start(options, raft_listener)
        .await
        .with_context(|| format!("starting node {}", config.node_id))?;
    observability.publish_replicated(node.handle());
    let mut metrics = Metrics::default();
    observability.register(metrics.registry());
    let voter_metrics = VoterMetrics::register(metrics.registry(), node.handle());
    // A voter executes attempts too when no agent does.
    let worker_metrics = WorkerMetrics::default();
    worker_metrics.register(metrics.registry());
    let router = api::router(
        AppState {
            consensus: node.handle().clone(),
            events: EventsState::new(observability.bus.clone(), observability.metrics.clone()),
        },
        access,
        &metrics.freeze(),
        &voter_metrics,
    );
    let telemetry = Telemetry {
        bus: observability.bus.clone(),
        metrics: worker_metrics,
    };
    let runtime = NodeRuntime::start(node.handle().clone(), config.runtime.clone(), telemetry);
    let (stop, mut stopped) = watch::channel(false);
    let api = tokio::spawn(async move {
        let serving = axum::serve(api_listener, router).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serving.await {
            tracing::error!(error = %e, "admin API stopped");
        }
    });
    tracing::info!(
        node_id = config.node_id,
        node = %config.runtime.node_name,
        raft = %config.listen,
        api = %api_addr,
        data_dir = %config.data_dir.display(),
        "voter started"
    );
    Ok(RunningVoter {
        node,
        runtime,
        api,
        stop,
        api_addr,
    })
}

/// An agent executing attempts for the voters, with its health probe.
pub struct RunningAgent {
    runtime: NodeRuntime,
    probes: JoinHandle<()>,
    /// Where the health probe listens.
    pub api_addr: SocketAddr,
}

impl RunningAgent {
    /// Stops the runtime (running attempts are stopped) and the probe.
    pub async fn shutdown(self) {
        self.runtime.shutdown().await;
        self.probes.abort();
    }
}

/// Binds the probe listener (`/healthz`, `/readyz`, `/metrics`) and starts
/// the agent's runtime.
pub async fn start_agent(
    config: &AgentConfig,
    observability: &Observability,
) -> anyhow::Result<RunningAgent> {
    let listener = TcpListener::bind(config.api_addr)
        .await
        .with_context(|| format!("cannot listen on {} (--api-addr)", config.api_addr))?;
    let api_addr = listener.local_addr()?;
    let voters = RemoteCluster::new(config.voters.clone(), config.security.clone())?;
    let mut metrics = Metrics::default();
    observability.register(metrics.registry());
    let worker_metrics = WorkerMetrics::default();
    worker_metrics.register(metrics.registry());
    let telemetry = Telemetry {
        bus: observability.bus.clone(),
        metrics: worker_metrics,
    };
    let runtime = NodeRuntime::start_agent(voters, config.runtime.clone(), telemetry);
    let in_touch = runtime.in_touch();
    let router = axum::Router::new()
        .route("/healthz", axum::routing::get(api::health::healthz))
        .route(
            "/readyz",
            axum::routing::get(move || api::health::agent_readyz(in_touch.clone())),
        )
        .merge(metrics.freeze().routes())
        .fallback(api::error::not_found);
    let probes = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "health probe stopped");
        }
    });
    tracing::info!(
        node = %config.runtime.node_name,
        voters = ?config.voters,
        probe = %api_addr,
        capacity = config.runtime.capacity,
        "agent started"
    );
    Ok(RunningAgent {
        runtime,
        probes,
        api_addr,
    })
}

/// Ctrl-C (SIGINT) and SIGTERM (what Kubernetes sends before a kill),
/// caught from the moment this is created: a signal that arrives while the
/// process is still starting is not lost, nor does it kill the process
/// before it can stop cleanly.
pub struct ShutdownSignal {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Starts catching the signals.
    pub fn install() -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        ShutdownSignal {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves on the first of the two signals.
    pub async fn wait(mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.interrupt) => {}
            _ = next(&mut self.terminate) => {}
        }
    }
}
