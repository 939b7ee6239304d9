//! Property tests of ARCHITECTURE §5 on the pure state machine: random
//! sequences of submit, lease, assign, report (current and stale), node
//! loss, timeouts, shortfalls, escalations, reallocation and cancellation
//! never break the five invariants, and a run whose faults stop finishes.
//! Along the way, the events derived from every entry, folded into a
//! watcher's view, always agree with the state they were derived from.

use std::collections::BTreeMap;

use cortex_consensus::command::{ClusterTime, Command, Request, RequestId};
use cortex_consensus::events::EventKind;
use cortex_consensus::plan::{
    BudgetSpec, DependencyPolicy, ExecutorSpec, MasterPools, MasterRole, Placement, Priority,
    RunSpec, TaskId, TaskSpec, WorkerType,
};
use cortex_consensus::run::{AttemptReport, Resolution, RunId, TaskState};
use cortex_consensus::state::leases::Fence;
use cortex_consensus::State;
use proptest::prelude::*;

const ROLES: [MasterRole; 3] = [
    MasterRole::Coordinator,
    MasterRole::Security,
    MasterRole::Testing,
];
const NODES: [&str; 3] = ["n1", "n2", "n3"];

fn spec(tasks: &[(usize, Vec<usize>, u64, bool)]) -> RunSpec {
    let tasks = tasks
        .iter()
        .enumerate()
        .map(|(i, (role, deps, budget, critical))| TaskSpec {
            id: TaskId(format!("t{i}")),
            master: ROLES[*role],
            worker: WorkerType::Analysis,
            priority: if *critical {
                Priority::Critical
            } else {
                Priority::Medium
            },
            depends_on: deps
                .iter()
                .filter(|d| **d < i)
                .map(|d| TaskId(format!("t{d}")))
                .collect(),
            budget: *budget,
            timeout_ms: 10_000,
            retries: 1,
            placement: Placement::default(),
            executor: ExecutorSpec::command(vec!["true".into()]),
            approval_required: false,
            phase: None,
            description: None,
        })
        .collect();
    RunSpec {
        name: "prop".into(),
        budget: BudgetSpec {
            total: 40_000,
            emergency_reserve: 5_000,
        },
        masters: ROLES
            .iter()
            .map(|r| {
                (
                    *r,
                    MasterPools {
                        personal: 1_000,
                        workers: 10_000,
                    },
                )
            })
            .collect(),
        tasks,
        phases: vec![],
        timeout_ms: Some(600_000),
        on_dependency_failure: DependencyPolicy::Fail,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Tick(u64),
    Lease(usize, u64),
    Assign {
        task: usize,
        attempt_delta: i8,
        node: usize,
        stale_epoch: bool,
    },
    Report {
        task: usize,
        attempt_delta: i8,
        kind: u8,
        tokens: u64,
    },
    Heartbeat(usize),
    FenceNode(usize),
    Expire(usize),
    Shortfall(usize),
    Resolve(usize, u8),
    Move(usize, usize, u64),
    Cancel,
}

/// Mostly the right attempt number, sometimes a stale or future one.
fn delta() -> impl Strategy<Value = i8> {
    prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)]
}

fn op(tasks: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..2_500).prop_map(Op::Tick),
        3 => (0usize..3, 1u64..4).prop_map(|(r, h)| Op::Lease(r, h)),
        6 => (0..tasks, delta(), 0usize..3, prop::bool::weighted(0.15))
            .prop_map(|(task, attempt_delta, node, stale_epoch)| Op::Assign { task, attempt_delta, node, stale_epoch }),
        6 => (0..tasks, delta(), 0u8..5, 0u64..12_000)
            .prop_map(|(task, attempt_delta, kind, tokens)| Op::Report { task, attempt_delta, kind, tokens }),
        3 => (0usize..3).prop_map(Op::Heartbeat),
        1 => (0usize..3).prop_map(Op::FenceNode),
        1 => (0..tasks).prop_map(Op::Expire),
        1 => (0..tasks).prop_map(Op::Shortfall),
        1 => (0usize..4, 0u8..3).prop_map(|(e, r)| Op::Resolve(e, r)),
        1 => (0usize..3, 0usize..3, 0u64..5_000).prop_map(|(a, b, n)| Op::Move(a, b, n)),
        1 => (0u8..40).prop_map(|x| if x == 0 { Op::Cancel } else { Op::Tick(1) }),
    ]
}

struct World {
    state: State,
    time: u64,
    seq: u64,
    run: RunId,
    seen: Seen,
}

