//! Catalog assets as the discovery builtins emit them, and the id scheme
//! they share.
//!
//! Every builtin (git, Kubernetes, audit) builds an [`Asset`] and turns it
//! into a protocol [`Line::Asset`] with [`Asset::line`], which keeps it
//! within the catalog's limits (ids, names, tags, metadata, relations) so a
//! huge object or an odd name never makes a whole batch be refused. It lives
//! beside the Kubernetes ids because those are the ones the audit must match.
//!
//! Ids (documented in `docs/builtins.md`):
//!
//! | asset | id |
//! |---|---|
//! | Kubernetes object | `k8s/<namespace or _cluster>/<Kind>/<name>` |
//! | image | `image/<reference>` |
//! | repository, branch, commit | `git/<path>`, `git/<path>/branch/<name>`, `git/<path>/commit/<sha>` |
//! | person | `person/<email, lower case>` |
//! | finding | `finding/<rule>/<object id>[#<detail>]` |

use cortex_consensus::catalog::{
    MAX_ID_LEN, MAX_METADATA_BYTES, MAX_NAME_LEN, MAX_RELATIONS, MAX_TAGS,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::protocol::Line;

/// Longest tag, in bytes (the catalog's limit, which it does not export).
const MAX_TAG_BYTES: usize = 128;
/// Longest health message, in bytes (likewise).
const MAX_MESSAGE_BYTES: usize = 1024;

/// An asset about to be reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    /// Stable id (see the module doc).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Asset type: `k8s.<kind>`, `repository`, `finding`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Kubernetes namespace, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels to search and filter by.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Anything else worth keeping.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Health, where the source says something about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Relations to other assets (which may be reported later or never).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
}

/// Observed health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    pub status: &'static str,
    /// Why, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Health {
    /// A status with a reason.
    pub fn new(status: &'static str, message: impl Into<String>) -> Health {
        Health {
            status,
            message: Some(message.into()),
        }
    }
}

/// One directed relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// `ownedBy`, `selects`, `runs`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The other asset's id.
    pub target: String,
}

impl Asset {
    /// An asset with its required fields.
    pub fn new(id: String, name: impl Into<String>, kind: impl Into<String>) -> Asset {
        Asset {
            id,
            name: name.into(),
            kind: kind.into(),
            namespace: None,
            tags: Vec::new(),
            metadata: Map::new(),
            health: None,
            relations: Vec::new(),
        }
    }

    /// Declares a relation, once; a relation to itself is ignored.
    pub fn relate(&mut self, kind: &'static str, target: String) {
        let relation = Relation { kind, target };
        if relation.target != self.id && !self.relations.contains(&relation) {
            self.relations.push(relation);
        }
    }

    /// Sets a metadata field unless the value is null.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        if !value.is_null() {
            self.metadata.insert(key.to_string(), value);
        }
    }

    /// The protocol line, within the catalog's limits: text cleaned and
    /// cut, the largest metadata fields dropped (and `truncated` set) until
    /// it fits, relations and tags beyond the limits left out.
    pub fn line(mut self) -> Line {
        self.name = clean_text(&self.name, MAX_NAME_LEN, "(unnamed)");
        self.namespace = self
            .namespace
            .map(|n| clean_text(&n, MAX_NAME_LEN, "(none)"));
        self.tags = std::mem::take(&mut self.tags)
            .into_iter()
            .map(|t| clean_text(&t, MAX_TAG_BYTES, "-"))
            .take(MAX_TAGS)
            .collect();
        if let Some(health) = self.health.as_mut() {
            health.message = health.message.take().and_then(|message| {
                let message: String = message
                    .chars()
                    .map(|c| {
                        if c.is_control() && c != '\n' && c != '\t' {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                let message = cut(message.trim(), MAX_MESSAGE_BYTES).to_string();
                (!message.is_empty()).then_some(message)
            });
        }
        self.relations.truncate(MAX_RELATIONS);
        shrink_metadata(&mut self.metadata);
        let text = serde_json::to_string(&self).unwrap_or_else(|_| "{}".to_string());
        Line::Asset(text)
    }
}

/// Drops the largest metadata fields until the object fits.
fn shrink_metadata(metadata: &mut Map<String, Value>) {
    let size = |m: &Map<String, Value>| serde_json::to_string(m).map_or(0, |s| s.len());
    while size(metadata) > MAX_METADATA_BYTES {
        let largest = metadata
            .iter()
            .filter(|(k, _)| k.as_str() != "truncated")
            .max_by_key(|(_, v)| v.to_string().len())
            .map(|(k, _)| k.clone());
        let Some(key) = largest else {
            metadata.clear();
            return;
        };
        metadata.remove(&key);
        metadata.insert("truncated".to_string(), Value::Bool(true));
    }
}

/// The id of a Kubernetes object: `k8s/<namespace or _cluster>/<Kind>/<name>`.
pub fn object_id(kind: &str, namespace: Option<&str>, name: &str) -> String {
    let namespace = namespace.filter(|n| !n.is_empty()).unwrap_or("_cluster");
    make_id(&format!("k8s/{namespace}/{kind}/{name}"))
}

/// The id of a container image: `image/<reference>`.
pub fn image_id(reference: &str) -> String {
    make_id(&format!("image/{reference}"))
}

/// The asset type of a Kubernetes kind: `k8s.<kind lower case>`.
pub fn object_type(kind: &str) -> String {
    let kind: String = kind
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("k8s.{}", if kind.is_empty() { "object" } else { &kind })
}

/// Kubernetes kinds that live outside namespaces (the common ones; an
/// owner or role of another cluster-scoped kind gets a namespaced id).
const CLUSTER_SCOPED: [&str; 16] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
];

/// Whether objects of `kind` live outside namespaces.
pub fn cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// An id the catalog accepts, from any text: control characters and a
/// trailing space percent-encoded, and an over-long id cut and suffixed with
/// a hash of the whole so it stays unique and stable across runs.
pub fn make_id(raw: &str) -> String {
    let mut id = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                id.push_str(&format!("%{b:02X}"));
            }
        } else {
            id.push(c);
        }
    }
    if id.ends_with(char::is_whitespace) {
        let last = id.pop().unwrap_or(' ');
        let mut buf = [0u8; 4];
        for b in last.encode_utf8(&mut buf).bytes() {
            id.push_str(&format!("%{b:02X}"));
        }
    }
    if id.len() <= MAX_ID_LEN {
        return id;
    }
    let suffix = format!("~{:016x}", fnv1a(raw.as_bytes()));
    let kept = cut(&id, MAX_ID_LEN - suffix.len()).trim_end();
    format!("{kept}{suffix}")
}

/// FNV-1a, 64 bits: a stable hash (unlike std's, which is seeded).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `text` without control characters, cut to `max` bytes, or `fallback`
/// if nothing is left.
pub fn clean_text(text: &str, max: usize, fallback: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut = cut(cleaned.trim(), max).trim_end();
    if cut.is_empty() {
        fallback.to_string()
    } else {
        cut.to_string()
    }
}

/// The longest prefix of `text` of at most `max` bytes, on a char boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
