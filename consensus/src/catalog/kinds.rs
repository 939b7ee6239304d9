//! The closed vocabularies of the catalog: asset types, relation types (each
//! with the name it reads by from the other side) and health statuses.
//!
//! They are part of the worker protocol (`{"asset": {...}}` lines), so their
//! spelling is fixed here and checked on every write.

use serde::{Deserialize, Serialize};

/// Asset types other than Kubernetes objects.
pub const PLAIN_ASSET_TYPES: [&str; 12] = [
    "repository",
    "branch",
    "commit",
    "person",
    "image",
    "service",
    "finding",
    "document",
    "agent",
    "master",
    "worker",
    "team",
];

/// Prefix of Kubernetes object types: `k8s.<kind lowercased>`.
pub const K8S_TYPE_PREFIX: &str = "k8s.";

/// Longest asset type accepted.
pub const MAX_TYPE_LEN: usize = 64;

/// Checks an asset type: one of [`PLAIN_ASSET_TYPES`], or `k8s.` followed by
/// a Kubernetes kind in lower case (`k8s.pod`, `k8s.deployment`, ...).
pub fn check_asset_type(kind: &str) -> Result<(), String> {
    if PLAIN_ASSET_TYPES.contains(&kind) {
        return Ok(());
    }
    if let Some(k8s_kind) = kind.strip_prefix(K8S_TYPE_PREFIX) {
        let valid = !k8s_kind.is_empty()
            && kind.len() <= MAX_TYPE_LEN
            && k8s_kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if valid {
            return Ok(());
        }
        return Err(format!(
            "type {kind:?}: a Kubernetes type is \"k8s.\" and the kind in lower case letters and digits (k8s.pod, k8s.deployment)"
        ));
    }
    Err(format!(
        "type {kind:?} is unknown; use k8s.<kind> or one of {}",
        PLAIN_ASSET_TYPES.join(", ")
    ))
}

/// A directed relation between two assets. It is stored once, on the asset
/// that declares it (the "from" side), and read from the target by its
/// inverse name: `web-1 ownedBy rs-1` reads `rs-1 ownerOf web-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RelationType {
    /// `ownedBy` / `ownerOf`.
    OwnedBy,
    /// `dependsOn` / `dependencyOf`.
    DependsOn,
    /// `runs` / `runsOn`.
    Runs,
    /// `derivedFrom` / `produced`.
    DerivedFrom,
    /// `findingOf` / `hasFinding`.
    FindingOf,
    /// `contains` / `containedIn`.
    Contains,
    /// `selects` / `selectedBy`.
    Selects,
    /// `uses` / `usedBy`.
    Uses,
    /// `authoredBy` / `authored`.
    AuthoredBy,
    /// `memberOf` / `hasMember`.
    MemberOf,
    /// `scheduledOn` / `hosts`.
    ScheduledOn,
}

impl RelationType {
    /// Every relation type.
    pub const ALL: [RelationType; 11] = [
        RelationType::OwnedBy,
        RelationType::DependsOn,
        RelationType::Runs,
        RelationType::DerivedFrom,
        RelationType::FindingOf,
        RelationType::Contains,
        RelationType::Selects,
        RelationType::Uses,
        RelationType::AuthoredBy,
        RelationType::MemberOf,
        RelationType::ScheduledOn,
    ];

    /// The declared name, read from the declaring asset.
    pub fn name(self) -> &'static str {
        self.names().0
    }

    /// The inverse name, read from the target.
    pub fn inverse_name(self) -> &'static str {
        self.names().1
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            RelationType::OwnedBy => ("ownedBy", "ownerOf"),
            RelationType::DependsOn => ("dependsOn", "dependencyOf"),
            RelationType::Runs => ("runs", "runsOn"),
            RelationType::DerivedFrom => ("derivedFrom", "produced"),
            RelationType::FindingOf => ("findingOf", "hasFinding"),
            RelationType::Contains => ("contains", "containedIn"),
            RelationType::Selects => ("selects", "selectedBy"),
            RelationType::Uses => ("uses", "usedBy"),
            RelationType::AuthoredBy => ("authoredBy", "authored"),
            RelationType::MemberOf => ("memberOf", "hasMember"),
            RelationType::ScheduledOn => ("scheduledOn", "hosts"),
        }
    }

    /// Parses a declared name. An inverse name is refused with a message
    /// saying which relation to declare on the other asset instead.
    pub fn parse(name: &str) -> Result<RelationType, String> {
        if let Some(kind) = RelationType::ALL.iter().find(|k| k.name() == name) {
            return Ok(*kind);
        }
        if let Some(kind) = RelationType::ALL.iter().find(|k| k.inverse_name() == name) {
            return Err(format!(
                "relation {name:?} is the inverse of {:?}; declare {:?} on the other asset",
                kind.name(),
                kind.name()
            ));
        }
        let names: Vec<&str> = RelationType::ALL.iter().map(|k| k.name()).collect();
        Err(format!(
            "relation type {name:?} is unknown; use one of {}",
            names.join(", ")
        ))
    }
}

impl std::fmt::Display for RelationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An asset's health as last reported.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum HealthStatus {
    /// Working as intended.
    Healthy,
    /// Working, with problems.
    Degraded,
    /// Not working.
    Unhealthy,
    /// Not reported.
    #[default]
    Unknown,
}

impl HealthStatus {
    /// Every status.
    pub const ALL: [HealthStatus; 4] = [
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Unhealthy,
        HealthStatus::Unknown,
    ];

    /// The protocol's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
            HealthStatus::Unknown => "unknown",
        }
    }

    /// Parses the protocol's name.
    pub fn parse(name: &str) -> Result<HealthStatus, String> {
        HealthStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                format!("health status {name:?} is unknown; use healthy, degraded, unhealthy or unknown")
            })
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
