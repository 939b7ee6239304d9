use std::sync::Arc;

use super::feed::{FeedItem, Resume, KEEP};
use super::*;

fn id(index: u64, n: u32) -> EventId {
    EventId { index, n }
}

fn node_event(index: u64, n: u32) -> Arc<Event> {
    Arc::new(Event::replicated(
        id(index, n),
        7,
        EventKind::Node {
            node: format!("n{index}"),
            status: NodeStatus::Alive,
        },
    ))
}

#[test]
fn event_ids_round_trip_and_order_by_log_position() {
    for text in ["12.0", "12.3", "12", "0.0"] {
        assert_eq!(text.parse::<EventId>().unwrap().to_string(), text);
    }
    assert!(id(12, 3) < EventId::through(12));
    assert!(EventId::through(12) < id(13, 0));
    for bad in [
        "",
        "x",
        "1.",
        ".1",
        "1.2.3",
        "-1",
        "1.4294967295",
        "99999999999999999999999",
    ] {
        assert!(bad.parse::<EventId>().is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn events_are_json_with_a_version_and_a_type() {
    let event = Event::replicated(
        id(40, 1),
        1_700_000_000_000,
        EventKind::TaskState {
            run: RunId("r1".into()),
            task: "scan".into(),
            master: MasterRole::Security,
            worker: "scan".into(),
            state: TaskState::Running,
            reason: None,
        },
    );
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["v"], 1);
    assert_eq!(json["id"], "40.1");
    assert_eq!(json["type"], event.kind.type_name());
    assert_eq!(json["state"], "running");
    assert!(json.get("origin").is_none() && json.get("reason").is_none());
    let back: Event = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
    assert_eq!(event.channel().name(), "cortex:tasks:queue");

    let ephemeral = Event::ephemeral(
        "k3s-worker01",
        EventKind::WorkerActivity {
            run: RunId("r1".into()),
            task: "scan".into(),
            attempt: 1,
            node: "k3s-worker01".into(),
            progress: Some(40),
            message: None,
            tokens_used: None,
        },
    );
    let json = serde_json::to_value(&ephemeral).unwrap();
    assert!(json.get("id").is_none());
    assert_eq!(json["origin"], "k3s-worker01");
    assert!(ephemeral.kind.is_ephemeral());
}

#[test]
fn channels_have_the_seed_names() {
    let names: Vec<_> = Channel::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "cortex:masters:coordination",
            "cortex:workers:status",
            "cortex:tasks:queue",
            "cortex:events:system",
            "cortex:metrics:realtime"
        ]
    );
    for channel in Channel::ALL {
        assert_eq!(Channel::from_name(channel.name()), Some(channel));
    }
    assert_eq!(Channel::from_name("cortex:other"), None);
}

#[tokio::test]
async fn the_feed_resumes_from_kept_events_and_reports_gaps() {
    let feed = EventFeed::starting_after(10);
    let mut live = feed.subscribe();
    assert!(
        matches!(feed.since(EventId::through(9)), Resume::Gap),
        "before the feed began"
    );
    let events = vec![node_event(11, 0), node_event(11, 1), node_event(12, 0)];
    feed.keep(&events);
    feed.send(events);
    match feed.since(id(11, 0)) {
        Resume::Events(after) => {
            let ids: Vec<_> = after.iter().map(|e| e.id.unwrap().to_string()).collect();
            assert_eq!(ids, ["11.1", "12.0"]);
        }
        Resume::Gap => panic!("kept events reported as a gap"),
    }
    assert!(matches!(feed.since(EventId::through(12)), Resume::Events(e) if e.is_empty()));
    match live.recv().await.unwrap() {
        FeedItem::Event(e) => assert_eq!(e.id, Some(id(11, 0))),
        FeedItem::Gap => panic!("unexpected gap"),
    }

    // Evicting the oldest events raises the floor.
    let many: Vec<_> = (0..KEEP as u64).map(|i| node_event(100 + i, 0)).collect();
    feed.keep(&many);
    assert!(matches!(feed.since(id(11, 1)), Resume::Gap));
    assert!(matches!(feed.since(id(100, 0)), Resume::Events(e) if e.len() == KEEP - 1));

    // A snapshot install drops everything kept and tells subscribers.
    feed.jumped(5_000);
    assert!(matches!(feed.since(id(100, 0)), Resume::Gap));
    assert!(matches!(feed.since(EventId::through(5_000)), Resume::Events(e) if e.is_empty()));
    let mut saw_gap = false;
    while let Ok(item) = live.try_recv() {
        saw_gap |= matches!(item, FeedItem::Gap);
    }
    assert!(saw_gap);
}

#[tokio::test]
async fn the_bus_tells_local_events_from_injected_ones() {
    let bus = Bus::default();
    let mut rx = bus.subscribe();
    let kind = EventKind::Node {
        node: "a".into(),
        status: NodeStatus::Lost,
    };
    bus.publish(Event::ephemeral("a", kind.clone()));
    bus.inject(Event::ephemeral("b", kind));
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert!(first.local && !second.local);
    assert_eq!(second.event.origin.as_deref(), Some("b"));
}

