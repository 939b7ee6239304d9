//! A three-member etcd cluster on loopback, started and owned by the
//! benchmark: free ports, data and logs in a temporary directory, etcd's
//! default durability (every commit is fsynced; no unsafe flags).
//!
//! Members can be SIGKILLed and started again on the same data directory;
//! dropping the cluster kills and reaps every member.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cortex_chaos::ports::free_ports;
use tempfile::TempDir;

use crate::systems::etcd::connect;

/// Environment variable naming another `etcd` binary.
pub const BINARY_ENV: &str = "CORTEX_BENCH_ETCD";

/// One member: its URLs, its directory and its process.
struct Member {
    name: String,
    client_url: String,
    /// The full command line, so a restart is the same member.
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// Three `etcd` processes forming one cluster.
pub struct EtcdCluster {
    binary: PathBuf,
    /// Members 0, 1 and 2 (named `m1`..`m3`). Declared before `dir` so
    /// processes die before their directory is removed.
    members: Vec<Member>,
    dir: TempDir,
}

impl EtcdCluster {
    /// Starts `size` members and waits until they agree on a leader.
    pub async fn start(size: usize) -> anyhow::Result<EtcdCluster> {
        let binary = std::env::var_os(BINARY_ENV).map_or_else(|| "etcd".into(), PathBuf::from);
        let dir = tempfile::Builder::new()
            .prefix("cortex-bench-etcd-")
            .tempdir()?;
        let ports = free_ports(2 * size)?;
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        let initial = (0..size)
            .map(|i| format!("m{}={}", i + 1, url(ports[2 * i + 1])))
            .collect::<Vec<_>>()
            .join(",");
        let members = (0..size)
            .map(|i| {
                let name = format!("m{}", i + 1);
                let (client_url, peer_url) = (url(ports[2 * i]), url(ports[2 * i + 1]));
                let data_dir = dir.path().join(format!("{name}.etcd"));
                let args = vec![
                    format!("--name={name}"),
                    format!("--data-dir={}", data_dir.display()),
                    format!("--listen-client-urls={client_url}"),
                    format!("--advertise-client-urls={client_url}"),
                    format!("--listen-peer-urls={peer_url}"),
                    format!("--initial-advertise-peer-urls={peer_url}"),
                    format!("--initial-cluster={initial}"),
                    "--initial-cluster-state=new".into(),
                    "--initial-cluster-token=cortex-bench".into(),
                    // Warnings only, as the Cortex daemons log during the
                    // benchmark, so neither pays for chatty logs.
                    "--logger=zap".into(),
                    "--log-outputs=stderr".into(),
                    "--log-level=warn".into(),
                ];
                let log = dir.path().join(format!("{name}.log"));
                Member {
                    name,
                    client_url,
                    args,
                    log,
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster {
            binary,
            members,
            dir,
        };
        for index in 0..size {
            cluster.restart(index)?;
        }
        cluster.wait_healthy(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// The client URL of every member, dead or alive.
    pub fn client_urls(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// The client URL of member `index`.
    pub fn client_url(&self, index: usize) -> String {
        self.members[index].client_url.clone()
    }

    /// Starts member `index` (again) on its data directory.
    pub fn restart(&mut self, index: usize) -> anyhow::Result<()> {
        let member = &mut self.members[index];
        anyhow::ensure!(member.child.is_none(), "{} is running", member.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&member.log)?;
        let mut command = Command::new(&self.binary);
        // An ETCD_* variable in the caller's shell would override a flag.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(key);
            }
        }
        let child = command
            .args(&member.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (install etcd-server, or set {BINARY_ENV})",
                    self.binary.display()
                )
            })?;
        member.child = Some(child);
        Ok(())
    }

    /// SIGKILLs member `index` and reaps it.
    pub fn kill(&mut self, index: usize) -> anyhow::Result<()> {
        let member = &mut self.members[index];
        let mut child = member.child.take().context("member is not running")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// The index of the member every live member names as leader.
    pub async fn leader(&mut self) -> anyhow::Result<usize> {
        let mut ids = Vec::new();
        let mut named = Vec::new();
        for index in self.live()? {
            let mut client = connect(&[self.client_url(index)]).await?;
            let status = client.status().await?;
            ids.push((status.header().context("no header")?.member_id(), index));
            named.push(status.leader());
        }
        let leader = named.first().copied().unwrap_or(0);
        if leader == 0 || named.iter().any(|&other| other != leader) {
            bail!("no agreed leader: members name {named:?}");
        }
        ids.iter()
            .find(|(id, _)| *id == leader)
            .map(|&(_, index)| index)
            .with_context(|| format!("leader {leader:x} is not a live member"))
    }

    /// Waits until every live member answers and they agree on a leader.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<usize> {
        let start = Instant::now();
        loop {
            // A member that died on its own will not become healthy.
            self.live()
                .map_err(|crash| crash.context(self.log_tails()))?;
            let why = match self.leader().await {
                Ok(leader) => return Ok(leader),
                Err(error) => error,
            };
            if start.elapsed() > timeout {
                bail!(
                    "etcd not healthy within {timeout:?}: {why:#}\n{}",
                    self.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Indexes of running members; fails if one exited by itself.
    fn live(&mut self) -> anyhow::Result<Vec<usize>> {
        let mut live = Vec::new();
        for (index, member) in self.members.iter_mut().enumerate() {
            let Some(child) = member.child.as_mut() else {
                continue;
            };
            if let Some(status) = child.try_wait()? {
                member.child = None;
                bail!("etcd {} exited ({status})", member.name);
            }
            live.push(index);
        }
        Ok(live)
    }

    fn log_tails(&self) -> String {
        let mut out = format!("logs in {}:\n", self.dir.path().display());
        for member in &self.members {
            let text = std::fs::read_to_string(&member.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {} ---\n{tail}\n", member.name));
        }
        out
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
