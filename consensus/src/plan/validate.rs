//! Checking a [`RunSpec`]: names, budgets, limits and the dependency graph.
//!
//! [`RunSpec::validate`] trusts nothing about its input: the state machine
//! calls it again when it applies `SubmitRun`, so a spec built by hand or
//! decoded by an older version is held to the same rules as a parsed plan.
//! Paths in the messages use the plan's spelling (`spec.tasks[3].budget`).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::error::{field, index, PlanErrors, Report};
use super::executor::check_executor;
use super::graph;
use super::limits::*;
use super::spec::{BudgetSpec, RunSpec};

/// Which parts of a spec are real. A spec decoded from a broken plan has
/// placeholders for the parts that were already reported; checking those
/// would only repeat the same problem in other words.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// `metadata.name` was read.
    pub(crate) name: bool,
    /// `spec.budget` was read.
    pub(crate) budget: bool,
    /// `spec.masters` was read without any problem.
    pub(crate) masters: bool,
    /// Every task and phase of the plan is in the spec.
    pub(crate) complete: bool,
    /// For each task of the spec, its index among the plan's tasks.
    pub(crate) plan_index: Vec<usize>,
    /// Ids of the plan's tasks that are not in the spec; references to them
    /// are not unknown.
    pub(crate) undecoded_ids: BTreeSet<String>,
}

impl Scope {
    /// Everything in `spec` is real, as when validating on apply.
    pub(crate) fn whole(spec: &RunSpec) -> Scope {
        Scope {
            name: true,
            budget: true,
            masters: true,
            complete: true,
            plan_index: (0..spec.tasks.len()).collect(),
            undecoded_ids: BTreeSet::new(),
        }
    }

    /// The path of the spec's `i`th task, as the plan numbers it.
    pub(crate) fn task_path(&self, i: usize) -> String {
        index("spec.tasks", self.plan_index.get(i).copied().unwrap_or(i))
    }
}

impl RunSpec {
    /// Checks every rule of the plan format on this spec and reports all
    /// problems found. `plan::parse` runs it; so does the state machine on
    /// apply, because a replicated command must not be trusted.
    pub fn validate(&self) -> Result<(), PlanErrors> {
        let mut report = Report::default();
        check(self, &Scope::whole(self), &mut report);
        report.finish()
    }
}

/// Runs every check that `scope` allows, recording problems in `r`.
pub(crate) fn check(spec: &RunSpec, scope: &Scope, r: &mut Report) {
    if scope.name {
        check_name(&spec.name, "metadata.name", Naming::Run, r);
    }
    if spec.tasks.len() > MAX_TASKS {
        let count = spec.tasks.len();
        r.push(
            "spec.tasks",
            format!("{count} tasks; the limit is {MAX_TASKS}"),
        );
        return;
    }
    if scope.complete && spec.tasks.is_empty() {
        r.push("spec.tasks", "a run needs at least one task");
    }
    if scope.budget {
        check_budget(spec, scope.masters, r);
    }
    if let Some(ms) = spec.timeout_ms {
        check_duration(ms, "spec.timeout", MAX_RUN_TIMEOUT_MS, r);
    }
    check_phases(spec, scope, r);
    let phases: HashSet<&str> = spec.phases.iter().map(String::as_str).collect();
    for i in 0..spec.tasks.len() {
        check_task(spec, scope, &phases, i, r);
    }
    graph::check(spec, scope, r);
}

fn check_budget(spec: &RunSpec, masters: bool, r: &mut Report) {
    let BudgetSpec {
        total,
        emergency_reserve: reserve,
    } = spec.budget;
    if reserve > total {
        r.push(
            "spec.budget.emergencyReserve",
            format!("emergency reserve {reserve} > total {total}"),
        );
    }
    if masters {
        // u128 cannot overflow: at most 14 pools and a reserve of u64 each.
        let allocations: u128 = spec
            .masters
            .values()
            .map(|p| u128::from(p.personal) + u128::from(p.workers))
            .sum();
        let needed = allocations + u128::from(reserve);
        if needed > u128::from(total) {
            r.push(
                "spec.masters",
                format!(
                    "masters over total: allocations {allocations} + emergency reserve \
                     {reserve} = {needed} > total {total}"
                ),
            );
        }
    }
}

fn check_phases(spec: &RunSpec, scope: &Scope, r: &mut Report) {
    let used: HashSet<&str> = spec
        .tasks
        .iter()
        .filter_map(|t| t.phase.as_deref())
        .collect();
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (k, name) in spec.phases.iter().enumerate() {
        let path = index("spec.phases", k);
        check_name(name, &field(&path, "name"), Naming::Phase, r);
        if let Some(j) = first.get(name.as_str()) {
            r.push(
                field(&path, "name"),
                format!(
                    "duplicate phase {} (first at spec.phases[{j}])",
                    quoted(name)
                ),
            );
            continue;
        }
        first.insert(name, k);
        if scope.complete && !used.contains(name.as_str()) {
            r.push(field(&path, "tasks"), "a phase needs at least one task");
        }
    }
}

