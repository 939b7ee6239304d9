//! Reads: filters, cursor pagination, counts, stats and ranked search.

use serde_json::json;

use super::*;
use crate::catalog::{AssetFilter, HealthStatus};

/// 30 pods in two namespaces (every third unhealthy, tagged `edge`), three
/// repositories, and a service from another source.
fn sample() -> Log {
    let mut log = Log::default();
    let pods = (0..30)
        .map(|i| {
            let namespace = if i % 2 == 0 { "default" } else { "prod" };
            let status = if i % 3 == 0 { "unhealthy" } else { "healthy" };
            json!({
                "id": format!("k8s/{namespace}/Pod/web-{i:02}"),
                "name": format!("web-{i:02}"),
                "type": "k8s.pod",
                "namespace": namespace,
                "owner": "team-a",
                "tags": if i % 3 == 0 { json!(["edge"]) } else { json!([]) },
                "health": { "status": status },
            })
        })
        .collect();
    log.upsert("inventory", None, pods);
    let repos = vec![
        json!({"id": "repo/cortex", "name": "cortex", "type": "repository",
               "tags": ["rust"], "metadata": {"description": "raft runtime for agents"}}),
        json!({"id": "repo/raft-notes", "name": "raft-notes", "type": "repository",
               "metadata": {"description": "notes"}}),
        json!({"id": "repo/web", "name": "web", "type": "repository",
               "metadata": {"readme": "a cortex dashboard"}}),
    ];
    log.upsert("git", None, repos);
    log.upsert("api", None, vec![asset("svc/cortex-api", "service")]);
    log
}

fn ids(assets: &[std::sync::Arc<crate::catalog::Asset>]) -> Vec<String> {
    assets.iter().map(|a| a.id.to_string()).collect()
}

#[test]
fn filters_combine_and_pages_follow_the_cursor_without_gaps() {
    let log = sample();
    let catalog = log.catalog();
    let filter = AssetFilter {
        kind: Some("k8s.pod".into()),
        namespace: Some("default".into()),
        health: Some(HealthStatus::Unhealthy),
        ..AssetFilter::default()
    };
    // Even i and a multiple of 3: 0, 6, 12, 18, 24.
    assert_eq!(catalog.count(&filter), 5);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = catalog.page(&filter, after.as_deref(), 2);
        seen.extend(ids(&page.assets));
        if !page.has_next {
            break;
        }
        after = page.assets.last().map(|a| a.id.to_string());
    }
    let expected: Vec<String> = [0, 6, 12, 18, 24]
        .iter()
        .map(|i| format!("k8s/default/Pod/web-{i:02}"))
        .collect();
    assert_eq!(seen, expected);

    let tagged = AssetFilter {
        tag: Some("edge".into()),
        owner: Some("team-a".into()),
        ..AssetFilter::default()
    };
    assert_eq!(catalog.count(&tagged), 10);
    let by_source = AssetFilter {
        source: Some("git".into()),
        ..AssetFilter::default()
    };
    assert_eq!(ids(&catalog.page(&by_source, None, 10).assets).len(), 3);
    let nothing = AssetFilter {
        kind: Some("k8s.node".into()),
        ..AssetFilter::default()
    };
    assert_eq!(catalog.count(&nothing), 0);
}

#[test]
fn id_prefix_pages_walk_only_that_range() {
    let log = sample();
    let catalog = log.catalog();
    let prefix = AssetFilter {
        id_prefix: Some("k8s/prod/".into()),
        ..AssetFilter::default()
    };
    assert_eq!(catalog.count(&prefix), 15);
    let first = catalog.page(&prefix, None, 10);
    assert!(first.has_next);
    let rest = catalog.page(&prefix, Some(&first.assets[9].id), 10);
    assert_eq!(rest.assets.len(), 5);
    assert!(!rest.has_next);
    assert!(rest.assets.iter().all(|a| a.id.starts_with("k8s/prod/")));
    // A cursor before the prefix starts at the prefix.
    let early = catalog.page(&prefix, Some("a"), 1);
    assert_eq!(&*early.assets[0].id, "k8s/prod/Pod/web-01");
    let everything = catalog.page(&AssetFilter::default(), None, 1000);
    assert_eq!(everything.assets.len(), catalog.len());
}

#[test]
fn stats_count_by_type_source_and_health() {
    let log = sample();
    let stats = log.catalog().stats();
    assert_eq!(stats.assets, 34);
    assert!(stats.by_type.contains(&("k8s.pod".to_string(), 30)));
    assert!(stats.by_type.contains(&("repository".to_string(), 3)));
    assert!(stats.by_source.contains(&("api".to_string(), 1)));
    assert!(stats.by_health.contains(&("unhealthy".to_string(), 10)));
    assert!(stats.by_health.contains(&("unknown".to_string(), 4)));
    assert!(stats.by_namespace.contains(&("prod".to_string(), 15)));
    assert_eq!(stats.last_seq, 34);
}

#[test]
fn search_ranks_name_matches_above_metadata_and_needs_every_term() {
    let log = sample();
    let catalog = log.catalog();
    let found = ids(&catalog.search("cortex", None, 10));
    // The two whose names hold it (equal scores: by id), then the
    // repository that only mentions it in its metadata.
    assert_eq!(found, ["repo/cortex", "svc/cortex-api", "repo/web"]);
    assert_eq!(
        ids(&catalog.search("raft runtime", None, 10)),
        ["repo/cortex"]
    );
    assert!(catalog.search("raft nothing", None, 10).is_empty());
    assert_eq!(
        ids(&catalog.search("cortex", Some("service"), 10)),
        ["svc/cortex-api"]
    );
    assert_eq!(catalog.search("web", None, 5).len(), 5, "limited");
    assert_eq!(catalog.search("WEB-07", None, 1)[0].name, "web-07");
}

#[test]
fn search_matches_prefixes_and_puts_an_exact_id_first() {
    let log = sample();
    let catalog = log.catalog();
    let found = ids(&catalog.search("raf*", None, 10));
    assert_eq!(found, ["repo/raft-notes", "repo/cortex"]);
    assert!(
        catalog.search("raf", None, 10).is_empty(),
        "no prefix without *"
    );
    let exact = catalog.search("repo/web", None, 3);
    assert_eq!(&*exact[0].id, "repo/web");
    assert!(catalog.search("", None, 10).is_empty());
    assert!(catalog.search("!!!", None, 10).is_empty());
}

#[test]
fn search_follows_updates_and_removals() {
    let mut log = sample();
    assert!(log.catalog().search("consensus", None, 10).is_empty());
    let mut renamed = asset("repo/raft-notes", "repository");
    renamed["name"] = json!("consensus-notes");
    log.upsert("git", None, vec![renamed]);
    assert_eq!(
        ids(&log.catalog().search("consensus", None, 10)),
        ["repo/raft-notes"]
    );
    assert!(log.catalog().search("description", None, 10).is_empty());
    assert_eq!(
        ids(&log.catalog().search("runtime", None, 10)),
        ["repo/cortex"]
    );
    log.apply(CatalogCommand::Delete {
        id: "repo/cortex".into(),
        by: "me".into(),
    })
    .unwrap();
    assert!(log.catalog().search("runtime", None, 10).is_empty());
}
