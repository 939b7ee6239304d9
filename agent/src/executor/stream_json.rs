//! Claude Code's `--output-format stream-json`, read as protocol lines, so
//! `claude -p ... --output-format stream-json --verbose` can be a worker with
//! exact token accounting.
//!
//! Each line is one JSON event. An `assistant` event carries the API
//! message it belongs to, with that message's `usage`; one message with
//! several content blocks arrives as several events with the same id and
//! the same usage, so each message id is counted once. The closing `result`
//! event carries the session's totals: if they exceed what the messages
//! added up to, the difference is counted too, so nothing is missed.
//!
//! Tokens counted: `input_tokens + cache_creation_input_tokens +
//! output_tokens`. Cache reads (`cache_read_input_tokens`) re-read context
//! already paid for at a tenth of the price and are reported in the log,
//! not charged to the budget.

use std::collections::HashSet;

use serde_json::Value;

use crate::protocol::{Line, MAX_LINE_BYTES};

/// Most message ids remembered; a session has far fewer turns.
const MAX_IDS: usize = 100_000;

/// The state of one stream: which messages were counted.
#[derive(Debug, Default)]
pub struct StreamJson {
    counted: HashSet<String>,
    tokens: u64,
    cache_reads: u64,
}

impl StreamJson {
    /// Interprets one line; anything unrecognised is a log line.
    pub fn parse(&mut self, line: &str) -> Vec<Line> {
        if line.len() > MAX_LINE_BYTES {
            return vec![Line::Log(cut(line))];
        }
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(line.trim()) else {
            return vec![Line::Log(line.to_string())];
        };
        match event.get("type").and_then(Value::as_str) {
            Some("assistant") => self.assistant(&event),
            Some("result") => self.result(&event),
            Some("system") => {
                let subtype = event
                    .get("subtype")
                    .and_then(Value::as_str)
                    .unwrap_or("event");
                vec![Line::Log(format!("claude: {subtype}"))]
            }
            _ => vec![Line::Log(line.to_string())],
        }
    }

    fn assistant(&mut self, event: &serde_json::Map<String, Value>) -> Vec<Line> {
        let mut out = Vec::new();
        let Some(message) = event.get("message") else {
            return out;
        };
        if let (Some(id), Some(usage)) = (
            message.get("id").and_then(Value::as_str),
            message.get("usage"),
        ) {
            if self.counted.len() < MAX_IDS && self.counted.insert(id.to_string()) {
                let (tokens, cache_reads) = charged(usage);
                self.tokens = self.tokens.saturating_add(tokens);
                self.cache_reads = self.cache_reads.saturating_add(cache_reads);
                if tokens > 0 {
                    out.push(Line::Tokens(tokens));
                }
            }
        }
        for block in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(text) = block.get("text").and_then(Value::as_str) {
                        out.extend(text.lines().map(|l| Line::Log(l.to_string())));
                    }
                }
                Some("tool_use") => {
                    let tool = block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("a tool");
                    out.push(Line::Progress {
                        percent: 0,
                        message: Some(format!("using {tool}")),
                    });
                }
                _ => {}
            }
        }
        out
    }

    fn result(&mut self, event: &serde_json::Map<String, Value>) -> Vec<Line> {
        let mut out = Vec::new();
        if let Some(usage) = event.get("usage") {
            let (total, cache_reads) = charged(usage);
            if total > self.tokens {
                out.push(Line::Tokens(total - self.tokens));
                self.tokens = total;
            }
            self.cache_reads = self.cache_reads.max(cache_reads);
        }
        if self.cache_reads > 0 {
            out.push(Line::Log(format!(
                "claude: {} cache-read tokens (not charged)",
                self.cache_reads
            )));
        }
        let failed = event.get("is_error").and_then(Value::as_bool) == Some(true);
        match event.get("result") {
            Some(result) if !failed => out.push(Line::Result(result.to_string())),
            Some(result) => out.push(Line::Log(format!("claude failed: {result}"))),
            None => {}
        }
        out
    }

    /// Tokens charged so far.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }
}

/// (charged tokens, cache reads) of a `usage` object.
fn charged(usage: &Value) -> (u64, u64) {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let charged = count("input_tokens")
        .saturating_add(count("cache_creation_input_tokens"))
        .saturating_add(count("output_tokens"));
    (charged, count("cache_read_input_tokens"))
}

fn cut(line: &str) -> String {
    let mut end = MAX_LINE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_string()
}

#[cfg(test)]
mod tests;
