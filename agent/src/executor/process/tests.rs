use super::*;

fn job(script: &str, reserved: u64, timeout_ms: u64) -> Job {
    Job {
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        workdir: None,
        reserved,
        timeout: Duration::from_millis(timeout_ms),
    }
}

async fn run_job(job: Job) -> (AttemptReport, Vec<Progress>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_cancel, cancelled) = watch::channel(false);
    let report = run(job, tx, cancelled).await;
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (report, progress)
}

#[tokio::test]
async fn completed_worker_reports_tokens_result_and_progress() {
    let script = r#"
        echo "$GREETING from a worker"
        echo '{"progress": 50, "message": "halfway"}'
        echo '{"tokens": {"input": 100, "output": 20}}'
        echo 'not json at all {'
        echo '{"tokens": 30}'
        echo '{"checkpoint": {"step": 2}}'
        echo '{"result": {"ok": true}}'
    "#;
    let (report, progress) = run_job(job(script, 1_000, 10_000)).await;
    assert_eq!(
        report,
        AttemptReport::Completed {
            tokens_used: 150,
            result: Some(r#"{"ok":true}"#.into()),
            handoffs: vec![]
        }
    );
    assert!(progress
        .iter()
        .any(|p| p.percent == 50 && p.message.as_deref() == Some("halfway")));
    assert!(progress
        .iter()
        .any(|p| p.checkpoint.as_deref() == Some(r#"{"step":2}"#)));
}

#[tokio::test]
async fn failing_worker_reports_its_exit_and_last_output() {
    let (report, _) = run_job(job("echo boom >&2; exit 3", 1_000, 10_000)).await;
    match report {
        AttemptReport::Failed { error, .. } => {
            assert!(error.contains("3") && error.contains("boom"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn time_limit_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    // A grandchild that would write the marker if it outlived the kill.
    let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
    let started = std::time::Instant::now();
    let (report, _) = run_job(job(&script, 1_000, 300)).await;
    assert_eq!(report, AttemptReport::TimedOut { tokens_used: 0 });
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!marker.exists(), "a process of the attempt outlived it");
}

#[tokio::test]
async fn token_cap_stops_the_worker_and_keeps_its_partial_result() {
    let script = r#"
        echo '{"result": {"partial": true}}'
        echo '{"tokens": 600}'
        echo '{"tokens": 600}'
        sleep 30
    "#;
    let (report, _) = run_job(job(script, 1_000, 20_000)).await;
    assert_eq!(
        report,
        AttemptReport::BudgetExceeded {
            tokens_used: 1_200,
            partial_result: Some(r#"{"partial":true}"#.into())
        }
    );
}

#[tokio::test]
async fn cancellation_stops_the_worker() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let (cancel, cancelled) = watch::channel(false);
    let handle = tokio::spawn(run(job("sleep 30", 1_000, 60_000), tx, cancelled));
    tokio::time::sleep(Duration::from_millis(200)).await;
    cancel.send(true).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(report, AttemptReport::Failed { ref error, .. } if error == "cancelled"));
}

#[tokio::test]
async fn a_missing_program_is_a_failure_not_a_crash() {
    let mut j = job("", 1, 1_000);
    j.command = vec!["/nonexistent/worker".into()];
    let (report, _) = run_job(j).await;
    assert!(
        matches!(report, AttemptReport::Failed { ref error, .. } if error.contains("cannot start"))
    );
}
