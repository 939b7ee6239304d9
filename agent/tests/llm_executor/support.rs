//! What every case shares: the sentinel key, the spec and context of a
//! call, and the call itself with every line it emitted.

use std::time::Duration;

use cortex_agent::executor::llm::{run_with, Retry};
use cortex_agent::executor::{Context, Events};
use cortex_agent::protocol::Line;
use cortex_consensus::plan::{LlmApi, LlmSpec, TaskId};
use cortex_consensus::run::RunId;
use serde_json::Value;

/// The key every test sends: it must show up in no line and no error.
pub const KEY: &str = "sk-cortex-sentinel-7f3a9c2e";

pub fn quick() -> Retry {
    Retry {
        tries: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    }
}

/// A call of `api` at `endpoint`, its key in the variable `key_env`.
pub fn spec(api: LlmApi, endpoint: &str, key_env: Option<&str>) -> LlmSpec {
    LlmSpec {
        api,
        endpoint: endpoint.into(),
        model: "test-model".into(),
        prompt: "What is the capital of France? Answer in one sentence.".into(),
        system: Some("You are terse.".into()),
        api_key_env: key_env.map(str::to_string),
        api_key_file: None,
    }
}

pub fn context(reserved: u64) -> Context {
    Context {
        run: RunId("run".into()),
        task: TaskId("ask".into()),
        attempt: 1,
        node: "k3s-worker01".into(),
        reserved,
        timeout: Duration::from_secs(30),
        checkpoint: None,
    }
}

/// A variable named after `test` holding [`KEY`] (each test its own, as
/// tests share the process environment).
pub fn key_env(test: &str) -> String {
    let name = format!("CORTEX_TEST_LLM_KEY_{}", test.to_uppercase());
    std::env::set_var(&name, KEY);
    name
}

/// What a call returned and every line it emitted.
pub struct Outcome {
    pub result: Result<(), String>,
    pub lines: Vec<Line>,
}

impl Outcome {
    pub fn tokens(&self) -> Vec<u64> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Tokens(n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    /// The one result line, parsed.
    pub fn result(&self) -> Value {
        let results: Vec<Value> = self
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Result(r) => Some(serde_json::from_str(r).unwrap()),
                _ => None,
            })
            .collect();
        assert_eq!(results.len(), 1, "{:?}", self.lines);
        results[0].clone()
    }

    pub fn logs(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Log(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn error(&self) -> &str {
        self.result.as_ref().expect_err("the call should fail")
    }

    /// Neither a line nor the error shows [`KEY`].
    pub fn assert_no_key(&self) {
        for line in &self.lines {
            assert!(!format!("{line:?}").contains(KEY), "key in {line:?}");
        }
        if let Err(e) = &self.result {
            assert!(!e.contains(KEY), "key in the error {e:?}");
        }
    }
}

pub async fn call(spec: &LlmSpec, context: &Context) -> Outcome {
    let (events, mut receiver) = Events::channel();
    let result = run_with(spec, context, &events, &quick()).await;
    drop(events);
    let mut lines = Vec::new();
    while let Some(line) = receiver.recv().await {
        lines.push(line);
    }
    let outcome = Outcome { result, lines };
    outcome.assert_no_key();
    outcome
}
