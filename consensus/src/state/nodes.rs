//! Nodes that execute attempts: registration, heartbeats and loss.
//!
//! A node is lost only when the state itself shows it silent for longer than
//! the timeout, counted from its last heartbeat or from the last leader
//! change, whichever is later: heartbeats cannot commit during an election,
//! so an election must not make healthy nodes look lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::ClusterTime;

/// Shortest node timeout accepted, whatever the caller asks.
pub const MIN_NODE_TIMEOUT_MS: u64 = 1_000;

/// Whether a node may receive attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Heartbeating.
    Alive,
    /// Missed heartbeats; its attempts were fenced.
    Lost,
}

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Its name (the Kubernetes node name in a cluster).
    pub name: String,
    /// Labels for placement.
    pub labels: BTreeMap<String, String>,
    /// Attempts it runs at once at most.
    pub capacity: u32,
    /// The Raft id if it is a voter.
    pub voter: Option<u64>,
    /// Liveness.
    pub status: NodeStatus,
    /// Last heartbeat.
    pub last_heartbeat: ClusterTime,
    /// Times it came back after being lost.
    pub incarnation: u64,
}

/// All nodes, and when the current leader took over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nodes {
    /// By name.
    pub by_name: BTreeMap<String, NodeRecord>,
    /// Cluster time of the first entry applied under the current leader.
    pub leader_since: ClusterTime,
}

impl Nodes {
    /// Registers a node, or updates it; a lost node comes back alive.
    pub fn register(
        &mut self,
        name: &str,
        labels: BTreeMap<String, String>,
        capacity: u32,
        voter: Option<u64>,
        now: ClusterTime,
    ) {
        let incarnation = self.by_name.get(name).map_or(0, |n| {
            n.incarnation + u64::from(n.status == NodeStatus::Lost)
        });
        self.by_name.insert(
            name.to_string(),
            NodeRecord {
                name: name.to_string(),
                labels,
                capacity,
                voter,
                status: NodeStatus::Alive,
                last_heartbeat: now,
                incarnation,
            },
        );
    }

    /// Records a heartbeat; returns false for an unknown node (it must register).
    pub fn heartbeat(&mut self, name: &str, now: ClusterTime) -> bool {
        let Some(node) = self.by_name.get_mut(name) else {
            return false;
        };
        if node.status == NodeStatus::Lost {
            node.status = NodeStatus::Alive;
            node.incarnation += 1;
        }
        node.last_heartbeat = now;
        true
    }

    /// Whether `name` has been silent for longer than `timeout_ms` as the
    /// state sees it.
    pub fn is_silent(&self, name: &str, timeout_ms: u64, now: ClusterTime) -> bool {
        let timeout = timeout_ms.max(MIN_NODE_TIMEOUT_MS);
        self.by_name.get(name).is_some_and(|n| {
            n.status == NodeStatus::Alive
                && n.last_heartbeat.max(self.leader_since).plus_millis(timeout) <= now
        })
    }

    /// Marks a node lost (the caller fences its attempts).
    pub fn mark_lost(&mut self, name: &str) {
        if let Some(node) = self.by_name.get_mut(name) {
            node.status = NodeStatus::Lost;
        }
    }

    /// Live nodes.
    pub fn alive(&self) -> impl Iterator<Item = &NodeRecord> {
        self.by_name
            .values()
            .filter(|n| n.status == NodeStatus::Alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_change_restarts_the_silence_clock() {
        let mut nodes = Nodes::default();
        nodes.register("n1", BTreeMap::new(), 4, None, ClusterTime(0));
        assert!(nodes.is_silent("n1", 5_000, ClusterTime(5_000)));
        nodes.leader_since = ClusterTime(4_000);
        assert!(!nodes.is_silent("n1", 5_000, ClusterTime(5_000)));
        assert!(nodes.is_silent("n1", 5_000, ClusterTime(9_000)));
    }

    #[test]
    fn timeouts_below_the_floor_are_raised() {
        let mut nodes = Nodes::default();
        nodes.register("n1", BTreeMap::new(), 4, None, ClusterTime(0));
        assert!(!nodes.is_silent("n1", 0, ClusterTime(999)));
    }

    #[test]
    fn a_lost_node_comes_back_with_a_new_incarnation() {
        let mut nodes = Nodes::default();
        nodes.register("n1", BTreeMap::new(), 4, None, ClusterTime(0));
        nodes.mark_lost("n1");
        assert!(nodes.heartbeat("n1", ClusterTime(10)));
        assert_eq!(nodes.by_name["n1"].incarnation, 1);
        assert!(!nodes.heartbeat("ghost", ClusterTime(10)));
    }
}
