//! Decoding `executor: {<kind>: {...}}` from the plan document.
//!
//! Every key is checked against the kind's list, so a misspelt option is an
//! error with its path rather than a silently ignored setting.

use std::collections::BTreeMap;

use super::super::error::{field, Report};
use super::super::fields::{
    choice, duration_ms, object, string, string_list, string_map, uint, uint32, Object,
};
use super::super::tree::Node;
use super::{
    BuiltinSpec, ExecutorSpec, JobResources, K8sJobSpec, KubeTarget, LlmApi, LlmSpec, OutputFormat,
    ProcessSpec, ResourceAmounts, SecretKeyRef,
};

/// The executor kinds this version runs.
const SUPPORTED_EXECUTORS: &str = "\"process\", \"llm\", \"builtin\", \"k8s-job\"";

const PROCESS_KEYS: &[&str] = &["command", "env", "workdir", "output"];
const LLM_KEYS: &[&str] = &[
    "api",
    "endpoint",
    "model",
    "prompt",
    "system",
    "apiKeyEnv",
    "apiKeyFile",
];
const KUBE_KEYS: &[&str] = &["kubeconfig", "context", "namespaces"];
const K8S_JOB_KEYS: &[&str] = &[
    "image",
    "command",
    "args",
    "env",
    "secretEnv",
    "namespace",
    "resources",
    "output",
];

const OUTPUTS: &[(&str, OutputFormat)] = &[
    ("lines", OutputFormat::Lines),
    ("stream-json", OutputFormat::StreamJson),
];
const APIS: &[(&str, LlmApi)] = &[("openai", LlmApi::OpenAi), ("anthropic", LlmApi::Anthropic)];
const BUILTINS: &[(&str, &str)] = &[
    ("noop", "noop"),
    ("sleep", "sleep"),
    ("git-inventory", "git-inventory"),
    ("k8s-inventory", "k8s-inventory"),
    ("security-audit", "security-audit"),
];

/// Default number of commits `git-inventory` catalogues per repository.
pub const DEFAULT_MAX_COMMITS: u32 = 20;

/// `executor: {process: {...}}` and the other kinds.
pub(crate) fn decode_executor(node: &Node, path: &str, r: &mut Report) -> Option<ExecutorSpec> {
    let Node::Map(entries) = node else {
        r.push(
            path,
            format!(
                "must be a mapping naming one executor kind, e.g. {{process: {{command: [...]}}}}, \
                 got {}",
                node.kind()
            ),
        );
        return None;
    };
    if entries.len() != 1 {
        r.push(
            path,
            format!(
                "needs exactly one executor kind, got {}; this version supports {SUPPORTED_EXECUTORS}",
                entries.len()
            ),
        );
        return None;
    }
    let (kind, value) = &entries[0];
    let kind_path = field(path, kind);
    match kind.as_str() {
        "process" => decode_process(value, &kind_path, r),
        "llm" => decode_llm(value, &kind_path, r),
        "builtin" => decode_builtin(value, &kind_path, r),
        "k8s-job" => decode_k8s_job(value, &kind_path, r),
        _ => {
            r.push(
                kind_path,
                format!(
                    "executor {kind:?} is not supported by this version; \
                     the supported executors are: {SUPPORTED_EXECUTORS}"
                ),
            );
            None
        }
    }
}

fn decode_process(node: &Node, path: &str, r: &mut Report) -> Option<ExecutorSpec> {
    let obj = object(node, path, PROCESS_KEYS, r)?;
    let command = obj
        .required("command", r)
        .and_then(|v| string_list(v, &obj.path("command"), r));
    let env = obj
        .get("env")
        .and_then(|v| string_map(v, &obj.path("env"), r))
        .unwrap_or_default();
    let workdir = obj
        .get("workdir")
        .and_then(|v| string(v, &obj.path("workdir"), r));
    let output = output(&obj, r)?;
    Some(ExecutorSpec::Process(ProcessSpec {
        command: command?,
        env,
        workdir,
        output,
    }))
}

