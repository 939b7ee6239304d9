//! The diagnostic key/value space: a replicated write and a linearizable
//! read anyone can try with curl, and what the write benchmarks measure.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use cortex_consensus::audit::Actor;
use cortex_consensus::{Command, Response};
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;

/// `PUT /v1/kv/{key}` with the value as the body.
pub async fn put(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("value must be UTF-8 text"))?;
    let written = state
        .consensus
        .write_as(actor, Command::Put { key, value })
        .await?;
    let previous = match written.response {
        Response::Put { previous } => previous,
        _ => None,
    };
    Ok(Json(
        json!({ "index": written.index, "previous": previous }),
    ))
}

/// `GET /v1/kv/{key}`.
pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.consensus.read_key(&key).await? {
        Some(value) => Ok(Json(json!({ "key": key, "value": value }))),
        None => Err(ApiError::not_found(format!("no key {key:?}"))),
    }
}

/// `DELETE /v1/kv/{key}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let written = state
        .consensus
        .write_as(actor, Command::Delete { key })
        .await?;
    let existed = matches!(written.response, Response::Deleted { existed: true });
    Ok(Json(json!({ "index": written.index, "existed": existed })))
}
