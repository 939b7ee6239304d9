//! Writes: the protocol's JSON, validation, upsert, add/update/delete,
//! history, events and stale cleanup per source.

use serde_json::json;

use super::*;
use crate::catalog::{
    AssetPatch, CatalogError, ChangeKind, HealthStatus, MAX_EVENTS, MAX_HISTORY, MAX_UPSERT_ASSETS,
    MAX_UPSERT_BYTES,
};

#[test]
fn the_protocol_object_deserializes_and_validates() {
    let line = r#"{"id": "k8s/default/Pod/web-1", "name": "web-1", "type": "k8s.pod",
        "namespace": "default", "owner": "team-a", "tags": ["a", "b"],
        "metadata": {"phase": "Running", "restarts": 2, "labels": {"app": "web"}},
        "health": {"status": "healthy", "message": "ok"},
        "relations": [{"type": "ownedBy", "target": "k8s/default/ReplicaSet/web"}]}"#;
    let asset: AssetInput = serde_json::from_str(line).unwrap();
    asset.validate().unwrap();
    assert_eq!(asset.kind, "k8s.pod");
    assert_eq!(
        asset.metadata.as_ref().unwrap().parse().unwrap()["restarts"],
        json!(2)
    );
    // Inputs survive the log's binary encoding, in a whole command too,
    // with every optional field given or absent.
    let minimal = input(json!({"id": "r", "name": "r", "type": "repository"}));
    for asset in [asset, minimal] {
        let command = Command::Catalog(upsert(
            "s",
            None,
            vec![serde_json::to_value(&asset).unwrap()],
        ));
        let bytes = crate::store::codec::encode(&command).unwrap();
        let back: Command = crate::store::codec::decode(&bytes).unwrap();
        assert_eq!(back, command);
    }
}

#[test]
fn invalid_assets_get_a_clear_reason() {
    let cases = [
        (json!({"id": "x", "name": "x", "type": "widget"}), "unknown"),
        (
            json!({"id": "x", "name": "x", "type": "k8s.Pod"}),
            "lower case",
        ),
        (
            json!({"id": "", "name": "x", "type": "repository"}),
            "id is empty",
        ),
        (
            json!({"id": "x", "name": "x", "type": "image", "health": {"status": "fine"}}),
            "health.status",
        ),
        (
            json!({"id": "x", "name": "x", "type": "image", "relations": [{"type": "ownerOf", "target": "y"}]}),
            "inverse of \"ownedBy\"",
        ),
        (
            json!({"id": "x", "name": "x", "type": "image", "relations": [{"type": "uses", "target": "x"}]}),
            "itself",
        ),
        (
            json!({"id": "x".repeat(513), "name": "x", "type": "image"}),
            "at most 512",
        ),
        (
            json!({"id": "x", "name": "x", "type": "image", "tags": vec!["t"; 65]}),
            "tags",
        ),
    ];
    for (value, expected) in cases {
        let reason = input(value.clone()).validate().unwrap_err();
        assert!(reason.contains(expected), "{value}: {reason}");
    }
    // Shapes that are not the protocol's do not deserialize at all.
    for value in [
        json!({"id": "x", "name": "x", "type": "image", "metadata": [1]}),
        json!({"id": "x", "name": "x", "type": "image", "colour": "red"}),
        json!({"id": "x", "type": "image"}),
    ] {
        assert!(
            serde_json::from_value::<AssetInput>(value.clone()).is_err(),
            "{value}"
        );
    }
}

