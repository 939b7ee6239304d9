//! The `Asset` type and what hangs off it: health, relations read from
//! either end, lineage and history. Every asset object carries the catalog
//! snapshot its query started from, so one query sees one consistent state.

use std::sync::Arc;

use async_graphql::{Object, SimpleObject, ID};
use cortex_consensus::catalog::{self, Asset, Catalog, RelationType};

use crate::enums::{relation_types, Change, Direction, Health, Relation};
use crate::error::fail;
use crate::limits::{page_size, MAX_HISTORY_PAGE, MAX_RELATIONS_PAGE};
use crate::scalars::{AssetType, DateTime};

/// A catalog snapshot shared by the objects of one query.
pub type View = Arc<Catalog>;

/// An asset, as of the query's snapshot.
pub struct AssetNode {
    /// The asset.
    pub asset: Arc<Asset>,
    /// The snapshot it was read from, for relations, lineage and history.
    pub view: View,
}

impl AssetNode {
    /// Wraps an asset of `view`.
    pub fn new(asset: Arc<Asset>, view: &View) -> AssetNode {
        AssetNode {
            asset,
            view: view.clone(),
        }
    }
}

/// Health as last reported.
#[derive(SimpleObject)]
#[graphql(name = "Health")]
pub struct HealthNode {
    /// The status.
    status: Health,
    /// Why, for people.
    message: Option<String>,
    /// When it was reported (null if never).
    checked_at: Option<DateTime>,
}

/// A relation, read from one of its two ends.
pub struct RelationNode {
    kind: RelationType,
    /// True when the asset read from declared it.
    declared: bool,
    other: catalog::AssetId,
    view: View,
}

#[Object(name = "Relation")]
impl RelationNode {
    /// The declared type.
    #[graphql(name = "type")]
    async fn kind(&self) -> Relation {
        self.kind.into()
    }

    /// The name it reads by from this end: `ownedBy` from the declarer,
    /// `ownerOf` from the target.
    async fn name(&self) -> &'static str {
        if self.declared {
            self.kind.name()
        } else {
            self.kind.inverse_name()
        }
    }

    /// `UPSTREAM` if this asset declared it (the other end is its target),
    /// `DOWNSTREAM` if the other asset did.
    async fn direction(&self) -> Direction {
        if self.declared {
            Direction::Upstream
        } else {
            Direction::Downstream
        }
    }

    /// The other end's id (it may not exist yet).
    async fn asset_id(&self) -> ID {
        ID(self.other.to_string())
    }

    /// The other end, or null while it does not exist.
    async fn asset(&self) -> Option<AssetNode> {
        self.view
            .get(&self.other)
            .map(|asset| AssetNode::new(asset, &self.view))
    }
}

/// One field's change.
#[derive(SimpleObject)]
#[graphql(name = "FieldDiff")]
pub struct DiffNode {
    /// The field.
    field: String,
    /// Its value before, as JSON text.
    before: String,
    /// Its value after, as JSON text.
    after: String,
}

/// One version of an asset.
#[derive(SimpleObject)]
#[graphql(name = "AssetVersion")]
pub struct VersionNode {
    /// The version number (1 for the creation).
    version: u64,
    /// When.
    at: DateTime,
    /// Who.
    by: String,
    /// Created or updated.
    kind: Change,
    /// The fields that changed (empty for the creation).
    diffs: Vec<DiffNode>,
}

impl From<&catalog::Version> for VersionNode {
    fn from(version: &catalog::Version) -> Self {
        VersionNode {
            version: version.version,
            at: DateTime(version.at),
            by: version.by.clone(),
            kind: version.kind.into(),
            diffs: version
                .diffs
                .iter()
                .map(|d| DiffNode {
                    field: d.field.clone(),
                    before: d.before.clone(),
                    after: d.after.clone(),
                })
                .collect(),
        }
    }
}

/// Versions of `id` in `view`, newest first.
pub fn history(view: &Catalog, id: &str, first: i32) -> async_graphql::Result<Vec<VersionNode>> {
    let first = page_size(first, MAX_HISTORY_PAGE).map_err(fail)?;
    Ok(view
        .history(id)
        .iter()
        .take(first)
        .map(|v| VersionNode::from(&**v))
        .collect())
}

