//! Applying [`CatalogCommand`]s: a pure function of the catalog, the command
//! and the entry's cluster time.
//!
//! Every check that can fail runs before the first change (the stateless
//! ones in `CatalogCommand::check`, which the state machine runs first;
//! existence here), so a refused command changes nothing. A described field
//! that changes bumps the asset's version, adds a history entry with field
//! diffs and an event; a report that changes nothing only moves
//! `last_seen_at`, the sync stamp and `health.checked_at`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::command::{AssetPatch, CatalogChange, CatalogCommand, CatalogError};
use super::input::{AssetInput, HealthInput, Metadata, RelationInput};
use super::kinds::{HealthStatus, RelationType};
use super::model::{
    Asset, AssetId, CatalogEvent, ChangeKind, FieldDiff, Health, Relation, Version,
};
use super::{Catalog, MAX_DIFF_VALUE_LEN, MAX_EVENTS, MAX_HISTORY};
use crate::command::ClusterTime;

/// What writing one asset did.
enum Put {
    Created,
    Updated,
    Unchanged,
}

impl Catalog {
    /// Applies `command` at `now`; assumes `command.check()` passed.
    pub(crate) fn apply(
        &mut self,
        command: &CatalogCommand,
        now: ClusterTime,
    ) -> Result<CatalogChange, CatalogError> {
        let mut change = CatalogChange::default();
        match command {
            CatalogCommand::Upsert {
                source,
                sync,
                by,
                assets,
            } => {
                for input in assets {
                    let asset = Self::build(input, source, sync.as_deref(), by, now);
                    change.count(self.put(asset, now));
                }
            }
            CatalogCommand::FinishSync { source, sync } => {
                let stale: Vec<AssetId> = self
                    .index
                    .by_source
                    .ids(source)
                    .into_iter()
                    .filter(|id| {
                        self.data
                            .assets
                            .get(id)
                            .is_some_and(|a| a.sync.as_deref() != Some(sync.as_str()))
                    })
                    .collect();
                let by = format!("sync {sync} of {source}");
                for id in stale {
                    change.removed += u32::from(self.remove(&id, &by, now));
                }
            }
            CatalogCommand::Add { source, by, asset } => {
                if self.data.assets.contains_key(asset.id.as_str()) {
                    return Err(CatalogError::AssetExists(asset.id.clone()));
                }
                let asset = Self::build(asset, source, None, by, now);
                change.count(self.put(asset, now));
            }
            CatalogCommand::Update { id, by, patch } => {
                let old = self
                    .get(id)
                    .ok_or_else(|| CatalogError::NoAsset(id.clone()))?;
                let mut input = old.to_input();
                patch.apply_to(&mut input);
                let mut asset = Self::build(&input, &old.source, old.sync.as_deref(), by, now);
                if patch.health.is_none() {
                    asset.health.checked_at = old.health.checked_at;
                }
                change.count(self.put(asset, now));
            }
            CatalogCommand::Delete { id, by } => {
                change.removed += u32::from(self.remove(id, by, now));
            }
        }
        change.last_seq = self.data.last_seq;
        Ok(change)
    }

    /// The asset `input` describes, as `by` reports it now; the fields that
    /// depend on an earlier version (and the slot) are filled in by
    /// [`Catalog::put`].
    fn build(
        input: &AssetInput,
        source: &str,
        sync: Option<&str>,
        by: &str,
        now: ClusterTime,
    ) -> Asset {
        let mut tags = input.tags.clone();
        tags.sort();
        tags.dedup();
        let metadata = input
            .metadata
            .as_ref()
            .and_then(|m| m.parse().ok())
            .map_or_else(|| "{}".to_string(), |map| Value::Object(map).to_string());
        let health = input
            .health
            .as_ref()
            .map_or_else(Health::default, |h| Health {
                status: HealthStatus::parse(&h.status).unwrap_or_default(),
                message: h.message.clone(),
                checked_at: now,
            });
        let mut relations: Vec<Relation> = input
            .relations
            .iter()
            .filter_map(|r| {
                let kind = RelationType::parse(&r.kind).ok()?;
                Some(Relation {
                    kind,
                    target: AssetId::from(r.target.as_str()),
                })
            })
            .collect();
        relations.sort();
        relations.dedup();
        Asset {
            id: AssetId::from(input.id.as_str()),
            name: input.name.clone(),
            kind: input.kind.clone(),
            source: source.to_string(),
            namespace: input.namespace.clone(),
            owner: input.owner.clone(),
            tags,
            metadata,
            health,
            relations,
            discovered_at: now,
            discovered_by: by.to_string(),
            updated_at: now,
            updated_by: by.to_string(),
            last_seen_at: now,
            version: 1,
            sync: sync.map(str::to_string),
            slot: 0,
        }
    }

    /// Stores a freshly built asset, comparing it with the current version.
    fn put(&mut self, mut asset: Asset, now: ClusterTime) -> Put {
        let Some(old) = self.data.assets.get(&asset.id).cloned() else {
            self.data.last_slot += 1;
            asset.slot = self.data.last_slot;
            self.index.add(&asset);
            let asset = Arc::new(asset);
            self.data.assets.insert(asset.id.clone(), asset.clone());
            self.record(&asset, ChangeKind::Added, Vec::new(), now);
            return Put::Created;
        };
        asset.discovered_at = old.discovered_at;
        asset.discovered_by = old.discovered_by.clone();
        asset.slot = old.slot;
        let diffs = diff(&old, &asset);
        if diffs.is_empty() {
            asset.updated_at = old.updated_at;
            asset.updated_by = old.updated_by.clone();
            asset.version = old.version;
            if asset.health.checked_at == ClusterTime::default() {
                asset.health.checked_at = old.health.checked_at;
            }
            self.data.assets.insert(asset.id.clone(), Arc::new(asset));
            return Put::Unchanged;
        }
        asset.version = old.version + 1;
        self.index.remove(&old);
        self.index.add(&asset);
        let asset = Arc::new(asset);
        self.data.assets.insert(asset.id.clone(), asset.clone());
        self.record(&asset, ChangeKind::Updated, diffs, now);
        Put::Updated
    }

