//! Liveness and readiness probes (open, for Kubernetes).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cortex_agent::runtime::InTouch;
use serde_json::{json, Value};

use super::AppState;

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 once this node is a voter of a cluster with a leader.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let status = state.consensus.local_status().await;
    if state.consensus.is_ready().await {
        (
            StatusCode::OK,
            Json(json!({ "ready": true, "leader": status.leader })),
        )
    } else {
        let reason = if !status.initialized {
            "not yet part of a cluster"
        } else if status.leader.is_none() {
            "no leader known"
        } else {
            "not a voter"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        )
    }
}

/// An agent's `GET /readyz`: 200 while it hears its assignments from the
/// voters; 503 before it first does and once it has been out of touch for
/// longer than the node timeout (its attempts are stopped then).
pub async fn agent_readyz(in_touch: InTouch) -> (StatusCode, Json<Value>) {
    if in_touch.now() {
        (StatusCode::OK, Json(json!({ "ready": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": "not in touch with the voters" })),
        )
    }
}
