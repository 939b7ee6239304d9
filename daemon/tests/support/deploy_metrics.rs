//! Which metrics the monitoring files in `chart/files/` read, and whether a
//! daemon exports them all: the contract between the daemon's `/metrics`
//! and the alert rules (`chart/files/prometheus/`) and the Grafana dashboard
//! (`chart/files/grafana/`).
//!
//! Shared by two test binaries, each including this file with
//! `#[path = "support/deploy_metrics.rs"] mod deploy_metrics;`:
//!
//! * `metrics_e2e.rs` scrapes a real cluster (leader, follower, agent),
//!   reads the exported families with [`exported_families`] and checks them
//!   with [`check_deploy_files`], so a renamed metric fails there instead of
//!   silently emptying a panel or muting an alert;
//! * `observability_files.rs` uses [`all_panels`] for its dashboard checks
//!   and holds the unit tests of everything here (in one binary only, so
//!   they do not run twice).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The alert rules.
pub const RULES: &str = "chart/files/prometheus/cortex-alerts.yaml";
/// The promtool unit tests of [`RULES`].
pub const RULE_TESTS: &str = "chart/files/prometheus/cortex-alerts.test.yaml";
/// The Grafana dashboard.
pub const DASHBOARD: &str = "chart/files/grafana/cortex-orchestration.json";

/// Series Prometheus itself adds for every scrape target; no daemon
/// exports them.
const PROMETHEUS_OWN: &[&str] = &["up"];

/// How a metric family is exposed; a histogram has no series of its own,
/// only `_bucket`, `_sum` and `_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The kind a `# TYPE` line names. Others (`summary`, `untyped`,
    /// OpenMetrics' `info`, ...) are not known: their series are named
    /// differently, so [`check_exported`] would need to learn them first.
    pub fn from_type(kind: &str) -> Option<Kind> {
        match kind {
            "counter" => Some(Kind::Counter),
            "gauge" => Some(Kind::Gauge),
            "histogram" => Some(Kind::Histogram),
            _ => None,
        }
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file of the repository, by its path from the root.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The families an exposition (`GET /metrics`) declares, by the name their
/// samples have in PromQL: one per `# TYPE <name> <kind>` line.
///
/// prometheus-client writes a counter's `# TYPE` line with the `_total` of
/// its samples in the classic text format (`# TYPE x_total counter`), and
/// without it in OpenMetrics (`# TYPE x counter`, samples `x_total`); both
/// give `x_total`. Histograms are named by their family (`x`, samples
/// `x_bucket`, `x_sum`, `x_count`).
pub fn exported_families(exposition: &str) -> Result<BTreeMap<String, Kind>, String> {
    let mut families = BTreeMap::new();
    for line in exposition.lines() {
        let Some(declared) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = declared
            .split_once(' ')
            .ok_or_else(|| format!("a TYPE line without a kind: {line:?}"))?;
        let kind = Kind::from_type(kind.trim())
            .ok_or_else(|| format!("a kind these checks do not know: {line:?}"))?;
        let name = match kind {
            Kind::Counter if !name.ends_with("_total") => format!("{name}_total"),
            _ => name.to_string(),
        };
        if families.insert(name.clone(), kind).is_some() {
            return Err(format!("{name} declared twice"));
        }
    }
    Ok(families)
}

/// Every metric name a rule, a rule test's input series or expression, a
/// dashboard panel or a dashboard variable reads, with where it is read.
pub fn used_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let rules = read(RULES);
    let rule_count = rules
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("- alert:") || l.trim_start().starts_with("- record:")
        })
        .count();
    let rule_exprs = yaml_exprs(&rules);
    assert_eq!(rule_exprs.len(), rule_count, "one expr read per rule");

    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut note = |names: BTreeSet<String>, place: &str| {
        for name in names {
            uses.entry(name).or_default().insert(place.to_string());
        }
    };
    for expr in &rule_exprs {
        note(metric_names(expr), RULES);
    }
    let tests = read(RULE_TESTS);
    for expr in yaml_exprs(&tests) {
        note(metric_names(&expr), RULE_TESTS);
    }
    for line in tests
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- series:"))
    {
        let series = line.trim().trim_matches(|c| c == '\'' || c == '"');
        let name = series.split('{').next().unwrap().trim();
        note(
            BTreeSet::from([name.to_string()]),
            &format!("{RULE_TESTS} input series"),
        );
    }
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    for panel in all_panels(&dashboard) {
        let place = format!("{DASHBOARD} panel {} {}", panel["id"], panel["title"]);
        for target in panel["targets"].as_array().into_iter().flatten() {
            note(
                metric_names(target["expr"].as_str().unwrap_or_default()),
                &place,
            );
        }
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        // `label_values(metric, label)`: the metric is all before the last comma.
        let query = variable["definition"].as_str().unwrap_or_default();
        if let Some(args) = query.strip_prefix("label_values(") {
            let metric = args.rsplit_once(',').map_or(args, |(m, _)| m);
            let place = format!("{DASHBOARD} variable {}", variable["name"]);
            note(metric_names(metric), &place);
        }
    }
    assert!(
        uses.len() > 20,
        "too few metrics found in chart/files/; is the extraction broken? {uses:?}"
    );
    uses
}

