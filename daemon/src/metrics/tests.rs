//! The census on a state built by applying commands, and its rendering.
//! (Every family of the contract on real daemons: `tests/metrics_e2e.rs`.)

use std::collections::BTreeMap;

use axum::http::header::ACCEPT;
use axum::http::HeaderMap;
use cortex_consensus::catalog::{AssetInput, CatalogCommand};
use cortex_consensus::plan::{self, ExecutorSpec, MasterRole, TaskId, WorkerType};
use cortex_consensus::run::{AttemptReport, Handoff, RunId};
use cortex_consensus::state::leases::Fence;
use cortex_consensus::{ClusterTime, Command, Request, RequestId, State};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder};
use prometheus_client::registry::Registry;

use super::census::{Census, MasterCounts};
use super::{wants_openmetrics, Metrics};

/// Applies commands at chosen cluster times, failing on any rejection.
#[derive(Default)]
struct Log {
    state: State,
    entries: u64,
}

impl Log {
    fn apply(&mut self, time: u64, command: Command) {
        self.entries += 1;
        let request = Request {
            id: RequestId(format!("entry-{}", self.entries)),
            actor: None,
            time: ClusterTime(time),
            command: command.clone(),
        };
        if let Err(e) = self.state.apply(&request) {
            panic!("{command:?} refused: {e}");
        }
    }
}

fn plan(tasks: &str) -> plan::RunSpec {
    let yaml = format!(
        r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: {{ name: census }}
spec:
  budget: {{ total: 50000, emergencyReserve: 0 }}
  masters:
    testing: {{ personal: 1000, workers: 20000 }}
    security: {{ personal: 1000, workers: 20000 }}
  tasks:
{tasks}"#
    );
    plan::parse(&yaml).unwrap_or_else(|e| panic!("plan: {e}"))
}

const TRUE: &str = r#"executor: { process: { command: ["true"] } }"#;

fn fence(role: MasterRole) -> Fence {
    Fence { role, epoch: 1 }
}

fn assign(log: &mut Log, time: u64, task: &str, role: MasterRole) {
    log.apply(
        time,
        Command::AssignTask {
            run: RunId("r1".into()),
            task: TaskId(task.into()),
            attempt: 1,
            node: "n1".into(),
            fence: fence(role),
        },
    );
}

fn report(log: &mut Log, time: u64, task: &str, report: AttemptReport) {
    log.apply(
        time,
        Command::ReportAttempt {
            run: RunId("r1".into()),
            task: TaskId(task.into()),
            attempt: 1,
            report,
        },
    );
}