fn check_task(spec: &RunSpec, scope: &Scope, phases: &HashSet<&str>, i: usize, r: &mut Report) {
    let task = &spec.tasks[i];
    let path = &scope.task_path(i);
    check_name(&task.id.0, &field(path, "id"), Naming::Task, r);
    if task.budget == 0 {
        r.push(field(path, "budget"), "must be > 0");
    }
    if scope.masters {
        match spec.masters.get(&task.master) {
            None => r.push(
                field(path, "master"),
                format!(
                    "master {:?} is not among spec.masters",
                    task.master.as_str()
                ),
            ),
            Some(pools) if task.budget > pools.allocation() => r.push(
                field(path, "budget"),
                format!(
                    "task over its master's pool: {} > {}'s allocation {} (personal {} + \
                     workers {})",
                    task.budget,
                    task.master,
                    pools.allocation(),
                    pools.personal,
                    pools.workers
                ),
            ),
            Some(_) => {}
        }
    }
    check_duration(
        task.timeout_ms,
        &field(path, "timeout"),
        MAX_TASK_TIMEOUT_MS,
        r,
    );
    if task.retries > MAX_RETRIES {
        r.push(
            field(path, "retries"),
            format!("{} is over the limit of {MAX_RETRIES}", task.retries),
        );
    }
    if let Some(node) = &task.placement.node {
        check_text(node, &field(path, "node"), MAX_LABEL_BYTES, r);
    }
    let selector = field(path, "nodeSelector");
    check_count(
        task.placement.labels.len(),
        &selector,
        MAX_LABELS,
        "labels",
        r,
    );
    for (key, value) in &task.placement.labels {
        let label = field(&selector, key);
        check_text(key, &label, MAX_LABEL_BYTES, r);
        if value.len() > MAX_LABEL_BYTES || value.chars().any(char::is_control) {
            r.push(label, bad_text(value, MAX_LABEL_BYTES));
        }
    }
    check_executor(&task.executor, &field(path, "executor"), r);
    if let Some(text) = &task.description {
        if text.len() > MAX_DESCRIPTION_BYTES {
            r.push(
                field(path, "description"),
                format!("{} bytes; the limit is {MAX_DESCRIPTION_BYTES}", text.len()),
            );
        }
    }
    if let Some(phase) = &task.phase {
        if !phases.contains(phase.as_str()) {
            r.push(
                path,
                format!("phase {} is not among spec.phases", quoted(phase)),
            );
        }
    }
}

/// At most [`MAX_ARG_BYTES`] and no NUL byte (it cannot reach a process).
pub(super) fn check_bytes(value: &str, path: &str, r: &mut Report) {
    if value.len() > MAX_ARG_BYTES {
        r.push(
            path,
            format!("{} bytes; the limit is {MAX_ARG_BYTES}", value.len()),
        );
    } else if value.contains('\0') {
        r.push(path, "must not contain a NUL byte");
    }
}

pub(super) fn check_count(count: usize, path: &str, limit: usize, what: &str, r: &mut Report) {
    if count > limit {
        r.push(path, format!("{count} {what}; the limit is {limit}"));
    }
}

/// Non-empty, at most `limit` bytes, no control characters.
fn check_text(value: &str, path: &str, limit: usize, r: &mut Report) {
    if value.is_empty() || value.len() > limit || value.chars().any(char::is_control) {
        r.push(path, bad_text(value, limit));
    }
}

fn bad_text(value: &str, limit: usize) -> String {
    format!(
        "{} is not valid here: use 1-{limit} bytes without control characters",
        quoted(value)
    )
}

fn check_duration(ms: u64, path: &str, limit: u64, r: &mut Report) {
    use super::duration::format;
    if ms == 0 {
        r.push(path, "must be longer than 0s");
    } else if ms > limit {
        r.push(
            path,
            format!("{} is over the limit of {}", format(ms), format(limit)),
        );
    }
}

/// What a name names, and so which characters it may use.
#[derive(Clone, Copy)]
enum Naming {
    Run,
    Task,
    Phase,
}

fn check_name(value: &str, path: &str, naming: Naming, r: &mut Report) {
    let (what, extra): (&str, &[char]) = match naming {
        Naming::Run => ("run name", &['-']),
        Naming::Task => ("task id", &['-', '_', '.']),
        Naming::Phase => ("phase name", &['-', '_', '.']),
    };
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c);
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (1..=MAX_NAME_CHARS).contains(&value.chars().count())
        && value.chars().all(allowed)
        && edge(value.chars().next())
        && (!matches!(naming, Naming::Run) || edge(value.chars().last()));
    if !ok {
        let rule = match naming {
            Naming::Run => "a-z, 0-9 and '-', starting and ending with a letter or digit",
            _ => "a-z, 0-9, '-', '_' and '.', starting with a letter or digit",
        };
        r.push(
            path,
            format!(
                "{} is not a valid {what}: use 1-{MAX_NAME_CHARS} characters from {rule}",
                quoted(value)
            ),
        );
    }
}

/// `value` in quotes, shortened so a huge bad value does not flood the answer.
pub(crate) fn quoted(value: &str) -> String {
    const SHOWN: usize = 64;
    if value.chars().count() <= SHOWN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head:?}...")
    }
}
