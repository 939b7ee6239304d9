//! Agents in a [`ProcessCluster`]: `cortex daemon --role agent` processes
//! that execute attempts for the voters, named like Kubernetes nodes. In a
//! networked cluster each agent runs on a host of that name.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::ProcessCluster;
use crate::process::DaemonProcess;

/// Agents get process ids from here up, to tell them from voters in logs.
const FIRST_AGENT_ID: u64 = 100;

impl ProcessCluster {
    /// Starts an agent named `name` that talks to every voter, appending
    /// `extra_args` (for example `["--capacity", "2"]`).
    pub fn add_agent(&mut self, name: &str, extra_args: &[&str]) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.agents.contains_key(name),
            "agent {name} exists already"
        );
        let voters = self
            .ids()
            .into_iter()
            .map(|id| format!("{id}={}", self.raft_addr(id)))
            .collect::<Vec<_>>()
            .join(",");
        let (api_addr, netns) = self.agent_host(name)?;
        let mut args: Vec<OsString> = vec!["daemon".into(), "--role".into(), "agent".into()];
        args.extend(["--voters".into(), voters.into()]);
        args.extend(["--node-name".into(), name.into()]);
        args.extend(["--api-addr".into(), api_addr.to_string().into()]);
        args.extend(["--log-format".into(), "json".into()]);
        args.extend(super::tls::security_args(&self.tls_dir, extra_args));
        args.extend(extra_args.iter().map(OsString::from));
        let env: Vec<(OsString, OsString)> = vec![(
            "RUST_LOG".into(),
            std::env::var("CORTEX_CHAOS_RUST_LOG")
                .unwrap_or_else(|_| "info".into())
                .into(),
        )];
        let id = FIRST_AGENT_ID + self.agents.len() as u64;
        let data_dir = self.dir().join(format!("agent-{name}"));
        let log_path = self.dir().join(format!("agent-{name}.log"));
        let mut process = DaemonProcess::new(id, &self.binary, args, env, data_dir, log_path);
        process.set_netns(netns);
        process.start()?;
        self.agents.insert(name.to_string(), Mutex::new(process));
        Ok(())
    }

    /// SIGKILLs agent `name` (and, with it, nothing else: its workers are in
    /// their own process groups and die when their pipes close or are
    /// killed by the agent's restart).
    pub fn kill_agent(&self, name: &str) -> anyhow::Result<()> {
        self.agent(name).kill()
    }

    /// Starts stopped agent `name` again with the same arguments.
    pub fn restart_agent(&self, name: &str) -> anyhow::Result<()> {
        self.agent(name).start()
    }

    /// Freezes agent `name` with SIGSTOP (its workers keep running).
    pub fn pause_agent(&self, name: &str) -> anyhow::Result<()> {
        self.agent(name).pause()
    }

    /// Lets paused agent `name` run again with SIGCONT.
    pub fn resume_agent(&self, name: &str) -> anyhow::Result<()> {
        self.agent(name).resume()
    }

    /// The last `lines` lines agent `name` logged.
    pub fn agent_log_tail(&self, name: &str, lines: usize) -> String {
        self.agent(name).log_tail(lines)
    }

    /// Agent `name`'s process id while it runs.
    pub fn agent_pid(&self, name: &str) -> Option<u32> {
        self.agent(name).pid()
    }

    fn agent(&self, name: &str) -> MutexGuard<'_, DaemonProcess> {
        self.agents
            .get(name)
            .unwrap_or_else(|| panic!("no agent {name} in this cluster"))
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
