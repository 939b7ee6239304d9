//! Tests of the plan format: the example plan, defaults, phases, YAML/JSON
//! equivalence and apply-time validation here; one test per validation rule
//! in `tests/rules.rs`; the `k8s-job` executor's fields in
//! `tests/k8s_job.rs`; never-panics properties in `tests/prop.rs`.

mod documents;
mod k8s_job;
mod prop;
mod rules;

use serde_json::{json, Value};

use super::*;

/// The example that ships with Cortex.
pub(super) const EXAMPLE: &str = include_str!("../../../examples/full-orchestration.yaml");

/// A small valid plan: two masters, three tasks, `fix` after `scan`.
pub(super) fn base() -> Value {
    let process = |cmd: &str| json!({"process": {"command": ["sh", "-c", cmd]}});
    json!({
        "apiVersion": "cortex.dev/v1",
        "kind": "Run",
        "metadata": {"name": "demo"},
        "spec": {
            "budget": {"total": 100000, "emergencyReserve": 10000},
            "masters": {
                "security": {"personal": 20000, "workers": 20000},
                "development": {"personal": 10000, "workers": 20000}
            },
            "tasks": [
                {"id": "scan", "master": "security", "worker": "scan",
                 "executor": process("echo scan")},
                {"id": "fix", "master": "security", "worker": "fix", "dependsOn": ["scan"],
                 "executor": process("echo fix")},
                {"id": "build", "master": "development", "worker": "implementation",
                 "executor": process("echo build")}
            ]
        }
    })
}

/// [`base`] after `edit`.
pub(super) fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut plan = base();
    edit(&mut plan);
    plan
}

/// `spec.tasks[i]` of `plan`.
pub(super) fn task(plan: &mut Value, i: usize) -> &mut Value {
    &mut plan["spec"]["tasks"][i]
}

/// `spec.tasks[i].executor.process` of `plan`.
pub(super) fn process(plan: &mut Value, i: usize) -> &mut Value {
    &mut plan["spec"]["tasks"][i]["executor"]["process"]
}

/// Parses `plan` rendered both as JSON and as YAML, checks both agree, and
/// returns the result.
pub(super) fn parse_both(plan: &Value) -> Result<RunSpec, PlanErrors> {
    let from_json = parse(&serde_json::to_string(plan).unwrap());
    let from_yaml = parse(&serde_yaml_ng::to_string(plan).unwrap());
    assert_eq!(from_json, from_yaml, "JSON and YAML disagree");
    from_json
}

/// The problems `plan` is rejected with.
pub(super) fn problems(plan: &Value) -> Vec<PlanError> {
    match parse_both(plan) {
        Ok(spec) => panic!("accepted: {spec:#?}"),
        Err(errors) => errors.0,
    }
}

/// Asserts a problem at exactly `path` whose message contains `fragment`.
pub(super) fn assert_problem(errors: &[PlanError], path: &str, fragment: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.path == path && e.message.contains(fragment)),
        "no problem at {path:?} containing {fragment:?} in {errors:#?}"
    );
}

/// Rejects `plan` with a problem at `path` containing `fragment`.
pub(super) fn rejects(plan: &Value, path: &str, fragment: &str) {
    assert_problem(&problems(plan), path, fragment);
}

fn task_named<'a>(spec: &'a RunSpec, id: &str) -> &'a TaskSpec {
    spec.tasks.iter().find(|t| t.id.0 == id).unwrap()
}

fn ids(deps: &[TaskId]) -> Vec<&str> {
    deps.iter().map(|d| d.0.as_str()).collect()
}

#[test]
fn the_example_parses_and_validates() {
    let spec = parse(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.name, "full-orchestration");
    assert_eq!(spec.masters.len(), 7);
    assert_eq!(spec.tasks.len(), 28);
    assert_eq!(
        spec.phases,
        ["preflight", "discovery", "execution", "aggregation"]
    );
    assert_eq!(spec.budget.total, 365_000);
    assert_eq!(spec.budget.emergency_reserve, 25_000);
    let pools: u64 = spec.masters.values().map(MasterPools::allocation).sum();
    assert_eq!(pools, 340_000, "the seed's master pools");
    assert_eq!(spec.timeout_ms, Some(2 * 3_600_000));
    assert!(spec.tasks.iter().all(|t| t.placement.node.is_none()));
    assert!(spec.tasks.iter().all(|t| t.phase.is_some()));
    spec.validate().unwrap();

    let prs = task_named(&spec, "security-fix-prs");
    assert_eq!(prs.depends_on[0].0, "fix-vulnerabilities");
    assert!(
        ids(&prs.depends_on).contains(&"scan-cortex"),
        "after the scans"
    );
    let report = task_named(&spec, "executive-report");
    assert_eq!(
        report.depends_on.len(),
        1 + 15,
        "its own plus all of execution"
    );
    assert_eq!(
        task_named(&spec, "catalog-k3s-worker01").timeout_ms,
        20 * 60_000
    );
}

