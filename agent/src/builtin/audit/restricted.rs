//! Pod Security Standards, restricted profile: the hardening controls on top
//! of the baseline, checked on every pod template.
//!
//! Container settings override the pod's, so each control is judged on the
//! effective value per container. Where the baseline already reports a
//! setting (hostPath, an Unconfined seccomp profile, capabilities outside
//! the baseline set), the restricted rule does not report it again: the
//! restricted profile allows adding only NET_BIND_SERVICE.

use serde_json::Value;

use super::baseline::BASELINE_CAPABILITIES;
use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::{containers, items, text};

const FAMILY: &str = "pss-restricted";

/// Volume types outside the restricted set.
pub static VOLUME_TYPES: Rule = Rule {
    id: "PSS-VOLUME-TYPES",
    severity: Severity::Medium,
    family: FAMILY,
    title: "volume type outside the restricted set",
    remediation: "Use only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret volumes.",
};
/// allowPrivilegeEscalation not false.
pub static PRIVILEGE_ESCALATION: Rule = Rule {
    id: "PSS-PRIVILEGE-ESCALATION",
    severity: Severity::Medium,
    family: FAMILY,
    title: "privilege escalation allowed",
    remediation: "Set securityContext.allowPrivilegeEscalation: false on every container.",
};
/// runAsNonRoot not true.
pub static RUN_AS_NON_ROOT: Rule = Rule {
    id: "PSS-RUN-AS-NON-ROOT",
    severity: Severity::Medium,
    family: FAMILY,
    title: "may run as root",
    remediation: "Set securityContext.runAsNonRoot: true on the pod (and not false on any container), with an image that has a non-root user.",
};
/// runAsUser 0.
pub static RUN_AS_ROOT_USER: Rule = Rule {
    id: "PSS-RUN-AS-ROOT-USER",
    severity: Severity::High,
    family: FAMILY,
    title: "runs as user 0",
    remediation: "Set securityContext.runAsUser to a non-zero uid (e.g. 10001), or leave it to the image's non-root user.",
};
/// No RuntimeDefault / Localhost seccomp profile.
pub static SECCOMP_MISSING: Rule = Rule {
    id: "PSS-SECCOMP-MISSING",
    severity: Severity::Medium,
    family: FAMILY,
    title: "no seccomp profile",
    remediation: "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
};
/// Capabilities not dropped, or added beyond NET_BIND_SERVICE.
pub static CAPABILITIES_RESTRICTED: Rule = Rule {
    id: "PSS-CAPABILITIES-RESTRICTED",
    severity: Severity::Medium,
    family: FAMILY,
    title: "capabilities not dropped",
    remediation: "Set securityContext.capabilities.drop: [ALL] on every container; add back only NET_BIND_SERVICE if it binds a low port.",
};

/// Volume sources the restricted profile allows.
const ALLOWED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Checks the pod spec `spec` of `subject`.
pub fn check(subject: &Subject, spec: &Value, out: &mut Vec<Finding>) {
    for volume in items(spec.get("volumes")) {
        let Some(fields) = volume.as_object() else {
            continue;
        };
        let kind = fields
            .keys()
            .find(|k| k.as_str() != "name" && k.as_str() != "hostPath");
        let listed = fields
            .keys()
            .any(|k| ALLOWED_VOLUMES.contains(&k.as_str()) || k == "hostPath");
        if let (Some(kind), false) = (kind, listed) {
            let name = text(volume, "/name").unwrap_or("?");
            out.push(
                subject
                    .finding(&VOLUME_TYPES, format!("volume {name} is of type {kind}"))
                    .with_detail(format!("volume/{name}")),
            );
        }
    }
    let pod = spec.get("securityContext").unwrap_or(&Value::Null);
    for container in containers(spec) {
        let security = container
            .spec
            .get("securityContext")
            .unwrap_or(&Value::Null);
        let effective = |pointer: &str| security.pointer(pointer).or_else(|| pod.pointer(pointer));
        let found = |rule: &'static Rule, message: &str| {
            subject
                .finding(rule, format!("container {}: {message}", container.name))
                .in_container(container.name)
        };
        if security.get("allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
            out.push(found(
                &PRIVILEGE_ESCALATION,
                "allowPrivilegeEscalation is not false",
            ));
        }
        if effective("/runAsNonRoot") != Some(&Value::Bool(true)) {
            out.push(found(&RUN_AS_NON_ROOT, "runAsNonRoot is not true"));
        }
        if effective("/runAsUser").and_then(Value::as_i64) == Some(0) {
            out.push(found(&RUN_AS_ROOT_USER, "runAsUser is 0"));
        }
        match effective("/seccompProfile/type").and_then(Value::as_str) {
            Some("RuntimeDefault" | "Localhost" | "Unconfined") => {}
            Some(other) => out.push(found(
                &SECCOMP_MISSING,
                &format!("seccompProfile type is {other}"),
            )),
            None => out.push(found(
                &SECCOMP_MISSING,
                "no seccompProfile on the pod or the container",
            )),
        }
        let drops_all = items(security.pointer("/capabilities/drop"))
            .filter_map(Value::as_str)
            .any(|c| c == "ALL");
        let extra: Vec<&str> = items(security.pointer("/capabilities/add"))
            .filter_map(Value::as_str)
            .map(|c| c.trim_start_matches("CAP_"))
            .filter(|c| *c != "NET_BIND_SERVICE" && BASELINE_CAPABILITIES.contains(c))
            .collect();
        if !drops_all || !extra.is_empty() {
            let mut problems = Vec::new();
            if !drops_all {
                problems.push("does not drop ALL".to_string());
            }
            if !extra.is_empty() {
                problems.push(format!("adds {}", extra.join(", ")));
            }
            out.push(found(&CAPABILITIES_RESTRICTED, &problems.join(", ")));
        }
    }
}
