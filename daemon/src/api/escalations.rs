//! Escalations: what waits for a person across all runs, and resolving one
//! (grant from the emergency reserve, allow a retry, or give up the task).
//!
//! An escalation's id is `<run-id>-<n>`; since run ids contain dashes, the
//! run is found by looking the id up in every run rather than by splitting it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use cortex_consensus::audit::Actor;
use cortex_consensus::run::Resolution;
use cortex_consensus::Command;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::report::{self, EscalationView};

/// Query of `GET /v1/escalations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only unresolved escalations.
    pub open: Option<bool>,
}

/// `GET /v1/escalations[?open=true]`: every run's, oldest run first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<EscalationView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let only_open = query.open.unwrap_or(false);
    let mut escalations = state.consensus.state().read(|machine| {
        machine
            .state
            .runs
            .values()
            .flat_map(report::escalations)
            .filter(|e| !only_open || e.open)
            .collect::<Vec<_>>()
    });
    escalations.sort_by(|a, b| (a.raised_at, &a.id).cmp(&(b.raised_at, &b.id)));
    Ok(Json(escalations))
}

/// Body of `POST /v1/escalations/{id}/resolve`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResolveBody {
    /// Draw `amount` tokens from the emergency reserve for the task's master.
    GrantReserve {
        /// Tokens granted, 1 or more.
        amount: u64,
    },
    /// Allow one more attempt.
    Retry,
    /// Give up on the task.
    Cancel,
}

impl ResolveBody {
    fn into_resolution(self) -> Result<Resolution, ApiError> {
        Ok(match self {
            ResolveBody::GrantReserve { amount: 0 } => {
                return Err(ApiError::bad_request("amount must be 1 or more"))
            }
            ResolveBody::GrantReserve { amount } => Resolution::GrantReserve { amount },
            ResolveBody::Retry => Resolution::Retry,
            ResolveBody::Cancel => Resolution::Cancel,
        })
    }
}

/// `POST /v1/escalations/{id}/resolve`.
pub async fn resolve(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; expected {{\"action\": \"grant_reserve\", \"amount\": N}}, \
             {{\"action\": \"retry\"}} or {{\"action\": \"cancel\"}}",
            e.body_text()
        ))
    })?;
    let resolution = body.into_resolution()?;
    let run = state
        .consensus
        .state()
        .read(|machine| {
            machine
                .state
                .runs
                .values()
                .find(|run| run.escalations.iter().any(|e| e.id == id))
                .map(|run| run.id.clone())
        })
        .ok_or_else(|| ApiError::not_found(format!("no escalation {id}")))?;
    let command = Command::ResolveEscalation {
        run: run.clone(),
        escalation: id.clone(),
        resolution: resolution.clone(),
    };
    let written = state.consensus.write_as(actor, command).await?;
    tracing::info!(escalation = %id, run = %run, ?resolution, "escalation resolved");
    Ok(Json(json!({
        "id": id,
        "run": run.0,
        "resolution": resolution,
        "index": written.index,
    })))
}
