//! Snapshots carry the whole state through bincode: a state with a real run
//! (the seed's plan, assigned and reported attempts, a remembered
//! rejection) must come back identical, or a snapshot would lose it.

use std::collections::BTreeMap;

use cortex_consensus::command::{ClusterTime, Command, Request, RequestId};
use cortex_consensus::plan::{self, MasterRole, TaskId};
use cortex_consensus::run::{AttemptReport, RunId};
use cortex_consensus::state::leases::Fence;
use cortex_consensus::state::pools::PoolCommand;
use cortex_consensus::store::codec::{decode, encode};
use cortex_consensus::store::state_machine::Machine;
use cortex_consensus::State;

#[test]
fn a_state_with_runs_survives_the_snapshot_encoding() {
    let plan = include_str!("../../examples/full-orchestration.yaml");
    let spec = plan::parse(plan).unwrap();
    let mut state = State::default();
    let mut n = 0;
    let mut apply = |state: &mut State, command: Command| {
        n += 1;
        let request = Request {
            id: RequestId(format!("r{n}")),
            actor: None,
            time: ClusterTime(1_000 + n),
            command,
        };
        state.apply(&request)
    };
    let run = RunId("seed".into());
    apply(
        &mut state,
        Command::SubmitRun {
            run: run.clone(),
            spec: spec.clone(),
        },
    )
    .unwrap();
    // A refused command is remembered with its rejection (a plan error here).
    let mut broken = spec;
    broken.budget.total = 1;
    assert!(apply(
        &mut state,
        Command::SubmitRun {
            run: RunId("broken".into()),
            spec: broken
        }
    )
    .is_err());
    apply(
        &mut state,
        Command::RegisterNode {
            name: "n1".into(),
            labels: BTreeMap::new(),
            capacity: 4,
            voter: Some(1),
        },
    )
    .unwrap();
    let role = MasterRole::Coordinator;
    apply(
        &mut state,
        Command::AcquireLease {
            role,
            holder: 1,
            ttl_ms: 10_000,
        },
    )
    .unwrap();
    let task = TaskId("preflight-check".into());
    let fence = Fence { role, epoch: 1 };
    apply(
        &mut state,
        Command::AssignTask {
            run: run.clone(),
            task: task.clone(),
            attempt: 1,
            node: "n1".into(),
            fence,
        },
    )
    .unwrap();
    let progress = AttemptReport::Progress {
        tokens_used: 5,
        percent: 50,
        message: Some("half".into()),
        checkpoint: Some("{\"a\":1}".into()),
        logs: vec!["first line".into(), "second line".into()],
    };
    apply(
        &mut state,
        Command::ReportAttempt {
            run: run.clone(),
            task,
            attempt: 1,
            report: progress,
        },
    )
    .unwrap();
    // A budget pool with a live reservation.
    let pool = || "team".to_string();
    apply(
        &mut state,
        Command::Pool(PoolCommand::Open {
            pool: pool(),
            capacity: 1_000,
        }),
    )
    .unwrap();
    apply(
        &mut state,
        Command::Pool(PoolCommand::Reserve {
            pool: pool(),
            reservation: "r1".into(),
            amount: 400,
        }),
    )
    .unwrap();

    let machine = Machine {
        state,
        ..Machine::default()
    };
    let bytes = encode(&machine).unwrap();
    let back: Machine = decode(&bytes).unwrap();
    assert_eq!(back.state, machine.state);
    assert_eq!(back.state.runs[&run].tasks.len(), 28);
    assert_eq!(back.state.pools.get("team").unwrap().reserved, 400);
}
