//! A small typed client for one daemon's admin HTTP API.
//!
//! It speaks exactly the contract tests rely on (`/healthz`, `/readyz`,
//! `/v1/cluster`, `/v1/kv/{key}`, `/v1/cluster/members`) and turns every
//! failure into an [`ApiError`] that tells a node that could not be reached
//! apart from one that answered with an error status.

mod types;

use std::fmt;
use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

pub use types::{ClusterStatus, Membership, NodeStatus, PutResponse, Readiness, Role};
use types::{ErrorBody, GetResponse};

/// Longest time one request may take; a paused (SIGSTOPped) node would
/// otherwise hold a test forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time to open a connection on loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a request to the admin API did not succeed.
#[derive(Debug)]
pub enum ApiError {
    /// No answer: connection refused or reset, or the request timed out.
    Transport(reqwest::Error),
    /// The node answered with an unexpected status.
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The `error.code` of the body, if it had one.
        code: Option<String>,
        /// The `error.message` of the body, or the raw body.
        message: String,
    },
    /// The node answered with success but a body this client cannot read.
    Decode {
        /// The HTTP status.
        status: StatusCode,
        /// The raw body.
        body: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl ApiError {
    /// The HTTP status, if the node answered at all.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Transport(_) => None,
            ApiError::Status { status, .. } | ApiError::Decode { status, .. } => Some(*status),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport(error) => write!(f, "no answer: {error}"),
            ApiError::Status {
                status,
                code,
                message,
            } => match code {
                Some(code) => write!(f, "{status} ({code}): {message}"),
                None => write!(f, "{status}: {message}"),
            },
            ApiError::Decode {
                status,
                body,
                reason,
            } => write!(f, "unreadable {status} body ({reason}): {body}"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Transport(error) => Some(error),
            _ => None,
        }
    }
}

/// Client for one node's admin API.
#[derive(Clone, Debug)]
pub struct AdminClient {
    /// Shared connection settings (no pooling, no proxy, timeouts).
    http: reqwest::Client,
    /// `http://host:port`, without a trailing slash.
    base_url: String,
    /// Bearer token for `/v1` routes; `None` sends no `Authorization` header.
    token: Option<String>,
}

