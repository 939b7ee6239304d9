//! Jobs that do not run to their end: dropped or wrapped up by the attempt
//! (the Job is deleted), a pod that cannot start, API errors, a node
//! without the executor, and the one test that needs a real cluster.

use std::time::Duration;

use serde_json::Value;

use crate::api::{Answer, FakeApi, Route};
use crate::support::{eventually, names, run, run_with, spec, NAMESPACE};

/// A Job whose worker started and keeps running, printing one line.
fn running_forever() -> Vec<(Route, Vec<Answer>)> {
    let n = names();
    vec![
        (Route::CreateJob, vec![Answer::Created]),
        (Route::ListPods, vec![n.ok("pods-running.json")]),
        (
            Route::PodLog,
            vec![Answer::Endless(vec![
                "2025-03-01T10:00:04Z working\n".into()
            ])],
        ),
        (Route::GetPod, vec![n.ok("pod-running.json")]),
        (Route::DeleteJob, vec![n.ok("status-deleted.json")]),
    ]
}

/// Asserts that Job `name` was deleted, with its pod in the background.
fn deleted_in_the_background(api: &FakeApi) -> bool {
    api.requests_to(Route::DeleteJob).iter().any(|r| {
        let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
        r.path == format!("/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{}", names().job)
            && body["propagationPolicy"] == "Background"
    })
}

#[tokio::test]
async fn dropping_the_attempt_deletes_the_job() {
    let api = FakeApi::start(running_forever());
    let outcome = run_with(Some(&api), spec(), Duration::from_millis(500), None).await;
    assert!(
        outcome.result.is_none(),
        "still running when dropped: {outcome:?}"
    );
    assert!(outcome.logs().contains(&"working"));
    eventually(
        "the Job is deleted with propagationPolicy Background",
        || deleted_in_the_background(&api),
    )
    .await;
}

#[tokio::test]
async fn asked_to_wrap_up_it_deletes_the_job_so_the_worker_gets_sigterm() {
    let api = FakeApi::start(running_forever());
    let outcome = run_with(
        Some(&api),
        spec(),
        Duration::from_millis(800),
        Some(Duration::from_millis(200)),
    )
    .await;
    let wrap_up = format!(
        "asked to wrap up: deleting Job {} so its worker gets SIGTERM",
        names().job
    );
    assert!(
        outcome.logs().contains(&wrap_up.as_str()),
        "{:?}",
        outcome.lines
    );
    assert!(
        deleted_in_the_background(&api),
        "deleted before the attempt let go of it"
    );
}

#[tokio::test]
async fn a_pod_that_cannot_start_fails_at_once_and_its_job_is_deleted() {
    let n = names();
    let api = FakeApi::start(vec![
        (Route::CreateJob, vec![Answer::Created]),
        (Route::ListPods, vec![n.ok("pods-image-pull-backoff.json")]),
        (Route::DeleteJob, vec![n.ok("status-deleted.json")]),
    ]);
    let outcome = run(&api, spec()).await;
    assert_eq!(
        outcome.result,
        Some(Err(format!(
            "pod {}-x7k2p cannot start: ImagePullBackOff: Back-off pulling image \"ghcr.io/acme/wroker:1.4\"",
            n.job
        )))
    );
    eventually("the Job that cannot start is deleted", || {
        deleted_in_the_background(&api)
    })
    .await;
}

