//! The catalog's queries: one asset, filtered pages with a cursor, ranked
//! search, lineage with degrees and edges, history and statistics.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, ID};
use cortex_consensus::catalog::{
    AssetFilter, Catalog, Lineage, MAX_LINEAGE_DEPTH, MAX_QUERY_TERMS,
};

use crate::asset::{history, AssetNode, VersionNode, View};
use crate::cluster::{catalog, SharedCluster};
use crate::enums::{relation_types, Direction, Health, Relation};
use crate::error::{fail, ApiError};
use crate::limits::{page_size, MAX_PAGE, MAX_SEARCH};
use crate::scalars::AssetType;

/// Longest search query, in bytes.
const MAX_QUERY_BYTES: usize = 1024;

/// The catalog as this node has applied it now.
pub fn view(ctx: &Context<'_>) -> View {
    let cluster = ctx.data_unchecked::<SharedCluster>();
    Arc::new(catalog(cluster.as_ref()))
}

/// Runs a lineage walk after checking its depth.
pub fn walk(
    view: &Catalog,
    id: &str,
    direction: Direction,
    depth: i32,
    types: Option<Vec<Relation>>,
) -> async_graphql::Result<Option<Lineage>> {
    let depth = match u32::try_from(depth) {
        Ok(depth) if depth <= MAX_LINEAGE_DEPTH => depth,
        _ => {
            return Err(fail(ApiError::Limit(format!(
                "depth must be 0 to {MAX_LINEAGE_DEPTH}, got {depth}"
            ))))
        }
    };
    let types = relation_types(types);
    Ok(view.lineage(id, direction.into(), depth, types.as_deref()))
}

/// Catalog queries.
#[derive(Default)]
pub struct CatalogQuery;

/// A page of assets.
pub struct AssetConnection {
    page: Vec<AssetNode>,
    has_next: bool,
    filter: AssetFilter,
    view: View,
}

/// An asset and its cursor.
#[derive(SimpleObject)]
pub struct AssetEdge {
    /// Pass as `after` to continue after this asset (it is its id).
    cursor: String,
    /// The asset.
    node: AssetNode,
}

/// Where a page ends.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more assets match after this page.
    has_next_page: bool,
    /// The last asset's cursor.
    end_cursor: Option<String>,
}

#[Object]
impl AssetConnection {
    /// The assets with their cursors.
    async fn edges(&self) -> Vec<AssetEdge> {
        self.page
            .iter()
            .map(|node| AssetEdge {
                cursor: node.asset.id.to_string(),
                node: AssetNode::new(node.asset.clone(), &self.view),
            })
            .collect()
    }

    /// The assets.
    async fn nodes(&self) -> Vec<AssetNode> {
        self.page
            .iter()
            .map(|node| AssetNode::new(node.asset.clone(), &self.view))
            .collect()
    }

    /// Where this page ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next,
            end_cursor: self.page.last().map(|node| node.asset.id.to_string()),
        }
    }

    /// Every asset matching the filters (walks the most selective index).
    async fn total_count(&self) -> usize {
        self.view.count(&self.filter)
    }
}

/// An asset reached by a lineage walk.
#[derive(SimpleObject)]
pub struct LineageEntry {
    /// The asset.
    asset: AssetNode,
    /// Hops from the starting asset (0 for itself).
    degree: u32,
}

/// A relation walked.
#[derive(SimpleObject)]
#[graphql(name = "LineageEdge")]
pub struct LineageEdgeNode {
    /// The declaring asset.
    from: ID,
    /// The target.
    to: ID,
    /// The declared type.
    #[graphql(name = "type")]
    kind: Relation,
}

/// A lineage walk's result.
#[derive(SimpleObject)]
#[graphql(name = "Lineage")]
pub struct LineageNode {
    /// The starting asset.
    root: AssetNode,
    /// Every asset reached (the root included, degree 0), by degree then id.
    nodes: Vec<LineageEntry>,
    /// The relations walked, each once.
    edges: Vec<LineageEdgeNode>,
    /// True if the walk stopped at its node limit.
    truncated: bool,
}

/// A value and how many assets have it.
#[derive(SimpleObject)]
pub struct Count {
    /// The value (a type, source, health status or namespace).
    key: String,
    /// Assets with it.
    count: usize,
}