/// Whether every metric `chart/files/` reads is a series Prometheus will have
/// given the `exported` families (see [`exported_families`]); if not, one
/// line per offending name, with why and where it is read.
pub fn check_deploy_files(exported: &BTreeMap<String, Kind>) -> Result<(), String> {
    let unknown: Vec<String> = used_metrics()
        .iter()
        .filter_map(|(name, places)| {
            let why = check_exported(name, exported).err()?;
            Some(format!("{name}: {why} (used in {places:?})"))
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "metrics chart/files/ reads that the daemon does not export:\n{}",
            unknown.join("\n")
        ))
    }
}

/// Whether `name` is a series Prometheus will have: an exported counter
/// (`x_total`) or gauge, an exported histogram's `_bucket`/`_sum`/`_count`,
/// or Prometheus's own.
pub fn check_exported(name: &str, exported: &BTreeMap<String, Kind>) -> Result<(), String> {
    if PROMETHEUS_OWN.contains(&name) {
        return Ok(());
    }
    match exported.get(name) {
        Some(Kind::Histogram) => {
            return Err("a histogram has no series of its own; use _bucket, _sum or _count".into())
        }
        Some(_) => return Ok(()),
        None => {}
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if exported.get(base) == Some(&Kind::Histogram) {
                return Ok(());
            }
        }
    }
    Err("not exported".into())
}

/// Every panel of a dashboard, those inside collapsed rows included.
pub fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut panels = Vec::new();
    for panel in dashboard["panels"].as_array().expect("a panels list") {
        panels.push(panel);
        panels.extend(panel["panels"].as_array().into_iter().flatten());
    }
    panels
}

/// The `expr:` values of a Prometheus rule (or rule test) file, read by
/// lines because the daemon has no YAML parser: a value runs on over the
/// lines indented deeper than its key (block scalars and multi-line plain
/// scalars alike); surrounding quotes are dropped.
pub fn yaml_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start().trim_start_matches("- ");
        let Some(first) = body.strip_prefix("expr:") else {
            continue;
        };
        let key_indent = line.len() - body.len();
        // A block scalar (`|`, `>-`, ...) starts on the next line.
        let first = first.trim();
        let block = first.starts_with(['|', '>']);
        let mut value = if block {
            String::new()
        } else {
            first.to_string()
        };
        for next in &lines[i + 1..] {
            let indent = next.len() - next.trim_start().len();
            if !next.trim().is_empty() && indent <= key_indent {
                break;
            }
            value.push('\n');
            value.push_str(next.trim());
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
        exprs.push(unquoted.unwrap_or(value).to_string());
    }
    exprs
}

/// Words that are PromQL syntax, not metrics, when not followed by `(`:
/// operators, and aggregations written `sum by (x) (...)`.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "group_left", "group_right",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
];
/// Modifiers followed by a label list, which holds no metric names.
#[rustfmt::skip]
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metric names a PromQL expression reads. Strings, `{...}` matchers,
/// `[...]` ranges, label lists, numbers, durations, Grafana `$variables`,
/// keywords and anything called like a function are not names.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = strip_enclosed(expr).chars().collect();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_is_paren =
        |from: usize| chars[from..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c == '$'
            || c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A variable, a number (1e3, 0x1f, 0.9) or a duration (5m).
            i += 1;
            while i < chars.len() && (is_word(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if is_word(c) {
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) && next_is_paren(i) {
                i = skip_parens(&chars, i);
            } else if !next_is_paren(i) && !KEYWORDS.contains(&lower.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// `expr` with strings, `{...}`, `[...]` and `# comments` blanked out.
fn strip_enclosed(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                // Backslash escapes, except in raw (backtick) strings.
                while let Some(s) = chars.next() {
                    if s == c {
                        break;
                    }
                    if s == '\\' && c != '`' {
                        chars.next();
                    }
                }
            }
            '#' => {
                chars.by_ref().find(|&s| s == '\n');
            }
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => {
                out.push(c);
                continue;
            }
            _ => continue,
        }
        out.push(' ');
    }
    out
}

/// The index just past the parenthesised list that starts after `from`.
fn skip_parens(chars: &[char], from: usize) -> usize {
    let mut depth = 0;
    for (i, c) in chars.iter().enumerate().skip(from) {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return i + 1,
            ')' => depth -= 1,
            _ => {}
        }
    }
    chars.len()
}
