//! One test per validation rule: the exact path and a fragment of the message.

use serde_json::json;

use super::{assert_problem, parse_both, problems, rejects, task, with};

#[test]
fn api_version_and_kind_are_exact() {
    let plan = with(|p| {
        p["apiVersion"] = json!("cortex.dev/v2");
        p["kind"] = json!("Job");
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "apiVersion",
        r#"must be "cortex.dev/v1", got "cortex.dev/v2""#,
    );
    assert_problem(&errors, "kind", r#"must be "Run""#);
    let plan = with(|p| {
        p.as_object_mut().unwrap().remove("apiVersion");
    });
    rejects(&plan, "apiVersion", "required");
}

#[test]
fn run_names_follow_the_dns_label_rule() {
    for bad in ["Demo", "-demo", "demo-", "de_mo", "", &"a".repeat(64)] {
        rejects(
            &with(|p| p["metadata"]["name"] = json!(bad)),
            "metadata.name",
            "not a valid run name",
        );
    }
    rejects(
        &with(|p| p["metadata"] = json!({})),
        "metadata.name",
        "required",
    );
}

#[test]
fn task_ids_follow_their_rule() {
    for bad in ["Scan", ".hidden", "a b", "", &"a".repeat(64)] {
        let plan = with(|p| task(p, 2)["id"] = json!(bad));
        rejects(&plan, "spec.tasks[2].id", "not a valid task id");
    }
    assert!(parse_both(&with(|p| task(p, 2)["id"] = json!("build_2.x-y"))).is_ok());
}

#[test]
fn unknown_master_and_worker_types() {
    let plan = with(|p| {
        task(p, 0)["master"] = json!("qa");
        task(p, 1)["worker"] = json!("deploy");
        task(p, 2)["worker"] = json!("implementation-worker");
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "spec.tasks[0].master",
        r#"unknown master role "qa"; expected one of"#,
    );
    assert_problem(
        &errors,
        "spec.tasks[1].worker",
        r#"unknown worker type "deploy""#,
    );
    assert_problem(
        &errors,
        "spec.tasks[2].worker",
        r#"did you mean "implementation"?"#,
    );
    rejects(
        &with(|p| p["spec"]["masters"]["qa"] = json!({"personal": 1})),
        "spec.masters.qa",
        r#"unknown master role "qa""#,
    );
}

#[test]
fn a_task_master_must_be_in_the_plan() {
    let plan = with(|p| task(p, 2)["master"] = json!("testing"));
    rejects(
        &plan,
        "spec.tasks[2].master",
        r#"master "testing" is not among spec.masters"#,
    );
}

#[test]
fn duplicate_task_ids() {
    let plan = with(|p| task(p, 2)["id"] = json!("scan"));
    rejects(
        &plan,
        "spec.tasks[2].id",
        r#"duplicate task id "scan" (first at spec.tasks[0])"#,
    );
}

#[test]
fn unknown_self_and_repeated_dependencies() {
    let plan = with(|p| {
        task(p, 1)["dependsOn"] = json!(["scan", "nope", "scan"]);
        task(p, 2)["dependsOn"] = json!(["build"]);
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "spec.tasks[1].dependsOn[1]",
        r#"unknown task "nope""#,
    );
    assert_problem(&errors, "spec.tasks[1].dependsOn[2]", "listed twice");
    assert_problem(
        &errors,
        "spec.tasks[2].dependsOn[0]",
        "cannot depend on itself",
    );
}

#[test]
fn dependency_cycles_are_named() {
    let plan = with(|p| task(p, 0)["dependsOn"] = json!(["fix"]));
    rejects(
        &plan,
        "spec.tasks[0].dependsOn",
        "dependency cycle: scan -> fix -> scan",
    );
    let plan = with(|p| {
        task(p, 0)["dependsOn"] = json!(["build"]);
        task(p, 2)["dependsOn"] = json!(["fix"]);
    });
    rejects(
        &plan,
        "spec.tasks[0].dependsOn",
        "dependency cycle: scan -> build -> fix -> scan",
    );
}

#[test]
fn a_cycle_through_phases_says_so() {
    let plan = with(|p| {
        p["spec"]["phases"] =
            json!([{"name": "one", "tasks": ["fix"]}, {"name": "two", "tasks": ["scan"]}]);
    });
    rejects(&plan, "spec.tasks[0].dependsOn", "previous phase");
}

#[test]
fn budgets_must_add_up() {
    let plan = with(|p| p["spec"]["budget"]["total"] = json!(50000));
    rejects(
        &plan,
        "spec.masters",
        "masters over total: allocations 70000 + emergency reserve 10000 = 80000 > total 50000",
    );
    let plan = with(|p| p["spec"]["budget"]["emergencyReserve"] = json!(100001));
    rejects(
        &plan,
        "spec.budget.emergencyReserve",
        "emergency reserve 100001 > total 100000",
    );
    rejects(
        &with(|p| task(p, 0)["budget"] = json!(0)),
        "spec.tasks[0].budget",
        "must be > 0",
    );
    rejects(
        &with(|p| task(p, 2)["budget"] = json!(30001)),
        "spec.tasks[2].budget",
        "task over its master's pool: 30001 > development's allocation 30000",
    );
}

#[test]
fn bad_durations() {
    for (bad, fragment) in [
        (json!("15x"), "unknown unit"),
        (json!("15"), "without a unit"),
        (json!(900), "must be a duration string"),
        (json!("0s"), "must be longer than 0s"),
        (json!("25h"), "25h is over the limit of 24h"),
        (json!("1m1h"), "largest to smallest"),
    ] {
        rejects(
            &with(|p| task(p, 0)["timeout"] = bad),
            "spec.tasks[0].timeout",
            fragment,
        );
    }
    rejects(
        &with(|p| p["spec"]["timeout"] = json!("169h")),
        "spec.timeout",
        "limit of 168h",
    );
}

#[test]
fn retries_are_bounded() {
    rejects(
        &with(|p| task(p, 0)["retries"] = json!(11)),
        "spec.tasks[0].retries",
        "over the limit of 10",
    );
}

#[test]
fn phases_must_name_known_tasks_once() {
    let plan = with(|p| {
        p["spec"]["phases"] = json!([
            {"name": "one", "tasks": ["scan", "ghost"]},
            {"name": "two", "tasks": ["scan", "fix"]},
        ]);
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "spec.phases[0].tasks[1]",
        r#"unknown task "ghost""#,
    );
    assert_problem(
        &errors,
        "spec.phases[1].tasks[0]",
        r#"task "scan" is already in phase "one""#,
    );
    let plan = with(|p| {
        p["spec"]["phases"] = json!([
            {"name": "one", "tasks": ["scan"]},
            {"name": "one", "tasks": ["fix"]},
            {"name": "empty", "tasks": []},
        ]);
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "spec.phases[1].name",
        r#"duplicate phase "one" (first at spec.phases[0])"#,
    );
    assert_problem(
        &errors,
        "spec.phases[2].tasks",
        "a phase needs at least one task",
    );
}

#[test]
fn problems_in_different_layers_are_all_reported() {
    let plan = with(|p| {
        task(p, 0)["worker"] = json!("deploy");
        task(p, 1)["dependsOn"] = json!(["scan", "build"]);
        task(p, 2)["dependsOn"] = json!(["fix"]);
        p["spec"]["budget"]["total"] = json!(1);
    });
    let errors = problems(&plan);
    assert_problem(&errors, "spec.tasks[0].worker", "unknown worker type");
    assert_problem(
        &errors,
        "spec.tasks[1].dependsOn",
        "dependency cycle: fix -> build -> fix",
    );
    assert_problem(&errors, "spec.masters", "masters over total");
    assert!(
        !errors.iter().any(|e| e.message.contains("unknown task")),
        "{errors:#?}"
    );
}
