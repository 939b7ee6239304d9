//! A small, healthy history for the checkers' and the report's tests: one
//! run of two tasks where node-2 is killed while it runs task `b`, attempt 1
//! is fenced and attempt 2 completes on node-3. Each test breaks one thing.

use std::collections::BTreeMap;

use crate::history::{
    AccountSnapshot, AttemptSnapshot, FaultRecord, HealRecord, History, LeaseObservation,
    LeasePoll, LedgerSnapshot, Millis, Recovery, RunPoll, RunSnapshot, SideEffect, Submission,
    SubmitOutcome, TaskSnapshot,
};

/// An attempt that reserved 100 tokens; `end` is `(kind, ended_at, used)`.
pub(crate) fn attempt(
    number: u32,
    node: &str,
    started_at: Millis,
    end: Option<(&str, Millis, u64)>,
) -> AttemptSnapshot {
    AttemptSnapshot {
        number,
        node: node.into(),
        started_at,
        ended_at: end.map(|(_, at, _)| at),
        end: end.map(|(kind, _, _)| kind.to_string()),
        end_reason: end
            .filter(|(kind, _, _)| *kind == "fenced")
            .map(|_| format!("node {node} lost")),
        reserved: 100,
        tokens_used: end.map_or(0, |(_, _, used)| used),
    }
}

/// A task with a budget of 100.
pub(crate) fn task(
    id: &str,
    master: &str,
    state: &str,
    finished_at: Option<Millis>,
    attempts: Vec<AttemptSnapshot>,
) -> TaskSnapshot {
    TaskSnapshot {
        id: id.into(),
        master: master.into(),
        state: state.into(),
        finished_at,
        budget: 100,
        tokens_spent: attempts
            .iter()
            .filter(|a| !a.is_fenced())
            .map(|a| a.tokens_used)
            .sum(),
        depends_on: Vec::new(),
        reason: None,
        attempts,
    }
}

/// A run whose ledger is derived from its tasks (1000 tokens, security may
/// use 400 and development 500).
pub(crate) fn run(id: &str, status: &str, tasks: Vec<TaskSnapshot>) -> RunSnapshot {
    let mut masters = BTreeMap::from([
        ("security".to_string(), account(400)),
        ("development".to_string(), account(500)),
    ]);
    for task in &tasks {
        let account = masters.entry(task.master.clone()).or_insert(account(0));
        account.spent += task.tokens_spent;
        account.reserved += task.live_attempts().map(|a| a.reserved).sum::<u64>();
    }
    RunSnapshot {
        id: id.into(),
        status: status.into(),
        ledger: LedgerSnapshot {
            total: 1000,
            emergency_reserve: 100,
            spent: masters.values().map(|a| a.spent).sum(),
            reserved: masters.values().map(|a| a.reserved).sum(),
            masters,
        },
        tasks,
    }
}

fn account(allocation: u64) -> AccountSnapshot {
    AccountSnapshot {
        allocation,
        ..AccountSnapshot::default()
    }
}

/// Task `a`: one attempt on node-1, completed at 1_400.
fn task_a() -> TaskSnapshot {
    let first = attempt(1, "node-1", 1_100, Some(("completed", 1_400, 40)));
    task("a", "security", "completed", Some(1_400), vec![first])
}

/// Run `r1` as it ended: `b` fenced on node-2 at 2_000, completed on node-3.
pub(crate) fn completed_run() -> RunSnapshot {
    let mut b = task(
        "b",
        "development",
        "completed",
        Some(3_500),
        vec![
            attempt(1, "node-2", 1_450, Some(("fenced", 2_000, 0))),
            attempt(2, "node-3", 2_100, Some(("completed", 3_500, 60))),
        ],
    );
    b.depends_on = vec!["a".into()];
    run("r1", "completed", vec![task_a(), b])
}

/// Run `r1` while attempt 1 of `b` runs on node-2.
pub(crate) fn running_run() -> RunSnapshot {
    let b = task(
        "b",
        "development",
        "running",
        None,
        vec![attempt(1, "node-2", 1_450, None)],
    );
    run("r1", "running", vec![task_a(), b])
}

/// A lease as a voter reports it.
pub(crate) fn lease(role: &str, holder: u64, epoch: u64) -> LeaseObservation {
    LeaseObservation {
        role: role.into(),
        holder,
        epoch,
        expires_at: 0,
    }
}

/// A fault record.
pub(crate) fn fault(at: Millis, fault: &str, target: &str) -> FaultRecord {
    FaultRecord {
        at,
        fault: fault.into(),
        target: target.into(),
        note: String::new(),
    }
}

/// A side effect of run `r1`.
pub(crate) fn effect(task: &str, attempt: u32, at: Millis) -> SideEffect {
    SideEffect {
        run_id: "r1".into(),
        task: task.into(),
        attempt,
        step: 1,
        at,
    }
}

/// The whole healthy history: every checker passes it.
pub(crate) fn healthy() -> History {
    let poll = |at, via: &str, run| RunPoll {
        at,
        via: via.into(),
        run,
    };
    let leases = |at, via: &str, leases| LeasePoll {
        at,
        via: via.into(),
        leases,
    };
    History {
        scenario: "kill-worker-node".into(),
        seed: 42,
        started_at: 1_000,
        faults: vec![
            fault(1_500, "kill", "node-2"),
            fault(2_800, "restart", "node-2"),
        ],
        submissions: vec![Submission {
            at: 1_050,
            name: "small".into(),
            outcome: SubmitOutcome::Acked {
                run_id: "r1".into(),
            },
        }],
        polls: vec![
            poll(3_600, "node-1", completed_run()),
            poll(1_800, "node-1", running_run()),
            poll(2_900, "node-3", completed_run()),
        ],
        lease_polls: vec![
            leases(
                1_300,
                "node-1",
                vec![lease("coordinator", 1, 1), lease("security", 2, 1)],
            ),
            leases(
                2_200,
                "node-3",
                vec![lease("coordinator", 1, 1), lease("security", 3, 2)],
            ),
            leases(
                3_000,
                "node-1",
                vec![lease("coordinator", 1, 1), lease("security", 3, 2)],
            ),
        ],
        effects: vec![
            effect("a", 1, 1_200),
            effect("b", 1, 1_600),
            effect("b", 2, 2_500),
        ],
        finals: vec![completed_run()],
        heal: HealRecord {
            faults_stopped_at: 3_000,
            deadline_ms: 10_000,
            all_ended_at: Some(3_600),
        },
        recovery: vec![
            Recovery {
                what: "reassignment".into(),
                after_fault: "kill node-2".into(),
                millis: 600,
            },
            Recovery {
                what: "leases".into(),
                after_fault: "kill node-2".into(),
                millis: 700,
            },
        ],
    }
}
