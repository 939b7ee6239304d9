//! Checks the monitoring files the Helm chart ships (`chart/files/`): the
//! Prometheus alert rules, their promtool unit tests and the Grafana
//! dashboard.
//!
//! * promtool parses the rules, runs their unit tests and parses every
//!   dashboard query (`scripts/check-observability.sh`);
//! * the dashboard has the structure Grafana needs and uses only its
//!   `${datasource}` variable, so it imports into any Grafana.
//!
//! That every metric a rule, a rule test or a panel reads is one the daemon
//! exports is checked against the `/metrics` of a real cluster, in
//! `metrics_e2e.rs`, with the extraction in `support/deploy_metrics.rs`.
//! The unit tests of that extraction are here (module [`extraction`]), so
//! they run once, without a cluster.

#[path = "support/deploy_metrics.rs"]
mod deploy_metrics;

use std::collections::BTreeSet;
use std::process::Command;

use deploy_metrics::{all_panels, read, repo, DASHBOARD};
use serde_json::Value;

/// The only datasource a panel may name: the dashboard's variable.
const DATASOURCE_VAR: &str = "${datasource}";

#[test]
fn promtool_accepts_rules_tests_and_dashboard_queries() {
    let promtool = Command::new("promtool").arg("--version").output();
    if !promtool.is_ok_and(|out| out.status.success()) {
        // CI must run the check: scripts/test.sh installs promtool there.
        let on_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !on_ci,
            "promtool is not installed (apt-get install prometheus)"
        );
        eprintln!("\n!!!!! SKIPPED: promtool not installed; the alert rules and dashboard queries");
        eprintln!("!!!!! were NOT checked. Install it: apt-get install prometheus\n");
        return;
    }
    let out = Command::new("bash")
        .arg(repo().join("scripts/check-observability.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/check-observability.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dashboard_is_importable_and_uses_only_the_datasource_variable() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    assert_eq!(
        dashboard["uid"], "cortex-orchestration",
        "the seed's URL path"
    );
    assert_eq!(dashboard["refresh"], "5s", "the seed's refresh");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a Prometheus datasource variable named `datasource`"
    );
    for variable in variables.iter().filter(|v| v.get("datasource").is_some()) {
        assert_datasource_is_variable(
            &variable["datasource"],
            &format!("variable {}", variable["name"]),
        );
    }

    let panels = all_panels(&dashboard);
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let id = panel["id"].as_u64().expect("every panel has a numeric id");
        let title = panel["title"].as_str().unwrap_or_default();
        let at = format!("panel {id} {title:?}");
        assert!(ids.insert(id), "{at}: id used twice");
        assert!(!title.is_empty(), "{at}: no title");
        let grid = grid(panel).unwrap_or_else(|| panic!("{at}: no gridPos"));
        assert!(
            grid.x + grid.w <= 24 && grid.w > 0 && grid.h > 0,
            "{at}: bad gridPos"
        );
        if panel["type"] == "row" {
            continue;
        }
        // A panel without a datasource would use Grafana's default, which
        // may not be the Prometheus the user picked.
        assert_datasource_is_variable(&panel["datasource"], &at);
        let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("{at}: no targets"));
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(!expr.trim().is_empty(), "{at}: a target without expr");
            assert!(
                ref_ids.insert(target["refId"].to_string()),
                "{at}: refId twice"
            );
            if target.get("datasource").is_some() {
                assert_datasource_is_variable(&target["datasource"], &at);
            }
        }
    }
    assert_no_overlap(&panels);
}

fn assert_datasource_is_variable(datasource: &Value, at: &str) {
    let uid = datasource.get("uid").unwrap_or(datasource);
    assert_eq!(uid, DATASOURCE_VAR, "{at}: datasource must be the variable");
}

struct Grid {
    x: u64,
    y: u64,
    w: u64,
    h: u64,
}

fn grid(panel: &Value) -> Option<Grid> {
    let pos = &panel["gridPos"];
    let field = |k: &str| pos[k].as_u64();
    Some(Grid {
        x: field("x")?,
        y: field("y")?,
        w: field("w")?,
        h: field("h")?,
    })
}