fn decode_llm(node: &Node, path: &str, r: &mut Report) -> Option<ExecutorSpec> {
    let obj = object(node, path, LLM_KEYS, r)?;
    let api = obj
        .required("api", r)
        .and_then(|v| choice(v, &obj.path("api"), "API", APIS, r));
    let text = |key: &str, r: &mut Report| obj.get(key).and_then(|v| string(v, &obj.path(key), r));
    let required = |key: &str, r: &mut Report| {
        obj.required(key, r)
            .and_then(|v| string(v, &obj.path(key), r))
    };
    let endpoint = required("endpoint", r);
    let model = required("model", r);
    let prompt = required("prompt", r);
    let system = text("system", r);
    let api_key_env = text("apiKeyEnv", r);
    let api_key_file = text("apiKeyFile", r);
    Some(ExecutorSpec::Llm(LlmSpec {
        api: api?,
        endpoint: endpoint?,
        model: model?,
        prompt: prompt?,
        system,
        api_key_env,
        api_key_file,
    }))
}

fn decode_builtin(node: &Node, path: &str, r: &mut Report) -> Option<ExecutorSpec> {
    // The allowed keys depend on the name, so read the name first.
    let name_node = match node {
        Node::Map(entries) => entries.iter().find(|(k, _)| k == "name").map(|(_, v)| v),
        _ => None,
    };
    let Some(name_node) = name_node else {
        r.push(
            field(path, "name"),
            "required: one of noop, sleep, git-inventory, k8s-inventory, security-audit",
        );
        return None;
    };
    let name = choice(name_node, &field(path, "name"), "builtin", BUILTINS, r)?;
    let builtin = match name {
        "noop" => {
            object(node, path, &["name"], r)?;
            BuiltinSpec::Noop
        }
        "sleep" => {
            let obj = object(node, path, &["name", "duration", "tokens"], r)?;
            let duration_ms = obj
                .required("duration", r)
                .and_then(|v| duration_ms(v, &obj.path("duration"), r));
            let tokens = match obj.get("tokens") {
                Some(v) => uint(v, &obj.path("tokens"), r)?,
                None => 0,
            };
            BuiltinSpec::Sleep {
                duration_ms: duration_ms?,
                tokens,
            }
        }
        "git-inventory" => {
            let obj = object(node, path, &["name", "paths", "maxCommits"], r)?;
            let paths = obj
                .required("paths", r)
                .and_then(|v| string_list(v, &obj.path("paths"), r));
            let max_commits = match obj.get("maxCommits") {
                Some(v) => uint32(v, &obj.path("maxCommits"), r)?,
                None => DEFAULT_MAX_COMMITS,
            };
            BuiltinSpec::GitInventory {
                paths: paths?,
                max_commits,
            }
        }
        "k8s-inventory" => {
            let mut keys = vec!["name"];
            keys.extend_from_slice(KUBE_KEYS);
            let obj = object(node, path, &keys, r)?;
            BuiltinSpec::K8sInventory(kube_target(&obj, r)?)
        }
        _ => {
            let obj = object(node, path, &["name", "manifests", "cluster"], r)?;
            let manifests = match obj.get("manifests") {
                Some(v) => string_list(v, &obj.path("manifests"), r)?,
                None => Vec::new(),
            };
            let cluster = match obj.get("cluster") {
                None | Some(Node::Bool(false)) => None,
                Some(Node::Bool(true)) => Some(KubeTarget::default()),
                Some(v) => {
                    let target = object(v, &obj.path("cluster"), KUBE_KEYS, r)?;
                    Some(kube_target(&target, r)?)
                }
            };
            if manifests.is_empty() && cluster.is_none() {
                r.push(
                    path,
                    "has nothing to audit: give manifests (files or directories), \
                     cluster: true, or both",
                );
                return None;
            }
            BuiltinSpec::SecurityAudit { manifests, cluster }
        }
    };
    Some(ExecutorSpec::Builtin(builtin))
}

fn kube_target(obj: &Object<'_>, r: &mut Report) -> Option<KubeTarget> {
    let text = |key: &str, r: &mut Report| obj.get(key).and_then(|v| string(v, &obj.path(key), r));
    let kubeconfig = text("kubeconfig", r);
    let context = text("context", r);
    let namespaces = match obj.get("namespaces") {
        Some(v) => string_list(v, &obj.path("namespaces"), r)?,
        None => Vec::new(),
    };
    Some(KubeTarget {
        kubeconfig,
        context,
        namespaces,
    })
}

