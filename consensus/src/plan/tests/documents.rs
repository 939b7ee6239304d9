//! Rules about the document itself and its sizes: limits, syntax, unknown
//! keys, wrong types, unsupported executors; exact path and message fragment.

use serde_json::{json, Value};

use super::{assert_problem, base, problems, process, rejects, task, with};
use crate::plan::{parse, MAX_PLAN_BYTES, MAX_TASKS};

#[test]
fn huge_numbers_do_not_overflow() {
    let max = u64::MAX;
    let plan = with(|p| {
        p["spec"]["budget"] = json!({"total": max, "emergencyReserve": max});
        p["spec"]["masters"]["security"] = json!({"personal": max, "workers": max});
    });
    rejects(&plan, "spec.masters", "masters over total");
    let plan = with(|p| task(p, 0)["budget"] = json!(-1));
    rejects(&plan, "spec.tasks[0].budget", "must not be negative");
    let text = serde_json::to_string(&base())
        .unwrap()
        .replace(r#""total":100000"#, r#""total":100000000000000000000000"#);
    let errors = parse(&text).unwrap_err().0;
    assert!(!errors.is_empty());
}

#[test]
fn too_many_tasks() {
    let one = |i: usize| {
        json!({"id": format!("t{i}"), "master": "security", "worker": "pr",
                                "executor": {"process": {"command": ["x"]}}})
    };
    let plan = with(|p| task_list(p, (0..=MAX_TASKS).map(one).collect()));
    rejects(&plan, "spec.tasks", "5001 tasks; the limit is 5000");
    let plan = with(|p| task_list(p, Vec::new()));
    rejects(&plan, "spec.tasks", "a run needs at least one task");
}

fn task_list(plan: &mut Value, tasks: Vec<Value>) {
    plan["spec"]["tasks"] = Value::Array(tasks);
}

#[test]
fn too_large_a_document() {
    let text = format!("# {}\n", "x".repeat(MAX_PLAN_BYTES));
    let errors = parse(&text).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "");
    assert!(
        errors[0].message.contains("the limit is 1048576"),
        "{errors:?}"
    );
}

#[test]
fn executors_are_bounded() {
    rejects(
        &with(|p| process(p, 0)["command"] = json!([])),
        "spec.tasks[0].executor.process.command",
        "must not be empty",
    );
    rejects(
        &with(|p| process(p, 0)["command"] = json!(vec!["a"; 65])),
        "spec.tasks[0].executor.process.command",
        "65 elements; the limit is 64",
    );
    let long = "a".repeat(4097);
    rejects(
        &with(|p| process(p, 0)["command"] = json!(["sh", long])),
        "spec.tasks[0].executor.process.command[1]",
        "4097 bytes; the limit is 4096",
    );
    let env: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("V{i}"), json!("x"))).collect();
    rejects(
        &with(|p| process(p, 0)["env"] = Value::Object(env)),
        "spec.tasks[0].executor.process.env",
        "65 variables; the limit is 64",
    );
    rejects(
        &with(|p| process(p, 0)["env"] = json!({"A=B": "x"})),
        r#"spec.tasks[0].executor.process.env["A=B"]"#,
        "not a valid environment variable name",
    );
    for reference in ["${env:}", "${file:relative}", "${vault:x}"] {
        rejects(
            &with(|p| process(p, 0)["env"] = json!({ "KEY": reference })),
            "spec.tasks[0].executor.process.env.KEY",
            "not a secret reference",
        );
    }
    rejects(
        &with(|p| process(p, 0)["workdir"] = json!("")),
        "spec.tasks[0].executor.process.workdir",
        "must not be empty",
    );
    rejects(
        &with(|p| task(p, 0)["description"] = json!("d".repeat(4097))),
        "spec.tasks[0].description",
        "4097 bytes; the limit is 4096",
    );
}

#[test]
fn executors_are_decoded_and_checked_with_their_paths() {
    let plan = with(|p| task(p, 0)["executor"] = json!({"docker": {"image": "x"}}));
    rejects(
        &plan,
        "spec.tasks[0].executor.docker",
        r#"executor "docker" is not supported by this version; the supported executors are: "process", "llm", "builtin", "k8s-job""#,
    );
    let plan = with(|p| task(p, 0)["executor"] = json!({"llm": {"model": "x"}}));
    rejects(&plan, "spec.tasks[0].executor.llm.api", "required");
    rejects(&plan, "spec.tasks[0].executor.llm.prompt", "required");
    let plan = with(|p| {
        task(p, 0)["executor"] = json!({"llm": {"api": "anthropic", "endpoint": "ftp://x",
            "model": "m", "prompt": "hi"}})
    });
    rejects(
        &plan,
        "spec.tasks[0].executor.llm.endpoint",
        "http:// or https://",
    );
    let plan = with(|p| task(p, 0)["executor"] = json!({"builtin": {"name": "teleport"}}));
    rejects(
        &plan,
        "spec.tasks[0].executor.builtin.name",
        "unknown builtin",
    );
    let plan = with(|p| {
        task(p, 0)["executor"] = json!({"builtin": {"name": "sleep", "duration": "2s", "color": 1}})
    });
    rejects(
        &plan,
        "spec.tasks[0].executor.builtin.color",
        "unknown field",
    );
    let plan = with(|p| task(p, 0)["executor"] = json!({"builtin": {"name": "security-audit"}}));
    rejects(&plan, "spec.tasks[0].executor.builtin", "nothing to audit");
    let plan = with(|p| {
        task(p, 0)["executor"] = json!({"process": {"command": ["claude"], "output": "xml"}})
    });
    rejects(
        &plan,
        "spec.tasks[0].executor.process.output",
        "unknown output format",
    );
    let plan = with(|p| task(p, 0)["executor"] = json!({}));
    rejects(
        &plan,
        "spec.tasks[0].executor",
        "needs exactly one executor kind",
    );
    rejects(
        &with(|p| {
            task(p, 0)
                .as_object_mut()
                .unwrap()
                .remove("executor")
                .map(drop)
                .unwrap()
        }),
        "spec.tasks[0].executor",
        "required",
    );
}

