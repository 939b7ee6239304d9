//! Cortex's asset catalog as GraphQL.
//!
//! The catalog itself (assets, relations, indexes, history, the event
//! stream) is replicated state in `cortex_consensus::catalog`; this crate
//! is its GraphQL face ([`schema`]): queries (assets with filters and cursor
//! pagination, search, lineage, history, stats, and read-only views of runs,
//! tasks, workers, master leases and nodes), mutations (add, update, delete
//! an asset, each one replicated command) and subscriptions (asset events
//! from the replicated stream, resumable by cursor; a worker's progress).
//!
//! It reaches the cluster only through [`Cluster`], which the daemon
//! implements with its `ConsensusHandle`; serving HTTP and websockets (and
//! the admin token) is the daemon's job. See `docs/catalog.md`.

mod asset;
mod cluster;
mod enums;
mod error;
pub mod limits;
mod mutation;
mod query;
mod scalars;
mod subscription;
mod views;
mod workers;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};

pub use cluster::{ChangeLimit, Cluster, SharedChangeLimit, SharedCluster};
pub use error::ApiError;

/// Every query root field.
#[derive(MergedObject, Default)]
pub struct Query(query::CatalogQuery, views::RunQuery);

/// The catalog's GraphQL schema.
pub type CatalogSchema = Schema<Query, mutation::Mutation, subscription::Subscription>;

/// The schema over `cluster`, with the limits of [`limits`].
pub fn schema(cluster: Arc<dyn Cluster>) -> CatalogSchema {
    Schema::build(
        Query::default(),
        mutation::Mutation,
        subscription::Subscription,
    )
    .data::<SharedCluster>(cluster)
    .limit_depth(limits::MAX_DEPTH)
    .limit_complexity(limits::MAX_COMPLEXITY)
    .extension(limits::ErrorCodes)
    .finish()
}

#[cfg(test)]
mod tests;
