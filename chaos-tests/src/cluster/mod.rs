//! [`ProcessCluster`]: N real `cortex` daemons on loopback, in one temp dir.
//!
//! The cluster owns the layout (`node-<id>/data` and `node-<id>.log` under a
//! fresh temporary directory), the ports, the admin token and the processes.
//! Faults are applied per node; waits ask the nodes themselves over the admin
//! API and fail fast, with the node's log, when a daemon exits on its own.
//! A networked cluster (`network.rs`) puts every node on a host of its own
//! instead of loopback, so links between them can be cut.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{bail, Context};
use tempfile::TempDir;

use crate::api::{http_client, AdminClient};
use crate::net::Network;
use crate::ports::free_ports;
use crate::process::DaemonProcess;

/// Environment variable that keeps the cluster directory after the test.
const KEEP_ENV: &str = "CORTEX_CHAOS_KEEP";
/// Environment variable that overrides the daemons' `RUST_LOG` (default `info`).
const LOG_FILTER_ENV: &str = "CORTEX_CHAOS_RUST_LOG";
/// Log lines per node shown by [`ProcessCluster::dump_logs`].
const DUMP_LINES: usize = 80;

/// One member of the cluster.
struct Node {
    /// Where the node serves Raft gRPC; fixed for the node's lifetime.
    raft_addr: SocketAddr,
    /// Where the node serves the admin API; fixed for the node's lifetime.
    api_addr: SocketAddr,
    /// The process; behind a lock so faults can be injected through `&self`.
    process: Mutex<DaemonProcess>,
}

/// A cluster of real `cortex daemon` processes with node ids `1..=N`.
///
/// Methods taking a node id panic when the id is not a member: that is a bug
/// in the test, not a cluster failure. On drop every process is SIGKILLed and
/// reaped, then, if the thread is panicking, the tail of every log is printed.
pub struct ProcessCluster {
    /// Members by id. Declared before `dir` so processes die before their
    /// directory is removed.
    nodes: BTreeMap<u64, Node>,
    /// Agents (non-voting daemons) by node name; see `agents.rs`.
    agents: BTreeMap<String, Mutex<DaemonProcess>>,
    /// The hosts of a networked cluster (`None` on loopback). Declared after
    /// the processes: no namespace is deleted while a node still runs in it.
    network: Option<Network>,
    /// Shared by every [`AdminClient`] handed out.
    http: reqwest::Client,
    /// The admin bearer token every daemon was started with.
    token: String,
    /// The `cortex` binary, for agents added later.
    binary: std::path::PathBuf,
    /// The cluster's certificates (`--tls-dir` of every daemon); see `tls.rs`.
    tls_dir: std::path::PathBuf,
    /// Holds data directories and logs; removed on drop.
    dir: TempDir,
}

impl ProcessCluster {
    /// Starts `voters` daemons from `binary`, all listing each other as peers.
    ///
    /// It does not wait for them: use [`ProcessCluster::wait_ready`].
    pub fn start(binary: &Path, voters: usize) -> anyhow::Result<Self> {
        Self::start_with_args(binary, voters, &[])
    }

    /// Like [`ProcessCluster::start`], appending `extra_args` to every
    /// daemon's command line (for example `["--snapshot-every", "20"]`).
    pub fn start_with_args(
        binary: &Path,
        voters: usize,
        extra_args: &[&str],
    ) -> anyhow::Result<Self> {
        check_start(binary, voters)?;
        let ports = free_ports(2 * voters).context("allocating ports")?;
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let ids = 1..=voters as u64;
        let addrs: Vec<(u64, SocketAddr, SocketAddr)> = ids
            .zip(ports.chunks(2))
            .map(|(id, pair)| (id, loopback(pair[0]), loopback(pair[1])))
            .collect();
        Self::launch(binary, extra_args, &addrs, None)
    }

