//! What a worker prints, read line by line and turned into protocol lines.
//!
//! Shared by the executors whose worker is a program printing text — the
//! `process` executor reads its stdout, `k8s-job` its pod's log — so both
//! speak exactly the same protocol (or Claude Code's `stream-json`) with the
//! same limits.

use cortex_consensus::plan::OutputFormat;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use super::stream_json::StreamJson;
use super::Events;
use crate::protocol::{parse_line, MAX_LINE_BYTES};

/// Reads lines from a stream, as lossy UTF-8 without their line ending, cut
/// at [`MAX_LINE_BYTES`] so a worker printing without newlines cannot
/// exhaust memory (the rest of such a line comes as further lines).
pub struct LineReader<R> {
    reader: R,
    buffer: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> LineReader<R> {
        LineReader {
            reader,
            buffer: Vec::new(),
        }
    }

    /// The next line; `None` at the end of the stream.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        self.buffer.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buffer)
            .await?;
        if read == 0 {
            return Ok(None);
        }
        Ok(Some(
            String::from_utf8_lossy(&self.buffer).trim_end().to_string(),
        ))
    }
}

/// Interprets a worker's printed lines in its output format.
#[derive(Debug)]
pub struct WorkerOutput {
    format: OutputFormat,
    /// Which `stream-json` messages were counted already.
    stream_json: StreamJson,
}

impl WorkerOutput {
    /// Lines in `format`.
    pub fn new(format: OutputFormat) -> WorkerOutput {
        WorkerOutput {
            format,
            stream_json: StreamJson::default(),
        }
    }

    /// Reports what `line` says.
    pub fn take(&mut self, line: &str, events: &Events) {
        match self.format {
            OutputFormat::Lines => events.send(parse_line(line)),
            OutputFormat::StreamJson => {
                for event in self.stream_json.parse(line) {
                    events.send(event);
                }
            }
        }
    }
}
