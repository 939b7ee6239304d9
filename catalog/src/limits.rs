//! Limits that keep one request from taking a voter down, and the
//! extension that gives every error (the parser's and validator's too) a
//! stable `extensions.code`.
//!
//! | limit | value | checked |
//! |---|---|---|
//! | query depth | [`MAX_DEPTH`] | before execution (`QUERY_TOO_COMPLEX`) |
//! | query complexity | [`MAX_COMPLEXITY`] (lists count `first` times their fields) | before execution |
//! | page size (`assets`) | [`MAX_PAGE`] | per field (`LIMIT_EXCEEDED`) |
//! | search results | [`MAX_SEARCH`] | per field |
//! | relations of one asset | [`MAX_RELATIONS_PAGE`] | per field |
//! | lineage depth | `MAX_LINEAGE_DEPTH` (10), nodes `MAX_LINEAGE_NODES` (10,000) | per field |
//! | request body | [`MAX_BODY_BYTES`] | by the HTTP server (413) |

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe,
};
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::futures_util::StreamExt;
use async_graphql::{Response, ServerError};

/// Deepest selection accepted.
pub const MAX_DEPTH: usize = 12;
/// Highest complexity accepted (fields, with lists weighted by their size).
pub const MAX_COMPLEXITY: usize = 5_000;
/// Largest page of `assets`.
pub const MAX_PAGE: usize = 500;
/// Most results of `search`.
pub const MAX_SEARCH: usize = 100;
/// Most relations returned by `Asset.relations`.
pub const MAX_RELATIONS_PAGE: usize = 1000;
/// Most versions returned by `history`.
pub const MAX_HISTORY_PAGE: usize = 100;
/// Largest GraphQL request body the server reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Checks a page size argument.
pub fn page_size(first: i32, max: usize) -> Result<usize, crate::ApiError> {
    match usize::try_from(first) {
        Ok(first) if first <= max => Ok(first),
        Ok(_) => Err(crate::ApiError::Limit(format!(
            "first is {first}, at most {max}"
        ))),
        Err(_) => Err(crate::ApiError::bad_input(format!(
            "first must not be negative, got {first}"
        ))),
    }
}

/// Gives errors that lack one a code: the limits' messages (depth,
/// complexity, the parser's recursion limit) `QUERY_TOO_COMPLEX`, other errors outside any field
/// `GRAPHQL_VALIDATION_FAILED`, errors in a field `BAD_USER_INPUT`
/// (arguments that do not coerce).
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_codes(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(with_codes).boxed()
    }
}

fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        set_code(error);
    }
    response
}

fn set_code(error: &mut ServerError) {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|values| values.get("code").is_some());
    if has_code {
        return;
    }
    let limits = [
        "Query is nested too deep",
        "Query is too complex",
        "The recursion depth of the query",
    ];
    let code = if limits.iter().any(|limit| error.message.starts_with(limit)) {
        "QUERY_TOO_COMPLEX"
    } else if error.path.is_empty() {
        "GRAPHQL_VALIDATION_FAILED"
    } else {
        "BAD_USER_INPUT"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}
