//! How a node's runtime behaves; defaults suit a LAN.

use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of one node's runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// This node's name (the Kubernetes node name in a cluster).
    pub node_name: String,
    /// Placement labels.
    pub labels: BTreeMap<String, String>,
    /// Attempts this node runs at once.
    pub capacity: u32,
    /// Whether this node executes attempts at all.
    pub execute: bool,
    /// Namespace of the Jobs of `k8s-job` attempts whose plan names none;
    /// `None` keeps that executor off on this node (its attempts fail with a
    /// message saying how to turn it on), since it needs RBAC that a plain
    /// install does not grant.
    pub k8s_jobs_namespace: Option<String>,
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Silence after which the coordinator declares a node lost.
    pub node_timeout: Duration,
    /// Master-role lease length.
    pub lease_ttl: Duration,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            node_name: "local".into(),
            labels: BTreeMap::new(),
            capacity: 4,
            execute: true,
            k8s_jobs_namespace: None,
            heartbeat: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(3),
        }
    }
}
