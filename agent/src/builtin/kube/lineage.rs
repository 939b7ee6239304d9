//! The relations between Kubernetes objects, read from the objects alone.
//!
//! | from | relation | to | read from |
//! |---|---|---|---|
//! | any object | `ownedBy` | its owner | `metadata.ownerReferences` |
//! | namespaced object | `memberOf` | its Namespace | `metadata.namespace` |
//! | Pod, workload | `runs` | image | container images |
//! | Pod, workload | `uses` | ConfigMap, Secret, PVC, ServiceAccount | volumes, env, envFrom, imagePullSecrets, serviceAccountName |
//! | Pod | `scheduledOn` | Node | `spec.nodeName` |
//! | Service | `selects` | Pods | `spec.selector` |
//! | NetworkPolicy | `selects` | Pods | `spec.podSelector` |
//! | Ingress | `dependsOn` / `uses` | backend Services / TLS Secrets | rules, `defaultBackend`, `tls` |
//! | (Cluster)RoleBinding | `uses` / `selects` | its role / its ServiceAccount subjects | `roleRef`, `subjects` |

use serde_json::{Map, Value};

use super::asset::{cluster_scoped, image_id, object_id, Asset};
use super::pods::{containers, items, pod_spec, text};

/// What the selectors need to know of a pod.
#[derive(Debug, Clone)]
pub struct PodLabels {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's asset id.
    pub id: String,
    /// Its labels.
    pub labels: Map<String, Value>,
}

impl PodLabels {
    /// The labels of `pod`, if it is one with a namespace and a name.
    pub fn of(pod: &Value) -> Option<PodLabels> {
        let namespace = text(pod, "/metadata/namespace")?;
        let name = text(pod, "/metadata/name")?;
        let labels = pod
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Some(PodLabels {
            namespace: namespace.to_string(),
            id: object_id("Pod", Some(namespace), name),
            labels,
        })
    }
}

/// Adds to `asset` the relations `object` declares; `pods` are all pods
/// listed, for selectors.
pub fn relate(asset: &mut Asset, object: &Value, pods: &[PodLabels]) {
    let kind = text(object, "/kind").unwrap_or_default();
    let namespace = text(object, "/metadata/namespace").filter(|n| !n.is_empty());
    for owner in items(object.pointer("/metadata/ownerReferences")) {
        if let (Some(owner_kind), Some(name)) = (text(owner, "/kind"), text(owner, "/name")) {
            let owner_namespace = namespace.filter(|_| !cluster_scoped(owner_kind));
            asset.relate("ownedBy", object_id(owner_kind, owner_namespace, name));
        }
    }
    if let Some(namespace) = namespace {
        asset.relate("memberOf", object_id("Namespace", None, namespace));
    }
    if let Some((spec, _)) = pod_spec(object) {
        pod_references(asset, spec, namespace);
    }
    match kind {
        "Service" => {
            if let Some(selector) = object.pointer("/spec/selector").and_then(Value::as_object) {
                if !selector.is_empty() {
                    select(asset, namespace, pods, |labels| {
                        matches_labels(selector, labels)
                    });
                }
            }
        }
        "NetworkPolicy" => {
            if let Some(selector) = object.pointer("/spec/podSelector") {
                select(asset, namespace, pods, |labels| {
                    matches_selector(selector, labels)
                });
            }
        }
        "Ingress" => ingress_references(asset, object, namespace),
        "RoleBinding" | "ClusterRoleBinding" => binding_references(asset, object, namespace),
        _ => {}
    }
}

fn select(
    asset: &mut Asset,
    namespace: Option<&str>,
    pods: &[PodLabels],
    matches: impl Fn(&Map<String, Value>) -> bool,
) {
    let Some(namespace) = namespace else { return };
    for pod in pods {
        if pod.namespace == namespace && matches(&pod.labels) {
            asset.relate("selects", pod.id.clone());
        }
    }
}