    /// Starts a daemon per `(id, raft address, api address)` of `addrs`, in
    /// its host's namespace when there is a `network`.
    fn launch(
        binary: &Path,
        extra_args: &[&str],
        addrs: &[(u64, SocketAddr, SocketAddr)],
        network: Option<Network>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("cortex-chaos-")
            .tempdir()
            .context("creating the cluster directory")?;
        let token = random_token()?;
        let tls_dir = tls::issue(&dir.path().join("tls"))?;
        let peers = addrs
            .iter()
            .map(|(id, raft, _)| format!("{id}={raft}"))
            .collect::<Vec<_>>()
            .join(",");
        let log_filter = std::env::var(LOG_FILTER_ENV).unwrap_or_else(|_| "info".into());
        let env: Vec<(OsString, OsString)> = vec![
            ("CORTEX_ADMIN_TOKEN".into(), token.clone().into()),
            ("RUST_LOG".into(), log_filter.into()),
        ];
        let mut nodes = BTreeMap::new();
        for &(id, raft_addr, api_addr) in addrs {
            let data_dir = dir.path().join(format!("node-{id}")).join("data");
            let mut args: Vec<OsString> = vec!["daemon".into(), "--node-id".into()];
            args.push(id.to_string().into());
            args.extend(["--listen".into(), raft_addr.to_string().into()]);
            args.extend(["--api-addr".into(), api_addr.to_string().into()]);
            args.extend(["--peers".into(), peers.clone().into()]);
            args.extend(["--data-dir".into(), data_dir.clone().into_os_string()]);
            args.extend(["--log-format".into(), "json".into()]);
            args.extend(tls::security_args(&tls_dir, extra_args));
            args.extend(extra_args.iter().map(OsString::from));
            let log_path = dir.path().join(format!("node-{id}.log"));
            let mut process = DaemonProcess::new(id, binary, args, env.clone(), data_dir, log_path);
            if let Some(network) = &network {
                process.set_netns(Some(network.netns_path(&voter_host(id))?));
            }
            let process = Mutex::new(process);
            nodes.insert(
                id,
                Node {
                    raft_addr,
                    api_addr,
                    process,
                },
            );
        }
        let cluster = Self {
            binary: binary.to_path_buf(),
            nodes,
            agents: BTreeMap::new(),
            network,
            http: http_client(),
            token,
            tls_dir,
            dir,
        };
        // On error `cluster` is dropped, which kills the nodes already started.
        for id in cluster.ids() {
            cluster.process(id).start()?;
        }
        Ok(cluster)
    }

    /// Every node id, ascending.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Ids of nodes that run and are not paused, so can answer requests.
    pub fn live_ids(&self) -> Vec<u64> {
        self.ids()
            .into_iter()
            .filter(|&id| {
                let mut process = self.process(id);
                process.is_running() && !process.is_paused()
            })
            .collect()
    }

    /// The directory holding every node's data directory and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin bearer token the daemons accept.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `http://IP:PORT` of node `id`'s admin API.
    pub fn api_url(&self, id: u64) -> String {
        format!("http://{}", self.node(id).api_addr)
    }

    /// Node `id`'s admin API address.
    pub fn api_addr(&self, id: u64) -> SocketAddr {
        self.node(id).api_addr
    }

    /// Node `id`'s Raft address, as given to its peers.
    pub fn raft_addr(&self, id: u64) -> SocketAddr {
        self.node(id).raft_addr
    }

    /// An authenticated admin client for node `id`.
    pub fn api(&self, id: u64) -> AdminClient {
        AdminClient::with_http(
            self.http.clone(),
            self.api_url(id),
            Some(self.token.clone()),
        )
    }

    /// SIGKILLs node `id` and reaps it. Fails if it was not running.
    pub fn kill(&self, id: u64) -> anyhow::Result<()> {
        self.process(id).kill()
    }

    /// Freezes node `id` with SIGSTOP.
    pub fn pause(&self, id: u64) -> anyhow::Result<()> {
        self.process(id).pause()
    }

    /// Lets paused node `id` run again with SIGCONT.
    pub fn resume(&self, id: u64) -> anyhow::Result<()> {
        self.process(id).resume()
    }

