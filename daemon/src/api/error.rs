//! API errors: one JSON shape, `{"error": {"code", "message", "details"}}`,
//! and the only place consensus errors become HTTP statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cortex_consensus::ConsensusError;
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

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<ConsensusError> for ApiError {
    fn from(error: ConsensusError) -> Self {
        let message = error.to_string();
        match error {
            ConsensusError::Rejected(rejection) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", message)
                    .with_details(json!({ "rejection": rejection }))
            }
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

/// Answer for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
