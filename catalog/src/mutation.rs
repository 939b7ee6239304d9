//! The catalog's mutations: `addAsset`, `updateAsset`, `deleteAsset`. Each
//! is one replicated command; the answer is read back from this node's
//! state once it has applied the write. The server that mounts the schema
//! admits only callers holding the admin token.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use cortex_consensus::audit::{Actor, Role};
use cortex_consensus::catalog::{
    AssetInput as CoreAsset, AssetPatch, CatalogCommand, HealthInput as CoreHealth, Metadata,
    RelationInput as CoreRelation, RelationType, MAX_UPSERT_ASSETS,
};
use cortex_consensus::{Command, ConsensusError, Rejection, Response};

use crate::asset::AssetNode;
use crate::cluster::{SharedChangeLimit, SharedCluster};
use crate::enums::{Health, Relation};
use crate::error::{fail, ApiError};
use crate::query::view;
use crate::scalars::AssetType;

/// Recorded as the author of changes made through GraphQL.
pub const GRAPHQL_ACTOR: &str = "graphql";
/// Source of assets added through GraphQL unless the input names one.
pub const DEFAULT_SOURCE: &str = "api";

/// Health to set.
#[derive(InputObject)]
pub struct HealthInput {
    /// The status.
    status: Health,
    /// Why, for people.
    message: Option<String>,
}

/// A relation from the asset to another (which may not exist yet).
#[derive(InputObject)]
pub struct RelationInput {
    /// Its type.
    #[graphql(name = "type")]
    kind: Relation,
    /// The other asset's id.
    target: ID,
}

/// An asset as a writer describes it (the protocol's `{"asset": ...}`).
#[derive(InputObject)]
pub struct AssetInput {
    /// Stable id, unique in the catalog.
    id: ID,
    /// Display name.
    name: String,
    /// Asset type.
    #[graphql(name = "type")]
    kind: AssetType,
    /// Namespace or grouping.
    namespace: Option<String>,
    /// Owning team or person.
    owner: Option<String>,
    /// Labels.
    #[graphql(default)]
    tags: Vec<String>,
    /// A JSON object.
    metadata: Option<serde_json::Value>,
    /// Health.
    health: Option<HealthInput>,
    /// Relations it declares.
    #[graphql(default)]
    relations: Vec<RelationInput>,
}

/// A new asset and its source.
#[derive(InputObject)]
pub struct AddAssetInput {
    /// Its source (default `api`); stale cleanup of other sources never removes it.
    source: Option<String>,
    /// The asset.
    #[graphql(flatten)]
    asset: AssetInput,
}

/// What an `upsertAssets` call did.
#[derive(SimpleObject)]
pub struct UpsertResult {
    /// Assets created.
    created: u32,
    /// Assets whose described fields changed.
    updated: u32,
    /// Assets reported again unchanged.
    unchanged: u32,
    /// The newest event's cursor after the write.
    cursor: String,
}

impl AssetInput {
    fn into_core(self) -> Result<CoreAsset, ApiError> {
        Ok(CoreAsset {
            id: self.id.0,
            name: self.name,
            kind: self.kind.0,
            namespace: self.namespace,
            owner: self.owner,
            tags: self.tags,
            metadata: self.metadata.map(metadata).transpose()?,
            health: self.health.map(health),
            relations: relations(self.relations),
        })
    }
}

/// Fields to change; absent fields stay, `null` clears namespace or owner.
#[derive(InputObject)]
pub struct UpdateAssetInput {
    /// New name.
    name: Option<String>,
    /// New type.
    #[graphql(name = "type")]
    kind: Option<AssetType>,
    /// New namespace (`null` clears it).
    namespace: MaybeUndefined<String>,
    /// New owner (`null` clears it).
    owner: MaybeUndefined<String>,
    /// New tags, replacing all.
    tags: Option<Vec<String>>,
    /// New metadata object, replacing it.
    metadata: Option<serde_json::Value>,
    /// New health.
    health: Option<HealthInput>,
    /// New relations, replacing all it declares.
    relations: Option<Vec<RelationInput>>,
}

fn metadata(value: serde_json::Value) -> Result<Metadata, ApiError> {
    Metadata::from_value(&value)
        .ok_or_else(|| ApiError::bad_input("metadata must be a JSON object"))
}

fn health(input: HealthInput) -> CoreHealth {
    CoreHealth {
        status: cortex_consensus::catalog::HealthStatus::from(input.status)
            .as_str()
            .to_string(),
        message: input.message,
    }
}

fn relations(inputs: Vec<RelationInput>) -> Vec<CoreRelation> {
    inputs
        .into_iter()
        .map(|r| CoreRelation {
            kind: RelationType::from(r.kind).name().to_string(),
            target: r.target.0,
        })
        .collect()
}