/// What a watcher knows from the events alone.
#[derive(Default)]
struct Seen {
    tasks: BTreeMap<String, TaskState>,
    attempts: BTreeMap<(String, u32), Option<String>>,
    ledger: BTreeMap<MasterRole, (u64, u64)>,
    finished: bool,
    leases: BTreeMap<MasterRole, (u64, u64)>,
}

impl Seen {
    fn fold(&mut self, event: EventKind) {
        match event {
            EventKind::TaskState { task, state, .. } => {
                self.tasks.insert(task, state);
            }
            EventKind::AttemptStarted { task, attempt, .. } => {
                self.attempts.insert((task, attempt), None);
            }
            EventKind::AttemptEnded {
                task,
                attempt,
                outcome,
                ..
            } => {
                self.attempts.insert((task, attempt), Some(outcome));
            }
            EventKind::Ledger {
                master,
                spent,
                reserved,
                ..
            } => {
                self.ledger.insert(master, (spent, reserved));
            }
            EventKind::RunFinished { .. } => self.finished = true,
            EventKind::Lease {
                master,
                holder: Some(holder),
                epoch,
            } => {
                self.leases.insert(master, (holder, epoch));
            }
            _ => {}
        }
    }

    /// Differences between the folded events and `world`'s state.
    fn check(&self, world: &World) -> Result<(), String> {
        let run = &world.state.runs[&world.run];
        for (id, task) in &run.tasks {
            // Tasks start pending without an event.
            let seen = self.tasks.get(&id.0).copied().unwrap_or(TaskState::Pending);
            if seen != task.state {
                return Err(format!(
                    "events say {id} is {seen:?}, state says {:?}",
                    task.state
                ));
            }
            for a in &task.attempts {
                let outcome = a.end.as_ref().map(|e| e.describe().0.to_string());
                if self.attempts.get(&(id.0.clone(), a.number)) != Some(&outcome) {
                    return Err(format!(
                        "attempt {} of {id}: events {:?}, state {outcome:?}",
                        a.number,
                        self.attempts.get(&(id.0.clone(), a.number))
                    ));
                }
            }
        }
        for (master, account) in &run.ledger.accounts {
            let seen = self.ledger.get(master).copied().unwrap_or((0, 0));
            if seen != (account.spent, account.reserved) {
                return Err(format!(
                    "{master} ledger: events {seen:?}, state {:?}",
                    (account.spent, account.reserved)
                ));
            }
        }
        if self.finished != run.status.is_terminal() {
            return Err(format!(
                "events say finished={}, run is {:?}",
                self.finished, run.status
            ));
        }
        let leases = world
            .state
            .leases
            .held
            .iter()
            .map(|(m, l)| (*m, (l.holder, l.epoch)))
            .collect::<BTreeMap<_, _>>();
        if leases != self.leases {
            return Err(format!(
                "leases: events {:?}, state {leases:?}",
                self.leases
            ));
        }
        Ok(())
    }
}

impl World {
    fn apply(&mut self, command: Command) -> bool {
        self.seq += 1;
        let request = Request {
            id: RequestId(format!("r{}", self.seq)),
            actor: None,
            time: ClusterTime(self.time),
            command,
        };
        let mut events = Vec::new();
        let accepted = self.state.apply_observed(&request, &mut events).is_ok();
        assert!(
            accepted || events.is_empty(),
            "a refused command yielded {events:?}"
        );
        for event in events {
            self.seen.fold(event);
        }
        accepted
    }

    fn fence(&self, role: MasterRole) -> Fence {
        let epoch = self.state.leases.held.get(&role).map_or(0, |l| l.epoch);
        Fence { role, epoch }
    }

    fn task(&self, i: usize) -> TaskId {
        TaskId(format!("t{i}"))
    }

    fn attempt(&self, task: &TaskId, delta: i8) -> u32 {
        let current = self.state.runs[&self.run].tasks[task].attempt_number();
        (i64::from(current) + i64::from(delta)).max(0) as u32
    }

