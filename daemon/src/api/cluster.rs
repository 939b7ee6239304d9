//! Cluster status and membership changes.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use cortex_consensus::audit::{Actor, OutsideChange};
use cortex_consensus::node::ClusterStatus;
use cortex_consensus::{Command, NodeAddr, NodeId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;

/// `GET /v1/cluster`.
pub async fn status(State(state): State<AppState>) -> Json<ClusterStatus> {
    Json(state.consensus.cluster_status().await)
}

/// Body of `POST /v1/cluster/members`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVoter {
    /// The new node's id.
    pub id: NodeId,
    /// Its Raft address, HOST:PORT.
    pub raft_addr: String,
}

/// `POST /v1/cluster/members`: adds a voter once it has caught up.
pub async fn add_voter(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Result<Json<NewVoter>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(voter) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if crate::config::parse_peers("raft_addr", &format!("{}={}", voter.id, voter.raft_addr))
        .is_err()
    {
        return Err(ApiError::bad_request(format!(
            "id must be 1 or more and raft_addr HOST:PORT, got {}={}",
            voter.id, voter.raft_addr
        )));
    }
    let addr = NodeAddr {
        raft_addr: voter.raft_addr,
    };
    let index = state.consensus.add_voter(voter.id, addr).await?;
    record(&state, actor, OutsideChange::AddVoter, voter.id).await;
    Ok(Json(json!({ "index": index })))
}

/// `DELETE /v1/cluster/members/{id}`.
pub async fn remove_voter(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<NodeId>,
) -> Result<Json<Value>, ApiError> {
    let index = state.consensus.remove_voter(id).await?;
    record(&state, actor, OutsideChange::RemoveVoter, id).await;
    Ok(Json(json!({ "index": index })))
}

/// Puts a membership change, which Raft applied itself, in the audit trail.
/// The change is done whatever happens here, so a failure is only logged.
async fn record(state: &AppState, actor: Actor, change: OutsideChange, voter: NodeId) {
    let command = Command::Audit {
        action: change,
        target: voter.to_string(),
    };
    if let Err(e) = state.consensus.write_as(actor, command).await {
        tracing::warn!(error = %e, action = change.name(), voter, "membership change not audited");
    }
}
