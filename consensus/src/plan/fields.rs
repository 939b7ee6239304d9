//! Typed reads from the document tree, each reporting its own problem with
//! its path and returning `None`, so decoding goes on and finds the rest.

use std::collections::BTreeMap;

use super::duration;
use super::error::{field, index, Report};
use super::tree::Node;

/// A mapping whose keys were checked against the ones allowed there.
pub(crate) struct Object<'a> {
    path: String,
    entries: &'a [(String, Node)],
}

/// Reads `node` as a mapping, reporting every key not in `allowed`.
pub(crate) fn object<'a>(
    node: &'a Node,
    path: &str,
    allowed: &[&str],
    r: &mut Report,
) -> Option<Object<'a>> {
    let Node::Map(entries) = node else {
        r.push(path, format!("must be a mapping, got {}", node.kind()));
        return None;
    };
    for (key, _) in entries {
        if !allowed.contains(&key.as_str()) {
            r.push(field(path, key), unknown_key(key, allowed));
        }
    }
    Some(Object {
        path: path.to_string(),
        entries,
    })
}

fn unknown_key(key: &str, allowed: &[&str]) -> String {
    let squashed = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    if let Some(close) = allowed.iter().find(|a| squashed(a) == squashed(key)) {
        return format!("unknown field {key:?}; did you mean {close:?}?");
    }
    format!(
        "unknown field {key:?}; expected one of: {}",
        allowed.join(", ")
    )
}

impl<'a> Object<'a> {
    /// The value at `key`; an explicit `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| **v != Node::Null)
    }

    /// The value at `key`, reporting it as required when absent.
    pub(crate) fn required(&self, key: &str, r: &mut Report) -> Option<&'a Node> {
        let value = self.get(key);
        if value.is_none() {
            r.push(self.path(key), "required");
        }
        value
    }

    /// The path of `key` inside this mapping.
    pub(crate) fn path(&self, key: &str) -> String {
        field(&self.path, key)
    }
}

/// A string.
pub(crate) fn string(node: &Node, path: &str, r: &mut Report) -> Option<String> {
    match node {
        Node::Str(s) => Some(s.clone()),
        other => {
            r.push(path, format!("must be a string, got {}", other.kind()));
            None
        }
    }
}

/// A non-negative whole number that fits in 64 bits.
pub(crate) fn uint(node: &Node, path: &str, r: &mut Report) -> Option<u64> {
    let problem = match node {
        Node::Int(n) if *n < 0 => format!("must not be negative, got {n}"),
        Node::Int(n) => match u64::try_from(*n) {
            Ok(n) => return Some(n),
            Err(_) => format!("{n} is too large (the largest is {})", u64::MAX),
        },
        Node::Float(x) => {
            format!("must be a whole number written without a fraction or exponent, got {x:?}")
        }
        other => format!("must be a number, got {}", other.kind()),
    };
    r.push(path, problem);
    None
}

/// A non-negative whole number that fits in 32 bits.
pub(crate) fn uint32(node: &Node, path: &str, r: &mut Report) -> Option<u32> {
    let n = uint(node, path, r)?;
    let fitted = u32::try_from(n).ok();
    if fitted.is_none() {
        r.push(
            path,
            format!("{n} is too large (the largest is {})", u32::MAX),
        );
    }
    fitted
}

/// A duration string such as `15m`, in milliseconds.
pub(crate) fn duration_ms(node: &Node, path: &str, r: &mut Report) -> Option<u64> {
    let Node::Str(text) = node else {
        r.push(
            path,
            format!(
                "must be a duration string like 30s, 15m or 1h30m, got {}",
                node.kind()
            ),
        );
        return None;
    };
    duration::parse(text)
        .map_err(|problem| r.push(path, problem))
        .ok()
}

/// One of a fixed set of names.
pub(crate) fn choice<T: Copy>(
    node: &Node,
    path: &str,
    what: &str,
    options: &[(&str, T)],
    r: &mut Report,
) -> Option<T> {
    let value = string(node, path, r)?;
    if let Some((_, found)) = options.iter().find(|(name, _)| *name == value) {
        return Some(*found);
    }
    let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
    // The seed plan says `scan-worker` and `security-master`; point at the short name.
    let short = value
        .to_ascii_lowercase()
        .trim_end_matches("-worker")
        .trim_end_matches("-master")
        .to_string();
    let hint = match names.iter().find(|name| **name == short) {
        Some(name) => format!("; did you mean {name:?}?"),
        None => format!("; expected one of: {}", names.join(", ")),
    };
    r.push(path, format!("unknown {what} {value:?}{hint}"));
    None
}

/// Exactly the string `expected`.
pub(crate) fn exact(node: &Node, path: &str, expected: &str, r: &mut Report) {
    if let Some(value) = string(node, path, r) {
        if value != expected {
            r.push(path, format!("must be {expected:?}, got {value:?}"));
        }
    }
}

/// A list of strings; every bad element is reported.
pub(crate) fn string_list(node: &Node, path: &str, r: &mut Report) -> Option<Vec<String>> {
    let Node::Seq(items) = node else {
        r.push(
            path,
            format!("must be a list of strings, got {}", node.kind()),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match string(item, &index(path, i), r) {
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A mapping of strings to strings; every bad value is reported.
pub(crate) fn string_map(
    node: &Node,
    path: &str,
    r: &mut Report,
) -> Option<BTreeMap<String, String>> {
    let Node::Map(entries) = node else {
        r.push(
            path,
            format!("must be a mapping of strings, got {}", node.kind()),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in entries {
        let key_path = field(path, key);
        match value {
            Node::Str(s) => {
                out.insert(key.clone(), s.clone());
            }
            other => {
                r.push(
                    key_path,
                    format!("must be a string, got {} (quote it)", other.kind()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
