//! `/graphql`: the catalog's GraphQL schema (`cortex-catalog`) over HTTP
//! and websockets.
//!
//! | request | auth | answer |
//! |---|---|---|
//! | `POST /graphql` (JSON `{"query", "variables"?, "operationName"?}`) | token | the GraphQL response; 413 over 1 MiB |
//! | `GET /graphql` with a websocket upgrade (`graphql-transport-ws`, or the older `graphql-ws`) | token in the `Authorization` header or in `connection_init`'s payload | subscriptions, queries and mutations |
//! | `GET /graphql` otherwise | open | GraphiQL, a page that holds no data |
//!
//! Each `POST` is timed into `cortex_catalog_api_latency_seconds`; sockets
//! live as long as their subscriptions, so they are not.
//!
//! Browsers cannot set headers on a websocket, so the token may instead come
//! in the `connection_init` payload as `{"Authorization": "Bearer <token>"}`
//! or `{"token": "<token>"}`; without it the server closes the socket with
//! 4403.

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::handler::Handler;
use axum::http::header::{AUTHORIZATION, UPGRADE};
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cortex_catalog::limits::MAX_BODY_BYTES;
use cortex_catalog::CatalogSchema;
use cortex_consensus::ConsensusHandle;
use prometheus_client::metrics::histogram::Histogram;

use crate::api::error::ApiError;
use crate::auth::{require_token, AdminToken};
use crate::metrics::time_request;

/// The path the schema is served at.
const PATH: &str = "/graphql";

/// What the GraphQL handlers share.
#[derive(Clone)]
struct Graphql {
    schema: CatalogSchema,
    token: AdminToken,
}

/// The `/graphql` routes over `consensus`, with `token` guarding every
/// operation and each query or mutation timed into `latency`.
pub fn router<S: Clone + Send + Sync + 'static>(
    consensus: ConsensusHandle,
    token: AdminToken,
    latency: Histogram,
) -> Router<S> {
    let schema = cortex_catalog::schema(std::sync::Arc::new(consensus));
    let execute_with_token = execute
        .layer(middleware::from_fn_with_state(token.clone(), require_token))
        .layer(middleware::from_fn_with_state(latency, time_request));
    Router::new()
        .route(
            PATH,
            get(page_or_socket)
                .post(execute_with_token)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .with_state(Graphql { schema, token })
}

/// Executes one query or mutation (the token was checked by the middleware).
async fn execute(State(graphql): State<Graphql>, body: Bytes) -> Response {
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => Json(graphql.schema.execute(request).await).into_response(),
        Err(e) => ApiError::bad_request(format!(
            "the body must be a GraphQL request in JSON ({{\"query\": ...}}): {e}"
        ))
        .into_response(),
    }
}

/// Serves a websocket upgrade, or the GraphiQL page.
async fn page_or_socket(State(graphql): State<Graphql>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrading = parts
        .headers
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrading {
        let page = GraphiQLSource::build()
            .endpoint(PATH)
            .subscription_endpoint(PATH)
            .title("Cortex catalog")
            .finish();
        return Html(page).into_response();
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (status, "websocket subprotocol must be graphql-transport-ws").into_response()
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let header_token = bearer(&parts.headers).map(str::to_string);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, graphql.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let presented = header_token.or_else(|| payload_token(&payload));
                    match presented {
                        Some(token) if graphql.token.matches(&token) => Ok(Data::default()),
                        _ => Err("missing or invalid admin token".into()),
                    }
                })
                .serve()
        })
}

/// The bearer token of an `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The token of a `connection_init` payload: `Authorization` (or
/// `authorization`) as `Bearer <token>`, or `token`.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload[key].as_str())
        .and_then(|value| value.strip_prefix("Bearer "));
    header
        .or_else(|| payload["token"].as_str())
        .map(|token| token.trim().to_string())
}
