//! A local model server for the `llm` executor's tests, on 127.0.0.1:0.
//!
//! It speaks OpenAI's `/v1/chat/completions` and Anthropic's `/v1/messages`
//! as the real services do for the fields Cortex uses: it refuses a request
//! with a wrong or missing key, a missing or invalid `max_tokens`, a wrong
//! `anthropic-version` or malformed messages with the API's own error
//! shape, and answers with a text cut at `max_tokens` (one token per word)
//! and its usage. It records every request and every usage it reported,
//! and can be told to fail the next requests in given ways.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// How the server answers a request instead of serving it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status with an error body in the API's shape, and a
    /// `retry-after` header (seconds) if given.
    Status {
        status: u16,
        retry_after: Option<u64>,
        message: String,
    },
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with a body over 8 MiB, with a `content-length` or chunked.
    Huge { chunked: bool },
    /// Waits this long before serving the request.
    Stall(Duration),
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `/v1/chat/completions` or `/v1/messages`.
    pub path: &'static str,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    /// The key requests must carry; `None`: they must carry none.
    key: Option<String>,
    faults: VecDeque<Fault>,
    requests: Vec<Request>,
    /// Total tokens (input + output) of each usage reported.
    usages: Vec<u64>,
    answer: String,
    /// Refuses `max_tokens` as OpenAI's reasoning models do.
    wants_completion_tokens: bool,
    /// Leaves usage out of answers.
    omit_usage: bool,
    /// Anthropic `cache_creation_input_tokens` reported.
    cache_tokens: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running server; it stops with the test's runtime.
pub struct ModelServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Shared,
}

impl ModelServer {
    /// Starts a server that wants `key` (or no key at all).
    pub async fn start(key: Option<&str>) -> ModelServer {
        let inner = Arc::new(Mutex::new(Inner {
            key: key.map(str::to_string),
            answer: "Paris is the capital of France".into(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ModelServer { url, inner }
    }

    /// Answers the next `times` requests with `fault`.
    pub fn fail(&self, times: usize, fault: Fault) {
        let mut inner = self.inner.lock().unwrap();
        inner.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// The model's answer from now on.
    pub fn answer(&self, text: &str) {
        self.inner.lock().unwrap().answer = text.into();
    }

    /// Refuses `max_tokens`, wanting `max_completion_tokens` (OpenAI).
    pub fn want_completion_tokens(&self) {
        self.inner.lock().unwrap().wants_completion_tokens = true;
    }

    /// Leaves usage out of answers.
    pub fn omit_usage(&self) {
        self.inner.lock().unwrap().omit_usage = true;
    }

    /// Reports this many Anthropic cache-creation input tokens.
    pub fn cache_tokens(&self, tokens: u64) {
        self.inner.lock().unwrap().cache_tokens = tokens;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The total of every usage reported so far.
    pub fn usages(&self) -> Vec<u64> {
        self.inner.lock().unwrap().usages.clone()
    }
}

/// Which API a handler speaks.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
}

async fn openai(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    serve(Api::OpenAi, inner, headers, body).await
}

async fn anthropic(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    serve(Api::Anthropic, inner, headers, body).await
}

async fn serve(api: Api, inner: Shared, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(api, 400, "invalid_request_error", "the body is not JSON");
    };
    let fault = {
        let mut inner = inner.lock().unwrap();
        let path = match api {
            Api::OpenAi => "/v1/chat/completions",
            Api::Anthropic => "/v1/messages",
        };
        inner.requests.push(Request {
            path,
            headers: headers.clone(),
            body: body.clone(),
        });
        inner.faults.pop_front()
    };
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
            message,
        }) => {
            let mut response = error(api, status, "api_error", &message);
            if let Some(seconds) = retry_after {
                response.headers_mut().insert("retry-after", seconds.into());
            }
            return response;
        }
        Some(Fault::Malformed) => return (StatusCode::OK, "{\"choices\": [oops").into_response(),
        Some(Fault::Huge { chunked: false }) => return vec![b'x'; 9 << 20].into_response(),
        Some(Fault::Huge { chunked: true }) => {
            let chunks = (0..9).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1 << 20])));
            return Body::from_stream(futures::stream::iter(chunks)).into_response();
        }
        Some(Fault::Stall(wait)) => tokio::time::sleep(wait).await,
        None => {}
    }
    let inner = &mut *inner.lock().unwrap();
    match check(api, inner, &headers, &body) {
        Ok(max_tokens) => complete(api, inner, &body, max_tokens),
        Err((status, kind, message)) => error(api, status, kind, &message),
    }
}

