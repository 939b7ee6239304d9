//! The asset catalog, replicated: assets discovered by workers or written
//! through GraphQL, their relations, bounded per-asset history, and a
//! bounded stream of change events with sequence numbers.
//!
//! It is part of [`crate::State`] and changes only through
//! [`CatalogCommand`]s applied by the pure state machine, with the entry's
//! cluster time, so every voter holds the same catalog and any voter's
//! subscribers see every change (from the event stream, resumable by
//! sequence number while the events are retained).
//!
//! ```text
//!  CatalogCommand ──apply──> assets (OrdMap id -> Arc<Asset>) ──> indexes (derived)
//!                               ├─> history (≤ MAX_HISTORY versions per asset)
//!                               └─> events  (≤ MAX_EVENTS, seq 1, 2, ...)
//! ```
//!
//! Everything is held in persistent maps ([`imbl`]): cloning the catalog,
//! which a snapshot or a query does, is O(1), and the next write copies only
//! the paths it touches. Snapshots carry the assets, history and events; the
//! indexes are rebuilt from the assets when one is loaded.

mod apply;
mod command;
mod index;
mod input;
mod kinds;
mod lineage;
mod model;
mod query;
mod text;

use std::sync::Arc;

use imbl::{OrdMap, Vector};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use command::{
    AssetPatch, CatalogChange, CatalogCommand, CatalogError, MAX_UPSERT_ASSETS, MAX_UPSERT_BYTES,
};
pub use input::{
    AssetInput, HealthInput, Metadata, RelationInput, MAX_ID_LEN, MAX_METADATA_BYTES, MAX_NAME_LEN,
    MAX_RELATIONS, MAX_TAGS,
};
pub use kinds::{check_asset_type, HealthStatus, RelationType, PLAIN_ASSET_TYPES};
pub use lineage::{Direction, Lineage, LineageEdge, MAX_LINEAGE_DEPTH, MAX_LINEAGE_NODES};
pub use model::{Asset, AssetId, CatalogEvent, ChangeKind, FieldDiff, Health, Relation, Version};
pub use query::{AssetFilter, Page, Stats};
pub use text::{MAX_PREFIX_EXPANSION, MAX_QUERY_TERMS};

use index::Indexes;

/// Versions kept per asset; older ones are dropped.
pub const MAX_HISTORY: usize = 20;
/// Events kept in the stream; a subscriber further behind must start over.
pub const MAX_EVENTS: usize = 10_000;
/// Longest value shown in a history diff; longer ones are cut.
pub const MAX_DIFF_VALUE_LEN: usize = 1024;

/// The replicated catalog.
#[derive(Clone, Default)]
pub struct Catalog {
    data: CatalogData,
    index: Indexes,
}

/// The part of the catalog that snapshots carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CatalogData {
    /// Every asset by id.
    assets: OrdMap<AssetId, Arc<Asset>>,
    /// Versions per asset, oldest first; dropped with the asset.
    history: OrdMap<AssetId, Vector<Arc<Version>>>,
    /// The newest events, oldest first.
    events: Vector<Arc<CatalogEvent>>,
    /// Sequence number of the newest event ever (0 before the first).
    last_seq: u64,
    /// The newest asset's slot (0 before the first).
    last_slot: u64,
}

/// Why a subscriber cannot resume where it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events after {after} are no longer kept; the oldest kept is {oldest}")]
pub struct CursorExpired {
    /// The cursor asked for.
    pub after: u64,
    /// Sequence number of the oldest event kept.
    pub oldest: u64,
}

impl Catalog {
    fn from_data(data: CatalogData) -> Catalog {
        let mut index = Indexes::default();
        for asset in data.assets.values() {
            index.add(asset);
        }
        Catalog { data, index }
    }

    /// An asset by exact id.
    pub fn get(&self, id: &str) -> Option<Arc<Asset>> {
        self.data.assets.get(id).cloned()
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.data.assets.len()
    }

    /// Whether the catalog holds no asset.
    pub fn is_empty(&self) -> bool {
        self.data.assets.is_empty()
    }

    /// An asset's versions, newest first (empty for an unknown id).
    pub fn history(&self, id: &str) -> Vec<Arc<Version>> {
        self.data
            .history
            .get(id)
            .map(|versions| versions.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Sequence number of the newest event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.data.last_seq
    }

    /// Up to `max` events after sequence number `after`, oldest first, or
    /// [`CursorExpired`] when some of the events right after it are gone.
    pub fn events_after(
        &self,
        after: u64,
        max: usize,
    ) -> Result<Vec<Arc<CatalogEvent>>, CursorExpired> {
        let events = &self.data.events;
        let oldest = events.front().map_or(self.data.last_seq + 1, |e| e.seq);
        if after.saturating_add(1) < oldest {
            return Err(CursorExpired { after, oldest });
        }
        let start = usize::try_from(after + 1 - oldest).unwrap_or(usize::MAX);
        Ok((start..events.len().min(start.saturating_add(max)))
            .filter_map(|i| events.get(i).cloned())
            .collect())
    }
}

impl PartialEq for Catalog {
    /// Catalogs are equal when their assets, history and events are: the
    /// indexes are derived from the assets.
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl Eq for Catalog {}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("assets", &self.data.assets.len())
            .field("relations", &self.index.relations)
            .field("events", &self.data.events.len())
            .field("last_seq", &self.data.last_seq)
            .finish()
    }
}

impl Serialize for Catalog {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Catalog {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CatalogData::deserialize(deserializer).map(Catalog::from_data)
    }
}

#[cfg(test)]
mod tests;