#[test]
fn the_documented_example_parses() {
    let doc = include_str!("../../../docs/plan-format.md");
    let start = doc.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let spec = parse(&doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.tasks.len(), 3);
    assert_eq!(ids(&task_named(&spec, "summary").depends_on), ["scan-etc"]);
    assert!(task_named(&spec, "fix-etc").approval_required);
}

#[test]
fn defaults_come_from_the_worker_type() {
    let spec = parse_both(&base()).unwrap();
    let scan = task_named(&spec, "scan");
    assert_eq!(scan.budget, 8_000);
    assert_eq!(scan.timeout_ms, 15 * 60_000);
    assert_eq!(scan.retries, 2);
    assert_eq!(scan.priority, Priority::Medium);
    assert!(!scan.approval_required);
    assert_eq!(scan.placement, Placement::default());
    assert_eq!(scan.phase, None);
    let build = task_named(&spec, "build");
    assert_eq!((build.budget, build.timeout_ms), (10_000, 45 * 60_000));
    assert_eq!(spec.on_dependency_failure, DependencyPolicy::Fail);
    assert_eq!(spec.timeout_ms, None);

    let mut plan = base();
    plan["spec"]["budget"] = json!({"total": 100000});
    assert_eq!(parse_both(&plan).unwrap().budget.emergency_reserve, 0);
}

#[test]
fn explicit_values_override_defaults() {
    let mut plan = base();
    plan["spec"]["tasks"][0] = json!({
        "id": "scan", "master": "security", "worker": "scan", "priority": "critical",
        "budget": 9000, "timeout": "1h30m", "retries": 0, "node": "node-1",
        "nodeSelector": {"disk": "ssd"}, "approval": "required", "description": "hello",
        "executor": {"process": {"command": ["ls"], "env": {"A": "b"}, "workdir": "/tmp"}}
    });
    plan["spec"]["timeout"] = json!("500ms");
    plan["spec"]["onDependencyFailure"] = json!("skip");
    let spec = parse_both(&plan).unwrap();
    let scan = task_named(&spec, "scan");
    assert_eq!(scan.priority, Priority::Critical);
    assert_eq!(
        (scan.budget, scan.timeout_ms, scan.retries),
        (9000, 5_400_000, 0)
    );
    assert_eq!(scan.placement.node.as_deref(), Some("node-1"));
    assert_eq!(scan.placement.labels["disk"], "ssd");
    assert!(scan.approval_required);
    assert_eq!(scan.description.as_deref(), Some("hello"));
    let ExecutorSpec::Process(process) = &scan.executor else {
        panic!("expected a process executor, got {:?}", scan.executor);
    };
    assert_eq!(
        (process.command.as_slice(), process.env["A"].as_str()),
        (&["ls".to_string()][..], "b")
    );
    assert_eq!(process.workdir.as_deref(), Some("/tmp"));
    assert_eq!(spec.timeout_ms, Some(500));
    assert_eq!(spec.on_dependency_failure, DependencyPolicy::Skip);
}

#[test]
fn phases_become_dependencies() {
    let mut plan = base();
    plan["spec"]["phases"] = json!([
        {"name": "one", "tasks": ["scan"]},
        {"name": "two", "tasks": ["fix", "build"]}
    ]);
    let spec = parse_both(&plan).unwrap();
    assert_eq!(spec.phases, ["one", "two"]);
    // `fix` already depended on `scan`: not added twice.
    assert_eq!(ids(&task_named(&spec, "fix").depends_on), ["scan"]);
    assert_eq!(ids(&task_named(&spec, "build").depends_on), ["scan"]);
    assert_eq!(task_named(&spec, "build").phase.as_deref(), Some("two"));
    assert!(task_named(&spec, "scan").depends_on.is_empty());
}

