//! Jobs that run to their end: the Job that is created, the pod waited
//! for, the log read as protocol lines (or `stream-json`), and the verdict.

use cortex_agent::protocol::Line;
use cortex_consensus::plan::OutputFormat;
use serde_json::json;

use crate::api::{Answer, FakeApi, Route, UID};
use crate::support::{names, run, spec, NAMESPACE};

/// A Job that starts after a wait, prints `log`, and ends as `pod` and
/// `job` say.
fn script(log: Answer, pod: &str, job: &str) -> Vec<(Route, Vec<Answer>)> {
    let n = names();
    vec![
        (Route::CreateJob, vec![Answer::Created]),
        (Route::ListPods, vec![n.ok("pods-pending.json")]),
        (Route::WatchPods, vec![n.stream("pods-watch-started.jsonl")]),
        (Route::PodLog, vec![log]),
        (Route::GetPod, vec![n.ok(pod)]),
        (Route::GetJob, vec![n.ok(job)]),
    ]
}

#[tokio::test]
async fn a_job_that_succeeds_reports_its_lines_and_stays_for_its_ttl() {
    let n = names();
    let api = FakeApi::start(script(
        n.stream("log-worker.txt"),
        "pod-succeeded.json",
        "job-complete.json",
    ));
    let outcome = run(&api, spec()).await;
    assert_eq!(outcome.result, Some(Ok(())), "{:?}", outcome.lines);

    let pod = format!("{}-x7k2p", n.job);
    let expected = [
        Line::Log(format!("created Job {} in namespace {NAMESPACE}", n.job)),
        Line::Log(format!("pod {pod}: ContainerCreating")),
        Line::Log(format!("pod {pod} started; following its log")),
        Line::Log("starting review of acme/api".into()),
        Line::Progress {
            percent: 50,
            message: Some("halfway".into()),
        },
        Line::Tokens(150),
        Line::Checkpoint(r#"{"files":12}"#.into()),
        Line::Result(r#"{"findings":2}"#.into()),
    ];
    assert_eq!(outcome.lines, expected);

    let job = api.posted_job();
    assert_eq!(job["metadata"]["name"], n.job.as_str());
    assert_eq!(
        job["metadata"]["namespace"], NAMESPACE,
        "the daemon's namespace"
    );
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 60);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["command"],
        json!(["review", "--repo", "acme/api"])
    );
    let env = container["env"].as_array().unwrap();
    let secret = env.iter().find(|e| e["name"] == "GITHUB_TOKEN").unwrap();
    assert_eq!(
        secret["valueFrom"]["secretKeyRef"],
        json!({"name": "github", "key": "token"})
    );
    let task = env.iter().find(|e| e["name"] == "CORTEX_TASK_ID").unwrap();
    assert_eq!(task["value"], "api-review");

    let requests = api.requests();
    let paths: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let jobs = format!("/apis/batch/v1/namespaces/{NAMESPACE}/jobs");
    let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    assert_eq!(
        paths,
        [
            format!("POST {jobs}"),
            format!("GET {pods}"),
            format!("GET {pods}"),
            format!("GET {pods}/{pod}/log"),
            format!("GET {pods}/{pod}"),
            format!("GET {jobs}/{}", n.job),
        ],
        "no DELETE: a finished Job is left to its ttlSecondsAfterFinished"
    );
    let selector = format!("labelSelector=batch.kubernetes.io%2Fcontroller-uid%3D{UID}");
    assert!(
        requests[1].query.contains(&selector),
        "{}",
        requests[1].query
    );
    assert!(
        requests[2].query.contains("watch=true")
            && requests[2].query.contains("resourceVersion=48213"),
        "the watch starts where the list ended: {}",
        requests[2].query
    );
    assert_eq!(
        requests[3].query.trim_start_matches('&'),
        "container=worker&follow=true&timestamps=true"
    );
}

#[tokio::test]
async fn a_failed_job_fails_the_attempt_with_its_reason_and_exit_code() {
    let n = names();
    let api = FakeApi::start(script(
        Answer::Stream(vec![
            "2025-03-01T10:00:04Z cannot reach the repository\n".into()
        ]),
        "pod-failed.json",
        "job-failed.json",
    ));
    let outcome = run(&api, spec()).await;
    assert_eq!(
        outcome.result,
        Some(Err(format!(
            "Job {} failed: BackoffLimitExceeded (Job has reached the specified backoff limit); \
             container worker exited with code 3 (Error)",
            n.job
        )))
    );
    assert!(outcome.logs().contains(&"cannot reach the repository"));
    assert!(
        api.requests_to(Route::DeleteJob).is_empty(),
        "kept for kubectl logs"
    );
}

