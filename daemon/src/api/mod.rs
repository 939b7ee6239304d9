//! The admin HTTP API (axum). Every daemon serves it; calls that need the
//! leader are forwarded to it by the consensus handle, so a client can talk
//! to any node.
//!
//! | route | auth | what |
//! |---|---|---|
//! | `GET /healthz` | open | the process serves requests |
//! | `GET /readyz` | open | this node is a voter of a cluster with a leader |
//! | `GET /metrics` | open | Prometheus metrics (see `crate::metrics`, `docs/metrics.md`) |
//! | `GET /v1/cluster` | token | nodes, roles, leader, term, applied index |
//! | `POST /v1/cluster/members` | token | add a voter `{"id", "raft_addr"}` |
//! | `DELETE /v1/cluster/members/{id}` | token | remove a voter |
//! | `PUT /v1/kv/{key}` | token | set a diagnostic key (body = value) |
//! | `GET /v1/kv/{key}` | token | read it (linearizable) |
//! | `DELETE /v1/kv/{key}` | token | remove it |
//! | `PUT /v1/pools/{pool}` | token | open a budget pool `{"capacity"}` (same capacity again: no-op; 409 `pool_exists`) |
//! | `GET /v1/pools/{pool}` | token | its capacity, reserved, spent, overrun, available |
//! | `POST /v1/pools/{pool}/reservations` | token | reserve `{"id", "amount"}`; 201, 409 `insufficient` when it has no room |
//! | `POST /v1/pools/{pool}/reservations/{id}/settle` | token | settle `{"used"}`; spent = min(used, amount), the rest returns |
//! | `POST /v1/runs` | token | submit a plan (YAML or JSON body); 201 `{"id"}`, 422 `invalid_plan`, 413 `plan_too_large` |
//! | `GET /v1/runs` | token | runs with task counts and tokens; `?status=running` |
//! | `GET /v1/runs/{id}` | token | a run: tasks, attempts, ledger per master, nodes, escalations |
//! | `GET /v1/runs/{id}/events` | token | the run's events as Server-Sent Events (snapshot, then changes and live worker activity); resumable with `Last-Event-ID` or `?after=`; ends after `run.finished` |
//! | `POST /v1/runs/{id}/cancel` | token | cancel (`{"reason"}` optional); 409 once ended |
//! | `GET /v1/runs/{id}/report` | token | final results as JSON; `?format=md` for the executive summary |
//! | `POST /v1/runs/{id}/tasks/{task}/approve` | token | approve a task waiting for approval; 409 otherwise |
//! | `GET /v1/runs/{id}/tasks/{task}/logs` | token | what its attempts printed (bounded tail); `?attempt=N`, `?format=text` |
//! | `GET /v1/escalations` | token | escalations of every run; `?open=true` for unresolved |
//! | `POST /v1/escalations/{id}/resolve` | token | `{"action": "grant_reserve", "amount"}`, `retry` or `cancel` |
//! | `POST /graphql` | token | the catalog's GraphQL schema (see `crate::graphql`) |
//! | `GET /graphql` | token in the socket's `connection_init` | subscriptions over `graphql-transport-ws`; GraphiQL for a plain GET |
//!
//! Run reads answer from the node's applied state (a follower may trail the
//! leader by a few milliseconds); times are cluster time, ms since the epoch.

pub mod cluster;
pub mod error;
pub mod escalations;
pub mod events;
pub mod health;
pub mod kv;
pub mod logs;
pub mod pools;
pub mod runs;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use cortex_consensus::plan::MAX_PLAN_BYTES;
use cortex_consensus::{Command, ConsensusHandle};

use crate::auth::{require_token, AdminToken};
use crate::metrics::{Exposition, VoterMetrics};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The local node, and through it the cluster.
    pub consensus: ConsensusHandle,
    /// Live events of this process.
    pub events: events::EventsState,
}

/// Largest request body: a diagnostic value plus slack for JSON bodies.
const MAX_BODY_BYTES: usize = Command::MAX_VALUE_LEN + 4096;

/// The whole API, with `/metrics` serving `metrics`.
pub fn router(
    state: AppState,
    token: AdminToken,
    metrics: &Exposition,
    voter_metrics: &VoterMetrics,
) -> Router {
    let graphql = crate::graphql::router(
        state.consensus.clone(),
        token.clone(),
        voter_metrics.catalog_api_latency(),
    );
    let protected = Router::new()
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/cluster/members", post(cluster::add_voter))
        .route("/v1/cluster/members/{id}", delete(cluster::remove_voter))
        .route("/v1/kv/{key}", get(kv::get).put(kv::put).delete(kv::delete))
        .route("/v1/pools/{pool}", get(pools::show).put(pools::open))
        .route("/v1/pools/{pool}/reservations", post(pools::reserve))
        .route(
            "/v1/pools/{pool}/reservations/{id}/settle",
            post(pools::settle),
        )
        .route(
            "/v1/runs",
            get(runs::list)
                .post(runs::submit)
                .layer(DefaultBodyLimit::max(MAX_PLAN_BYTES)),
        )
        .route("/v1/runs/{id}", get(runs::show))
        .route("/v1/runs/{id}/events", get(events::stream_run))
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/runs/{id}/report", get(runs::report))
        .route("/v1/runs/{id}/tasks/{task}/approve", post(runs::approve))
        .route("/v1/runs/{id}/tasks/{task}/logs", get(logs::logs))
        .route("/v1/escalations", get(escalations::list))
        .route("/v1/escalations/{id}/resolve", post(escalations::resolve))
        .route_layer(middleware::from_fn_with_state(token, require_token));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(metrics.routes())
        .merge(protected)
        .merge(graphql)
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