    /// Starts stopped node `id` again with the same arguments, ports and data
    /// directory. Fails if it is running.
    pub fn restart(&self, id: u64) -> anyhow::Result<()> {
        self.process(id).start()
    }

    /// Kills node `id` if it runs and empties its data directory; its ports are
    /// kept. Use [`ProcessCluster::restart`] to bring it back with no state.
    pub fn wipe(&self, id: u64) -> anyhow::Result<()> {
        self.process(id).wipe()
    }

    /// Node `id`'s process id while it runs (benchmarks read its memory).
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.process(id).pid()
    }

    /// Node `id`'s data directory.
    pub fn data_dir(&self, id: u64) -> std::path::PathBuf {
        self.process(id).data_dir().to_path_buf()
    }

    /// Whether node `id`'s process is alive (a paused one is).
    pub fn is_running(&self, id: u64) -> bool {
        self.process(id).is_running()
    }

    /// Whether node `id` is alive but paused.
    pub fn is_paused(&self, id: u64) -> bool {
        self.process(id).is_paused()
    }

    /// The last `lines` lines node `id` logged, over all of its starts.
    pub fn log_tail(&self, id: u64, lines: usize) -> String {
        self.process(id).log_tail(lines)
    }

    /// Prints the tail of every node's log to stderr.
    pub fn dump_logs(&self) {
        let mut out = String::new();
        for id in self.ids() {
            let process = self.process(id);
            let path = process.log_path().display().to_string();
            let tail = process.log_tail(DUMP_LINES);
            let _ = writeln!(
                out,
                "===== node {id}: last {DUMP_LINES} lines of {path} ====="
            );
            let _ = writeln!(out, "{tail}");
        }
        for (name, process) in &self.agents {
            let process = process.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(out, "===== agent {name}: last {DUMP_LINES} lines =====");
            let _ = writeln!(out, "{}", process.log_tail(DUMP_LINES));
        }
        eprintln!("{out}===== end of cortex-chaos logs =====");
    }

    /// Fails, with the node's log tail, if any daemon exited without being
    /// killed by the harness.
    pub fn check_no_crash(&self) -> anyhow::Result<()> {
        for id in self.ids() {
            let mut process = self.process(id);
            if let Some(status) = process.unexpected_exit() {
                bail!(
                    "node {id} exited by itself ({status}); its log ends with:\n{}",
                    process.log_tail(30)
                );
            }
        }
        Ok(())
    }

    fn node(&self, id: u64) -> &Node {
        self.nodes.get(&id).unwrap_or_else(|| {
            panic!(
                "node {id} is not in this cluster (members: {:?})",
                self.ids()
            )
        })
    }

    fn process(&self, id: u64) -> MutexGuard<'_, DaemonProcess> {
        self.node(id)
            .process
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        for process in self.agents.values() {
            let mut process = process.lock().unwrap_or_else(PoisonError::into_inner);
            if process.is_running() {
                let _ = process.kill();
            }
        }
        for id in self.ids() {
            let mut process = self.process(id);
            if process.is_running() {
                let _ = process.kill();
            }
        }
        if std::thread::panicking() {
            self.dump_logs();
        }
        if std::env::var_os(KEEP_ENV).is_some_and(|value| value != "0") {
            self.dir.disable_cleanup(true);
            eprintln!("cortex-chaos: kept {}", self.dir.path().display());
        }
    }
}

/// Fails when no cluster of `voters` can be started from `binary`.
fn check_start(binary: &Path, voters: usize) -> anyhow::Result<()> {
    if voters == 0 {
        bail!("a cluster needs at least one voter");
    }
    if !binary.is_file() {
        bail!("daemon binary {} does not exist", binary.display());
    }
    Ok(())
}

/// 32 hex characters from the kernel's random source: a fresh admin token per
/// cluster, so a test can never pass by accident with a default token.
fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut source| source.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

mod agents;
mod network;
mod runs;
#[cfg(test)]
mod tests;
mod tls;
mod waits;

use network::voter_host;
pub use runs::run_ended;
