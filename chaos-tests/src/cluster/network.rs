//! Networked clusters: every voter and agent on a host of its own in a
//! [`Network`], named like the Kubernetes nodes they stand for, so a test can
//! cut the links between them while still talking to every node itself.
//!
//! Each host has its own address, so every node uses the daemon's default
//! ports (Raft 7710, admin API 7700) and no port is allocated.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{check_start, ProcessCluster};
use crate::net::Network;
use crate::ports::free_ports;

/// Where every voter serves Raft, on its host's address.
const RAFT_PORT: u16 = 7710;
/// Where every node serves the admin API, on its host's address.
const API_PORT: u16 = 7700;

/// The host voter `id` runs on in a networked cluster: `k3s-master01`, ...
pub(super) fn voter_host(id: u64) -> String {
    format!("k3s-master{id:02}")
}

impl ProcessCluster {
    /// Like [`ProcessCluster::start_with_args`], but each voter runs on a host
    /// of its own (`k3s-master01`, `k3s-master02`, ...) in a fresh
    /// [`Network`], so it can be partitioned. Needs root: fails with the
    /// reason from [`Network::available`] otherwise.
    pub fn start_networked(
        binary: &Path,
        voters: usize,
        extra_args: &[&str],
    ) -> anyhow::Result<Self> {
        check_start(binary, voters)?;
        let mut network = Network::create().context("creating the cluster's network")?;
        let mut addrs = Vec::with_capacity(voters);
        for id in 1..=voters as u64 {
            let ip = network.add_host(&voter_host(id))?;
            let (raft, api) = (SocketAddr::from((ip, RAFT_PORT)), (ip, API_PORT).into());
            addrs.push((id, raft, api));
        }
        Self::launch(binary, extra_args, &addrs, Some(network))
    }

    /// The name of voter `id`'s host in a networked cluster.
    pub fn voter_host(&self, id: u64) -> String {
        self.node(id);
        voter_host(id)
    }

    /// The address of host `name` (a voter's or an agent's).
    pub fn host_addr(&self, name: &str) -> anyhow::Result<Ipv4Addr> {
        self.network()?.addr(name)
    }

    /// Cuts every host of `side_a` off from every host of `side_b`, both
    /// ways, adding to earlier partitions. The test still reaches all nodes.
    pub fn partition(&self, side_a: &[&str], side_b: &[&str]) -> anyhow::Result<()> {
        self.network()?.partition(side_a, side_b)
    }

    /// Cuts host `name` off from every other host.
    pub fn isolate(&self, name: &str) -> anyhow::Result<()> {
        self.network()?.isolate(name)
    }

    /// Ends every partition.
    pub fn heal(&self) -> anyhow::Result<()> {
        self.network()?.heal()
    }

    /// Where agent `name` serves its API, and the namespace it runs in: a
    /// new host of that name in a networked cluster, loopback otherwise.
    pub(super) fn agent_host(
        &mut self,
        name: &str,
    ) -> anyhow::Result<(SocketAddr, Option<PathBuf>)> {
        match self.network.as_mut() {
            Some(network) => {
                let ip = network.add_host(name)?;
                Ok(((ip, API_PORT).into(), Some(network.netns_path(name)?)))
            }
            None => {
                let port = free_ports(1).context("allocating a probe port")?[0];
                Ok(((Ipv4Addr::LOCALHOST, port).into(), None))
            }
        }
    }

    fn network(&self) -> anyhow::Result<&Network> {
        self.network.as_ref().context(
            "partitions need a cluster started with ProcessCluster::start_networked \
             (this one runs on loopback)",
        )
    }
}
