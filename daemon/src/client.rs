//! The CLI side of the admin API: finds the token, calls a daemon, and turns
//! error answers into one readable line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};
use cortex_consensus::node::ClusterStatus;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::auth::AdminToken;
use crate::cli::ApiArgs;

/// The token file `cortex dev` writes, used when nothing else is given.
const DEV_TOKEN_FILE: &str = ".cortex-dev/admin-token";

/// An authenticated admin API client.
pub struct ApiClient {
    base: String,
    token: AdminToken,
    http: reqwest::Client,
    /// For event streams: no overall deadline, but a silent connection
    /// (the server sends a keep-alive every 15 s) counts as dead.
    streams: reqwest::Client,
}

impl ApiClient {
    /// Builds a client: token from `CORTEX_ADMIN_TOKEN`, `--token-file`, or
    /// the dev cluster's file.
    pub fn from_args(args: &ApiArgs) -> anyhow::Result<ApiClient> {
        let token = if let Ok(value) = std::env::var("CORTEX_ADMIN_TOKEN") {
            AdminToken::from_env_value(&value)?
        } else {
            let path = args
                .token_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEV_TOKEN_FILE));
            AdminToken::read(&path).map_err(|e| {
                anyhow!(
                    "{e}; set CORTEX_ADMIN_TOKEN or --token-file (is `cortex dev` running here?)"
                )
            })?
        };
        ApiClient::new(&args.api, token)
    }

    /// A client for the API at `base` with `token`.
    pub fn new(base: &str, token: AdminToken) -> anyhow::Result<ApiClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let streams = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(45))
            .build()
            .context("building the HTTP client")?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
            streams,
        })
    }

    /// Opens the event stream at `path`, resuming after `last_event_id`.
    /// An error answer comes back as [`ApiFailure`].
    pub async fn open_stream(
        &self,
        path: &str,
        last_event_id: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .streams
            .get(&url)
            .bearer_auth(self.token.expose())
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Err(ApiFailure { status, body }.into())
    }

    /// Sends a request and returns the JSON answer, or the API's error as text.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.token.expose());
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Text(text)) => request.body(text),
            None => request,
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        Err(ApiFailure {
            status,
            body: value,
        }
        .into())
    }

    /// `GET /v1/cluster`.
    pub async fn cluster_status(&self) -> anyhow::Result<ClusterStatus> {
        let value = self.send(Method::GET, "/v1/cluster", None).await?;
        serde_json::from_value(value).context("unexpected /v1/cluster answer")
    }
}

/// A request body.
pub enum Body {
    /// JSON.
    Json(Value),
    /// Plain text.
    Text(String),
}

/// An error answer, kept whole so a command can show its `details` (the
/// problems of an invalid plan); it displays as one line.
#[derive(Debug)]
pub struct ApiFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// The answer: `{"error": {"code", "message", "details"}}`.
    pub body: Value,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe_error(self.status, &self.body))
    }
}

impl std::error::Error for ApiFailure {}

fn describe_error(status: StatusCode, body: &Value) -> String {
    let code = body["error"]["code"].as_str().unwrap_or("error");
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    format!("{} {code}: {message}", status.as_u16())
}

/// Renders `/v1/cluster` as a table.
pub fn render_status(status: &ClusterStatus) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let leader = status.leader.map_or("none".to_string(), |l| l.to_string());
    let voters: Vec<String> = status
        .membership
        .voters
        .iter()
        .map(u64::to_string)
        .collect();
    let _ = writeln!(
        out,
        "leader: {leader}   term: {}   voters: {}   (answered by node {})",
        status.term,
        voters.join(","),
        status.node_id
    );
    let _ = writeln!(
        out,
        "{:<4} {:<12} {:<22} {:<22} {:>6} {:>9}",
        "ID", "ROLE", "RAFT", "API", "TERM", "APPLIED"
    );
    for node in &status.nodes {
        let show = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let _ = writeln!(
            out,
            "{:<4} {:<12} {:<22} {:<22} {:>6} {:>9}",
            node.id,
            node.role,
            node.raft_addr,
            node.api_addr.as_deref().unwrap_or("-"),
            show(node.term),
            show(node.last_applied),
        );
    }
    if !status.leases.is_empty() {
        let leases: Vec<String> = status
            .leases
            .iter()
            .map(|l| format!("{}={}#{}", l.role, l.holder, l.epoch))
            .collect();
        let _ = writeln!(out, "leases (role=holder#epoch): {}", leases.join(" "));
    }
    for e in &status.executors {
        let _ = writeln!(
            out,
            "executor {:<14} {:?} running {}/{}",
            e.name, e.status, e.running, e.capacity
        );
    }
    out
}

/// Percent-encodes `text` for use as one URL path segment.
pub fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
