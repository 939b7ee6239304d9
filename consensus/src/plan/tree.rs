//! The plan document as a plain tree, read from YAML or JSON.
//!
//! Plans are first read into this untyped tree and only then decoded field
//! by field (`decode`), so that every unknown key and every wrong type is
//! reported with its path, not just the first one serde stops at. Reading
//! also rejects duplicate keys (JSON would silently keep the last) and caps
//! the tree's size, so YAML aliases cannot expand a small document into a
//! huge one. YAML is read by serde-saphyr, which has its own limits on
//! nesting depth, node count and alias expansion, all in linear time.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::PlanError;
use super::limits::MAX_PLAN_BYTES;

/// Most tree nodes plus string bytes a document may expand to.
const EXPANSION_LIMIT: usize = 2 * MAX_PLAN_BYTES;

/// One value of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i128),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping with string keys, in document order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// What kind of value this is, for messages ("got a list").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// Reads a document: JSON when it starts with `{` or `[`, YAML otherwise.
pub(crate) fn load(text: &str) -> Result<Node, PlanError> {
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if start.starts_with('{') || start.starts_with('[') {
        let mut json = serde_json::Deserializer::from_str(start);
        let node = Document::deserialize(&mut json)
            .and_then(|document| json.end().map(|()| document.0))
            .map_err(|e| PlanError::new("", format!("not valid JSON: {e}")))?;
        Ok(node)
    } else {
        let options = serde_saphyr::options! {
            with_snippet: false,
            // YAML 1.2: `yes`, `no`, `on` and `off` are strings, not booleans.
            strict_booleans: true,
        };
        serde_saphyr::from_str_with_options::<Document>(text, options)
            .map(|document| document.0)
            .map_err(|e| {
                // Drop the library's hint about its own options; it means nothing to a user.
                let message = e
                    .to_string()
                    .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
                PlanError::new("", format!("not valid YAML: {message}"))
            })
    }
}

/// A whole document, read with a fresh size budget.
struct Document(Node);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        let budget = Cell::new(EXPANSION_LIMIT);
        NodeSeed { budget: &budget }
            .deserialize(deserializer)
            .map(Document)
    }
}

/// Deserializes one [`Node`], charging its size to a budget shared by the
/// whole document.
#[derive(Clone, Copy)]
struct NodeSeed<'a> {
    budget: &'a Cell<usize>,
}

impl NodeSeed<'_> {
    fn charge<E: de::Error>(&self, cost: usize) -> Result<(), E> {
        let cost = cost.saturating_add(1);
        match self.budget.get().checked_sub(cost) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(E::custom(format!(
                "the document expands to more than {EXPANSION_LIMIT} nodes and bytes \
                 (YAML aliases are expanded)"
            ))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plain YAML or JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Int(i128::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Int(i128::from(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        self.charge(v.len())?;
        Ok(Node::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        self.charge(v.len())?;
        Ok(Node::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        self.charge(0)?;
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        self.charge(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        self.charge(0)?;
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(self)? {
            let key = match key {
                Node::Str(key) => key,
                other => {
                    return Err(de::Error::custom(format!(
                        "mapping keys must be strings, got {}",
                        other.kind()
                    )))
                }
            };
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(self)?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}
