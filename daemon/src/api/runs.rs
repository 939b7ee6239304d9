//! Runs: submit a plan, list, show, cancel, approve a task, and the report.
//!
//! A plan is parsed and validated here, before anything is written: an
//! invalid plan is answered 422 with every problem and never reaches the
//! log. Reads answer from this node's applied state, which may trail the
//! leader by a few milliseconds.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cortex_consensus::audit::Actor;
use cortex_consensus::plan::{self, PlanErrors, TaskId, MAX_PLAN_BYTES};
use cortex_consensus::run::{Run, RunId, RunStatus};
use cortex_consensus::{Command, ConsensusError, Rejection, RequestId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::report::{self, RunDetail, RunSummary};

/// Longest cancellation reason kept in the replicated state.
const MAX_REASON_BYTES: usize = 1024;
/// Fresh ids tried when a generated one is taken (a 1 in 2^32 event).
const ID_ATTEMPTS: usize = 3;
/// Why a run was cancelled when the caller does not say.
const DEFAULT_CANCEL_REASON: &str = "cancelled through the API";

/// `POST /v1/runs`: the body is the plan, YAML or JSON.
pub async fn submit(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(None),
        _ => ApiError::bad_request(e.body_text()),
    })?;
    if body.len() > MAX_PLAN_BYTES {
        return Err(too_large(Some(body.len())));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::invalid_plan(PlanErrors::single("", "the plan is not UTF-8 text"))
    })?;
    if declares_json(&headers) && !text.trim_start().starts_with('{') {
        return Err(ApiError::invalid_plan(PlanErrors::single(
            "",
            "Content-Type says JSON but the body is not a JSON object",
        )));
    }
    let spec = plan::parse(text).map_err(ApiError::invalid_plan)?;
    if let Some(key) = idempotency_key(&headers)? {
        // A retried submission (same key) gets the same run back instead of
        // a second run: the run id derives from the key, and the key is the
        // command's idempotency key in the state machine.
        let run = RunId(format!(
            "{}-{:08x}",
            spec.name,
            fnv1a(key.as_bytes()) as u32
        ));
        let command = Command::SubmitRun {
            run: run.clone(),
            spec,
        };
        let written = state
            .consensus
            .write_audited(
                Some(actor),
                RequestId(format!("submit:{}:{key}", run.0)),
                command,
            )
            .await?;
        let answer = json!({ "id": run.0, "index": written.index });
        return Ok((StatusCode::CREATED, Json(answer)));
    }
    for _ in 0..ID_ATTEMPTS {
        let run = RunId(format!("{}-{}", spec.name, random_suffix()));
        let command = Command::SubmitRun {
            run: run.clone(),
            spec: spec.clone(),
        };
        match state.consensus.write_as(actor.clone(), command).await {
            Ok(written) => {
                tracing::info!(run = %run, tasks = spec.tasks.len(), "run submitted");
                let answer = json!({ "id": run.0, "index": written.index });
                return Ok((StatusCode::CREATED, Json(answer)));
            }
            Err(ConsensusError::Rejected(Rejection::RunExists(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "could not pick an unused run id",
    ))
}

/// The `Idempotency-Key` header, if any: 1 to 100 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=100).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_string()))
        }
        _ => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 100 visible ASCII characters",
        )),
    }
}

/// FNV-1a, 64 bits: a stable, dependency-free hash for deriving run ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn too_large(len: Option<usize>) -> ApiError {
    let size = len.map_or("larger than that".to_string(), |n| format!("{n} bytes"));
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "plan_too_large",
        format!("plans are limited to {MAX_PLAN_BYTES} bytes; this one is {size}"),
    )
}

/// Whether the request says its body is JSON (`application/json`, `*+json`).
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// 8 random hex digits.
fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        bytes = nanos.to_le_bytes();
    }
    hex::encode(bytes)
}

/// Query of `GET /v1/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only runs with this status.
    pub status: Option<RunStatus>,
}

/// `GET /v1/runs[?status=running]`: oldest first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<RunSummary>>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; status is one of pending, running, completed, failed, cancelled",
            e.body_text()
        ))
    })?;
    let mut runs = state.consensus.state().read(|machine| {
        machine
            .state
            .runs
            .values()
            .filter(|run| query.status.is_none_or(|s| run.status == s))
            .map(report::summary)
            .collect::<Vec<_>>()
    });
    runs.sort_by(|a, b| (a.submitted_at, &a.id).cmp(&(b.submitted_at, &b.id)));
    Ok(Json(runs))
}

/// Runs `read` on run `id` in the local state, or answers 404.
pub(super) fn with_run<T>(
    state: &AppState,
    id: &str,
    read: impl FnOnce(&Run, cortex_consensus::ClusterTime) -> T,
) -> Result<T, ApiError> {
    state.consensus.state().read(|machine| {
        let run = machine.state.runs.get(&RunId(id.to_string()));
        run.map(|run| read(run, machine.state.time()))
            .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
    })
}

/// `GET /v1/runs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    with_run(&state, &id, |run, _| report::detail(run)).map(Json)
}

/// Body of `POST /v1/runs/{id}/cancel` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why, for the record.
    pub reason: Option<String>,
}

/// `POST /v1/runs/{id}/cancel`: every unfinished task ends `cancelled`.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!("body must be {{\"reason\": \"...\"}}: {e}"))
        })?
    };
    let reason = body
        .reason
        .unwrap_or_else(|| DEFAULT_CANCEL_REASON.to_string());
    if reason.trim().is_empty() || reason.len() > MAX_REASON_BYTES {
        return Err(ApiError::bad_request(format!(
            "reason must be 1 to {MAX_REASON_BYTES} bytes"
        )));
    }
    let command = Command::CancelRun {
        run: RunId(id.clone()),
        reason: reason.clone(),
    };
    let written = state.consensus.write_as(actor, command).await?;
    tracing::info!(run = %id, reason = %reason, "run cancelled");
    Ok(Json(json!({
        "id": id,
        "status": RunStatus::Cancelled,
        "reason": reason,
        "index": written.index,
    })))
}

/// `POST /v1/runs/{id}/tasks/{task}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((id, task)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let command = Command::ApproveTask {
        run: RunId(id.clone()),
        task: TaskId(task.clone()),
    };
    let written = state.consensus.write_as(actor, command).await?;
    tracing::info!(run = %id, task = %task, "task approved");
    Ok(Json(json!({
        "id": id,
        "task": task,
        "approved": true,
        "index": written.index,
    })))
}

/// Query of `GET /v1/runs/{id}/report`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (the default) or `md` for the Markdown executive summary.
    pub format: Option<String>,
}

/// `GET /v1/runs/{id}/report[?format=md]`.
pub async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    match query.format.as_deref().unwrap_or("json") {
        "json" => {
            let results = with_run(&state, &id, report::final_results)?;
            Ok(Json(results).into_response())
        }
        "md" | "markdown" => {
            let text = with_run(&state, &id, report::executive_summary)?;
            let content_type = [(CONTENT_TYPE, "text/markdown; charset=utf-8")];
            Ok((content_type, text).into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "format must be json or md, got {other:?}"
        ))),
    }
}
