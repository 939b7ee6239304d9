//! Catalog writes as log entries ([`CatalogCommand`]), what applying one
//! answers ([`CatalogChange`]), and why one is refused ([`CatalogError`]).
//!
//! An invalid asset anywhere in an [`CatalogCommand::Upsert`] batch rejects
//! the whole command, naming the asset's index, id and the problem; nothing
//! of the batch is written. Writers that take assets from untrusted workers
//! check each with [`AssetInput::validate`] first and drop (and log) the bad
//! ones, then split the rest with [`CatalogCommand::upserts`].

use serde::{Deserialize, Serialize};

use super::input::{
    check_health, check_id, check_metadata, check_relations, check_tags, check_text, AssetInput,
    HealthInput, Metadata, RelationInput, MAX_NAME_LEN,
};
use super::kinds::check_asset_type;

/// Most assets in one upsert.
pub const MAX_UPSERT_ASSETS: usize = 1000;
/// Most bytes of assets in one upsert (see [`AssetInput::encoded_len`]), so
/// a batch of log entries stays within one gRPC message.
pub const MAX_UPSERT_BYTES: usize = 256 * 1024;

/// A change to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogCommand {
    /// Creates or replaces assets reported by a discovery source. Every
    /// described field is replaced (absent optional fields become empty);
    /// an asset reported unchanged only has its `last_seen_at` and sync
    /// stamp moved, with no history entry and no event.
    Upsert {
        /// The discovery source (the task id, for workers).
        source: String,
        /// The discovery pass, stamped on every asset of the batch; see
        /// [`CatalogCommand::FinishSync`].
        sync: Option<String>,
        /// Who discovered them (`node/run/task#attempt`).
        by: String,
        /// The assets, applied in order (a repeated id: the last one wins).
        assets: Vec<AssetInput>,
    },
    /// Ends a discovery pass: removes the assets of `source` that no
    /// `Upsert` stamped with `sync`. Other sources' assets are never touched.
    FinishSync {
        /// The source.
        source: String,
        /// The pass that just finished.
        sync: String,
    },
    /// Creates one asset; refused if the id exists (`addAsset`).
    Add {
        /// Recorded as its source.
        source: String,
        /// Who.
        by: String,
        /// The asset (boxed: it is much larger than the other commands).
        asset: Box<AssetInput>,
    },
    /// Changes the given fields of an existing asset (`updateAsset`).
    Update {
        /// The asset.
        id: String,
        /// Who.
        by: String,
        /// The fields to change (boxed, as `Add`'s asset).
        patch: Box<AssetPatch>,
    },
    /// Removes an asset (`deleteAsset`); relations other assets declare
    /// towards it stay, unresolved, until it comes back.
    Delete {
        /// The asset.
        id: String,
        /// Who.
        by: String,
    },
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetPatch {
    /// New name.
    pub name: Option<String>,
    /// New type.
    pub kind: Option<String>,
    /// New namespace (`Some(None)` clears it).
    pub namespace: Option<Option<String>>,
    /// New owner (`Some(None)` clears it).
    pub owner: Option<Option<String>>,
    /// New tags (replacing all).
    pub tags: Option<Vec<String>>,
    /// New metadata (replacing all).
    pub metadata: Option<Metadata>,
    /// New health.
    pub health: Option<HealthInput>,
    /// New relations (replacing all it declares).
    pub relations: Option<Vec<RelationInput>>,
}

impl AssetPatch {
    /// Checks the fields given, as [`AssetInput::validate`] does; `id` is
    /// the asset's, so a relation to itself is refused too.
    pub fn validate(&self, id: &str) -> Result<(), String> {
        if let Some(name) = &self.name {
            check_text("name", name, MAX_NAME_LEN, false)?;
        }
        if let Some(kind) = &self.kind {
            check_asset_type(kind)?;
        }
        for (field, value) in [("namespace", &self.namespace), ("owner", &self.owner)] {
            if let Some(Some(text)) = value {
                check_text(field, text, MAX_NAME_LEN, false)?;
            }
        }
        if let Some(tags) = &self.tags {
            check_tags(tags)?;
        }
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata)?;
        }
        if let Some(health) = &self.health {
            check_health(health)?;
        }
        match &self.relations {
            Some(relations) => check_relations(id, relations),
            None => Ok(()),
        }
    }
}

/// What applying a catalog command did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogChange {
    /// Assets created.
    pub created: u32,
    /// Assets whose described fields changed.
    pub updated: u32,
    /// Assets reported again without a change.
    pub unchanged: u32,
    /// Assets removed.
    pub removed: u32,
    /// Sequence number of the newest event after applying (0: none yet).
    pub last_seq: u64,
}

