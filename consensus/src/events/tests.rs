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
