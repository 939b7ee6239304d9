//! Runs on the cluster, as end-to-end tests drive them: submit a plan and
//! poll a run until it reaches the state a test waits for.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use super::ProcessCluster;

/// Pause between two polls of a run.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Whether a run's `status` is one it ends in.
pub fn run_ended(run: &Value) -> bool {
    matches!(
        run["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

impl ProcessCluster {
    /// `POST /v1/runs` on node `via`: the new run's id.
    pub async fn submit_run(&self, via: u64, plan: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .post_run(via, plan)
            .await
            .context("submitting the plan")?;
        if status != reqwest::StatusCode::CREATED {
            bail!("submit answered {status}: {body}");
        }
        body["id"]
            .as_str()
            .map(str::to_string)
            .context("no run id in the answer")
    }

    /// `POST /v1/runs` on node `via`: the status and JSON body (`null` if
    /// the body is not JSON); an error only when no answer came back.
    pub async fn post_run(
        &self,
        via: u64,
        plan: &str,
    ) -> Result<(reqwest::StatusCode, Value), reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/v1/runs", self.api_url(via)))
            .bearer_auth(&self.token)
            .body(plan.to_string())
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or_default()))
    }

    /// `GET path` (JSON) from node `via`, failing on any error status.
    pub async fn get_json_from(&self, via: u64, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url(via)))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// `GET path` (JSON) from the first live voter that answers with success.
    pub async fn get_json(&self, path: &str) -> Option<Value> {
        for node in self.live_ids() {
            if let Ok(value) = self.get_json_from(node, path).await {
                return Some(value);
            }
        }
        None
    }

    /// Polls run `id` on the live voters until `check` says yes; fails
    /// after `timeout` with what the run looked like (`what` says what was
    /// awaited).
    pub async fn wait_run(
        &self,
        id: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let start = Instant::now();
        let mut last = None;
        loop {
            if let Some(run) = self.get_json(&format!("/v1/runs/{id}")).await {
                if check(&run) {
                    return Ok(run);
                }
                last = Some(run);
            }
            if start.elapsed() >= timeout {
                match last {
                    Some(run) => bail!("{what}: not within {timeout:?}; run is {run:#}"),
                    None => bail!("{what}: run {id} unreadable for {timeout:?}"),
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}
