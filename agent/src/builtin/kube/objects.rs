//! Kubernetes objects and their images as catalog assets (without their
//! relations, which [`super::lineage`] adds).
//!
//! Metadata is a summary chosen per kind: never annotations (a Secret's
//! `last-applied-configuration` holds its values), never `data`, and for
//! ConfigMaps only the keys.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::asset::{image_id, object_id, object_type, Asset};
use super::health::health;
use super::pods::{containers, items, pod_spec, text};

/// The asset of `object`, if it has a kind and a name.
pub fn object_asset(object: &Value) -> Option<Asset> {
    let kind = text(object, "/kind")?;
    let name = text(object, "/metadata/name").filter(|n| !n.is_empty())?;
    let namespace = text(object, "/metadata/namespace").filter(|n| !n.is_empty());
    let mut asset = Asset::new(object_id(kind, namespace, name), name, object_type(kind));
    asset.namespace = namespace.map(str::to_string);
    asset.set("kind", kind);
    asset.set(
        "apiVersion",
        object.get("apiVersion").cloned().unwrap_or_default(),
    );
    asset.set(
        "uid",
        object.pointer("/metadata/uid").cloned().unwrap_or_default(),
    );
    asset.set(
        "createdAt",
        object
            .pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or_default(),
    );
    if let Some(labels) = object.pointer("/metadata/labels").filter(|l| l.is_object()) {
        asset.set("labels", labels.clone());
    }
    asset.health = health(object);
    summarize(&mut asset, kind, object);
    Some(asset)
}

/// Adds what is worth knowing of each kind.
fn summarize(asset: &mut Asset, kind: &str, object: &Value) {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let status = object.get("status").unwrap_or(&Value::Null);
    let copy = |asset: &mut Asset, key: &str, from: &Value, pointer: &str| {
        asset.set(key, from.pointer(pointer).cloned().unwrap_or_default());
    };
    if let Some((pod, _)) = pod_spec(object) {
        let images: Vec<&str> = containers(pod)
            .filter_map(|c| text(c.spec, "/image"))
            .collect();
        asset.set("images", json!(images));
        asset.set(
            "containers",
            json!(containers(pod).map(|c| c.name).collect::<Vec<_>>()),
        );
        copy(asset, "serviceAccount", pod, "/serviceAccountName");
    }
    match kind {
        "Pod" => {
            copy(asset, "phase", status, "/phase");
            copy(asset, "node", spec, "/nodeName");
            copy(asset, "podIP", status, "/podIP");
            copy(asset, "qosClass", status, "/qosClass");
            let restarts: u64 = items(status.pointer("/containerStatuses"))
                .filter_map(|s| s.get("restartCount").and_then(Value::as_u64))
                .sum();
            asset.set("restarts", restarts);
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            copy(asset, "replicas", spec, "/replicas");
            copy(asset, "readyReplicas", status, "/readyReplicas");
            copy(asset, "availableReplicas", status, "/availableReplicas");
        }
        "DaemonSet" => {
            copy(asset, "desired", status, "/desiredNumberScheduled");
            copy(asset, "ready", status, "/numberReady");
            copy(asset, "available", status, "/numberAvailable");
        }
        "Job" => {
            for key in [
                "active",
                "succeeded",
                "failed",
                "startTime",
                "completionTime",
            ] {
                copy(asset, key, status, &format!("/{key}"));
            }
        }
        "CronJob" => {
            copy(asset, "schedule", spec, "/schedule");
            copy(asset, "suspend", spec, "/suspend");
            copy(asset, "lastScheduleTime", status, "/lastScheduleTime");
        }
        "Service" => {
            copy(asset, "serviceType", spec, "/type");
            copy(asset, "clusterIP", spec, "/clusterIP");
            copy(asset, "selector", spec, "/selector");
            let ports: Vec<String> = items(spec.get("ports"))
                .map(|p| {
                    let port = p.get("port").map(Value::to_string).unwrap_or_default();
                    format!("{port}/{}", text(p, "/protocol").unwrap_or("TCP"))
                })
                .collect();
            asset.set("ports", json!(ports));
        }
        "Ingress" => {
            copy(asset, "ingressClass", spec, "/ingressClassName");
            let hosts: Vec<&str> = items(spec.get("rules"))
                .filter_map(|r| text(r, "/host"))
                .collect();
            asset.set("hosts", json!(hosts));
            asset.set("tls", items(spec.get("tls")).next().is_some());
        }
        "ConfigMap" => {
            let keys: Vec<&String> = ["data", "binaryData"]
                .into_iter()
                .filter_map(|field| object.get(field).and_then(Value::as_object))
                .flat_map(Map::keys)
                .collect();
            asset.set("keys", json!(keys));
        }
        "Role" | "ClusterRole" => {
            asset.set("rules", object.get("rules").cloned().unwrap_or_default());
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            asset.set(
                "roleRef",
                object.get("roleRef").cloned().unwrap_or_default(),
            );
            asset.set(
                "subjects",
                object.get("subjects").cloned().unwrap_or_default(),
            );
        }
        "NetworkPolicy" => {
            copy(asset, "podSelector", spec, "/podSelector");
            copy(asset, "policyTypes", spec, "/policyTypes");
        }
        "PersistentVolumeClaim" => {
            copy(asset, "phase", status, "/phase");
            copy(asset, "storageClass", spec, "/storageClassName");
            copy(asset, "volume", spec, "/volumeName");
            copy(asset, "accessModes", spec, "/accessModes");
            copy(asset, "capacity", status, "/capacity/storage");
        }
        "Node" => node(asset, object),
        "Namespace" => copy(asset, "phase", status, "/phase"),
        _ => {}
    }
}