/// Why the catalog refused a command; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CatalogError {
    /// An asset of the command is invalid.
    #[error("asset #{index} ({id:?}): {reason}")]
    InvalidAsset {
        /// Its position in the command (0 for a single asset).
        index: usize,
        /// Its id as given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A field of the command itself (source, sync, by, id) is invalid.
    #[error("{0}")]
    InvalidField(String),
    /// More assets than [`MAX_UPSERT_ASSETS`], or more bytes than
    /// [`MAX_UPSERT_BYTES`]; split with [`CatalogCommand::upserts`].
    #[error("batch too large: {what} (split it with CatalogCommand::upserts)")]
    BatchTooLarge {
        /// Which limit, with the figures.
        what: String,
    },
    /// `Add` of an id that exists.
    #[error("asset {0:?} exists already")]
    AssetExists(String),
    /// `Update` or `Delete` of an id that does not exist.
    #[error("no asset {0:?}")]
    NoAsset(String),
}

impl CatalogCommand {
    /// Checks what can be checked without the state (run again on apply).
    pub fn check(&self) -> Result<(), CatalogError> {
        let invalid = CatalogError::InvalidField;
        match self {
            CatalogCommand::Upsert {
                source,
                sync,
                by,
                assets,
            } => {
                check_text("source", source, MAX_NAME_LEN, false).map_err(invalid)?;
                if let Some(sync) = sync {
                    check_text("sync", sync, MAX_NAME_LEN, false).map_err(invalid)?;
                }
                check_text("by", by, MAX_NAME_LEN, false).map_err(invalid)?;
                if assets.len() > MAX_UPSERT_ASSETS {
                    return Err(CatalogError::BatchTooLarge {
                        what: format!("{} assets, at most {MAX_UPSERT_ASSETS}", assets.len()),
                    });
                }
                let bytes: usize = assets.iter().map(AssetInput::encoded_len).sum();
                if bytes > MAX_UPSERT_BYTES {
                    return Err(CatalogError::BatchTooLarge {
                        what: format!("{bytes} bytes of assets, at most {MAX_UPSERT_BYTES}"),
                    });
                }
                assets.iter().enumerate().try_for_each(check_asset)
            }
            CatalogCommand::FinishSync { source, sync } => {
                check_text("source", source, MAX_NAME_LEN, false).map_err(invalid)?;
                check_text("sync", sync, MAX_NAME_LEN, false).map_err(invalid)
            }
            CatalogCommand::Add { source, by, asset } => {
                check_text("source", source, MAX_NAME_LEN, false).map_err(invalid)?;
                check_text("by", by, MAX_NAME_LEN, false).map_err(invalid)?;
                check_asset((0, asset))
            }
            CatalogCommand::Update { id, by, patch } => {
                check_id("id", id).map_err(invalid)?;
                check_text("by", by, MAX_NAME_LEN, false).map_err(invalid)?;
                patch
                    .validate(id)
                    .map_err(|reason| CatalogError::InvalidAsset {
                        index: 0,
                        id: id.clone(),
                        reason,
                    })
            }
            CatalogCommand::Delete { id, by } => {
                check_id("id", id).map_err(invalid)?;
                check_text("by", by, MAX_NAME_LEN, false).map_err(invalid)
            }
        }
    }

    /// Splits `assets` into `Upsert` commands within [`MAX_UPSERT_ASSETS`]
    /// and [`MAX_UPSERT_BYTES`], in order. An asset too large on its own
    /// still gets a command, which `check` then refuses.
    pub fn upserts(
        source: &str,
        sync: Option<&str>,
        by: &str,
        assets: Vec<AssetInput>,
    ) -> Vec<CatalogCommand> {
        let mut batches: Vec<Vec<AssetInput>> = Vec::new();
        let mut bytes = 0;
        for asset in assets {
            let len = asset.encoded_len();
            let full = batches.last().is_none_or(|batch| {
                batch.len() == MAX_UPSERT_ASSETS || bytes + len > MAX_UPSERT_BYTES
            });
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += len;
            if let Some(batch) = batches.last_mut() {
                batch.push(asset);
            }
        }
        batches
            .into_iter()
            .map(|assets| CatalogCommand::Upsert {
                source: source.to_string(),
                sync: sync.map(str::to_string),
                by: by.to_string(),
                assets,
            })
            .collect()
    }
}

fn check_asset((index, asset): (usize, &AssetInput)) -> Result<(), CatalogError> {
    asset
        .validate()
        .map_err(|reason| CatalogError::InvalidAsset {
            index,
            id: asset.id.clone(),
            reason,
        })
}
