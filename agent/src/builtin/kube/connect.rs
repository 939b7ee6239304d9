//! A Kubernetes client for a plan's [`KubeTarget`].
//!
//! * `kubeconfig` given: that file, with `context` or its current context.
//! * only `context`: `$KUBECONFIG` or `~/.kube/config`, with that context.
//! * neither: `$KUBECONFIG` / `~/.kube/config` if there is one, else the
//!   in-cluster service account (the daemon's pod).
//!
//! Connecting and reading are given time limits so an unreachable API
//! server fails the attempt with a clear message instead of waiting for the
//! attempt's own time limit.

use std::time::Duration;

use cortex_consensus::plan::KubeTarget;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Longest wait for a TCP/TLS connection to the API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one response.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for `target`, or why there cannot be one.
pub async fn client(target: &KubeTarget) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = match (&target.kubeconfig, &target.context) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {path}: {e}"))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("kubeconfig {path}: {e}"))?
        }
        (None, Some(context)) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig context {context}: {e}"))?,
        (None, None) => Config::infer().await.map_err(|e| {
            format!("no Kubernetes configuration (no kubeconfig, not in a cluster): {e}")
        })?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    let url = config.cluster_url.to_string();
    Client::try_from(config).map_err(|e| format!("Kubernetes client for {url}: {e}"))
}