#[Object(name = "Asset")]
impl AssetNode {
    /// Stable id (`k8s/default/Pod/web-1`).
    async fn id(&self) -> ID {
        ID(self.asset.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.asset.name
    }

    /// Asset type.
    #[graphql(name = "type")]
    async fn kind(&self) -> AssetType {
        AssetType(self.asset.kind.clone())
    }

    /// The discovery source that last described it.
    async fn source(&self) -> &str {
        &self.asset.source
    }

    /// Namespace or other grouping.
    async fn namespace(&self) -> Option<&str> {
        self.asset.namespace.as_deref()
    }

    /// Owning team or person.
    async fn owner(&self) -> Option<&str> {
        self.asset.owner.as_deref()
    }

    /// Labels, sorted.
    async fn tags(&self) -> &[String] {
        &self.asset.tags
    }

    /// Any JSON object.
    async fn metadata(&self) -> serde_json::Value {
        serde_json::from_str(&self.asset.metadata).unwrap_or_default()
    }

    /// Last reported health.
    async fn health(&self) -> HealthNode {
        let health = &self.asset.health;
        HealthNode {
            status: health.status.into(),
            message: health.message.clone(),
            checked_at: (health.checked_at.0 > 0).then_some(DateTime(health.checked_at)),
        }
    }

    /// When it was first written.
    async fn discovered_at(&self) -> DateTime {
        DateTime(self.asset.discovered_at)
    }

    /// Who first wrote it (`node/run/task#attempt` for workers).
    async fn discovered_by(&self) -> &str {
        &self.asset.discovered_by
    }

    /// When a described field last changed.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.asset.updated_at)
    }

    /// Who made that change.
    async fn updated_by(&self) -> &str {
        &self.asset.updated_by
    }

    /// When a writer last reported it, changed or not.
    async fn last_seen_at(&self) -> DateTime {
        DateTime(self.asset.last_seen_at)
    }

    /// 1 when created, plus one per change.
    async fn version(&self) -> u64 {
        self.asset.version
    }

    /// Its relations, the first `first` of them: `UPSTREAM` the ones it
    /// declares, `DOWNSTREAM` the ones other assets declare towards it.
    #[graphql(complexity = "first.max(0) as usize * child_complexity + 1")]
    async fn relations(
        &self,
        #[graphql(default)] direction: Direction,
        types: Option<Vec<Relation>>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<Vec<RelationNode>> {
        let first = page_size(first, MAX_RELATIONS_PAGE).map_err(fail)?;
        let types = relation_types(types);
        let wanted = |kind: &RelationType| types.as_ref().is_none_or(|t| t.contains(kind));
        let node = |kind, declared, other| RelationNode {
            kind,
            declared,
            other,
            view: self.view.clone(),
        };
        let declared = self
            .asset
            .relations
            .iter()
            .filter(|_| direction != Direction::Downstream)
            .map(|r| (r.kind, true, r.target.clone()));
        let incoming = self
            .view
            .incoming(&self.asset.id)
            .filter(|_| direction != Direction::Upstream)
            .map(|(kind, from)| (kind, false, from));
        Ok(declared
            .chain(incoming)
            .filter(|(kind, _, _)| wanted(kind))
            .take(first)
            .map(|(kind, declared, other)| node(kind, declared, other))
            .collect())
    }

    /// The assets reachable within `depth` hops (this one excluded); see
    /// `Query.lineage` for degrees and edges.
    #[graphql(complexity = "20 * child_complexity")]
    async fn lineage(
        &self,
        #[graphql(default)] direction: Direction,
        #[graphql(default = 1)] depth: i32,
        types: Option<Vec<Relation>>,
    ) -> async_graphql::Result<Vec<AssetNode>> {
        let lineage = crate::query::walk(&self.view, &self.asset.id, direction, depth, types)?;
        Ok(lineage
            .into_iter()
            .flat_map(|l| l.nodes)
            .filter(|(_, degree)| *degree > 0)
            .map(|(asset, _)| AssetNode::new(asset, &self.view))
            .collect())
    }

    /// Its versions, newest first.
    #[graphql(complexity = "first.max(0) as usize * child_complexity")]
    async fn history(
        &self,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<VersionNode>> {
        history(&self.view, &self.asset.id, first)
    }
}
