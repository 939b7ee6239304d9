//! The admin HTTP API (axum). Every daemon serves it; calls that need the
//! leader are forwarded to it by the consensus handle, so a client can talk
//! to any node.
//!
//! | route | auth | what |
//! |---|---|---|
//! | `GET /healthz` | open | the process serves requests |
//! | `GET /readyz` | open | this node is a voter of a cluster with a leader |
//! | `GET /v1/cluster` | token | nodes, roles, leader, term, applied index |
//! | `POST /v1/cluster/members` | token | add a voter `{"id", "raft_addr"}` |
//! | `DELETE /v1/cluster/members/{id}` | token | remove a voter |
//! | `PUT /v1/kv/{key}` | token | set a diagnostic key (body = value) |
//! | `GET /v1/kv/{key}` | token | read it (linearizable) |
//! | `DELETE /v1/kv/{key}` | token | remove it |

pub mod cluster;
pub mod error;
pub mod health;
pub mod kv;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use cortex_consensus::{Command, ConsensusHandle};

use crate::auth::{require_token, AdminToken};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The local node, and through it the cluster.
    pub consensus: ConsensusHandle,
}

/// Largest request body: a diagnostic value plus slack for JSON bodies.
const MAX_BODY_BYTES: usize = Command::MAX_VALUE_LEN + 4096;

/// The whole API.
pub fn router(state: AppState, token: AdminToken) -> Router {
    let protected = Router::new()
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/cluster/members", post(cluster::add_voter))
        .route("/v1/cluster/members/{id}", delete(cluster::remove_voter))
        .route("/v1/kv/{key}", get(kv::get).put(kv::put).delete(kv::delete))
        .route_layer(middleware::from_fn_with_state(token, require_token));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(protected)
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
