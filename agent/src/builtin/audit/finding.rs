//! Rules, findings, and findings as catalog assets.
//!
//! A [`Rule`] is static: id, severity, family, title and remediation (the
//! table in `docs/builtins.md`). A [`Finding`] is one rule broken by one
//! object (and container, env var or key where that matters); it becomes an
//! asset of type `finding`, `findingOf` the object's asset, with an id that
//! stays the same across runs: `finding/<rule>/<object id>[#<detail>]`.
//!
//! An object may accept a rule's findings on purpose with the annotation
//! `audit.cortex.dev/accept-<RULE-ID>: "<reason>"` (like kube-score's or
//! Polaris's exemptions): its findings are still reported, with the reason,
//! but tagged `accepted` and healthy, and gates (`cortex audit --fail-on`)
//! do not count them. A waiver without a reason is no waiver.

use serde_json::{json, Value};

/// Prefix of the annotation that accepts a rule's findings on an object.
pub const ACCEPT_ANNOTATION: &str = "audit.cortex.dev/accept-";
/// Longest reason kept.
const MAX_REASON: usize = 256;

use crate::builtin::kube::asset::{cluster_scoped, make_id, object_id, Asset, Health};
use crate::builtin::kube::pods::text;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Exploitable as it is, usually cluster-wide (privileged pods, cluster-admin).
    Critical,
    /// A direct path to escalation or to secrets.
    High,
    /// Weakens isolation or defence in depth.
    Medium,
    /// Hygiene.
    Low,
}

impl Severity {
    /// `critical`, `high`, `medium` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// The health of the finding asset: critical and high are unhealthy.
    pub fn health(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "unhealthy",
            Severity::Medium | Severity::Low => "degraded",
        }
    }
}

/// One check.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `PSS-PRIVILEGED`.
    pub id: &'static str,
    /// Severity of every finding of this rule.
    pub severity: Severity,
    /// Family: `pss-baseline`, `pss-restricted`, `rbac`, `secrets`,
    /// `network` or `resources`.
    pub family: &'static str,
    /// What the rule checks, in a few words.
    pub title: &'static str,
    /// What to do about a finding.
    pub remediation: &'static str,
}

/// A Kubernetes object being audited.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The object.
    pub object: &'a Value,
    /// Its kind.
    pub kind: &'a str,
    /// Its namespace: as written, or `default` for a namespaced object
    /// without one (where `kubectl apply` would put it).
    pub namespace: Option<&'a str>,
    /// Its name.
    pub name: &'a str,
    /// Where it was read: a manifest file, or `cluster`.
    pub source: &'a str,
}

impl<'a> Subject<'a> {
    /// The subject of `object`, if it has a kind and a name.
    pub fn of(object: &'a Value, source: &'a str) -> Option<Subject<'a>> {
        let kind = text(object, "/kind")?;
        let name = text(object, "/metadata/name").filter(|n| !n.is_empty())?;
        let namespace = match text(object, "/metadata/namespace").filter(|n| !n.is_empty()) {
            _ if cluster_scoped(kind) => None,
            Some(namespace) => Some(namespace),
            None => Some("default"),
        };
        Some(Subject {
            object,
            kind,
            namespace,
            name,
            source,
        })
    }

    /// Its asset id, as `k8s-inventory` reports it.
    pub fn id(&self) -> String {
        object_id(self.kind, self.namespace, self.name)
    }

    /// A finding of `rule` on this object.
    pub fn finding(&self, rule: &'static Rule, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            kind: self.kind.to_string(),
            namespace: self.namespace.map(str::to_string),
            name: self.name.to_string(),
            object_id: self.id(),
            container: None,
            detail: None,
            message: message.into(),
            source: self.source.to_string(),
            accepted: self.acceptance(rule),
        }
    }

    /// The reason the object gives for accepting `rule`'s findings, if any.
    fn acceptance(&self, rule: &Rule) -> Option<String> {
        let annotations = self.object.pointer("/metadata/annotations")?;
        let reason = annotations
            .get(format!("{ACCEPT_ANNOTATION}{}", rule.id))?
            .as_str()?
            .trim();
        if reason.is_empty() {
            return None;
        }
        Some(reason.chars().take(MAX_REASON).collect())
    }
}

/// One rule broken by one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// The object's kind.
    pub kind: String,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// The object's asset id.
    pub object_id: String,
    /// The container concerned, if any.
    pub container: Option<String>,
    /// What else tells this finding apart: an env var, a ConfigMap key.
    pub detail: Option<String>,
    /// What is wrong, for people. Never a secret value.
    pub message: String,
    /// The manifest file, or `cluster`.
    pub source: String,
    /// Why the object accepts this finding (its waiver annotation), if it does.
    pub accepted: Option<String>,
}

impl Finding {
    /// The same finding, about `container`.
    pub fn in_container(mut self, container: &str) -> Finding {
        self.container = Some(container.to_string());
        self
    }

    /// The same finding, told apart by `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = Some(detail.into());
        self
    }

    /// The container and detail, where there are.
    fn within(&self) -> Vec<&str> {
        [self.container.as_deref(), self.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Its stable id.
    pub fn id(&self) -> String {
        let mut id = format!("finding/{}/{}", self.rule.id, self.object_id);
        let parts = self.within();
        if !parts.is_empty() {
            id.push('#');
            id.push_str(&parts.join("/"));
        }
        make_id(&id)
    }

    /// The `finding` asset.
    pub fn asset(&self) -> Asset {
        let rule = self.rule;
        let within = self.within();
        let within = if within.is_empty() {
            String::new()
        } else {
            format!(" ({})", within.join(" "))
        };
        let name = format!("{} {}/{}{within}", rule.id, self.kind, self.name);
        let mut asset = Asset::new(self.id(), name, "finding");
        asset.namespace = self.namespace.clone();
        asset.tags = vec![
            rule.id.to_string(),
            rule.severity.as_str().to_string(),
            rule.family.to_string(),
        ];
        if self.accepted.is_some() {
            asset.tags.push("accepted".to_string());
        }
        asset.set("rule", rule.id);
        asset.set("title", rule.title);
        asset.set("severity", rule.severity.as_str());
        asset.set("family", rule.family);
        let object = json!({"kind": self.kind, "namespace": self.namespace, "name": self.name});
        asset.set("object", object);
        asset.set("container", self.container.as_deref());
        asset.set("detail", self.detail.as_deref());
        asset.set("message", self.message.as_str());
        asset.set("remediation", rule.remediation);
        asset.set("source", self.source.as_str());
        asset.set("accepted", self.accepted.as_deref());
        let health = match self.accepted {
            Some(_) => "healthy",
            None => rule.severity.health(),
        };
        asset.health = Some(Health::new(health, self.message.as_str()));
        asset.relate("findingOf", self.object_id.clone());
        asset
    }
}