/// Images run and objects used by a pod spec.
fn pod_references(asset: &mut Asset, spec: &Value, namespace: Option<&str>) {
    let used = |kind: &str, name: &str| object_id(kind, namespace, name);
    for container in containers(spec) {
        if let Some(image) = text(container.spec, "/image").filter(|i| !i.is_empty()) {
            asset.relate("runs", image_id(image));
        }
        for env in items(container.spec.get("env")) {
            if let Some(name) = text(env, "/valueFrom/configMapKeyRef/name") {
                asset.relate("uses", used("ConfigMap", name));
            }
            if let Some(name) = text(env, "/valueFrom/secretKeyRef/name") {
                asset.relate("uses", used("Secret", name));
            }
        }
        for source in items(container.spec.get("envFrom")) {
            if let Some(name) = text(source, "/configMapRef/name") {
                asset.relate("uses", used("ConfigMap", name));
            }
            if let Some(name) = text(source, "/secretRef/name") {
                asset.relate("uses", used("Secret", name));
            }
        }
    }
    for volume in items(spec.get("volumes")) {
        if let Some(name) = text(volume, "/configMap/name") {
            asset.relate("uses", used("ConfigMap", name));
        }
        if let Some(name) = text(volume, "/secret/secretName") {
            asset.relate("uses", used("Secret", name));
        }
        if let Some(name) = text(volume, "/persistentVolumeClaim/claimName") {
            asset.relate("uses", used("PersistentVolumeClaim", name));
        }
        for source in items(volume.pointer("/projected/sources")) {
            if let Some(name) = text(source, "/configMap/name") {
                asset.relate("uses", used("ConfigMap", name));
            }
            if let Some(name) = text(source, "/secret/name") {
                asset.relate("uses", used("Secret", name));
            }
        }
    }
    for secret in items(spec.get("imagePullSecrets")) {
        if let Some(name) = text(secret, "/name") {
            asset.relate("uses", used("Secret", name));
        }
    }
    let account = text(spec, "/serviceAccountName").or_else(|| text(spec, "/serviceAccount"));
    if let Some(account) = account.filter(|a| !a.is_empty()) {
        asset.relate("uses", used("ServiceAccount", account));
    }
    if let Some(node) = text(spec, "/nodeName").filter(|n| !n.is_empty()) {
        asset.relate("scheduledOn", object_id("Node", None, node));
    }
}

fn ingress_references(asset: &mut Asset, ingress: &Value, namespace: Option<&str>) {
    let mut backends: Vec<&Value> = ingress
        .pointer("/spec/defaultBackend")
        .into_iter()
        .collect();
    for rule in items(ingress.pointer("/spec/rules")) {
        backends.extend(items(rule.pointer("/http/paths")).filter_map(|p| p.get("backend")));
    }
    for backend in backends {
        if let Some(service) = text(backend, "/service/name") {
            asset.relate("dependsOn", object_id("Service", namespace, service));
        }
    }
    for tls in items(ingress.pointer("/spec/tls")) {
        if let Some(secret) = text(tls, "/secretName") {
            asset.relate("uses", object_id("Secret", namespace, secret));
        }
    }
}

fn binding_references(asset: &mut Asset, binding: &Value, namespace: Option<&str>) {
    if let (Some(kind), Some(name)) = (
        text(binding, "/roleRef/kind"),
        text(binding, "/roleRef/name"),
    ) {
        let role_namespace = namespace.filter(|_| !cluster_scoped(kind));
        asset.relate("uses", object_id(kind, role_namespace, name));
    }
    for subject in items(binding.get("subjects")) {
        if text(subject, "/kind") == Some("ServiceAccount") {
            let subject_namespace = text(subject, "/namespace").or(namespace);
            if let Some(name) = text(subject, "/name") {
                asset.relate(
                    "selects",
                    object_id("ServiceAccount", subject_namespace, name),
                );
            }
        }
    }
}

/// Whether `labels` has every `key: value` of an equality selector.
pub fn matches_labels(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    selector
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

/// Whether `labels` matches a `LabelSelector` (`matchLabels` and
/// `matchExpressions`; the empty selector matches everything). An
/// expression this code does not understand matches nothing.
pub fn matches_selector(selector: &Value, labels: &Map<String, Value>) -> bool {
    let equal = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| matches_labels(m, labels));
    equal
        && items(selector.get("matchExpressions")).all(|expression| {
            let Some(key) = text(expression, "/key") else {
                return false;
            };
            let value = labels.get(key).and_then(Value::as_str);
            let listed = || {
                items(expression.get("values")).any(|v| v.as_str().is_some() && v.as_str() == value)
            };
            match text(expression, "/operator") {
                Some("In") => listed(),
                Some("NotIn") => !listed(),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        })
}
