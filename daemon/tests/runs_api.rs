//! End-to-end: the run routes of the admin API on a real three-node cluster
//! of `cortex` processes.
//!
//! Invalid plans are refused with 422 and the path of each problem, and
//! nothing is written; a valid plan becomes a run that can be listed, shown,
//! approved and cancelled. Running tasks to completion needs the scheduler
//! and is tested with it; here every task waits for an approval (or for a
//! task that does), so the run's state only changes through these routes.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use cortex_chaos::{wait_until, ProcessCluster};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// Until every daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);
/// Until a node has applied a write acknowledged through another.
const APPLIED: Duration = Duration::from_secs(10);
/// The largest plan the API accepts (`plan::MAX_PLAN_BYTES`).
const MAX_PLAN_BYTES: usize = 1024 * 1024;

/// A task line of a plan.
fn task(id: &str, master: &str, worker: &str, extra: &str) -> String {
    format!(
        "    - {{ id: {id}, master: {master}, worker: {worker}, \
         executor: {{ process: {{ command: [\"sleep\", \"60\"] }} }}{extra} }}\n"
    )
}

/// A plan named `name` with two masters of 20,000 tokens each and `tasks`.
fn plan(name: &str, total: u64, tasks: &str) -> String {
    format!(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata:\n  name: {name}\nspec:\n  \
         budget: {{ total: {total}, emergencyReserve: 1000 }}\n  masters:\n    \
         security: {{ personal: 10000, workers: 10000 }}\n    \
         development: {{ personal: 10000, workers: 10000 }}\n  tasks:\n{tasks}"
    )
}

/// A valid plan whose tasks cannot start on their own: `gate` waits for an
/// approval and `after` depends on it.
fn gated_plan(name: &str) -> String {
    let tasks = task("gate", "security", "scan", ", approval: required")
        + &task("after", "development", "fix", ", dependsOn: [gate]");
    plan(name, 50_000, &tasks)
}

