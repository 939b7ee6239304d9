//! API errors: one JSON shape, `{"error": {"code", "message", "details"}}`,
//! and the only place consensus errors become HTTP statuses.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cortex_consensus::plan::PlanErrors;
use cortex_consensus::run::RunError;
use cortex_consensus::state::pools::PoolError;
use cortex_consensus::{ConsensusError, Rejection};
use serde_json::{json, Value};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
}

impl ApiError {
    /// An error with a status, a stable machine-readable code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// 401.
    pub fn unauthorized(message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the caller is known but its role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 `invalid_plan`, with every problem as `details: [{path, message}]`.
    pub fn invalid_plan(errors: PlanErrors) -> Self {
        let details = serde_json::to_value(&errors).unwrap_or(Value::Null);
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plan",
            errors.to_string(),
        )
        .with_details(details)
    }
}

/// A refusal of the state machine: a bad plan is 422 with its problems, an
/// unknown run or task 404, a run or task in the wrong state 409, anything
/// else 422.
fn from_rejection(rejection: Rejection) -> ApiError {
    let message = rejection.to_string();
    let details = json!({ "rejection": rejection });
    let (status, code) = match rejection {
        Rejection::InvalidPlan(errors) => return ApiError::invalid_plan(errors),
        Rejection::NoRun(_) | Rejection::Run(RunError::NoTask(_)) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        Rejection::RunExists(_) => (StatusCode::CONFLICT, "run_exists"),
        Rejection::Run(RunError::RunEnded(_)) => (StatusCode::CONFLICT, "run_ended"),
        Rejection::Run(_) => (StatusCode::CONFLICT, "conflict"),
        Rejection::Pool(error) => pool_status(&error),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "rejected"),
    };
    ApiError::new(status, code, message).with_details(details)
}

/// Budget pools: unknown names 404, a pool without room 409 `insufficient`.
fn pool_status(error: &PoolError) -> (StatusCode, &'static str) {
    match error {
        PoolError::NoPool(_) | PoolError::NoReservation { .. } => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        PoolError::Insufficient { .. } => (StatusCode::CONFLICT, "insufficient"),
        PoolError::Exists { .. } => (StatusCode::CONFLICT, "pool_exists"),
        PoolError::Duplicate(_) => (StatusCode::CONFLICT, "reservation_exists"),
        PoolError::Full { .. } => (StatusCode::CONFLICT, "full"),
        PoolError::BadName { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
    }
}

impl From<ConsensusError> for ApiError {
    fn from(error: ConsensusError) -> Self {
        let message = error.to_string();
        match error {
            ConsensusError::Rejected(rejection) => from_rejection(rejection),
            ConsensusError::Invalid(_) | ConsensusError::Codec(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
            }
            ConsensusError::Membership(_) => {
                ApiError::new(StatusCode::CONFLICT, "membership_conflict", message)
            }
            ConsensusError::Unavailable(_) | ConsensusError::NotLeader { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ConsensusError::Stopped(_) | ConsensusError::Storage(_) => {
                tracing::error!(error = %message, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "details": self.details }
        });
        (self.status, Json(body)).into_response()
    }
}

/// Middleware: axum refuses an oversized body with a plain-text 413 before
/// any handler runs; it becomes `413 body_too_large` in the JSON shape every
/// other error has.
pub async fn body_too_large_as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is over this route's limit (68 KiB; plans and GraphQL 1 MiB)",
        )
        .into_response();
    }
    response
}

/// Answer for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
