//! How a task's attempts run: the executor kinds a plan can name.
//!
//! * `process`: any command speaking the worker line protocol (or Claude
//!   Code's `stream-json`) on stdout.
//! * `llm`: one chat completion from an OpenAI-compatible or Anthropic
//!   endpoint, capped by the attempt's reservation.
//! * `builtin`: work shipped with Cortex (discovery, security audit, test
//!   helpers).
//! * `k8s-job`: a container run as a Kubernetes Job, speaking the same
//!   line protocol on its log as a `process` worker on stdout.
//!
//! These are plain data; the agent crate runs them. Decoding from the plan
//! document lives in [`decode`], limits in [`check`] and, for the
//! Kubernetes names and quantities of `k8s-job`, [`kube_syntax`].

mod check;
pub(crate) mod decode;
pub mod kube_syntax;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) use check::check_executor;

/// How an attempt runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExecutorSpec {
    /// Runs a command.
    Process(ProcessSpec),
    /// Asks a language model.
    Llm(LlmSpec),
    /// Runs work built into Cortex.
    Builtin(BuiltinSpec),
    /// Runs a container as a Kubernetes Job (boxed: by far the largest
    /// kind, and tasks of the others should not carry its size).
    K8sJob(Box<K8sJobSpec>),
}

impl ExecutorSpec {
    /// The plan name of this kind (`process`, `llm`, `builtin`, `k8s-job`).
    pub fn kind(&self) -> &'static str {
        match self {
            ExecutorSpec::Process(_) => "process",
            ExecutorSpec::Llm(_) => "llm",
            ExecutorSpec::Builtin(_) => "builtin",
            ExecutorSpec::K8sJob(_) => "k8s-job",
        }
    }

    /// A `process` executor with no extra environment, for tests and handoffs.
    pub fn command(command: Vec<String>) -> ExecutorSpec {
        ExecutorSpec::Process(ProcessSpec {
            command,
            env: BTreeMap::new(),
            workdir: None,
            output: OutputFormat::Lines,
        })
    }
}

/// A command and how to read what it prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// argv; the first element is the program.
    pub command: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Working directory, if not the daemon's.
    pub workdir: Option<String>,
    /// What its stdout speaks.
    pub output: OutputFormat,
}

/// A container run to completion as a Kubernetes Job (`batch/v1`), in the
/// namespace the plan names or the one the executing daemon was given.
///
/// Nothing secret belongs here: the plan is replicated to every voter and
/// shown by the API. Secrets reach the container through [`secret_env`],
/// which names a Kubernetes Secret and key that the kubelet resolves; no
/// Cortex process ever reads the value.
///
/// [`secret_env`]: K8sJobSpec::secret_env
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct K8sJobSpec {
    /// Container image reference (`[registry[:port]/]repository[:tag][@digest]`).
    pub image: String,
    /// Replaces the image's entrypoint when not empty (Kubernetes `command`).
    pub command: Vec<String>,
    /// Arguments to the entrypoint or `command` (Kubernetes `args`).
    pub args: Vec<String>,
    /// Extra environment variables, values given in the plan.
    pub env: BTreeMap<String, String>,
    /// Environment variables filled from Kubernetes Secrets.
    pub secret_env: BTreeMap<String, SecretKeyRef>,
    /// Namespace of the Job; `None` is the executing daemon's
    /// `--k8s-jobs-namespace`.
    pub namespace: Option<String>,
    /// CPU and memory requests and limits of the container.
    pub resources: JobResources,
    /// What the container prints (its log): the line protocol or
    /// Claude Code's `stream-json`, as for `process`.
    pub output: OutputFormat,
}

/// One key of a Kubernetes Secret in the Job's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub secret: String,
    /// The key inside it.
    pub key: String,
}

/// A container's resource requests and limits, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobResources {
    /// What the scheduler reserves on the node.
    pub requests: ResourceAmounts,
    /// What the container may use at most.
    pub limits: ResourceAmounts,
}

/// CPU and memory amounts; `None` leaves it to the namespace's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResourceAmounts {
    /// CPU quantity such as `500m` or `2`.
    pub cpu: Option<String>,
    /// Memory quantity such as `256Mi` or `1G`.
    pub memory: Option<String>,
}

/// The language of a process's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// Cortex's worker line protocol (`docs/worker-protocol.md`).
    Lines,
    /// Claude Code's `--output-format stream-json`: usage is read from its
    /// assistant messages and the final result.
    StreamJson,
}

/// Which HTTP API an `llm` endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmApi {
    /// `POST {endpoint}/v1/chat/completions` (OpenAI and compatible servers).
    OpenAi,
    /// `POST {endpoint}/v1/messages` (Anthropic).
    Anthropic,
}

/// One model call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmSpec {
    /// The API the endpoint speaks.
    pub api: LlmApi,
    /// Base URL, e.g. `https://api.anthropic.com` (the API path is appended).
    pub endpoint: String,
    /// Model name.
    pub model: String,
    /// The user message.
    pub prompt: String,
    /// The system prompt.
    pub system: Option<String>,
    /// Environment variable holding the API key (read on the executing node).
    pub api_key_env: Option<String>,
    /// File holding the API key (read on the executing node).
    pub api_key_file: Option<String>,
}

/// Work built into Cortex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinSpec {
    /// Completes at once.
    Noop,
    /// Waits, reporting progress and (simulated) token usage.
    Sleep {
        /// How long, in milliseconds.
        duration_ms: u64,
        /// Tokens reported as used, spread over the wait.
        tokens: u64,
    },
    /// Finds git repositories under paths and catalogues them.
    GitInventory {
        /// Directories to search.
        paths: Vec<String>,
        /// Most recent commits catalogued per repository.
        max_commits: u32,
    },
    /// Lists Kubernetes resources and catalogues them with their lineage.
    K8sInventory(KubeTarget),
    /// Checks Kubernetes objects against security rules.
    SecurityAudit {
        /// Manifest files or directories (YAML, multi-document) to check.
        manifests: Vec<String>,
        /// Also check the live cluster, if given.
        cluster: Option<KubeTarget>,
    },
}

impl BuiltinSpec {
    /// Whether it catalogues what it finds (so a completed attempt ends a
    /// catalog sync pass of its task).
    pub fn discovers(&self) -> bool {
        matches!(
            self,
            BuiltinSpec::GitInventory { .. }
                | BuiltinSpec::K8sInventory(_)
                | BuiltinSpec::SecurityAudit { .. }
        )
    }

    /// The plan name of this builtin.
    pub fn name(&self) -> &'static str {
        match self {
            BuiltinSpec::Noop => "noop",
            BuiltinSpec::Sleep { .. } => "sleep",
            BuiltinSpec::GitInventory { .. } => "git-inventory",
            BuiltinSpec::K8sInventory(_) => "k8s-inventory",
            BuiltinSpec::SecurityAudit { .. } => "security-audit",
        }
    }
}

/// Which Kubernetes cluster to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KubeTarget {
    /// Kubeconfig file; without one, the in-cluster service account (or
    /// `$KUBECONFIG` / `~/.kube/config` outside a cluster).
    pub kubeconfig: Option<String>,
    /// Kubeconfig context, if not the current one.
    pub context: Option<String>,
    /// Namespaces to list; empty means all.
    pub namespaces: Vec<String>,
}