fn optional(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

/// Replicates a catalog command on behalf of the caller, who must be an
/// operator or an admin; the state machine's answer.
async fn write(ctx: &Context<'_>, command: CatalogCommand) -> Result<Response, ApiError> {
    // The server puts the authenticated caller in every request's data; no
    // caller, no write.
    let actor = match ctx.data_opt::<Actor>() {
        Some(actor) if actor.role >= Role::Operator => actor.clone(),
        Some(actor) => {
            return Err(ApiError::Forbidden(format!(
                "{} has the {} role; mutations need operator",
                actor.name, actor.role
            )))
        }
        None => return Err(ApiError::Forbidden("no authenticated caller".into())),
    };
    if let Some(limit) = ctx.data_opt::<SharedChangeLimit>() {
        limit.take(&actor).map_err(|wait| ApiError::RateLimited {
            name: actor.name.clone(),
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        })?;
    }
    let cluster = ctx.data_unchecked::<SharedCluster>();
    Ok(cluster.write(actor, Command::Catalog(command)).await?)
}

/// The asset `id` as this node has applied it.
fn read_back(ctx: &Context<'_>, id: &str) -> async_graphql::Result<AssetNode> {
    let view = view(ctx);
    match view.get(id) {
        Some(asset) => Ok(AssetNode::new(asset, &view)),
        None => Err(fail(ApiError::NotFound(format!(
            "asset {id:?} was written but is no longer there"
        )))),
    }
}

/// Catalog mutations.
#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an asset; `ASSET_EXISTS` if the id is taken.
    async fn add_asset(
        &self,
        ctx: &Context<'_>,
        input: AddAssetInput,
    ) -> async_graphql::Result<AssetNode> {
        let asset = input.asset.into_core().map_err(fail)?;
        let id = asset.id.clone();
        let command = CatalogCommand::Add {
            source: input.source.unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
            by: GRAPHQL_ACTOR.to_string(),
            asset: Box::new(asset),
        };
        write(ctx, command).await.map_err(fail)?;
        read_back(ctx, &id)
    }

    /// Changes the given fields of an asset; `NOT_FOUND` if there is none.
    async fn update_asset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAssetInput,
    ) -> async_graphql::Result<AssetNode> {
        let patch = AssetPatch {
            name: input.name,
            kind: input.kind.map(|k| k.0),
            namespace: optional(input.namespace),
            owner: optional(input.owner),
            tags: input.tags,
            metadata: input.metadata.map(metadata).transpose().map_err(fail)?,
            health: input.health.map(health),
            relations: input.relations.map(relations),
        };
        let command = CatalogCommand::Update {
            id: id.0.clone(),
            by: GRAPHQL_ACTOR.to_string(),
            patch: Box::new(patch),
        };
        write(ctx, command).await.map_err(fail)?;
        read_back(ctx, &id)
    }

    /// Creates or replaces up to 1,000 assets of a discovery `source` at
    /// once, stamped with the pass `sync` if given (see `finishSync`); one
    /// invalid asset refuses the call (`extensions.index` names it) and
    /// nothing is written. An asset reported unchanged gets no event.
    async fn upsert_assets(
        &self,
        ctx: &Context<'_>,
        source: String,
        sync: Option<String>,
        by: Option<String>,
        assets: Vec<AssetInput>,
    ) -> async_graphql::Result<UpsertResult> {
        if assets.len() > MAX_UPSERT_ASSETS {
            return Err(fail(ApiError::Limit(format!(
                "{} assets, at most {MAX_UPSERT_ASSETS} per call",
                assets.len()
            ))));
        }
        let assets = assets
            .into_iter()
            .enumerate()
            .map(|(index, asset)| {
                asset.into_core().map_err(|e| ApiError::BadInput {
                    message: format!("asset #{index}: {e}"),
                    index: Some(index),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let by = by.unwrap_or_else(|| GRAPHQL_ACTOR.to_string());
        let commands = CatalogCommand::upserts(&source, sync.as_deref(), &by, assets);
        for command in &commands {
            command
                .check()
                .map_err(|e| fail(ConsensusError::from(Rejection::Catalog(e))))?;
        }
        let mut result = UpsertResult {
            created: 0,
            updated: 0,
            unchanged: 0,
            cursor: String::new(),
        };
        for command in commands {
            if let Response::Catalog(change) = write(ctx, command).await.map_err(fail)? {
                result.created += change.created;
                result.updated += change.updated;
                result.unchanged += change.unchanged;
                result.cursor = change.last_seq.to_string();
            }
        }
        Ok(result)
    }

    /// Ends the discovery pass `sync` of `source`: removes that source's
    /// assets no `upsertAssets` stamped with it. Answers how many were removed.
    async fn finish_sync(
        &self,
        ctx: &Context<'_>,
        source: String,
        sync: String,
    ) -> async_graphql::Result<u32> {
        match write(ctx, CatalogCommand::FinishSync { source, sync })
            .await
            .map_err(fail)?
        {
            Response::Catalog(change) => Ok(change.removed),
            other => Err(fail(ApiError::Internal(format!(
                "unexpected answer {other:?}"
            )))),
        }
    }

    /// Deletes an asset; false if there was none. Relations other assets
    /// declare towards it stay, unresolved.
    async fn delete_asset(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let command = CatalogCommand::Delete {
            id: id.0,
            by: GRAPHQL_ACTOR.to_string(),
        };
        match write(ctx, command).await.map_err(fail)? {
            Response::Catalog(change) => Ok(change.removed > 0),
            other => Err(fail(ApiError::Internal(format!(
                "unexpected answer {other:?}"
            )))),
        }
    }
}
