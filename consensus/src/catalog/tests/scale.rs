//! The catalog at 100,000 assets and 300,000 relations: how long applying,
//! copying for a snapshot, encoding and loading take, and that a loaded
//! snapshot answers as the original. It prints figures for the docs and
//! asserts only correctness; run it in release:
//!
//! ```sh
//! cargo test --release -p cortex-consensus --lib catalog::tests::scale -- --ignored --nocapture
//! ```

use std::time::Instant;

use serde_json::json;

use super::*;
use crate::catalog::{AssetFilter, Direction, MAX_UPSERT_ASSETS};
use crate::store::codec::{decode, encode};
use crate::store::state_machine::Machine;

const ASSETS: usize = 100_000;

fn asset_value(i: usize) -> Value {
    let other = |salt: usize| {
        let target = (i * 7919 + salt * 104_729) % ASSETS;
        format!(
            "a/{}",
            if target == i {
                (i + 1) % ASSETS
            } else {
                target
            }
        )
    };
    let kind = ["k8s.pod", "image", "repository", "finding"][i % 4];
    json!({
        "id": format!("a/{i}"),
        "name": format!("svc-{}-{i}", i % 997),
        "type": kind,
        "namespace": format!("ns-{}", i % 50),
        "tags": [format!("tag-{}", i % 40)],
        "metadata": { "description": format!("word{} word{}", i % 1009, i % 101) },
        "relations": [
            { "type": "ownedBy", "target": format!("a/{}", if i == 0 { 1 } else { i / 2 }) },
            { "type": "dependsOn", "target": other(1) },
            { "type": "uses", "target": other(2) },
        ],
    })
}

#[test]
#[ignore = "measurement at 100,000 assets; run in release with --ignored --nocapture"]
fn a_catalog_of_100k_assets_snapshots_and_loads() {
    let mut log = Log::default();
    let started = Instant::now();
    for start in (0..ASSETS).step_by(MAX_UPSERT_ASSETS) {
        let batch = (start..(start + MAX_UPSERT_ASSETS).min(ASSETS))
            .map(asset_value)
            .collect();
        log.upsert("scale", None, batch);
    }
    let applied = started.elapsed();
    let stats = log.catalog().stats();
    println!(
        "applied {} assets, {} relations in {applied:.2?} ({:.0} assets/s, one voter)",
        stats.assets,
        stats.relations,
        ASSETS as f64 / applied.as_secs_f64()
    );

    let machine = std::sync::Arc::new(Machine {
        state: log.state.clone(),
        ..Machine::default()
    });
    let mut writer = machine.clone();
    let started = Instant::now();
    std::sync::Arc::make_mut(&mut writer);
    println!(
        "copy for the next write while a snapshot holds the state: {:.2?}",
        started.elapsed()
    );
    let started = Instant::now();
    let bytes = encode(&*machine).unwrap();
    println!(
        "snapshot encoded: {} MiB in {:.2?}",
        bytes.len() >> 20,
        started.elapsed()
    );
    let started = Instant::now();
    let loaded: Machine = decode(&bytes).unwrap();
    println!(
        "snapshot decoded, indexes rebuilt: {:.2?}",
        started.elapsed()
    );

    let (before, after) = (log.catalog(), &loaded.state.catalog);
    assert_eq!(after, before);
    assert_eq!(after.stats(), before.stats());
    for query in ["svc 17", "word5*", "tag 3"] {
        assert_eq!(
            after.search(query, None, 20),
            before.search(query, None, 20)
        );
    }
    let filter = AssetFilter {
        kind: Some("image".into()),
        namespace: Some("ns-7".into()),
        ..AssetFilter::default()
    };
    assert_eq!(
        after.page(&filter, None, 50),
        before.page(&filter, None, 50)
    );
    assert_eq!(
        after.lineage("a/4242", Direction::Both, 3, None),
        before.lineage("a/4242", Direction::Both, 3, None)
    );
}
