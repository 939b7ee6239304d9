//! `GET /v1/runs/{id}/tasks/{task}/logs`: what a task's attempts printed.
//!
//! Workers' output reaches the replicated state with their progress
//! reports, so the logs of an attempt survive the node it ran on; each
//! attempt keeps a bounded tail (`AttemptLogs::MAX_BYTES`), and the answer
//! says how many older lines were dropped.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cortex_consensus::plan::TaskId;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::runs::with_run;
use super::AppState;

/// Query of the logs endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only this attempt (1 for the first); all attempts otherwise.
    pub attempt: Option<u32>,
    /// `json` (the default) or `text`.
    pub format: Option<String>,
}

/// `GET /v1/runs/{id}/tasks/{task}/logs[?attempt=N][&format=text]`.
pub async fn logs(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let text = match query.format.as_deref().unwrap_or("json") {
        "json" => false,
        "text" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "format must be json or text, got {other:?}"
            )))
        }
    };
    let attempts = with_run(&state, &id, |run, _| {
        let found = run
            .tasks
            .get(&TaskId(task.clone()))
            .ok_or_else(|| ApiError::not_found(format!("run {id} has no task {task}")))?;
        let attempts: Vec<Value> = found
            .attempts
            .iter()
            .filter(|a| query.attempt.is_none_or(|n| n == a.number))
            .map(|a| {
                json!({
                    "attempt": a.number,
                    "node": a.node,
                    "ended": a.end.is_some(),
                    "dropped_lines": a.logs.dropped,
                    "lines": a.logs.lines,
                })
            })
            .collect();
        match query.attempt {
            Some(n) if attempts.is_empty() => Err(ApiError::not_found(format!(
                "task {task} has no attempt {n}"
            ))),
            _ => Ok(attempts),
        }
    })??;
    if text {
        let mut out = String::new();
        for attempt in &attempts {
            out.push_str(&format!(
                "--- attempt {} on {}{} ---\n",
                attempt["attempt"],
                attempt["node"].as_str().unwrap_or("?"),
                match attempt["dropped_lines"].as_u64() {
                    Some(0) | None => String::new(),
                    Some(n) => format!(" ({n} older lines dropped)"),
                }
            ));
            for line in attempt["lines"].as_array().into_iter().flatten() {
                out.push_str(line.as_str().unwrap_or_default());
                out.push('\n');
            }
        }
        let content_type = [(CONTENT_TYPE, "text/plain; charset=utf-8")];
        return Ok((content_type, out).into_response());
    }
    Ok(Json(json!({ "run": id, "task": task, "attempts": attempts })).into_response())
}
