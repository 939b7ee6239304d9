//! Attempt supervision on a real one-voter cluster: time limit, token cap,
//! cancellation, logs and checkpoints each end the attempt in the right
//! state with the right ledger entries; meanwhile the node shows watchers
//! what the worker does and measures how long it ran.

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_agent::{NodeRuntime, RuntimeOptions, Telemetry};
use cortex_consensus::events::EventKind;
use cortex_consensus::node::{Node, NodeOptions, Tuning};
use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{AttemptEnd, Run, RunId, RunStatus, TaskState};
use cortex_consensus::transport::tls::Security;
use cortex_consensus::{Command, ConsensusHandle, NodeAddr};
use tempfile::TempDir;
use tokio::net::TcpListener;

struct Single {
    node: Node,
    runtime: NodeRuntime,
    telemetry: Telemetry,
    _dir: TempDir,
}

impl Single {
    async fn start() -> Single {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peers = BTreeMap::from([(
            1,
            NodeAddr {
                raft_addr: listener.local_addr().unwrap().to_string(),
            },
        )]);
        let options = NodeOptions {
            id: 1,
            peers,
            api_addr: String::new(),
            data_dir: dir.path().join("n1"),
            tuning: Tuning::default(),
            security: Security::Plaintext,
        };
        let node = Node::start(options, listener).await.unwrap();
        let telemetry = Telemetry::default();
        let runtime = NodeRuntime::start(
            node.handle().clone(),
            RuntimeOptions {
                node_name: "n1".into(),
                heartbeat: Duration::from_millis(200),
                lease_ttl: Duration::from_millis(1_000),
                ..RuntimeOptions::default()
            },
            telemetry.clone(),
        );
        Single {
            node,
            runtime,
            telemetry,
            _dir: dir,
        }
    }

    fn handle(&self) -> &ConsensusHandle {
        self.node.handle()
    }

    async fn submit(&self, tasks: &str) -> RunId {
        let yaml = format!(
            r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: {{ name: supervision }}
spec:
  budget: {{ total: 100000, emergencyReserve: 0 }}
  masters:
    testing: {{ personal: 10000, workers: 50000 }}
  tasks:
{tasks}"#
        );
        let spec = plan::parse(&yaml).unwrap_or_else(|e| panic!("plan: {e}"));
        let run = RunId("r1".into());
        self.handle()
            .write(Command::SubmitRun {
                run: run.clone(),
                spec,
            })
            .await
            .unwrap();
        run
    }

