//! Text renderings of catalog answers for `cortex catalog`.

use std::fmt::Write;

use serde_json::Value;

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// Search hits as a table, best first.
pub fn search(hits: &Value) -> String {
    let hits = hits.as_array().map(Vec::as_slice).unwrap_or_default();
    if hits.is_empty() {
        return "no asset matches\n".to_string();
    }
    let width = hits
        .iter()
        .map(|h| text(&h["id"]).len())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = format!("{:<width$}  {:<16} {:<10} NAME\n", "ID", "TYPE", "HEALTH");
    for hit in hits {
        let _ = writeln!(
            out,
            "{:<width$}  {:<16} {:<10} {}",
            text(&hit["id"]),
            text(&hit["type"]),
            text(&hit["health"]["status"]).to_lowercase(),
            text(&hit["name"]),
        );
    }
    out
}

/// One asset: its fields, relations and last versions.
pub fn asset(asset: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  ({}, version {})",
        text(&asset["id"]),
        text(&asset["type"]),
        asset["version"]
    );
    let health = &asset["health"];
    let fields = [
        ("name", text(&asset["name"]).to_string()),
        ("source", text(&asset["source"]).to_string()),
        ("namespace", text(&asset["namespace"]).to_string()),
        ("owner", text(&asset["owner"]).to_string()),
        ("tags", tags(&asset["tags"])),
        (
            "health",
            match health["message"].as_str() {
                Some(message) => format!("{} ({message})", text(&health["status"]).to_lowercase()),
                None => text(&health["status"]).to_lowercase(),
            },
        ),
        (
            "discovered",
            format!(
                "{} by {}",
                text(&asset["discoveredAt"]),
                text(&asset["discoveredBy"])
            ),
        ),
        (
            "updated",
            format!(
                "{} by {}",
                text(&asset["updatedAt"]),
                text(&asset["updatedBy"])
            ),
        ),
        ("last seen", text(&asset["lastSeenAt"]).to_string()),
        ("metadata", asset["metadata"].to_string()),
    ];
    for (label, value) in fields {
        let _ = writeln!(out, "  {label:<11} {value}");
    }
    let relations = asset["relations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let _ = writeln!(out, "relations ({}):", relations.len());
    for relation in relations {
        let other = match relation["asset"].as_object() {
            Some(other) => format!("{} ({})", text(&other["name"]), text(&other["type"])),
            None => "not in the catalog yet".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<13} {}  {other}",
            text(&relation["name"]),
            text(&relation["assetId"])
        );
    }
    let versions = asset["history"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let _ = writeln!(out, "history (newest first):");
    for version in versions {
        let fields: Vec<&str> = version["diffs"]
            .as_array()
            .map(|d| d.iter().map(|d| text(&d["field"])).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  v{:<4} {} {:<8} by {} {}",
            version["version"],
            text(&version["at"]),
            text(&version["kind"]).to_lowercase(),
            text(&version["by"]),
            fields.join(", ")
        );
    }
    out
}

/// `OWNED_BY` as the protocol spells it, `ownedBy`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name.split('_').enumerate() {
        let word = word.to_lowercase();
        let mut chars = word.chars();
        match chars.next() {
            Some(first) if i > 0 => {
                out.extend(first.to_uppercase());
                out.extend(chars);
            }
            _ => out.push_str(&word),
        }
    }
    out
}

fn tags(tags: &Value) -> String {
    let tags: Vec<&str> = tags
        .as_array()
        .map(|t| t.iter().map(text).collect())
        .unwrap_or_default();
    if tags.is_empty() {
        "-".to_string()
    } else {
        tags.join(", ")
    }
}

/// A lineage walk, hop by hop, then the relations walked.
pub fn lineage(id: &str, lineage: &Value) -> String {
    let mut out = String::new();
    let nodes = lineage["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut hop = None;
    for node in nodes {
        let degree = node["degree"].as_u64().unwrap_or(0);
        if hop != Some(degree) {
            hop = Some(degree);
            let _ = writeln!(
                out,
                "{}:",
                if degree == 0 {
                    "asset".to_string()
                } else {
                    format!("{degree} hop(s)")
                }
            );
        }
        let asset = &node["asset"];
        let _ = writeln!(
            out,
            "  {}  {} ({})",
            text(&asset["id"]),
            text(&asset["name"]),
            text(&asset["type"])
        );
    }
    let edges = lineage["edges"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let _ = writeln!(out, "relations walked ({}):", edges.len());
    for edge in edges {
        let _ = writeln!(
            out,
            "  {} -{}-> {}",
            text(&edge["from"]),
            camel(text(&edge["type"])),
            text(&edge["to"])
        );
    }
    if lineage["truncated"] == true {
        let _ = writeln!(out, "(stopped at the node limit; narrow it with --depth)");
    }
    if nodes.len() <= 1 {
        let _ = writeln!(
            out,
            "{id} has no related asset in the catalog at this depth"
        );
    }
    out
}
