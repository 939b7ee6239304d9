use std::collections::BTreeMap;
use std::time::Duration;

use cortex_consensus::plan::{OutputFormat, TaskId};
use cortex_consensus::run::RunId;
use tokio::sync::watch;

use super::*;
use crate::protocol::MAX_LINE_BYTES;

fn context() -> Context {
    Context {
        run: RunId("r1".into()),
        task: TaskId("t1".into()),
        attempt: 2,
        node: "n1".into(),
        reserved: 1_000,
        timeout: Duration::from_secs(10),
        checkpoint: Some(r#"{"page":3}"#.into()),
    }
}

fn spec(script: &str) -> ProcessSpec {
    ProcessSpec {
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
        workdir: None,
        output: OutputFormat::Lines,
    }
}

async fn run_spec(spec: ProcessSpec) -> (Result<(), String>, Vec<Line>) {
    let (events, mut rx) = Events::channel();
    let (_wrap, wrap_up) = watch::channel(false);
    let result = run(&spec, &context(), &events, wrap_up).await;
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    (result, lines)
}

#[tokio::test]
async fn output_becomes_protocol_lines_and_env_reaches_the_worker() {
    let script = r#"
        echo "$GREETING from attempt $CORTEX_ATTEMPT of $CORTEX_TASK_ID in $CORTEX_RUN_ID"
        echo "resuming from $CORTEX_CHECKPOINT with $CORTEX_TOKEN_BUDGET tokens"
        echo '{"progress": 50, "message": "halfway"}'
        echo '{"tokens": {"input": 100, "output": 20}}'
        echo 'not json at all {'
        echo oops >&2
        echo '{"result": {"ok": true}}'
    "#;
    let (result, lines) = run_spec(spec(script)).await;
    assert_eq!(result, Ok(()));
    assert!(lines.contains(&Line::Log("hi from attempt 2 of t1 in r1".into())));
    assert!(lines.contains(&Line::Log(
        r#"resuming from {"page":3} with 1000 tokens"#.into()
    )));
    assert!(lines.contains(&Line::Tokens(120)));
    assert!(lines.contains(&Line::Log("oops".into())));
    assert!(lines.contains(&Line::Result(r#"{"ok":true}"#.into())));
}

#[tokio::test]
async fn failing_worker_reports_its_exit_status() {
    let (result, lines) = run_spec(spec("echo boom >&2; exit 3")).await;
    let error = result.expect_err("exit 3 is a failure");
    assert!(error.contains('3'), "{error}");
    assert!(lines.contains(&Line::Log("boom".into())));
}

#[tokio::test]
async fn missing_program_is_a_clear_failure() {
    let mut missing = spec("");
    missing.command = vec!["/nonexistent/worker".into()];
    let (result, _) = run_spec(missing).await;
    let error = result.expect_err("cannot start");
    assert!(error.contains("/nonexistent/worker"), "{error}");
}

#[tokio::test]
async fn wrap_up_sends_sigterm_and_the_worker_can_answer() {
    let script = r#"
        trap 'echo "{\"result\": {\"partial\": true}}"; exit 0' TERM
        echo ready
        while true; do sleep 0.05; done
    "#;
    let (events, mut rx) = Events::channel();
    let (wrap, wrap_up) = watch::channel(false);
    let spec = spec(script);
    let context = context();
    let work = run(&spec, &context, &events, wrap_up);
    tokio::pin!(work);
    // Wait for the worker to be up, then ask it to wrap up.
    loop {
        tokio::select! {
            Some(line) = rx.recv() => if line == Line::Log("ready".into()) { break },
            _ = &mut work => panic!("worker ended early"),
        }
    }
    wrap.send(true).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("the worker exits on SIGTERM");
    assert_eq!(result, Ok(()));
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    assert!(lines.contains(&Line::Result(r#"{"partial":true}"#.into())));
}

#[tokio::test]
async fn dropping_the_work_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild-alive");
    let script = format!(
        "(while true; do touch {m}; sleep 0.05; done) & echo started; wait",
        m = marker.display()
    );
    let (events, mut rx) = Events::channel();
    let (_wrap, wrap_up) = watch::channel(false);
    let spec = spec(&script);
    let context = context();
    {
        let work = run(&spec, &context, &events, wrap_up);
        tokio::pin!(work);
        loop {
            tokio::select! {
                Some(line) = rx.recv() => if line == Line::Log("started".into()) { break },
                _ = &mut work => panic!("worker ended early"),
            }
        }
    }
    // The grandchild is gone: the marker stops being touched.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = std::fs::remove_file(&marker);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!marker.exists(), "a process of the group survived");
}

#[tokio::test]
async fn endless_line_is_cut_not_buffered_forever() {
    let script = "head -c 300000 /dev/zero | tr '\\0' 'x'; echo; echo after";
    let (result, lines) = run_spec(spec(script)).await;
    assert_eq!(result, Ok(()));
    assert!(lines.iter().all(|l| match l {
        Line::Log(text) => text.len() <= MAX_LINE_BYTES + 1,
        _ => true,
    }));
    assert!(lines.contains(&Line::Log("after".into())));
}

#[tokio::test]
async fn the_daemons_own_settings_do_not_reach_the_worker() {
    // This test binary's process is the "daemon" here (nextest runs each
    // test in its own process, so setting the variable races nothing).
    std::env::set_var("CORTEX_REDIS_URL", "redis://:hunter2@redis:6379");
    // Nor credentials the daemon holds for other attempts.
    std::env::set_var("ANTHROPIC_API_KEY", "sk-for-someone-else");
    let (result, lines) = run_spec(spec(
        "echo \"redis=${CORTEX_REDIS_URL:-absent} key=${ANTHROPIC_API_KEY:-absent} run=$CORTEX_RUN_ID greeting=$GREETING path=${PATH:+set}\"",
    ))
    .await;
    assert_eq!(result, Ok(()));
    assert!(
        lines.contains(&Line::Log(
            "redis=absent key=absent run=r1 greeting=hi path=set".into()
        )),
        "{lines:?}"
    );
}

#[tokio::test]
async fn referenced_secrets_reach_only_their_attempt_and_are_redacted_from_its_output() {
    std::env::set_var("WORKER_TEST_TOKEN", "tok-env-0123456789");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, "key-file-9876543210\n").unwrap();
    let mut spec = spec(
        r#"
        echo "token=$TOKEN key=$KEY"
        echo "$TOKEN" >&2
        echo "{\"progress\": 10, \"message\": \"using $KEY\"}"
        echo "{\"result\": {\"echo\": \"$TOKEN\"}}"
        test "$TOKEN" = tok-env-0123456789 && test "$KEY" = key-file-9876543210
    "#,
    );
    spec.env
        .insert("TOKEN".into(), "${env:WORKER_TEST_TOKEN}".into());
    spec.env.insert(
        "KEY".into(),
        format!("${{file:{}}}", file.to_str().unwrap()),
    );
    let (result, lines) = run_spec(spec).await;
    assert_eq!(result, Ok(()), "the worker saw the values: {lines:?}");
    let reported = format!("{lines:?}");
    assert!(!reported.contains("0123456789"), "{reported}");
    assert!(!reported.contains("9876543210"), "{reported}");
    assert!(lines.contains(&Line::Log("token=[redacted] key=[redacted]".into())));
    assert!(lines.contains(&Line::Result(r#"{"echo":"[redacted]"}"#.into())));

    // A reference to a secret this node does not have fails the attempt,
    // naming the reference, before anything runs.
    let mut missing = self::spec("echo ran");
    missing
        .env
        .insert("TOKEN".into(), "${env:WORKER_TEST_UNSET}".into());
    let (result, lines) = run_spec(missing).await;
    assert!(result.unwrap_err().contains("WORKER_TEST_UNSET"));
    assert!(lines.is_empty(), "{lines:?}");
}
