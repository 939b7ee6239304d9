//! What a writer says about an asset: [`AssetInput`], exactly the JSON object
//! of a worker's `{"asset": {...}}` line, and its validation.
//!
//! ```json
//! {"id": "k8s/default/Pod/web-1", "name": "web-1", "type": "k8s.pod",
//!  "namespace": "default", "owner": "team-a", "tags": ["a"],
//!  "metadata": {"any": "JSON object"},
//!  "health": {"status": "healthy", "message": "..."},
//!  "relations": [{"type": "ownedBy", "target": "k8s/default/ReplicaSet/web"}]}
//! ```
//!
//! Only `id`, `name` and `type` are required; unknown fields are refused so a
//! misspelt one is not silently lost. Absent fields are always serialized
//! (as `null` or `[]`): the log's binary format has no field names, so a
//! skipped field would make the entry undecodable. The input travels through the Raft log
//! as bincode, which cannot carry a `serde_json::Value`, so `metadata` is
//! kept as JSON text ([`Metadata`]) in every non-human-readable format.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::kinds::{check_asset_type, HealthStatus, RelationType};

/// Longest asset id, in bytes.
pub const MAX_ID_LEN: usize = 512;
/// Longest name, namespace, owner, source or discoverer, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most tags on one asset.
pub const MAX_TAGS: usize = 64;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 128;
/// Largest metadata object, as JSON text.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest health message, in bytes.
pub const MAX_MESSAGE_LEN: usize = 1024;
/// Most relations declared by one asset.
pub const MAX_RELATIONS: usize = 256;

/// An asset as reported by a discovery worker or given to `addAsset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetInput {
    /// Stable id, unique in the catalog (`k8s/default/Pod/web-1`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Asset type (`k8s.pod`, `repository`, ...; see [`check_asset_type`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// Kubernetes namespace, or any grouping the source has.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Owning team or person.
    #[serde(default)]
    pub owner: Option<String>,
    /// Free labels, searchable and filterable.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Any JSON object.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Health as observed by the reporter.
    #[serde(default)]
    pub health: Option<HealthInput>,
    /// Relations from this asset to others (which may not exist yet).
    #[serde(default)]
    pub relations: Vec<RelationInput>,
}

/// Reported health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthInput {
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    pub status: String,
    /// Why, for people.
    #[serde(default)]
    pub message: Option<String>,
}

/// A relation declared by an asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationInput {
    /// Declared name: `ownedBy`, `dependsOn`, ... (see [`RelationType`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// The other asset's id.
    pub target: String,
}

/// A JSON object kept as its text. In JSON it is the object itself; in
/// binary formats (the Raft log, snapshots) it is a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata(pub(crate) String);

impl Metadata {
    /// From a JSON value; `None` unless it is an object.
    pub fn from_value(value: &serde_json::Value) -> Option<Metadata> {
        value.is_object().then(|| Metadata(value.to_string()))
    }

    /// The JSON text (not checked: see [`Metadata::parse`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the text, which must be a JSON object.
    pub fn parse(&self) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        match serde_json::from_str(&self.0) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err("metadata must be a JSON object".to_string()),
            Err(e) => Err(format!("metadata is not JSON: {e}")),
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            let value: serde_json::Value =
                serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
            value.serialize(serializer)
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let value = serde_json::Value::deserialize(deserializer)?;
            Metadata::from_value(&value)
                .ok_or_else(|| serde::de::Error::custom("metadata must be a JSON object"))
        } else {
            String::deserialize(deserializer).map(Metadata)
        }
    }
}

impl AssetInput {
    /// Checks every field against the protocol and the limits above; the
    /// message names the field and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        check_id("id", &self.id)?;
        check_text("name", &self.name, MAX_NAME_LEN, false)?;
        check_asset_type(&self.kind)?;
        check_optional("namespace", self.namespace.as_deref())?;
        check_optional("owner", self.owner.as_deref())?;
        check_tags(&self.tags)?;
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata)?;
        }
        if let Some(health) = &self.health {
            check_health(health)?;
        }
        check_relations(&self.id, &self.relations)
    }

    /// Roughly the bytes this input takes in a log entry, to keep batches
    /// within [`super::MAX_UPSERT_BYTES`].
    pub fn encoded_len(&self) -> usize {
        let optional = |text: &Option<String>| text.as_ref().map_or(0, |t| t.len() + 8);
        let fixed = 64;
        fixed
            + self.id.len()
            + self.name.len()
            + self.kind.len()
            + optional(&self.namespace)
            + optional(&self.owner)
            + self.tags.iter().map(|t| t.len() + 8).sum::<usize>()
            + self.metadata.as_ref().map_or(0, |m| m.as_str().len() + 8)
            + self
                .health
                .as_ref()
                .map_or(0, |h| h.status.len() + optional(&h.message) + 16)
            + self
                .relations
                .iter()
                .map(|r| r.kind.len() + r.target.len() + 16)
                .sum::<usize>()
    }
}

fn check_optional(field: &str, text: Option<&str>) -> Result<(), String> {
    text.map_or(Ok(()), |text| check_text(field, text, MAX_NAME_LEN, false))
}

pub(crate) fn check_tags(tags: &[String]) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(format!("tags: {} given, at most {MAX_TAGS}", tags.len()));
    }
    for (i, tag) in tags.iter().enumerate() {
        check_text(&format!("tags[{i}]"), tag, MAX_TAG_LEN, false)?;
    }
    Ok(())
}

pub(crate) fn check_metadata(metadata: &Metadata) -> Result<(), String> {
    let len = metadata.as_str().len();
    if len > MAX_METADATA_BYTES {
        return Err(format!(
            "metadata: {len} bytes of JSON, at most {MAX_METADATA_BYTES}"
        ));
    }
    metadata.parse().map(drop)
}

pub(crate) fn check_health(health: &HealthInput) -> Result<(), String> {
    HealthStatus::parse(&health.status).map_err(|e| format!("health.status: {e}"))?;
    match &health.message {
        Some(message) => check_text("health.message", message, MAX_MESSAGE_LEN, true),
        None => Ok(()),
    }
}

/// Relations of asset `id`: known types, valid targets, none to itself.
pub(crate) fn check_relations(id: &str, relations: &[RelationInput]) -> Result<(), String> {
    if relations.len() > MAX_RELATIONS {
        return Err(format!(
            "relations: {} given, at most {MAX_RELATIONS}",
            relations.len()
        ));
    }
    for (i, relation) in relations.iter().enumerate() {
        RelationType::parse(&relation.kind).map_err(|e| format!("relations[{i}].type: {e}"))?;
        check_id(&format!("relations[{i}].target"), &relation.target)?;
        if relation.target == id {
            return Err(format!(
                "relations[{i}].target: an asset cannot relate to itself"
            ));
        }
    }
    Ok(())
}

/// An id: 1 to [`MAX_ID_LEN`] bytes, no control characters, no surrounding spaces.
pub(crate) fn check_id(field: &str, id: &str) -> Result<(), String> {
    if id.trim() != id {
        return Err(format!("{field}: {id:?} has surrounding whitespace"));
    }
    check_text(field, id, MAX_ID_LEN, false)
}

/// Non-empty text of at most `max` bytes without control characters
/// (newlines allowed where `multiline`).
pub(crate) fn check_text(
    field: &str,
    text: &str,
    max: usize,
    multiline: bool,
) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{field} is empty"));
    }
    if text.len() > max {
        return Err(format!("{field}: {} bytes, at most {max}", text.len()));
    }
    let control = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if text.chars().any(control) {
        return Err(format!("{field}: control characters are not allowed"));
    }
    Ok(())
}
