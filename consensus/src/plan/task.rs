//! Decoding one task of the plan (and its executor) into a [`TaskSpec`],
//! filling in the worker type's defaults.

use super::error::Report;
use super::executor::decode::decode_executor;
use super::fields::{choice, duration_ms, object, string, string_list, string_map, uint, uint32};
use super::spec::{MasterRole, Placement, Priority, TaskId, TaskSpec, WorkerType};
use super::tree::Node;

const TASK_KEYS: &[&str] = &[
    "id",
    "master",
    "worker",
    "priority",
    "dependsOn",
    "budget",
    "timeout",
    "retries",
    "node",
    "nodeSelector",
    "approval",
    "description",
    "executor",
];

const PRIORITIES: &[(&str, Priority)] = &[
    ("critical", Priority::Critical),
    ("high", Priority::High),
    ("medium", Priority::Medium),
    ("low", Priority::Low),
];

const APPROVALS: &[(&str, bool)] = &[("required", true), ("none", false)];

/// The master roles by plan name.
pub(crate) fn master_names() -> Vec<(&'static str, MasterRole)> {
    MasterRole::ALL.iter().map(|m| (m.as_str(), *m)).collect()
}

fn worker_names() -> Vec<(&'static str, WorkerType)> {
    WorkerType::ALL.iter().map(|w| (w.as_str(), *w)).collect()
}

/// A decoded task: its id whenever that could be read (so other tasks'
/// references to it are not reported as unknown), and the whole task only
/// when nothing in it was wrong.
pub(crate) struct TaskDraft {
    /// `id`, if it is a string.
    pub(crate) id: Option<String>,
    /// The task, with defaults filled in.
    pub(crate) task: Option<TaskSpec>,
}

/// Decodes `spec.tasks[i]` at `path`.
pub(crate) fn decode_task(node: &Node, path: &str, r: &mut Report) -> TaskDraft {
    let before = r.count();
    let Some(obj) = object(node, path, TASK_KEYS, r) else {
        return TaskDraft {
            id: None,
            task: None,
        };
    };
    let id = obj
        .required("id", r)
        .and_then(|v| string(v, &obj.path("id"), r));
    let master = obj
        .required("master", r)
        .and_then(|v| choice(v, &obj.path("master"), "master role", &master_names(), r));
    let worker = obj
        .required("worker", r)
        .and_then(|v| choice(v, &obj.path("worker"), "worker type", &worker_names(), r));
    let priority = obj
        .get("priority")
        .and_then(|v| choice(v, &obj.path("priority"), "priority", PRIORITIES, r))
        .unwrap_or_default();
    let depends_on = obj
        .get("dependsOn")
        .and_then(|v| string_list(v, &obj.path("dependsOn"), r))
        .unwrap_or_default();
    let budget = obj
        .get("budget")
        .and_then(|v| uint(v, &obj.path("budget"), r));
    let timeout_ms = obj
        .get("timeout")
        .and_then(|v| duration_ms(v, &obj.path("timeout"), r));
    let retries = obj
        .get("retries")
        .and_then(|v| uint32(v, &obj.path("retries"), r));
    let node_name = obj
        .get("node")
        .and_then(|v| string(v, &obj.path("node"), r));
    let labels = obj
        .get("nodeSelector")
        .and_then(|v| string_map(v, &obj.path("nodeSelector"), r))
        .unwrap_or_default();
    let approval_required = obj
        .get("approval")
        .and_then(|v| choice(v, &obj.path("approval"), "approval", APPROVALS, r))
        .unwrap_or(false);
    let description = obj
        .get("description")
        .and_then(|v| string(v, &obj.path("description"), r));
    let executor = obj
        .required("executor", r)
        .and_then(|v| decode_executor(v, &obj.path("executor"), r));

    let task = match (id.clone(), master, worker, executor) {
        (Some(id), Some(master), Some(worker), Some(executor)) if r.count() == before => {
            let defaults = worker.defaults();
            Some(TaskSpec {
                id: TaskId(id),
                master,
                worker,
                priority,
                depends_on: depends_on.into_iter().map(TaskId).collect(),
                budget: budget.unwrap_or(defaults.budget),
                timeout_ms: timeout_ms.unwrap_or(defaults.timeout_ms),
                retries: retries.unwrap_or(defaults.retries),
                placement: Placement {
                    node: node_name,
                    labels,
                },
                executor,
                approval_required,
                phase: None,
                description,
            })
        }
        _ => None,
    };
    TaskDraft { id, task }
}
