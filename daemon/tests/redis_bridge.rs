//! End-to-end: the Redis fan-out between real `cortex` processes (three
//! voters that only coordinate, one agent that works), all with
//! `--redis-url`, and a plain Redis client watching the seed's channels.
//!
//! Replicated events go out once (from the leader), the agent's live
//! worker activity reaches the channels and, through them, the event stream
//! of a voter in another process. Redis is then SIGKILLed mid-run: the run
//! completes anyway, and once Redis is back the bridges publish again.
//! Garbage on the channels is counted and changes nothing.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_chaos::{ProcessCluster, RedisServer};
use futures::StreamExt;
use reqwest::Client;
use serde_json::Value;
use tokio::task::JoinHandle;

/// The seed's channels.
const CHANNELS: [&str; 5] = [
    "cortex:masters:coordination",
    "cortex:workers:status",
    "cortex:tasks:queue",
    "cortex:events:system",
    "cortex:metrics:realtime",
];

/// A task that reports progress once a second for eight seconds.
const SLOW_PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: fanout-slow }
spec:
  budget: { total: 10000, emergencyReserve: 0 }
  masters:
    testing: { personal: 1000, workers: 9000 }
  tasks:
    - id: steps
      master: testing
      worker: test
      budget: 100
      timeout: 2m
      executor:
        process:
          command: ["sh", "-c", 'for i in 1 2 3 4 5 6 7 8; do echo "{\"progress\": $((i*12)), \"message\": \"step $i\"}"; sleep 1; done']
"#;

/// A task that ends at once.
const QUICK_PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: fanout-quick }
spec:
  budget: { total: 10000, emergencyReserve: 0 }
  masters:
    testing: { personal: 1000, workers: 9000 }
  tasks:
    - id: quick
      master: testing
      worker: test
      budget: 100
      executor:
        process: { command: ["echo", "done"] }
"#;

/// Everything a plain Redis client received on the channels.
struct Watcher {
    messages: Arc<Mutex<Vec<(String, Value)>>>,
    task: JoinHandle<()>,
}

impl Watcher {
    /// Subscribes to every channel (returns once subscribed).
    async fn subscribe(redis: &RedisServer) -> Watcher {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.expect("watcher connects");
        pubsub
            .subscribe(&CHANNELS)
            .await
            .expect("watcher subscribes");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let task = tokio::spawn(async move {
            let mut stream = pubsub.into_on_message();
            while let Some(message) = stream.next().await {
                let json =
                    serde_json::from_slice(message.get_payload_bytes()).unwrap_or(Value::Null);
                sink.lock()
                    .unwrap()
                    .push((message.get_channel_name().to_string(), json));
            }
        });
        Watcher { messages, task }
    }

    fn messages(&self) -> Vec<(String, Value)> {
        self.messages.lock().unwrap().clone()
    }

    /// Whether an event of `type` about `run` arrived on `channel`.
    fn saw(&self, channel: &str, kind: &str, run: &str) -> bool {
        self.messages()
            .iter()
            .any(|(c, e)| c == channel && e["type"] == kind && e["run"] == run)
    }

