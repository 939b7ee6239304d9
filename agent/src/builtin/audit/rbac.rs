//! RBAC: Roles and ClusterRoles that grant too much, and bindings to
//! `cluster-admin`.
//!
//! Each rule gives at most one finding per role, naming the offending
//! policy rules by index. Kubernetes' own bootstrap roles and bindings
//! (label `kubernetes.io/bootstrapping: rbac-defaults`, or a name starting
//! with `system:`) are not reported: they are the cluster's, not the
//! workload's.

use serde_json::Value;

use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::{items, text};

const FAMILY: &str = "rbac";

/// `*` in verbs, resources or apiGroups.
pub static WILDCARD: Rule = Rule {
    id: "RBAC-WILDCARD",
    severity: Severity::High,
    family: FAMILY,
    title: "wildcard in verbs, resources or apiGroups",
    remediation: "List the exact apiGroups, resources and verbs the subject needs instead of *.",
};
/// A binding to cluster-admin.
pub static CLUSTER_ADMIN_BINDING: Rule = Rule {
    id: "RBAC-CLUSTER-ADMIN-BINDING",
    severity: Severity::Critical,
    family: FAMILY,
    title: "binds cluster-admin",
    remediation: "Bind a Role or ClusterRole with only the permissions needed; keep cluster-admin for break-glass accounts.",
};
/// get/list/watch on secrets.
pub static SECRETS_READ: Rule = Rule {
    id: "RBAC-SECRETS-READ",
    severity: Severity::High,
    family: FAMILY,
    title: "reads secrets",
    remediation: "Remove get/list/watch on secrets, or restrict get to the named secrets (resourceNames) the subject needs.",
};
/// pods/exec and pods/attach.
pub static POD_EXEC: Rule = Rule {
    id: "RBAC-POD-EXEC",
    severity: Severity::High,
    family: FAMILY,
    title: "exec or attach into pods",
    remediation: "Remove create/get on pods/exec and pods/attach; use a debugging workflow with its own, audited role.",
};
/// impersonate.
pub static IMPERSONATE: Rule = Rule {
    id: "RBAC-IMPERSONATE",
    severity: Severity::High,
    family: FAMILY,
    title: "impersonates users, groups or service accounts",
    remediation: "Remove the impersonate verb; it lets the subject act with anyone's permissions.",
};
/// escalate and bind on roles.
pub static ESCALATE_BIND: Rule = Rule {
    id: "RBAC-ESCALATE-BIND",
    severity: Severity::High,
    family: FAMILY,
    title: "escalate or bind on roles",
    remediation: "Remove escalate and bind on roles/clusterroles; they let the subject grant itself any permission.",
};

/// Checks a Role, ClusterRole, RoleBinding or ClusterRoleBinding.
pub fn check(subject: &Subject, out: &mut Vec<Finding>) {
    if is_bootstrap(subject) {
        return;
    }
    match subject.kind {
        "Role" | "ClusterRole" => check_role(subject, out),
        "RoleBinding" | "ClusterRoleBinding" => {
            let role = text(subject.object, "/roleRef/name");
            if text(subject.object, "/roleRef/kind") == Some("ClusterRole")
                && role == Some("cluster-admin")
            {
                let subjects: Vec<String> = items(subject.object.get("subjects"))
                    .map(|s| {
                        format!(
                            "{} {}",
                            text(s, "/kind").unwrap_or("?"),
                            text(s, "/name").unwrap_or("?")
                        )
                    })
                    .collect();
                let who = if subjects.is_empty() {
                    "nobody".to_string()
                } else {
                    subjects.join(", ")
                };
                out.push(subject.finding(
                    &CLUSTER_ADMIN_BINDING,
                    format!("grants cluster-admin to {who}"),
                ));
            }
        }
        _ => {}
    }
}

fn is_bootstrap(subject: &Subject) -> bool {
    subject.name.starts_with("system:")
        || text(
            subject.object,
            "/metadata/labels/kubernetes.io~1bootstrapping",
        ) == Some("rbac-defaults")
}

/// One policy rule of a role.
struct PolicyRule<'a> {
    groups: Vec<&'a str>,
    resources: Vec<&'a str>,
    verbs: Vec<&'a str>,
    named: bool,
}

impl PolicyRule<'_> {
    fn of(rule: &Value) -> PolicyRule<'_> {
        let strings = |field: &str| {
            items(rule.get(field))
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
        };
        PolicyRule {
            groups: strings("apiGroups"),
            resources: strings("resources"),
            verbs: strings("verbs"),
            named: items(rule.get("resourceNames")).next().is_some(),
        }
    }

    fn verb(&self, verbs: &[&str]) -> bool {
        self.verbs.iter().any(|v| *v == "*" || verbs.contains(v))
    }

    fn resource(&self, group: &str, resources: &[&str]) -> bool {
        let in_group = self.groups.iter().any(|g| *g == "*" || *g == group);
        in_group
            && self
                .resources
                .iter()
                .any(|r| *r == "*" || resources.contains(r))
    }
}

fn check_role(subject: &Subject, out: &mut Vec<Finding>) {
    let rules: Vec<PolicyRule> = items(subject.object.get("rules"))
        .map(PolicyRule::of)
        .collect();
    let report = |out: &mut Vec<Finding>,
                  rule: &'static Rule,
                  what: &str,
                  matches: &dyn Fn(&PolicyRule) -> bool| {
        let indexes: Vec<String> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| matches(r))
            .map(|(i, _)| i.to_string())
            .collect();
        if !indexes.is_empty() {
            out.push(subject.finding(rule, format!("{what} (rules {})", indexes.join(", "))));
        }
    };
    report(
        out,
        &WILDCARD,
        "grants * in verbs, resources or apiGroups",
        &|r| {
            [&r.groups, &r.resources, &r.verbs]
                .iter()
                .any(|list| list.contains(&"*"))
        },
    );
    report(out, &SECRETS_READ, "can read secrets", &|r| {
        r.resource("", &["secrets"])
            && (r.verb(&["list", "watch"]) || (r.verb(&["get"]) && !r.named))
    });
    report(out, &POD_EXEC, "can exec or attach into pods", &|r| {
        r.resource("", &["pods/exec", "pods/attach", "pods/*"]) && r.verb(&["create", "get"])
    });
    report(out, &IMPERSONATE, "can impersonate", &|r| {
        r.verbs.contains(&"impersonate")
            || (r.verb(&["impersonate"]) && r.resource("", &["users", "groups", "serviceaccounts"]))
    });
    report(out, &ESCALATE_BIND, "can escalate or bind roles", &|r| {
        r.verb(&["escalate", "bind"])
            && r.resource("rbac.authorization.k8s.io", &["roles", "clusterroles"])
    });
}