/// A refusal: status, error type, message.
type Refusal = (u16, &'static str, String);

/// The request's `max_tokens`, or the API's refusal.
fn check(api: Api, inner: &Inner, headers: &HeaderMap, body: &Value) -> Result<u64, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if headers
        .get("content-type")
        .is_none_or(|v| v != "application/json")
    {
        return Err((
            400,
            "invalid_request_error",
            "content-type must be application/json".into(),
        ));
    }
    let (given, wanted) = match api {
        Api::OpenAi => (
            header("authorization"),
            inner.key.as_ref().map(|k| format!("Bearer {k}")),
        ),
        Api::Anthropic => (header("x-api-key"), inner.key.clone()),
    };
    if given != wanted.as_deref() {
        // Like OpenAI's, this message quotes the key it was given (in full:
        // a careless server), which the executor must not repeat.
        let message = format!("Incorrect API key provided: {}", given.unwrap_or("none"));
        return Err((401, "authentication_error", message));
    }
    if api == Api::Anthropic && header("anthropic-version") != Some("2023-06-01") {
        return Err((
            400,
            "invalid_request_error",
            "anthropic-version: unknown or missing".into(),
        ));
    }
    let invalid = |message: &str| (400, "invalid_request_error", message.to_string());
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Err(invalid("model: Field required"));
    }
    let messages = body["messages"]
        .as_array()
        .ok_or_else(|| invalid("messages: Field required"))?;
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    let wanted_roles: &[&[&str]] = match api {
        Api::OpenAi => &[&["user"], &["system", "user"]],
        Api::Anthropic => &[&["user"]],
    };
    if !wanted_roles.contains(&roles.as_slice())
        || messages.iter().any(|m| !m["content"].is_string())
    {
        return Err(invalid("messages: unexpected roles or content"));
    }
    if api == Api::Anthropic && !(body.get("system").is_none() || body["system"].is_string()) {
        return Err(invalid("system: Input should be a valid string"));
    }
    let field = match api {
        Api::OpenAi if inner.wants_completion_tokens => {
            if body.get("max_tokens").is_some() {
                return Err(invalid(
                    "Unsupported parameter: 'max_tokens' is not supported with this model. \
                     Use 'max_completion_tokens' instead.",
                ));
            }
            "max_completion_tokens"
        }
        _ => "max_tokens",
    };
    match body[field].as_u64() {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(invalid(&format!(
            "{field}: Field required (an integer >= 1)"
        ))),
    }
}

/// The model's answer, cut at `max_tokens` words, with its usage.
fn complete(api: Api, inner: &mut Inner, body: &Value, max_tokens: u64) -> Response {
    let words = |text: &str| text.split_whitespace().count() as u64;
    let messages = body["messages"].as_array().map_or(0, Vec::len) as u64;
    let prompt: u64 = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| words(m["content"].as_str().unwrap_or_default()))
        .sum::<u64>()
        + body["system"].as_str().map_or(0, words)
        + 4 * (messages + u64::from(body["system"].is_string()));
    let all: Vec<&str> = inner.answer.split_whitespace().collect();
    let output = (all.len() as u64).min(max_tokens);
    let text = all[..output as usize].join(" ");
    let cut = output < all.len() as u64;
    let cache = if api == Api::Anthropic {
        inner.cache_tokens
    } else {
        0
    };
    let model = body["model"].clone();
    let mut answer = match api {
        Api::OpenAi => json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": if cut { "length" } else { "stop" }}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output},
        }),
        Api::Anthropic => json!({
            "id": "msg_test", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": if cut { "max_tokens" } else { "end_turn" }, "stop_sequence": null,
            "usage": {"input_tokens": prompt, "output_tokens": output,
                      "cache_creation_input_tokens": cache, "cache_read_input_tokens": 0},
        }),
    };
    if inner.omit_usage {
        answer.as_object_mut().unwrap().remove("usage");
    } else {
        inner.usages.push(prompt + output + cache);
    }
    axum::Json(answer).into_response()
}

/// An error in the API's shape.
fn error(api: Api, status: u16, kind: &str, message: &str) -> Response {
    let body = match api {
        Api::OpenAi => {
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        }
        Api::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message}}),
    };
    let status = StatusCode::from_u16(status).unwrap();
    (status, axum::Json(body)).into_response()
}
