//! `security-audit`: Kubernetes objects checked against security rules,
//! offline.
//!
//! Objects come from manifest files ([`manifest`]) and/or a live cluster
//! (listed as `k8s-inventory` does, Secrets excepted: none is read). The
//! rules are pure functions over the objects' JSON, one file per family:
//!
//! * [`baseline`] and [`restricted`]: Pod Security Standards, on every pod
//!   template (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
//!   CronJob);
//! * [`rbac`]: roles that grant too much, bindings to cluster-admin;
//! * [`secrets`]: credentials in env values and ConfigMaps;
//! * [`network`]: workloads in namespaces without a NetworkPolicy;
//! * [`resources`]: containers without limits or requests.
//!
//! Each [`finding::Finding`] becomes a `finding` asset `findingOf` the
//! object. Live objects managed by another audited workload (a ReplicaSet's
//! pods, a Deployment's ReplicaSets) are not audited twice.

pub mod baseline;
pub mod finding;
pub mod manifest;
pub mod network;
pub mod rbac;
pub mod resources;
pub mod restricted;
pub mod secrets;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use cortex_consensus::plan::KubeTarget;
use serde_json::{json, Value};

use self::finding::{Finding, Rule, Subject};
use self::manifest::Manifest;
use crate::builtin::kube::pods::{items, pod_spec, text, WORKLOAD_KINDS};
use crate::builtin::kube::{self, list};
use crate::executor::Events;
use crate::protocol::Line;

/// Every rule, in the order of the table in `docs/builtins.md`.
pub static RULES: [&Rule; 27] = [
    &baseline::PRIVILEGED,
    &baseline::HOST_NAMESPACES,
    &baseline::HOST_PATH,
    &baseline::HOST_PORTS,
    &baseline::CAPABILITIES,
    &baseline::APPARMOR,
    &baseline::SELINUX,
    &baseline::PROC_MOUNT,
    &baseline::SECCOMP_UNCONFINED,
    &baseline::SYSCTLS,
    &restricted::VOLUME_TYPES,
    &restricted::PRIVILEGE_ESCALATION,
    &restricted::RUN_AS_NON_ROOT,
    &restricted::RUN_AS_ROOT_USER,
    &restricted::SECCOMP_MISSING,
    &restricted::CAPABILITIES_RESTRICTED,
    &rbac::WILDCARD,
    &rbac::CLUSTER_ADMIN_BINDING,
    &rbac::SECRETS_READ,
    &rbac::POD_EXEC,
    &rbac::IMPERSONATE,
    &rbac::ESCALATE_BIND,
    &secrets::IN_ENV,
    &secrets::IN_CONFIGMAP,
    &network::NETPOL_MISSING,
    &resources::LIMITS_MISSING,
    &resources::REQUESTS_MISSING,
];

/// The kinds read from a live cluster.
const AUDITED_KINDS: [&str; 13] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "ConfigMap",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "NetworkPolicy",
];

/// Runs `security-audit` on `manifests` and, if given, the `cluster`.
pub async fn run(
    manifests: &[String],
    cluster: Option<&KubeTarget>,
    events: &Events,
) -> Result<(), String> {
    let mut objects = manifest::load(manifests).await?;
    if !manifests.is_empty() {
        events.log(format!("{} objects read from manifests", objects.len()));
    }
    if let Some(target) = cluster {
        let client = kube::connect::client(target).await?;
        let kinds: Vec<list::Kind> = list::INVENTORY
            .into_iter()
            .filter(|k| AUDITED_KINDS.contains(&k.kind))
            .collect();
        let fetched = kube::fetch(&client, &kinds, &target.namespaces, events, 80).await?;
        events.log(format!(
            "{} objects read from the cluster",
            fetched.objects.len()
        ));
        objects.extend(fetched.objects.into_iter().map(|object| Manifest {
            object,
            source: "cluster".to_string(),
        }));
    }
    let findings = audit(&objects);
    let mut by_severity: BTreeMap<&str, u64> =
        ["critical", "high", "medium", "low"].map(|s| (s, 0)).into();
    let mut by_rule: BTreeMap<&str, u64> = BTreeMap::new();
    let mut accepted = 0;
    for finding in &findings {
        if finding.accepted.is_some() {
            accepted += 1;
        } else {
            *by_severity
                .entry(finding.rule.severity.as_str())
                .or_default() += 1;
        }
        *by_rule.entry(finding.rule.id).or_default() += 1;
        events.send(finding.asset().line());
    }
    events.send(Line::Progress {
        percent: 100,
        message: Some(format!("{} findings", findings.len())),
    });
    let result = json!({
        "objects": objects.len(),
        "findings": findings.len(),
        "accepted": accepted,
        "bySeverity": by_severity,
        "byRule": by_rule,
    });
    events.send(Line::Result(result.to_string()));
    Ok(())
}

/// Every finding on `objects`, once each (by id), in a stable order.
pub fn audit(objects: &[Manifest]) -> Vec<Finding> {
    let subjects: Vec<Subject> = objects
        .iter()
        .filter(|m| !managed(&m.object))
        .filter_map(|m| Subject::of(&m.object, &m.source))
        .collect();
    let mut out = Vec::new();
    for subject in &subjects {
        if let Some((spec, metadata)) = pod_spec(subject.object) {
            baseline::check(subject, spec, metadata, &mut out);
            restricted::check(subject, spec, &mut out);
            secrets::check_env(subject, spec, &mut out);
            resources::check(subject, spec, &mut out);
        }
        match subject.kind {
            "ConfigMap" => secrets::check_configmap(subject, &mut out),
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
                rbac::check(subject, &mut out)
            }
            _ => {}
        }
    }
    network::check(&subjects, &mut out);
    let mut seen = BTreeSet::new();
    out.retain(|finding| seen.insert(finding.id()));
    out
}

/// Whether a workload is run by another workload (its controller), which
/// is audited instead.
fn managed(object: &Value) -> bool {
    items(object.pointer("/metadata/ownerReferences")).any(|owner| {
        owner.get("controller") == Some(&Value::Bool(true))
            && text(owner, "/kind").is_some_and(|kind| WORKLOAD_KINDS.contains(&kind))
    })
}
