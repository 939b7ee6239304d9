//! Limits on executor settings, checked by `RunSpec::validate` (so again on
//! apply): everything here ends up in argv, environment, HTTP requests,
//! Kubernetes objects or file paths on some node, and in every voter's
//! memory.

use super::super::error::{field, index, Report};
use super::super::limits::{MAX_ARG_BYTES, MAX_COMMAND_ARGS, MAX_ENV_ENTRIES, MAX_PROMPT_BYTES};
use super::super::validate::{check_bytes, check_count};
use super::kube_syntax::{
    dns_label_problem, dns_subdomain_problem, env_name_problem, image_problem, quantity_problem,
    secret_key_problem,
};
use super::{BuiltinSpec, ExecutorSpec, K8sJobSpec, KubeTarget, LlmSpec, ProcessSpec};

/// Checks `executor` (at `path`, e.g. `spec.tasks[2].executor`).
pub(crate) fn check_executor(executor: &ExecutorSpec, path: &str, r: &mut Report) {
    let path = field(path, executor.kind());
    match executor {
        ExecutorSpec::Process(process) => check_process(process, &path, r),
        ExecutorSpec::Llm(llm) => check_llm(llm, &path, r),
        ExecutorSpec::Builtin(builtin) => check_builtin(builtin, &path, r),
        ExecutorSpec::K8sJob(job) => check_k8s_job(job, &path, r),
    }
}

fn check_process(process: &ProcessSpec, path: &str, r: &mut Report) {
    let command_path = field(path, "command");
    match process.command.first() {
        None => r.push(
            &command_path,
            "must not be empty: give the program and its arguments",
        ),
        Some(program) if program.is_empty() => {
            r.push(index(&command_path, 0), "the program must not be empty")
        }
        Some(_) => {}
    }
    check_list(&process.command, &command_path, r);
    let env_path = field(path, "env");
    check_count(
        process.env.len(),
        &env_path,
        MAX_ENV_ENTRIES,
        "variables",
        r,
    );
    for (key, value) in &process.env {
        let entry = field(&env_path, key);
        if key.is_empty() || key.contains(['=', '\0']) || key.len() > MAX_ARG_BYTES {
            r.push(&entry, "not a valid environment variable name");
        }
        check_bytes(value, &entry, r);
        check_secret_reference(value, &entry, r);
    }
    if let Some(dir) = &process.workdir {
        check_path(dir, &field(path, "workdir"), r);
    }
}

fn check_k8s_job(job: &K8sJobSpec, path: &str, r: &mut Report) {
    let problem = |r: &mut Report, at: String, problem: Option<String>| {
        if let Some(problem) = problem {
            r.push(at, problem);
        }
    };
    problem(r, field(path, "image"), image_problem(&job.image));
    let command = field(path, "command");
    check_list(&job.command, &command, r);
    for (i, element) in job.command.iter().enumerate() {
        if element.is_empty() {
            r.push(
                index(&command, i),
                "must not be empty (an empty argument belongs in args)",
            );
        }
    }
    check_list(&job.args, &field(path, "args"), r);
    let env_path = field(path, "env");
    let secret_path = field(path, "secretEnv");
    check_count(
        job.env.len() + job.secret_env.len(),
        &env_path,
        MAX_ENV_ENTRIES,
        "variables (env and secretEnv together)",
        r,
    );
    for (name, value) in &job.env {
        let entry = field(&env_path, name);
        problem(r, entry.clone(), env_name_problem(name));
        check_bytes(value, &entry, r);
    }
    for (name, source) in &job.secret_env {
        let entry = field(&secret_path, name);
        problem(r, entry.clone(), env_name_problem(name));
        if job.env.contains_key(name) {
            r.push(&entry, "is also set in env; give each variable once");
        }
        problem(
            r,
            field(&entry, "secret"),
            dns_subdomain_problem(&source.secret),
        );
        problem(r, field(&entry, "key"), secret_key_problem(&source.key));
    }
    if let Some(namespace) = &job.namespace {
        problem(r, field(path, "namespace"), dns_label_problem(namespace));
    }
    let resources = field(path, "resources");
    for (kind, amounts) in [
        ("requests", &job.resources.requests),
        ("limits", &job.resources.limits),
    ] {
        let at = field(&resources, kind);
        for (name, quantity) in [("cpu", &amounts.cpu), ("memory", &amounts.memory)] {
            if let Some(quantity) = quantity {
                problem(r, field(&at, name), quantity_problem(quantity));
            }
        }
    }
}