    /// Applies `op`; false when the state machine refused it.
    fn step(&mut self, op: &Op) -> bool {
        let run = self.run.clone();
        match op.clone() {
            Op::Tick(ms) => {
                self.time += ms;
                true
            }
            Op::Lease(r, holder) => self.apply(Command::AcquireLease {
                role: ROLES[r],
                holder,
                ttl_ms: 5_000,
            }),
            Op::Assign {
                task,
                attempt_delta,
                node,
                stale_epoch,
            } => {
                let task = self.task(task);
                let master = self.state.runs[&run].tasks[&task].spec.master;
                let mut fence = self.fence(master);
                if stale_epoch {
                    fence.epoch = fence.epoch.saturating_sub(1);
                }
                let attempt = self.attempt(&task, attempt_delta + 1);
                self.apply(Command::AssignTask {
                    run,
                    task,
                    attempt,
                    node: NODES[node].into(),
                    fence,
                })
            }
            Op::Report {
                task,
                attempt_delta,
                kind,
                tokens,
            } => {
                let task = self.task(task);
                let attempt = self.attempt(&task, attempt_delta);
                let report = match kind {
                    0 => AttemptReport::Progress {
                        tokens_used: tokens,
                        percent: 50,
                        message: None,
                        checkpoint: Some("{}".into()),
                        logs: vec!["working".into()],
                    },
                    1 => AttemptReport::Completed {
                        tokens_used: tokens,
                        result: None,
                        handoffs: vec![],
                    },
                    2 => AttemptReport::Failed {
                        tokens_used: tokens,
                        error: "boom".into(),
                    },
                    3 => AttemptReport::TimedOut {
                        tokens_used: tokens,
                    },
                    _ => AttemptReport::BudgetExceeded {
                        tokens_used: tokens,
                        partial_result: None,
                    },
                };
                self.apply(Command::ReportAttempt {
                    run,
                    task,
                    attempt,
                    report,
                })
            }
            Op::Heartbeat(n) => self.apply(Command::Heartbeat {
                name: NODES[n].into(),
            }),
            Op::FenceNode(n) => {
                let fence = self.fence(MasterRole::Coordinator);
                self.apply(Command::FenceNode {
                    node: NODES[n].into(),
                    timeout_ms: 3_000,
                    fence,
                })
            }
            Op::Expire(task) => {
                let task = self.task(task);
                let master = self.state.runs[&run].tasks[&task].spec.master;
                let attempt = self.attempt(&task, 0);
                let fence = self.fence(master);
                self.apply(Command::ExpireAttempt {
                    run,
                    task,
                    attempt,
                    fence,
                })
            }
            Op::Shortfall(task) => {
                let task = self.task(task);
                let fence = self.fence(self.state.runs[&run].tasks[&task].spec.master);
                self.apply(Command::BudgetShortfall { run, task, fence })
            }
            Op::Resolve(e, r) => {
                let escalation = format!("{run}-{}", e + 1);
                let resolution = match r {
                    0 => Resolution::GrantReserve { amount: 2_000 },
                    1 => Resolution::Retry,
                    _ => Resolution::Cancel,
                };
                self.apply(Command::ResolveEscalation {
                    run,
                    escalation,
                    resolution,
                })
            }
            Op::Move(a, b, amount) => {
                let fence = self.fence(MasterRole::Coordinator);
                self.apply(Command::Reallocate {
                    run,
                    from: ROLES[a],
                    to: ROLES[b],
                    amount,
                    fence,
                })
            }
            Op::Cancel => self.apply(Command::CancelRun {
                run,
                reason: "test".into(),
            }),
        }
    }
}

/// Checks the invariants after every step; `terminal` remembers each
/// task's first terminal state so "ends exactly once" can be checked.
fn check(world: &World, terminal: &mut BTreeMap<TaskId, TaskState>) -> Result<(), String> {
    let run = &world.state.runs[&world.run];
    // 1. Budget.
    run.ledger.check()?;
    for (id, task) in &run.tasks {
        // 2. Single attempt: only the last attempt may be live, and only while running.
        let live = task.attempts.iter().filter(|a| a.end.is_none()).count();
        if live > 1 || (live == 1 && task.attempts.last().unwrap().end.is_some()) {
            return Err(format!("{id}: {live} live attempts"));
        }
        if (task.state == TaskState::Running) != (live == 1) {
            return Err(format!(
                "{id}: state {:?} with {live} live attempts",
                task.state
            ));
        }
        // 4. Terminal exactly once, with a reason unless completed.
        if task.state.is_terminal() {
            if task.state != TaskState::Completed && task.reason.is_none() {
                return Err(format!("{id}: {:?} without a reason", task.state));
            }
            let first = *terminal.entry(id.clone()).or_insert(task.state);
            if first != task.state {
                return Err(format!(
                    "{id}: terminal state changed {first:?} -> {:?}",
                    task.state
                ));
            }
        } else if let Some(first) = terminal.get(id) {
            return Err(format!("{id}: left terminal state {first:?}"));
        }
        // 5. Dependencies: every attempt started after its dependencies completed.
        if let Some(first_attempt) = task.attempts.first() {
            for dep in &task.spec.depends_on {
                let d = &run.tasks[dep];
                let done_before = d.state == TaskState::Completed
                    && d.finished_at.is_some_and(|f| f <= first_attempt.started_at);
                if !done_before {
                    return Err(format!("{id} started before dependency {dep} completed"));
                }
            }
        }
    }
    if run.status.is_terminal() && run.tasks.values().any(|t| !t.state.is_terminal()) {
        return Err("run ended with unfinished tasks".into());
    }
    // 3. Single master: a lease's epoch only ever has one holder (checked by
    // the stale-epoch commands being refused: a refused command changes nothing).
    Ok(())
}

