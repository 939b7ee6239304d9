//! `cortex catalog ...`: search, show and lineage of catalog assets through
//! a daemon's `/graphql`, with the same API address and token as the other
//! client commands; and `cortex bench catalog` ([`bench`]).

pub mod bench;
mod render;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::ApiArgs;
use crate::client::{ApiClient, Body};

/// `cortex catalog ...`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Full-text search: every word must match, `word*` matches a prefix.
    Search(SearchArgs),
    /// Show one asset: its fields, relations both ways and recent history.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        /// The asset's id.
        id: String,
        /// Print the raw JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The assets related to one, hop by hop.
    Lineage {
        #[command(flatten)]
        api: ApiArgs,
        /// The asset's id.
        id: String,
        /// Hops to follow (0 to 10).
        #[arg(long, default_value_t = 2)]
        depth: u32,
        /// upstream: what it is owned by, depends on, runs, ...; downstream:
        /// what is owned by it, depends on it, ...
        #[arg(long, value_enum, default_value_t = Direction::Both)]
        direction: Direction,
        /// Print the raw JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of `cortex catalog search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// What to look for.
    text: String,
    /// Only assets of this type (`k8s.pod`, `repository`, ...).
    #[arg(long = "type")]
    kind: Option<String>,
    /// Most results (at most 100).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Which way `lineage` follows relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Direction {
    /// Towards what the asset is owned by, depends on, runs, ...
    Upstream,
    /// Towards what is owned by it, depends on it, ...
    Downstream,
    /// Both.
    Both,
}

impl Direction {
    fn graphql(self) -> &'static str {
        match self {
            Direction::Upstream => "UPSTREAM",
            Direction::Downstream => "DOWNSTREAM",
            Direction::Both => "BOTH",
        }
    }
}

const SEARCH: &str = "query($q: String!, $type: AssetType, $first: Int!) {
    search(query: $q, type: $type, first: $first) {
        id name type namespace health { status } } }";

const SHOW: &str = "query($id: ID!) { asset(id: $id) {
    id name type source namespace owner tags metadata version
    health { status message checkedAt }
    discoveredAt discoveredBy updatedAt updatedBy lastSeenAt
    relations(first: 200) { name assetId asset { name type } }
    history(first: 5) { version at by kind diffs { field } } } }";

const LINEAGE: &str = "query($id: ID!, $depth: Int!, $direction: Direction!) {
    lineage(id: $id, depth: $depth, direction: $direction) {
        nodes { degree asset { id name type } } edges { from to type } truncated } }";

/// Runs a `cortex catalog` command.
pub async fn run(command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Search(args) => {
            let client = ApiClient::from_args(&args.api)?;
            let variables = json!({ "q": args.text, "type": args.kind, "first": args.limit });
            let data = graphql(&client, SEARCH, variables).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&data["search"])?);
            } else {
                print!("{}", render::search(&data["search"]));
            }
        }
        CatalogCommand::Show { api, id, json } => {
            let client = ApiClient::from_args(&api)?;
            let data = graphql(&client, SHOW, json!({ "id": id })).await?;
            let asset = &data["asset"];
            if asset.is_null() {
                bail!("no asset {id:?}");
            }
            if json {
                println!("{}", serde_json::to_string_pretty(asset)?);
            } else {
                print!("{}", render::asset(asset));
            }
        }
        CatalogCommand::Lineage {
            api,
            id,
            depth,
            direction,
            json,
        } => {
            let client = ApiClient::from_args(&api)?;
            let variables = json!({ "id": id, "depth": depth, "direction": direction.graphql() });
            let data = graphql(&client, LINEAGE, variables).await?;
            let lineage = &data["lineage"];
            if lineage.is_null() {
                bail!("no asset {id:?}");
            }
            if json {
                println!("{}", serde_json::to_string_pretty(lineage)?);
            } else {
                print!("{}", render::lineage(&id, lineage));
            }
        }
    }
    Ok(())
}

/// Executes a GraphQL operation; its `data`, or its first error as
/// `CODE: message`.
pub async fn graphql(client: &ApiClient, query: &str, variables: Value) -> anyhow::Result<Value> {
    let body = json!({ "query": query, "variables": variables });
    let mut answer = client
        .send(Method::POST, "/graphql", Some(Body::Json(body)))
        .await?;
    if let Some(error) = answer["errors"].get(0) {
        let code = error["extensions"]["code"].as_str().unwrap_or("ERROR");
        let message = error["message"].as_str().unwrap_or("unknown error");
        return Err(anyhow!("{code}: {message}"));
    }
    Ok(answer["data"].take())
}
