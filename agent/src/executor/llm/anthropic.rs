//! Anthropic's Messages API: `POST {endpoint}/v1/messages` with
//! `x-api-key` and `anthropic-version: 2023-06-01`.
//!
//! `max_tokens` is required by this API and caps the answer. Usage is every
//! input token however billed (`input_tokens`, `cache_creation_input_tokens`,
//! `cache_read_input_tokens`) plus `output_tokens`.

use cortex_consensus::plan::LlmSpec;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

use super::exchange::Exchange;
use super::key::ApiKey;
use super::{Answer, Usage};

/// The API path, appended to the endpoint.
pub(super) const PATH: &str = "/v1/messages";
/// The API version this speaks.
const VERSION: &str = "2023-06-01";

/// `anthropic-version`, and `x-api-key` if there is a key.
pub(super) fn headers(key: Option<&ApiKey>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("anthropic-version"),
        HeaderValue::from_static(VERSION),
    );
    if let Some(key) = key {
        headers.insert(HeaderName::from_static("x-api-key"), key.header("")?);
    }
    Ok(headers)
}

/// Asks the model, the answer capped at `max_tokens`.
pub(super) async fn ask(
    exchange: &Exchange<'_>,
    spec: &LlmSpec,
    max_tokens: u64,
) -> Result<Answer, String> {
    let answer = exchange
        .post(&body(spec, max_tokens))
        .await
        .map_err(|f| f.description)?;
    parse(answer)
}

/// The request: the user message, the system prompt if any, the cap.
fn body(spec: &LlmSpec, max_tokens: u64) -> Value {
    let mut body = json!({
        "model": spec.model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": spec.prompt}],
    });
    if let Some(system) = spec.system.as_deref().filter(|s| !s.is_empty()) {
        body["system"] = json!(system);
    }
    body
}

#[derive(Deserialize)]
struct Message {
    model: Option<String>,
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<MessageUsage>,
}

/// A content block; only `text` blocks make the answer (thinking and tool
/// blocks are left out).
#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct MessageUsage {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

/// The answer in a message.
pub(super) fn parse(answer: Value) -> Result<Answer, String> {
    let message: Message = serde_json::from_value(answer)
        .map_err(|e| format!("the answer is not an Anthropic message: {e}"))?;
    let text = message
        .content
        .into_iter()
        .filter(|block| block.kind == "text")
        .filter_map(|block| block.text)
        .collect::<Vec<_>>()
        .concat();
    Ok(Answer {
        text,
        model: message.model,
        stop_key: "stop_reason",
        truncated: message.stop_reason.as_deref() == Some("max_tokens"),
        stop: message.stop_reason,
        usage: message.usage.map(|u| Usage {
            input: u
                .input_tokens
                .saturating_add(u.cache_creation_input_tokens.unwrap_or(0))
                .saturating_add(u.cache_read_input_tokens.unwrap_or(0)),
            output: u.output_tokens,
        }),
    })
}
