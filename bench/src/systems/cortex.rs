//! Cortex through its admin HTTP API: the budget ledger's pool endpoints
//! and the diagnostic key/value put, each one replicated command per call.
//!
//! Every [`CortexApi`] keeps its own keep-alive connection pool, so a
//! client task pays the TCP handshake once, as etcd's gRPC clients do.

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{Balance, BudgetLedger, Reservation};

/// A client of one daemon's admin API.
#[derive(Clone, Debug)]
pub struct CortexApi {
    /// This client's connections.
    http: reqwest::Client,
    /// `http://HOST:PORT` of the daemon.
    base_url: String,
    /// The admin bearer token.
    token: String,
    /// Longest one request may take.
    timeout: Duration,
}

impl CortexApi {
    /// A client of the daemon at `base_url` with a connection pool of its own.
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> anyhow::Result<CortexApi> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .tcp_nodelay(true)
            // Loopback benchmark traffic must never go through a proxy.
            .no_proxy()
            .build()?;
        Ok(CortexApi {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            timeout,
        })
    }

    /// A fresh client (own connections) of the same daemon.
    pub fn reconnect(&self) -> anyhow::Result<CortexApi> {
        CortexApi::new(&self.base_url, &self.token, self.timeout)
    }

    /// `PUT /v1/kv/{key}`: returns once the write is committed.
    pub async fn put_kv(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .put(format!("{}/v1/kv/{key}", self.base_url))
            .bearer_auth(&self.token)
            .body(value.to_string())
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("PUT /v1/kv/{key}: {status} {}", response.text().await?);
        }
        // Read the body so the connection goes back to the pool.
        response.bytes().await?;
        Ok(())
    }

    /// A JSON request to `path`; the status and the body (`null` if not JSON).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}

/// One client of the Cortex budget ledger (`/v1/pools`).
pub struct CortexLedger {
    api: CortexApi,
}

impl CortexLedger {
    /// A ledger client talking to the daemon behind `api`.
    pub fn new(api: CortexApi) -> CortexLedger {
        CortexLedger { api }
    }
}

impl BudgetLedger for CortexLedger {
    async fn connect(&self) -> anyhow::Result<Self> {
        Ok(CortexLedger::new(self.api.reconnect()?))
    }

    async fn open(&mut self, pools: &[String], capacity: u64) -> anyhow::Result<()> {
        for pool in pools {
            let body = json!({ "capacity": capacity });
            let path = format!("/v1/pools/{pool}");
            let (status, answer) = self.api.call(Method::PUT, &path, Some(body)).await?;
            if !status.is_success() {
                bail!("PUT {path}: {status} {answer}");
            }
        }
        Ok(())
    }

    async fn reserve(&mut self, pool: &str, id: &str, amount: u64) -> anyhow::Result<Reservation> {
        let body = json!({ "id": id, "amount": amount });
        let path = format!("/v1/pools/{pool}/reservations");
        let (status, answer) = self.api.call(Method::POST, &path, Some(body)).await?;
        match status {
            StatusCode::CREATED => Ok(Reservation::Reserved),
            StatusCode::CONFLICT if answer["error"]["code"] == "insufficient" => {
                Ok(Reservation::Refused)
            }
            _ => bail!("POST {path}: {status} {answer}"),
        }
    }

    async fn settle(&mut self, pool: &str, id: &str, used: u64) -> anyhow::Result<()> {
        let body = json!({ "used": used });
        let path = format!("/v1/pools/{pool}/reservations/{id}/settle");
        let (status, answer) = self.api.call(Method::POST, &path, Some(body)).await?;
        if status != StatusCode::OK {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(())
    }

    async fn balance(&mut self, pool: &str) -> anyhow::Result<Balance> {
        let path = format!("/v1/pools/{pool}");
        let (status, answer) = self.api.call(Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            bail!("GET {path}: {status} {answer}");
        }
        let figure = |name: &str| {
            answer[name]
                .as_u64()
                .with_context(|| format!("GET {path}: no `{name}` in {answer}"))
        };
        Ok(Balance {
            capacity: figure("capacity")?,
            reserved: figure("reserved")?,
            spent: figure("spent")?,
        })
    }
}
