//! Resource hygiene: containers without limits or requests, which can
//! starve their node or be evicted first.
//!
//! A container with a limit and no request gets the limit as its request,
//! so only a resource with neither is reported as a missing request.
//! Ephemeral containers cannot have resources and are not checked.

use serde_json::Value;

use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::containers;

/// No CPU or memory limit.
pub static LIMITS_MISSING: Rule = Rule {
    id: "RES-LIMITS-MISSING",
    severity: Severity::Medium,
    family: "resources",
    title: "no CPU or memory limit",
    remediation: "Set resources.limits.cpu and resources.limits.memory on every container.",
};
/// No CPU or memory request.
pub static REQUESTS_MISSING: Rule = Rule {
    id: "RES-REQUESTS-MISSING",
    severity: Severity::Low,
    family: "resources",
    title: "no CPU or memory request",
    remediation: "Set resources.requests.cpu and resources.requests.memory so the scheduler reserves what the container needs.",
};

/// Checks the containers of a pod spec.
pub fn check(subject: &Subject, spec: &Value, out: &mut Vec<Finding>) {
    for container in containers(spec).filter(|c| c.list != "ephemeralContainers") {
        let has = |kind: &str, resource: &str| {
            container
                .spec
                .pointer(&format!("/resources/{kind}/{resource}"))
                .is_some_and(|v| !v.is_null())
        };
        let no_limit: Vec<&str> = ["cpu", "memory"]
            .into_iter()
            .filter(|r| !has("limits", r))
            .collect();
        let no_request: Vec<&str> = ["cpu", "memory"]
            .into_iter()
            .filter(|r| !has("requests", r) && !has("limits", r))
            .collect();
        for (rule, missing, what) in [
            (&LIMITS_MISSING, no_limit, "limit"),
            (&REQUESTS_MISSING, no_request, "request"),
        ] {
            if !missing.is_empty() {
                out.push(
                    subject
                        .finding(
                            rule,
                            format!(
                                "container {}: no {} {what}",
                                container.name,
                                missing.join(" or ")
                            ),
                        )
                        .in_container(container.name),
                );
            }
        }
    }
}
