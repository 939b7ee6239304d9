//! `cortex bench catalog`: loads a synthetic catalog into a running cluster
//! through `upsertAssets` and measures, over HTTP, the ingest rate and the
//! latency of `asset(id)`, `search` and `lineage(depth: 3)`, each next to
//! its target. It prints figures and asserts nothing (speed is measured by
//! benchmarks, not by timed tests).
//!
//! The catalog looks like a cluster's: pods, deployments, services,
//! images, repositories, commits and findings in 50 namespaces, named from
//! a vocabulary of 1,000 words, each declaring `--relations` relations
//! (`ownedBy` a tree parent, then `dependsOn` and `uses` random others).
//! Ids carry a random run tag, so runs against the same cluster do not
//! collide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};

use super::graphql;
use crate::cli::ApiArgs;
use crate::client::ApiClient;

/// Flags of `cortex bench catalog`.
#[derive(Debug, Clone, Args)]
pub struct BenchCatalogArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Assets to load.
    #[arg(long, default_value_t = 100_000)]
    assets: usize,
    /// Relations each asset declares (1 to 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=3))]
    relations: u8,
    /// Assets per `upsertAssets` call (at most 1,000).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent loaders.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Timed samples of each query.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
}

/// Targets of the catalog issue.
const INGEST_TARGET: f64 = 10_000.0;
const ASSET_P99_TARGET_MS: f64 = 2.0;
const SEARCH_P99_TARGET_MS: f64 = 20.0;
const LINEAGE_P99_TARGET_MS: f64 = 10.0;

const TYPES: [&str; 10] = [
    "k8s.pod",
    "k8s.pod",
    "k8s.pod",
    "k8s.deployment",
    "k8s.service",
    "image",
    "repository",
    "commit",
    "finding",
    "k8s.pod",
];
const SYLLABLES: [&str; 10] = ["ka", "lo", "mi", "ra", "te", "zu", "no", "si", "ve", "bo"];
const HEALTH: [&str; 4] = ["HEALTHY", "HEALTHY", "DEGRADED", "UNHEALTHY"];

/// A small deterministic generator (xorshift64*), so every run loads the same shapes.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

/// Word `n` of the 1,000-word vocabulary (three syllables).
fn word(n: usize) -> String {
    let n = n % 1000;
    [n / 100, n / 10 % 10, n % 10]
        .iter()
        .map(|&s| SYLLABLES[s])
        .collect()
}

/// The synthetic catalog's asset `i`.
struct Shape {
    tag: String,
    count: usize,
    relations: usize,
}

impl Shape {
    fn id(&self, i: usize) -> String {
        format!("bench-{}/{}/{i}", self.tag, TYPES[i % TYPES.len()])
    }

    fn asset(&self, i: usize) -> Value {
        let mut dice = Dice((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let parent = if i == 0 { 1 } else { i / 2 };
        let mut relations = vec![json!({ "type": "OWNED_BY", "target": self.id(parent) })];
        for kind in ["DEPENDS_ON", "USES"].iter().take(self.relations - 1) {
            let mut other = dice.below(self.count);
            if other == i {
                other = (i + 1) % self.count;
            }
            relations.push(json!({ "type": kind, "target": self.id(other) }));
        }
        let words: Vec<String> = (0..5).map(|_| word(dice.below(1000))).collect();
        json!({
            "id": self.id(i),
            "name": format!("{}-{}-{i}", words[0], words[1]),
            "type": TYPES[i % TYPES.len()],
            "namespace": format!("ns-{}", i % 50),
            "owner": format!("team-{}", i % 20),
            "tags": [format!("tag-{}", i % 40), if i.is_multiple_of(3) { "prod" } else { "staging" }],
            "metadata": { "description": words[2..].join(" "), "replicas": i % 5 },
            "health": { "status": HEALTH[i % HEALTH.len()] },
            "relations": relations,
        })
    }
}

/// Runs the benchmark and prints its figures.
pub async fn run(args: BenchCatalogArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.assets >= 2, "--assets must be at least 2");
    anyhow::ensure!(
        (1..=1000).contains(&args.batch),
        "--batch must be 1 to 1000"
    );
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.queries > 0, "--queries must be at least 1");
    let client = Arc::new(ApiClient::from_args(&args.api)?);
    let mut tag_bytes = [0u8; 3];
    getrandom::getrandom(&mut tag_bytes)?;
    let tag = hex::encode(tag_bytes);
    let shape = Arc::new(Shape {
        tag,
        count: args.assets,
        relations: usize::from(args.relations),
    });
    println!(
        "catalog bench: {} assets, {} relations, {} per call, {} loaders, against {}",
        args.assets,
        args.assets * shape.relations,
        args.batch,
        args.concurrency,
        args.api.api
    );
    let elapsed = ingest(&client, &shape, &args).await?;
    let rate = args.assets as f64 / elapsed.as_secs_f64();
    println!(
        "ingest            {:>9.0} assets/s  ({} assets in {:.2?}; target >= {INGEST_TARGET:.0}/s: {:.2}x)",
        rate,
        args.assets,
        elapsed,
        rate / INGEST_TARGET
    );
    let mut dice = Dice(42);
    let asset = measure(&client, args.queries, || {
        let id = shape.id(dice.below(shape.count));
        (
            "query($id: ID!) { asset(id: $id) { id name type health { status } } }",
            json!({ "id": id }),
        )
    })
    .await?;
    report("asset(id)", &asset, ASSET_P99_TARGET_MS, "");
    let mut dice = Dice(7);
    let search = measure(&client, args.queries, || {
        let words = 1 + dice.below(2);
        let query: Vec<String> = (0..words).map(|_| word(dice.below(1000))).collect();
        (
            "query($q: String!) { search(query: $q, first: 20) { id name } }",
            json!({ "q": query.join(" ") }),
        )
    })
    .await?;
    report("search", &search, SEARCH_P99_TARGET_MS, "");
    let mut dice = Dice(99);
    let lineage_query = "query($id: ID!) { lineage(id: $id, depth: 3) {
        nodes { degree asset { id } } edges { from to type } } }";
    let lineage = measure(&client, args.queries, || {
        (
            lineage_query,
            json!({ "id": shape.id(dice.below(shape.count)) }),
        )
    })
    .await?;
    let nodes = lineage.sizes.iter().sum::<usize>() as f64 / lineage.sizes.len().max(1) as f64;
    report(
        "lineage(depth 3)",
        &lineage,
        LINEAGE_P99_TARGET_MS,
        &format!("  {nodes:.0} assets per answer on average"),
    );
    let stats = graphql(&client, "{ stats { total relations } }", json!({})).await?;
    println!(
        "catalog now holds {} assets and {} relations",
        stats["stats"]["total"], stats["stats"]["relations"]
    );
    Ok(())
}

