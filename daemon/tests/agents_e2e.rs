//! End-to-end: three voters that do not execute (`--no-execute`) and agents
//! (`cortex daemon --role agent`) as real processes. Tasks run on the agents
//! over gRPC; an agent killed mid-attempt is declared lost, its attempt is
//! fenced with its reservation released, and the task resumes from its
//! checkpoint on the other agent; a frozen agent that comes back finds its
//! late reports refused and stops its stale worker.

use std::path::Path;
use std::time::{Duration, Instant};

use cortex_chaos::ProcessCluster;
use serde_json::Value;

/// Silence after which a node is lost, for voters and agents alike.
const NODE_TIMEOUT_MS: &str = "2000";

async fn start() -> ProcessCluster {
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let cluster = ProcessCluster::start_with_args(
        binary,
        3,
        &["--no-execute", "--node-timeout-ms", NODE_TIMEOUT_MS],
    )
    .expect("start");
    cluster
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("ready");
    cluster
}

fn agent(cluster: &mut ProcessCluster, name: &str) {
    cluster
        .add_agent(name, &["--node-timeout-ms", NODE_TIMEOUT_MS])
        .expect("agent starts");
}

fn task<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no task {id}"))
}

fn attempts(run: &Value, id: &str) -> Vec<Value> {
    task(run, id)["attempts"].as_array().unwrap().clone()
}

/// A pinned task and a long, checkpointing one (10 steps of 400 ms, 100
/// tokens per step, resuming from its checkpoint).
const PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: agents }
spec:
  budget: { total: 20000, emergencyReserve: 0 }
  masters:
    inventory: { personal: 1000, workers: 9000 }
    testing: { personal: 1000, workers: 9000 }
  tasks:
    - id: pinned
      master: testing
      worker: test
      budget: 100
      node: agent-a
      executor:
        process: { command: ["sh", "-c", "echo \"{\\\"result\\\": {\\\"node\\\": \\\"$CORTEX_NODE\\\"}}\""] }
    - id: long
      master: inventory
      worker: catalog
      dependsOn: [pinned]
      budget: 2000
      retries: 2
      timeout: 2m
      executor:
        builtin: { name: sleep, duration: 4s, tokens: 1000 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_agent_is_fenced_and_its_task_resumes_on_another_agent() {
    let mut cluster = start().await;
    agent(&mut cluster, "agent-a");
    let id = cluster.submit_run(1, PLAN).await.expect("submit");

    // The pinned task ran where it was pinned, through the agent.
    let run = cluster
        .wait_run(
            &id,
            "long starts on agent-a",
            Duration::from_secs(60),
            |run| {
                attempts(run, "long")
                    .first()
                    .is_some_and(|a| a["progress"].as_u64() >= Some(30))
            },
        )
        .await
        .unwrap();
    assert_eq!(task(&run, "pinned")["state"], "completed");
    assert_eq!(attempts(&run, "pinned")[0]["node"], "agent-a");
    assert_eq!(
        task(&run, "pinned")["result"].as_str(),
        Some(r#"{"node":"agent-a"}"#)
    );
    assert_eq!(attempts(&run, "long")[0]["node"], "agent-a");

    // A second agent joins; the first dies mid-attempt.
    agent(&mut cluster, "agent-b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.kill_agent("agent-a").expect("kill");
    let killed = Instant::now();
    let run = cluster
        .wait_run(
            &id,
            "attempt 2 on agent-b",
            Duration::from_secs(30),
            |run| attempts(run, "long").len() >= 2,
        )
        .await
        .unwrap();
    let reassigned = killed.elapsed();
    eprintln!("node loss to reassignment: {reassigned:?} (node timeout {NODE_TIMEOUT_MS} ms)");
    let first = &attempts(&run, "long")[0];
    assert_eq!(first["end"], "fenced", "{first:#}");
    assert!(
        first["end_reason"].as_str().unwrap().contains("agent-a"),
        "{first:#}"
    );
    assert_eq!(attempts(&run, "long")[1]["node"], "agent-b");

    let run = cluster
        .wait_run(&id, "run completes", Duration::from_secs(60), |run| {
            run["status"] == "completed"
        })
        .await
        .unwrap();
    let long = task(&run, "long");
    // Attempt 2 resumed from attempt 1's checkpoint, so it did fewer steps.
    let result: Value = serde_json::from_str(long["result"].as_str().unwrap()).unwrap();
    let resumed_at = result["resumed_at"].as_u64().unwrap();
    assert!(resumed_at >= 3, "attempt 2 started over: {result}");
    // Only attempt 2 was charged: the fenced attempt's reservation went back.
    let charged = attempts(&run, "long")[1]["tokens_used"].as_u64().unwrap();
    assert_eq!(charged, 1000 - resumed_at * 100);
    assert_eq!(long["tokens_spent"].as_u64(), Some(charged));
    let inventory = &run["ledger"]["masters"]["inventory"];
    assert_eq!(inventory["reserved"], 0, "{inventory:#}");
    assert_eq!(inventory["spent"].as_u64(), Some(charged), "{inventory:#}");

    // The killed agent comes back: it registers again and starts nothing
    // (its attempt was fenced).
    cluster.restart_agent("agent-a").expect("restart");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run = cluster.get_json(&format!("/v1/runs/{id}")).await.unwrap();
    assert_eq!(attempts(&run, "long").len(), 2, "no duplicate start");
    cluster.check_no_crash().expect("no daemon crashed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_agent_comes_back_to_refused_reports_and_stops_its_worker() {
    let mut cluster = start().await;
    agent(&mut cluster, "agent-a");
    let id = cluster.submit_run(1, PLAN).await.expect("submit");
    cluster
        .wait_run(&id, "long starts", Duration::from_secs(60), |run| {
            attempts(run, "long")
                .first()
                .is_some_and(|a| a["progress"].as_u64() >= Some(20))
        })
        .await
        .unwrap();
    agent(&mut cluster, "agent-b");
    cluster.pause_agent("agent-a").expect("pause");
    cluster
        .wait_run(
            &id,
            "attempt 2 on agent-b",
            Duration::from_secs(30),
            |run| attempts(run, "long").len() >= 2,
        )
        .await
        .unwrap();
    // agent-a wakes up believing attempt 1 is still its own.
    cluster.resume_agent("agent-a").expect("resume");
    let run = cluster
        .wait_run(&id, "run completes", Duration::from_secs(60), |run| {
            run["status"] == "completed"
        })
        .await
        .unwrap();
    let first = &attempts(&run, "long")[0];
    assert_eq!(
        first["end"], "fenced",
        "agent-a's late reports changed attempt 1: {first:#}"
    );
    assert_eq!(first["node"], "agent-a");
    // agent-a noticed and stopped its stale attempt rather than run it on.
    let start = Instant::now();
    loop {
        let log = cluster.agent_log_tail("agent-a", 400);
        if log.contains("no longer live") || log.contains("report refused") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "agent-a never stopped attempt 1:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let long = task(&run, "long");
    let charged = attempts(&run, "long")[1]["tokens_used"].as_u64().unwrap();
    assert_eq!(long["tokens_spent"].as_u64(), Some(charged));
    cluster.check_no_crash().expect("no daemon crashed");
}