    /// Waits until [`Watcher::saw`] says yes.
    async fn wait_for(&self, channel: &str, kind: &str, run: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.saw(channel, kind, run) {
            assert!(
                start.elapsed() < timeout,
                "no {kind} of run {run} on {channel} within {timeout:?}; got {:#?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asserts that no replicated event (one with an id) arrived twice.
    fn assert_each_id_once(&self) {
        let mut seen = HashSet::new();
        for (_, event) in self.messages() {
            if let Some(id) = event["id"].as_str() {
                assert!(seen.insert(id.to_string()), "event {id} published twice");
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long a run may take to reach what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// The value of `series` in node `id`'s `/metrics`.
async fn metric(client: &Client, cluster: &ProcessCluster, id: u64, series: &str) -> f64 {
    let text = client
        .get(format!("{}/metrics", cluster.api_url(id)))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in node {id}'s metrics:\n{text}"))
}

/// Reads the event stream at `url` until a `worker.activity` (false if the
/// stream ends first). Retries while the node does not know the run yet.
async fn stream_shows_activity(client: Client, url: String, token: String) -> bool {
    let mut response = loop {
        match client.get(&url).bearer_auth(&token).send().await {
            Ok(response) if response.status().is_success() => break response,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let mut text = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("event: worker.activity") || text.contains("\"type\":\"worker.activity\"")
        {
            return true;
        }
    }
    false
}

fn progress(run: &Value) -> u64 {
    run["tasks"][0]["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|a| a["progress"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_fan_out_through_redis_and_survive_its_restart() {
    let mut redis = RedisServer::start().expect("redis-server (scripts/test.sh installs it)");
    let url = redis.url();
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let mut cluster =
        ProcessCluster::start_with_args(binary, 3, &["--no-execute", "--redis-url", &url])
            .expect("start");
    cluster
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("ready");
    cluster
        .add_agent("agent-a", &["--redis-url", &url])
        .expect("agent starts");
    let leader = cluster
        .wait_leader(Duration::from_secs(10), &[])
        .await
        .unwrap();
    let client = Client::new();

    // Phase 1: Redis up. Replicated events from the leader, live activity
    // from the agent, and that activity on a voter's own event stream.
    let watcher = Watcher::subscribe(&redis).await;
    let run1 = cluster.submit_run(1, SLOW_PLAN).await.expect("submit");
    let follower = cluster.ids().into_iter().find(|id| *id != leader).unwrap();
    let stream = tokio::spawn(stream_shows_activity(
        client.clone(),
        format!("{}/v1/runs/{run1}/events", cluster.api_url(follower)),
        cluster.token().to_string(),
    ));
    let within = Duration::from_secs(20);
    watcher
        .wait_for("cortex:events:system", "run.submitted", &run1, within)
        .await;
    watcher
        .wait_for("cortex:tasks:queue", "task.state", &run1, within)
        .await;
    watcher
        .wait_for("cortex:workers:status", "attempt.started", &run1, within)
        .await;
    watcher
        .wait_for("cortex:workers:status", "worker.activity", &run1, within)
        .await;
    let activity = watcher
        .messages()
        .into_iter()
        .find(|(_, e)| e["type"] == "worker.activity")
        .unwrap()
        .1;
    assert_eq!(activity["origin"], "agent-a", "{activity}");
    assert!(activity.get("id").is_none(), "{activity}");
    let on_stream = tokio::time::timeout(Duration::from_secs(20), stream).await;
    assert!(
        matches!(on_stream, Ok(Ok(true))),
        "voter {follower}'s event stream never showed the agent's activity"
    );
    watcher.assert_each_id_once();

    // Phase 2: Redis killed mid-run. The run goes on.
    let before = progress(
        &cluster
            .wait_run(&run1, "run 1 progresses", WAIT, |r| progress(r) > 0)
            .await
            .unwrap(),
    );
    redis.kill().expect("kill redis");
    cluster
        .wait_run(&run1, "run 1 progresses without Redis", WAIT, |run| {
            progress(run) >= before + 24
        })
        .await
        .unwrap();

    // Phase 3: Redis back on the same port. The run completes, a second
    // run's events are published again, garbage is shrugged off.
    redis.restart().expect("restart redis");
    let watcher = Watcher::subscribe(&redis).await;
    cluster
        .wait_run(&run1, "run 1 completes", WAIT, |run| {
            run["status"] == "completed"
        })
        .await
        .unwrap();
    let raw = redis::Client::open(url.as_str()).unwrap();
    let mut raw = raw.get_multiplexed_async_connection().await.unwrap();
    for channel in CHANNELS {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg("{\"v\":1,\"type\":\"nonsense\"")
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let run2 = cluster.submit_run(1, QUICK_PLAN).await.expect("submit");
    cluster
        .wait_run(&run2, "run 2 completes", WAIT, |run| {
            run["status"] == "completed"
        })
        .await
        .unwrap();
    watcher
        .wait_for("cortex:events:system", "run.submitted", &run2, within)
        .await;
    watcher
        .wait_for("cortex:events:system", "run.finished", &run2, within)
        .await;
    watcher.assert_each_id_once();

    // The counters tell the same story.
    let published = r#"cortex_events_published_total{channel="cortex:events:system"}"#;
    assert!(metric(&client, &cluster, leader, published).await >= 3.0);
    let malformed = r#"cortex_events_dropped_total{reason="malformed"}"#;
    assert!(metric(&client, &cluster, follower, malformed).await >= 5.0);
    let queue_full = r#"cortex_events_dropped_total{reason="queue_full"}"#;
    assert_eq!(metric(&client, &cluster, leader, queue_full).await, 0.0);
    assert_eq!(
        metric(&client, &cluster, leader, "cortex_redis_connected").await,
        1.0
    );
    if cluster.leader(leader).await == Some(leader) {
        // Only the leader publishes replicated events.
        assert_eq!(metric(&client, &cluster, follower, published).await, 0.0);
    }
    cluster.check_no_crash().expect("no daemon crashed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_starts_and_works_while_redis_is_unreachable() {
    // Nothing listens on this port: Redis is down from the start.
    let port = cortex_chaos::ports::free_port().unwrap();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let cluster =
        ProcessCluster::start_with_args(binary, 1, &["--redis-url", &url]).expect("start");
    cluster
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("ready without Redis");
    let client = Client::new();
    let run = cluster.submit_run(1, QUICK_PLAN).await.expect("submit");
    cluster
        .wait_run(&run, "run completes without Redis", WAIT, |run| {
            run["status"] == "completed"
        })
        .await
        .unwrap();
    assert_eq!(
        metric(&client, &cluster, 1, "cortex_redis_connected").await,
        0.0
    );
    let log = cluster.log_tail(1, 200);
    assert!(log.contains("cannot reach Redis"), "{log}");
    assert!(!log.contains("hunter2"), "the password was logged:\n{log}");
}

#[test]
fn an_unusable_redis_url_is_a_configuration_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "rediss://:hunter2@redis:6379",
            "TLS (rediss://) is not supported",
        ),
        ("http://user:hunter2@redis:6379", "the scheme must be"),
        ("redis://:hunter2@redis:6379/x", "Invalid database number"),
    ];
    for role in [
        &["--node-id", "1", "--peers", "1=127.0.0.1:1"][..],
        &["--role", "agent", "--voters", "1=127.0.0.1:1"],
    ] {
        for (url, reason) in cases {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
                .args(["daemon", "--insecure-plaintext"])
                .args(role)
                .args([
                    "--data-dir",
                    dir.path().to_str().unwrap(),
                    "--node-name",
                    "n",
                ])
                .env("CORTEX_REDIS_URL", url)
                .env_remove("CORTEX_ADMIN_TOKEN")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(64), "{url}: {stderr}");
            assert!(stderr.contains(reason), "{url}: {stderr}");
            assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
        }
    }
}
