//! The audit trail: who changed what through the API, refusals included,
//! as the cluster replicated it (`cortex_consensus::audit`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use cortex_consensus::audit::AuditEntry;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::AppState;

/// Entries per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// Most entries per page.
const MAX_LIMIT: usize = 1000;

/// Query of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries after this sequence number.
    pub after: Option<u64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<usize>,
}

/// A page of the trail.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page.
    pub next: u64,
}

/// `GET /v1/audit[?after=SEQ&limit=N]`.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}, got {limit}"
        )));
    }
    let after = query.after.unwrap_or(0);
    let entries: Vec<AuditEntry> = state
        .consensus
        .state()
        .read(|machine| machine.state.audit.after(after, limit).cloned().collect());
    let next = entries.last().map_or(after, |e| e.seq);
    Ok(Json(AuditPage { entries, next }))
}
