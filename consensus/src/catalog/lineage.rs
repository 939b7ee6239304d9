//! Lineage: the assets reachable from one asset through relations, each with
//! its distance in hops (its `degree`), and the relations walked.
//!
//! A relation points from the asset declaring it to its target, and the
//! target is *upstream*: what the declarer is owned by, depends on, runs,
//! is derived from, is a finding of, uses, was authored by, is a member of,
//! is scheduled on. So `UPSTREAM` follows relations as declared, `DOWNSTREAM`
//! follows them backwards (what is owned by, depends on, ... this asset),
//! and `BOTH` does both. Targets that do not exist (yet) are skipped.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::kinds::RelationType;
use super::model::{Asset, AssetId};
use super::Catalog;

/// Deepest lineage walk accepted.
pub const MAX_LINEAGE_DEPTH: u32 = 10;
/// Most assets one lineage returns; the walk stops there and says so.
pub const MAX_LINEAGE_NODES: usize = 10_000;

/// Which way to walk relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Towards targets, as relations are declared.
    Upstream,
    /// Towards declarers.
    Downstream,
    /// Both ways.
    Both,
}

/// A relation walked by a lineage query.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineageEdge {
    /// The declaring asset.
    pub from: AssetId,
    /// The relation's declared type.
    pub kind: RelationType,
    /// The target.
    pub to: AssetId,
}

/// The result of a lineage query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// Assets reached, with their degree (0 for the starting asset), by
    /// degree then id.
    pub nodes: Vec<(Arc<Asset>, u32)>,
    /// Relations walked, each once, in order.
    pub edges: Vec<LineageEdge>,
    /// Whether the walk stopped at [`MAX_LINEAGE_NODES`].
    pub truncated: bool,
}

impl Catalog {
    /// The lineage of `id` up to `depth` hops (at most
    /// [`MAX_LINEAGE_DEPTH`]), following only relations of `kinds` if given;
    /// `None` if there is no such asset.
    pub fn lineage(
        &self,
        id: &str,
        direction: Direction,
        depth: u32,
        kinds: Option<&[RelationType]>,
    ) -> Option<Lineage> {
        let root = self.get(id)?;
        let depth = depth.min(MAX_LINEAGE_DEPTH);
        let allowed = |kind: &RelationType| kinds.is_none_or(|kinds| kinds.contains(kind));
        let mut degree: BTreeMap<AssetId, u32> = BTreeMap::from([(root.id.clone(), 0)]);
        let mut reached = vec![root.clone()];
        let mut edges = BTreeSet::new();
        let mut frontier = vec![root];
        let mut truncated = false;
        for hop in 1..=depth {
            let mut next = Vec::new();
            for asset in &frontier {
                for (edge, neighbour) in self.neighbours(asset, direction) {
                    if !allowed(&edge.kind) {
                        continue;
                    }
                    let Some(other) = self.get(&neighbour) else {
                        continue;
                    };
                    if let Entry::Vacant(slot) = degree.entry(neighbour) {
                        if reached.len() >= MAX_LINEAGE_NODES {
                            truncated = true;
                            continue;
                        }
                        slot.insert(hop);
                        reached.push(other.clone());
                        next.push(other);
                    }
                    edges.insert(edge);
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        let mut nodes: Vec<(Arc<Asset>, u32)> = reached
            .into_iter()
            .map(|asset| {
                let d = degree.get(&asset.id).copied().unwrap_or_default();
                (asset, d)
            })
            .collect();
        nodes.sort_by(|(a, da), (b, db)| da.cmp(db).then_with(|| a.id.cmp(&b.id)));
        Some(Lineage {
            nodes,
            edges: edges.into_iter().collect(),
            truncated,
        })
    }

    /// The relations of `asset` in `direction`, each with the asset at its
    /// other end (which may not exist).
    fn neighbours(&self, asset: &Asset, direction: Direction) -> Vec<(LineageEdge, AssetId)> {
        let mut out = Vec::new();
        if direction != Direction::Downstream {
            for relation in &asset.relations {
                let edge = LineageEdge {
                    from: asset.id.clone(),
                    kind: relation.kind,
                    to: relation.target.clone(),
                };
                out.push((edge, relation.target.clone()));
            }
        }
        if direction != Direction::Upstream {
            for (kind, from) in self.index.incoming(&asset.id) {
                let edge = LineageEdge {
                    from: from.clone(),
                    kind,
                    to: asset.id.clone(),
                };
                out.push((edge, from));
            }
        }
        out
    }
}
