//! Footprint: resident memory of the daemons and the size of the voters'
//! sled directories, read from `/proc` and the file system. The agents are
//! measured idle (registered, heartbeating, nothing to run); the voters
//! after the dispatch workload has gone through them.

use std::path::Path;

use anyhow::Context;
use cortex_chaos::ProcessCluster;

use super::dispatch::AGENTS;
use crate::results::FootprintResult;

/// One mebibyte.
const MIB: f64 = 1024.0 * 1024.0;

/// RSS of every idle agent of `cluster`, in MiB.
pub fn idle_agents(cluster: &ProcessCluster) -> anyhow::Result<Vec<f64>> {
    AGENTS
        .iter()
        .map(|agent| {
            let pid = cluster
                .agent_pid(agent)
                .with_context(|| format!("agent {agent} is not running"))?;
            rss_mib(pid)
        })
        .collect()
}

/// The footprint of `cluster`'s voters now, with the agents' idle figures
/// measured earlier (the largest is reported).
pub fn measure(cluster: &ProcessCluster, idle_agents: &[f64]) -> anyhow::Result<FootprintResult> {
    let mut voter_rss_mib = Vec::new();
    let mut sled_dir_mib = Vec::new();
    for id in cluster.ids() {
        let pid = cluster
            .pid(id)
            .with_context(|| format!("voter {id} is not running"))?;
        voter_rss_mib.push(rss_mib(pid)?);
        sled_dir_mib.push(dir_bytes(&cluster.data_dir(id))? as f64 / MIB);
    }
    Ok(FootprintResult {
        idle_agent_rss_mib: idle_agents.iter().copied().fold(0.0, f64::max),
        voter_rss_mib,
        sled_dir_mib,
    })
}

/// Resident set size of process `pid`, from `/proc/<pid>/status`.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_rss_kib(&status)
        .map(|kib| kib as f64 / 1024.0)
        .with_context(|| format!("no VmRSS line for process {pid}"))
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in KiB.
fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Bytes of every file under `dir` (what `du --apparent-size` counts).
pub fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += match meta.is_dir() {
            true => dir_bytes(&entry.path())?,
            false => meta.len(),
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_the_status_text() {
        let status = "Name:\tcortex\nVmPeak:\t 9000 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n";
        assert_eq!(parse_rss_kib(status), Some(20_480));
        assert_eq!(parse_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size_and_a_directory_has_bytes() {
        assert!(rss_mib(std::process::id()).unwrap() > 0.0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), [0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("b"), [0u8; 24]).unwrap();
        assert_eq!(dir_bytes(dir.path()).unwrap(), 1024);
    }
}
