//! Tests of the schema over an in-memory state machine: every write goes
//! through `State::apply` as a log entry would, without a cluster.

mod fuzz;
mod limits;
mod mutations;
mod queries;
mod sdl;
mod subscriptions;
mod views;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::async_trait::async_trait;
use async_graphql::{Request, Variables};
use cortex_consensus::audit::{Actor, Role};
use cortex_consensus::{
    ClusterTime, Command, ConsensusError, Request as Entry, RequestId, Response, State,
};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{schema, CatalogSchema, Cluster};

/// One "voter" applying entries in memory.
struct MemoryCluster {
    state: Mutex<State>,
    applied: watch::Sender<u64>,
    entries: AtomicU64,
}

#[async_trait]
impl Cluster for MemoryCluster {
    fn read(&self, read: &mut dyn FnMut(&State)) {
        read(&self.state.lock().unwrap());
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    async fn write(&self, actor: Actor, command: Command) -> Result<Response, ConsensusError> {
        command.check()?;
        let n = self.entries.fetch_add(1, Ordering::SeqCst) + 1;
        let entry = Entry {
            id: RequestId(format!("w{n}")),
            actor: Some(actor),
            time: ClusterTime(1_766_311_200_000 + n * 1000),
            command,
        };
        let outcome = self.state.lock().unwrap().apply(&entry);
        self.applied.send_replace(n);
        Ok(outcome?)
    }
}

/// A schema over an empty in-memory cluster, and the cluster.
fn setup() -> (CatalogSchema, Arc<MemoryCluster>) {
    let cluster = Arc::new(MemoryCluster {
        state: Mutex::new(State::default()),
        applied: watch::channel(0).0,
        entries: AtomicU64::new(0),
    });
    (schema(cluster.clone()), cluster)
}

/// The caller the tests act as unless they say otherwise.
fn operator() -> Actor {
    Actor {
        name: "tester".into(),
        role: Role::Operator,
    }
}

/// Executes `query` with `variables` as an operator; the whole response as JSON.
async fn run(schema: &CatalogSchema, query: &str, variables: Value) -> Value {
    run_as(schema, Some(operator()), query, variables).await
}

/// Executes `query` with `variables` as `actor`; the whole response as JSON.
async fn run_as(
    schema: &CatalogSchema,
    actor: Option<Actor>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = Request::new(query).variables(Variables::from_json(variables));
    if let Some(actor) = actor {
        request = request.data(actor);
    }
    serde_json::to_value(schema.execute(request).await).unwrap()
}

/// Executes `query`, which must succeed; its `data`.
async fn data(schema: &CatalogSchema, query: &str, variables: Value) -> Value {
    let response = run(schema, query, variables).await;
    assert!(response.get("errors").is_none(), "{query}: {response}");
    response["data"].clone()
}

/// Executes `query`, which must fail; the first error's code and message.
async fn error(schema: &CatalogSchema, query: &str, variables: Value) -> (String, String) {
    let response = run(schema, query, variables).await;
    let error = &response["errors"][0];
    assert!(!error.is_null(), "{query} succeeded: {response}");
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        error["message"].as_str().unwrap_or("").to_string(),
    )
}

const ADD: &str = "mutation($input: AddAssetInput!) { addAsset(input: $input) { id version } }";

/// Adds an asset through the mutation.
async fn add(schema: &CatalogSchema, input: Value) {
    data(schema, ADD, json!({ "input": input })).await;
}
