//! The catalog's stored records: assets with their relations and health,
//! the versions of their history, and the events of the change stream.
//!
//! Ids are `Arc<str>` so the map, every index and every event share one
//! allocation per id; assets are `Arc<Asset>` so an event or a query holds
//! an asset without copying it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::kinds::{HealthStatus, RelationType};
use crate::command::ClusterTime;

/// An asset's id, shared between the asset map, the indexes and events.
pub type AssetId = Arc<str>;

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Stable id, unique in the catalog.
    pub id: AssetId,
    /// Display name.
    pub name: String,
    /// Asset type (`k8s.pod`, `repository`, ...).
    pub kind: String,
    /// The discovery source that last described it (a task id, `api`, ...);
    /// stale cleanup of a source only ever removes that source's assets.
    pub source: String,
    /// Namespace or other grouping.
    pub namespace: Option<String>,
    /// Owning team or person.
    pub owner: Option<String>,
    /// Labels, sorted and without duplicates.
    pub tags: Vec<String>,
    /// A JSON object, as text (the log and snapshots are bincode, which
    /// cannot carry a `serde_json::Value`).
    pub metadata: String,
    /// Last reported health.
    pub health: Health,
    /// Relations it declares, sorted and without duplicates.
    pub relations: Vec<Relation>,
    /// When it was first written.
    pub discovered_at: ClusterTime,
    /// Who first wrote it (a worker attempt, `api`, ...).
    pub discovered_by: String,
    /// When a described field last changed.
    pub updated_at: ClusterTime,
    /// Who made that change.
    pub updated_by: String,
    /// When a writer last reported it, changed or not.
    pub last_seen_at: ClusterTime,
    /// 1 when created, plus one per change.
    pub version: u64,
    /// The sync pass of its source that last reported it, if any.
    pub sync: Option<String>,
    /// Its number in creation order (never reused). The full-text index
    /// refers to assets by it: comparing numbers is much cheaper than
    /// comparing ids, which often share long prefixes.
    pub slot: u64,
}

/// Health as last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The status.
    pub status: HealthStatus,
    /// Why, for people.
    pub message: Option<String>,
    /// Cluster time of the report that carried it (0 if never reported).
    pub checked_at: ClusterTime,
}

/// A relation declared by an asset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// The declared type.
    pub kind: RelationType,
    /// The other asset (which may not exist, or not yet).
    pub target: AssetId,
}

/// What happened to an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    /// It was created.
    Added,
    /// A described field changed.
    Updated,
    /// It was deleted, or removed by stale cleanup.
    Removed,
}

/// One field's change in a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field (`name`, `tags`, `metadata`, `health`, ...).
    pub field: String,
    /// Its value before, as JSON text (cut at [`super::MAX_DIFF_VALUE_LEN`]).
    pub before: String,
    /// Its value after, the same way.
    pub after: String,
}

/// One entry of an asset's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The asset's version this entry created.
    pub version: u64,
    /// When.
    pub at: ClusterTime,
    /// Who.
    pub by: String,
    /// Created or updated.
    pub kind: ChangeKind,
    /// What changed (empty for a creation: the first version is the asset).
    pub diffs: Vec<FieldDiff>,
}

/// An entry of the replicated change stream, which subscriptions read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEvent {
    /// Position in the stream: 1 for the first event ever, then +1.
    pub seq: u64,
    /// Cluster time of the change.
    pub at: ClusterTime,
    /// What happened.
    pub kind: ChangeKind,
    /// Who did it.
    pub by: String,
    /// The asset as of this event (as it was, for a removal).
    pub asset: Arc<Asset>,
    /// Fields that changed (for updates).
    pub fields: Vec<String>,
}
