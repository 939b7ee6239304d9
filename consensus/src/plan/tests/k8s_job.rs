//! The `k8s-job` executor: what a plan may say, its defaults, and every
//! bad input named with its path, at submission and again on apply.

use serde_json::{json, Value};

use super::{assert_problem, parse_both, problems, rejects, task, with};
use crate::plan::executor::kube_syntax::{image_problem, quantity_problem};
use crate::plan::{ExecutorSpec, K8sJobSpec, OutputFormat, ResourceAmounts, SecretKeyRef};

/// `base()` with task 0 running `job` as a `k8s-job`.
fn job_plan(job: Value) -> Value {
    with(|p| task(p, 0)["executor"] = json!({ "k8s-job": job }))
}

fn decoded(job: Value) -> K8sJobSpec {
    let spec = parse_both(&job_plan(job)).unwrap_or_else(|e| panic!("{e}"));
    match &spec.tasks[0].executor {
        ExecutorSpec::K8sJob(job) => (**job).clone(),
        other => panic!("expected a k8s-job executor, got {other:?}"),
    }
}

const AT: &str = "spec.tasks[0].executor.k8s-job";

fn at(field: &str) -> String {
    format!("{AT}.{field}")
}

#[test]
fn only_the_image_is_required() {
    let job = decoded(json!({"image": "ghcr.io/acme/worker:1.4"}));
    assert_eq!(job.image, "ghcr.io/acme/worker:1.4");
    assert!(
        job.command.is_empty() && job.args.is_empty(),
        "the image's entrypoint"
    );
    assert!(job.env.is_empty() && job.secret_env.is_empty());
    assert_eq!(job.namespace, None, "the daemon's --k8s-jobs-namespace");
    assert_eq!(job.resources.requests, ResourceAmounts::default());
    assert_eq!(job.resources.limits, ResourceAmounts::default());
    assert_eq!(job.output, OutputFormat::Lines);
    rejects(&job_plan(json!({})), &at("image"), "required");
}

