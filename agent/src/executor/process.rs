//! The `process` executor: runs a command and turns its output into
//! protocol lines.
//!
//! The child gets its own process group, so stopping it also stops whatever
//! it started (a shell pipeline, an agent CLI and its tools). The group is
//! killed when the attempt drops this future — time limit, cancellation,
//! the end of the grace period at the token cap — and asked to finish with
//! SIGTERM when the attempt wants it to wrap up.
//!
//! Its environment is a few harmless variables of the daemon's
//! ([`secrets::INHERITED`]), the plan's `env` (where `${env:NAME}` and
//! `${file:PATH}` values are secrets read now and redacted from what it
//! prints) and the attempt's `CORTEX_*` variables: never the daemon's own
//! credentials, nor those meant for other attempts.

use std::process::Stdio;

use cortex_consensus::plan::ProcessSpec;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::output::{LineReader, WorkerOutput};
use super::secrets::{Reference, INHERITED};
use super::{Context, Events, WrapUp};
use crate::protocol::Line;

/// Runs `spec` to its exit: `Ok` on status 0.
pub async fn run(
    spec: &ProcessSpec,
    context: &Context,
    events: &Events,
    mut wrap_up: WrapUp,
) -> Result<(), String> {
    let env = resolve_env(spec, events)?;
    let mut child = spawn(spec, env, context).map_err(|e| {
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

/// The plan's `env` with secret references replaced by their values, each
/// kept for redaction; a missing secret fails the attempt, naming it.
fn resolve_env(spec: &ProcessSpec, events: &Events) -> Result<Vec<(String, String)>, String> {
    spec.env
        .iter()
        .map(|(name, value)| match Reference::parse(value) {
            Some(reference) => {
                let secret = reference.resolve()?;
                events.redactor().keep(&secret);
                Ok((name.clone(), secret))
            }
            None => Ok((name.clone(), value.clone())),
        })
        .collect()
}

fn spawn(
    spec: &ProcessSpec,
    env: Vec<(String, String)>,
    context: &Context,
) -> std::io::Result<Child> {
    let (program, args) = spec
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut command = Command::new(program);
    // The daemon's environment (its admin token, the Redis URL with its
    // password, API keys meant for other attempts) is not the worker's.
    command.env_clear();
    for name in INHERITED {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .args(args)
        .envs(env)
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
