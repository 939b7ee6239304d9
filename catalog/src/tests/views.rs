//! Read-only views of runs and workers, and a worker's progress followed
//! to its end.

use std::collections::BTreeMap;
use std::time::Duration;

use async_graphql::futures_util::{Stream, StreamExt};
use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{AttemptReport, RunId};
use cortex_consensus::state::leases::Fence;

use super::*;

const PLAN: &str = "apiVersion: cortex.dev/v1
kind: Run
metadata: { name: views }
spec:
  budget: { total: 50000, emergencyReserve: 1000 }
  masters:
    security: { personal: 10000, workers: 10000 }
  tasks:
    - { id: scan, master: security, worker: scan, retries: 0, executor: { process: { command: [\"true\"] } } }
";

/// A run `r1` whose only task has a live first attempt on node `n1`.
async fn running(cluster: &MemoryCluster) {
    let role = MasterRole::Security;
    let commands = [
        Command::SubmitRun {
            run: RunId("r1".into()),
            spec: plan::parse(PLAN).expect("the plan is valid"),
        },
        Command::RegisterNode {
            name: "n1".into(),
            labels: BTreeMap::new(),
            capacity: 2,
            voter: Some(1),
        },
        Command::AcquireLease {
            role,
            holder: 1,
            ttl_ms: 60_000,
        },
        Command::AssignTask {
            run: RunId("r1".into()),
            task: TaskId("scan".into()),
            attempt: 1,
            node: "n1".into(),
            fence: Fence { role, epoch: 1 },
        },
    ];
    for command in commands {
        cluster.write(operator(), command).await.expect("applies");
    }
}

#[tokio::test]
async fn runs_workers_and_leases_are_readable() {
    let (schema, cluster) = setup();
    running(&cluster).await;
    let answer = data(
        &schema,
        "{ runs { id name status budget { total reserved } masters { role limit reserved }
                  tasks { id state workerType attempts { id status node } } }
           workers { id runId taskId attempt master status reserved }
           masters { role holder epoch }
           nodes { name alive capacity voter }
           run(id: \"nope\") { id } }",
        json!({}),
    )
    .await;
    let run = &answer["runs"][0];
    assert_eq!(run["name"], "views");
    assert_eq!(run["status"], "RUNNING");
    assert_eq!(run["budget"]["total"], 50_000);
    assert_eq!(run["masters"][0]["role"], "security");
    assert_eq!(run["tasks"][0]["state"], "RUNNING");
    assert_eq!(
        run["tasks"][0]["attempts"][0],
        json!({ "id": "r1/scan#1", "status": "RUNNING", "node": "n1" })
    );
    let worker = &answer["workers"][0];
    assert_eq!(worker["id"], "r1/scan#1");
    assert_eq!(worker["master"], "security");
    assert!(worker["reserved"].as_u64().unwrap() > 0);
    assert_eq!(
        answer["masters"],
        json!([{ "role": "security", "holder": 1, "epoch": 1 }])
    );
    assert_eq!(
        answer["nodes"],
        json!([{ "name": "n1", "alive": true, "capacity": 2, "voter": 1 }])
    );
    assert!(answer["run"].is_null());
}

/// The next `workerProgress` payload, `None` when the stream ended.
async fn next(stream: &mut (impl Stream<Item = async_graphql::Response> + Unpin)) -> Option<Value> {
    let response = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("in time");
    response.map(|r| serde_json::to_value(r).unwrap()["data"]["workerProgress"].clone())
}

#[tokio::test]
async fn worker_progress_follows_a_worker_to_its_end() {
    let (schema, cluster) = setup();
    running(&cluster).await;
    let mut stream = schema.execute_stream(
        "subscription { workerProgress(workerId: \"r1/scan\") { id status error } }",
    );
    assert_eq!(
        next(&mut stream).await,
        Some(json!({ "id": "r1/scan#1", "status": "RUNNING", "error": null }))
    );
    let report = Command::ReportAttempt {
        run: RunId("r1".into()),
        task: TaskId("scan".into()),
        attempt: 1,
        report: AttemptReport::Failed {
            tokens_used: 10,
            error: "exit 3".into(),
        },
    };
    cluster.write(operator(), report).await.unwrap();
    assert_eq!(
        next(&mut stream).await,
        Some(json!({ "id": "r1/scan#1", "status": "FAILED", "error": "exit 3" }))
    );
    assert_eq!(
        next(&mut stream).await,
        None,
        "the task ended, so does the subscription"
    );
    let (code, _) = {
        let mut unknown =
            schema.execute_stream("subscription { workerProgress(workerId: \"r1/nope\") { id } }");
        let response = serde_json::to_value(unknown.next().await.unwrap()).unwrap();
        (response["errors"][0]["extensions"]["code"].clone(), ())
    };
    assert_eq!(code, "NOT_FOUND");
}