#[tokio::test]
async fn api_errors_say_what_failed_and_why() {
    let n = names();
    let creating = format!("creating Job {} in namespace {NAMESPACE}", n.job);

    let forbidden = FakeApi::start(vec![(
        Route::CreateJob,
        vec![n.status(403, "status-forbidden.json")],
    )]);
    let error = run(&forbidden, spec()).await.result.unwrap().unwrap_err();
    assert_eq!(
        error,
        format!(
            "{creating}: the Kubernetes API answered 403 Forbidden: jobs.batch is forbidden: \
             User \"system:serviceaccount:cortex:cortex\" cannot create resource \"jobs\" in API \
             group \"batch\" in the namespace \"{NAMESPACE}\"; the daemon's service account needs \
             the k8s-job permissions in this namespace (Helm chart: executors.k8sJob.enabled and \
             executors.k8sJob.namespace)"
        )
    );

    let invalid = FakeApi::start(vec![(
        Route::CreateJob,
        vec![n.status(422, "status-invalid.json")],
    )]);
    let error = run(&invalid, spec()).await.result.unwrap().unwrap_err();
    assert!(
        error.starts_with(&format!(
            "{creating}: the Kubernetes API answered 422 Invalid: "
        )) && error.contains("must be less than or equal to cpu limit of 1"),
        "{error}"
    );

    let garbage = FakeApi::start(vec![(
        Route::CreateJob,
        vec![Answer::Json(201, "<html>proxy error</html>".into())],
    )]);
    let error = run(&garbage, spec()).await.result.unwrap().unwrap_err();
    assert!(error.starts_with(&format!("{creating}: ")), "{error}");
    assert!(error.len() > creating.len() + 2, "says why: {error}");
    eventually(
        "a Job whose creation was answered with garbage is deleted, in case it exists",
        || deleted_in_the_background(&garbage),
    )
    .await;

    let no_pods_api = FakeApi::start(vec![
        (Route::CreateJob, vec![Answer::Created]),
        (
            Route::ListPods,
            vec![Answer::Json(503, "upstream connect error".into())],
        ),
        (Route::DeleteJob, vec![n.ok("status-deleted.json")]),
    ]);
    let error = run(&no_pods_api, spec()).await.result.unwrap().unwrap_err();
    assert_eq!(
        error,
        "listing the Job's pods: the Kubernetes API answered 503 Failed to parse error data: \
         upstream connect error"
    );
    eventually("a Job it cannot follow is deleted", || {
        deleted_in_the_background(&no_pods_api)
    })
    .await;
}

#[tokio::test]
async fn a_node_without_a_jobs_namespace_refuses_k8s_job_attempts() {
    let outcome = run_with(None, spec(), Duration::from_secs(5), None).await;
    assert_eq!(
        outcome.result,
        Some(Err(
            "the k8s-job executor is not enabled on node k3s-worker01: start its daemon with \
             --k8s-jobs-namespace NAMESPACE (env CORTEX_K8S_JOBS_NAMESPACE; Helm chart: \
             executors.k8sJob.enabled=true)"
                .into()
        ))
    );
}

/// Runs a busybox Job printing protocol lines in a real cluster: the
/// current kubeconfig context, namespace `$CORTEX_TEST_K8S_NAMESPACE`
/// (which must exist and let the user create Jobs and read pod logs).
#[tokio::test]
#[ignore = "needs a Kubernetes cluster: set KUBECONFIG and CORTEX_TEST_K8S_NAMESPACE"]
async fn a_real_cluster_runs_a_job_to_its_result() {
    use cortex_agent::executor::{execute, Context, Events, JobSite};
    use cortex_agent::protocol::Line;
    use cortex_consensus::plan::{ExecutorSpec, TaskId};
    use cortex_consensus::run::RunId;

    let namespace = std::env::var("CORTEX_TEST_K8S_NAMESPACE").expect("CORTEX_TEST_K8S_NAMESPACE");
    let mut spec = spec();
    spec.image = "busybox:1.36".into();
    spec.command = vec![
        "sh".into(),
        "-c".into(),
        r#"echo '{"progress": 50}'; echo '{"tokens": 7}'; echo "{\"result\": \"$CORTEX_TASK_ID\"}""#
            .into(),
    ];
    spec.secret_env.clear();
    let context = Context {
        run: RunId(format!("it-{}", std::process::id())),
        task: TaskId("busybox".into()),
        ..crate::support::context()
    };
    let site = JobSite::from_environment(namespace);
    let (events, mut receiver) = Events::channel();
    let (_wrap_up, wrapping_up) = tokio::sync::watch::channel(false);
    let result = execute(
        &ExecutorSpec::K8sJob(Box::new(spec)),
        &context,
        Some(&site),
        &events,
        wrapping_up,
    )
    .await;
    drop(events);
    let mut lines = Vec::new();
    while let Some(line) = receiver.recv().await {
        lines.push(line);
    }
    assert_eq!(result, Ok(()), "{lines:?}");
    assert!(lines.contains(&Line::Tokens(7)));
    assert!(lines.contains(&Line::Result("\"busybox\"".into())));
}
