//! addAsset, updateAsset and deleteAsset, and their errors.

use super::*;

#[tokio::test]
async fn add_update_delete_and_read_back() {
    let (schema, _) = setup();
    let added = data(
        &schema,
        "mutation($input: AddAssetInput!) { addAsset(input: $input) {
            id name type source discoveredBy version tags metadata
            health { status message checkedAt } } }",
        json!({ "input": {
            "id": "svc/api", "name": "api", "type": "service", "tags": ["b", "a"],
            "metadata": { "port": 8080 }, "health": { "status": "HEALTHY", "message": "ok" }
        }}),
    )
    .await;
    let asset = &added["addAsset"];
    assert_eq!(asset["type"], "service");
    assert_eq!(asset["source"], "api");
    assert_eq!(asset["discoveredBy"], "graphql");
    assert_eq!(asset["tags"], json!(["a", "b"]));
    assert_eq!(asset["metadata"]["port"], 8080);
    assert_eq!(asset["health"]["status"], "HEALTHY");
    assert_eq!(asset["health"]["checkedAt"], "2025-12-21T10:00:01.000Z");

    let updated = data(
        &schema,
        "mutation { updateAsset(id: \"svc/api\", input: { owner: \"team-a\", tags: [\"c\"] }) {
            owner tags name version } }",
        json!({}),
    )
    .await;
    assert_eq!(
        updated["updateAsset"],
        json!({ "owner": "team-a", "tags": ["c"], "name": "api", "version": 2 })
    );
    let cleared = data(
        &schema,
        "mutation { updateAsset(id: \"svc/api\", input: { owner: null }) { owner version } }",
        json!({}),
    )
    .await;
    assert_eq!(
        cleared["updateAsset"],
        json!({ "owner": null, "version": 3 })
    );

    let history = data(
        &schema,
        "{ history(id: \"svc/api\") { version kind by diffs { field before after } } }",
        json!({}),
    )
    .await;
    let versions = history["history"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(
        versions[0]["diffs"][0],
        json!({ "field": "owner", "before": "\"team-a\"", "after": "null" })
    );
    assert_eq!(versions[2]["kind"], "ADDED");

    let deleted = data(
        &schema,
        "mutation { deleteAsset(id: \"svc/api\") }",
        json!({}),
    )
    .await;
    assert_eq!(deleted["deleteAsset"], true);
    let again = data(
        &schema,
        "mutation { deleteAsset(id: \"svc/api\") }",
        json!({}),
    )
    .await;
    assert_eq!(again["deleteAsset"], false);
    let gone = data(&schema, "{ asset(id: \"svc/api\") { id } }", json!({})).await;
    assert!(gone["asset"].is_null());
}