fn tasks_strategy() -> impl Strategy<Value = Vec<(usize, Vec<usize>, u64, bool)>> {
    prop::collection::vec(
        (
            0usize..3,
            prop::collection::btree_set(0usize..8, 0..3)
                .prop_map(|s| s.into_iter().collect::<Vec<_>>()),
            500u64..9_000,
            prop::bool::weighted(0.2),
        ),
        2..8,
    )
}

fn world(tasks: &[(usize, Vec<usize>, u64, bool)]) -> World {
    let mut world = World {
        state: State::default(),
        time: 1_000,
        seq: 0,
        run: RunId("r".into()),
        seen: Seen::default(),
    };
    let spec = spec(tasks);
    let submit = Request {
        id: RequestId("submit".into()),
        actor: None,
        time: ClusterTime(world.time),
        command: Command::SubmitRun {
            run: world.run.clone(),
            spec,
        },
    };
    let mut events = Vec::new();
    if let Err(e) = world.state.apply_observed(&submit, &mut events) {
        panic!("submit refused: {e}");
    }
    assert!(
        matches!(events[..], [EventKind::RunSubmitted { .. }]),
        "{events:?}"
    );
    for node in NODES {
        world.apply(Command::RegisterNode {
            name: node.into(),
            labels: BTreeMap::new(),
            capacity: 2,
            voter: None,
        });
    }
    world
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_refused_commands_change_nothing(
        tasks in tasks_strategy(),
        ops in prop::collection::vec(op(8), 1..150),
    ) {
        let mut world = world(&tasks);
        let mut terminal = BTreeMap::new();
        let n = tasks.len();
        for op in ops {
            let op = match op {
                Op::Assign { task, attempt_delta, node, stale_epoch } => Op::Assign { task: task % n, attempt_delta, node, stale_epoch },
                Op::Report { task, attempt_delta, kind, tokens } => Op::Report { task: task % n, attempt_delta, kind, tokens },
                Op::Expire(t) => Op::Expire(t % n),
                Op::Shortfall(t) => Op::Shortfall(t % n),
                other => other,
            };
            let before = (world.state.runs.clone(), world.state.leases.clone(), world.state.nodes.clone());
            let accepted = world.step(&op);
            let after = (world.state.runs.clone(), world.state.leases.clone(), world.state.nodes.clone());
            prop_assert!(accepted || after == before, "refused {:?} changed the state", op);
            if let Err(e) = check(&world, &mut terminal).and_then(|_| world.seen.check(&world)) {
                prop_assert!(false, "after {:?}: {}", op, e);
            }
        }
        // Must heal: with faults over, a cooperative scheduler finishes the run
        // and no reservation is left behind.
        heal(&mut world);
        let run = &world.state.runs[&world.run];
        prop_assert!(run.status.is_terminal(), "run did not finish: {:?}", run.tasks.values().map(|t| (t.spec.id.0.clone(), t.state, t.reason.clone())).collect::<Vec<_>>());
        prop_assert_eq!(run.ledger.reserved(), 0);
        check(&world, &mut terminal).map_err(TestCaseError::fail)?;
        world.seen.check(&world).map_err(TestCaseError::fail)?;
    }
}

