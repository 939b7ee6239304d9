//! The `llm` executor: one model call, paid for out of the attempt's
//! reservation.
//!
//! ```text
//! reservation − prompt estimate − 1 ─> max_tokens ─> POST, retried ─> answer ─> Tokens(usage), Result
//! ```
//!
//! * [`budget`]: how many tokens the answer may use, so that the call cannot
//!   take the attempt past its reservation.
//! * [`retry`]: when a failed request is sent again.
//! * `exchange`: one JSON POST with those retries, a bounded answer and the
//!   attempt's time limit; `openai` and `anthropic` speak the two APIs over
//!   it; `key` loads the API key and keeps it out of everything reported.
//!
//! Everything the executor says is a protocol [`Line`]: progress ("calling
//! model", "answer received"), log lines, exactly one `Tokens` line with the
//! usage the server reported, and the `Result`. It holds no state outside
//! its future, so the attempt may drop it at any await (time limit, fencing).

mod anthropic;
pub mod budget;
mod exchange;
mod key;
mod openai;
pub mod retry;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

use cortex_consensus::plan::{LlmApi, LlmSpec};
use cortex_consensus::run::AttemptReport;
use reqwest::redirect::Policy;
use reqwest::Url;
use serde_json::json;
use tokio::time::Instant;

use super::{Context, Events};
use crate::protocol::Line;
use exchange::Exchange;
use key::ApiKey;

pub use retry::Retry;

/// Longest wait for a TCP (and TLS) connection to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one model call with the production [`Retry`] schedule.
pub async fn run(spec: &LlmSpec, context: &Context, events: &Events) -> Result<(), String> {
    run_with(spec, context, events, &Retry::default()).await
}

/// Runs one model call, retrying failed requests as `retry` says.
pub async fn run_with(
    spec: &LlmSpec,
    context: &Context,
    events: &Events,
    retry: &Retry,
) -> Result<(), String> {
    let deadline = Instant::now() + context.timeout;
    let key = ApiKey::load(spec, &context.node).await?;
    if let Some(key) = &key {
        key.keep_out_of(events.redactor());
    }
    let prompt = budget::prompt_estimate(spec);
    let max_tokens = budget::output_allowance(context.reserved, prompt)?;
    let url = url(&spec.endpoint, api_path(spec.api))?;
    if let Some(key) = &key {
        if url.scheme() == "http" && !is_loopback(&url) {
            events.log(format!(
                "warning: the API key from {} is sent in clear text over http to {}",
                key.source(),
                url.host_str().unwrap_or_default()
            ));
        }
    }
    let headers = match spec.api {
        LlmApi::OpenAi => openai::headers(key.as_ref())?,
        LlmApi::Anthropic => anthropic::headers(key.as_ref())?,
    };
    // A redirect could carry the key to another host: API endpoints do not
    // redirect POSTs, so none is followed.
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    events.send(Line::Progress {
        percent: 10,
        message: Some("calling model".into()),
    });
    events.log(format!(
        "calling model {} at {url}: max_tokens {max_tokens} (reservation {} tokens, prompt about {prompt})",
        spec.model, context.reserved
    ));
    let exchange = Exchange {
        client,
        url,
        headers,
        deadline,
        retry,
        events,
    };
    let answer = match spec.api {
        LlmApi::OpenAi => openai::ask(&exchange, spec, max_tokens).await,
        LlmApi::Anthropic => anthropic::ask(&exchange, spec, max_tokens).await,
    };
    // Parse errors quote what the server sent.
    let redacted = |text: String| events.redactor().text(&text);
    let mut answer = answer.map_err(redacted)?;
    let used = match answer.usage {
        Some(usage) => {
            events.model_usage(&spec.model, usage.input, usage.output);
            usage.total()
        }
        None => {
            let bound = prompt + max_tokens;
            events.log(format!(
                "the server reported no usage: settling the most the call could use, {bound} tokens"
            ));
            bound
        }
    };
    events.send(Line::Tokens(used));
    if answer.truncated {
        events.log(format!(
            "the model stopped at max_tokens ({max_tokens}): the answer is partial"
        ));
    }
    events.send(Line::Progress {
        percent: 100,
        message: Some("answer received".into()),
    });
    answer.text = redacted(answer.text);
    answer.model = answer.model.map(redacted);
    answer.stop = answer.stop.map(redacted);
    events.send(Line::Result(answer.into_result(&spec.model)));
    Ok(())
}

/// What a model answered, whatever the API.
#[derive(Debug)]
struct Answer {
    /// The text of the answer (text blocks joined).
    text: String,
    /// The model that answered, as the server names it.
    model: Option<String>,
    /// The API's name for why the model stopped (`finish_reason`, `stop_reason`).
    stop_key: &'static str,
    /// Why the model stopped.
    stop: Option<String>,
    /// Whether it stopped at `max_tokens`, leaving the text partial.
    truncated: bool,
    /// Tokens used, if the server said.
    usage: Option<Usage>,
}

/// Tokens a call used, as the server counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    /// Prompt tokens, however billed (cached ones included).
    input: u64,
    /// Answer tokens (reasoning included).
    output: u64,
}

impl Usage {
    /// What the call cost the reservation.
    fn total(self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

impl Answer {
    /// The task result: a JSON object within the size a report may carry
    /// (an oversized text is cut and marked).
    fn into_result(mut self, asked_model: &str) -> String {
        let model = self.model.take().unwrap_or_else(|| asked_model.to_string());
        let usage = self.usage.map(|u| {
            json!({"input_tokens": u.input, "output_tokens": u.output, "total_tokens": u.total()})
        });
        let mut text_cut = false;
        loop {
            let result = json!({
                "text": self.text,
                "model": model,
                (self.stop_key): self.stop,
                "truncated": self.truncated,
                "text_cut": text_cut,
                "usage": usage,
            })
            .to_string();
            if result.len() <= AttemptReport::MAX_DOCUMENT_BYTES || self.text.is_empty() {
                return result;
            }
            let mut end = self.text.len() / 2;
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
            self.text.truncate(end);
            text_cut = true;
        }
    }
}

/// The path of `api`'s call, appended to the endpoint.
fn api_path(api: LlmApi) -> &'static str {
    match api {
        LlmApi::OpenAi => openai::PATH,
        LlmApi::Anthropic => anthropic::PATH,
    }
}

/// `endpoint` + `path` (which starts with `/v1/`). A trailing slash, or a
/// trailing `/v1` as many OpenAI-compatible servers document their base URL,
/// is not doubled.
fn url(endpoint: &str, path: &str) -> Result<Url, String> {
    let base = endpoint.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let url = Url::parse(&format!("{base}{path}"))
        .map_err(|e| format!("endpoint {endpoint:?} is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "endpoint {endpoint:?} uses {other}:, not http: or https:"
        )),
    }
}

/// Whether `url` points at this machine (plain http is harmless there).
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