#[tokio::test]
async fn mutation_errors_have_codes_and_change_nothing() {
    let (schema, cluster) = setup();
    add(&schema, json!({ "id": "a", "name": "a", "type": "image" })).await;
    let (code, message) = error(
        &schema,
        ADD,
        json!({ "input": { "id": "a", "name": "again", "type": "image" } }),
    )
    .await;
    assert_eq!(code, "ASSET_EXISTS", "{message}");
    let (code, _) = error(
        &schema,
        "mutation { updateAsset(id: \"nope\", input: { name: \"x\" }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, message) = error(
        &schema,
        ADD,
        json!({ "input": { "id": "b", "name": "b", "type": "widget" } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("widget"), "{message}");
    let (code, message) = error(
        &schema,
        ADD,
        json!({ "input": { "id": "b", "name": "b", "type": "image", "metadata": [1, 2] } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("JSON object"), "{message}");
    let (code, message) = error(
        &schema,
        ADD,
        json!({ "input": { "id": "b", "name": "b", "type": "image",
                           "relations": [{ "type": "USES", "target": "b" }] } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("itself"), "{message}");
    let (code, message) = error(
        &schema,
        ADD,
        json!({ "input": { "id": "b", "name": "", "type": "image" } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("name is empty"), "{message}");
    let assets = crate::cluster::catalog(cluster.as_ref()).len();
    assert_eq!(assets, 1, "nothing but the first asset was written");
}

#[tokio::test]
async fn upsert_assets_and_finish_sync_clean_up_one_source() {
    let (schema, _) = setup();
    const UPSERT: &str = "mutation($source: String!, $sync: String, $assets: [AssetInput!]!) {
        upsertAssets(source: $source, sync: $sync, by: \"scanner#1\", assets: $assets) {
            created updated unchanged cursor } }";
    let pod = |name: &str| json!({ "id": format!("pod/{name}"), "name": name, "type": "k8s.pod" });
    let first = data(
        &schema,
        UPSERT,
        json!({ "source": "k8s", "sync": "p1", "assets": [pod("a"), pod("b"), pod("c")] }),
    )
    .await;
    assert_eq!(
        first["upsertAssets"],
        json!({ "created": 3, "updated": 0, "unchanged": 0, "cursor": "3" })
    );
    add(
        &schema,
        json!({ "id": "svc/x", "name": "x", "type": "service" }),
    )
    .await;
    let mut changed = pod("b");
    changed["owner"] = json!("team-b");
    let second = data(
        &schema,
        UPSERT,
        json!({ "source": "k8s", "sync": "p2", "assets": [pod("a"), changed] }),
    )
    .await;
    assert_eq!(
        second["upsertAssets"],
        json!({ "created": 0, "updated": 1, "unchanged": 1, "cursor": "5" })
    );
    let removed = data(
        &schema,
        "mutation { finishSync(source: \"k8s\", sync: \"p2\") }",
        json!({}),
    )
    .await;
    assert_eq!(removed["finishSync"], 1);
    let left = data(
        &schema,
        "{ assets { nodes { id discoveredBy } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        left["assets"]["nodes"],
        json!([{ "id": "pod/a", "discoveredBy": "scanner#1" },
               { "id": "pod/b", "discoveredBy": "scanner#1" },
               { "id": "svc/x", "discoveredBy": "graphql" }])
    );
    let bad = json!({ "source": "k8s", "assets": [pod("d"), { "id": "e", "name": "", "type": "image" }] });
    let response = run(&schema, UPSERT, bad).await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(response["errors"][0]["extensions"]["index"], 1);
    let none = data(&schema, "{ asset(id: \"pod/d\") { id } }", json!({})).await;
    assert!(
        none["asset"].is_null(),
        "nothing of a refused batch is written"
    );
}

#[tokio::test]
async fn only_operators_write_and_every_write_is_audited_under_their_name() {
    let (schema, cluster) = setup();
    let add =
        "mutation { addAsset(input: { id: \"svc/a\", name: \"a\", type: \"service\" }) { id } }";
    let viewer = Actor {
        name: "eve".into(),
        role: Role::Viewer,
    };
    for caller in [Some(viewer.clone()), None] {
        let response = run_as(&schema, caller, add, json!({})).await;
        assert_eq!(
            response["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{response}"
        );
    }
    // A viewer still reads.
    let read = run_as(&schema, Some(viewer), "{ stats { total } }", json!({})).await;
    assert_eq!(read["data"]["stats"]["total"], 0, "{read}");
    assert_eq!(cluster.state.lock().unwrap().audit.last_seq(), 0);

    data(&schema, add, json!({})).await;
    let refused = run(&schema, add, json!({})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "ASSET_EXISTS");
    let state = cluster.state.lock().unwrap();
    let trail: Vec<_> = state.audit.after(0, 10).collect();
    assert_eq!(trail.len(), 2);
    assert_eq!(
        (
            trail[0].actor.as_str(),
            trail[0].action.as_str(),
            trail[0].target.as_str()
        ),
        ("tester", "catalog.add", "svc/a")
    );
    assert_eq!(trail[0].refused, None);
    assert!(trail[1].refused.is_some());
}

/// Allows `left` changes in all, then asks for a 2.5 s wait.
struct Allowance {
    left: std::sync::Mutex<u32>,
}

impl crate::ChangeLimit for Allowance {
    fn take(&self, _actor: &Actor) -> Result<(), std::time::Duration> {
        let mut left = self.left.lock().unwrap();
        if *left == 0 {
            return Err(std::time::Duration::from_millis(2_500));
        }
        *left -= 1;
        Ok(())
    }
}

#[tokio::test]
async fn a_caller_over_its_change_limit_is_refused_and_nothing_is_written() {
    let (schema, cluster) = setup();
    let limit: crate::SharedChangeLimit = Arc::new(Allowance {
        left: std::sync::Mutex::new(1),
    });
    let add = |id: &str| {
        format!("mutation {{ addAsset(input: {{ id: \"{id}\", name: \"a\", type: \"service\" }}) {{ id }} }}")
    };
    let limited = |query: String| Request::new(query).data(operator()).data(limit.clone());
    let first = schema.execute(limited(add("svc/a"))).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let second = serde_json::to_value(schema.execute(limited(add("svc/b"))).await).unwrap();
    let error = &second["errors"][0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{second}");
    assert_eq!(error["extensions"]["retryAfter"], 3, "{second}");
    assert!(
        error["message"].as_str().unwrap().contains("tester"),
        "{second}"
    );
    let state = cluster.state.lock().unwrap();
    assert!(
        state.catalog.get("svc/b").is_none(),
        "a refused change is not written"
    );
    assert_eq!(
        state.audit.last_seq(),
        1,
        "only the first change reached the log"
    );
}