/// Loads every asset in batches from concurrent loaders; the wall time.
async fn ingest(
    client: &Arc<ApiClient>,
    shape: &Arc<Shape>,
    args: &BenchCatalogArgs,
) -> anyhow::Result<Duration> {
    const UPSERT: &str = "mutation($source: String!, $assets: [AssetInput!]!) {
        upsertAssets(source: $source, by: \"cortex bench catalog\", assets: $assets) { created } }";
    let batches = args.assets.div_ceil(args.batch);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let loaders = (0..args.concurrency).map(|_| {
        let (client, shape, next) = (client.clone(), shape.clone(), next.clone());
        let (batch, count) = (args.batch, args.assets);
        tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= batches {
                    return Ok::<_, anyhow::Error>(());
                }
                let assets: Vec<Value> = (n * batch..((n + 1) * batch).min(count))
                    .map(|i| shape.asset(i))
                    .collect();
                let source = format!("bench-{}", shape.tag);
                graphql(
                    &client,
                    UPSERT,
                    json!({ "source": source, "assets": assets }),
                )
                .await?;
                if n.is_multiple_of(20) {
                    eprintln!("  {}/{} assets", ((n + 1) * batch).min(count), count);
                }
            }
        })
    });
    for loader in futures::future::join_all(loaders).await {
        loader??;
    }
    Ok(started.elapsed())
}

/// Latencies (sorted) and answer sizes of one query kind.
struct Samples {
    latencies: Vec<Duration>,
    sizes: Vec<usize>,
}

/// Sends `count` queries one after the other (after 50 untimed warm-ups).
async fn measure(
    client: &ApiClient,
    count: usize,
    mut next: impl FnMut() -> (&'static str, Value),
) -> anyhow::Result<Samples> {
    let mut samples = Samples {
        latencies: Vec::with_capacity(count),
        sizes: Vec::with_capacity(count),
    };
    for n in 0..count + 50 {
        let (query, variables) = next();
        let sent = Instant::now();
        let data = graphql(client, query, variables).await?;
        if n >= 50 {
            samples.latencies.push(sent.elapsed());
            samples
                .sizes
                .push(data["lineage"]["nodes"].as_array().map_or(0, Vec::len));
        }
    }
    samples.latencies.sort();
    Ok(samples)
}

fn report(name: &str, samples: &Samples, target_ms: f64, extra: &str) {
    let at = |q: f64| {
        let l = &samples.latencies;
        l[((l.len() as f64 * q) as usize).min(l.len() - 1)].as_secs_f64() * 1000.0
    };
    let p99 = at(0.99);
    println!(
        "{name:<17} p50 {:>6.2} ms  p99 {p99:>6.2} ms  (target p99 <= {target_ms} ms: {:.2} of it){extra}",
        at(0.50),
        p99 / target_ms
    );
}