/// A state with one run of `tasks` (YAML task lines), a node `n1` and the
/// security lease, and the request counter for further commands.
fn run_world(tasks: &str) -> (crate::State, u64) {
    use crate::command::{ClusterTime, Command, Request, RequestId};
    let plan = format!(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata:\n  name: r\nspec:\n  \
         budget: {{ total: 100000 }}\n  masters:\n    \
         security: {{ personal: 40000, workers: 40000 }}\n  tasks:\n{tasks}"
    );
    let spec = crate::plan::parse(&plan).expect("valid plan");
    let mut state = crate::State::default();
    let commands = [
        Command::SubmitRun {
            run: crate::run::RunId("r".into()),
            spec,
        },
        Command::RegisterNode {
            name: "n1".into(),
            labels: Default::default(),
            capacity: 8,
            voter: None,
        },
        Command::AcquireLease {
            role: crate::plan::MasterRole::Security,
            holder: 1,
            ttl_ms: 60_000,
        },
    ];
    let mut n = 0;
    for command in commands {
        n += 1;
        let request = Request {
            id: RequestId(format!("q{n}")),
            actor: None,
            time: ClusterTime(1_000 + n),
            command,
        };
        state.apply(&request).expect("setup applies");
    }
    (state, n)
}

/// Applies `command` as request `n` and returns the events it derived.
fn observe(state: &mut crate::State, n: u64, command: crate::Command) -> Vec<EventKind> {
    use crate::command::{ClusterTime, Request, RequestId};
    let request = Request {
        id: RequestId(format!("q{n}")),
        actor: None,
        time: ClusterTime(1_000 + n),
        command,
    };
    let mut events = Vec::new();
    state
        .apply_observed(&request, &mut events)
        .expect("command applies");
    events
}

#[test]
fn a_report_about_one_task_yields_that_tasks_events_and_new_handoff_tasks() {
    use crate::plan::{BuiltinSpec, ExecutorSpec, MasterRole, TaskId, WorkerType};
    use crate::run::{AttemptReport, Handoff, RunId};
    use crate::state::leases::Fence;
    use crate::Command;
    let line = |id: &str| {
        format!("    - {{ id: {id}, master: security, worker: scan, executor: {{ builtin: {{ name: noop }} }} }}\n")
    };
    let (mut state, mut n) = run_world(&(line("a") + &line("b") + &line("c")));
    let run = RunId("r".into());
    let fence = Fence {
        role: MasterRole::Security,
        epoch: 1,
    };
    n += 1;
    let assign = Command::AssignTask {
        run: run.clone(),
        task: TaskId("b".into()),
        attempt: 1,
        node: "n1".into(),
        fence,
    };
    let events = observe(&mut state, n, assign);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, EventKind::TaskState { task, .. } if task != "b")),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, EventKind::AttemptStarted { task, .. } if task == "b")));

    let handoff = Handoff {
        id: "fix".into(),
        master: MasterRole::Security,
        worker: WorkerType::Fix,
        executor: ExecutorSpec::Builtin(BuiltinSpec::Noop),
        budget: None,
        description: None,
    };
    n += 1;
    let report = Command::ReportAttempt {
        run,
        task: TaskId("b".into()),
        attempt: 1,
        report: AttemptReport::Completed {
            tokens_used: 10,
            result: None,
            handoffs: vec![handoff],
        },
    };
    let events = observe(&mut state, n, report);
    let states: Vec<(&str, TaskState)> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::TaskState { task, state, .. } => Some((task.as_str(), *state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![("b", TaskState::Completed), ("b.fix", TaskState::Pending)]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, EventKind::Handoff { to, .. } if to == "b.fix")));
}

#[test]
fn a_callers_change_yields_its_audit_event_even_when_refused() {
    use crate::audit::{Actor, Role};
    use crate::command::{ClusterTime, Request, RequestId};
    use crate::run::RunId;
    use crate::Command;
    let mut state = crate::State::default();
    let cancel = Request {
        id: RequestId("c1".into()),
        actor: Some(Actor {
            name: "ops".into(),
            role: Role::Operator,
        }),
        time: ClusterTime(5),
        command: Command::CancelRun {
            run: RunId("missing".into()),
            reason: "why not".into(),
        },
    };
    let mut events = Vec::new();
    assert!(state.apply_observed(&cancel, &mut events).is_err());
    assert_eq!(
        events,
        [EventKind::Audit {
            seq: 1,
            actor: "ops".into(),
            role: Role::Operator,
            action: "run.cancel".into(),
            target: "missing".into(),
            refused: Some("no run missing".into()),
        }]
    );
    // The cluster's own commands carry no actor and yield no audit event.
    let own = Request {
        id: RequestId("own".into()),
        actor: None,
        time: ClusterTime(6),
        command: Command::Noop,
    };
    let mut events = Vec::new();
    state.apply_observed(&own, &mut events).unwrap();
    assert!(events.is_empty(), "{events:?}");
}
