//! The catalog's derived indexes, maintained on apply so no query scans the
//! whole catalog: assets by type, source, tag, owner, namespace and health;
//! the full-text index; and relations by target, so a relation is stored
//! once (on the asset declaring it) and readable from both ends.
//!
//! They are rebuilt from the assets when a snapshot is loaded, never
//! serialized, so a snapshot cannot carry an index that disagrees with its
//! assets.

use imbl::{OrdMap, OrdSet};

use super::kinds::RelationType;
use super::model::{Asset, AssetId};
use super::text::TextIndex;

/// Value -> ids of the assets with that value, ordered by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldIndex(OrdMap<String, OrdSet<AssetId>>);

impl FieldIndex {
    fn insert(&mut self, value: &str, id: &AssetId) {
        match self.0.get_mut(value) {
            Some(ids) => {
                ids.insert(id.clone());
            }
            None => {
                self.0.insert(value.to_string(), OrdSet::unit(id.clone()));
            }
        }
    }

    fn remove(&mut self, value: &str, id: &AssetId) {
        if let Some(ids) = self.0.get_mut(value) {
            ids.remove(id);
            if ids.is_empty() {
                self.0.remove(value);
            }
        }
    }

    /// The assets with `value` (an empty set if none).
    pub(crate) fn ids(&self, value: &str) -> OrdSet<AssetId> {
        self.0.get(value).cloned().unwrap_or_default()
    }

    /// Every value with its number of assets, by value.
    pub(crate) fn counts(&self) -> Vec<(String, usize)> {
        self.0
            .iter()
            .map(|(value, ids)| (value.clone(), ids.len()))
            .collect()
    }
}

/// Every derived index of the catalog.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    /// By asset type.
    pub(crate) by_type: FieldIndex,
    /// By source.
    pub(crate) by_source: FieldIndex,
    /// By tag (an asset is under each of its tags).
    pub(crate) by_tag: FieldIndex,
    /// By owner.
    pub(crate) by_owner: FieldIndex,
    /// By namespace.
    pub(crate) by_namespace: FieldIndex,
    /// By health status name.
    pub(crate) by_health: FieldIndex,
    /// Full text.
    pub(crate) text: TextIndex,
    /// Asset ids by slot, to turn search hits into assets.
    pub(crate) by_slot: OrdMap<u64, AssetId>,
    /// Target -> (type, declaring asset's slot) for every relation of
    /// every asset.
    pub(crate) incoming: OrdMap<AssetId, OrdSet<(RelationType, u64)>>,
    /// Relations declared by existing assets.
    pub(crate) relations: usize,
}

impl Indexes {
    /// Indexes a new or changed asset.
    pub(crate) fn add(&mut self, asset: &Asset) {
        self.each_field(asset, |index, value, id| index.insert(value, id));
        self.text.add(asset);
        self.by_slot.insert(asset.slot, asset.id.clone());
        for relation in &asset.relations {
            let edge = (relation.kind, asset.slot);
            match self.incoming.get_mut(&relation.target) {
                Some(edges) => {
                    edges.insert(edge);
                }
                None => {
                    self.incoming
                        .insert(relation.target.clone(), OrdSet::unit(edge));
                }
            }
        }
        self.relations += asset.relations.len();
    }

    /// Forgets an asset as it was indexed.
    pub(crate) fn remove(&mut self, asset: &Asset) {
        self.each_field(asset, |index, value, id| index.remove(value, id));
        self.text.remove(asset);
        self.by_slot.remove(&asset.slot);
        for relation in &asset.relations {
            if let Some(edges) = self.incoming.get_mut(&relation.target) {
                edges.remove(&(relation.kind, asset.slot));
                if edges.is_empty() {
                    self.incoming.remove(&relation.target);
                }
            }
        }
        self.relations -= asset.relations.len();
    }

    /// Calls `apply` for every (field index, value) the asset is filed under.
    fn each_field(&mut self, asset: &Asset, apply: impl Fn(&mut FieldIndex, &str, &AssetId)) {
        let id = &asset.id;
        apply(&mut self.by_type, &asset.kind, id);
        apply(&mut self.by_source, &asset.source, id);
        for tag in &asset.tags {
            apply(&mut self.by_tag, tag, id);
        }
        if let Some(owner) = &asset.owner {
            apply(&mut self.by_owner, owner, id);
        }
        if let Some(namespace) = &asset.namespace {
            apply(&mut self.by_namespace, namespace, id);
        }
        apply(&mut self.by_health, asset.health.status.as_str(), id);
    }

    /// Relations declared towards `id`: (type, declaring asset), by type
    /// then the declarer's age.
    pub(crate) fn incoming(&self, id: &str) -> impl Iterator<Item = (RelationType, AssetId)> + '_ {
        let edges = self.incoming.get(id).cloned().unwrap_or_default();
        edges
            .into_iter()
            .filter_map(|(kind, slot)| Some((kind, self.by_slot.get(&slot)?.clone())))
    }
}
