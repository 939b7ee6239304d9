//! A run's events over SSE from a real `cortex dev` (three voters, two
//! agents, one process): the stream opens with a snapshot, carries every
//! change in log order plus the agents' live worker activity, ends after
//! `run.finished`, resumes from `Last-Event-ID` without loss or repeats,
//! and refuses bad input. `cortex run watch` draws it and prints the report.

use cortex_chaos::ports::free_consecutive_ports;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

const TOKEN: &str = "run-events-test-token-0123456789";

/// The steps a worker prints, slowly enough to watch.
const PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: watched }
spec:
  budget: { total: 20000, emergencyReserve: 0 }
  masters:
    security: { personal: 1000, workers: 8000 }
    testing: { personal: 1000, workers: 8000 }
  tasks:
    - id: scan
      master: security
      worker: scan
      budget: 1000
      executor: { process: { command: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo \"{\\\"progress\\\": $((i*15)), \\\"message\\\": \\\"step $i\\\"}\"; sleep 0.4; done; echo '{\"tokens\": 25}'"] } }
    - id: test
      master: testing
      worker: test
      budget: 1000
      dependsOn: [scan]
      executor: { process: { command: ["sh", "-c", "echo '{\"progress\": 50, \"message\": \"testing\"}'; sleep 0.5; echo '{\"tokens\": 5}'"] } }
"#;

struct Dev {
    child: Child,
    /// Voter `i` (from 1) serves its API on `api_port + i - 1`.
    api_port: u16,
    _dir: tempfile::TempDir,
}

impl Dev {
    fn api(&self, voter: u16) -> String {
        format!("http://127.0.0.1:{}", self.api_port + voter - 1)
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_dev() -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let (api, raft) = (
        free_consecutive_ports(5).unwrap(),
        free_consecutive_ports(3).unwrap(),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["dev", "--agents", "2"])
        .args([
            "--api-port",
            &api.to_string(),
            "--raft-port",
            &raft.to_string(),
        ])
        .args(["--data-dir", dir.path().join("dev").to_str().unwrap()])
        .env("CORTEX_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dev = Dev {
        child,
        api_port: api,
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http.get(format!("{}/readyz", dev.api(1))).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return dev;
        }
        assert!(Instant::now() < deadline, "cortex dev not ready in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn submit(dev: &Dev) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/runs", dev.api(1)))
        .bearer_auth(TOKEN)
        .body(PLAN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id"].as_str().unwrap().to_string()
}

/// One SSE frame.
#[derive(Debug, Clone)]
struct Frame {
    event: String,
    id: Option<String>,
    data: Value,
}

/// Reads frames from `url` until the server ends the stream or `stop`
/// says so.
async fn read_frames(
    url: &str,
    last_event_id: Option<&str>,
    stop: impl Fn(&Frame) -> bool,
) -> Vec<Frame> {
    // A voter answers from its own applied state, which may trail the one
    // that took the run by a few entries: 404 until it has the run.
    let applied_by = Instant::now() + Duration::from_secs(10);
    let mut response = loop {
        let mut request = reqwest::Client::new().get(url).bearer_auth(TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        if response.status() != StatusCode::NOT_FOUND || Instant::now() > applied_by {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut frames = Vec::new();
    let mut buffer = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .expect("the stream stalled")
            .unwrap();
        let Some(chunk) = chunk else {
            return frames;
        };
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut frame = Frame {
                event: "message".into(),
                id: None,
                data: Value::Null,
            };
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    frame.event = v.into();
                } else if let Some(v) = line.strip_prefix("id: ") {
                    frame.id = Some(v.into());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_string());
                }
            }
            let Some(data) = data else { continue };
            frame.data = serde_json::from_str(&data).unwrap();
            let done = stop(&frame);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }
}