/// Run r1: `done` completed (300 tokens, one handoff), `broken` failed (50
/// tokens), critical `stuck` failed into an open escalation, `live` running
/// since t=1100 with a 100 s limit, `waiting` on it. Run r2 cancelled. Node
/// n2 lost. Three assets.
fn scenario() -> State {
    let mut log = Log::default();
    for name in ["n1", "n2"] {
        log.apply(
            1_000,
            Command::RegisterNode {
                name: name.into(),
                labels: BTreeMap::new(),
                capacity: 10,
                voter: None,
            },
        );
    }
    for (role, holder) in [
        (MasterRole::Testing, 1),
        (MasterRole::Security, 1),
        (MasterRole::Coordinator, 2),
    ] {
        log.apply(
            1_000,
            Command::AcquireLease {
                role,
                holder,
                ttl_ms: 60_000,
            },
        );
    }
    let r1 = plan(&format!(
        r#"
    - {{ id: done, master: testing, worker: test, budget: 1000, {TRUE} }}
    - {{ id: broken, master: testing, worker: test, budget: 1000, retries: 0, {TRUE} }}
    - {{ id: stuck, master: testing, worker: review, priority: critical, budget: 1000, retries: 0, {TRUE} }}
    - {{ id: live, master: security, worker: scan, budget: 2000, timeout: 100s, {TRUE} }}
    - {{ id: waiting, master: security, worker: scan, dependsOn: [live], {TRUE} }}
"#
    ));
    let r2 = plan(&format!(
        "    - {{ id: solo, master: testing, worker: test, {TRUE} }}\n"
    ));
    log.apply(
        1_000,
        Command::SubmitRun {
            run: RunId("r1".into()),
            spec: r1,
        },
    );
    log.apply(
        1_000,
        Command::SubmitRun {
            run: RunId("r2".into()),
            spec: r2,
        },
    );
    for task in ["done", "broken", "stuck"] {
        assign(&mut log, 1_100, task, MasterRole::Testing);
    }
    assign(&mut log, 1_100, "live", MasterRole::Security);
    let handoff = Handoff {
        id: "docs".into(),
        master: MasterRole::Testing,
        worker: WorkerType::Documentation,
        executor: ExecutorSpec::command(vec!["true".into()]),
        budget: None,
        description: None,
    };
    report(
        &mut log,
        1_200,
        "done",
        AttemptReport::Completed {
            tokens_used: 300,
            result: None,
            handoffs: vec![handoff],
        },
    );
    for (task, tokens_used) in [("broken", 50), ("stuck", 0)] {
        let error = "boom".to_string();
        report(
            &mut log,
            1_200,
            task,
            AttemptReport::Failed { tokens_used, error },
        );
    }
    report(&mut log, 1_300, "live", AttemptReport::Started);
    log.apply(
        1_300,
        Command::CancelRun {
            run: RunId("r2".into()),
            reason: "not needed".into(),
        },
    );
    log.apply(
        5_000,
        Command::FenceNode {
            node: "n2".into(),
            timeout_ms: 1_000,
            fence: fence(MasterRole::Coordinator),
        },
    );
    let assets = [
        ("pod-a", "k8s.pod", "x"),
        ("pod-b", "k8s.pod", "x"),
        ("repo", "repository", "x"),
        ("f1", "finding", "high"),
        ("f2", "finding", "critical"),
    ]
    .iter()
    .map(|(id, kind, tag)| {
        serde_json::from_value::<AssetInput>(
            serde_json::json!({ "id": id, "name": id, "type": kind, "tags": [tag] }),
        )
        .unwrap()
    })
    .collect();
    log.apply(
        5_000,
        Command::Catalog(CatalogCommand::Upsert {
            source: "test".into(),
            sync: None,
            by: "test".into(),
            assets,
        }),
    );
    log.state
}

/// Half of `live`'s 100 s limit after its assignment at t=1100.
const NOW: ClusterTime = ClusterTime(51_100);

#[test]
fn census_counts_tasks_attempts_tokens_and_leases() {
    let census = Census::of(&scenario(), NOW);
    let testing = &census.masters[&MasterRole::Testing];
    assert_eq!(
        *testing,
        MasterCounts {
            tasks_active: 0,
            tasks_failed: 1,
            tokens_used: 350,
            workers_spawned: 3,
            queue_depth: 1,      // the handoff; r2's task was cancelled with it
            tasks: [1, 0, 1, 2], // the escalated task waits, blocked
            lease_epoch: 1,
            lease_held: true,
        }
    );
    let security = &census.masters[&MasterRole::Security];
    assert_eq!((security.tasks_active, security.queue_depth), (1, 1));
    assert_eq!(census.masters[&MasterRole::Cicd], MasterCounts::default());
    assert!(census.masters[&MasterRole::Coordinator].lease_held);

    let test = &census.workers[&WorkerType::Test];
    assert_eq!(test.tokens_used, 350);
    assert_eq!(test.attempts, [1, 1, 0, 0, 0]);
    assert_eq!(
        census.workers[&WorkerType::Review].attempts,
        [0, 1, 0, 0, 0]
    );
    assert_eq!(census.workers[&WorkerType::Scan].timeout_used_ratio, 0.5);
    assert_eq!(census.workers[&WorkerType::Test].timeout_used_ratio, 0.0);

    assert_eq!(census.runs, [0, 1, 0, 0, 1]);
    assert_eq!(census.active_runs.len(), 1, "r2 ended");
    let r1 = &census.active_runs[0];
    assert_eq!(
        (r1.id.as_str(), r1.budget, r1.used, r1.reserved),
        ("r1", 50_000, 350, 2_000)
    );
    assert_eq!(census.handoffs, 1);
    assert_eq!((census.escalations, census.escalations_open), ([0, 1], 1));
    assert_eq!((census.nodes_alive, census.nodes_lost), (1, 1));
    assert_eq!(
        census.assets,
        vec![
            ("finding".to_string(), 2),
            ("k8s.pod".to_string(), 2),
            ("repository".to_string(), 1)
        ]
    );
    assert_eq!(census.findings, [1, 1, 0, 0]);
}

