//! End-to-end: the seed's plan (`examples/full-orchestration.yaml`) runs to
//! completion on three real `cortex daemon` processes and its report adds
//! up; and a run survives SIGKILL of the daemon holding the most master
//! leases mid-run.

use std::path::Path;
use std::time::{Duration, Instant};

use cortex_chaos::ProcessCluster;
use reqwest::Client;
use serde_json::Value;

async fn start() -> ProcessCluster {
    let cluster = ProcessCluster::start(Path::new(env!("CARGO_BIN_EXE_cortex")), 3).expect("start");
    cluster
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("ready");
    cluster
}

async fn get(client: &Client, cluster: &ProcessCluster, node: u64, path: &str) -> Option<Value> {
    let response = client
        .get(format!("{}{path}", cluster.api_url(node)))
        .bearer_auth(cluster.token())
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

async fn submit(client: &Client, cluster: &ProcessCluster, node: u64, plan: String) -> String {
    let response = client
        .post(format!("{}/v1/runs", cluster.api_url(node)))
        .bearer_auth(cluster.token())
        .header("content-type", "application/yaml")
        .body(plan)
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_string()
}

/// Polls the run through any live node until it ends.
async fn wait_end(client: &Client, cluster: &ProcessCluster, id: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        for node in cluster.live_ids() {
            if let Some(run) = get(client, cluster, node, &format!("/v1/runs/{id}")).await {
                if run["status"]
                    .as_str()
                    .is_some_and(|s| s != "pending" && s != "running")
                {
                    return run;
                }
            }
        }
        assert!(
            start.elapsed() < timeout,
            "run {id} did not end within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn example() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/full-orchestration.yaml");
    // The daemons run in this crate's directory; the plan's audit path is
    // relative to the repository's root (where `make dev` runs it).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifests = root.join("examples/manifests");
    std::fs::read_to_string(path).unwrap().replace(
        "[examples/manifests]",
        &format!("[{:?}]", manifests.display().to_string()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_plan_runs_to_completion_and_its_report_adds_up() {
    let cluster = start().await;
    let client = Client::new();
    let submitted = Instant::now();
    let id = submit(&client, &cluster, 2, example()).await;
    let run = wait_end(&client, &cluster, &id, Duration::from_secs(120)).await;
    // Orchestration overhead: the example's workers take milliseconds each.
    eprintln!(
        "example plan: submit -> {} in {:?}",
        run["status"],
        submitted.elapsed()
    );
    assert_eq!(run["status"], "completed", "{run:#}");

    let report = get(&client, &cluster, 3, &format!("/v1/runs/{id}/report"))
        .await
        .unwrap();
    let per_master = report["tokens"]["per_master"].as_object().unwrap();
    let summed: u64 = per_master.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(
        summed,
        report["tokens"]["used"].as_u64().unwrap(),
        "{report:#}"
    );
    assert_eq!(report["masters"].as_object().unwrap().len(), 7);
    assert_eq!(
        report["workers"]["succeeded"].as_u64(),
        Some(28),
        "{report:#}"
    );
    assert!(report["tokens"]["efficiency"].is_number());

    // The CLI prints the Markdown summary of the same run.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["run", "report", &id, "--api", &cluster.api_url(1)])
        .env("CORTEX_ADMIN_TOKEN", cluster.token())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = String::from_utf8_lossy(&output.stdout);
    assert!(markdown.contains("Execution Report"), "{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_sigkill_of_the_daemon_holding_master_leases() {
    let cluster = start().await;
    let client = Client::new();
    // Slow the example's workers down so the kill lands mid-run.
    let plan = example().replace(
        "command: [\"sh\", \"-c\", '",
        "command: [\"sh\", \"-c\", 'sleep 0.5; ",
    );
    let id = submit(&client, &cluster, 1, plan).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = get(&client, &cluster, 1, "/v1/cluster").await.unwrap();
    let mut holders: Vec<u64> = status["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["holder"].as_u64().unwrap())
        .collect();
    holders.sort();
    let victim = *holders
        .iter()
        .max_by_key(|h| holders.iter().filter(|x| x == h).count())
        .expect("leases are held");
    let killed = Instant::now();
    cluster.kill(victim).unwrap();
    let survivor = cluster.live_ids()[0];
    // Every role is held again by a live daemon.
    let mut failover = None;
    while killed.elapsed() < Duration::from_secs(30) {
        if let Some(status) = get(&client, &cluster, survivor, "/v1/cluster").await {
            let leases = status["leases"].as_array().cloned().unwrap_or_default();
            if leases.len() == 7 && leases.iter().all(|l| l["holder"].as_u64() != Some(victim)) {
                failover = Some(killed.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failover = failover.expect("every role taken over");
    eprintln!("master-lease failover after SIGKILL of node {victim}: {failover:?}");
    let run = wait_end(&client, &cluster, &id, Duration::from_secs(180)).await;
    assert_eq!(run["status"], "completed", "{run:#}");
}
