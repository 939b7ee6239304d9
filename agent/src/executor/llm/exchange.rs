//! One JSON POST to a model endpoint: retried per [`Retry`], bounded by the
//! attempt's time limit (each request's timeout is the time left) and by
//! size (an answer over [`MAX_ANSWER_BYTES`] is refused unread).

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Response, StatusCode, Url};
use serde_json::Value;
use tokio::time::Instant;

use super::retry::{self, Retry};
use crate::executor::Events;

/// Largest answer read; a model answer capped at a few thousand tokens is
/// far smaller, so anything bigger is a broken or hostile server.
pub(super) const MAX_ANSWER_BYTES: usize = 8 << 20;
/// Largest error body read (the rest is ignored).
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// Longest API error message quoted in an error or log line.
pub(super) const MAX_API_MESSAGE_BYTES: usize = 500;
/// How much of an unparseable answer is quoted.
const PREVIEW_BYTES: usize = 120;

/// Everything needed to send the call's requests.
pub(super) struct Exchange<'a> {
    /// No redirects followed, connect timeout set.
    pub client: reqwest::Client,
    /// Endpoint and API path.
    pub url: Url,
    /// The API's headers, the key's marked sensitive.
    pub headers: HeaderMap,
    /// The attempt's time limit: no request or wait runs past it.
    pub deadline: Instant,
    /// When to try again.
    pub retry: &'a Retry,
    /// Where retries are logged (and the key redacted from them).
    pub events: &'a Events,
}

/// Why a call failed.
#[derive(Debug)]
pub(super) struct Failure {
    /// The status of a refusal not worth retrying (a 4xx), if that ended it.
    pub refused: Option<StatusCode>,
    /// What happened, for the attempt's error, the key redacted.
    pub description: String,
}

/// How one try ended, if not with an answer.
enum Miss {
    /// Worth another try: what happened, and the wait the server asked for.
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Not worth another.
    Final(Failure),
}

impl Exchange<'_> {
    /// Posts `body` until an answer, a final refusal, the last try or the
    /// time limit; the answer as JSON.
    pub(super) async fn post(&self, body: &Value) -> Result<Value, Failure> {
        let body = body.to_string();
        let mut failed = 0;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.fail(
                    None,
                    "the attempt's time limit came before an answer".into(),
                ));
            }
            let (why, retry_after) = match self.try_once(&body, remaining).await {
                Ok(answer) => return Ok(answer),
                Err(Miss::Final(failure)) => return Err(failure),
                Err(Miss::Transient { why, retry_after }) => (why, retry_after),
            };
            failed += 1;
            if failed >= self.retry.tries {
                return Err(self.fail(None, format!("{why} (gave up after {failed} tries)")));
            }
            let wait = self.retry.delay(failed, retry_after, rand::random());
            if Instant::now() + wait >= self.deadline {
                return Err(self.fail(
                    None,
                    format!("{why} (no time left for another try within the attempt's time limit)"),
                ));
            }
            let asked = retry_after.map_or(String::new(), |d| {
                format!(" (the server asked for {} ms)", d.as_millis())
            });
            self.log(format!(
                "try {failed} of {} failed: {why}; retrying in {} ms{asked}",
                self.retry.tries,
                wait.as_millis()
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// Logs `line`, the key redacted.
    pub(super) fn log(&self, line: String) {
        self.events.log(line);
    }

    async fn try_once(&self, body: &str, remaining: Duration) -> Result<Value, Miss> {
        let sent = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(remaining)
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(Miss::Final(self.timed_out(remaining))),
            Err(e) if e.is_connect() || e.is_request() => {
                return Err(Miss::Transient {
                    why: self.redact(format!("cannot reach {}: {}", self.url, cause(e))),
                    retry_after: None,
                })
            }
            Err(e) => {
                let why = format!("request to {} failed: {}", self.url, cause(e));
                return Err(Miss::Final(self.fail(None, why)));
            }
        };
        let status = response.status();
        if status.is_success() {
            return self
                .read_answer(&mut response, remaining)
                .await
                .map_err(Miss::Final);
        }
        let retry_after = retry::retry_after(response.headers());
        let message = match read_bounded(&mut response, MAX_ERROR_BODY_BYTES).await {
            Ok((bytes, _)) => api_message(&bytes),
            Err(e) => format!("(its body could not be read: {})", cause(e)),
        };
        let reason = status
            .canonical_reason()
            .map_or(String::new(), |r| format!(" {r}"));
        let mut why = format!(
            "HTTP {}{reason} from {}: {message}",
            status.as_u16(),
            self.url
        );
        if status.is_redirection() {
            why.push_str(" (redirects are not followed: give the final URL as the endpoint)");
        }
        if retry::is_retried(status) {
            Err(Miss::Transient {
                why: self.redact(why),
                retry_after,
            })
        } else {
            Err(Miss::Final(self.fail(Some(status), why)))
        }
    }

    /// The body of a successful answer, parsed.
    async fn read_answer(
        &self,
        response: &mut Response,
        remaining: Duration,
    ) -> Result<Value, Failure> {
        let too_big = || {
            let why = format!(
                "the answer from {} is larger than {} MiB; refusing it",
                self.url,
                MAX_ANSWER_BYTES >> 20
            );
            self.fail(None, why)
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_big());
        }
        let (bytes, complete) = match read_bounded(response, MAX_ANSWER_BYTES).await {
            Ok(read) => read,
            Err(e) if e.is_timeout() => return Err(self.timed_out(remaining)),
            Err(e) => {
                let why = format!("reading the answer from {} failed: {}", self.url, cause(e));
                return Err(self.fail(None, why));
            }
        };
        if !complete {
            return Err(too_big());
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            let start =
                String::from_utf8_lossy(&bytes[..bytes.len().min(PREVIEW_BYTES)]).into_owned();
            let why = format!(
                "the answer from {} is not JSON ({e}); it starts with {start:?}",
                self.url
            );
            self.fail(None, why)
        })
    }

    fn timed_out(&self, remaining: Duration) -> Failure {
        let why = format!(
            "no answer from {} within the attempt's time limit ({} ms were left)",
            self.url,
            remaining.as_millis()
        );
        self.fail(None, why)
    }

    fn fail(&self, refused: Option<StatusCode>, description: String) -> Failure {
        Failure {
            refused,
            description: self.redact(description),
        }
    }

    fn redact(&self, text: String) -> String {
        self.events.redactor().text(&text)
    }
}

/// Reads at most `limit` bytes of the body: the bytes, and whether that was
/// all of it.
async fn read_bounded(
    response: &mut Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, false));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, true))
}

/// The API's own error message (`error.message` in both APIs), else the
/// start of the body, cut to [`MAX_API_MESSAGE_BYTES`].
pub(super) fn api_message(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        [
            v.pointer("/error/message"),
            v.get("error"),
            v.get("message"),
        ]
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
    });
    let text = match message {
        Some(message) => message.to_string(),
        None if body.is_empty() => return "(empty body)".into(),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    cut(text, MAX_API_MESSAGE_BYTES)
}

/// `text` cut to at most `max` bytes on a character boundary, marked with
/// an ellipsis if cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A transport error with its causes (without the URL, which callers name).
fn cause(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