#[test]
fn every_field_is_read() {
    let job = decoded(json!({
        "image": "registry.local:5000/team/claude-worker@sha256:".to_string() + &"ab".repeat(32),
        "command": ["claude", "-p"],
        "args": ["review the diff", ""],
        "env": {"RUST_LOG": "info"},
        "secretEnv": {"ANTHROPIC_API_KEY": {"secret": "llm-keys", "key": "anthropic"}},
        "namespace": "cortex-jobs",
        "resources": {"requests": {"cpu": 0.5, "memory": "256Mi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
        "output": "stream-json"
    }));
    assert_eq!(job.command, ["claude", "-p"]);
    assert_eq!(
        job.args,
        ["review the diff", ""],
        "empty arguments are fine in args"
    );
    assert_eq!(job.env["RUST_LOG"], "info");
    assert_eq!(
        job.secret_env["ANTHROPIC_API_KEY"],
        SecretKeyRef {
            secret: "llm-keys".into(),
            key: "anthropic".into()
        }
    );
    assert_eq!(job.namespace.as_deref(), Some("cortex-jobs"));
    assert_eq!(
        job.resources.requests.cpu.as_deref(),
        Some("0.5"),
        "YAML numbers are quantities"
    );
    assert_eq!(job.resources.requests.memory.as_deref(), Some("256Mi"));
    assert_eq!(job.resources.limits.cpu.as_deref(), Some("2"));
    assert_eq!(job.output, OutputFormat::StreamJson);
}

#[test]
fn bad_images_are_refused_with_the_expected_shape() {
    for bad in [
        "",
        "Acme/Worker:1",
        "acme/worker:1 ",
        "acme//worker",
        "acme/worker:",
        "acme/worker:-dev",
        "acme/worker@sha256:abc",
        "acme/worker@md5",
        "-acme/worker",
        "acme_/worker",
        "bad_host.io:x/worker",
    ] {
        rejects(
            &job_plan(json!({"image": bad})),
            &at("image"),
            "is not an image reference",
        );
    }
    let errors = problems(&job_plan(json!({"image": "ghcr.io/Acme/worker"})));
    assert_problem(&errors, &at("image"), "the repository path takes lowercase");
    assert_problem(&errors, &at("image"), "e.g. ghcr.io/acme/worker:1.4");
}

#[test]
fn good_images_pass() {
    let digest = format!("sha256:{}", "0f".repeat(32));
    for good in [
        "busybox".to_string(),
        "busybox:1.36".into(),
        "library/busybox:latest".into(),
        "ghcr.io/acme/worker:1.4".into(),
        "localhost:5000/a.b/c__d/e---f:v1_2.3-rc".into(),
        "[::1]:5000/app".into(),
        "Registry.Example.COM/app".into(),
        format!("ghcr.io/acme/worker:1.4@{digest}"),
        format!("acme/worker@{digest}"),
    ] {
        assert_eq!(image_problem(&good), None, "{good}");
    }
}

#[test]
fn quantities_follow_the_kubernetes_grammar() {
    for good in [
        "500m", "2", "0.5", "1.5", ".5", "256Mi", "1Gi", "1G", "1e3", "1E+2", "100u", "+1",
    ] {
        assert_eq!(quantity_problem(good), None, "{good}");
    }
    for bad in [
        "", "512MB", "1gi", "-1", "1.2.3", "m", "1e", "one", "1 Gi", "1Ki2",
    ] {
        assert!(quantity_problem(bad).is_some(), "{bad:?} accepted");
    }
    let plan = job_plan(json!({"image": "busybox",
        "resources": {"requests": {"memory": "512MB", "cpu": -1}, "limits": {"cpu": "1.2.3"}}}));
    let errors = problems(&plan);
    assert_problem(
        &errors,
        &at("resources.requests.memory"),
        r#""512MB" is not a quantity: use"#,
    );
    assert_problem(
        &errors,
        &at("resources.requests.cpu"),
        "must not be negative",
    );
    assert_problem(&errors, &at("resources.limits.cpu"), "is not a quantity");
    rejects(
        &job_plan(json!({"image": "busybox", "resources": {"requests": {"memory": ["1Gi"]}}})),
        &at("resources.requests.memory"),
        "must be a quantity such as",
    );
}

#[test]
fn unknown_fields_are_named_at_every_level() {
    let plan = job_plan(json!({"image": "busybox", "imagePullPolicy": "Always",
        "secret_env": {}, "resources": {"requests": {"gpu": "1"}, "limit": {}}}));
    let errors = problems(&plan);
    assert_problem(&errors, &at("imagePullPolicy"), "unknown field");
    assert_problem(&errors, &at("secret_env"), r#"did you mean "secretEnv"?"#);
    assert_problem(
        &errors,
        &at("resources.requests.gpu"),
        "expected one of: cpu, memory",
    );
    assert_problem(
        &errors,
        &at("resources.limit"),
        "expected one of: requests, limits",
    );
    let plan = job_plan(json!({"image": "busybox",
        "secretEnv": {"TOKEN": {"secret": "gh", "key": "token", "optional": true}}}));
    rejects(&plan, &at("secretEnv.TOKEN.optional"), "unknown field");
}

#[test]
fn commands_env_and_names_are_checked() {
    // Decoding problems first: the rest is checked once decoding succeeded.
    let plan = job_plan(json!({
        "image": "busybox",
        "secretEnv": {"OTHER": {"secret": "gh"}, "LIST": ["gh", "token"]},
        "output": "xml"
    }));
    let errors = problems(&plan);
    assert_problem(&errors, &at("secretEnv.OTHER.key"), "required");
    assert_problem(&errors, &at("secretEnv.LIST"), "must be a mapping");
    assert_problem(&errors, &at("output"), "unknown output format");
    let plan = job_plan(json!({
        "image": "busybox",
        "command": ["sh", ""],
        "env": {"1ST": "x", "TOKEN": "y"},
        "secretEnv": {"TOKEN": {"secret": "Bad_Name", "key": "a/b"}},
        "namespace": "Cortex Jobs"
    }));
    let errors = problems(&plan);
    assert_problem(
        &errors,
        &at("command[1]"),
        "must not be empty (an empty argument belongs in args)",
    );
    assert_problem(&errors, &at("env.1ST"), "is not a valid variable name");
    assert_problem(&errors, &at("secretEnv.TOKEN"), "also set in env");
    assert_problem(
        &errors,
        &at("secretEnv.TOKEN.secret"),
        "is not a valid Secret name",
    );
    assert_problem(
        &errors,
        &at("secretEnv.TOKEN.key"),
        "is not a valid Secret key",
    );
    assert_problem(&errors, &at("namespace"), "is not a valid namespace name");
    let many: serde_json::Map<String, Value> =
        (0..40).map(|i| (format!("V{i}"), json!("x"))).collect();
    let secrets: serde_json::Map<String, Value> = (0..25)
        .map(|i| (format!("S{i}"), json!({"secret": "s", "key": "k"})))
        .collect();
    rejects(
        &job_plan(json!({"image": "busybox", "env": many, "secretEnv": secrets})),
        &at("env"),
        "65 variables (env and secretEnv together); the limit is 64",
    );
}

#[test]
fn a_hand_built_job_is_checked_on_apply() {
    let mut spec = parse_both(&job_plan(json!({"image": "busybox"}))).unwrap();
    let ExecutorSpec::K8sJob(job) = &mut spec.tasks[0].executor else {
        unreachable!("decoded as k8s-job")
    };
    job.image = "not an image".into();
    job.resources.limits.memory = Some("lots".into());
    let errors = spec.validate().unwrap_err().0;
    assert_problem(&errors, &at("image"), "is not an image reference");
    assert_problem(&errors, &at("resources.limits.memory"), "is not a quantity");
}