/// [`gated_plan`] in JSON.
fn gated_json_plan(name: &str) -> Value {
    let executor = json!({ "process": { "command": ["sleep", "60"] } });
    json!({
        "apiVersion": "cortex.dev/v1",
        "kind": "Run",
        "metadata": { "name": name },
        "spec": {
            "budget": { "total": 50_000, "emergencyReserve": 1000 },
            "masters": {
                "security": { "personal": 10_000, "workers": 10_000 },
                "development": { "personal": 10_000, "workers": 10_000 }
            },
            "tasks": [
                { "id": "gate", "master": "security", "worker": "scan",
                  "approval": "required", "executor": executor },
                { "id": "after", "master": "development", "worker": "fix",
                  "dependsOn": ["gate"], "executor": executor }
            ]
        }
    })
}

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    fn new(cluster: &ProcessCluster, node: u64) -> Api {
        Api {
            http: Client::new(),
            base: cluster.api_url(node),
            token: cluster.token().to_string(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
        let response = request.send().await.context("request failed")?;
        let status = response.status();
        let text = response.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> anyhow::Result<(StatusCode, Value)> {
        let request = self.request(reqwest::Method::POST, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        self.send(request).await
    }

    async fn submit(
        &self,
        content_type: &str,
        plan: String,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let request = self
            .request(reqwest::Method::POST, "/v1/runs")
            .header("content-type", content_type)
            .body(plan);
        self.send(request).await
    }

    /// `GET /v1/runs/{id}` once this node has applied the run and `ready` holds.
    async fn run_when(&self, id: &str, ready: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let path = format!("/v1/runs/{id}");
        wait_until(
            APPLIED,
            &format!("{path} to reach the expected state"),
            || async {
                match self.get(&path).await {
                    Ok((StatusCode::OK, run)) if ready(&run) => Ok(run),
                    Ok((status, body)) => Err(anyhow::anyhow!("{status} {body}")),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }
}

async fn start() -> ProcessCluster {
    let cluster = ProcessCluster::start(Path::new(env!("CARGO_BIN_EXE_cortex")), 3)
        .expect("start the cluster");
    cluster.wait_ready(READY).await.expect("cluster ready");
    cluster
}

/// The paths of a 422 `invalid_plan` answer.
fn problem_paths(status: StatusCode, body: &Value) -> anyhow::Result<Vec<String>> {
    ensure!(
        status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status} {body}"
    );
    ensure!(body["error"]["code"] == "invalid_plan", "{body}");
    let details = body["error"]["details"]
        .as_array()
        .context("details is a list")?;
    ensure!(!details.is_empty(), "{body}");
    Ok(details
        .iter()
        .map(|d| d["path"].as_str().unwrap_or("?").to_string())
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_plans_are_refused_with_their_paths_and_nothing_is_written() {
    let cluster = start().await;
    let api = Api::new(&cluster, 1);
    let ok = |id: &str| task(id, "security", "scan", "");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown master",
            plan("p", 50_000, &task("a", "bogus", "scan", "")),
            "spec.tasks[0].master",
        ),
        (
            "unknown worker type",
            plan("p", 50_000, &task("a", "security", "wizard", "")),
            "spec.tasks[0].worker",
        ),
        (
            "dependency cycle",
            plan(
                "p",
                50_000,
                &(task("a", "security", "scan", ", dependsOn: [b]")
                    + &task("b", "security", "scan", ", dependsOn: [a]")),
            ),
            "spec.tasks[0].dependsOn",
        ),
        (
            "unknown dependency",
            plan(
                "p",
                50_000,
                &task("a", "security", "scan", ", dependsOn: [zzz]"),
            ),
            "spec.tasks[0].dependsOn[0]",
        ),
        (
            "masters over total",
            plan("p", 30_000, &ok("a")),
            "spec.masters",
        ),
        (
            "task over its master's pool",
            plan(
                "p",
                50_000,
                &task("a", "security", "scan", ", budget: 30000"),
            ),
            "spec.tasks[0].budget",
        ),
        (
            "bad duration",
            plan(
                "p",
                50_000,
                &task("a", "security", "scan", ", timeout: 5 parsecs"),
            ),
            "spec.tasks[0].timeout",
        ),
        (
            "duplicate ids",
            plan("p", 50_000, &(ok("a") + &ok("a"))),
            "spec.tasks[1].id",
        ),
    ];
    for (what, text, path) in cases {
        let (status, body) = api.submit("application/yaml", text).await.unwrap();
        let paths = problem_paths(status, &body).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        assert!(
            paths.iter().any(|p| p == path),
            "{what}: expected {path}, got {paths:?}"
        );
    }

    let (status, body) = api
        .submit("application/json", "{\"apiVersion\": ".into())
        .await
        .unwrap();
    problem_paths(status, &body).expect("broken JSON is an invalid plan");
    let (status, body) = api
        .submit("application/json", gated_plan("yaml"))
        .await
        .unwrap();
    problem_paths(status, &body).expect("YAML sent as JSON is an invalid plan");

    let oversized = format!("# {}\n{}", "x".repeat(MAX_PLAN_BYTES), gated_plan("big"));
    let (status, body) = api.submit("application/yaml", oversized).await.unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "plan_too_large", "{body}");

    let anonymous = Client::new()
        .get(format!("{}/v1/runs", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let anonymous = Client::new()
        .post(format!("{}/v1/runs", api.base))
        .body(gated_plan("anonymous"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    for node in cluster.ids() {
        let (status, runs) = Api::new(&cluster, node).get("/v1/runs").await.unwrap();
        assert_eq!((status, runs), (StatusCode::OK, json!([])), "node {node}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_listed_shown_approved_and_cancelled() {
    let cluster = start().await;
    let api = Api::new(&cluster, 1);
    let via_2 = Api::new(&cluster, 2);

    // A plan well over the API's default body limit is still accepted.
    let padded = format!("# {}\n{}", "x".repeat(200_000), gated_plan("demo"));
    let (status, body) = api.submit("application/x-yaml", padded).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let suffix = id.strip_prefix("demo-").expect("id is <name>-<suffix>");
    assert!(
        suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );

    // The same plan as JSON, without a content type: sniffed.
    let request = via_2
        .request(reqwest::Method::POST, "/v1/runs")
        .body(gated_json_plan("other").to_string());
    let (status, body) = via_2.send(request).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other = body["id"].as_str().unwrap().to_string();

    let run = api.run_when(&id, |_| true).await.unwrap();
    assert_eq!(run["status"], "pending", "nothing started yet");
    assert_eq!(run["name"], "demo");
    assert_eq!(run["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(run["tasks"][0]["id"], "gate");
    assert_eq!(run["tasks"][0]["approval_required"], true);
    assert_eq!(run["ledger"]["total"], 50_000);
    assert_eq!(run["ledger"]["masters"]["security"]["allocation"], 20_000);
    assert_eq!(run["ledger"]["masters"]["security"]["available"], 20_000);
    assert_eq!(run["ledger"]["emergency_reserve_left"], 1_000);
    api.run_when(&other, |_| true).await.unwrap();

    let (status, runs) = api.get("/v1/runs").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{runs}");
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&other.as_str()),
        "{runs}"
    );
    let listed = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["tasks"]["total"], 2, "{listed}");
    assert_eq!(listed["tasks"]["pending"], 2, "{listed}");
    assert_eq!(
        listed["tokens"],
        json!({ "spent": 0, "reserved": 0, "total": 50_000 })
    );
    let (status, body) = api.get("/v1/runs?status=bogus").await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api.get("/v1/runs/nope").await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Approvals: only a pending task that requires one, once.
    let approve = |task: &str| format!("/v1/runs/{id}/tasks/{task}/approve");
    let (status, body) = api.post(&approve("after"), None).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api.post(&approve("missing"), None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api.post(&approve("gate"), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api.post(&approve("gate"), None).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Cancel: every task ends with a reason; a second cancel is refused.
    let reason = json!({ "reason": "changed my mind" });
    let (status, body) = api
        .post(&format!("/v1/runs/{id}/cancel"), Some(reason))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = api
        .run_when(&id, |r| r["status"] == "cancelled")
        .await
        .unwrap();
    assert_eq!(run["reason"], "changed my mind");
    for task in run["tasks"].as_array().unwrap() {
        assert_eq!(task["state"], "cancelled", "{task}");
        assert!(
            task["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{task}"
        );
        assert!(task["finished_at"].is_u64(), "{task}");
    }
    let (status, body) = api
        .post(&format!("/v1/runs/{id}/cancel"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "run_ended", "{body}");
    let (status, body) = api.post("/v1/runs/nope/cancel", None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // `other` waits for its approval, so no attempt started: still pending.
    let (_, running) = api.get("/v1/runs?status=pending").await.unwrap();
    let running: Vec<&str> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(running, [other.as_str()]);

    // The report of the cancelled run adds up.
    let (status, report) = api.get(&format!("/v1/runs/{id}/report")).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["run"]["status"], "cancelled");
    assert_eq!(report["tokens"]["used"], 0);
    assert_eq!(report["tokens"]["budget_total"], 50_000);
    assert_eq!(report["tokens"]["efficiency"], 0.0);
    assert_eq!(
        report["masters"]["security"]["tasks"]["cancelled"], 1,
        "{report}"
    );
    // The scheduler may have started `gate` once approved; cancelling fenced it.
    let workers = &report["workers"];
    assert_eq!(workers["succeeded"], 0, "{report}");
    assert_eq!(workers["running"], 0, "{report}");
    assert_eq!(workers["spawned"], workers["fenced"], "{report}");
    let response = api
        .request(
            reqwest::Method::GET,
            &format!("/v1/runs/{id}/report?format=md"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    let markdown = response.text().await.unwrap();
    assert!(
        markdown.starts_with("# Cortex demo - Execution Report"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- Status: cancelled (changed my mind)"),
        "{markdown}"
    );

    // No escalations; resolving needs a known id and a well-formed body.
    for path in ["/v1/escalations", "/v1/escalations?open=true"] {
        assert_eq!(api.get(path).await.unwrap(), (StatusCode::OK, json!([])));
    }
    let resolve = format!("/v1/escalations/{id}-1/resolve");
    let (status, body) = api
        .post(&resolve, Some(json!({ "action": "retry" })))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api
        .post(&resolve, Some(json!({ "action": "explode" })))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let body = json!({ "action": "grant_reserve" });
    let (status, body) = api.post(&resolve, Some(body)).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_submission_with_the_same_idempotency_key_makes_one_run() {
    let cluster = start().await;
    let client = Client::new();
    let submit = |key: &'static str| {
        client
            .post(format!("{}/v1/runs", cluster.api_url(1)))
            .bearer_auth(cluster.token())
            .header("idempotency-key", key)
            .body(gated_plan("retried"))
            .send()
    };
    let first: Value = submit("order-42").await.unwrap().json().await.unwrap();
    let again = submit("order-42").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"], "{first} {again}");
    let other: Value = submit("order-43").await.unwrap().json().await.unwrap();
    assert_ne!(first["id"], other["id"]);
    let bad = submit("has space").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    wait_until(APPLIED, "node 2 to list both runs", || async {
        let runs: Value = client
            .get(format!("{}/v1/runs", cluster.api_url(2)))
            .bearer_auth(cluster.token())
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (runs.as_array()?.len() == 2).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}