#[test]
fn leases_past_their_expiry_are_not_held() {
    let census = Census::of(&scenario(), ClusterTime(61_000));
    assert!(!census.masters[&MasterRole::Testing].lease_held);
    assert_eq!(census.masters[&MasterRole::Testing].lease_epoch, 1);
}

/// Renders a fixed census as the leader's collector would.
#[derive(Debug)]
struct Fixed(Census);

impl Collector for Fixed {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        super::cluster::encode(&self.0, &mut encoder)
    }
}

fn render(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_text::encode(&mut text, registry).unwrap();
    text
}

#[test]
fn cluster_series_carry_their_labels_and_values() {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Fixed(Census::of(&scenario(), NOW))));
    let text = render(&registry);
    for line in [
        r#"cortex_master_tasks_active{master="security"} 1"#,
        r#"cortex_master_tasks_failed_total{master="testing"} 1"#,
        r#"cortex_master_tokens_used_total{master="testing"} 350"#,
        r#"cortex_master_workers_spawned_total{master="testing"} 3"#,
        r#"cortex_task_queue_depth{master="security"} 1"#,
        r#"cortex_worker_tokens_used_total{worker_type="test"} 350"#,
        r#"cortex_worker_attempts_total{worker_type="test",outcome="completed"} 1"#,
        r#"cortex_worker_attempts_total{worker_type="review",outcome="failed"} 1"#,
        r#"cortex_worker_attempts_total{worker_type="pr",outcome="fenced"} 0"#,
        r#"cortex_worker_timeout_used_ratio{worker_type="scan"} 0.5"#,
        r#"cortex_tokens_budget{run="r1"} 50000"#,
        r#"cortex_tokens_used{run="r1"} 350"#,
        r#"cortex_tokens_reserved{run="r1"} 2000"#,
        r#"cortex_runs{status="running"} 1"#,
        r#"cortex_runs{status="cancelled"} 1"#,
        r#"cortex_runs{status="completed"} 0"#,
        "cortex_handoffs_total 1",
        r#"cortex_escalations_total{severity="high"} 1"#,
        r#"cortex_escalations_total{severity="critical"} 0"#,
        "cortex_escalations_open 1",
        r#"cortex_nodes{status="alive"} 1"#,
        r#"cortex_nodes{status="lost"} 1"#,
        r#"cortex_master_lease_epoch{master="coordinator"} 1"#,
        r#"cortex_master_lease_held{master="cicd"} 0"#,
        r#"cortex_catalog_assets{type="k8s.pod"} 2"#,
        "# TYPE cortex_master_tokens_used_total counter",
        "# TYPE cortex_task_queue_depth gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(!text.contains(r#"run="r2""#), "ended runs have no series");
}

fn accepting(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, value.parse().unwrap());
    headers
}

#[test]
fn openmetrics_is_served_to_whoever_asks_for_it() {
    let prometheus =
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3";
    assert!(wants_openmetrics(&accepting(prometheus)));
    assert!(!wants_openmetrics(&accepting("*/*")));
    assert!(!wants_openmetrics(&HeaderMap::new()));

    let exposition = Metrics::default().freeze();
    let (content_type, body) = exposition.render(true).unwrap();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(body.ends_with("# EOF\n"), "{body}");
    let (content_type, body) = exposition.render(false).unwrap();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let version = env!("CARGO_PKG_VERSION");
    assert!(body.contains(&format!(r#"cortex_build_info{{version="{version}"}} 1"#)));
}