fn check_llm(llm: &LlmSpec, path: &str, r: &mut Report) {
    let endpoint = field(path, "endpoint");
    if !(llm.endpoint.starts_with("http://") || llm.endpoint.starts_with("https://")) {
        r.push(&endpoint, "must be an http:// or https:// URL");
    }
    check_bytes(&llm.endpoint, &endpoint, r);
    check_nonempty(&llm.model, &field(path, "model"), r);
    let prompt = field(path, "prompt");
    for (text, at) in [
        (Some(&llm.prompt), prompt),
        (llm.system.as_ref(), field(path, "system")),
    ] {
        let Some(text) = text else { continue };
        if text.len() > MAX_PROMPT_BYTES {
            r.push(
                at,
                format!("{} bytes; the limit is {MAX_PROMPT_BYTES}", text.len()),
            );
        }
    }
    // Not check_nonempty: its byte limit is the command arguments' 4 KiB,
    // and a prompt has its own (above).
    if llm.prompt.is_empty() {
        r.push(field(path, "prompt"), "must not be empty");
    }
    if let Some(name) = &llm.api_key_env {
        check_nonempty(name, &field(path, "apiKeyEnv"), r);
    }
    if let Some(file) = &llm.api_key_file {
        check_path(file, &field(path, "apiKeyFile"), r);
    }
}

fn check_builtin(builtin: &BuiltinSpec, path: &str, r: &mut Report) {
    match builtin {
        BuiltinSpec::Noop | BuiltinSpec::Sleep { .. } => {}
        BuiltinSpec::GitInventory { paths, .. } => {
            let at = field(path, "paths");
            if paths.is_empty() {
                r.push(&at, "must name at least one directory");
            }
            check_list(paths, &at, r);
        }
        BuiltinSpec::K8sInventory(target) => check_kube(target, path, r),
        BuiltinSpec::SecurityAudit { manifests, cluster } => {
            check_list(manifests, &field(path, "manifests"), r);
            if let Some(target) = cluster {
                check_kube(target, &field(path, "cluster"), r);
            }
        }
    }
}

fn check_kube(target: &KubeTarget, path: &str, r: &mut Report) {
    if let Some(file) = &target.kubeconfig {
        check_path(file, &field(path, "kubeconfig"), r);
    }
    if let Some(context) = &target.context {
        check_nonempty(context, &field(path, "context"), r);
    }
    check_list(&target.namespaces, &field(path, "namespaces"), r);
}

/// At most [`MAX_COMMAND_ARGS`] elements, each a valid argument.
fn check_list(items: &[String], path: &str, r: &mut Report) {
    check_count(items.len(), path, MAX_COMMAND_ARGS, "elements", r);
    for (i, item) in items.iter().enumerate() {
        check_bytes(item, &index(path, i), r);
    }
}

/// A value written `${...}` must be a secret reference the agent can
/// resolve: `${env:NAME}` or `${file:/PATH}` (agent/src/executor/secrets.rs).
fn check_secret_reference(value: &str, path: &str, r: &mut Report) {
    let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return;
    };
    let valid = match (inner.strip_prefix("env:"), inner.strip_prefix("file:")) {
        (Some(name), _) => !name.is_empty() && !name.contains(['=', '\0']),
        (_, Some(file)) => file.starts_with('/'),
        _ => false,
    };
    if !valid {
        r.push(
            path,
            "not a secret reference: write ${env:NAME} (a variable of the daemon) or ${file:/PATH}",
        );
    }
}

fn check_path(value: &str, path: &str, r: &mut Report) {
    check_nonempty(value, path, r);
}

fn check_nonempty(value: &str, path: &str, r: &mut Report) {
    if value.is_empty() {
        r.push(path, "must not be empty");
    }
    check_bytes(value, path, r);
}