fn output(obj: &Object<'_>, r: &mut Report) -> Option<OutputFormat> {
    match obj.get("output") {
        Some(v) => choice(v, &obj.path("output"), "output format", OUTPUTS, r),
        None => Some(OutputFormat::Lines),
    }
}

fn decode_k8s_job(node: &Node, path: &str, r: &mut Report) -> Option<ExecutorSpec> {
    let obj = object(node, path, K8S_JOB_KEYS, r)?;
    let image = obj
        .required("image", r)
        .and_then(|v| string(v, &obj.path("image"), r));
    let list = |key: &str, r: &mut Report| match obj.get(key) {
        Some(v) => string_list(v, &obj.path(key), r),
        None => Some(Vec::new()),
    };
    let command = list("command", r);
    let args = list("args", r);
    let env = match obj.get("env") {
        Some(v) => string_map(v, &obj.path("env"), r),
        None => Some(BTreeMap::new()),
    };
    let secret_env = match obj.get("secretEnv") {
        Some(v) => secret_env(v, &obj.path("secretEnv"), r),
        None => Some(BTreeMap::new()),
    };
    let namespace = obj
        .get("namespace")
        .and_then(|v| string(v, &obj.path("namespace"), r));
    let resources = match obj.get("resources") {
        Some(v) => resources(v, &obj.path("resources"), r),
        None => Some(JobResources::default()),
    };
    let output = output(&obj, r);
    Some(ExecutorSpec::K8sJob(Box::new(K8sJobSpec {
        image: image?,
        command: command?,
        args: args?,
        env: env?,
        secret_env: secret_env?,
        namespace,
        resources: resources?,
        output: output?,
    })))
}

/// `secretEnv: {VARIABLE: {secret: NAME, key: KEY}, ...}`.
fn secret_env(node: &Node, path: &str, r: &mut Report) -> Option<BTreeMap<String, SecretKeyRef>> {
    let Node::Map(entries) = node else {
        r.push(
            path,
            format!(
                "must be a mapping of variable names to {{secret: NAME, key: KEY}}, got {}",
                node.kind()
            ),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, value) in entries {
        let Some(obj) = object(value, &field(path, name), &["secret", "key"], r) else {
            ok = false;
            continue;
        };
        let mut text = |key: &str| {
            obj.required(key, r)
                .and_then(|v| string(v, &obj.path(key), r))
        };
        match (text("secret"), text("key")) {
            (Some(secret), Some(key)) => {
                out.insert(name.clone(), SecretKeyRef { secret, key });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// `resources: {requests: {cpu, memory}, limits: {cpu, memory}}`.
fn resources(node: &Node, path: &str, r: &mut Report) -> Option<JobResources> {
    let obj = object(node, path, &["requests", "limits"], r)?;
    let mut amounts = |key: &str| match obj.get(key) {
        Some(v) => amounts(v, &obj.path(key), r),
        None => Some(ResourceAmounts::default()),
    };
    let requests = amounts("requests");
    let limits = amounts("limits");
    Some(JobResources {
        requests: requests?,
        limits: limits?,
    })
}

fn amounts(node: &Node, path: &str, r: &mut Report) -> Option<ResourceAmounts> {
    let obj = object(node, path, &["cpu", "memory"], r)?;
    // `Some(None)`: not given; `None`: given but wrong (reported).
    let mut quantity = |key: &str| match obj.get(key) {
        Some(v) => quantity(v, &obj.path(key), r).map(Some),
        None => Some(None),
    };
    let cpu = quantity("cpu");
    let memory = quantity("memory");
    Some(ResourceAmounts {
        cpu: cpu?,
        memory: memory?,
    })
}

/// A quantity as text: YAML reads `cpu: 2` or `cpu: 0.5` as numbers, which
/// are quantities too; the syntax is checked with the rest of the limits.
fn quantity(node: &Node, path: &str, r: &mut Report) -> Option<String> {
    match node {
        Node::Str(text) => Some(text.clone()),
        Node::Int(n) => Some(n.to_string()),
        Node::Float(x) => Some(x.to_string()),
        other => {
            r.push(
                path,
                format!(
                    "must be a quantity such as \"500m\", \"2\" or \"256Mi\", got {}",
                    other.kind()
                ),
            );
            None
        }
    }
}