    async fn wait(&self, what: &str, probe: impl Fn(&Run) -> bool) -> Run {
        let start = tokio::time::Instant::now();
        loop {
            let run = self
                .handle()
                .state()
                .read(|m| m.state.runs.get(&RunId("r1".into())).cloned());
            if let Some(run) = run.filter(|r| probe(r)) {
                return run;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_end(&self) -> Run {
        self.wait("the run to end", |r| r.status.is_terminal())
            .await
    }

    async fn shutdown(self) {
        self.runtime.shutdown().await;
        self.node.shutdown().await;
    }
}

fn task<'a>(run: &'a Run, id: &str) -> &'a cortex_consensus::run::Task {
    &run.tasks[&TaskId(id.into())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_limit_kills_the_worker_and_settles_what_it_used() {
    let cluster = Single::start().await;
    cluster
        .submit(
            r#"    - id: slow
      master: testing
      worker: test
      budget: 1000
      timeout: 1s
      retries: 0
      executor: { process: { command: ["sh", "-c", "echo '{\"tokens\": 40}'; sleep 30"] } }
"#,
        )
        .await;
    let run = cluster.wait_end().await;
    let slow = task(&run, "slow");
    assert_eq!(slow.state, TaskState::TimedOut);
    let attempt = &slow.attempts[0];
    assert_eq!(attempt.end, Some(AttemptEnd::TimedOut));
    assert_eq!(attempt.tokens_used, 40);
    assert_eq!(slow.tokens_spent, 40);
    let account = &run.ledger.accounts[&MasterRole::Testing];
    assert_eq!((account.spent, account.reserved), (40, 0));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cap_stops_the_worker_which_hands_back_a_partial_result() {
    let cluster = Single::start().await;
    let script = r#"trap 'echo "{\"result\": {\"partial\": true}}"; exit 0' TERM
echo '{"tokens": 60}'
echo '{"tokens": 60}'
while true; do sleep 0.05; done"#;
    cluster
        .submit(&format!(
            r#"    - id: greedy
      master: testing
      worker: test
      budget: 100
      retries: 0
      executor: {{ process: {{ command: ["sh", "-c", {script:?}] }} }}
"#
        ))
        .await;
    let run = cluster.wait_end().await;
    let greedy = task(&run, "greedy");
    assert_eq!(greedy.state, TaskState::BudgetExceeded, "{greedy:#?}");
    assert_eq!(greedy.attempts[0].end, Some(AttemptEnd::BudgetExceeded));
    assert_eq!(greedy.result.as_deref(), Some(r#"{"partial":true}"#));
    assert_eq!(greedy.attempts[0].tokens_used, 120);
    let account = &run.ledger.accounts[&MasterRole::Testing];
    assert_eq!(account.reserved, 0);
    assert_eq!(account.spent + account.overrun, 120, "{account:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_run_kills_the_worker_and_releases_its_reservation() {
    let cluster = Single::start().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("alive");
    let script = format!(
        "echo '{{\"tokens\": 5}}'; while true; do touch {}; sleep 0.05; done",
        marker.display()
    );
    cluster
        .submit(&format!(
            r#"    - id: endless
      master: testing
      worker: test
      budget: 500
      executor: {{ process: {{ command: ["sh", "-c", {script:?}] }} }}
"#
        ))
        .await;
    cluster
        .wait("the worker to run", |r| {
            task(r, "endless")
                .attempts
                .first()
                .is_some_and(|a| a.tokens_used == 5)
        })
        .await;
    cluster
        .handle()
        .write(Command::CancelRun {
            run: RunId("r1".into()),
            reason: "test".into(),
        })
        .await
        .unwrap();
    let run = cluster.wait_end().await;
    assert_eq!(run.status, RunStatus::Cancelled);
    let endless = task(&run, "endless");
    assert_eq!(endless.state, TaskState::Cancelled);
    assert!(matches!(
        endless.attempts[0].end,
        Some(AttemptEnd::Fenced(_))
    ));
    let account = &run.ledger.accounts[&MasterRole::Testing];
    assert_eq!((account.spent, account.reserved), (0, 0));
    // The worker's whole process group is gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = std::fs::remove_file(&marker);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!marker.exists(), "the cancelled worker still runs");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_and_logs_reach_the_next_attempt_and_the_state() {
    let cluster = Single::start().await;
    let script = r#"echo "attempt $CORTEX_ATTEMPT starts"
echo not-json >&2
if [ -z "$CORTEX_CHECKPOINT" ]; then echo '{"checkpoint": {"page": 7}}'; exit 1; fi
echo "{\"result\": $CORTEX_CHECKPOINT}""#;
    cluster
        .submit(&format!(
            r#"    - id: resumable
      master: testing
      worker: test
      budget: 100
      retries: 1
      executor: {{ process: {{ command: ["sh", "-c", {script:?}] }} }}
"#
        ))
        .await;
    let run = cluster.wait_end().await;
    let resumable = task(&run, "resumable");
    assert_eq!(resumable.state, TaskState::Completed, "{resumable:#?}");
    assert_eq!(resumable.result.as_deref(), Some(r#"{"page":7}"#));
    let first = &resumable.attempts[0];
    assert!(
        matches!(&first.end, Some(AttemptEnd::Failed(e)) if e.contains("exit status: 1")),
        "{first:?}"
    );
    assert!(
        first.logs.lines.contains(&"attempt 1 starts".to_string()),
        "{:?}",
        first.logs
    );
    assert!(first.logs.lines.contains(&"not-json".to_string()));
    assert!(first.launched_at.is_some());
    let second = &resumable.attempts[1];
    assert!(second.logs.lines.contains(&"attempt 2 starts".to_string()));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_activity_is_shown_live_and_its_duration_measured() {
    let cluster = Single::start().await;
    let mut bus = cluster.telemetry.bus.subscribe();
    cluster
        .submit(
            r#"    - id: chatty
      master: testing
      worker: test
      budget: 1000
      timeout: 20s
      executor: { process: { command: ["sh", "-c", "echo '{\"progress\": 30, \"message\": \"warming up\"}'; sleep 0.4; echo '{\"tokens\": 12}'; echo 'plain line'; sleep 0.4"] } }
"#,
        )
        .await;
    let run = cluster.wait_end().await;
    assert_eq!(task(&run, "chatty").state, TaskState::Completed);

    let mut seen = Vec::new();
    while let Ok(item) = bus.try_recv() {
        assert!(item.local);
        if let EventKind::WorkerActivity {
            task,
            node,
            progress,
            message,
            tokens_used,
            ..
        } = &item.event.kind
        {
            assert_eq!((task.as_str(), node.as_str()), ("chatty", "n1"));
            seen.push((*progress, message.clone(), *tokens_used));
        }
    }
    assert!(
        seen.contains(&(Some(30), Some("warming up".into()), None)),
        "first activity missing: {seen:?}"
    );
    assert!(
        seen.contains(&(Some(30), Some("plain line".into()), Some(12))),
        "later activity missing: {seen:?}"
    );

    let mut registry = prometheus_client::registry::Registry::default();
    cluster.telemetry.metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("cortex_worker_duration_seconds_count{worker_type=\"test\"} 1"),
        "{text}"
    );
    cluster.shutdown().await;
}
