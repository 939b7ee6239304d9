//! `/graphql`: the catalog's GraphQL schema (`cortex-catalog`) over HTTP
//! and websockets.
//!
//! | request | role | answer |
//! |---|---|---|
//! | `POST /graphql` (JSON `{"query", "variables"?, "operationName"?}`) | viewer; operator for mutations | the GraphQL response; 413 over 1 MiB |
//! | `GET /graphql` with a websocket upgrade (`graphql-transport-ws`, or the older `graphql-ws`) | as `POST`, token in the `Authorization` header or in `connection_init`'s payload | subscriptions, queries and mutations |
//! | `GET /graphql` otherwise | open | GraphiQL, a page that holds no data |
//!
//! A node serves at most [`MAX_SOCKETS`] websockets at once; another
//! upgrade gets 503 `too_many_sockets` until one closes. A socket that has
//! not authenticated within 10 s is closed.
//!
//! Each `POST` is timed into `cortex_catalog_api_latency_seconds`; sockets
//! live as long as their subscriptions, so they are not.
//!
//! Browsers cannot set headers on a websocket, so the token may instead come
//! in the `connection_init` payload as `{"Authorization": "Bearer <token>"}`
//! or `{"token": "<token>"}`; without it the server closes the socket with
//! 4403.
//!
//! The caller's [`Actor`] goes into the request's data: the catalog refuses
//! mutations to a viewer (error code `FORBIDDEN`) and writes the others on
//! the caller's behalf, so they are audited under its name. Each mutation
//! also takes from the caller's rate limit for changes, shared with the REST
//! routes (error code `RATE_LIMITED`, `extensions.retryAfter` in seconds).

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::handler::Handler;
use axum::http::header::UPGRADE;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use cortex_catalog::limits::MAX_BODY_BYTES;
use cortex_catalog::{CatalogSchema, SharedChangeLimit};
use cortex_consensus::audit::{Actor, Role};
use cortex_consensus::ConsensusHandle;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{oneshot, Semaphore};

use crate::api::error::ApiError;
use crate::auth::{bearer, Access};
use crate::metrics::time_request;

/// The path the schema is served at.
const PATH: &str = "/graphql";

/// What the GraphQL handlers share.
#[derive(Clone)]
struct Graphql {
    schema: CatalogSchema,
    access: Access,
    /// Open websockets, at most [`MAX_SOCKETS`].
    sockets: Arc<Semaphore>,
}

impl Graphql {
    /// The callers' allowance for mutations: the same buckets as the REST
    /// changes.
    fn change_limit(&self) -> SharedChangeLimit {
        Arc::new(self.access.clone())
    }
}

/// Websockets one node serves at once; more get 503 `too_many_sockets`.
pub const MAX_SOCKETS: usize = 256;
/// How long a new websocket has to authenticate (`connection_init`).
const INIT_DEADLINE: Duration = Duration::from_secs(10);

/// The `/graphql` routes over `consensus`: a viewer's token or better for
/// every operation (`access`), each query or mutation timed into `latency`.
pub fn router<S: Clone + Send + Sync + 'static>(
    consensus: ConsensusHandle,
    access: Access,
    latency: Histogram,
) -> Router<S> {
    let schema = cortex_catalog::schema(std::sync::Arc::new(consensus));
    let execute_timed = execute.layer(middleware::from_fn_with_state(latency, time_request));
    let post_route = Router::new().route(
        PATH,
        post(execute_timed).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    );
    Router::new()
        .route(PATH, get(page_or_socket))
        .merge(access.guard(Role::Viewer, post_route))
        .with_state(Graphql {
            schema,
            access,
            sockets: Arc::new(Semaphore::new(MAX_SOCKETS)),
        })
}

/// Executes one query or mutation for `actor` (found by the middleware).
async fn execute(
    State(graphql): State<Graphql>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Response {
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => {
            let request = request.data(actor).data(graphql.change_limit());
            Json(graphql.schema.execute(request).await).into_response()
        }
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
    // Each socket holds a permit until it closes.
    let Ok(permit) = graphql.sockets.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sockets",
            format!("this node serves {MAX_SOCKETS} GraphQL websockets at most; try another node or later"),
        )
        .into_response();
    };
    let header_token = bearer(&parts.headers).map(str::to_string);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            let (authenticated, known) = oneshot::channel();
            let serving = GraphQLWebSocket::new(socket, graphql.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let presented = header_token.or_else(|| payload_token(&payload));
                    match presented.and_then(|token| graphql.access.actor_of(&token)) {
                        Some(actor) => {
                            let _ = authenticated.send(());
                            let mut data = Data::default();
                            data.insert(actor);
                            data.insert(graphql.change_limit());
                            Ok(data)
                        }
                        None => Err("missing or invalid token".into()),
                    }
                })
                .serve();
            tokio::pin!(serving);
            // A socket that does not authenticate in time is dropped, so
            // idle unauthenticated sockets cannot hold every permit.
            tokio::select! {
                () = &mut serving => return,
                known = tokio::time::timeout(INIT_DEADLINE, known) => {
                    if !matches!(known, Ok(Ok(()))) {
                        return;
                    }
                }
            }
            serving.await;
        })
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
