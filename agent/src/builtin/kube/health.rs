//! Health of Kubernetes objects, read from their status.
//!
//! | kind | healthy | degraded | unhealthy |
//! |---|---|---|---|
//! | Pod | Running with every container ready, or Succeeded | Pending, or Running with a container not ready | Failed, or a container crash-looping / unable to pull its image |
//! | Deployment, StatefulSet, ReplicaSet, DaemonSet | every replica available | some available | none available |
//! | Job | complete or running | | failed |
//! | Node | Ready | Ready but cordoned or under pressure | not Ready |
//! | Namespace | Active | Terminating | |
//! | PersistentVolumeClaim | Bound | Pending | Lost |
//!
//! Other kinds carry no health; an unreadable status is `unknown`.

use serde_json::Value;

use super::asset::Health;
use super::pods::{items, text};

/// Container waiting reasons that mean the pod is not going to work.
const BROKEN_REASONS: [&str; 6] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "RunContainerError",
];

/// The health of `object`, if its kind has one.
pub fn health(object: &Value) -> Option<Health> {
    let status = object.get("status").unwrap_or(&Value::Null);
    match text(object, "/kind")? {
        "Pod" => Some(pod(status)),
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let desired = count(object, "/spec/replicas").unwrap_or(1);
            let available = count(status, "/availableReplicas")
                .or_else(|| count(status, "/readyReplicas"))
                .unwrap_or(0);
            Some(replicas(desired, available))
        }
        "DaemonSet" => {
            let desired = count(status, "/desiredNumberScheduled").unwrap_or(0);
            let available = count(status, "/numberAvailable").unwrap_or(0);
            Some(replicas(desired, available))
        }
        "Job" => Some(job(status)),
        "Node" => Some(node(object, status)),
        "Namespace" => Some(match text(status, "/phase") {
            Some("Active") => Health::new("healthy", "Active"),
            Some("Terminating") => Health::new("degraded", "Terminating"),
            _ => unknown(),
        }),
        "PersistentVolumeClaim" => Some(match text(status, "/phase") {
            Some("Bound") => Health::new("healthy", "Bound"),
            Some("Pending") => Health::new("degraded", "Pending"),
            Some("Lost") => Health::new("unhealthy", "Lost: its volume is gone"),
            _ => unknown(),
        }),
        _ => None,
    }
}

fn unknown() -> Health {
    Health::new("unknown", "no status reported")
}

fn count(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

fn replicas(desired: u64, available: u64) -> Health {
    let message = format!("{available}/{desired} available");
    if available >= desired {
        Health::new("healthy", message)
    } else if available == 0 {
        Health::new("unhealthy", message)
    } else {
        Health::new("degraded", message)
    }
}

fn pod(status: &Value) -> Health {
    let statuses: Vec<&Value> = ["/containerStatuses", "/initContainerStatuses"]
        .into_iter()
        .flat_map(|list| items(status.pointer(list)))
        .collect();
    let broken = statuses.iter().find_map(|s| {
        let reason = text(s, "/state/waiting/reason")?;
        BROKEN_REASONS
            .contains(&reason)
            .then(|| format!("container {}: {reason}", text(s, "/name").unwrap_or("?")))
    });
    if let Some(message) = broken {
        return Health::new("unhealthy", message);
    }
    match text(status, "/phase") {
        Some("Running") => {
            let not_ready: Vec<&str> = items(status.pointer("/containerStatuses"))
                .filter(|s| s.get("ready") != Some(&Value::Bool(true)))
                .map(|s| text(s, "/name").unwrap_or("?"))
                .collect();
            if not_ready.is_empty() {
                Health::new("healthy", "Running")
            } else {
                Health::new(
                    "degraded",
                    format!("Running; not ready: {}", not_ready.join(", ")),
                )
            }
        }
        Some("Succeeded") => Health::new("healthy", "Succeeded"),
        Some("Pending") => {
            let reason = items(status.pointer("/conditions"))
                .find(|c| text(c, "/status") == Some("False"))
                .and_then(|c| text(c, "/reason").or_else(|| text(c, "/type")));
            Health::new(
                "degraded",
                format!(
                    "Pending{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            )
        }
        Some("Failed") => Health::new(
            "unhealthy",
            format!(
                "Failed{}",
                text(status, "/reason")
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        _ => unknown(),
    }
}

fn job(status: &Value) -> Health {
    let condition = |kind: &str| {
        items(status.pointer("/conditions"))
            .any(|c| text(c, "/type") == Some(kind) && text(c, "/status") == Some("True"))
    };
    if condition("Failed") {
        Health::new("unhealthy", "Failed")
    } else if condition("Complete") {
        Health::new("healthy", "Complete")
    } else if count(status, "/active").unwrap_or(0) > 0 {
        Health::new("healthy", "Running")
    } else {
        unknown()
    }
}

fn node(object: &Value, status: &Value) -> Health {
    let condition = |kind: &str| {
        items(status.pointer("/conditions"))
            .find(|c| text(c, "/type") == Some(kind))
            .and_then(|c| text(c, "/status"))
    };
    match condition("Ready") {
        Some("True") => {}
        Some("False") => return Health::new("unhealthy", "NotReady"),
        _ => return Health::new("unknown", "Ready condition unknown (kubelet not reporting)"),
    }
    let pressure: Vec<&str> = [
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
        "NetworkUnavailable",
    ]
    .into_iter()
    .filter(|kind| condition(kind) == Some("True"))
    .collect();
    if !pressure.is_empty() {
        Health::new("degraded", format!("Ready; {}", pressure.join(", ")))
    } else if object.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        Health::new("degraded", "Ready; cordoned")
    } else {
        Health::new("healthy", "Ready")
    }
}