fn node(asset: &mut Asset, object: &Value) {
    let info = object.pointer("/status/nodeInfo").unwrap_or(&Value::Null);
    for (key, pointer) in [
        ("kubeletVersion", "/kubeletVersion"),
        ("osImage", "/osImage"),
        ("kernelVersion", "/kernelVersion"),
        ("containerRuntime", "/containerRuntimeVersion"),
        ("architecture", "/architecture"),
    ] {
        asset.set(key, info.pointer(pointer).cloned().unwrap_or_default());
    }
    asset.set(
        "cpu",
        object
            .pointer("/status/capacity/cpu")
            .cloned()
            .unwrap_or_default(),
    );
    asset.set(
        "memory",
        object
            .pointer("/status/capacity/memory")
            .cloned()
            .unwrap_or_default(),
    );
    let roles: Vec<&str> = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::keys)
        .filter_map(|label| label.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    asset.set("roles", json!(roles));
    let internal_ip = items(object.pointer("/status/addresses"))
        .find(|a| text(a, "/type") == Some("InternalIP"))
        .and_then(|a| text(a, "/address"));
    asset.set("internalIP", internal_ip);
    asset.set(
        "unschedulable",
        object
            .pointer("/spec/unschedulable")
            .cloned()
            .unwrap_or_default(),
    );
}

/// The images run by `objects`: one asset each, with the digest the
/// kubelet resolved when a pod reports it.
pub fn image_assets(objects: &[Value]) -> Vec<Asset> {
    let mut images: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for object in objects {
        let Some((spec, _)) = pod_spec(object) else {
            continue;
        };
        for container in containers(spec) {
            if let Some(image) = text(container.spec, "/image").filter(|i| !i.is_empty()) {
                images.entry(image).or_default();
            }
        }
        for list in ["/status/containerStatuses", "/status/initContainerStatuses"] {
            for status in items(object.pointer(list)) {
                if let (Some(image), Some(id)) = (text(status, "/image"), text(status, "/imageID"))
                {
                    if let (Some(slot), Some(digest)) = (images.get_mut(image), digest(id)) {
                        *slot = Some(digest);
                    }
                }
            }
        }
    }
    images
        .into_iter()
        .map(|(reference, digest)| image_asset(reference, digest))
        .collect()
}

fn image_asset(reference: &str, digest: Option<&str>) -> Asset {
    let parts = ImageReference::parse(reference);
    let mut asset = Asset::new(image_id(reference), reference, "image");
    asset.set("reference", reference);
    asset.set("registry", parts.registry);
    asset.set("repository", parts.repository);
    asset.set("tag", parts.tag);
    asset.set("digest", parts.digest.or(digest));
    asset
}

/// `sha256:...` out of an `imageID` such as `docker-pullable://x@sha256:...`.
fn digest(image_id: &str) -> Option<&str> {
    image_id.find("sha256:").map(|at| &image_id[at..])
}

/// The parts of an image reference, as `docker pull` reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageReference<'a> {
    /// Registry host (`docker.io` when none is named).
    pub registry: &'a str,
    /// Repository path.
    pub repository: &'a str,
    /// Tag (`latest` when neither tag nor digest is given).
    pub tag: Option<&'a str>,
    /// Digest, if pinned.
    pub digest: Option<&'a str>,
}

impl<'a> ImageReference<'a> {
    /// Splits `reference`; never fails (an odd reference is all repository).
    pub fn parse(reference: &'a str) -> ImageReference<'a> {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (reference, None),
        };
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (name, None),
        };
        let tag = tag.or(if digest.is_none() {
            Some("latest")
        } else {
            None
        });
        let (registry, repository) = match name.split_once('/') {
            Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (host, rest),
            _ => ("docker.io", name),
        };
        ImageReference {
            registry,
            repository,
            tag,
            digest,
        }
    }
}
