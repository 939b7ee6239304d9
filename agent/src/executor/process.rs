//! The `process` executor: runs a command and turns its output into
//! protocol lines.
//!
//! The child gets its own process group, so stopping it also stops whatever
//! it started (a shell pipeline, an agent CLI and its tools). The group is
//! killed when the attempt drops this future — time limit, cancellation,
//! the end of the grace period at the token cap — and asked to finish with
//! SIGTERM when the attempt wants it to wrap up.

use std::process::Stdio;

use cortex_consensus::plan::ProcessSpec;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::output::{LineReader, WorkerOutput};
use super::{Context, Events, WrapUp};
use crate::protocol::Line;

/// Runs `spec` to its exit: `Ok` on status 0.
pub async fn run(
    spec: &ProcessSpec,
    context: &Context,
    events: &Events,
    mut wrap_up: WrapUp,
) -> Result<(), String> {
    let mut child = spawn(spec, context).map_err(|e| {
        format!(
            "cannot start {:?}: {e}",
            spec.command.first().map_or("", String::as_str)
        )
    })?;
    let group = ProcessGroup(child.id());
    let (lines_tx, mut lines) = mpsc::unbounded_channel::<(bool, String)>();
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward_lines(stdout, true, lines_tx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward_lines(stderr, false, lines_tx));
    }
    let mut output = WorkerOutput::new(spec.output);
    let mut asked_to_wrap_up = false;
    // Read until both streams close, then reap: nothing printed is lost.
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some((true, line)) => output.take(&line, events),
                Some((false, line)) => events.send(Line::Log(line)),
                None => break,
            },
            Ok(()) = async { wrap_up.wait_for(|w| *w).await.map(|_| ()) }, if !asked_to_wrap_up => {
                asked_to_wrap_up = true;
                group.signal(Signal::SIGTERM);
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for the worker: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

fn spawn(spec: &ProcessSpec, context: &Context) -> std::io::Result<Child> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut command = Command::new(program);
    // The daemon's own settings (`CORTEX_*`: its admin token, the Redis URL
    // with its password, ...) are not the worker's business; it gets its
    // own `CORTEX_*` variables below.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CORTEX_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(&spec.env)
        .envs(context.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.workdir {
        command.current_dir(dir);
    }
    command.spawn()
}

/// The child's process group, killed when the attempt lets go of it.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn signal(&self, signal: Signal) {
        if let Some(pid) = self.0 {
            let _ = killpg(Pid::from_raw(pid as i32), signal);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // After a normal exit the group is usually empty and this is a no-op;
        // stragglers the worker left behind are stopped too.
        self.signal(Signal::SIGKILL);
    }
}

/// Forwards the lines of one stream, tagged with whether it is stdout.
async fn forward_lines(
    stream: impl AsyncRead + Unpin,
    stdout: bool,
    lines: mpsc::UnboundedSender<(bool, String)>,
) {
    let mut reader = LineReader::new(BufReader::new(stream));
    while let Ok(Some(line)) = reader.next_line().await {
        if lines.send((stdout, line)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
