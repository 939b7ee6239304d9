//! OpenAI-compatible chat completions: `POST {endpoint}/v1/chat/completions`.
//!
//! The answer's length is capped with `max_tokens`, the field every
//! OpenAI-compatible server (vLLM, llama.cpp, Ollama, LiteLLM, ...) honours;
//! a server that ignored an unknown field would not cap the answer at all.
//! OpenAI's reasoning models refuse `max_tokens` with a 400 that names
//! `max_completion_tokens` instead: the call is then sent once more with
//! that field (same value; it bounds reasoning tokens too). Usage is
//! `usage.prompt_tokens + usage.completion_tokens`.

use cortex_consensus::plan::LlmSpec;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::exchange::Exchange;
use super::key::ApiKey;
use super::{Answer, Usage};

/// The API path, appended to the endpoint.
pub(super) const PATH: &str = "/v1/chat/completions";
/// The usual cap field.
const MAX_TOKENS: &str = "max_tokens";
/// The cap field OpenAI's reasoning models want.
const MAX_COMPLETION_TOKENS: &str = "max_completion_tokens";

/// `Authorization: Bearer KEY` if there is a key.
pub(super) fn headers(key: Option<&ApiKey>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        headers.insert(AUTHORIZATION, key.header("Bearer ")?);
    }
    Ok(headers)
}

/// Asks the model, the answer capped at `max_tokens`.
pub(super) async fn ask(
    exchange: &Exchange<'_>,
    spec: &LlmSpec,
    max_tokens: u64,
) -> Result<Answer, String> {
    let answer = match exchange.post(&body(spec, MAX_TOKENS, max_tokens)).await {
        Err(failure)
            if failure.refused == Some(StatusCode::BAD_REQUEST)
                && failure.description.contains(MAX_COMPLETION_TOKENS) =>
        {
            exchange.log(format!(
                "the model refused {MAX_TOKENS}; asking again with {MAX_COMPLETION_TOKENS} {max_tokens}"
            ));
            exchange
                .post(&body(spec, MAX_COMPLETION_TOKENS, max_tokens))
                .await
        }
        other => other,
    };
    parse(answer.map_err(|f| f.description)?)
}

/// The request: system and user messages, the cap in `cap_field`.
fn body(spec: &LlmSpec, cap_field: &str, max_tokens: u64) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = spec.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": spec.prompt}));
    json!({
        "model": spec.model,
        "messages": messages,
        cap_field: max_tokens,
        "stream": false,
    })
}

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
    /// Set instead of `content` when the model declines.
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// The answer in a chat completion (its first choice).
pub(super) fn parse(answer: Value) -> Result<Answer, String> {
    let completion: Completion = serde_json::from_value(answer)
        .map_err(|e| format!("the answer is not an OpenAI chat completion: {e}"))?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or("the chat completion has no choices")?;
    let text = choice
        .message
        .and_then(|m| m.content.or(m.refusal))
        .unwrap_or_default();
    Ok(Answer {
        text,
        model: completion.model,
        stop_key: "finish_reason",
        truncated: choice.finish_reason.as_deref() == Some("length"),
        stop: choice.finish_reason,
        usage: completion.usage.map(|u| Usage {
            input: u.prompt_tokens,
            output: u.completion_tokens,
        }),
    })
}
