//! GraphQL enums, most of them mirrors of the consensus crate's.

use async_graphql::Enum;
use cortex_consensus::catalog::{self, ChangeKind, HealthStatus, RelationType};

/// An asset's health.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "HealthStatus", remote = "HealthStatus")]
pub enum Health {
    /// Working as intended.
    Healthy,
    /// Working, with problems.
    Degraded,
    /// Not working.
    Unhealthy,
    /// Not reported.
    Unknown,
}

/// A relation's declared type. Each reads by another name from its target
/// (`OWNED_BY`: `ownedBy` / `ownerOf`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "RelationType", remote = "RelationType")]
pub enum Relation {
    /// `ownedBy` / `ownerOf`.
    OwnedBy,
    /// `dependsOn` / `dependencyOf`.
    DependsOn,
    /// `runs` / `runsOn`.
    Runs,
    /// `derivedFrom` / `produced`.
    DerivedFrom,
    /// `findingOf` / `hasFinding`.
    FindingOf,
    /// `contains` / `containedIn`.
    Contains,
    /// `selects` / `selectedBy`.
    Selects,
    /// `uses` / `usedBy`.
    Uses,
    /// `authoredBy` / `authored`.
    AuthoredBy,
    /// `memberOf` / `hasMember`.
    MemberOf,
    /// `scheduledOn` / `hosts`.
    ScheduledOn,
}

/// What happened to an asset.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ChangeKind", remote = "ChangeKind")]
pub enum Change {
    /// Created.
    Added,
    /// A described field changed.
    Updated,
    /// Deleted, or removed by stale cleanup of its source.
    Removed,
}

/// Which way to follow relations. A relation's target is upstream of the
/// asset declaring it (what it is owned by, depends on, runs, is derived
/// from, ...).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Relations this asset declares, towards their targets.
    Upstream,
    /// Relations other assets declare towards this one.
    Downstream,
    /// Both.
    #[default]
    Both,
}

impl From<Direction> for catalog::Direction {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Upstream => catalog::Direction::Upstream,
            Direction::Downstream => catalog::Direction::Downstream,
            Direction::Both => catalog::Direction::Both,
        }
    }
}

/// Relation types as the consensus crate's, `None` for "all".
pub fn relation_types(types: Option<Vec<Relation>>) -> Option<Vec<RelationType>> {
    types.map(|types| types.into_iter().map(RelationType::from).collect())
}
