//! Following the worker's log: each line goes through the same reader and
//! protocol (or `stream-json`) as a `process` worker's stdout.
//!
//! A log stream also ends when its connection does (an API server restart,
//! a client read timeout on a quiet worker), not only when the container
//! exits; only the pod tells which. While the pod still runs the log is
//! opened again from the last line's timestamp, and the lines already read
//! are skipped, so a worker's result or token report is neither lost nor
//! counted twice. The log is asked for with timestamps for that reason; they
//! are removed before the line is read.

use std::time::Duration;

use cortex_consensus::plan::OutputFormat;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::LogParams;
use kube::Api;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use super::manifest::CONTAINER;
use super::{api_error, is_not_found};
use crate::executor::output::{LineReader, WorkerOutput};
use crate::executor::Events;

/// Pause before opening the log again while the pod still runs.
const REOPEN_PAUSE: Duration = Duration::from_secs(1);

/// Reads `pod`'s log until its container has ended, reporting each line.
pub async fn follow(
    pods: &Api<Pod>,
    pod: &str,
    format: OutputFormat,
    events: &Events,
) -> Result<(), String> {
    let mut output = WorkerOutput::new(format);
    let mut position = LogPosition::default();
    loop {
        let params = LogParams {
            container: Some(CONTAINER.into()),
            follow: true,
            timestamps: true,
            since_time: position.reopen(),
            ..LogParams::default()
        };
        let stream = match pods.log_stream(pod, &params).await {
            Ok(stream) => stream,
            // A pod that ended before its container ever ran has no log;
            // how the Job ended says why.
            Err(e) if !running(pods, pod).await? => {
                events.log(api_error(&format!("pod {pod} left no log"), e));
                return Ok(());
            }
            Err(e) => return Err(api_error(&format!("reading the log of pod {pod}"), e)),
        };
        let mut lines = LineReader::new(stream.compat());
        let broken = loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if let Some(text) = position.take(&line) {
                        output.take(text, events);
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        if !running(pods, pod).await? {
            return Ok(());
        }
        if let Some(e) = broken {
            events.log(format!("the log of pod {pod} broke off ({e}); reading on"));
        }
        tokio::time::sleep(REOPEN_PAUSE).await;
    }
}

/// Whether `pod`'s container may still print: the pod is `Running`.
async fn running(pods: &Api<Pod>, pod: &str) -> Result<bool, String> {
    match pods.get(pod).await {
        Ok(current) => Ok(current.status.and_then(|s| s.phase).as_deref() == Some("Running")),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(api_error(&format!("reading pod {pod}"), e)),
    }
}

/// Where in the log the reader is: the last timestamp read and how many
/// lines carried it, so a log opened again from that second can skip what
/// was read before.
#[derive(Debug, Default)]
pub struct LogPosition {
    last: Option<Timestamp>,
    at_last: usize,
    /// While reading a reopened log: the lines to skip up to and at this
    /// timestamp.
    replaying: Option<(Timestamp, usize)>,
}

impl LogPosition {
    /// The text of `line` if it was not read before. A line without a
    /// timestamp (the rest of a line cut for length) is always new.
    pub fn take<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        // An empty line comes as the bare timestamp (its space was trimmed).
        let (stamp, text) = line.split_once(' ').unwrap_or((line, ""));
        let Ok(stamp) = stamp.parse::<Timestamp>() else {
            return Some(line);
        };
        if let Some((until, skip)) = &mut self.replaying {
            if stamp < *until {
                return None;
            }
            if stamp == *until && *skip > 0 {
                *skip -= 1;
                return None;
            }
            self.replaying = None;
        }
        if self.last == Some(stamp) {
            self.at_last += 1;
        } else {
            self.last = Some(stamp);
            self.at_last = 1;
        }
        Some(text)
    }

    /// Where to open the log again: the whole second of the last line read
    /// (the API takes whole seconds), or from the start.
    pub fn reopen(&mut self) -> Option<Timestamp> {
        let last = self.last?;
        self.replaying = Some((last, self.at_last));
        Timestamp::from_second(last.as_second()).ok()
    }
}