/// A well-behaved cluster: every node heartbeats, one voter holds every
/// role, every ready task is assigned and completes, escalations are
/// cancelled. Bounded, so a bug shows as "did not finish".
fn heal(world: &mut World) {
    for _ in 0..400 {
        if world.state.runs[&world.run].status.is_terminal() {
            return;
        }
        world.time += 1_000;
        for node in NODES {
            world.apply(Command::Heartbeat { name: node.into() });
        }
        for role in ROLES {
            world.apply(Command::AcquireLease {
                role,
                holder: 9,
                ttl_ms: 60_000,
            });
        }
        let run = world.run.clone();
        let snapshot = world.state.runs[&run].clone();
        for e in snapshot
            .escalations
            .iter()
            .filter(|e| e.resolution.is_none())
        {
            world.apply(Command::ResolveEscalation {
                run: run.clone(),
                escalation: e.id.clone(),
                resolution: Resolution::Cancel,
            });
        }
        for (id, task) in &snapshot.tasks {
            let fence = world.fence(task.spec.master);
            match task.state {
                TaskState::Running => {
                    let attempt = task.attempt_number();
                    let report = AttemptReport::Completed {
                        tokens_used: task.spec.budget / 2,
                        result: None,
                        handoffs: vec![],
                    };
                    world.apply(Command::ReportAttempt {
                        run: run.clone(),
                        task: id.clone(),
                        attempt,
                        report,
                    });
                }
                TaskState::Pending => {
                    let attempt = task.attempt_number() + 1;
                    let assigned = NODES.iter().any(|node| {
                        world.apply(Command::AssignTask {
                            run: run.clone(),
                            task: id.clone(),
                            attempt,
                            node: (*node).into(),
                            fence,
                        })
                    });
                    if !assigned {
                        // As the coordinator does: move what finished masters
                        // have left, then let the master record a shortfall.
                        let coordinator = world.fence(MasterRole::Coordinator);
                        for (from, spare) in snapshot.spare_budget_by_master(task.spec.master) {
                            world.apply(Command::Reallocate {
                                run: run.clone(),
                                from,
                                to: task.spec.master,
                                amount: spare,
                                fence: coordinator,
                            });
                        }
                        world.apply(Command::BudgetShortfall {
                            run: run.clone(),
                            task: id.clone(),
                            fence,
                        });
                    }
                }
                _ => {}
            }
        }
    }
}

/// The scenario the property test hunts for, spelled out: an attempt on a
/// node that is declared lost is fenced, its budget released, the task
/// retried elsewhere, and the zombie's late report is refused.
#[test]
fn a_zombie_report_after_node_loss_is_rejected() {
    let mut world = world(&[(1, vec![], 4_000, false)]);
    let run = world.run.clone();
    let task = TaskId("t0".into());
    assert!(world.apply(Command::AcquireLease {
        role: MasterRole::Security,
        holder: 1,
        ttl_ms: 60_000
    }));
    assert!(world.apply(Command::AcquireLease {
        role: MasterRole::Coordinator,
        holder: 1,
        ttl_ms: 60_000
    }));
    let fence = world.fence(MasterRole::Security);
    assert!(world.apply(Command::AssignTask {
        run: run.clone(),
        task: task.clone(),
        attempt: 1,
        node: "n1".into(),
        fence
    }));
    assert_eq!(world.state.runs[&run].ledger.reserved(), 4_000);

    // n2 and n3 keep heartbeating; n1 goes silent and is declared lost.
    world.time += 4_000;
    for n in ["n2", "n3"] {
        assert!(world.apply(Command::Heartbeat { name: n.into() }));
    }
    let coordinator = world.fence(MasterRole::Coordinator);
    assert!(
        !world.apply(Command::FenceNode {
            node: "n2".into(),
            timeout_ms: 3_000,
            fence: coordinator
        }),
        "a healthy node is not fenced"
    );
    assert!(world.apply(Command::FenceNode {
        node: "n1".into(),
        timeout_ms: 3_000,
        fence: coordinator
    }));
    let t = &world.state.runs[&run].tasks[&task];
    assert_eq!(t.state, TaskState::Pending, "re-queued for attempt 2");
    assert_eq!(
        world.state.runs[&run].ledger.reserved(),
        0,
        "attempt 1's budget released"
    );

    // The zombie reports completion for attempt 1: refused, nothing changes.
    let before = world.state.runs.clone();
    let zombie = AttemptReport::Completed {
        tokens_used: 10,
        result: None,
        handoffs: vec![],
    };
    assert!(!world.apply(Command::ReportAttempt {
        run: run.clone(),
        task: task.clone(),
        attempt: 1,
        report: zombie
    }));
    assert_eq!(world.state.runs, before);

    // Attempt 2 runs elsewhere after its backoff and completes.
    world.time += 1_000;
    assert!(world.apply(Command::AssignTask {
        run: run.clone(),
        task: task.clone(),
        attempt: 2,
        node: "n2".into(),
        fence
    }));
    let done = AttemptReport::Completed {
        tokens_used: 10,
        result: None,
        handoffs: vec![],
    };
    assert!(world.apply(Command::ReportAttempt {
        run: run.clone(),
        task,
        attempt: 2,
        report: done
    }));
    assert!(world.state.runs[&run].status.is_terminal());
}