#[test]
fn placement_is_bounded() {
    rejects(
        &with(|p| task(p, 0)["node"] = json!("")),
        "spec.tasks[0].node",
        "not valid here",
    );
    rejects(
        &with(|p| task(p, 0)["nodeSelector"] = json!({"disk": 1})),
        "spec.tasks[0].nodeSelector.disk",
        "must be a string",
    );
    let labels: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("l{i}"), json!("x"))).collect();
    rejects(
        &with(|p| task(p, 0)["nodeSelector"] = Value::Object(labels)),
        "spec.tasks[0].nodeSelector",
        "65 labels",
    );
}

#[test]
fn unknown_keys_and_wrong_types_name_their_path() {
    let plan = with(|p| {
        p["extra"] = json!(1);
        task(p, 1)["depends_on"] = json!(["scan"]);
        task(p, 2)["budget"] = json!("lots");
        task(p, 2)["priority"] = json!("urgent");
        p["spec"]["budget"]["spare"] = json!(1);
    });
    let errors = problems(&plan);
    assert_problem(
        &errors,
        "extra",
        r#"unknown field "extra"; expected one of: apiVersion"#,
    );
    assert_problem(
        &errors,
        "spec.tasks[1].depends_on",
        r#"did you mean "dependsOn"?"#,
    );
    assert_problem(
        &errors,
        "spec.tasks[2].budget",
        "must be a number, got a string",
    );
    assert_problem(
        &errors,
        "spec.tasks[2].priority",
        r#"unknown priority "urgent""#,
    );
    assert_problem(&errors, "spec.budget.spare", "unknown field");
    assert_eq!(errors.len(), 5, "{errors:#?}");
}

#[test]
fn malformed_documents() {
    for (text, fragment) in [
        ("apiVersion: [", "not valid YAML"),
        ("{\"apiVersion\": ", "not valid JSON"),
        ("{\"kind\": \"Run\", \"kind\": \"Run\"}", "duplicate key"),
        (
            "kind: Run\nkind: Run\n",
            "duplicate mapping key: kind at line 2",
        ),
        ("- 1\n- 2\n", "must be a mapping"),
        ("", "must be a mapping"),
        ("a: &a [1, 2]\nb: *a\n", "unknown field"),
    ] {
        let errors = parse(text).unwrap_err().0;
        assert!(
            errors.iter().any(|e| e.message.contains(fragment)),
            "{text:?}: {errors:#?}"
        );
    }
}

#[test]
fn alias_bombs_are_cut_short() {
    // Few aliases, but each expands a long list (the YAML reader's node cap)
    // or a long string (our own cap on the expanded document).
    let list = vec!["x"; 20_000].join(", ");
    let refs = vec!["*a"; 200].join(", ");
    let nodes = format!("a: &a [{list}]\nb: [{refs}]\n");
    let bytes = format!(
        "a: &a \"{}\"\nb: [*a, *a, *a, *a, *a, *a]\n",
        "x".repeat(400_000)
    );
    for (text, fragment) in [(nodes, "budget breached"), (bytes, "expands to more than")] {
        let errors = parse(&text).unwrap_err().0;
        assert!(errors[0].message.contains(fragment), "{errors:#?}");
    }
}

#[test]
fn deep_nesting_is_rejected_in_linear_time() {
    // libyaml-based readers take minutes on this (quadratic in the depth).
    for text in [format!("a: {}", "[".repeat(400_000)), "[".repeat(400_000)] {
        let errors = parse(&text).unwrap_err().0;
        assert!(errors[0].message.contains("recursion limit"), "{errors:#?}");
    }
}

#[test]
fn the_number_of_reported_problems_is_capped() {
    let bad = |i: usize| {
        json!({"id": format!("T{i}"), "master": "security", "worker": "scan",
                                "executor": {"process": {"command": ["x"]}}})
    };
    let plan = with(|p| task_list(p, (0..150).map(bad).collect()));
    let errors = problems(&plan);
    assert_eq!(errors.len(), 101);
    assert_eq!(errors[100].message, "50 more problems not shown");
}

#[test]
fn yaml_anchors_and_merge_keys_share_blocks() {
    let text = "apiVersion: cortex.dev/v1\nkind: Run\nmetadata: {name: m}\nspec:\n  \
                budget: {total: 100000}\n  masters: {security: {workers: 50000}}\n  tasks:\n    \
                - &scan {id: a, master: security, worker: scan, executor: {process: {command: [x]}}}\n    \
                - <<: *scan\n      id: b\n      approval: yes\n";
    let errors = parse(text).unwrap_err().0;
    // `yes` is a string in YAML 1.2, so it reaches the approval check as such.
    assert_problem(
        &errors,
        "spec.tasks[1].approval",
        r#"unknown approval "yes""#,
    );
    let spec = parse(&text.replace("      approval: yes\n", "")).unwrap();
    assert_eq!(spec.tasks[1].id.0, "b");
    assert_eq!(spec.tasks[1].executor, spec.tasks[0].executor);
}