/// Counts over the catalog.
#[derive(SimpleObject)]
#[graphql(name = "AssetStats")]
pub struct StatsNode {
    /// Assets.
    total: usize,
    /// Relations declared (resolved or not).
    relations: usize,
    /// Per type.
    by_type: Vec<Count>,
    /// Per source.
    by_source: Vec<Count>,
    /// Per health status.
    by_health: Vec<Count>,
    /// Per namespace.
    by_namespace: Vec<Count>,
    /// The newest event's cursor: subscribe with `after` set to it to get
    /// every change from this state on.
    cursor: String,
}

fn counts(pairs: Vec<(String, usize)>) -> Vec<Count> {
    pairs
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect()
}

#[Object]
impl CatalogQuery {
    /// An asset by exact id.
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> Option<AssetNode> {
        let view = view(ctx);
        view.get(&id).map(|asset| AssetNode::new(asset, &view))
    }

    /// Assets matching every filter given, in id order, `first` at a time
    /// after the cursor `after`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "first.max(0) as usize * child_complexity + 1")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] kind: Option<AssetType>,
        source: Option<String>,
        tag: Option<String>,
        owner: Option<String>,
        namespace: Option<String>,
        health: Option<Health>,
        id_prefix: Option<String>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<AssetConnection> {
        let first = page_size(first, MAX_PAGE).map_err(fail)?;
        let filter = AssetFilter {
            kind: kind.map(|k| k.0),
            source,
            tag,
            owner,
            namespace,
            health: health.map(Into::into),
            id_prefix,
        };
        let view = view(ctx);
        let page = view.page(&filter, after.as_deref(), first);
        Ok(AssetConnection {
            page: page
                .assets
                .into_iter()
                .map(|asset| AssetNode::new(asset, &view))
                .collect(),
            has_next: page.has_next,
            filter,
            view,
        })
    }

    /// Full-text search over names, ids, tags, namespaces, owners and
    /// metadata strings, best first. Every word must match; `word*` matches
    /// a prefix; an exact id comes first.
    #[graphql(complexity = "first.max(0) as usize * child_complexity + 1")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(name = "type")] kind: Option<AssetType>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<AssetNode>> {
        let first = page_size(first, MAX_SEARCH).map_err(fail)?;
        if query.len() > MAX_QUERY_BYTES {
            return Err(fail(ApiError::Limit(format!(
                "query is {} bytes, at most {MAX_QUERY_BYTES} (and {MAX_QUERY_TERMS} terms)",
                query.len()
            ))));
        }
        let view = view(ctx);
        Ok(view
            .search(&query, kind.as_ref().map(|k| k.0.as_str()), first)
            .into_iter()
            .map(|asset| AssetNode::new(asset, &view))
            .collect())
    }

    /// The assets reachable from `id` within `depth` hops (at most 10), each
    /// with its degree, and the relations walked; null if `id` does not exist.
    #[graphql(complexity = "50 * child_complexity")]
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default)] direction: Direction,
        #[graphql(default = 1)] depth: i32,
        types: Option<Vec<Relation>>,
    ) -> async_graphql::Result<Option<LineageNode>> {
        let view = view(ctx);
        let Some(lineage) = walk(&view, &id, direction, depth, types)? else {
            return Ok(None);
        };
        let mut nodes = Vec::with_capacity(lineage.nodes.len());
        let mut root = None;
        for (asset, degree) in lineage.nodes {
            if degree == 0 {
                root = Some(AssetNode::new(asset.clone(), &view));
            }
            nodes.push(LineageEntry {
                asset: AssetNode::new(asset, &view),
                degree,
            });
        }
        let edges = lineage
            .edges
            .into_iter()
            .map(|edge| LineageEdgeNode {
                from: ID(edge.from.to_string()),
                to: ID(edge.to.to_string()),
                kind: edge.kind.into(),
            })
            .collect();
        Ok(root.map(|root| LineageNode {
            root,
            nodes,
            edges,
            truncated: lineage.truncated,
        }))
    }

    /// An asset's versions with field diffs, newest first (empty for an
    /// unknown or deleted asset).
    #[graphql(complexity = "first.max(0) as usize * child_complexity + 1")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<VersionNode>> {
        history(&view(ctx), &id, first)
    }

    /// Counts by type, source, health and namespace.
    async fn stats(&self, ctx: &Context<'_>) -> StatsNode {
        let stats = view(ctx).stats();
        StatsNode {
            total: stats.assets,
            relations: stats.relations,
            by_type: counts(stats.by_type),
            by_source: counts(stats.by_source),
            by_health: counts(stats.by_health),
            by_namespace: counts(stats.by_namespace),
            cursor: stats.last_seq.to_string(),
        }
    }
}
