//! Snapshots carry assets, history and events; indexes are rebuilt on load.
//! A loaded catalog must answer every query as the one it was taken from,
//! and indexes maintained write by write must equal indexes rebuilt.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::catalog::{AssetFilter, Catalog, Direction, HealthStatus};
use crate::store::codec::{decode, encode};

/// Ids, names and tags drawn from small sets so random writes collide.
const IDS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const WORDS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

/// What a catalog answers to a fixed set of queries, as text.
fn answers(catalog: &Catalog) -> String {
    let mut out = format!("{:?}\n", catalog.stats());
    for query in ["alpha", "beta gamma", "del*", "a"] {
        let found: Vec<String> = catalog
            .search(query, None, 10)
            .iter()
            .map(|a| a.id.to_string())
            .collect();
        out += &format!("search {query}: {found:?}\n");
    }
    let filters = [
        AssetFilter::default(),
        AssetFilter {
            tag: Some("alpha".into()),
            ..AssetFilter::default()
        },
        AssetFilter {
            health: Some(HealthStatus::Degraded),
            source: Some("s1".into()),
            ..AssetFilter::default()
        },
    ];
    for filter in &filters {
        let page: Vec<String> = catalog
            .page(filter, Some("b"), 3)
            .assets
            .iter()
            .map(|a| format!("{}@{}", a.id, a.version))
            .collect();
        out += &format!(
            "page {filter:?}: {page:?} count {}\n",
            catalog.count(filter)
        );
    }
    for id in IDS {
        if let Some(lineage) = catalog.lineage(id, Direction::Both, 3, None) {
            let nodes: Vec<(String, u32)> = lineage
                .nodes
                .iter()
                .map(|(a, d)| (a.id.to_string(), *d))
                .collect();
            out += &format!("lineage {id}: {nodes:?} {:?}\n", lineage.edges);
        }
        out += &format!("history {id}: {:?}\n", catalog.history(id));
    }
    out + &format!("events: {:?}\n", catalog.events_after(0, 100))
}

fn round_trip(state: &State) -> State {
    decode(&encode(state).expect("encodes")).expect("decodes")
}

#[test]
fn a_snapshot_round_trip_answers_every_query_the_same() {
    let mut log = Log::default();
    log.upsert(
        "s1",
        Some("p1"),
        vec![
            json!({"id": "a", "name": "alpha one", "type": "repository", "tags": ["alpha"],
                   "metadata": {"readme": "beta gamma"}, "health": {"status": "degraded"},
                   "relations": [{"type": "dependsOn", "target": "b"}]}),
            related("b", "service", &[("uses", "c"), ("ownedBy", "zzz-missing")]),
            json!({"id": "c", "name": "delta", "type": "image", "owner": "team"}),
        ],
    );
    log.upsert(
        "s1",
        None,
        vec![json!({"id": "a", "name": "alpha two", "type": "repository"})],
    );
    let state = &log.state;
    let back = round_trip(state);
    assert_eq!(&back, state);
    assert_eq!(answers(&back.catalog), answers(&state.catalog));
    assert!(answers(&state.catalog).contains("lineage a"));
}

/// One random catalog write.
fn command() -> impl Strategy<Value = CatalogCommand> {
    let id = prop::sample::select(IDS.to_vec());
    let word = prop::sample::select(WORDS.to_vec());
    let status = prop::sample::select(vec!["healthy", "degraded", "unknown"]);
    let source = prop::sample::select(vec!["s1", "s2"]);
    let sync = prop::option::of(prop::sample::select(vec!["p1", "p2"]));
    let relations = prop::collection::vec(
        (prop::sample::select(vec!["uses", "ownedBy"]), id.clone()),
        0..3,
    );
    let asset = (id.clone(), word.clone(), word.clone(), status, relations).prop_map(
        |(id, name, tag, status, relations)| {
            let relations: Vec<_> = relations
                .into_iter()
                .filter(|(_, target)| *target != id)
                .map(|(kind, target)| json!({"type": kind, "target": target}))
                .collect();
            json!({"id": id, "name": name, "type": "service", "tags": [tag],
                   "metadata": {"note": name}, "health": {"status": status},
                   "relations": relations})
        },
    );
    prop_oneof![
        (source.clone(), sync, prop::collection::vec(asset, 1..4))
            .prop_map(|(source, sync, assets)| upsert(source, sync, assets)),
        (source, prop::sample::select(vec!["p1", "p2"])).prop_map(|(source, sync)| {
            CatalogCommand::FinishSync {
                source: source.into(),
                sync: sync.into(),
            }
        }),
        id.prop_map(|id| CatalogCommand::Delete {
            id: id.into(),
            by: "me".into(),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indexes_kept_write_by_write_equal_indexes_rebuilt(
        commands in prop::collection::vec(command(), 1..40)
    ) {
        let mut log = Log::default();
        for command in commands {
            log.apply(command).expect("random writes are valid");
            let rebuilt = round_trip(&log.state);
            prop_assert_eq!(answers(&rebuilt.catalog), answers(&log.state.catalog));
        }
    }
}