#[test]
fn yaml_and_json_give_the_same_spec() {
    let yaml = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: {name: same}
spec:
  budget: {total: 50000, emergencyReserve: 5000}
  timeout: 1h
  masters:
    testing: {personal: 10000, workers: 10000}
  tasks:
    - id: unit
      master: testing
      worker: test
      dependsOn: []
      executor: {process: {command: [cargo, test], env: {RUST_LOG: info}}}
"#;
    let json = r#"{
  "apiVersion": "cortex.dev/v1", "kind": "Run", "metadata": {"name": "same"},
  "spec": {
    "budget": {"total": 50000, "emergencyReserve": 5000}, "timeout": "1h",
    "masters": {"testing": {"personal": 10000, "workers": 10000}},
    "tasks": [{"id": "unit", "master": "testing", "worker": "test", "dependsOn": [],
               "executor": {"process": {"command": ["cargo", "test"],
                                        "env": {"RUST_LOG": "info"}}}}]
  }
}"#;
    let from_yaml = parse(yaml).unwrap();
    assert_eq!(from_yaml, parse(json).unwrap());
    assert_eq!(from_yaml.tasks[0].budget, 6_000);
}

#[test]
fn validate_rejects_a_hand_built_cycle() {
    let mut spec = parse_both(&base()).unwrap();
    spec.tasks[0].depends_on.push(TaskId("fix".into()));
    let errors = spec.validate().unwrap_err();
    assert_problem(
        &errors.0,
        "spec.tasks[0].dependsOn",
        "dependency cycle: scan -> fix -> scan",
    );
}

#[test]
fn validate_rejects_a_hand_built_overspend() {
    let mut spec = parse_both(&base()).unwrap();
    spec.masters.get_mut(&MasterRole::Security).unwrap().workers = u64::MAX;
    spec.tasks[2].budget = 0;
    spec.tasks[2].executor = ExecutorSpec::command(vec![]);
    let errors = spec.validate().unwrap_err().0;
    assert_problem(&errors, "spec.masters", "masters over total");
    assert_problem(&errors, "spec.tasks[2].budget", "must be > 0");
    assert_problem(
        &errors,
        "spec.tasks[2].executor.process.command",
        "must not be empty",
    );
}

#[test]
fn validate_rejects_a_broken_phase_chain() {
    let mut plan = base();
    plan["spec"]["phases"] = json!([
        {"name": "one", "tasks": ["scan"]},
        {"name": "two", "tasks": ["build"]}
    ]);
    let mut spec = parse_both(&plan).unwrap();
    spec.tasks[2].depends_on.clear();
    spec.tasks[1].phase = Some("three".into());
    let errors = spec.validate().unwrap_err().0;
    assert_problem(
        &errors,
        "spec.tasks[2].dependsOn",
        "must depend on every task of phase \"one\"",
    );
    assert_problem(
        &errors,
        "spec.tasks[1]",
        "phase \"three\" is not among spec.phases",
    );
}

#[test]
fn errors_display_and_serialize_with_paths() {
    let errors = PlanErrors(vec![
        PlanError::new("spec.tasks[0].budget", "must be > 0"),
        PlanError::new("", "whole document"),
    ]);
    assert_eq!(
        errors.to_string(),
        "invalid plan (2 problems): spec.tasks[0].budget: must be > 0; whole document"
    );
    assert_eq!(
        serde_json::to_value(&errors).unwrap(),
        json!([
            {"path": "spec.tasks[0].budget", "message": "must be > 0"},
            {"path": "", "message": "whole document"}
        ])
    );
}

#[test]
fn durations_round_trip() {
    for (text, ms) in [
        ("500ms", 500),
        ("30s", 30_000),
        ("15m", 900_000),
        ("1h30m", 5_400_000),
    ] {
        assert_eq!(duration::parse(text), Ok(ms));
        assert_eq!(duration::format(ms), text);
    }
    assert_eq!(duration::parse("1h1m1s1ms"), Ok(3_661_001));
    for bad in [
        "",
        "15",
        "m",
        "1.5h",
        "1m1h",
        "1h1h",
        "15x",
        " 1m",
        "-1s",
        "99999999999999999999h",
    ] {
        assert!(duration::parse(bad).is_err(), "{bad:?} accepted");
    }
}
