//! The admin HTTP API (axum). Every daemon serves it; calls that need the
//! leader are forwarded to it by the consensus handle, so a client can talk
//! to any node.
//!
//! Each route needs a role (see `crate::auth`): a token of that role or a
//! higher one (`viewer` < `operator` < `admin`); without a valid token 401,
//! with too low a role 403. Changes (the operator and admin routes but the
//! audit trail) are audited with the caller's name and rate-limited per
//! named token (not the admin token): beyond `--change-rate` a second after
//! a burst of `--change-burst`, 429 `rate_limited` with `Retry-After`.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /healthz` | open | the process serves requests |
//! | `GET /readyz` | open | this node is a voter of a cluster with a leader |
//! | `GET /metrics` | open (viewer with `--metrics-token`) | Prometheus metrics (see `crate::metrics`, `docs/metrics.md`) |
//! | `GET /v1/cluster` | viewer | nodes, roles, leader, term, applied index |
//! | `POST /v1/cluster/members` | admin | add a voter `{"id", "raft_addr"}` |
//! | `DELETE /v1/cluster/members/{id}` | admin | remove a voter |
//! | `PUT /v1/kv/{key}` | admin | set a diagnostic key (body = value) |
//! | `GET /v1/kv/{key}` | viewer | read it (linearizable) |
//! | `DELETE /v1/kv/{key}` | admin | remove it |
//! | `PUT /v1/pools/{pool}` | admin | open a budget pool `{"capacity"}` (same capacity again: no-op; 409 `pool_exists`) |
//! | `GET /v1/pools/{pool}` | viewer | its capacity, reserved, spent, overrun, available |
//! | `POST /v1/pools/{pool}/reservations` | operator | reserve `{"id", "amount"}`; 201, 409 `insufficient` when it has no room |
//! | `POST /v1/pools/{pool}/reservations/{id}/settle` | operator | settle `{"used"}`; spent = min(used, amount), the rest returns |
//! | `POST /v1/runs` | operator | submit a plan (YAML or JSON body); 201 `{"id"}`, 422 `invalid_plan`, 413 `plan_too_large` |
//! | `GET /v1/runs` | viewer | runs with task counts and tokens; `?status=running` |
//! | `GET /v1/runs/{id}` | viewer | a run: tasks, attempts, ledger per master, nodes, escalations |
//! | `GET /v1/runs/{id}/events` | viewer | the run's events as Server-Sent Events (snapshot, then changes and live worker activity); resumable with `Last-Event-ID` or `?after=`; ends after `run.finished` |
//! | `POST /v1/runs/{id}/cancel` | operator | cancel (`{"reason"}` optional); 409 once ended |
//! | `GET /v1/runs/{id}/report` | viewer | final results as JSON; `?format=md` for the executive summary |
//! | `POST /v1/runs/{id}/tasks/{task}/approve` | operator | approve a task waiting for approval; 409 otherwise |
//! | `GET /v1/runs/{id}/tasks/{task}/logs` | viewer | what its attempts printed (bounded tail); `?attempt=N`, `?format=text` |
//! | `GET /v1/escalations` | viewer | escalations of every run; `?open=true` for unresolved |
//! | `POST /v1/escalations/{id}/resolve` | operator | `{"action": "grant_reserve", "amount"}`, `retry` or `cancel` |
//! | `GET /v1/audit` | admin | the audit trail: who changed what, refusals included; `?after=SEQ&limit=N` |
//! | `POST /graphql` | viewer; operator for mutations | the catalog's GraphQL schema (see `crate::graphql`) |
//! | `GET /ui`, `/ui/{file}` | open | the web dashboard's static files (see `crate::ui`); they hold no data
//! | `GET /graphql` | as `POST`, token in the socket's `connection_init` | subscriptions over `graphql-transport-ws`; GraphiQL for a plain GET |
//!
//! Run reads answer from the node's applied state (a follower may trail the
//! leader by a few milliseconds); times are cluster time, ms since the epoch.

pub mod audit;
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
use axum::routing::{delete, get, post, put};
use axum::Router;
use cortex_consensus::audit::Role;
use cortex_consensus::plan::MAX_PLAN_BYTES;
use cortex_consensus::{Command, ConsensusHandle};

use crate::auth::Access;
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

/// The whole API, with `/metrics` serving `metrics`; `access` says who may
/// call what (the table above).
pub fn router(
    state: AppState,
    access: Access,
    metrics: &Exposition,
    voter_metrics: &VoterMetrics,
) -> Router {
    let graphql = crate::graphql::router(
        state.consensus.clone(),
        access.clone(),
        voter_metrics.catalog_api_latency(),
    );
    let viewer = Router::new()
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/kv/{key}", get(kv::get))
        .route("/v1/pools/{pool}", get(pools::show))
        .route("/v1/runs", get(runs::list))
        .route("/v1/runs/{id}", get(runs::show))
        .route("/v1/runs/{id}/events", get(events::stream_run))
        .route("/v1/runs/{id}/report", get(runs::report))
        .route("/v1/runs/{id}/tasks/{task}/logs", get(logs::logs))
        .route("/v1/escalations", get(escalations::list));
    let operator = Router::new()
        .route("/v1/pools/{pool}/reservations", post(pools::reserve))
        .route(
            "/v1/pools/{pool}/reservations/{id}/settle",
            post(pools::settle),
        )
        .route(
            "/v1/runs",
            post(runs::submit).layer(DefaultBodyLimit::max(MAX_PLAN_BYTES)),
        )
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/runs/{id}/tasks/{task}/approve", post(runs::approve))
        .route("/v1/escalations/{id}/resolve", post(escalations::resolve));
    let admin = Router::new()
        .route("/v1/cluster/members", post(cluster::add_voter))
        .route("/v1/cluster/members/{id}", delete(cluster::remove_voter))
        .route("/v1/kv/{key}", put(kv::put).delete(kv::delete))
        .route("/v1/pools/{pool}", put(pools::open));
    let audit_trail = Router::new().route("/v1/audit", get(audit::list));
    let metrics = if access.metrics_need_token() {
        access.guard(Role::Viewer, metrics.routes())
    } else {
        metrics.routes()
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(metrics)
        .merge(access.guard(Role::Viewer, viewer))
        .merge(access.guard_changes(Role::Operator, operator))
        .merge(access.guard_changes(Role::Admin, admin))
        .merge(access.guard(Role::Admin, audit_trail))
        .merge(graphql)
        .merge(crate::ui::router())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(error::body_too_large_as_json))
        .with_state(state)
}
