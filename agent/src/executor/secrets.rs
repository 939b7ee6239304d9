//! Secrets an attempt is given, and keeping them out of what it reports.
//!
//! A plan never holds a secret's value, only where to find it on the
//! executing node: an `llm` executor's `apiKeyEnv` / `apiKeyFile`, or a
//! `process` environment value written as `${env:NAME}` (a variable of the
//! daemon's environment) or `${file:/PATH}` (a file, e.g. a mounted Secret).
//! They are read when the attempt starts, passed to that attempt only, and
//! every value read is redacted from the attempt's log lines, progress,
//! results, checkpoints, assets and failure reason before any of it leaves
//! the node — so a worker that prints its key does not put it in the Raft
//! log, the events or the catalog.
//!
//! A process worker does not inherit the daemon's environment either: only
//! [`INHERITED`] variables, the plan's `env` and the `CORTEX_*` attempt
//! variables.

use std::sync::{Arc, Mutex};

use cortex_consensus::plan::ExecutorSpec;

use crate::protocol::Line;

/// What replaces a secret's value.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not redacted: replacing every `abc` in the
/// output would hide more than it protects (and no real key is that short).
const MIN_REDACTED_LEN: usize = 6;

/// The daemon's variables a process worker inherits: what programs need to
/// run, nothing that could hold a credential.
pub const INHERITED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR", "TERM",
];

/// A reference to a secret in a process environment value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference<'a> {
    /// `${env:NAME}`: the daemon's variable NAME.
    Env(&'a str),
    /// `${file:/PATH}`: the content of a file, without a trailing newline.
    File(&'a str),
}

impl<'a> Reference<'a> {
    /// The reference a whole value spells, if it is one.
    pub fn parse(value: &'a str) -> Option<Reference<'a>> {
        let inner = value.strip_prefix("${")?.strip_suffix('}')?;
        if let Some(name) = inner.strip_prefix("env:") {
            return Some(Reference::Env(name));
        }
        inner.strip_prefix("file:").map(Reference::File)
    }

    /// The secret's value on this node, or why it cannot be had (the
    /// message names the reference, never a value).
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            Reference::Env(name) => std::env::var(name).map_err(|_| {
                format!("the daemon has no environment variable {name} (${{env:{name}}})")
            }),
            Reference::File(path) => std::fs::read_to_string(path)
                .map(|text| text.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("cannot read {path} (${{file:{path}}}): {e}")),
        }
    }
}

/// The secret values of one attempt, shared by its executor (which adds
/// them as it reads them) and the [`crate::executor::Events`] that report.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    values: Arc<Mutex<Vec<String>>>,
}

impl Redactor {
    /// Redacts `value` from everything reported from now on.
    pub fn keep(&self, value: &str) {
        if value.len() < MIN_REDACTED_LEN {
            return;
        }
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        // JSON text (results, assets) and Debug output (error messages)
        // carry the value escaped.
        let unquote = |text: String| text[1..text.len() - 1].to_string();
        let json = unquote(serde_json::Value::from(value).to_string());
        let debug = unquote(format!("{value:?}"));
        for form in [value.to_string(), json, debug] {
            if !values.contains(&form) {
                values.push(form);
            }
        }
        // Longest first, so a value containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every kept value replaced by [`REDACTED`].
    pub fn text(&self, text: &str) -> String {
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = text.to_string();
        for value in values.iter() {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), REDACTED);
            }
        }
        text
    }

    /// `line` with every kept value redacted from its text.
    pub fn line(&self, line: Line) -> Line {
        if self.is_empty() {
            return line;
        }
        match line {
            Line::Progress { percent, message } => Line::Progress {
                percent,
                message: message.map(|m| self.text(&m)),
            },
            Line::Tokens(tokens) => Line::Tokens(tokens),
            Line::Checkpoint(json) => Line::Checkpoint(self.text(&json)),
            Line::Result(json) => Line::Result(self.text(&json)),
            Line::Asset(json) => Line::Asset(self.text(&json)),
            Line::Log(text) => Line::Log(self.text(&text)),
            Line::Handoff(mut handoff) => {
                if let ExecutorSpec::Process(process) = &mut handoff.executor {
                    for arg in &mut process.command {
                        *arg = self.text(arg);
                    }
                    for value in process.env.values_mut() {
                        *value = self.text(value);
                    }
                }
                handoff.description = handoff.description.map(|d| self.text(&d));
                Line::Handoff(handoff)
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_whole_values_only() {
        assert_eq!(Reference::parse("${env:KEY}"), Some(Reference::Env("KEY")));
        assert_eq!(
            Reference::parse("${file:/run/secrets/key}"),
            Some(Reference::File("/run/secrets/key"))
        );
        for literal in ["KEY", "x${env:KEY}", "${env:KEY}x", "${other:KEY}", "$KEY"] {
            assert_eq!(Reference::parse(literal), None, "{literal}");
        }
    }

    #[test]
    fn missing_secrets_are_named_without_values() {
        let error = Reference::Env("CORTEX_TEST_SURELY_UNSET")
            .resolve()
            .unwrap_err();
        assert!(error.contains("CORTEX_TEST_SURELY_UNSET"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-file-secret-123\n").unwrap();
        let path = path.to_str().unwrap().to_string();
        assert_eq!(
            Reference::File(&path).resolve().unwrap(),
            "sk-file-secret-123"
        );
    }

    #[test]
    fn every_kept_value_is_redacted_from_every_kind_of_line() {
        let redactor = Redactor::default();
        redactor.keep("sk-live-0123456789");
        redactor.keep("pa\"ss\\word-42");
        redactor.keep("abc"); // too short to redact
        let lines = [
            Line::Log("key=sk-live-0123456789 done".into()),
            Line::Progress {
                percent: 5,
                message: Some("using sk-live-0123456789".into()),
            },
            Line::Result(r#"{"echo":"pa\"ss\\word-42"}"#.into()),
            Line::Asset(r#"{"id":"x","metadata":{"k":"sk-live-0123456789"}}"#.into()),
            Line::Checkpoint(r#"{"k":"sk-live-0123456789"}"#.into()),
        ];
        for line in lines {
            let text = format!("{:?}", redactor.line(line));
            assert!(!text.contains("sk-live"), "{text}");
            assert!(!text.contains("word-42"), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
        assert_eq!(redactor.text("abc"), "abc");
    }
}
