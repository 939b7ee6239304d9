//! Listing Kubernetes resources as plain JSON objects.
//!
//! Objects are read through kube's dynamic API (`DynamicObject`), so the
//! inventory and the audit see exactly what the server sent, with `kind` and
//! `apiVersion` filled in (list items lack them). Secrets are listed through
//! the metadata API (`PartialObjectMetadataList`), so their `data` never
//! reaches this process, and their annotations (where `kubectl apply` keeps
//! a copy of the values) are dropped on arrival. Lists are paged, and
//! bounded per kind.

use std::collections::BTreeSet;

use kube::api::{ApiResource, DynamicObject, ListParams, ObjectList};
use kube::{Api, Client};
use serde_json::{json, Value};

/// Objects asked for per request.
const PAGE_SIZE: u32 = 500;
/// Most objects kept per kind and namespace; the rest is left out (logged).
pub const MAX_OBJECTS_PER_KIND: usize = 20_000;

/// A resource type this crate lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// `Pod`, `Deployment`, ...
    pub kind: &'static str,
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Plural resource name, as in the URL.
    pub plural: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Read metadata only (values must never be fetched).
    pub metadata_only: bool,
}

const fn kind(
    kind: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        kind,
        group,
        version,
        plural,
        namespaced,
        metadata_only: false,
    }
}

/// Namespaces.
pub const NAMESPACES: Kind = kind("Namespace", "", "v1", "namespaces", false);
/// Secrets, metadata only.
pub const SECRETS: Kind = Kind {
    metadata_only: true,
    ..kind("Secret", "", "v1", "secrets", true)
};

/// Everything `k8s-inventory` lists, in this order.
pub const INVENTORY: [Kind; 20] = [
    NAMESPACES,
    kind("Node", "", "v1", "nodes", false),
    kind("Pod", "", "v1", "pods", true),
    kind("Deployment", "apps", "v1", "deployments", true),
    kind("ReplicaSet", "apps", "v1", "replicasets", true),
    kind("DaemonSet", "apps", "v1", "daemonsets", true),
    kind("StatefulSet", "apps", "v1", "statefulsets", true),
    kind("Job", "batch", "v1", "jobs", true),
    kind("CronJob", "batch", "v1", "cronjobs", true),
    kind("Service", "", "v1", "services", true),
    kind("Ingress", "networking.k8s.io", "v1", "ingresses", true),
    kind("ConfigMap", "", "v1", "configmaps", true),
    SECRETS,
    kind("ServiceAccount", "", "v1", "serviceaccounts", true),
    kind("Role", "rbac.authorization.k8s.io", "v1", "roles", true),
    kind(
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        true,
    ),
    kind(
        "ClusterRole",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        false,
    ),
    kind(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        false,
    ),
    kind(
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        true,
    ),
    kind(
        "PersistentVolumeClaim",
        "",
        "v1",
        "persistentvolumeclaims",
        true,
    ),
];

impl Kind {
    fn resource(&self) -> ApiResource {
        let api_version = if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        ApiResource {
            group: self.group.to_string(),
            version: self.version.to_string(),
            api_version,
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

/// Why a kind could not be listed.
#[derive(Debug)]
pub enum ListError {
    /// The server refused (403) or does not serve the resource (404): the
    /// kind is skipped, the rest goes on.
    Skipped(String),
    /// Anything else (unreachable, unauthenticated, bad answer): the
    /// builtin fails with this message.
    Failed(String),
}

/// What one kind's listing gave.
#[derive(Debug, Default)]
pub struct Listed {
    /// The objects, with `kind` and `apiVersion` set.
    pub objects: Vec<Value>,
    /// Whether objects were left out at [`MAX_OBJECTS_PER_KIND`].
    pub truncated: bool,
}

/// Lists `kind` cluster-wide, or in each of `namespaces` if it is
/// namespaced and some are given.
pub async fn list(
    client: &Client,
    kind: &Kind,
    namespaces: &[String],
) -> Result<Listed, ListError> {
    let resource = kind.resource();
    let mut listed = Listed::default();
    if kind.namespaced && !namespaces.is_empty() {
        let unique: BTreeSet<&String> = namespaces.iter().collect();
        for namespace in unique {
            let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
            list_pages(&api, kind, &mut listed).await?;
        }
    } else {
        let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
        list_pages(&api, kind, &mut listed).await?;
    }
    Ok(listed)
}

async fn list_pages(
    api: &Api<DynamicObject>,
    kind: &Kind,
    listed: &mut Listed,
) -> Result<(), ListError> {
    let api_version = kind.resource().api_version;
    let mut params = ListParams::default().limit(PAGE_SIZE);
    let mut kept = 0;
    loop {
        let (objects, next) = if kind.metadata_only {
            let page = api
                .list_metadata(&params)
                .await
                .map_err(|e| error(kind, e))?;
            let objects: Vec<Value> = page
                .items
                .into_iter()
                .map(|mut item| {
                    // `kubectl apply` leaves a Secret's values in an annotation.
                    item.metadata.annotations = None;
                    item.metadata.managed_fields = None;
                    json!({"metadata": item.metadata})
                })
                .collect();
            (objects, page.metadata.continue_)
        } else {
            let page: ObjectList<DynamicObject> =
                api.list(&params).await.map_err(|e| error(kind, e))?;
            let next = page.metadata.continue_.clone();
            let objects = page
                .items
                .into_iter()
                .filter_map(|item| serde_json::to_value(item).ok())
                .collect();
            (objects, next)
        };
        for mut object in objects {
            if kept == MAX_OBJECTS_PER_KIND {
                listed.truncated = true;
                return Ok(());
            }
            if let Some(fields) = object.as_object_mut() {
                fields.insert("kind".into(), Value::from(kind.kind));
                fields.insert("apiVersion".into(), Value::from(api_version.as_str()));
                listed.objects.push(object);
                kept += 1;
            }
        }
        match next.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

fn error(kind: &Kind, error: kube::Error) -> ListError {
    let what = format!("listing {} ({})", kind.plural, kind.resource().api_version);
    match &error {
        kube::Error::Api(status) if status.code == 403 || status.code == 404 => {
            ListError::Skipped(format!("{what}: {} {}", status.code, status.message))
        }
        _ => ListError::Failed(format!("{what}: {error}")),
    }
}