/// Grafana stacks overlapping panels unpredictably; the layout is meant.
fn assert_no_overlap(panels: &[&Value]) {
    let placed: Vec<(&Value, Grid)> = panels
        .iter()
        .filter(|p| p["type"] != "row" || p["collapsed"] != true)
        .map(|p| (*p, grid(p).unwrap()))
        .collect();
    for (i, (a, ga)) in placed.iter().enumerate() {
        for (b, gb) in &placed[i + 1..] {
            let apart = ga.x + ga.w <= gb.x
                || gb.x + gb.w <= ga.x
                || ga.y + ga.h <= gb.y
                || gb.y + gb.h <= ga.y;
            assert!(apart, "panels {} and {} overlap", a["title"], b["title"]);
        }
    }
}

/// Unit tests of `support/deploy_metrics.rs`: here only, not in every
/// binary that includes it.
mod extraction {
    use std::collections::BTreeMap;

    use prometheus_client::encoding::{prometheus_text, text};
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    use crate::deploy_metrics::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    fn exported(families: &[(&str, Kind)]) -> BTreeMap<String, Kind> {
        families
            .iter()
            .map(|(name, kind)| (name.to_string(), *kind))
            .collect()
    }

    /// A set of families holding exactly what `chart/files/` reads, each of the
    /// kind its name suggests: what a daemon exporting it all would give.
    fn all_that_deploy_reads() -> BTreeMap<String, Kind> {
        let mut families = BTreeMap::new();
        for name in used_metrics().into_keys().filter(|n| n != "up") {
            let histogram = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix));
            if let Some(base) = histogram {
                families.insert(base.to_string(), Kind::Histogram);
            } else if name.ends_with("_total") {
                families.insert(name, Kind::Counter);
            } else {
                families.insert(name, Kind::Gauge);
            }
        }
        families
    }

    #[test]
    fn functions_label_lists_numbers_and_ranges_are_not_names() {
        let expr = "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))";
        assert_eq!(names(expr), ["x_bucket"]);
        assert_eq!(
            names("sum(rate(a_total[$__rate_interval])) by (le, instance)"),
            ["a_total"]
        );
        assert_eq!(names("changes(max by (master) (m)[15m:15s]) > 3"), ["m"]);
        assert_eq!(
            names("1e3 * 0x1F + Inf - NaN + .5 * foo offset 5m"),
            ["foo"]
        );
        assert_eq!(names("time() - start_seconds @ end()"), ["start_seconds"]);
    }

    #[test]
    fn vector_matching_keeps_both_sides() {
        assert_eq!(names("a > on(run) b * 0.9"), ["a", "b"]);
        assert_eq!(names("a / ignoring (x) group_left (y, z) b"), ["a", "b"]);
        assert_eq!(names("a * on() group_right b"), ["a", "b"]);
        assert_eq!(
            names("x > bool 1 or y unless z and w"),
            ["w", "x", "y", "z"]
        );
    }

    #[test]
    fn comparisons_inside_aggregations() {
        assert_eq!(
            names("absent(max(cortex_raft_is_leader == 1))"),
            ["cortex_raft_is_leader"]
        );
        assert_eq!(names("count without (instance) (up == 0)"), ["up"]);
    }

    #[test]
    fn strings_and_matchers_hide_their_contents() {
        let expr = r#"label_replace(up{job="x", a=~"[a-z]+\"}"}, "dst", "$1", "src", "(.*)")"#;
        assert_eq!(names(expr), ["up"]);
        assert_eq!(
            names("m{master=~\"$master\"} # not_a_metric\n+ n"),
            ["m", "n"]
        );
        assert_eq!(names("count_values(`by (x)`, build:info)"), ["build:info"]);
    }

    #[test]
    fn exported_names_and_histogram_series() {
        let exported = exported(&[
            ("cortex_worker_duration_seconds", Kind::Histogram),
            ("cortex_tokens_used", Kind::Gauge),
            ("cortex_master_tasks_failed_total", Kind::Counter),
        ]);
        let check = |name| check_exported(name, &exported);
        assert!(check("cortex_worker_duration_seconds_bucket").is_ok());
        assert!(check("cortex_worker_duration_seconds_sum").is_ok());
        assert!(check("cortex_worker_duration_seconds_count").is_ok());
        assert!(check("cortex_worker_duration_seconds").is_err());
        assert!(check("cortex_tokens_used").is_ok());
        assert!(check("cortex_tokens_used_bucket").is_err());
        assert!(check("cortex_master_tasks_failed_total").is_ok());
        assert!(check("cortex_master_tasks_failed").is_err());
        assert!(check("up").is_ok());
        assert!(check("cortex_nodes").is_err());
    }

    /// The `# TYPE` names prometheus-client writes, in both formats a
    /// daemon serves, map to the names PromQL reads.
    #[test]
    fn exported_families_reads_type_lines_of_both_formats() {
        let mut registry = Registry::default();
        registry.register("x_events", "A counter", Counter::<u64>::default());
        registry.register("x_depth", "A gauge", Gauge::<i64>::default());
        let histogram = Histogram::new([0.1, 1.0]);
        registry.register("x_seconds", "A histogram", histogram);
        let expected = exported(&[
            ("x_events_total", Kind::Counter),
            ("x_depth", Kind::Gauge),
            ("x_seconds", Kind::Histogram),
        ]);

        let mut classic = String::new();
        prometheus_text::encode(&mut classic, &registry).unwrap();
        assert!(
            classic.contains("# TYPE x_events_total counter\n"),
            "{classic}"
        );
        assert_eq!(exported_families(&classic), Ok(expected.clone()));

        let mut openmetrics = String::new();
        text::encode(&mut openmetrics, &registry).unwrap();
        assert!(
            openmetrics.contains("# TYPE x_events counter\n"),
            "{openmetrics}"
        );
        assert_eq!(exported_families(&openmetrics), Ok(expected));
    }

    #[test]
    fn exported_families_rejects_unknown_kinds_and_duplicates() {
        assert!(exported_families("# TYPE x summary\nx_sum 1\n").is_err());
        assert!(exported_families("# TYPE x untyped\nx 1\n").is_err());
        assert!(exported_families("# TYPE x\n").is_err());
        let twice = "# TYPE x_total counter\n# TYPE x counter\n";
        assert!(exported_families(twice).is_err());
        // Only TYPE lines count: HELP lines and samples declare nothing.
        let none = "# HELP y_total A counter\ny_total 1\n";
        assert_eq!(exported_families(none), Ok(BTreeMap::new()));
    }

    /// The check can fail: a daemon that stopped exporting one metric the
    /// rules and dashboard read, or changed its kind, is caught and named.
    #[test]
    fn check_deploy_files_rejects_a_missing_or_retyped_metric() {
        let all = all_that_deploy_reads();
        assert_eq!(check_deploy_files(&all), Ok(()));

        let mut missing = all.clone();
        assert!(missing.remove("cortex_raft_is_leader").is_some());
        let err = check_deploy_files(&missing).unwrap_err();
        let offending: Vec<&str> = err.lines().skip(1).collect();
        assert_eq!(offending.len(), 1, "{err}");
        assert!(
            offending[0].starts_with("cortex_raft_is_leader: not exported (used in "),
            "{err}"
        );
        assert!(offending[0].contains(RULES), "{err}");
        assert!(offending[0].contains(DASHBOARD), "{err}");

        let mut retyped = all;
        let histogram = "cortex_worker_duration_seconds";
        assert_eq!(
            retyped.insert(histogram.into(), Kind::Gauge),
            Some(Kind::Histogram)
        );
        let err = check_deploy_files(&retyped).unwrap_err();
        assert!(
            err.contains(&format!("{histogram}_bucket: not exported")),
            "{err}"
        );
    }

    #[test]
    fn yaml_exprs_reads_plain_quoted_and_block_values() {
        let yaml = "\
- alert: A
  expr: a > 0
  for: 1m
- record: b
  expr: 'sum(b) > 1'
- alert: C
  expr: |
    sum by (x) (c)
      > 2
  labels: {}
- expr: -d < 0
- expr: >-
    e
";
        let exprs = ["a > 0", "sum(b) > 1", "sum by (x) (c)\n> 2", "-d < 0", "e"];
        assert_eq!(yaml_exprs(yaml), exprs);
    }
}
