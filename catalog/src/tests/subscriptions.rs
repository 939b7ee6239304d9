//! Subscriptions read the replicated event stream: new events arrive in
//! order, a cursor resumes without gaps, and an expired cursor says so.

use std::time::Duration;

use async_graphql::futures_util::StreamExt;
use cortex_consensus::catalog::{AssetInput, CatalogCommand, MAX_EVENTS, MAX_UPSERT_ASSETS};

use super::*;

/// The next response of a subscription, as JSON (failing after 5 s).
async fn next(
    stream: &mut (impl async_graphql::futures_util::Stream<Item = async_graphql::Response> + Unpin),
) -> Value {
    let response = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream goes on");
    serde_json::to_value(response).unwrap()
}

const ADDED: &str = "subscription($after: String) { assetAdded(after: $after) {
    cursor kind by asset { id name } } }";

fn subscribe(
    schema: &CatalogSchema,
    query: &str,
    variables: Value,
) -> impl async_graphql::futures_util::Stream<Item = async_graphql::Response> + Unpin {
    schema.execute_stream(Request::new(query).variables(Variables::from_json(variables)))
}

#[tokio::test]
async fn asset_added_delivers_new_assets_in_order() {
    let (schema, _) = setup();
    add(
        &schema,
        json!({ "id": "old", "name": "old", "type": "image" }),
    )
    .await;
    let mut stream = subscribe(&schema, ADDED, json!({}));
    // The subscription starts at the newest event: "old" is not replayed.
    let writer = schema.clone();
    tokio::spawn(async move {
        add(&writer, json!({ "id": "a", "name": "a", "type": "image" })).await;
        data(
            &writer,
            "mutation { updateAsset(id: \"a\", input: { name: \"a2\" }) { id } }",
            json!({}),
        )
        .await;
        add(&writer, json!({ "id": "b", "name": "b", "type": "image" })).await;
    });
    let first = next(&mut stream).await;
    assert_eq!(
        first["data"]["assetAdded"],
        json!({ "cursor": "2", "kind": "ADDED", "by": "graphql", "asset": { "id": "a", "name": "a" } })
    );
    let second = next(&mut stream).await;
    assert_eq!(
        second["data"]["assetAdded"]["cursor"], "4",
        "the update is not an addition"
    );
}

#[tokio::test]
async fn a_cursor_resumes_after_a_disconnect_without_missing_events() {
    let (schema, _) = setup();
    const CHANGED: &str = "subscription($after: String) {
        assetChanged(after: $after) { cursor kind asset { id } } }";
    let mut stream = subscribe(&schema, CHANGED, json!({ "after": "0" }));
    add(&schema, json!({ "id": "a", "name": "a", "type": "image" })).await;
    let seen = next(&mut stream).await;
    let cursor = seen["data"]["assetChanged"]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    drop(stream);
    // Changes while the client is away.
    add(&schema, json!({ "id": "b", "name": "b", "type": "image" })).await;
    data(&schema, "mutation { deleteAsset(id: \"a\") }", json!({})).await;
    let mut resumed = subscribe(&schema, CHANGED, json!({ "after": cursor }));
    let missed: Vec<Value> = vec![next(&mut resumed).await, next(&mut resumed).await];
    assert_eq!(
        missed
            .iter()
            .map(|r| r["data"]["assetChanged"].clone())
            .collect::<Vec<_>>(),
        [
            json!({ "cursor": "2", "kind": "ADDED", "asset": { "id": "b" } }),
            json!({ "cursor": "3", "kind": "REMOVED", "asset": { "id": "a" } }),
        ]
    );
}

#[tokio::test]
async fn an_expired_cursor_ends_the_subscription_with_a_code() {
    let (schema, cluster) = setup();
    let assets: Vec<AssetInput> = (0..MAX_UPSERT_ASSETS)
        .map(|i| {
            serde_json::from_value(json!({ "id": format!("a{i}"), "name": "a", "type": "image" }))
                .unwrap()
        })
        .collect();
    for pass in 0..=(MAX_EVENTS / MAX_UPSERT_ASSETS) {
        let mut batch = assets.clone();
        batch
            .iter_mut()
            .for_each(|a| a.tags = vec![format!("pass-{pass}")]);
        let command = CatalogCommand::Upsert {
            source: "s".into(),
            sync: None,
            by: "t".into(),
            assets: batch,
        };
        cluster
            .write(operator(), Command::Catalog(command))
            .await
            .unwrap();
    }
    let mut stream = subscribe(&schema, ADDED, json!({ "after": "0" }));
    let response = next(&mut stream).await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "CURSOR_EXPIRED"
    );
    assert_eq!(response["errors"][0]["extensions"]["oldest"], "1001");
    let (code, _) = {
        let mut bad = subscribe(&schema, ADDED, json!({ "after": "yesterday" }));
        let response = next(&mut bad).await;
        (response["errors"][0]["extensions"]["code"].clone(), ())
    };
    assert_eq!(code, "BAD_USER_INPUT");
}
