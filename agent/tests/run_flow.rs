//! Runs through a real three-voter cluster in one process (real Raft over
//! gRPC on loopback, real processes as workers): a plan runs to completion
//! and its ledger adds up; losing the holder of master leases mid-run does
//! not stop it; concurrent reservations never exceed a pool.

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_agent::{NodeRuntime, RuntimeOptions, Telemetry};
use cortex_consensus::node::{Node, NodeOptions, Tuning};
use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{RunId, RunStatus, TaskState};
use cortex_consensus::state::leases::Fence;
use cortex_consensus::transport::tls::Security;
use cortex_consensus::{Command, ConsensusError, ConsensusHandle, NodeAddr, Rejection};
use tempfile::TempDir;
use tokio::net::TcpListener;

struct Voter {
    node: Node,
    runtime: Option<NodeRuntime>,
}

struct Cluster {
    voters: BTreeMap<u64, Voter>,
    _dir: TempDir,
}

impl Cluster {
    /// Three voters; each runs a node runtime if `options` gives one.
    async fn start(options: impl Fn(u64) -> Option<RuntimeOptions>) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut listeners = BTreeMap::new();
        let mut peers = BTreeMap::new();
        for id in 1..=3u64 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            peers.insert(
                id,
                NodeAddr {
                    raft_addr: listener.local_addr().unwrap().to_string(),
                },
            );
            listeners.insert(id, listener);
        }
        let mut voters = BTreeMap::new();
        for (id, listener) in listeners {
            let node_options = NodeOptions {
                id,
                peers: peers.clone(),
                api_addr: String::new(),
                data_dir: dir.path().join(format!("n{id}")),
                tuning: Tuning::default(),
                security: Security::Plaintext,
            };
            let node = Node::start(node_options, listener).await.unwrap();
            let runtime = options(id)
                .map(|o| NodeRuntime::start(node.handle().clone(), o, Telemetry::default()));
            voters.insert(id, Voter { node, runtime });
        }
        Cluster { voters, _dir: dir }
    }

    fn handle(&self) -> ConsensusHandle {
        self.voters.values().next().unwrap().node.handle().clone()
    }

    async fn stop(&mut self, id: u64) {
        let voter = self.voters.remove(&id).unwrap();
        // The runtime is dropped without releasing anything: a crash.
        drop(voter.runtime);
        voter.node.shutdown().await;
    }

    /// Stops every runtime first (they need a quorum to hand leases back),
    /// then the Raft nodes.
    async fn shutdown(self) {
        let mut nodes = Vec::new();
        for (_, voter) in self.voters {
            if let Some(runtime) = voter.runtime {
                runtime.shutdown().await;
            }
            nodes.push(voter.node);
        }
        for node in nodes {
            node.shutdown().await;
        }
    }
}

fn options(id: u64) -> Option<RuntimeOptions> {
    Some(RuntimeOptions {
        node_name: format!("n{id}"),
        heartbeat: Duration::from_millis(200),
        node_timeout: Duration::from_millis(1_500),
        lease_ttl: Duration::from_millis(1_000),
        ..RuntimeOptions::default()
    })
}

async fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn submit(handle: &ConsensusHandle, id: &str, yaml: &str) -> RunId {
    let spec = plan::parse(yaml).unwrap_or_else(|e| panic!("plan: {e}"));
    let run = RunId(id.into());
    handle
        .write(Command::SubmitRun {
            run: run.clone(),
            spec,
        })
        .await
        .unwrap();
    run
}

async fn wait_run_end(
    handle: &ConsensusHandle,
    run: &RunId,
    timeout: Duration,
) -> cortex_consensus::run::Run {
    wait_for("the run to end", timeout, || {
        handle.state().read(|m| {
            m.state
                .runs
                .get(run)
                .filter(|r| r.status.is_terminal())
                .cloned()
        })
    })
    .await
}

const PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: flow }
spec:
  budget: { total: 100000, emergencyReserve: 10000 }
  masters:
    security: { personal: 10000, workers: 20000 }
    development: { personal: 10000, workers: 20000 }
    coordinator: { personal: 10000, workers: 10000 }
  tasks:
    - id: scan
      master: security
      worker: scan
      executor: { process: { command: ["sh", "-c", "echo '{\"tokens\": {\"input\": 300, \"output\": 100}}'; echo '{\"result\": {\"cves\": 2}}'"] } }
    - id: fix
      master: development
      worker: fix
      dependsOn: [scan]
      executor: { process: { command: ["sh", "-c", "test \"$CORTEX_ATTEMPT\" = 1 && exit 1; echo '{\"tokens\": 250}'"] } }
    - id: report
      master: coordinator
      worker: documentation
      dependsOn: [fix]
      executor: { process: { command: ["sh", "-c", "echo '{\"progress\": 100, \"message\": \"done\"}'; echo '{\"tokens\": 50}'"] } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_runs_to_completion_and_its_ledger_adds_up() {
    let cluster = Cluster::start(options).await;
    let handle = cluster.handle();
    let run = submit(&handle, "flow-1", PLAN).await;
    let run = wait_run_end(&handle, &run, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:#?}", run.tasks);
    // `fix` fails its first attempt on purpose and succeeds on the retry.
    let fix = &run.tasks[&TaskId("fix".into())];
    assert_eq!(fix.attempts.len(), 2);
    assert_eq!(
        run.tasks[&TaskId("scan".into())].result.as_deref(),
        Some(r#"{"cves":2}"#)
    );
    // The ledger adds up: per-master spending sums to the run's, nothing held.
    assert_eq!(run.ledger.accounts[&MasterRole::Security].spent, 400);
    assert_eq!(run.ledger.accounts[&MasterRole::Development].spent, 250);
    assert_eq!(run.ledger.spent(), 700);
    assert_eq!(run.ledger.reserved(), 0);
    assert!(run.tasks.values().all(|t| t.state == TaskState::Completed));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_holder_of_master_leases_mid_run_does_not_stop_it() {
    let mut cluster = Cluster::start(options).await;
    let handle = cluster.handle();
    let slow = PLAN.replace(
        "echo '{\\\"tokens\\\": 250}'",
        "sleep 2; echo '{\\\"tokens\\\": 250}'",
    );
    let run = submit(&handle, "flow-2", &slow).await;
    // Wait until the development role is held, then crash its holder.
    let (holder, epoch) = wait_for("the development lease", Duration::from_secs(10), || {
        handle.state().read(|m| {
            m.state
                .leases
                .held
                .get(&MasterRole::Development)
                .map(|l| (l.holder, l.epoch))
        })
    })
    .await;
    cluster.stop(holder).await;
    let survivor = cluster
        .voters
        .values()
        .next()
        .unwrap()
        .node
        .handle()
        .clone();
    let new = wait_for(
        "another voter to take the role",
        Duration::from_secs(15),
        || {
            survivor.state().read(|m| {
                m.state
                    .leases
                    .held
                    .get(&MasterRole::Development)
                    .filter(|l| l.holder != holder)
                    .cloned()
            })
        },
    )
    .await;
    assert!(new.epoch > epoch, "takeover increments the epoch");
    // A command fenced with the dead holder's epoch is refused.
    let stale = Command::Reallocate {
        run: run.clone(),
        from: MasterRole::Coordinator,
        to: MasterRole::Development,
        amount: 1,
        fence: Fence {
            role: MasterRole::Development,
            epoch,
        },
    };
    assert!(matches!(
        survivor.write(stale).await,
        Err(ConsensusError::Rejected(_))
    ));
    let run = wait_run_end(&survivor, &run, Duration::from_secs(60)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:#?}", run.tasks);
    assert_eq!(run.ledger.reserved(), 0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_reservations_never_exceed_a_pool_that_fits_a_hundred() {
    // No runtime here: only the reservations race, under a lease the test holds.
    let cluster = Cluster::start(|_| None).await;
    let handle = cluster.handle();
    let mut yaml = String::from(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata: { name: pool }\nspec:\n  budget: { total: 10000, emergencyReserve: 0 }\n  masters:\n    testing: { personal: 0, workers: 10000 }\n  tasks:\n",
    );
    for i in 0..1_000 {
        yaml.push_str(&format!(
            "    - {{ id: t{i}, master: testing, worker: test, budget: 100, executor: {{ process: {{ command: [\"true\"] }} }} }}\n"
        ));
    }
    let run = submit(&handle, "pool-1", &yaml).await;
    // A node with room for everything, and the testing lease held by the test.
    handle
        .write(Command::RegisterNode {
            name: "big".into(),
            labels: BTreeMap::new(),
            capacity: 10_000,
            voter: None,
        })
        .await
        .unwrap();
    let lease = loop {
        match handle
            .write(Command::AcquireLease {
                role: MasterRole::Testing,
                holder: 99,
                ttl_ms: 60_000,
            })
            .await
        {
            Ok(w) => match w.response {
                cortex_consensus::Response::Lease(l) => break l,
                other => panic!("{other:?}"),
            },
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let fence = Fence {
        role: MasterRole::Testing,
        epoch: lease.epoch,
    };
    let handles: Vec<ConsensusHandle> = cluster
        .voters
        .values()
        .map(|v| v.node.handle().clone())
        .collect();
    let attempts = (0..1_000).map(|i| {
        let handle = handles[i % handles.len()].clone();
        let run = run.clone();
        async move {
            let command = Command::AssignTask {
                run,
                task: TaskId(format!("t{i}")),
                attempt: 1,
                node: "big".into(),
                fence,
            };
            handle.write(command).await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let granted = results.iter().filter(|r| r.is_ok()).count();
    let refused_for_budget = results
        .iter()
        .filter(|r| matches!(r, Err(ConsensusError::Rejected(Rejection::Run(_)))))
        .count();
    assert_eq!(granted, 100, "exactly the pool's worth of reservations");
    assert_eq!(refused_for_budget, 900);
    let reserved = handle
        .state()
        .read(|m| m.state.runs[&run].ledger.reserved());
    assert_eq!(reserved, 10_000);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_moves_from_a_master_that_finished_to_one_that_needs_it() {
    let cluster = Cluster::start(options).await;
    let handle = cluster.handle();
    let plan = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: realloc }
spec:
  budget: { total: 20000, emergencyReserve: 0 }
  masters:
    security: { personal: 0, workers: 10000 }
    development: { personal: 0, workers: 6000 }
  tasks:
    - id: scan
      master: security
      worker: scan
      budget: 1000
      executor: { process: { command: ["sh", "-c", "echo '{\"tokens\": 100}'"] } }
    - id: first
      master: development
      worker: implementation
      budget: 5000
      executor: { process: { command: ["sh", "-c", "echo '{\"tokens\": 4999}'"] } }
    - id: second
      master: development
      worker: implementation
      budget: 5000
      dependsOn: [first, scan]
      executor: { process: { command: ["sh", "-c", "echo '{\"tokens\": 10}'"] } }
"#;
    let run = submit(&handle, "realloc-1", plan).await;
    let run = wait_run_end(&handle, &run, Duration::from_secs(30)).await;
    assert_eq!(run.status, RunStatus::Completed, "{:#?}", run.tasks);
    let security = &run.ledger.accounts[&MasterRole::Security];
    let development = &run.ledger.accounts[&MasterRole::Development];
    assert!(security.moved_out > 0 && security.moved_out == development.moved_in);
    assert_eq!(development.spent, 5_009);
    run.ledger.check().unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_deadlines_and_handoffs_work_on_a_live_cluster() {
    let cluster = Cluster::start(options).await;
    let handle = cluster.handle();
    let plan = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: edges }
spec:
  budget: { total: 40000, emergencyReserve: 5000 }
  masters:
    security: { personal: 0, workers: 10000 }
    development: { personal: 0, workers: 10000 }
  tasks:
    - id: flaky
      master: security
      worker: scan
      priority: critical
      retries: 1
      budget: 1000
      executor: { process: { command: ["sh", "-c", "test \"$CORTEX_ATTEMPT\" -ge 3 || exit 7"] } }
    - id: finder
      master: security
      worker: scan
      budget: 1000
      executor: { process: { command: ["sh", "-c", "echo '{\"handoff\": {\"id\": \"fix\", \"master\": \"development\", \"worker\": \"fix\", \"command\": [\"true\"], \"budget\": 500}}'"] } }
"#;
    let run = submit(&handle, "edges-1", plan).await;
    // The critical task fails both allowed attempts and waits on an escalation.
    let escalation = wait_for("an escalation", Duration::from_secs(30), || {
        handle.state().read(|m| {
            let r = &m.state.runs[&run];
            let blocked = r.tasks[&TaskId("flaky".into())].state == TaskState::Blocked;
            r.escalations
                .first()
                .filter(|_| blocked)
                .map(|e| e.id.clone())
        })
    })
    .await;
    handle
        .write(Command::ResolveEscalation {
            run: run.clone(),
            escalation,
            resolution: cortex_consensus::run::Resolution::Retry,
        })
        .await
        .unwrap();
    let done = wait_run_end(&handle, &run, Duration::from_secs(30)).await;
    assert_eq!(done.status, RunStatus::Completed, "{:#?}", done.tasks);
    assert_eq!(done.tasks[&TaskId("flaky".into())].attempts.len(), 3);
    // The handoff became a development task that ran.
    let handed = &done.tasks[&TaskId("finder.fix".into())];
    assert_eq!(
        (handed.spec.master, handed.state),
        (MasterRole::Development, TaskState::Completed)
    );
    assert_eq!(done.handoffs.len(), 1);

    // A run past its deadline ends failed, its running task timed out and released.
    let late = PLAN
        .replace("metadata: { name: flow }", "metadata: { name: late }")
        .replace(
            "  budget: { total: 100000, emergencyReserve: 10000 }",
            "  timeout: 2s\n  budget: { total: 100000, emergencyReserve: 10000 }",
        );
    let late = late.replace(
        "echo '{\\\"tokens\\\": {\\\"input\\\": 300",
        "sleep 30; echo '{\\\"tokens\\\": {\\\"input\\\": 300",
    );
    let late_run = submit(&handle, "late-1", &late).await;
    let ended = wait_run_end(&handle, &late_run, Duration::from_secs(30)).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(ended.reason.as_deref(), Some("run deadline passed"));
    assert_eq!(
        ended.tasks[&TaskId("scan".into())].state,
        TaskState::TimedOut
    );
    assert_eq!(ended.ledger.reserved(), 0);
    cluster.shutdown().await;
}
