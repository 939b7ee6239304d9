use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use cortex_chaos::RedisServer;
use cortex_consensus::events::bus::BusItem;
use cortex_consensus::events::{Channel, Event, EventId, EventKind};
use cortex_consensus::run::{RunId, RunStatus};
use futures::StreamExt;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast;

use super::backoff::Backoff;
use super::inbound::{decode, Inbound, MAX_MESSAGE_BYTES};
use super::outbox::Outbox;
use super::url::redact;
use super::*;

fn activity(node: &str, message: &str) -> Event {
    Event::ephemeral(
        node,
        EventKind::WorkerActivity {
            run: RunId("r1".into()),
            task: "scan".into(),
            attempt: 1,
            node: node.into(),
            progress: Some(40),
            message: Some(message.into()),
            tokens_used: None,
        },
    )
}

fn finished(index: u64) -> Event {
    Event::replicated(
        EventId { index, n: 0 },
        1,
        EventKind::RunFinished {
            run: RunId("r1".into()),
            status: RunStatus::Completed,
            reason: None,
        },
    )
}

fn exposition(metrics: &EventMetrics) -> String {
    let mut registry = Registry::default();
    metrics.register(&mut registry, true);
    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    text
}

/// The value of the sample whose line starts with `series`.
fn sample(metrics: &EventMetrics, series: &str) -> f64 {
    let text = exposition(metrics);
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

fn nodes(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn redis_urls_are_checked_and_shown_without_their_password() {
    for good in [
        "redis://127.0.0.1",
        "redis://:secret@redis.cortex:6380/2",
        "redis://cortex:secret@[::1]:6379",
        "unix:///run/redis.sock",
        "redis+unix:///run/redis.sock?pass=secret",
    ] {
        let url = RedisUrl::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(!url.to_string().contains("secret"), "{url}");
        assert!(!format!("{url:?}").contains("secret"), "{url:?}");
    }
    let cases = [
        ("127.0.0.1:6379", "expected redis://"),
        ("http://h:6379", "scheme must be"),
        (
            "rediss://:secret@h:6379",
            "TLS (rediss://) is not supported",
        ),
        ("redis://:secret@h:6379/notadb", "Invalid database number"),
        ("redis://:secret@", "did not parse"),
        ("redis://:secret@0.0.0.0", "wildcard address"),
    ];
    for (bad, reason) in cases {
        let error = RedisUrl::parse(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        let text = error.to_string();
        assert!(text.contains(reason), "{bad}: {text}");
        assert!(text.starts_with("--redis-url "), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}

#[test]
fn redaction_hides_every_form_of_password() {
    let cases = [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://user:pw@h", "redis://user:***@h"),
        ("redis://pw@h", "redis://***@h"),
        ("redis://h:6379", "redis://h:6379"),
        ("redis://u:p@ss/w@rd@h:1", "redis://u:***@h:1"),
        ("redis://p/w:x@h", "redis://***@h"),
        (
            "unix:///s.sock?db=1&pass=pw#x",
            "unix:///s.sock?db=1&pass=***#x",
        ),
        ("redis://h/?PASSWORD=pw", "redis://h/?PASSWORD=***"),
        (":pw@h", ":***@h"),
    ];
    for (url, shown) in cases {
        assert_eq!(redact(url), shown, "{url}");
    }
}

#[test]
fn only_well_formed_foreign_ephemeral_events_are_injected() {
    let local = nodes(&["voter-1"]);
    let json = |event: &Event| serde_json::to_vec(event).unwrap();
    let foreign = activity("agent-a", "step 3");
    assert_eq!(
        decode(Channel::WorkersStatus, &json(&foreign), &local),
        Inbound::Inject(foreign.clone())
    );
    assert_eq!(
        decode(
            Channel::WorkersStatus,
            &json(&activity("voter-1", "x")),
            &local
        ),
        Inbound::Ignore("published here")
    );
    assert_eq!(
        decode(Channel::EventsSystem, &json(&finished(9)), &local),
        Inbound::Ignore("replicated")
    );

    let mut future = foreign.clone();
    future.v = 2;
    let mut no_origin = foreign.clone();
    no_origin.origin = None;
    let mut with_id = foreign.clone();
    with_id.id = Some(EventId { index: 1, n: 0 });
    let mut without_id = finished(9);
    without_id.id = None;
    let oversized = format!(
        r#"{{"v":1,"at":1,"origin":"a","type":"worker.activity","run":"r","task":"t","attempt":1,"node":"a","message":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    );
    let malformed: [(Channel, Vec<u8>, &str); 10] = [
        (Channel::WorkersStatus, b"not json".to_vec(), "not an event"),
        (Channel::WorkersStatus, b"{\"v\":1}".to_vec(), "not an event"),
        (Channel::WorkersStatus, vec![0xff, 0xfe, 0x00], "not an event"),
        (Channel::WorkersStatus, b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec(), "not an event"),
        (Channel::WorkersStatus, json(&future), "another schema version"),
        (Channel::TasksQueue, json(&foreign), "on the wrong channel"),
        (Channel::WorkersStatus, json(&no_origin), "no origin"),
        (Channel::WorkersStatus, json(&with_id), "an ephemeral event with an id"),
        (Channel::EventsSystem, json(&without_id), "a replicated event without an id"),
        (Channel::WorkersStatus, oversized.into_bytes(), "larger than 64 KiB"),
    ];
    for (channel, payload, why) in malformed {
        assert_eq!(decode(channel, &payload, &local), Inbound::Malformed(why));
    }
}

#[test]
fn an_event_is_accepted_only_on_its_own_channel() {
    let payload = serde_json::to_vec(&activity("agent-a", "x")).unwrap();
    for channel in Channel::ALL {
        let verdict = decode(channel, &payload, &nodes(&[]));
        let accepted = matches!(verdict, Inbound::Inject(_));
        assert_eq!(accepted, channel == Channel::WorkersStatus, "{channel:?}");
        assert_eq!(Channel::from_name(channel.name()), Some(channel));
    }
}

#[tokio::test]
async fn a_full_outbox_drops_its_oldest_events_and_counts_them() {
    let metrics = EventMetrics::default();
    let outbox = Outbox::new(3, metrics.clone());
    for n in 1..=5 {
        outbox.push(Arc::new(finished(n)));
    }
    assert_eq!(outbox.len(), 3);
    assert_eq!(outbox.pop().await.id, Some(EventId { index: 3, n: 0 }));
    assert_eq!(
        sample(
            &metrics,
            r#"cortex_events_dropped_total{reason="queue_full"}"#
        ),
        2.0
    );
}

#[test]
fn backoff_doubles_from_100_ms_to_5_s_with_jitter() {
    let mut backoff = Backoff::default();
    let steps: Vec<u64> = [100, 200, 400, 800, 1600, 3200, 5000, 5000].to_vec();
    for step in steps {
        let delay = backoff.next_delay().as_millis() as u64;
        assert!(
            (step / 2..=step).contains(&delay),
            "{delay} ms for step {step}"
        );
    }
    backoff.reset();
    assert!(backoff.next_delay() <= Duration::from_millis(100));
}

#[test]
fn event_families_are_exported_with_zeros_without_redis() {
    let without = Observability::start(None, &[]);
    let mut registry = Registry::default();
    without.register(&mut registry);
    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    for series in [
        r#"cortex_events_dropped_total{reason="queue_full"} 0"#,
        r#"cortex_events_dropped_total{reason="malformed"} 0"#,
        r#"cortex_events_dropped_total{reason="slow_subscriber"} 0"#,
        r#"cortex_events_published_total{channel="cortex:masters:coordination"} 0"#,
        r#"cortex_events_received_total{channel="cortex:metrics:realtime"} 0"#,
        "cortex_redis_publish_latency_seconds_count 0",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
    // No Redis configured: no "disconnected" to alert on.
    assert!(!text.contains("cortex_redis_connected"), "{text}");
    assert!(exposition(&without.metrics).contains("cortex_redis_connected 0"));
}

// ---- against a real redis-server -------------------------------------

/// Waits up to 10 s for `check`.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next item of `bus` that satisfies `want`, within 10 s.
async fn next_item(
    bus: &mut broadcast::Receiver<BusItem>,
    want: impl Fn(&BusItem) -> bool,
) -> BusItem {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let item = bus.recv().await.expect("bus open");
            if want(&item) {
                return item;
            }
        }
    })
    .await
    .expect("an event on the bus within 10 s")
}

/// A process with a bridge, named `node`.
async fn process(redis: &RedisServer, node: &str) -> Observability {
    let url = RedisUrl::parse(&redis.url()).unwrap();
    let observability = Observability::start(Some(&url), &[node.to_string()]);
    let metrics = observability.metrics.clone();
    eventually("the bridge connects", || {
        sample(&metrics, "cortex_redis_connected") == 1.0
    })
    .await;
    observability
}

fn is_activity(message: &'static str) -> impl Fn(&BusItem) -> bool {
    move |item| matches!(&item.event.kind, EventKind::WorkerActivity { message: Some(m), .. } if m == message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_events_cross_between_processes_and_garbage_is_ignored() {
    let redis = RedisServer::start().expect("redis-server");
    let a = process(&redis, "agent-a").await;
    let b = process(&redis, "voter-1").await;
    let mut on_a = a.bus.subscribe();
    let mut on_b = b.bus.subscribe();

    a.bus.publish(activity("agent-a", "from a"));
    let crossed = next_item(&mut on_b, is_activity("from a")).await;
    assert!(!crossed.local, "injected events are not local");
    assert_eq!(crossed.event.origin.as_deref(), Some("agent-a"));
    // A's own event, back from Redis, is not injected into A's bus again,
    // nor republished by B (injected events are never published).
    b.bus.publish(activity("voter-1", "from b"));
    let echo = next_item(&mut on_a, |item| !item.local).await;
    assert!(is_activity("from b")(&echo), "{echo:?}");
    assert_eq!(
        sample(
            &a.metrics,
            r#"cortex_events_published_total{channel="cortex:workers:status"}"#
        ),
        1.0
    );

    // Garbage and replicated events on the channels change nothing.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let garbage: [(&str, Vec<u8>); 4] = [
        ("cortex:workers:status", b"not json".to_vec()),
        ("cortex:events:system", vec![0xff; 70 * 1024]),
        (
            "cortex:tasks:queue",
            serde_json::to_vec(&activity("x", "wrong channel")).unwrap(),
        ),
        ("cortex:metrics:realtime", b"{\"v\":99}".to_vec()),
    ];
    for (channel, payload) in garbage {
        let _: i64 = ::redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let replicated = serde_json::to_vec(&finished(7)).unwrap();
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg("cortex:events:system")
        .arg(replicated)
        .query_async(&mut raw)
        .await
        .unwrap();
    a.bus.publish(activity("agent-a", "still alive"));
    let item = next_item(&mut on_b, |item| !item.local).await;
    assert!(
        is_activity("still alive")(&item),
        "only the live event got through: {item:?}"
    );
    assert_eq!(
        sample(
            &b.metrics,
            r#"cortex_events_dropped_total{reason="malformed"}"#
        ),
        4.0
    );
    assert_eq!(
        sample(
            &b.metrics,
            r#"cortex_events_received_total{channel="cortex:events:system"}"#
        ),
        2.0
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_resumes_after_redis_is_killed_and_restarted() {
    let mut redis = RedisServer::start().expect("redis-server");
    let a = process(&redis, "agent-a").await;
    let metrics = a.metrics.clone();

    redis.kill().unwrap();
    eventually("the bridge notices", || {
        sample(&metrics, "cortex_redis_connected") == 0.0
    })
    .await;
    // Nothing blocks while Redis is away: events are queued.
    for n in 0..3 {
        a.bus.publish(activity("agent-a", &format!("queued {n}")));
    }
    redis.restart().unwrap();
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut watcher = client.get_async_pubsub().await.unwrap();
    watcher.subscribe("cortex:workers:status").await.unwrap();
    eventually("the bridge reconnects", || {
        sample(&metrics, "cortex_redis_connected") == 1.0
    })
    .await;
    a.bus.publish(activity("agent-a", "after restart"));
    let mut messages = watcher.on_message();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = messages.next().await.expect("subscription open");
            let event: Event = serde_json::from_slice(message.get_payload_bytes()).unwrap();
            if let EventKind::WorkerActivity {
                message: Some(m), ..
            } = event.kind
            {
                if m == "after restart" {
                    return;
                }
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "no event published after the restart");
    // The three queued while Redis was down went out too, once it was back.
    // Redis delivers to subscribers before it answers the publisher, so the
    // count of the last one may lag what the watcher saw by a moment.
    let published = r#"cortex_events_published_total{channel="cortex:workers:status"}"#;
    eventually("four publishes counted", || {
        sample(&metrics, published) == 4.0
    })
    .await;
    assert_eq!(
        sample(
            &metrics,
            r#"cortex_events_dropped_total{reason="queue_full"}"#
        ),
        0.0
    );
    a.shutdown().await;
}
