//! Unit tests of the pure parts: the Job's name, labels and manifest, what
//! a pod's status and a Job's conditions say, and where a reopened log
//! resumes. The API conversation is tested in `agent/tests/k8s_job.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_consensus::plan::{
    JobResources, K8sJobSpec, OutputFormat, ResourceAmounts, SecretKeyRef, TaskId,
};
use cortex_consensus::run::RunId;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::logs::LogPosition;
use super::manifest::{job, job_name, label_value};
use super::outcome::{container_exit, ended};
use super::pod::{state, PodState};
use crate::executor::Context;

fn context(run: &str, task: &str, attempt: u32) -> Context {
    Context {
        run: RunId(run.into()),
        task: TaskId(task.into()),
        attempt,
        node: "k3s-worker01".into(),
        reserved: 5_000,
        timeout: Duration::from_millis(90_500),
        checkpoint: Some(r#"{"step":2}"#.into()),
    }
}

fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[test]
fn job_names_are_dns_labels_unique_per_attempt() {
    let name = job_name(&context("demo-1a2b3c4d", "scan", 1));
    assert!(name.starts_with("cortex-demo-1a2b3c4d-scan-1-"), "{name}");
    assert_eq!(
        name,
        job_name(&context("demo-1a2b3c4d", "scan", 1)),
        "stable"
    );
    assert_ne!(name, job_name(&context("demo-1a2b3c4d", "scan", 2)));
    let long = "a".repeat(63);
    let names = [
        job_name(&context(&long, &long, 4_000_000_000)),
        job_name(&context(&long, &format!("{}b", "a".repeat(62)), 1)),
        job_name(&context("run", "Fix_Deps.v2", 3)),
        job_name(&context("run", "fix-deps-v2", 3)),
        job_name(&context("run", "__", 1)),
    ];
    for name in &names {
        assert!(is_dns_label(name), "{name:?} is not a DNS label");
    }
    assert!(
        names[2].starts_with("cortex-run-fix-deps-v2-3-"),
        "{}",
        names[2]
    );
    assert_ne!(names[2], names[3], "lowercasing must not merge attempts");
    assert_ne!(names[0], names[1], "cutting must not merge attempts");
}

#[test]
fn label_values_fit_the_label_rule() {
    assert_eq!(label_value("demo-1a2b3c4d"), "demo-1a2b3c4d");
    assert_eq!(label_value("_task."), "task");
    assert_eq!(label_value("a b/c"), "a-b-c");
    let long = label_value(&format!("{}x", "r".repeat(70)));
    assert!(long.len() <= 63, "{long}");
    assert_ne!(long, label_value(&format!("{}y", "r".repeat(70))));
}

fn spec() -> K8sJobSpec {
    K8sJobSpec {
        image: "ghcr.io/acme/worker:1.4".into(),
        command: vec!["worker".into()],
        args: Vec::new(),
        env: BTreeMap::from([
            ("RUST_LOG".into(), "info".into()),
            ("CORTEX_ATTEMPT".into(), "99".into()),
        ]),
        secret_env: BTreeMap::from([(
            "ANTHROPIC_API_KEY".into(),
            SecretKeyRef {
                secret: "llm-keys".into(),
                key: "anthropic".into(),
            },
        )]),
        namespace: None,
        resources: JobResources {
            requests: ResourceAmounts {
                cpu: Some("250m".into()),
                memory: None,
            },
            limits: ResourceAmounts {
                cpu: None,
                memory: Some("1Gi".into()),
            },
        },
        output: OutputFormat::Lines,
    }
}

fn manifest(spec: &K8sJobSpec) -> Value {
    serde_json::to_value(job(spec, &context("demo-1a2b", "scan", 2), "cortex-jobs")).unwrap()
}

#[test]
fn the_job_runs_once_within_the_attempts_time_limit() {
    let job = manifest(&spec());
    assert_eq!(job["metadata"]["namespace"], "cortex-jobs");
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "cortex");
    assert_eq!(labels["cortex.dev/run"], "demo-1a2b");
    assert_eq!(labels["cortex.dev/task"], "scan");
    assert_eq!(labels["cortex.dev/attempt"], "2");
    assert_eq!(
        job["metadata"]["annotations"]["cortex.dev/attempt-key"],
        "demo-1a2b/scan/2"
    );
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 91, "90.5 s rounded up");
    assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
    assert_eq!(spec["template"]["metadata"]["labels"], *labels);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
    assert_eq!(container["name"], "worker");
    assert_eq!(container["image"], "ghcr.io/acme/worker:1.4");
    assert_eq!(container["command"], json!(["worker"]));
    assert!(container.get("args").is_none(), "the image's CMD stays");
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"], json!({"drop": ["ALL"]}));
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}})
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp");
    assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "1Gi");
}

