//! Relations read both ways, unresolved targets, and lineage by direction,
//! depth, degree and relation type.

use super::*;
use crate::catalog::{Direction, RelationType};

/// A small supply chain and ownership chain:
///
/// ```text
/// pod -runs-> image -derivedFrom-> commit -authoredBy-> person
/// finding -findingOf-> image
/// pod -ownedBy-> rs -ownedBy-> deploy
/// pod -scheduledOn-> node (missing)
/// ```
fn chain() -> Log {
    let mut log = Log::default();
    log.upsert(
        "s",
        None,
        vec![
            related(
                "pod",
                "k8s.pod",
                &[
                    ("runs", "image"),
                    ("ownedBy", "rs"),
                    ("scheduledOn", "node"),
                ],
            ),
            related("image", "image", &[("derivedFrom", "commit")]),
            related("commit", "commit", &[("authoredBy", "person")]),
            asset("person", "person"),
            related("finding", "finding", &[("findingOf", "image")]),
            related("rs", "k8s.replicaset", &[("ownedBy", "deploy")]),
            asset("deploy", "k8s.deployment"),
        ],
    );
    log
}

fn degrees(lineage: &crate::catalog::Lineage) -> Vec<(String, u32)> {
    lineage
        .nodes
        .iter()
        .map(|(a, d)| (a.id.to_string(), *d))
        .collect()
}

fn owned(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    pairs.iter().map(|(id, d)| (id.to_string(), *d)).collect()
}

#[test]
fn upstream_follows_relations_as_declared_with_their_degree() {
    let log = chain();
    let lineage = log
        .catalog()
        .lineage("pod", Direction::Upstream, 3, None)
        .unwrap();
    assert_eq!(
        degrees(&lineage),
        owned(&[
            ("pod", 0),
            ("image", 1),
            ("rs", 1),
            ("commit", 2),
            ("deploy", 2),
            ("person", 3)
        ])
    );
    assert_eq!(lineage.edges.len(), 5, "{:?}", lineage.edges);
    assert!(!lineage.truncated);
    let depth_one = log
        .catalog()
        .lineage("pod", Direction::Upstream, 1, None)
        .unwrap();
    assert_eq!(
        degrees(&depth_one),
        owned(&[("pod", 0), ("image", 1), ("rs", 1)])
    );
}

#[test]
fn downstream_follows_relations_backwards_and_both_joins_them() {
    let log = chain();
    let catalog = log.catalog();
    let down = catalog
        .lineage("image", Direction::Downstream, 5, None)
        .unwrap();
    assert_eq!(
        degrees(&down),
        owned(&[("image", 0), ("finding", 1), ("pod", 1)])
    );
    let both = catalog.lineage("image", Direction::Both, 1, None).unwrap();
    assert_eq!(
        degrees(&both),
        owned(&[("image", 0), ("commit", 1), ("finding", 1), ("pod", 1)])
    );
    let edge = &both.edges[0];
    assert_eq!(
        (&*edge.from, edge.kind, &*edge.to),
        ("finding", RelationType::FindingOf, "image")
    );
    assert!(catalog.lineage("nope", Direction::Both, 1, None).is_none());
}

#[test]
fn relation_types_restrict_the_walk() {
    let log = chain();
    let owners = log
        .catalog()
        .lineage(
            "pod",
            Direction::Upstream,
            5,
            Some(&[RelationType::OwnedBy]),
        )
        .unwrap();
    assert_eq!(
        degrees(&owners),
        owned(&[("pod", 0), ("rs", 1), ("deploy", 2)])
    );
}

#[test]
fn a_missing_target_is_skipped_then_resolved_when_it_arrives() {
    let mut log = chain();
    let before = log
        .catalog()
        .lineage(
            "pod",
            Direction::Upstream,
            1,
            Some(&[RelationType::ScheduledOn]),
        )
        .unwrap();
    assert_eq!(degrees(&before), owned(&[("pod", 0)]));
    log.upsert("nodes", None, vec![asset("node", "k8s.node")]);
    let after = log
        .catalog()
        .lineage("node", Direction::Downstream, 1, None)
        .unwrap();
    assert_eq!(degrees(&after), owned(&[("node", 0), ("pod", 1)]));
    // Deleting the declarer removes its relations; the target stays.
    log.apply(CatalogCommand::Delete {
        id: "pod".into(),
        by: "me".into(),
    })
    .unwrap();
    let alone = log
        .catalog()
        .lineage("node", Direction::Both, 3, None)
        .unwrap();
    assert_eq!(degrees(&alone), owned(&[("node", 0)]));
    assert_eq!(
        log.catalog().stats().relations,
        4,
        "7 declared, 3 of them by pod"
    );
}

#[test]
fn replacing_an_assets_relations_updates_both_directions() {
    let mut log = chain();
    log.upsert(
        "s",
        None,
        vec![related("pod", "k8s.pod", &[("uses", "deploy")])],
    );
    let catalog = log.catalog();
    let up = catalog
        .lineage("pod", Direction::Upstream, 1, None)
        .unwrap();
    assert_eq!(degrees(&up), owned(&[("pod", 0), ("deploy", 1)]));
    let image = catalog
        .lineage("image", Direction::Downstream, 1, None)
        .unwrap();
    assert_eq!(degrees(&image), owned(&[("image", 0), ("finding", 1)]));
    let deploy = catalog
        .lineage("deploy", Direction::Downstream, 1, None)
        .unwrap();
    assert_eq!(
        degrees(&deploy),
        owned(&[("deploy", 0), ("pod", 1), ("rs", 1)])
    );
}
