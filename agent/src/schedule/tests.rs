use std::collections::BTreeMap;

use cortex_consensus::command::{Request, RequestId};
use cortex_consensus::plan::{
    BudgetSpec, DependencyPolicy, ExecutorSpec, MasterPools, Placement, Priority, RunSpec,
    TaskSpec, WorkerType,
};
use cortex_consensus::Command;

use super::*;

fn task(id: &str, priority: Priority, deps: &[&str], placement: Placement) -> TaskSpec {
    TaskSpec {
        id: TaskId(id.into()),
        master: MasterRole::Security,
        worker: WorkerType::Scan,
        priority,
        depends_on: deps.iter().map(|d| TaskId((*d).into())).collect(),
        budget: 100,
        timeout_ms: 1_000,
        retries: 0,
        placement,
        executor: ExecutorSpec::command(vec!["true".into()]),
        approval_required: false,
        phase: None,
        description: None,
    }
}

fn state_with(tasks: Vec<TaskSpec>) -> State {
    let spec = RunSpec {
        name: "s".into(),
        budget: BudgetSpec {
            total: 10_000,
            emergency_reserve: 0,
        },
        masters: BTreeMap::from([(
            MasterRole::Security,
            MasterPools {
                personal: 0,
                workers: 10_000,
            },
        )]),
        tasks,
        phases: vec![],
        timeout_ms: None,
        on_dependency_failure: DependencyPolicy::Fail,
    };
    let mut state = State::default();
    let mut n = 0;
    let mut apply = |state: &mut State, command: Command| {
        n += 1;
        state
            .apply(&Request {
                id: RequestId(format!("r{n}")),
                actor: None,
                time: ClusterTime(10),
                command,
            })
            .unwrap();
    };
    apply(
        &mut state,
        Command::SubmitRun {
            run: RunId("r".into()),
            spec,
        },
    );
    for (name, zone) in [("a", "x"), ("b", "y")] {
        let labels = BTreeMap::from([("zone".to_string(), zone.to_string())]);
        apply(
            &mut state,
            Command::RegisterNode {
                name: name.into(),
                labels,
                capacity: 1,
                voter: None,
            },
        );
    }
    state
}

#[test]
fn ready_tasks_come_by_priority_then_plan_order_and_wait_for_dependencies() {
    let state = state_with(vec![
        task("low", Priority::Low, &[], Placement::default()),
        task("high", Priority::High, &[], Placement::default()),
        task("after", Priority::Critical, &["high"], Placement::default()),
        task("high2", Priority::High, &[], Placement::default()),
    ]);
    let ids: Vec<String> = ready_tasks(&state, MasterRole::Security, ClusterTime(10))
        .into_iter()
        .map(|r| r.task.0)
        .collect();
    assert_eq!(ids, ["high", "high2", "low"]);
    assert!(ready_tasks(&state, MasterRole::Testing, ClusterTime(10)).is_empty());
}

#[test]
fn nodes_are_picked_by_placement_capacity_and_recent_heartbeats() {
    let pinned = Placement {
        node: Some("b".into()),
        labels: BTreeMap::new(),
    };
    let labelled = Placement {
        node: None,
        labels: BTreeMap::from([("zone".into(), "x".into())]),
    };
    let any = Placement::default();
    let state = state_with(vec![task("x", Priority::Medium, &[], any.clone())]);
    let spec = |p: &Placement| task("t", Priority::Medium, &[], p.clone());
    let free = BTreeMap::new();
    let heard = ClusterTime(0);
    assert_eq!(
        pick_node(&state, &spec(&pinned), &free, heard).as_deref(),
        Some("b")
    );
    assert_eq!(
        pick_node(&state, &spec(&labelled), &free, heard).as_deref(),
        Some("a")
    );
    let a_full = BTreeMap::from([("a".to_string(), 1)]);
    assert_eq!(pick_node(&state, &spec(&labelled), &a_full, heard), None);
    assert_eq!(
        pick_node(&state, &spec(&any), &a_full, heard).as_deref(),
        Some("b")
    );
    // Nodes not heard from since the given time are passed over.
    assert_eq!(pick_node(&state, &spec(&any), &free, ClusterTime(11)), None);
}
