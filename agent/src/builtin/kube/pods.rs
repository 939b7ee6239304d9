//! Where a Kubernetes object keeps its pod spec, and the containers in it.
//!
//! Shared by the inventory (images and references a workload uses) and the
//! audit (Pod Security Standards apply to every pod template): a Pod has its
//! spec at `spec`, a CronJob at `spec.jobTemplate.spec.template.spec`, the
//! other workloads at `spec.template.spec`.

use serde_json::Value;

/// Kinds that carry a pod spec, directly or in a template.
pub const WORKLOAD_KINDS: [&str; 7] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];

/// The pod spec and the metadata of the pod template (the object's own for
/// a Pod), if `object` is a workload.
pub fn pod_spec(object: &Value) -> Option<(&Value, &Value)> {
    let kind = object.get("kind")?.as_str()?;
    let (spec, metadata) = match kind {
        "Pod" => ("/spec", "/metadata"),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "/spec/jobTemplate/spec/template/metadata",
        ),
        k if WORKLOAD_KINDS.contains(&k) => ("/spec/template/spec", "/spec/template/metadata"),
        _ => return None,
    };
    let spec = object.pointer(spec).filter(|s| s.is_object())?;
    Some((spec, object.pointer(metadata).unwrap_or(&Value::Null)))
}

/// One container of a pod spec.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    /// Its name.
    pub name: &'a str,
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// The container object.
    pub spec: &'a Value,
}

/// Every container of `pod_spec`: regular, init and ephemeral.
pub fn containers(pod_spec: &Value) -> impl Iterator<Item = Container<'_>> {
    ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |list| {
            items(pod_spec.get(list)).map(move |spec| Container {
                name: spec.get("name").and_then(Value::as_str).unwrap_or("?"),
                list,
                spec,
            })
        })
}

/// The elements of a JSON array, or none.
pub fn items(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

/// The string at `pointer`, if there is one.
pub fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}