    /// Removes an asset and its history; false if there was none.
    fn remove(&mut self, id: &str, by: &str, now: ClusterTime) -> bool {
        let Some(old) = self.data.assets.remove(id) else {
            return false;
        };
        self.index.remove(&old);
        self.data.history.remove(id);
        self.push_event(&old, ChangeKind::Removed, by, Vec::new(), now);
        true
    }

    /// Adds a history entry (bounded) and an event for a written asset.
    fn record(
        &mut self,
        asset: &Arc<Asset>,
        kind: ChangeKind,
        diffs: Vec<FieldDiff>,
        now: ClusterTime,
    ) {
        let fields = diffs.iter().map(|d| d.field.clone()).collect();
        let version = Arc::new(Version {
            version: asset.version,
            at: now,
            by: asset.updated_by.clone(),
            kind,
            diffs,
        });
        let versions = self.data.history.entry(asset.id.clone()).or_default();
        versions.push_back(version);
        while versions.len() > MAX_HISTORY {
            versions.pop_front();
        }
        self.push_event(asset, kind, &asset.updated_by, fields, now);
    }

    /// Appends an event to the stream (bounded).
    fn push_event(
        &mut self,
        asset: &Arc<Asset>,
        kind: ChangeKind,
        by: &str,
        fields: Vec<String>,
        now: ClusterTime,
    ) {
        self.data.last_seq += 1;
        self.data.events.push_back(Arc::new(CatalogEvent {
            seq: self.data.last_seq,
            at: now,
            kind,
            by: by.to_string(),
            asset: asset.clone(),
            fields,
        }));
        while self.data.events.len() > MAX_EVENTS {
            self.data.events.pop_front();
        }
    }
}

impl CatalogChange {
    fn count(&mut self, put: Put) {
        match put {
            Put::Created => self.created += 1,
            Put::Updated => self.updated += 1,
            Put::Unchanged => self.unchanged += 1,
        }
    }
}

impl AssetPatch {
    /// Writes the fields this patch gives into `input`.
    fn apply_to(&self, input: &mut AssetInput) {
        let patch = self.clone();
        input.name = patch.name.unwrap_or(input.name.clone());
        input.kind = patch.kind.unwrap_or(input.kind.clone());
        if let Some(namespace) = patch.namespace {
            input.namespace = namespace;
        }
        if let Some(owner) = patch.owner {
            input.owner = owner;
        }
        if let Some(tags) = patch.tags {
            input.tags = tags;
        }
        if let Some(metadata) = patch.metadata {
            input.metadata = Some(metadata);
        }
        if let Some(health) = patch.health {
            input.health = Some(health);
        }
        if let Some(relations) = patch.relations {
            input.relations = relations;
        }
    }
}

impl Asset {
    /// The input that describes this asset as it is.
    pub fn to_input(&self) -> AssetInput {
        AssetInput {
            id: self.id.to_string(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            owner: self.owner.clone(),
            tags: self.tags.clone(),
            metadata: Some(Metadata(self.metadata.clone())),
            health: Some(HealthInput {
                status: self.health.status.as_str().to_string(),
                message: self.health.message.clone(),
            }),
            relations: self
                .relations
                .iter()
                .map(|r| RelationInput {
                    kind: r.kind.name().to_string(),
                    target: r.target.to_string(),
                })
                .collect(),
        }
    }
}

/// The described fields that differ between two versions of an asset.
fn diff(old: &Asset, new: &Asset) -> Vec<FieldDiff> {
    let health =
        |a: &Asset| json!({ "status": a.health.status.as_str(), "message": a.health.message });
    let relations = |a: &Asset| {
        a.relations
            .iter()
            .map(|r| json!({ "type": r.kind.name(), "target": &*r.target }))
            .collect::<Value>()
    };
    let metadata = |a: &Asset| serde_json::from_str(&a.metadata).unwrap_or(Value::Null);
    let fields: [(&str, Value, Value); 9] = [
        ("name", json!(old.name), json!(new.name)),
        ("type", json!(old.kind), json!(new.kind)),
        ("source", json!(old.source), json!(new.source)),
        ("namespace", json!(old.namespace), json!(new.namespace)),
        ("owner", json!(old.owner), json!(new.owner)),
        ("tags", json!(old.tags), json!(new.tags)),
        ("metadata", metadata(old), metadata(new)),
        ("health", health(old), health(new)),
        ("relations", relations(old), relations(new)),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(field, before, after)| FieldDiff {
            field: field.to_string(),
            before: cut(before.to_string()),
            after: cut(after.to_string()),
        })
        .collect()
}

/// `text` cut to [`MAX_DIFF_VALUE_LEN`] bytes on a character boundary, with `…`.
fn cut(mut text: String) -> String {
    if text.len() > MAX_DIFF_VALUE_LEN {
        let mut end = MAX_DIFF_VALUE_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
