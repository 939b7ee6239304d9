//! The worker line protocol: what a `process` worker prints on stdout.
//!
//! One JSON object per line, each recognised by its key:
//!
//! | line | meaning |
//! |---|---|
//! | `{"progress": 40, "message": "scanning"}` | percent done and what it is doing |
//! | `{"tokens": {"input": 120, "output": 30}}` | tokens used since the last such line (added up) |
//! | `{"checkpoint": {...}}` | state to resume from; handed to the next attempt in `CORTEX_CHECKPOINT` |
//! | `{"result": {...}}` | the task's result |
//! | `{"handoff": {"id", "master", "worker", "command": [...], "budget"?, "description"?}}` | work for another master |
//! | `{"asset": {"id", "name", "type", ...}}` | a catalog asset discovered (see `docs/worker-protocol.md`) |
//!
//! Any other line (plain text, other JSON, junk) is a log line: a worker
//! printing garbage never fails its attempt or the daemon.

use cortex_consensus::plan::{ExecutorSpec, MasterRole, WorkerType};
use cortex_consensus::run::Handoff;
use serde::Deserialize;
use serde_json::Value;

/// Longest line interpreted; longer lines are kept as (truncated) logs.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What one stdout line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Progress report.
    Progress {
        /// 0-100.
        percent: u8,
        /// What the worker is doing.
        message: Option<String>,
    },
    /// Tokens used since the previous `tokens` line.
    Tokens(u64),
    /// A checkpoint (JSON text).
    Checkpoint(String),
    /// The result (JSON text).
    Result(String),
    /// Work handed to another master.
    Handoff(Handoff),
    /// A catalog asset (JSON object text), checked when it is written.
    Asset(String),
    /// Anything else.
    Log(String),
}

#[derive(Deserialize)]
struct HandoffLine {
    id: String,
    master: MasterRole,
    worker: WorkerType,
    command: Vec<String>,
    budget: Option<u64>,
    description: Option<String>,
}

/// Interprets one line of worker output.
pub fn parse_line(line: &str) -> Line {
    if line.len() > MAX_LINE_BYTES {
        let mut end = MAX_LINE_BYTES;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        return Line::Log(line[..end].to_string());
    }
    let trimmed = line.trim();
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(trimmed) else {
        return Line::Log(line.to_string());
    };
    if let Some(percent) = object.get("progress").and_then(Value::as_f64) {
        let message = object
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string);
        return Line::Progress {
            percent: percent.clamp(0.0, 100.0) as u8,
            message,
        };
    }
    if let Some(tokens) = object.get("tokens") {
        let count = |key: &str| tokens.get(key).and_then(Value::as_u64).unwrap_or(0);
        let total = tokens
            .as_u64()
            .unwrap_or_else(|| count("input").saturating_add(count("output")));
        return Line::Tokens(total);
    }
    if let Some(checkpoint) = object.get("checkpoint") {
        return Line::Checkpoint(checkpoint.to_string());
    }
    if let Some(result) = object.get("result") {
        return Line::Result(result.to_string());
    }
    if let Some(asset @ Value::Object(_)) = object.get("asset") {
        return Line::Asset(asset.to_string());
    }
    if let Some(handoff) = object.get("handoff") {
        if let Ok(h) = serde_json::from_value::<HandoffLine>(handoff.clone()) {
            if !h.command.is_empty() {
                return Line::Handoff(Handoff {
                    id: h.id,
                    master: h.master,
                    worker: h.worker,
                    executor: ExecutorSpec::command(h.command),
                    budget: h.budget,
                    description: h.description,
                });
            }
        }
    }
    Line::Log(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_kind_of_line() {
        assert_eq!(
            parse_line(r#"{"progress": 40, "message": "scanning"}"#),
            Line::Progress {
                percent: 40,
                message: Some("scanning".into())
            }
        );
        assert_eq!(
            parse_line(r#"{"tokens": {"input": 120, "output": 30}}"#),
            Line::Tokens(150)
        );
        assert_eq!(parse_line(r#"{"tokens": 7}"#), Line::Tokens(7));
        assert_eq!(
            parse_line(r#"{"checkpoint": {"page": 3}}"#),
            Line::Checkpoint(r#"{"page":3}"#.into())
        );
        assert_eq!(
            parse_line(r#"{"result": [1,2]}"#),
            Line::Result("[1,2]".into())
        );
        let handoff = parse_line(
            r#"{"handoff": {"id": "fix", "master": "development", "worker": "fix", "command": ["true"]}}"#,
        );
        assert!(matches!(handoff, Line::Handoff(h) if h.master == MasterRole::Development));
        assert_eq!(
            parse_line(r#"{"asset": {"id": "r", "name": "r", "type": "repository"}}"#),
            Line::Asset(r#"{"id":"r","name":"r","type":"repository"}"#.into())
        );
    }

    #[test]
    fn junk_is_a_log_line() {
        for junk in [
            "",
            "hello",
            "{",
            "[1,2]",
            "null",
            r#"{"progress": "lots"}"#,
            "\u{0}\u{ff}",
            r#"{"handoff": {"id": 1}}"#,
            r#"{"asset": "x"}"#,
        ] {
            assert!(matches!(parse_line(junk), Line::Log(_)), "{junk:?}");
        }
        assert_eq!(
            parse_line(r#"{"progress": 250}"#),
            Line::Progress {
                percent: 100,
                message: None
            }
        );
        let long = "é".repeat(MAX_LINE_BYTES);
        assert!(matches!(parse_line(&long), Line::Log(l) if l.len() <= MAX_LINE_BYTES));
    }

    proptest::proptest! {
        // Fuzzing: a worker printing anything never panics the parser, and
        // what it keeps of a line is bounded. Longer runs: PROPTEST_CASES.
        #[test]
        fn any_line_parses_to_something_bounded(line in proptest::prelude::any::<String>()) {
            bounded(parse_line(&line));
        }

        #[test]
        fn protocol_shaped_lines_never_panic(
            key in "(progress|message|tokens|input|output|checkpoint|result|handoff|asset|id|master|worker|command|budget)",
            value in r#"(-?[0-9]{1,25}(\.[0-9]{1,5})?(e[0-9]{1,3})?|"[a-z]{0,8}"|null|true|\[\]|\{\}|\[1,"a"\]|\{"input":-1\})"#,
        ) {
            bounded(parse_line(&format!("{{\"{key}\": {value}}}")));
            bounded(parse_line(&format!("{{\"{key}\": {{\"{key}\": {value}}}}}")));
        }
    }

    fn bounded(line: Line) {
        if let Line::Log(text) | Line::Checkpoint(text) | Line::Result(text) | Line::Asset(text) =
            line
        {
            assert!(text.len() <= MAX_LINE_BYTES);
        }
    }
}
