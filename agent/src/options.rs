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
            heartbeat: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(3),
        }
    }
}
