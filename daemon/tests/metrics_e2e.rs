//! End-to-end: `GET /metrics` of real processes — three voters that do not
//! execute and one agent that does — after a run with one completed and
//! one failed task. The leader alone exports the cluster-wide series, a
//! follower only its own Raft view, the agent what it ran; none asks for
//! a token.
//!
//! The same scrapes then check the monitoring files the chart ships (`chart/files/`): every
//! metric an alert rule, a rule test or a dashboard panel reads must be
//! declared (`# TYPE`) by one of the three, with the right kind
//! (`support/deploy_metrics.rs`). A metric renamed in the daemon fails here
//! instead of silently emptying a panel or muting an alert.

#[path = "support/deploy_metrics.rs"]
mod deploy_metrics;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cortex_chaos::{run_ended, ProcessCluster};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Client;
use serde_json::Value;

use deploy_metrics::{check_deploy_files, exported_families, Kind};

/// A 1 s sleep that reports 500 tokens, and a process that fails at once.
const PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: metrics }
spec:
  budget: { total: 20000, emergencyReserve: 0 }
  masters:
    inventory: { personal: 1000, workers: 9000 }
    testing: { personal: 1000, workers: 9000 }
  tasks:
    - id: counted
      master: inventory
      worker: catalog
      budget: 2000
      executor:
        builtin: { name: sleep, duration: 1s, tokens: 500 }
    - id: broken
      master: testing
      worker: test
      budget: 100
      retries: 0
      executor:
        process: { command: ["sh", "-c", "exit 3"] }
"#;

/// Cluster-wide families, exported by the leader only.
const CLUSTER_FAMILIES: [&str; 21] = [
    "cortex_master_tasks_active",
    "cortex_master_tasks_failed_total",
    "cortex_master_tokens_used_total",
    "cortex_master_workers_spawned_total",
    "cortex_worker_tokens_used_total",
    "cortex_worker_attempts_total",
    "cortex_worker_timeout_used_ratio",
    "cortex_task_queue_depth",
    "cortex_tokens_budget",
    "cortex_tokens_used",
    "cortex_tokens_reserved",
    "cortex_runs",
    "cortex_handoffs_total",
    "cortex_escalations_total",
    "cortex_escalations_open",
    "cortex_nodes",
    "cortex_master_lease_epoch",
    "cortex_master_lease_held",
    "cortex_catalog_assets",
    "cortex_catalog_findings",
    "cortex_master_tasks",
];

/// Families of every voter, about itself.
const VOTER_FAMILIES: [&str; 7] = [
    "cortex_raft_term",
    "cortex_raft_is_leader",
    "cortex_raft_commit_index",
    "cortex_raft_applied_index",
    "cortex_raft_leader_id",
    "cortex_raft_apply_duration_seconds",
    "cortex_catalog_api_latency_seconds",
];

/// Families of every node.
const NODE_FAMILIES: [&str; 3] = [
    "cortex_build_info",
    "cortex_worker_duration_seconds",
    "gen_ai_client_token_usage",
];

/// Event and Redis families of every node, registered whether the daemon
/// has `--redis-url` or not (values 0 without Redis; this cluster has
/// none), so the monitoring-files check below sees them in the scrapes.
const EVENT_FAMILIES: [&str; 4] = [
    "cortex_events_dropped_total",
    "cortex_events_published_total",
    "cortex_events_received_total",
    "cortex_redis_publish_latency_seconds",
];

/// Families only a daemon with `--redis-url` registers, so that "Redis is
/// down" cannot fire where no Redis is configured
/// (`EventMetrics::register`). This cluster has no Redis, so no scrape
/// declares them, yet the chart's monitoring files read them: their check takes
/// them as exported from this list, the one exception it makes.
/// `redis_bridge.rs` scrapes them from daemons with Redis; and the test
/// fails if a daemon without Redis exports one, so the exception goes when
/// it is no longer needed.
const REDIS_ONLY_FAMILIES: [(&str, Kind); 1] = [("cortex_redis_connected", Kind::Gauge)];

fn described(text: &str, family: &str) -> bool {
    text.contains(&format!("# TYPE {family} "))
}

