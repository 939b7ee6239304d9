//! Reading the catalog: filtered pages in id order with a cursor, counts,
//! statistics and ranked search, all answered from the indexes.
//!
//! A filtered page walks the smallest index set among the filters given
//! (or the id range of an id prefix, or all assets) from the cursor and
//! checks the other filters on each asset, so its cost follows the page and
//! the most selective filter, not the catalog's size.

use std::ops::Bound;
use std::sync::Arc;

use imbl::OrdSet;

use super::kinds::{HealthStatus, RelationType};
use super::model::{Asset, AssetId};
use super::Catalog;

/// Conditions on assets; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFilter {
    /// Asset type.
    pub kind: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// One of its tags.
    pub tag: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Health status.
    pub health: Option<HealthStatus>,
    /// Its id starts with this.
    pub id_prefix: Option<String>,
}

impl AssetFilter {
    /// Whether `asset` passes every condition.
    pub fn matches(&self, asset: &Asset) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|want| have == Some(want))
        };
        same(&self.kind, Some(&asset.kind))
            && same(&self.source, Some(&asset.source))
            && same(&self.owner, asset.owner.as_deref())
            && same(&self.namespace, asset.namespace.as_deref())
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| asset.tags.binary_search(tag).is_ok())
            && self.health.is_none_or(|h| asset.health.status == h)
            && self
                .id_prefix
                .as_ref()
                .is_none_or(|prefix| asset.id.starts_with(prefix.as_str()))
    }
}

/// One page of assets in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The assets.
    pub assets: Vec<Arc<Asset>>,
    /// Whether more assets pass the filter after the last one.
    pub has_next: bool,
}

/// Counts over the whole catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Assets.
    pub assets: usize,
    /// Relations declared by assets (resolved or not).
    pub relations: usize,
    /// Assets per type, by type.
    pub by_type: Vec<(String, usize)>,
    /// Assets per source, by source.
    pub by_source: Vec<(String, usize)>,
    /// Assets per health status, by status name.
    pub by_health: Vec<(String, usize)>,
    /// Assets per namespace, by namespace.
    pub by_namespace: Vec<(String, usize)>,
    /// Sequence number of the newest event.
    pub last_seq: u64,
}

impl Catalog {
    /// The smallest index set that every match belongs to, if any filter
    /// other than the id prefix is given.
    fn candidates(&self, filter: &AssetFilter) -> Option<OrdSet<AssetId>> {
        let index = &self.index;
        let health = filter.health.map(|h| h.as_str().to_string());
        [
            (&index.by_type, &filter.kind),
            (&index.by_source, &filter.source),
            (&index.by_tag, &filter.tag),
            (&index.by_owner, &filter.owner),
            (&index.by_namespace, &filter.namespace),
            (&index.by_health, &health),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.as_ref().map(|value| field.ids(value)))
        .min_by_key(OrdSet::len)
    }

    /// Calls `visit` on every asset passing `filter` with an id after
    /// `after`, in id order, until it returns false.
    fn scan(
        &self,
        filter: &AssetFilter,
        after: Option<&str>,
        mut visit: impl FnMut(&Arc<Asset>) -> bool,
    ) {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let range = (lower, Bound::Unbounded);
        let mut check = |asset: &Arc<Asset>| !filter.matches(asset) || visit(asset);
        if let Some(ids) = self.candidates(filter) {
            for id in ids.range::<_, str>(range) {
                if let Some(asset) = self.data.assets.get(id) {
                    if !check(asset) {
                        return;
                    }
                }
            }
            return;
        }
        let prefix = filter.id_prefix.as_deref().unwrap_or("");
        let lower = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        for (id, asset) in self.data.assets.range::<_, str>((lower, Bound::Unbounded)) {
            if !id.starts_with(prefix) || !check(asset) {
                return;
            }
        }
    }

    /// Up to `first` assets passing `filter` with ids after `after`.
    pub fn page(&self, filter: &AssetFilter, after: Option<&str>, first: usize) -> Page {
        let mut assets = Vec::with_capacity(first.min(1024));
        let mut has_next = false;
        self.scan(filter, after, |asset| {
            if assets.len() == first {
                has_next = true;
                return false;
            }
            assets.push(asset.clone());
            true
        });
        Page { assets, has_next }
    }

    /// Number of assets passing `filter` (walks the most selective index set).
    pub fn count(&self, filter: &AssetFilter) -> usize {
        if *filter == AssetFilter::default() {
            return self.len();
        }
        let mut count = 0;
        self.scan(filter, None, |_| {
            count += 1;
            true
        });
        count
    }

    /// Relations other assets declare towards `id` (which need not exist),
    /// as (type, declaring asset), by type then the declarer's age.
    pub fn incoming(&self, id: &str) -> impl Iterator<Item = (RelationType, AssetId)> + '_ {
        self.index.incoming(id)
    }

    /// Counts by type, source, health and namespace.
    pub fn stats(&self) -> Stats {
        Stats {
            assets: self.len(),
            relations: self.index.relations,
            by_type: self.index.by_type.counts(),
            by_source: self.index.by_source.counts(),
            by_health: self.index.by_health.counts(),
            by_namespace: self.index.by_namespace.counts(),
            last_seq: self.data.last_seq,
        }
    }

    /// The best `limit` assets for `query` (see the `text` module), of type
    /// `kind` if given; an asset whose id is the whole query comes first.
    pub fn search(&self, query: &str, kind: Option<&str>, limit: usize) -> Vec<Arc<Asset>> {
        let of_kind = |slot: u64| {
            kind.is_none_or(|kind| {
                let asset = self.index.by_slot.get(&slot).and_then(|id| self.get(id));
                asset.is_some_and(|asset| asset.kind == kind)
            })
        };
        let exact = self
            .get(query.trim())
            .filter(|asset| kind.is_none_or(|kind| asset.kind == kind));
        let hits = self.index.text.search(query, self.len(), limit, of_kind);
        exact
            .clone()
            .into_iter()
            .chain(
                hits.into_iter()
                    .filter_map(|hit| self.index.by_slot.get(&hit.slot))
                    .filter(|id| exact.as_ref().is_none_or(|e| e.id != **id))
                    .filter_map(|id| self.get(id)),
            )
            .take(limit)
            .collect()
    }
}
