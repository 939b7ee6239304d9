//! Queries: pages and filters, search, relations, lineage and stats.

use super::*;

/// Ten pods (odd ones unhealthy) owned by a replica set owned by a
/// deployment, all in `default`; an image the pods run.
async fn seeded() -> CatalogSchema {
    let (schema, _) = setup();
    add(&schema, json!({ "id": "deploy/web", "name": "web", "type": "k8s.deployment", "namespace": "default" })).await;
    add(
        &schema,
        json!({ "id": "rs/web", "name": "web-7f9", "type": "k8s.replicaset", "namespace": "default",
                "relations": [{ "type": "OWNED_BY", "target": "deploy/web" }] }),
    )
    .await;
    add(
        &schema,
        json!({ "id": "image/web", "name": "web:1.2", "type": "image", "tags": ["prod"] }),
    )
    .await;
    for i in 0..10 {
        let status = if i % 2 == 1 { "UNHEALTHY" } else { "HEALTHY" };
        add(
            &schema,
            json!({ "id": format!("pod/web-{i}"), "name": format!("web-{i}"), "type": "k8s.pod",
                    "namespace": "default", "health": { "status": status },
                    "relations": [{ "type": "OWNED_BY", "target": "rs/web" },
                                  { "type": "RUNS", "target": "image/web" }] }),
        )
        .await;
    }
    schema
}

const PAGE: &str = "query($after: String, $health: HealthStatus) {
    assets(type: \"k8s.pod\", health: $health, first: 2, after: $after) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn pages_follow_cursors_through_a_filter() {
    let schema = seeded().await;
    let mut after = Value::Null;
    let mut seen = Vec::new();
    loop {
        let page = data(
            &schema,
            PAGE,
            json!({ "after": after, "health": "UNHEALTHY" }),
        )
        .await;
        let assets = &page["assets"];
        assert_eq!(assets["totalCount"], 5);
        for edge in assets["edges"].as_array().unwrap() {
            assert_eq!(edge["cursor"], edge["node"]["id"]);
            seen.push(edge["node"]["id"].as_str().unwrap().to_string());
        }
        if assets["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = assets["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        [
            "pod/web-1",
            "pod/web-3",
            "pod/web-5",
            "pod/web-7",
            "pod/web-9"
        ]
    );
    let prefix = data(
        &schema,
        "{ assets(idPrefix: \"pod/\", namespace: \"default\", first: 100) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(prefix["assets"]["totalCount"], 10);
}

#[tokio::test]
async fn search_ranks_and_filters_by_type() {
    let schema = seeded().await;
    let found = data(
        &schema,
        "{ a: search(query: \"web-7*\") { id } b: search(query: \"web\", type: \"image\") { id }
           c: search(query: \"prod\") { id } d: search(query: \"web\", first: 3) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        found["a"],
        json!([{ "id": "pod/web-7" }, { "id": "rs/web" }])
    );
    assert_eq!(found["b"], json!([{ "id": "image/web" }]));
    assert_eq!(found["c"], json!([{ "id": "image/web" }]));
    assert_eq!(found["d"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn relations_read_both_ways_and_lineage_reports_degrees() {
    let schema = seeded().await;
    let answer = data(
        &schema,
        "{ asset(id: \"rs/web\") {
             up: relations(direction: UPSTREAM) { type name direction assetId asset { name } }
             down: relations(direction: DOWNSTREAM, types: [OWNED_BY]) { name assetId }
             lineage(direction: DOWNSTREAM) { id } }
           lineage(id: \"pod/web-0\", direction: UPSTREAM, depth: 2) {
             root { id } nodes { degree asset { id } } edges { from to type } truncated }
           none: lineage(id: \"nope\") { truncated } }",
        json!({}),
    )
    .await;
    let rs = &answer["asset"];
    assert_eq!(
        rs["up"],
        json!([{ "type": "OWNED_BY", "name": "ownedBy", "direction": "UPSTREAM",
                 "assetId": "deploy/web", "asset": { "name": "web" } }])
    );
    let down = rs["down"].as_array().unwrap();
    assert_eq!(down.len(), 10);
    assert_eq!(
        down[0],
        json!({ "name": "ownerOf", "assetId": "pod/web-0" })
    );
    assert_eq!(rs["lineage"].as_array().unwrap().len(), 10);
    let lineage = &answer["lineage"];
    assert_eq!(lineage["root"]["id"], "pod/web-0");
    let degrees: Vec<(String, u64)> = lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["asset"]["id"].as_str().unwrap().to_string(),
                n["degree"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("pod/web-0", 0),
        ("image/web", 1),
        ("rs/web", 1),
        ("deploy/web", 2),
    ];
    assert_eq!(
        degrees,
        expected
            .iter()
            .map(|(id, d)| (id.to_string(), *d))
            .collect::<Vec<_>>()
    );
    assert_eq!(lineage["edges"].as_array().unwrap().len(), 3);
    assert_eq!(lineage["truncated"], false);
    assert!(answer["none"].is_null());
}

#[tokio::test]
async fn stats_count_by_type_source_and_health() {
    let schema = seeded().await;
    let stats = data(
        &schema,
        "{ stats { total relations cursor byType { key count } bySource { key count }
                   byHealth { key count } byNamespace { key count } } }",
        json!({}),
    )
    .await;
    let stats = &stats["stats"];
    assert_eq!(stats["total"], 13);
    assert_eq!(stats["relations"], 21);
    assert_eq!(stats["cursor"], "13");
    assert!(stats["byType"]
        .as_array()
        .unwrap()
        .contains(&json!({ "key": "k8s.pod", "count": 10 })));
    assert_eq!(stats["bySource"], json!([{ "key": "api", "count": 13 }]));
    assert!(stats["byHealth"]
        .as_array()
        .unwrap()
        .contains(&json!({ "key": "unhealthy", "count": 5 })));
    assert_eq!(
        stats["byNamespace"],
        json!([{ "key": "default", "count": 12 }])
    );
}
