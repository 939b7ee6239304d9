//! Network isolation: workloads in a namespace that has no NetworkPolicy,
//! so their pods accept and send any traffic.
//!
//! Judged over all audited objects at once: a NetworkPolicy anywhere in the
//! same namespace (from the same manifests or the same cluster) counts.

use std::collections::BTreeSet;

use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::pod_spec;

/// A workload in a namespace without NetworkPolicy.
pub static NETPOL_MISSING: Rule = Rule {
    id: "NETPOL-MISSING",
    severity: Severity::Medium,
    family: "network",
    title: "namespace has no NetworkPolicy",
    remediation: "Add a default-deny NetworkPolicy to the namespace and policies that allow only the traffic the workload needs.",
};

/// Checks every workload in `subjects` against the NetworkPolicies among them.
pub fn check(subjects: &[Subject], out: &mut Vec<Finding>) {
    let covered: BTreeSet<&str> = subjects
        .iter()
        .filter(|s| s.kind == "NetworkPolicy")
        .filter_map(|s| s.namespace)
        .collect();
    for subject in subjects {
        let Some(namespace) = subject.namespace else {
            continue;
        };
        if pod_spec(subject.object).is_some() && !covered.contains(namespace) {
            out.push(subject.finding(
                &NETPOL_MISSING,
                format!("namespace {namespace} has no NetworkPolicy: its pods accept and send any traffic"),
            ));
        }
    }
}