impl AdminClient {
    /// A client for the API at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: impl Into<String>, token: Option<String>) -> Self {
        Self::with_http(http_client(), base_url, token)
    }

    /// Like [`AdminClient::new`], sharing an existing [`reqwest::Client`].
    pub fn with_http(
        http: reqwest::Client,
        base_url: impl Into<String>,
        token: Option<String>,
    ) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            http,
            base_url,
            token,
        }
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same client without a token, to check that `/v1` routes refuse it.
    pub fn anonymous(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    /// `GET /healthz`: succeeds when the process serves HTTP.
    pub async fn healthz(&self) -> Result<(), ApiError> {
        let (status, body) = self.send(self.http.get(self.url("/healthz"))).await?;
        expect_success(status, body).map(drop)
    }

    /// `GET /readyz`: 200 and 503 are both answers, anything else is an error.
    pub async fn readyz(&self) -> Result<Readiness, ApiError> {
        let (status, body) = self.send(self.http.get(self.url("/readyz"))).await?;
        match status {
            StatusCode::OK => Ok(Readiness { ready: true, body }),
            StatusCode::SERVICE_UNAVAILABLE => Ok(Readiness { ready: false, body }),
            _ => Err(status_error(status, &body)),
        }
    }

    /// `GET /v1/cluster`: this node's view of the cluster.
    pub async fn cluster(&self) -> Result<ClusterStatus, ApiError> {
        let (status, body) = self
            .send(self.authed(self.http.get(self.url("/v1/cluster"))))
            .await?;
        decode(status, &expect_success(status, body)?)
    }

    /// `PUT /v1/kv/{key}` with `value` as the body; returns once committed.
    pub async fn put(&self, key: &str, value: &str) -> Result<PutResponse, ApiError> {
        let request = self
            .http
            .put(self.url(&kv_path(key)))
            .body(value.to_owned());
        let (status, body) = self.send(self.authed(request)).await?;
        decode(status, &expect_success(status, body)?)
    }

    /// `GET /v1/kv/{key}`: the value, or `None` on 404.
    pub async fn get(&self, key: &str) -> Result<Option<String>, ApiError> {
        let request = self.authed(self.http.get(self.url(&kv_path(key))));
        let (status, body) = self.send(request).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = expect_success(status, body)?;
        let found: GetResponse = decode(status, &body)?;
        match found.value {
            Some(value) => Ok(Some(value)),
            None => Err(ApiError::Decode {
                status,
                body,
                reason: "no `value` field".into(),
            }),
        }
    }

    /// `POST /v1/cluster/members`: adds node `id` at `raft_addr` as a voter.
    pub async fn add_voter(&self, id: u64, raft_addr: &str) -> Result<serde_json::Value, ApiError> {
        let payload = serde_json::json!({ "id": id, "raft_addr": raft_addr });
        let request = self
            .http
            .post(self.url("/v1/cluster/members"))
            .json(&payload);
        let (status, body) = self.send(self.authed(request)).await?;
        decode_any(status, &expect_success(status, body)?)
    }

    /// `DELETE /v1/cluster/members/{id}`: removes node `id` from the cluster.
    pub async fn remove_member(&self, id: u64) -> Result<serde_json::Value, ApiError> {
        let request = self
            .http
            .delete(self.url(&format!("/v1/cluster/members/{id}")));
        let (status, body) = self.send(self.authed(request)).await?;
        decode_any(status, &expect_success(status, body)?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<(StatusCode, String), ApiError> {
        let response = request.send().await.map_err(ApiError::Transport)?;
        let status = response.status();
        let body = response.text().await.map_err(ApiError::Transport)?;
        Ok((status, body))
    }
}

/// The HTTP settings every harness client uses.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        // Nodes are killed and restarted on the same port: a pooled connection
        // to a dead process would fail the next request for no good reason.
        .pool_max_idle_per_host(0)
        // A proxy from the environment must never see loopback test traffic.
        .no_proxy()
        .build()
        .expect("building an HTTP client with static settings cannot fail")
}

/// `/v1/kv/` followed by `key`, percent-encoded as one path segment.
fn kv_path(key: &str) -> String {
    let mut path = String::from("/v1/kv/");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

fn expect_success(status: StatusCode, body: String) -> Result<String, ApiError> {
    if status.is_success() {
        Ok(body)
    } else {
        Err(status_error(status, &body))
    }
}

fn status_error(status: StatusCode, body: &str) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let (code, message) = match parsed {
        Some(ErrorBody { error }) => (error.code, error.message),
        None => (None, None),
    };
    ApiError::Status {
        status,
        code,
        message: message.unwrap_or_else(|| body.trim().to_owned()),
    }
}

fn decode<T: DeserializeOwned>(status: StatusCode, body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body).map_err(|error| ApiError::Decode {
        status,
        body: body.to_owned(),
        reason: error.to_string(),
    })
}

/// Any JSON body, or `null` for an empty one.
fn decode_any(status: StatusCode, body: &str) -> Result<serde_json::Value, ApiError> {
    if body.trim().is_empty() {
        Ok(serde_json::Value::Null)
    } else {
        decode(status, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_encoded_path_segment() {
        assert_eq!(kv_path("key-007"), "/v1/kv/key-007");
        assert_eq!(kv_path("a/b c"), "/v1/kv/a%2Fb%20c");
    }

    #[test]
    fn error_bodies_are_read_leniently() {
        let body = r#"{"error":{"code":"no_leader","message":"try again"}}"#;
        let error = status_error(StatusCode::SERVICE_UNAVAILABLE, body);
        assert_eq!(
            error.to_string(),
            "503 Service Unavailable (no_leader): try again"
        );
        let error = status_error(StatusCode::UNAUTHORIZED, "missing token\n");
        assert_eq!(error.to_string(), "401 Unauthorized: missing token");
    }
}
