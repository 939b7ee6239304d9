//! The Job one attempt runs as, built purely from the plan's spec and the
//! attempt's context, so every field is tested without a cluster.
//!
//! * The name derives from the attempt (run, task, number), so the same
//!   attempt always names the same Job: a daemon that starts the attempt
//!   again finds the Job it made instead of starting a second worker.
//! * It runs once: `backoffLimit: 0` and `restartPolicy: Never` (retries
//!   are the run's business, with their own budget), `activeDeadlineSeconds`
//!   is the attempt's time limit (so the Job stops even when the daemon that
//!   watched it is gone), and `ttlSecondsAfterFinished` removes it an hour
//!   after it ended (time enough for `kubectl logs`).
//! * Its pod is locked down like Cortex's own daemons: a fixed non-root
//!   user, read-only root filesystem with a bounded writable `/tmp`, no
//!   capabilities, no privilege escalation, `RuntimeDefault` seccomp, and no
//!   service account token (a worker has no business with the Kubernetes
//!   API unless a plan's Secret gives it credentials).

use std::collections::BTreeMap;

use cortex_consensus::plan::{JobResources, K8sJobSpec, ResourceAmounts};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;

use crate::builtin::kube::asset::fnv1a;
use crate::executor::Context;

/// The worker's container, the only one in the pod.
pub const CONTAINER: &str = "worker";
/// Annotation holding the exact attempt (`RUN/TASK/N`): labels may have to
/// shorten ids, this tells whether an existing Job was made for this attempt.
pub const ATTEMPT_ANNOTATION: &str = "cortex.dev/attempt-key";
/// How long a finished Job (and its pod's log) stays for people to look at.
const FINISHED_TTL_SECONDS: i32 = 3600;
/// The user and group the worker runs as, whatever the image says (the
/// same unprivileged id as Cortex's own image).
const WORKER_ID: i64 = 65532;
/// Size of the worker's writable `/tmp` (also its `HOME`).
const TMP_SIZE: &str = "1Gi";
/// Longest Job name: it becomes a label value of its pods.
const MAX_NAME: usize = 63;

/// `RUN/TASK/N`: the attempt's identity.
pub fn attempt_key(context: &Context) -> String {
    format!("{}/{}/{}", context.run, context.task, context.attempt)
}

/// The Job's name: `cortex-RUN-TASK-N-HASH`, lowercased with other
/// characters turned into dashes and cut to 63 characters; the hash of
/// the exact attempt keeps names apart that cutting or lowercasing would
/// make equal.
pub fn job_name(context: &Context) -> String {
    let hash = fnv1a(attempt_key(context).as_bytes()) as u32;
    let suffix = format!("-{}-{hash:08x}", context.attempt);
    let readable = dns_safe(&format!("cortex-{}-{}", context.run, context.task));
    let room = MAX_NAME - suffix.len();
    let kept = readable[..readable.len().min(room)].trim_end_matches('-');
    format!("{kept}{suffix}")
}

/// Lowercase letters and digits, anything else as a single dash.
fn dns_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out
}

/// `text` as a label value: at most 63 characters from letters, digits,
/// `-`, `_` and `.`, starting and ending with a letter or digit; a value
/// that had to change too much ends with a hash of the original.
pub fn label_value(text: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let cleaned: String = text
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= MAX_NAME {
        return trimmed.to_string();
    }
    let kept = trimmed[..MAX_NAME - 9].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    format!("{kept}-{:08x}", fnv1a(text.as_bytes()) as u32)
}

/// The labels of the Job and its pod.
pub fn labels(context: &Context) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), "cortex".into()),
        ("cortex.dev/run".into(), label_value(&context.run.0)),
        ("cortex.dev/task".into(), label_value(&context.task.0)),
        ("cortex.dev/attempt".into(), context.attempt.to_string()),
    ])
}

/// The Job running `spec` for the attempt of `context` in `namespace`.
pub fn job(spec: &K8sJobSpec, context: &Context, namespace: &str) -> Job {
    let labels = labels(context);
    let metadata = ObjectMeta {
        name: Some(job_name(context)),
        namespace: Some(namespace.to_string()),
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(
            ATTEMPT_ANNOTATION.to_string(),
            attempt_key(context),
        )])),
        ..ObjectMeta::default()
    };
    let time_limit = context.timeout.as_secs() + u64::from(context.timeout.subsec_nanos() > 0);
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(i64::try_from(time_limit.max(1)).unwrap_or(i64::MAX)),
            ttl_seconds_after_finished: Some(FINISHED_TTL_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod(spec, context)),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

fn pod(spec: &K8sJobSpec, context: &Context) -> PodSpec {
    let words = |list: &[String]| (!list.is_empty()).then(|| list.to_vec());
    let container = Container {
        name: CONTAINER.into(),
        image: Some(spec.image.clone()),
        command: words(&spec.command),
        args: words(&spec.args),
        env: Some(env(spec, context)),
        resources: resources(&spec.resources),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(WORKER_ID),
            run_as_group: Some(WORKER_ID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        volumes: Some(vec![Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity(TMP_SIZE.into())),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    }
}

/// The plan's variables, then the attempt's `CORTEX_*` ones, which win (as
/// for `process`); `HOME` is the writable `/tmp` unless the plan says.
fn env(spec: &K8sJobSpec, context: &Context) -> Vec<EnvVar> {
    let own = context.env();
    let ours = |name: &str| own.iter().any(|(n, _)| *n == name);
    let value = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    };
    let mut env = Vec::new();
    if !spec.env.contains_key("HOME") && !spec.secret_env.contains_key("HOME") {
        env.push(value("HOME", "/tmp"));
    }
    for (name, text) in spec.env.iter().filter(|(n, _)| !ours(n)) {
        env.push(value(name, text));
    }
    for (name, source) in spec.secret_env.iter().filter(|(n, _)| !ours(n)) {
        env.push(EnvVar {
            name: name.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: source.secret.clone(),
                    key: source.key.clone(),
                    ..SecretKeySelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    env.extend(own.iter().map(|(name, text)| value(name, text)));
    env
}

fn resources(resources: &JobResources) -> Option<ResourceRequirements> {
    let amounts = |amounts: &ResourceAmounts| {
        let map: BTreeMap<String, Quantity> = [("cpu", &amounts.cpu), ("memory", &amounts.memory)]
            .into_iter()
            .filter_map(|(name, quantity)| Some((name.to_string(), Quantity(quantity.clone()?))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let requests = amounts(&resources.requests);
    let limits = amounts(&resources.limits);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}