#[test]
fn the_worker_gets_the_plans_env_then_the_attempts() {
    let job = manifest(&spec());
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = env.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "HOME",
            "RUST_LOG",
            "ANTHROPIC_API_KEY",
            "CORTEX_RUN_ID",
            "CORTEX_TASK_ID",
            "CORTEX_ATTEMPT",
            "CORTEX_NODE",
            "CORTEX_TOKEN_BUDGET",
            "CORTEX_TIMEOUT_SECONDS",
            "CORTEX_CHECKPOINT"
        ],
        "each once; the plan's CORTEX_ATTEMPT gives way to the attempt's"
    );
    let by_name = |name: &str| env.iter().find(|e| e["name"] == name).unwrap().clone();
    assert_eq!(by_name("HOME")["value"], "/tmp");
    assert_eq!(by_name("CORTEX_ATTEMPT")["value"], "2");
    assert_eq!(by_name("CORTEX_CHECKPOINT")["value"], r#"{"step":2}"#);
    assert_eq!(
        by_name("ANTHROPIC_API_KEY"),
        json!({"name": "ANTHROPIC_API_KEY",
               "valueFrom": {"secretKeyRef": {"name": "llm-keys", "key": "anthropic"}}}),
        "the Secret is named, its value never read"
    );
    let mut plain = spec();
    plain.env.insert("HOME".into(), "/work".into());
    plain.command.clear();
    plain.resources = JobResources::default();
    let job = manifest(&plain);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let homes: Vec<&Value> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "HOME")
        .collect();
    assert_eq!(homes.len(), 1);
    assert_eq!(homes[0]["value"], "/work");
    assert!(container.get("command").is_none(), "the image's entrypoint");
    assert!(container.get("resources").is_none());
}

fn pod(status: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": "job-x1"}, "status": status})).unwrap()
}

fn waiting(reason: &str, message: &str) -> Pod {
    pod(json!({"phase": "Pending", "containerStatuses": [{
        "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}}}]}))
}

#[test]
fn pod_states() {
    assert_eq!(state(&pod(json!({"phase": "Running"}))), PodState::Started);
    assert_eq!(state(&pod(json!({"phase": "Failed"}))), PodState::Started);
    assert_eq!(
        state(&pod(json!({"phase": "Pending"}))),
        PodState::Waiting(None)
    );
    assert_eq!(
        state(&waiting("ContainerCreating", "")),
        PodState::Waiting(Some("pod job-x1: ContainerCreating: ".into()))
    );
    assert_eq!(
        state(&waiting(
            "ImagePullBackOff",
            "Back-off pulling image \"ghcr.io/acme/nope:1\""
        )),
        PodState::CannotStart(
            "pod job-x1 cannot start: ImagePullBackOff: Back-off pulling image \"ghcr.io/acme/nope:1\""
                .into()
        )
    );
    assert!(matches!(
        state(&waiting("CreateContainerConfigError", "secret \"llm-keys\" not found")),
        PodState::CannotStart(why) if why.contains("secret \"llm-keys\" not found")
    ));
    let unschedulable = pod(json!({"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient memory."}]}));
    assert_eq!(
        state(&unschedulable),
        PodState::Waiting(Some(
            "pod job-x1 not scheduled yet: 0/3 nodes are available: 3 Insufficient memory.".into()
        ))
    );
}

fn job_with(conditions: Value) -> Job {
    serde_json::from_value(
        json!({"metadata": {"name": "job-x"}, "status": {"conditions": conditions}}),
    )
    .unwrap()
}

#[test]
fn job_conditions_say_how_it_ended() {
    assert_eq!(ended(&job_with(json!([]))), None);
    assert_eq!(
        ended(&job_with(json!([{"type": "Complete", "status": "True"}]))),
        Some(Ok(()))
    );
    assert_eq!(
        ended(&job_with(json!([{"type": "Failed", "status": "False"}]))),
        None,
        "a condition counts only when true"
    );
    assert_eq!(
        ended(&job_with(
            json!([{"type": "FailureTarget", "status": "True",
            "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}])
        )),
        Some(Err(
            "Job job-x failed: DeadlineExceeded (Job was active longer than specified deadline)"
                .into()
        ))
    );
    let killed = pod(json!({"phase": "Failed", "containerStatuses": [{
        "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}));
    assert_eq!(
        container_exit(&killed).as_deref(),
        Some("container worker exited with code 137 (OOMKilled)")
    );
    assert_eq!(container_exit(&pod(json!({"phase": "Running"}))), None);
}

#[test]
fn a_reopened_log_skips_what_was_read() {
    let mut position = LogPosition::default();
    assert_eq!(position.reopen(), None, "from the start");
    let first = [
        "2025-03-01T10:00:00.100000000Z one",
        "2025-03-01T10:00:00.900000000Z two",
        "2025-03-01T10:00:00.900000000Z three",
        "the rest of a line cut for length",
    ];
    let read: Vec<_> = first.iter().filter_map(|l| position.take(l)).collect();
    assert_eq!(
        read,
        ["one", "two", "three", "the rest of a line cut for length"]
    );
    let since = position.reopen().unwrap();
    assert_eq!(
        since.to_string(),
        "2025-03-01T10:00:00Z",
        "whole seconds, rounded down"
    );
    let again = [
        "2025-03-01T10:00:00.100000000Z one",
        "2025-03-01T10:00:00.900000000Z two",
        "2025-03-01T10:00:00.900000000Z three",
        "2025-03-01T10:00:00.900000000Z four",
        "2025-03-01T10:00:01.5Z",
        "2025-03-01T10:00:02Z six",
    ];
    let read: Vec<_> = again.iter().filter_map(|l| position.take(l)).collect();
    assert_eq!(read, ["four", "", "six"]);
}
