//! Running a `k8s-job` attempt the way the attempt does, through
//! `executor::execute`, and reading what it said.
// Not every test uses every part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_agent::executor::k8s_job::manifest::{attempt_key, job_name};
use cortex_agent::executor::{execute, Context, Events, JobSite};
use cortex_agent::protocol::Line;
use cortex_consensus::plan::{
    ExecutorSpec, JobResources, K8sJobSpec, OutputFormat, SecretKeyRef, TaskId,
};
use cortex_consensus::run::RunId;
use tokio::sync::watch;

use crate::api::{FakeApi, Names};

/// The namespace the daemon was given (`--k8s-jobs-namespace`).
pub const NAMESPACE: &str = "cortex-jobs";

/// The attempt every test runs.
pub fn context() -> Context {
    Context {
        run: RunId("review-1a2b3c4d".into()),
        task: TaskId("api-review".into()),
        attempt: 1,
        node: "k3s-worker01".into(),
        reserved: 10_000,
        timeout: Duration::from_secs(60),
        checkpoint: None,
    }
}

/// The names the fixtures' placeholders take for [`context`].
pub fn names() -> Names {
    Names {
        job: job_name(&context()),
        namespace: NAMESPACE.into(),
        key: attempt_key(&context()),
    }
}

/// A worker image with a command, plain env and a Secret reference.
pub fn spec() -> K8sJobSpec {
    K8sJobSpec {
        image: "ghcr.io/acme/worker:1.4".into(),
        command: vec!["review".into(), "--repo".into(), "acme/api".into()],
        args: Vec::new(),
        env: BTreeMap::from([("RUST_LOG".into(), "info".into())]),
        secret_env: BTreeMap::from([(
            "GITHUB_TOKEN".into(),
            SecretKeyRef {
                secret: "github".into(),
                key: "token".into(),
            },
        )]),
        namespace: None,
        resources: JobResources::default(),
        output: OutputFormat::Lines,
    }
}

/// How a run ended and what it said.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when it was dropped before it ended.
    pub result: Option<Result<(), String>>,
    /// Every line, in order.
    pub lines: Vec<Line>,
}

impl Outcome {
    /// The log lines.
    pub fn logs(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::Log(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Runs `spec` at `api` (or on a node without a Job site) until it ends or
/// `limit` passes (then the future is dropped, as the attempt's time limit
/// does); `wrap_up_after` asks it to wrap up, as the token cap does.
pub async fn run_with(
    api: Option<&FakeApi>,
    spec: K8sJobSpec,
    limit: Duration,
    wrap_up_after: Option<Duration>,
) -> Outcome {
    let site = api.map(|api| JobSite::with_client(api.client.clone(), NAMESPACE));
    let (events, mut receiver) = Events::channel();
    let (wrap_up, wrapping_up) = watch::channel(false);
    let executor = ExecutorSpec::K8sJob(Box::new(spec));
    let context = context();
    let work = execute(&executor, &context, site.as_ref(), &events, wrapping_up);
    let asker = async {
        match wrap_up_after {
            Some(after) => {
                tokio::time::sleep(after).await;
                let _ = wrap_up.send(true);
                std::future::pending::<()>().await
            }
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = tokio::time::timeout(limit, work) => result.ok(),
        _ = asker => unreachable!("never ends"),
    };
    drop(events);
    let mut lines = Vec::new();
    while let Some(line) = receiver.recv().await {
        lines.push(line);
    }
    Outcome { result, lines }
}

/// Runs `spec` at `api` to its end (at most 20 s).
pub async fn run(api: &FakeApi, spec: K8sJobSpec) -> Outcome {
    let outcome = run_with(Some(api), spec, Duration::from_secs(20), None).await;
    assert!(outcome.result.is_some(), "ends within 20 s: {outcome:?}");
    outcome
}

/// Waits up to 5 s for `condition`.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
