//! `k8s-inventory`: Kubernetes resources as catalog assets, with lineage.
//!
//! * [`connect`] builds a client from the plan's target (kubeconfig,
//!   context or in-cluster).
//! * [`list`] reads each kind as JSON (Secrets as metadata only).
//! * [`objects`], [`health`] and [`lineage`] turn objects into assets,
//!   purely: no I/O, so they are tested on plain JSON.
//! * [`asset`] is the asset line every discovery builtin emits, and the id
//!   scheme (`k8s/<namespace or _cluster>/<Kind>/<name>`) the audit reuses.
//! * [`pods`] finds the pod spec in any workload.
//!
//! A kind the server refuses (403) or does not serve (404) is skipped and
//! named in the result; any other failure fails the attempt.

pub mod asset;
pub mod connect;
pub mod health;
pub mod lineage;
pub mod list;
pub mod objects;
pub mod pods;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use cortex_consensus::plan::KubeTarget;
use kube::Client;
use serde_json::{json, Value};

use self::asset::Asset;
use self::lineage::PodLabels;
use self::list::{Kind, ListError};
use crate::executor::Events;
use crate::protocol::Line;

/// Runs `k8s-inventory` on `target`.
pub async fn run(target: &KubeTarget, events: &Events) -> Result<(), String> {
    let client = connect::client(target).await?;
    let fetched = fetch(&client, &list::INVENTORY, &target.namespaces, events, 90).await?;
    let assets = inventory(&fetched.objects, &target.namespaces);
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    for asset in &assets {
        *by_type.entry(asset.kind.clone()).or_default() += 1;
    }
    let total = assets.len();
    for asset in assets {
        events.send(asset.line());
    }
    events.send(Line::Progress {
        percent: 100,
        message: Some(format!("{total} assets")),
    });
    let result = json!({
        "assets": total,
        "byType": by_type,
        "namespaces": target.namespaces,
        "skipped": fetched.skipped,
        "truncated": fetched.truncated,
    });
    events.send(Line::Result(result.to_string()));
    Ok(())
}

/// The objects of several kinds.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Every object listed, with `kind` and `apiVersion`.
    pub objects: Vec<Value>,
    /// Kinds the server refused or does not serve, with why.
    pub skipped: Vec<String>,
    /// Kinds with more objects than were kept.
    pub truncated: Vec<&'static str>,
}

/// Lists `kinds` (in `namespaces`, if any), reporting progress up to
/// `last_percent`. Fails if a listing fails for another reason than
/// permission or absence, or if every kind was skipped.
pub async fn fetch(
    client: &Client,
    kinds: &[Kind],
    namespaces: &[String],
    events: &Events,
    last_percent: u8,
) -> Result<Fetched, String> {
    let mut fetched = Fetched::default();
    for (done, kind) in kinds.iter().enumerate() {
        match list::list(client, kind, namespaces).await {
            Ok(listed) => {
                if listed.truncated {
                    events.log(format!(
                        "{}: more than {} objects, the rest left out",
                        kind.kind,
                        list::MAX_OBJECTS_PER_KIND
                    ));
                    fetched.truncated.push(kind.kind);
                }
                fetched.objects.extend(listed.objects);
            }
            Err(ListError::Skipped(why)) => {
                events.log(format!("skipped: {why}"));
                fetched.skipped.push(why);
            }
            Err(ListError::Failed(why)) => return Err(why),
        }
        let percent = (done + 1) * usize::from(last_percent) / kinds.len().max(1);
        events.send(Line::Progress {
            percent: percent as u8,
            message: Some(format!("listed {}", kind.plural)),
        });
    }
    if !kinds.is_empty() && fetched.skipped.len() == kinds.len() {
        return Err(format!(
            "the Kubernetes API refused every listing: {}",
            fetched.skipped.join("; ")
        ));
    }
    Ok(fetched)
}

/// The assets of `objects` with their relations, and of the images they
/// run. With `namespaces`, Namespace objects outside them are left out.
pub fn inventory(objects: &[Value], namespaces: &[String]) -> Vec<Asset> {
    let pods: Vec<PodLabels> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Pod"))
        .filter_map(PodLabels::of)
        .collect();
    let outside = |object: &Value| {
        let name = object.pointer("/metadata/name").and_then(Value::as_str);
        !namespaces.is_empty()
            && object.get("kind").and_then(Value::as_str) == Some("Namespace")
            && !namespaces.iter().any(|n| Some(n.as_str()) == name)
    };
    let mut assets: Vec<Asset> = objects
        .iter()
        .filter(|object| !outside(object))
        .filter_map(|object| {
            let mut asset = objects::object_asset(object)?;
            lineage::relate(&mut asset, object, &pods);
            Some(asset)
        })
        .collect();
    assets.extend(objects::image_assets(objects));
    assets
}
