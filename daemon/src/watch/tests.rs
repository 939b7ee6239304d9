use cortex_consensus::events::{Event, EventId, EventKind};
use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{Run, RunId, RunStatus, TaskState};
use cortex_consensus::ClusterTime;

use super::model::{AttemptPhase, RunModel};
use super::render::render;
use crate::report;

fn run() -> Run {
    let spec = plan::parse(
        r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: watched }
spec:
  budget: { total: 10000, emergencyReserve: 0 }
  masters:
    security: { personal: 1000, workers: 4000 }
    testing: { personal: 1000, workers: 4000 }
  tasks:
    - { id: scan, master: security, worker: scan, budget: 500, executor: { builtin: { name: noop } } }
    - { id: test, master: testing, worker: test, budget: 500, executor: { builtin: { name: noop } } }
"#,
    )
    .unwrap();
    Run::new(RunId("r1".into()), spec, ClusterTime(1))
}

fn event(index: u64, kind: EventKind) -> Event {
    Event::replicated(EventId { index, n: 0 }, 5, kind)
}

fn run_id() -> RunId {
    RunId("r1".into())
}

#[test]
fn events_move_bars_nodes_and_tokens() {
    let mut model = RunModel::from_snapshot(&report::detail(&run()));
    assert_eq!(model.ended(), (0, 2));
    assert_eq!(model.master_progress(MasterRole::Security), 0.0);

    model.apply(&event(
        2,
        EventKind::AttemptStarted {
            run: run_id(),
            task: "scan".into(),
            attempt: 1,
            master: MasterRole::Security,
            node: "k3s-worker01".into(),
            reserved: 500,
        },
    ));
    model.apply(&event(
        3,
        EventKind::TaskState {
            run: run_id(),
            task: "scan".into(),
            master: MasterRole::Security,
            worker: "scan".into(),
            state: TaskState::Running,
            reason: None,
        },
    ));
    assert_eq!(model.status, RunStatus::Running);
    assert_eq!(
        model.nodes()["k3s-worker01"],
        [1, 0, 0, 0],
        "pending until launched"
    );
    model.apply(&event(
        4,
        EventKind::AttemptLaunched {
            run: run_id(),
            task: "scan".into(),
            attempt: 1,
            node: "k3s-worker01".into(),
        },
    ));
    model.apply(&Event::ephemeral(
        "k3s-worker01",
        EventKind::WorkerActivity {
            run: run_id(),
            task: "scan".into(),
            attempt: 1,
            node: "k3s-worker01".into(),
            progress: Some(50),
            message: Some("scanning catalog-system".into()),
            tokens_used: Some(40),
        },
    ));
    model.apply(&event(
        5,
        EventKind::Ledger {
            run: run_id(),
            master: MasterRole::Security,
            spent: 0,
            reserved: 500,
            limit: 5000,
        },
    ));
    assert_eq!(model.master_progress(MasterRole::Security), 0.5);
    assert_eq!(model.attempts[&("scan".into(), 1)].1, AttemptPhase::Running);
    let view = render(&model);
    assert!(
        view.contains("security-master      [██████████░░░░░░░░░░]  50%  scanning catalog-system"),
        "{view}"
    );
    assert!(
        view.contains("tokens 0 spent + 500 reserved of 10000 (5%)"),
        "{view}"
    );
    assert!(
        view.contains("k3s-worker01   completed 0  running 1  failed 0  pending 0"),
        "{view}"
    );

    model.apply(&event(
        6,
        EventKind::AttemptEnded {
            run: run_id(),
            task: "scan".into(),
            attempt: 1,
            master: MasterRole::Security,
            node: "k3s-worker01".into(),
            outcome: "completed".into(),
            tokens_used: 120,
            error: None,
        },
    ));
    model.apply(&event(
        7,
        EventKind::TaskState {
            run: run_id(),
            task: "scan".into(),
            master: MasterRole::Security,
            worker: "scan".into(),
            state: TaskState::Completed,
            reason: None,
        },
    ));
    model.apply(&event(
        8,
        EventKind::RunFinished {
            run: run_id(),
            status: RunStatus::Failed,
            reason: Some("test was cancelled".into()),
        },
    ));
    assert_eq!(model.master_progress(MasterRole::Security), 1.0);
    assert_eq!(model.nodes()["k3s-worker01"], [0, 0, 1, 0]);
    assert!(model.status.is_terminal());
    let view = render(&model);
    assert!(
        view.starts_with("run r1 watched: failed, 1/2 tasks ended"),
        "{view}"
    );
    assert!(
        view.contains("testing-master       [░░░░░░░░░░░░░░░░░░░░]   0%"),
        "{view}"
    );
}

#[test]
fn a_snapshot_of_a_run_in_flight_shows_what_events_would_have() {
    let mut run = run();
    run.assign(&TaskId("scan".into()), 1, "k3s-worker02", ClusterTime(2))
        .unwrap();
    let model = RunModel::from_snapshot(&report::detail(&run));
    assert_eq!(model.tasks["scan"].state, TaskState::Running);
    assert_eq!(model.nodes()["k3s-worker02"], [1, 0, 0, 0]);
    assert_eq!(model.ledger[&MasterRole::Security].reserved, 500);
}
