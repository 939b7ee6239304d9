//! One `cortex` daemon process and the faults that can be done to it.
//!
//! A [`DaemonProcess`] owns its command line, its data directory and its log
//! file, so it can be killed, frozen, restarted on the same disk or restarted
//! on an empty one. Output of every run is appended to the same log file with
//! a marker line per start. Dropping it SIGKILLs and reaps the child, whether
//! it is running or stopped, so a test can never leave an orphan behind. It
//! may run inside a network namespace (see [`DaemonProcess::set_netns`]).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::net;

/// Prefix of the environment variables the daemon reads; inherited ones are
/// dropped so a developer's shell cannot change a test's configuration.
const DAEMON_ENV_PREFIX: &str = "CORTEX_";

/// A daemon process that can be started, faulted and started again.
#[derive(Debug)]
pub struct DaemonProcess {
    /// Node id, for messages.
    id: u64,
    /// The `cortex` binary.
    binary: PathBuf,
    /// Arguments of every start, so a restart is the same node.
    args: Vec<OsString>,
    /// Extra environment of every start (token, log filter).
    env: Vec<(OsString, OsString)>,
    /// Where the node keeps its state; [`DaemonProcess::wipe`] empties it.
    data_dir: PathBuf,
    /// Where stdout and stderr of every start go.
    log_path: PathBuf,
    /// The live child, if started and not yet reaped.
    child: Option<Child>,
    /// Whether the child was sent SIGSTOP and not yet SIGCONT.
    paused: bool,
    /// How many times the process was started, for log markers.
    starts: u32,
    /// How the last child ended when nobody asked it to.
    unexpected_exit: Option<ExitStatus>,
    /// The network namespace file every start enters, so the node has its
    /// own address and can be partitioned; `None` runs it in ours.
    netns: Option<PathBuf>,
}

impl DaemonProcess {
    /// Describes a daemon; nothing is started until [`DaemonProcess::start`].
    pub fn new(
        id: u64,
        binary: impl Into<PathBuf>,
        args: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
        data_dir: impl Into<PathBuf>,
        log_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            id,
            binary: binary.into(),
            args,
            env,
            data_dir: data_dir.into(),
            log_path: log_path.into(),
            child: None,
            paused: false,
            starts: 0,
            unexpected_exit: None,
            netns: None,
        }
    }

    /// Runs every later start inside the network namespace at `path`
    /// (`/run/netns/<name>`), or in the harness's own with `None`. The
    /// process is spawned directly into it, so its pid stays the daemon's
    /// own and signals still reach it.
    pub fn set_netns(&mut self, path: Option<PathBuf>) {
        self.netns = path;
    }

    /// Starts the process (again), on whatever is in the data directory.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("node {} is already running", self.id);
        }
        fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        self.starts += 1;
        let mut log = self.open_log()?;
        writeln!(
            log,
            "----- cortex-chaos: start #{} of node {} -----",
            self.starts, self.id
        )?;
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with(DAEMON_ENV_PREFIX) {
                command.env_remove(key);
            }
        }
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let spawned = match &self.netns {
            Some(path) => net::in_namespace(path, || spawn(&mut command))
                .with_context(|| format!("starting node {} in its namespace", self.id))?,
            None => spawn(&mut command),
        };
        let child = spawned
            .with_context(|| format!("spawning node {} from {}", self.id, self.binary.display()))?;
        self.child = Some(child);
        self.paused = false;
        self.unexpected_exit = None;
        Ok(())
    }

    /// SIGKILLs the process and reaps it.
    ///
    /// Fails if it was not running, including when it had exited by itself.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.poll_exit();
        if let Some(status) = self.unexpected_exit {
            bail!("node {} had already exited by itself ({status})", self.id);
        }
        let Some(mut child) = self.child.take() else {
            bail!("node {} is not running", self.id);
        };
        self.paused = false;
        reap(&mut child).with_context(|| format!("killing node {}", self.id))
    }

    /// Freezes the process with SIGSTOP: it keeps its sockets but answers
    /// nothing, like a node stuck in a long GC pause or a hung disk.
    pub fn pause(&mut self) -> anyhow::Result<()> {
        self.signal(Signal::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    /// Lets a paused process run again with SIGCONT.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        if !self.paused {
            bail!("node {} is not paused", self.id);
        }
        self.signal(Signal::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// Kills the process if it runs and empties its data directory, as if its
    /// disk had been replaced. It is not started again.
    pub fn wipe(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            self.kill()?;
        }
        self.unexpected_exit = None;
        match fs::remove_dir_all(&self.data_dir) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", self.data_dir.display()))
            }
        }
        fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("recreating {}", self.data_dir.display()))
    }

    /// Whether the process is alive (paused counts as alive).
    pub fn is_running(&mut self) -> bool {
        self.poll_exit();
        self.child.is_some()
    }

    /// Whether the process is alive and was paused with [`DaemonProcess::pause`].
    pub fn is_paused(&mut self) -> bool {
        self.is_running() && self.paused
    }

    /// How the process ended if it exited without being killed by the harness.
    pub fn unexpected_exit(&mut self) -> Option<ExitStatus> {
        self.poll_exit();
        self.unexpected_exit
    }

    /// The operating system's process id, while running.
    pub fn pid(&mut self) -> Option<u32> {
        self.poll_exit();
        self.child.as_ref().map(Child::id)
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file that collects the output of every start.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the log (empty if nothing was logged yet).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = match fs::read(&self.log_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => return format!("<cannot read {}: {error}>", self.log_path.display()),
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Reaps the child if it has exited and remembers how.
    fn poll_exit(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(Some(status)) = child.try_wait() {
            self.child = None;
            self.paused = false;
            self.unexpected_exit = Some(status);
        }
    }

    fn signal(&mut self, signal: Signal) -> anyhow::Result<()> {
        self.poll_exit();
        let Some(child) = self.child.as_ref() else {
            bail!("node {} is not running, cannot send {signal}", self.id);
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).context("pid out of range")?);
        kill(pid, signal).with_context(|| format!("sending {signal} to node {}", self.id))
    }

    fn open_log(&self) -> anyhow::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL also ends a stopped process; the wait reaps it.
            let _ = reap(&mut child);
        }
    }
}

/// Spawns `command`, retrying briefly while the binary is "text file busy":
/// a freshly written executable stays busy while a child forked by another
/// thread still holds the writer's file descriptor.
fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(error) if error.raw_os_error() == Some(Errno::ETXTBSY as i32) && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// SIGKILLs `child` and waits for it to be gone.
fn reap(child: &mut Child) -> io::Result<()> {
    if let Err(error) = child.kill() {
        // Only a child that is already gone refuses the signal.
        return match child.try_wait()? {
            Some(_) => Ok(()),
            None => Err(error),
        };
    }
    child.wait().map(drop)
}
