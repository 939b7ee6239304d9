//! GraphQL errors: every error the schema returns carries a stable
//! `extensions.code`, and this is the one place consensus errors become
//! GraphQL errors.
//!
//! | code | when |
//! |---|---|
//! | `BAD_USER_INPUT` | an argument or an asset is invalid (details in `extensions`) |
//! | `NOT_FOUND` | the asset (or run) does not exist |
//! | `ASSET_EXISTS` | `addAsset` of an id that exists |
//! | `LIMIT_EXCEEDED` | a page, depth, search or batch limit was passed |
//! | `CURSOR_EXPIRED` | a subscription asked to resume after events no longer kept |
//! | `FORBIDDEN` | a mutation by a caller without the operator role |
//! | `UNAVAILABLE` | no leader could be reached; retry |
//! | `INTERNAL` | a storage or Raft failure on the server |
//! | `QUERY_TOO_COMPLEX` | the query is nested too deep or too complex (see `limits`) |
//! | `GRAPHQL_VALIDATION_FAILED` | the query does not parse or does not fit the schema |

use async_graphql::{ErrorExtensions, Value};
use cortex_consensus::catalog::{CatalogError, CursorExpired};
use cortex_consensus::{ConsensusError, Rejection};

/// An error answer of the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// An argument or an asset is invalid; nothing was written.
    #[error("{message}")]
    BadInput {
        /// What is wrong.
        message: String,
        /// Position of the offending asset in its batch, if any.
        index: Option<usize>,
    },
    /// No such asset or run.
    #[error("{0}")]
    NotFound(String),
    /// `addAsset` of an existing id.
    #[error("{0}")]
    AssetExists(String),
    /// A limit was passed.
    #[error("{0}")]
    Limit(String),
    /// A resume cursor older than the events kept.
    #[error("{0}; resubscribe without `after` and reload what you show")]
    CursorExpired(CursorExpired),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller is over its rate limit for changes; nothing was written.
    #[error("{name} is over its rate limit for changes; retry in {retry_after} s")]
    RateLimited {
        /// The caller.
        name: String,
        /// Whole seconds to wait.
        retry_after: u64,
    },
    /// No leader reachable; the write may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// A failure on the server side.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A bad argument.
    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::BadInput {
            message: message.into(),
            index: None,
        }
    }

    /// The stable code in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput { .. } => "BAD_USER_INPUT",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::AssetExists(_) => "ASSET_EXISTS",
            ApiError::Limit(_) => "LIMIT_EXCEEDED",
            ApiError::CursorExpired(_) => "CURSOR_EXPIRED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Unavailable(_) => "UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            match self {
                ApiError::BadInput {
                    index: Some(index), ..
                } => extensions.set("index", Value::from(*index as u64)),
                ApiError::CursorExpired(expired) => {
                    extensions.set("oldest", expired.oldest.to_string())
                }
                ApiError::RateLimited { retry_after, .. } => {
                    extensions.set("retryAfter", Value::from(*retry_after))
                }
                _ => {}
            }
        })
    }
}

impl From<ConsensusError> for ApiError {
    fn from(error: ConsensusError) -> Self {
        match error {
            ConsensusError::Rejected(Rejection::Catalog(rejection)) => match rejection {
                CatalogError::AssetExists(_) => ApiError::AssetExists(rejection.to_string()),
                CatalogError::NoAsset(_) => ApiError::NotFound(rejection.to_string()),
                CatalogError::BatchTooLarge { .. } => ApiError::Limit(rejection.to_string()),
                CatalogError::InvalidAsset { index, .. } => ApiError::BadInput {
                    message: rejection.to_string(),
                    index: Some(index),
                },
                CatalogError::InvalidField(_) => ApiError::bad_input(rejection.to_string()),
            },
            ConsensusError::Rejected(other) => ApiError::bad_input(other.to_string()),
            ConsensusError::Invalid(_) | ConsensusError::Codec(_) => {
                ApiError::bad_input(error.to_string())
            }
            ConsensusError::Unavailable(_) | ConsensusError::NotLeader { .. } => {
                ApiError::Unavailable(error.to_string())
            }
            _ => {
                tracing::error!(error = %error, "catalog write failed");
                ApiError::Internal(error.to_string())
            }
        }
    }
}

/// Turns an [`ApiError`] into the GraphQL error the resolvers return.
pub fn fail(error: impl Into<ApiError>) -> async_graphql::Error {
    error.into().extend()
}