#[tokio::test]
async fn a_log_that_breaks_off_is_read_on_without_repeating_lines() {
    let n = names();
    let first = vec![
        "2025-03-01T10:00:03.5Z {\"progress\": 10}\n".to_string(),
        "2025-03-01T10:00:04.25Z {\"tokens\": 40}\n".to_string(),
    ];
    let mut again = first.clone();
    again.push("2025-03-01T10:00:04.25Z {\"tokens\": 2}\n".into());
    again.push("2025-03-01T10:00:09Z {\"result\": \"done\"}\n".into());
    let api = FakeApi::start(vec![
        (Route::CreateJob, vec![Answer::Created]),
        (Route::ListPods, vec![n.ok("pods-running.json")]),
        (
            Route::PodLog,
            vec![Answer::Stream(first), Answer::Stream(again)],
        ),
        (
            Route::GetPod,
            vec![n.ok("pod-running.json"), n.ok("pod-succeeded.json")],
        ),
        (Route::GetJob, vec![n.ok("job-complete.json")]),
    ]);
    let outcome = run(&api, spec()).await;
    assert_eq!(outcome.result, Some(Ok(())));
    let tokens: Vec<&Line> = outcome
        .lines
        .iter()
        .filter(|l| matches!(l, Line::Tokens(_) | Line::Result(_)))
        .collect();
    assert_eq!(
        tokens,
        [
            &Line::Tokens(40),
            &Line::Tokens(2),
            &Line::Result("\"done\"".into())
        ],
        "each line once"
    );
    let logs = api.requests_to(Route::PodLog);
    assert_eq!(logs.len(), 2);
    assert!(
        logs[1].query.contains("sinceTime=2025-03-01T10%3A00%3A04Z"),
        "from the second of the last line read: {}",
        logs[1].query
    );
}

#[tokio::test]
async fn stream_json_logs_are_read_like_a_process_workers_stdout() {
    let n = names();
    let api = FakeApi::start(script(
        n.stream("log-claude-stream-json.txt"),
        "pod-succeeded.json",
        "job-complete.json",
    ));
    let mut spec = spec();
    spec.output = OutputFormat::StreamJson;
    spec.namespace = Some("team-a".into());
    let outcome = run(&api, spec).await;
    // The plan's namespace wins over the daemon's; this fake serves any.
    assert_eq!(api.posted_job()["metadata"]["namespace"], "team-a");
    assert_eq!(outcome.result, Some(Ok(())));
    let worker: Vec<&Line> = outcome.lines.iter().skip(3).collect();
    assert_eq!(
        worker,
        [
            &Line::Log("claude: init".into()),
            &Line::Tokens(1040),
            &Line::Log("Looking at the diff.".into()),
            &Line::Result("\"Two findings.\"".into()),
        ]
    );
}

#[tokio::test]
async fn a_job_this_attempt_made_before_is_followed_not_duplicated() {
    let n = names();
    let api = FakeApi::start(vec![
        (
            Route::CreateJob,
            vec![n.status(409, "status-already-exists.json")],
        ),
        // Read when the create conflicts, then when the log is over.
        (
            Route::GetJob,
            vec![n.ok("job-running.json"), n.ok("job-complete.json")],
        ),
        (Route::ListPods, vec![n.ok("pods-running.json")]),
        (Route::PodLog, vec![n.stream("log-worker.txt")]),
        (Route::GetPod, vec![n.ok("pod-succeeded.json")]),
    ]);
    let outcome = run(&api, spec()).await;
    assert_eq!(outcome.result, Some(Ok(())));
    assert_eq!(
        outcome.logs()[0],
        format!(
            "Job {} in namespace {NAMESPACE} exists for this attempt already; following it",
            n.job
        )
    );
    assert!(outcome
        .lines
        .contains(&Line::Result(r#"{"findings":2}"#.into())));
    assert_eq!(api.requests_to(Route::CreateJob).len(), 1);

    let foreign = FakeApi::start(vec![
        (
            Route::CreateJob,
            vec![n.status(409, "status-already-exists.json")],
        ),
        (Route::GetJob, vec![n.ok("job-foreign.json")]),
    ]);
    let outcome = run(&foreign, spec()).await;
    let error = outcome.result.unwrap().unwrap_err();
    assert!(
        error.ends_with("a Job of that name exists that Cortex did not make for attempt review-1a2b3c4d/api-review/1"),
        "{error}"
    );
    assert!(
        foreign.requests_to(Route::DeleteJob).is_empty(),
        "not ours to delete"
    );
}