/// The value of the sample written exactly as `series`, if any.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Scrapes `base/metrics` without a token, in the classic text format.
async fn scrape(client: &Client, base: &str) -> String {
    let response = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200, "GET {base}/metrics");
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// Scrapes until `check` holds, or panics with the last scrape.
async fn scrape_until(
    client: &Client,
    base: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let text = scrape(client, base).await;
        if check(&text) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: not within 20 s; last scrape of {base}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The agent's probe address, from its "agent started" log line (the
/// cluster chose the port).
async fn agent_url(cluster: &ProcessCluster, name: &str) -> String {
    let start = Instant::now();
    loop {
        let probe = cluster
            .agent_log_tail(name, 200)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|line| line["probe"].as_str().map(str::to_string));
        if let Some(probe) = probe {
            return format!("http://{probe}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "agent {name} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_follower_and_agent_each_export_their_series() {
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let mut cluster = ProcessCluster::start_with_args(binary, 3, &["--no-execute"]).expect("start");
    cluster
        .wait_ready(Duration::from_secs(30))
        .await
        .expect("ready");
    cluster.add_agent("agent-a", &[]).expect("agent starts");
    let client = Client::new();
    let agent = agent_url(&cluster, "agent-a").await;

    let id = cluster.submit_run(1, PLAN).await.expect("submit");
    let run = cluster
        .wait_run(&id, "the run ends", Duration::from_secs(30), run_ended)
        .await
        .unwrap();
    assert_eq!(run["status"], "failed", "{run:#}");
    // The agent ran attempts, so it is in touch with the voters: ready.
    let ready = client.get(format!("{agent}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "agent /readyz");

    // What each daemon answered, for the check of the monitoring files at the end.
    let mut scrapes: Vec<(&str, String)> = Vec::new();

    // The leader: every cluster-wide family, with the run's numbers.
    let leader = cluster
        .wait_leader(Duration::from_secs(10), &[])
        .await
        .expect("leader");
    let text = scrape_until(
        &client,
        &cluster.api_url(leader),
        "leader's series",
        |text| {
            value(text, "cortex_raft_is_leader") == Some(1.0)
                && value(text, r#"cortex_runs{status="failed"}"#) == Some(1.0)
        },
    )
    .await;
    for family in CLUSTER_FAMILIES
        .iter()
        .chain(&VOTER_FAMILIES)
        .chain(&NODE_FAMILIES)
        .chain(&EVENT_FAMILIES)
    {
        assert!(described(&text, family), "leader lacks {family}:\n{text}");
    }
    for (series, expected) in [
        (
            r#"cortex_worker_attempts_total{worker_type="catalog",outcome="completed"}"#,
            1.0,
        ),
        (
            r#"cortex_worker_attempts_total{worker_type="test",outcome="failed"}"#,
            1.0,
        ),
        (r#"cortex_master_tasks_failed_total{master="testing"}"#, 1.0),
        (
            r#"cortex_master_workers_spawned_total{master="inventory"}"#,
            1.0,
        ),
        (
            r#"cortex_master_tokens_used_total{master="inventory"}"#,
            500.0,
        ),
        (
            r#"cortex_worker_tokens_used_total{worker_type="catalog"}"#,
            500.0,
        ),
        (r#"cortex_master_tasks_active{master="inventory"}"#, 0.0),
        (r#"cortex_task_queue_depth{master="testing"}"#, 0.0),
        (r#"cortex_raft_leader_id"#, leader as f64),
    ] {
        assert_eq!(value(&text, series), Some(expected), "{series} in\n{text}");
    }
    assert!(
        value(&text, r#"cortex_nodes{status="alive"}"#) >= Some(1.0),
        "{text}"
    );
    // Roles move between voters to spread them, so a lease may be between
    // holders at any one scrape; its epoch only grows.
    let epoch = value(&text, r#"cortex_master_lease_epoch{master="inventory"}"#);
    assert!(epoch >= Some(1.0), "{text}");
    assert!(
        !text.contains(&format!(r#"run="{id}""#)),
        "an ended run has no series"
    );
    scrapes.push(("leader", text));

    // Prometheus asks for OpenMetrics and gets it.
    let response = client
        .get(format!("{}/metrics", cluster.api_url(leader)))
        .header(
            ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(response.text().await.unwrap().ends_with("# EOF\n"));

    // A follower: its own Raft view, no cluster-wide series.
    let follower = *cluster.ids().iter().find(|id| **id != leader).unwrap();
    let text = scrape(&client, &cluster.api_url(follower)).await;
    for family in VOTER_FAMILIES
        .iter()
        .chain(&NODE_FAMILIES)
        .chain(&EVENT_FAMILIES)
    {
        assert!(described(&text, family), "follower lacks {family}:\n{text}");
    }
    assert_eq!(value(&text, "cortex_raft_is_leader"), Some(0.0), "{text}");
    for family in CLUSTER_FAMILIES {
        assert!(
            !described(&text, family),
            "follower exports {family}:\n{text}"
        );
    }
    scrapes.push(("follower", text));

    // The agent: what it ran, nothing of Raft or the cluster.
    let text = scrape_until(&client, &agent, "agent's durations", |text| {
        value(
            text,
            r#"cortex_worker_duration_seconds_count{worker_type="catalog"}"#,
        ) == Some(1.0)
    })
    .await;
    for family in NODE_FAMILIES.iter().chain(&EVENT_FAMILIES) {
        assert!(described(&text, family), "agent lacks {family}:\n{text}");
    }
    assert_eq!(
        value(
            &text,
            r#"cortex_worker_duration_seconds_count{worker_type="test"}"#
        ),
        Some(1.0),
        "{text}"
    );
    let slept = value(
        &text,
        r#"cortex_worker_duration_seconds_sum{worker_type="catalog"}"#,
    );
    assert!(slept >= Some(1.0), "a 1 s sleep measured {slept:?}");
    for family in CLUSTER_FAMILIES.iter().chain(&VOTER_FAMILIES) {
        assert!(!described(&text, family), "agent exports {family}:\n{text}");
    }
    scrapes.push(("agent", text));

    // The monitoring files read only what the three export between them (each
    // metric from the daemons that have it: the leader's cluster series,
    // every voter's Raft series, every node's worker and event series).
    let mut exported: BTreeMap<String, Kind> = BTreeMap::new();
    for (who, text) in &scrapes {
        let families =
            exported_families(text).unwrap_or_else(|e| panic!("the {who}'s scrape: {e}"));
        for (name, kind) in families {
            let before = exported.insert(name.clone(), kind);
            assert!(
                before.is_none_or(|before| before == kind),
                "{name} is a {before:?} elsewhere but a {kind:?} on the {who}"
            );
        }
    }
    for (name, kind) in REDIS_ONLY_FAMILIES {
        assert!(
            exported.insert(name.to_string(), kind).is_none(),
            "{name} is exported without Redis: remove it from REDIS_ONLY_FAMILIES"
        );
    }
    if let Err(unknown) = check_deploy_files(&exported) {
        panic!("{unknown}\nexported by the leader, a follower and the agent: {exported:#?}");
    }
    cluster.check_no_crash().expect("no daemon crashed");
}
