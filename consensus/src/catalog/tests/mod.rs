//! Tests of the catalog through the pure state machine: every command goes
//! through [`State::apply`] as a log entry would.

mod lineage;
mod queries;
mod scale;
mod snapshot;
mod writes;

use serde_json::{json, Value};

use super::{AssetInput, CatalogChange, CatalogCommand};
use crate::command::{ClusterTime, Command, Rejection, Request, RequestId, Response};
use crate::State;

/// A state and the clock and ids of the entries applied to it.
#[derive(Default)]
struct Log {
    state: State,
    entries: u64,
}

impl Log {
    /// Applies `command` as the next entry, one second after the previous.
    fn apply(&mut self, command: CatalogCommand) -> Result<CatalogChange, Rejection> {
        self.entries += 1;
        let request = Request {
            id: RequestId(format!("r{}", self.entries)),
            actor: None,
            time: ClusterTime(1_000 * self.entries),
            command: Command::Catalog(command),
        };
        match self.state.apply(&request)? {
            Response::Catalog(change) => Ok(change),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// Upserts `assets` (JSON objects) from `source` in pass `sync`.
    fn upsert(&mut self, source: &str, sync: Option<&str>, assets: Vec<Value>) -> CatalogChange {
        self.apply(upsert(source, sync, assets))
            .expect("upsert applies")
    }

    fn catalog(&self) -> &super::Catalog {
        &self.state.catalog
    }
}

/// An upsert command of JSON assets.
fn upsert(source: &str, sync: Option<&str>, assets: Vec<Value>) -> CatalogCommand {
    CatalogCommand::Upsert {
        source: source.into(),
        sync: sync.map(str::to_string),
        by: format!("{source}#1"),
        assets: assets.into_iter().map(input).collect(),
    }
}

/// An asset input from its protocol JSON.
fn input(value: Value) -> AssetInput {
    serde_json::from_value(value).expect("valid asset JSON")
}

/// A minimal asset of `kind` named after the last part of its id.
fn asset(id: &str, kind: &str) -> Value {
    let name = id.rsplit('/').next().unwrap_or(id);
    json!({ "id": id, "name": name, "type": kind })
}

/// `asset` with relations `(type, target)`.
fn related(id: &str, kind: &str, relations: &[(&str, &str)]) -> Value {
    let mut value = asset(id, kind);
    value["relations"] = relations
        .iter()
        .map(|(kind, target)| json!({ "type": kind, "target": target }))
        .collect();
    value
}
