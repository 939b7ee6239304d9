//! Budget pools over HTTP: open a pool, reserve from it, settle. Every
//! change goes through the log, so a reservation acknowledged here survives
//! the loss of any one voter and no two clients can overdraw a pool. Reads
//! answer from this node's applied state.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use cortex_consensus::audit::Actor;
use cortex_consensus::state::pools::{Pool, PoolAnswer, PoolCommand};
use cortex_consensus::{Command, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;

/// Body of `PUT /v1/pools/{pool}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// Tokens the pool holds.
    pub capacity: u64,
}

/// Body of `POST /v1/pools/{pool}/reservations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveBody {
    /// The client's id for the reservation; retrying with it is safe.
    pub id: String,
    /// Tokens to hold.
    pub amount: u64,
}

/// Body of `POST /v1/pools/{pool}/reservations/{id}/settle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleBody {
    /// Tokens actually used.
    pub used: u64,
}

/// `PUT /v1/pools/{pool}`: creates the pool (the same capacity again is a no-op).
pub async fn open(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(pool): Path<String>,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, r#"{"capacity": N}"#))?;
    let command = PoolCommand::Open {
        pool: pool.clone(),
        capacity: body.capacity,
    };
    match write(&state, actor, command).await? {
        PoolAnswer::Opened(balances) => Ok(Json(describe(&pool, &balances))),
        other => Err(unexpected(other)),
    }
}

/// `GET /v1/pools/{pool}`.
pub async fn show(
    State(state): State<AppState>,
    Path(pool): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let balances = state
        .consensus
        .state()
        .read(|machine| machine.state.pools.get(&pool));
    balances
        .map(|balances| Json(describe(&pool, &balances)))
        .ok_or_else(|| ApiError::not_found(format!("no pool {pool}")))
}

/// `POST /v1/pools/{pool}/reservations`: 201 when the pool had room, 409
/// `insufficient` when it had not.
pub async fn reserve(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(pool): Path<String>,
    body: Result<Json<ReserveBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, r#"{"id": "...", "amount": N}"#))?;
    let command = PoolCommand::Reserve {
        pool: pool.clone(),
        reservation: body.id.clone(),
        amount: body.amount,
    };
    match write(&state, actor, command).await? {
        PoolAnswer::Reserved { available } => Ok((
            StatusCode::CREATED,
            Json(
                json!({ "id": body.id, "pool": pool, "amount": body.amount, "available": available }),
            ),
        )),
        other => Err(unexpected(other)),
    }
}

/// `POST /v1/pools/{pool}/reservations/{id}/settle`.
pub async fn settle(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((pool, id)): Path<(String, String)>,
    body: Result<Json<SettleBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, r#"{"used": N}"#))?;
    let command = PoolCommand::Settle {
        pool,
        reservation: id,
        used: body.used,
    };
    match write(&state, actor, command).await? {
        PoolAnswer::Settled {
            spent,
            released,
            overrun,
        } => Ok(Json(
            json!({ "spent": spent, "released": released, "overrun": overrun }),
        )),
        other => Err(unexpected(other)),
    }
}

/// Writes through the log. A client retrying a reservation after a lost
/// answer is deduplicated by the pool itself (same id, same amount), not by
/// the log's request ids, so an id can be used again once settled.
async fn write(
    state: &AppState,
    actor: Actor,
    command: PoolCommand,
) -> Result<PoolAnswer, ApiError> {
    let written = state
        .consensus
        .write_as(actor, Command::Pool(command))
        .await?;
    match written.response {
        Response::Pool(answer) => Ok(answer),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("unexpected answer {other:?}"),
        )),
    }
}

fn describe(pool: &str, balances: &Pool) -> Value {
    json!({
        "pool": pool,
        "capacity": balances.capacity,
        "reserved": balances.reserved,
        "spent": balances.spent,
        "overrun": balances.overrun,
        "available": balances.available(),
    })
}

fn bad_body(error: JsonRejection, shape: &str) -> ApiError {
    ApiError::bad_request(format!("body must be {shape}: {}", error.body_text()))
}

fn unexpected(answer: PoolAnswer) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("unexpected answer {answer:?}"),
    )
}