#[test]
fn an_invalid_asset_rejects_the_whole_batch_and_changes_nothing() {
    let mut log = Log::default();
    log.upsert("s", None, vec![asset("a", "repository")]);
    let before = log.state.catalog.clone();
    let bad = upsert(
        "s",
        None,
        vec![
            asset("b", "repository"),
            json!({"id": "c", "name": "c", "type": "nope"}),
        ],
    );
    let rejection = log.apply(bad).unwrap_err();
    match rejection {
        Rejection::Catalog(CatalogError::InvalidAsset { index, id, reason }) => {
            assert_eq!((index, id.as_str()), (1, "c"));
            assert!(reason.contains("nope"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(log.state.catalog, before);
    assert!(log.catalog().get("b").is_none());
}

#[test]
fn upsert_creates_updates_and_leaves_unchanged_assets_alone() {
    let mut log = Log::default();
    let change = log.upsert(
        "s",
        None,
        vec![asset("a", "repository"), asset("b", "branch")],
    );
    assert_eq!((change.created, change.last_seq), (2, 2));
    let first = log.catalog().get("a").unwrap();
    assert_eq!((first.version, first.discovered_by.as_str()), (1, "s#1"));

    let change = log.upsert("s", None, vec![asset("a", "repository")]);
    assert_eq!((change.unchanged, change.last_seq), (1, 2), "no event");
    let again = log.catalog().get("a").unwrap();
    assert_eq!(again.version, 1);
    assert_eq!(again.updated_at, first.updated_at);
    assert!(again.last_seen_at > first.last_seen_at);
    assert_eq!(log.catalog().history("a").len(), 1);

    let mut renamed = asset("a", "repository");
    renamed["name"] = json!("cortex");
    renamed["tags"] = json!(["rust", "rust", "raft"]);
    let change = log.upsert("t", None, vec![renamed]);
    assert_eq!((change.updated, change.last_seq), (1, 3));
    let updated = log.catalog().get("a").unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.tags, ["raft", "rust"], "sorted, without duplicates");
    assert_eq!(updated.source, "t");
    assert_eq!(updated.discovered_at, first.discovered_at);
    let history = log.catalog().history("a");
    let fields: Vec<&str> = history[0].diffs.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["name", "source", "tags"]);
    assert_eq!(history[0].diffs[0].before, "\"a\"");
    assert_eq!(history[0].diffs[0].after, "\"cortex\"");
    assert_eq!(history[1].kind, ChangeKind::Added);
}

#[test]
fn add_update_and_delete_follow_the_mutations_rules() {
    let mut log = Log::default();
    let add = |id: &str| CatalogCommand::Add {
        source: "api".into(),
        by: "admin".into(),
        asset: Box::new(input(asset(id, "service"))),
    };
    log.apply(add("svc")).unwrap();
    assert_eq!(
        log.apply(add("svc")).unwrap_err(),
        Rejection::Catalog(CatalogError::AssetExists("svc".into()))
    );
    let patch = AssetPatch {
        owner: Some(Some("team-a".into())),
        health: Some(crate::catalog::HealthInput {
            status: "degraded".into(),
            message: Some("slow".into()),
        }),
        ..AssetPatch::default()
    };
    let update = |id: &str, patch: AssetPatch| CatalogCommand::Update {
        id: id.into(),
        by: "admin".into(),
        patch: Box::new(patch),
    };
    assert_eq!(log.apply(update("svc", patch.clone())).unwrap().updated, 1);
    let svc = log.catalog().get("svc").unwrap();
    assert_eq!(svc.owner.as_deref(), Some("team-a"));
    assert_eq!(svc.health.status, HealthStatus::Degraded);
    assert_eq!(svc.name, "svc", "fields not in the patch stay");
    assert_eq!(
        log.apply(update("nope", patch)).unwrap_err(),
        Rejection::Catalog(CatalogError::NoAsset("nope".into()))
    );
    let bad = AssetPatch {
        kind: Some("gadget".into()),
        ..AssetPatch::default()
    };
    assert!(matches!(
        log.apply(update("svc", bad)),
        Err(Rejection::Catalog(CatalogError::InvalidAsset { .. }))
    ));
    let delete = |id: &str| CatalogCommand::Delete {
        id: id.into(),
        by: "admin".into(),
    };
    assert_eq!(log.apply(delete("svc")).unwrap().removed, 1);
    assert_eq!(log.apply(delete("svc")).unwrap().removed, 0);
    assert!(log.catalog().get("svc").is_none());
    assert!(log.catalog().history("svc").is_empty());
}

#[test]
fn history_is_bounded_and_keeps_the_newest_versions() {
    let mut log = Log::default();
    for n in 0..(MAX_HISTORY + 5) {
        let mut value = asset("a", "document");
        value["metadata"] = json!({ "n": n });
        log.upsert("s", None, vec![value]);
    }
    let history = log.catalog().history("a");
    assert_eq!(history.len(), MAX_HISTORY);
    assert_eq!(history[0].version, (MAX_HISTORY + 5) as u64);
    assert_eq!(history[0].diffs[0].field, "metadata");
    assert_eq!(
        history[0].diffs[0].after,
        format!("{{\"n\":{}}}", MAX_HISTORY + 4)
    );
}

#[test]
fn events_have_sequence_numbers_and_expire_past_the_bound() {
    let mut log = Log::default();
    log.upsert("s", None, vec![asset("a", "image")]);
    log.apply(CatalogCommand::Delete {
        id: "a".into(),
        by: "me".into(),
    })
    .unwrap();
    let events = log.catalog().events_after(0, 10).unwrap();
    let kinds: Vec<(u64, ChangeKind)> = events.iter().map(|e| (e.seq, e.kind)).collect();
    assert_eq!(kinds, [(1, ChangeKind::Added), (2, ChangeKind::Removed)]);
    assert_eq!(events[1].by, "me");
    assert!(log.catalog().events_after(2, 10).unwrap().is_empty());

    let batch: Vec<_> = (0..MAX_UPSERT_ASSETS)
        .map(|i| asset(&format!("x{i}"), "image"))
        .collect();
    for _ in 0..(MAX_EVENTS / MAX_UPSERT_ASSETS) {
        let mut batch = batch.clone();
        for value in &mut batch {
            value["tags"] = json!([format!("{}", log.entries)]);
        }
        log.upsert("s", None, batch);
    }
    let last = log.catalog().last_seq();
    assert_eq!(last, 2 + MAX_EVENTS as u64);
    let expired = log.catalog().events_after(1, 10).unwrap_err();
    assert_eq!(expired.oldest, 3);
    let resumed = log.catalog().events_after(2, 5).unwrap();
    assert_eq!(
        resumed.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4, 5, 6, 7]
    );
}

#[test]
fn finishing_a_sync_removes_only_what_that_source_no_longer_reports() {
    let mut log = Log::default();
    let pods = |names: &[&str]| names.iter().map(|n| asset(n, "k8s.pod")).collect();
    log.upsert("inventory", Some("pass-1"), pods(&["a", "b", "c"]));
    log.upsert("other", Some("pass-1"), pods(&["d"]));
    log.upsert("inventory", Some("pass-2"), pods(&["a"]));
    log.upsert("inventory", Some("pass-2"), pods(&["b"]));
    let change = log
        .apply(CatalogCommand::FinishSync {
            source: "inventory".into(),
            sync: "pass-2".into(),
        })
        .unwrap();
    assert_eq!(change.removed, 1);
    assert!(log.catalog().get("c").is_none());
    for kept in ["a", "b", "d"] {
        assert!(log.catalog().get(kept).is_some(), "{kept} kept");
    }
    let removed = log.catalog().events_after(change.last_seq - 1, 1).unwrap();
    assert_eq!(removed[0].kind, ChangeKind::Removed);
    assert_eq!(&*removed[0].asset.id, "c");
    assert_eq!(removed[0].by, "sync pass-2 of inventory");
}

#[test]
fn large_batches_are_refused_and_upserts_splits_them() {
    let many: Vec<AssetInput> = (0..2_500)
        .map(|i| input(asset(&format!("a{i}"), "commit")))
        .collect();
    let too_many = CatalogCommand::Upsert {
        source: "s".into(),
        sync: None,
        by: "b".into(),
        assets: many.clone(),
    };
    assert!(matches!(
        too_many.check(),
        Err(CatalogError::BatchTooLarge { .. })
    ));
    let commands = CatalogCommand::upserts("s", Some("p"), "b", many);
    assert_eq!(commands.len(), 3);
    let mut log = Log::default();
    for command in commands {
        command.check().unwrap();
        log.apply(command).unwrap();
    }
    assert_eq!(log.catalog().len(), 2_500);

    let big = |i: usize| {
        let mut value = asset(&format!("big{i}"), "document");
        value["metadata"] = json!({ "text": "x".repeat(15_000) });
        input(value)
    };
    let commands = CatalogCommand::upserts("s", None, "b", (0..40).map(big).collect());
    assert!(commands.len() >= 40 * 15_000 / MAX_UPSERT_BYTES);
    commands.iter().for_each(|c| c.check().unwrap());
}
