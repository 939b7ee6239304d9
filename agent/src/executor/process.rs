//! Runs one attempt as a child process and supervises it: time limit, token
//! cap, cancellation, and the line protocol on stdout.
//!
//! The child gets its own process group so that stopping it also stops
//! whatever it started (a shell pipeline, an agent CLI and its tools).

use std::collections::{BTreeMap, VecDeque};
use std::process::Stdio;
use std::time::Duration;

use cortex_consensus::run::{AttemptReport, Handoff};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::protocol::{parse_line, Line};

/// Log lines kept per attempt (the newest), for error messages.
const KEPT_LOG_LINES: usize = 200;

/// Everything one attempt needs to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// argv.
    pub command: Vec<String>,
    /// Environment added to the daemon's.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Tokens reserved: the hard cap.
    pub reserved: u64,
    /// Time limit.
    pub timeout: Duration,
}

/// Progress the runner wants reported while the attempt runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Tokens used so far.
    pub tokens_used: u64,
    /// 0-100.
    pub percent: u8,
    /// Activity.
    pub message: Option<String>,
    /// Newest checkpoint, if it changed.
    pub checkpoint: Option<String>,
}

#[derive(Default)]
struct Tally {
    tokens: u64,
    percent: u8,
    message: Option<String>,
    result: Option<String>,
    handoffs: Vec<Handoff>,
    logs: VecDeque<String>,
}

impl Tally {
    fn log(&mut self, line: String) {
        if self.logs.len() == KEPT_LOG_LINES {
            self.logs.pop_front();
        }
        self.logs.push_back(line);
    }
}

/// Runs `job` to its end and returns the final report. Progress goes to
/// `progress`; flipping `cancel` to true stops the attempt (its report is
/// then irrelevant: the attempt was fenced).
pub async fn run(
    job: Job,
    progress: mpsc::UnboundedSender<Progress>,
    mut cancel: watch::Receiver<bool>,
) -> AttemptReport {
    let mut child = match spawn(&job) {
        Ok(child) => child,
        Err(e) => {
            return AttemptReport::Failed {
                tokens_used: 0,
                error: format!(
                    "cannot start {:?}: {e}",
                    job.command.first().unwrap_or(&String::new())
                ),
            }
        }
    };
    let (lines_tx, mut lines) = mpsc::unbounded_channel::<(bool, String)>();
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward_lines(stdout, true, lines_tx.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward_lines(stderr, false, lines_tx));
    }
    let mut tally = Tally::default();
    let deadline = tokio::time::sleep(job.timeout);
    tokio::pin!(deadline);
    let mut streams_open = true;
    let status = loop {
        tokio::select! {
            line = lines.recv(), if streams_open => match line {
                Some((true, line)) => {
                    if let Some(update) = interpret(&mut tally, &line) {
                        let _ = progress.send(update);
                    }
                    if tally.tokens >= job.reserved {
                        stop(&mut child).await;
                        return AttemptReport::BudgetExceeded {
                            tokens_used: tally.tokens,
                            partial_result: tally.result,
                        };
                    }
                }
                Some((false, line)) => tally.log(line),
                None => streams_open = false,
            },
            status = child.wait(), if !streams_open => break status,
            _ = &mut deadline => {
                stop(&mut child).await;
                return AttemptReport::TimedOut { tokens_used: tally.tokens };
            }
            Ok(()) = async { cancel.wait_for(|c| *c).await.map(|_| ()) } => {
                stop(&mut child).await;
                return AttemptReport::Failed { tokens_used: tally.tokens, error: "cancelled".into() };
            }
        }
    };
    match status {
        Ok(status) if status.success() => AttemptReport::Completed {
            tokens_used: tally.tokens,
            result: tally.result,
            handoffs: tally.handoffs,
        },
        Ok(status) => AttemptReport::Failed {
            tokens_used: tally.tokens,
            error: format!("{status}; last output: {}", last_line(&tally)),
        },
        Err(e) => AttemptReport::Failed {
            tokens_used: tally.tokens,
            error: format!("waiting for the worker: {e}"),
        },
    }
}

fn spawn(job: &Job) -> std::io::Result<Child> {
    let (program, args) = job
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&job.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &job.workdir {
        command.current_dir(dir);
    }
    command.spawn()
}

/// Kills the child's whole process group and reaps the child.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

async fn forward_lines(
    stream: impl AsyncRead + Unpin,
    stdout: bool,
    lines: mpsc::UnboundedSender<(bool, String)>,
) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buffer).trim_end().to_string();
                if lines.send((stdout, line)).is_err() {
                    return;
                }
            }
        }
    }
}

/// Applies one stdout line to the tally; returns a progress update to send.
fn interpret(tally: &mut Tally, line: &str) -> Option<Progress> {
    let mut checkpoint = None;
    match parse_line(line) {
        Line::Progress { percent, message } => {
            tally.percent = percent;
            tally.message = message;
        }
        Line::Tokens(n) => tally.tokens = tally.tokens.saturating_add(n),
        Line::Checkpoint(c) => checkpoint = Some(c),
        Line::Result(r) => {
            tally.result = Some(r);
            return None;
        }
        Line::Handoff(h) => {
            tally.handoffs.push(h);
            return None;
        }
        Line::Log(l) => {
            tally.log(l);
            return None;
        }
    }
    Some(Progress {
        tokens_used: tally.tokens,
        percent: tally.percent,
        message: tally.message.clone(),
        checkpoint,
    })
}

fn last_line(tally: &Tally) -> String {
    tally
        .logs
        .back()
        .cloned()
        .unwrap_or_else(|| "(none)".into())
}

#[cfg(test)]
mod tests;
