//! Runs one voter: binds its two listeners, starts the consensus node and
//! serves the admin API until told to stop.

use std::net::SocketAddr;

use anyhow::Context;
use cortex_consensus::node::{Node, NodeOptions};
use cortex_consensus::ConsensusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, AppState};
use crate::auth::AdminToken;
use crate::config::VoterConfig;

/// A voter serving Raft and the admin API.
pub struct RunningVoter {
    node: Node,
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

    /// Stops the API, then Raft.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.api.await;
        self.node.shutdown().await;
    }
}

/// Binds the listeners and starts serving.
pub async fn start_voter(config: &VoterConfig, token: AdminToken) -> anyhow::Result<RunningVoter> {
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
    };
    let node = Node::start(options, raft_listener)
        .await
        .with_context(|| format!("starting node {}", config.node_id))?;
    let router = api::router(
        AppState {
            consensus: node.handle().clone(),
        },
        token,
    );
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
        raft = %config.listen,
        api = %api_addr,
        data_dir = %config.data_dir.display(),
        "voter started"
    );
    Ok(RunningVoter {
        node,
        api,
        stop,
        api_addr,
    })
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends before a kill).
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