/// `(index, n)` of an event id, for ordering.
fn position(id: &str) -> (u64, u32) {
    match id.split_once('.') {
        Some((i, n)) => (i.parse().unwrap(), n.parse().unwrap()),
        None => (id.parse().unwrap(), u32::MAX),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_events_stream_live_resume_and_end() {
    let dev = start_dev().await;
    let run = submit(&dev).await;
    // Another voter than the one that took the run: every voter serves
    // the same stream.
    let url = format!("{}/v1/runs/{run}/events", dev.api(2));

    // First connection: up to the first progress of `scan`, then hang up.
    let first = read_frames(&url, None, |f| f.event == "attempt.progress").await;
    assert_eq!(first[0].event, "snapshot", "{first:?}");
    assert_eq!(first[0].data["run"]["id"], run.as_str());
    let last = first.iter().rev().find_map(|f| f.id.clone()).unwrap();

    // Resume: no snapshot, nothing seen twice, everything to the end.
    let rest = read_frames(&url, Some(&last), |_| false).await;
    assert_ne!(rest[0].event, "snapshot", "resumed, not reloaded: {rest:?}");
    let all: Vec<&Frame> = first.iter().chain(&rest).collect();
    let ids: Vec<(u64, u32)> = all
        .iter()
        .filter_map(|f| f.id.as_deref())
        .map(position)
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not increasing: {ids:?}"
    );
    assert_eq!(rest.last().unwrap().event, "run.finished");
    assert_eq!(rest.last().unwrap().data["status"], "completed");

    let kinds: BTreeSet<&str> = all.iter().map(|f| f.event.as_str()).collect();
    for kind in [
        "attempt.started",
        "attempt.launched",
        "attempt.progress",
        "attempt.ended",
        "task.state",
        "ledger",
        "run.finished",
        "worker.activity",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    for frame in &all {
        assert_eq!(frame.data["v"], 1);
        if frame.event == "worker.activity" {
            assert!(frame.id.is_none(), "activity is not replayable");
            assert!(frame.data["origin"]
                .as_str()
                .unwrap()
                .starts_with("k3s-worker0"));
        } else if frame.event != "snapshot" {
            assert_eq!(frame.data["run"], run.as_str(), "{frame:?}");
        }
    }
    // Live activity arrived while `scan` ran, with its messages.
    assert!(all.iter().any(|f| f.event == "worker.activity"
        && f.data["task"] == "scan"
        && f.data["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("step "))));
    // The ledger settled what the workers reported.
    let spent: u64 = all
        .iter()
        .filter(|f| f.event == "ledger")
        .fold(std::collections::BTreeMap::new(), |mut by, f| {
            by.insert(
                f.data["master"].as_str().unwrap().to_string(),
                f.data["spent"].as_u64().unwrap(),
            );
            by
        })
        .values()
        .sum();
    assert_eq!(spent, 30);

    // A stream of a finished run: the snapshot, then the end.
    let ended = read_frames(&url, None, |_| false).await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].data["run"]["status"], "completed");
    // Resuming from the log's start replays the run from the voter's
    // memory (a position it no longer holds would reload the snapshot).
    let replayed = read_frames(&url, Some("1.0"), |_| false).await;
    assert_eq!(replayed[0].event, "run.submitted");
    assert_eq!(replayed.last().unwrap().event, "run.finished");

    // Bad input changes nothing and says why.
    let http = reqwest::Client::new();
    let bad = http
        .get(&url)
        .bearer_auth(TOKEN)
        .header("last-event-id", "12.x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("INDEX.N"));
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = http
        .get(format!("{}/v1/runs/no-such-run/events", dev.api(1)))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // `cortex run watch` draws the finished run and prints its report.
    let watch = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["run", "watch", &run, "--api", &dev.api(3)])
        .env("CORTEX_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&watch.stdout);
    assert!(
        watch.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&watch.stderr)
    );
    assert!(
        out.contains("security-master      [████████████████████] 100%"),
        "{out}"
    );
    assert!(
        out.contains("tokens 30 spent + 0 reserved of 20000"),
        "{out}"
    );
    assert!(out.contains("Execution Report"), "{out}");
}
