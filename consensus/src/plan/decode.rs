//! Decoding the document tree into a [`RunSpec`]: the surface syntax
//! (camelCase keys, durations, executor kinds), defaults, and phases turned
//! into dependencies.
//!
//! Decoding reports what it alone can see (unknown keys, wrong types,
//! unknown names, phases naming unknown tasks). Everything that can be said
//! about a [`RunSpec`] is left to the validator, which also runs on apply.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::error::{field, index, Report};
use super::fields::{choice, duration_ms, exact, object, string, string_list, uint, Object};
use super::limits::{MAX_DEPENDENCIES, MAX_TASKS};
use super::spec::{BudgetSpec, DependencyPolicy, MasterPools, MasterRole, RunSpec, TaskId};
use super::task::{decode_task, master_names, TaskDraft};
use super::tree::Node;
use super::validate::Scope;

/// The only `apiVersion` this version reads.
pub const API_VERSION: &str = "cortex.dev/v1";

/// The only `kind` this version reads.
pub const KIND: &str = "Run";

const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name"];
const SPEC_KEYS: &[&str] = &[
    "budget",
    "timeout",
    "onDependencyFailure",
    "masters",
    "phases",
    "tasks",
];
const BUDGET_KEYS: &[&str] = &["total", "emergencyReserve"];
const POOL_KEYS: &[&str] = &["personal", "workers"];
const PHASE_KEYS: &[&str] = &["name", "tasks"];
const POLICIES: &[(&str, DependencyPolicy)] = &[
    ("fail", DependencyPolicy::Fail),
    ("skip", DependencyPolicy::Skip),
];

/// A decoded plan and what the validator may check of it.
pub(crate) struct Decoded {
    /// The run, possibly missing the tasks that could not be decoded.
    pub(crate) spec: RunSpec,
    /// Which parts of `spec` are real (not placeholders for broken parts).
    pub(crate) scope: Scope,
}

/// Decodes a whole plan. `None` when too little of it could be read for
/// validation to say anything more.
pub(crate) fn decode(root: &Node, r: &mut Report) -> Option<Decoded> {
    let top = object(root, "", ROOT_KEYS, r)?;
    if let Some(v) = top.required("apiVersion", r) {
        exact(v, "apiVersion", API_VERSION, r);
    }
    if let Some(v) = top.required("kind", r) {
        exact(v, "kind", KIND, r);
    }
    let name = top
        .required("metadata", r)
        .and_then(|m| object(m, "metadata", METADATA_KEYS, r))
        .and_then(|m| {
            m.required("name", r)
                .and_then(|n| string(n, "metadata.name", r))
        });
    let spec = object(top.required("spec", r)?, "spec", SPEC_KEYS, r)?;

    let budget = spec.required("budget", r).and_then(|b| decode_budget(b, r));
    let timeout_ms = spec
        .get("timeout")
        .and_then(|v| duration_ms(v, "spec.timeout", r));
    let on_dependency_failure = spec
        .get("onDependencyFailure")
        .and_then(|v| choice(v, "spec.onDependencyFailure", "policy", POLICIES, r))
        .unwrap_or_default();
    let masters = spec
        .required("masters", r)
        .and_then(|m| decode_masters(m, r));

    let (drafts, listed) = decode_tasks(&spec, r)?;
    let mut complete = listed && drafts.iter().all(|d| d.task.is_some());
    let owned_ids: Vec<Option<String>> = drafts.iter().map(|d| d.id.clone()).collect();
    let ids: Vec<Option<&str>> = owned_ids.iter().map(Option::as_deref).collect();
    let phases = match spec.get("phases") {
        Some(node) => {
            let phases = decode_phases(node, &ids, r);
            complete &= phases.is_some();
            phases.unwrap_or_default()
        }
        None => Vec::new(),
    };

    let mut tasks = Vec::new();
    let mut plan_index = Vec::new();
    let mut undecoded_ids = BTreeSet::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        match draft.task {
            Some(task) => {
                tasks.push(task);
                plan_index.push(i);
            }
            None => undecoded_ids.extend(draft.id),
        }
    }
    let mut spec = RunSpec {
        name: name.clone().unwrap_or_default(),
        budget: budget.unwrap_or(BudgetSpec {
            total: 0,
            emergency_reserve: 0,
        }),
        masters: masters.clone().unwrap_or_default(),
        tasks,
        phases: phases.iter().map(|p| p.name.clone()).collect(),
        timeout_ms,
        on_dependency_failure,
    };
    expand_phases(&mut spec, &plan_index, &ids, &phases, r)?;
    let scope = Scope {
        name: name.is_some(),
        budget: budget.is_some(),
        masters: masters.is_some(),
        complete,
        plan_index,
        undecoded_ids,
    };
    Some(Decoded { spec, scope })
}

fn decode_budget(node: &Node, r: &mut Report) -> Option<BudgetSpec> {
    let obj = object(node, "spec.budget", BUDGET_KEYS, r)?;
    let total = obj
        .required("total", r)
        .and_then(|v| uint(v, "spec.budget.total", r));
    let reserve = match obj.get("emergencyReserve") {
        Some(v) => Some(uint(v, "spec.budget.emergencyReserve", r)?),
        None => Some(0),
    };
    Some(BudgetSpec {
        total: total?,
        emergency_reserve: reserve?,
    })
}

/// `None` when any entry is wrong, so pool checks do not run on half a map.
fn decode_masters(node: &Node, r: &mut Report) -> Option<BTreeMap<MasterRole, MasterPools>> {
    let Node::Map(entries) = node else {
        r.push(
            "spec.masters",
            format!("must be a mapping, got {}", node.kind()),
        );
        return None;
    };
    let before = r.count();
    let roles = master_names();
    let mut masters = BTreeMap::new();
    for (key, value) in entries {
        let path = field("spec.masters", key);
        let role = choice(&Node::Str(key.clone()), &path, "master role", &roles, r);
        let pools = object(value, &path, POOL_KEYS, r).map(|obj| {
            let read = |key: &str, r: &mut Report| {
                obj.get(key)
                    .and_then(|v| uint(v, &obj.path(key), r))
                    .unwrap_or(0)
            };
            MasterPools {
                personal: read("personal", r),
                workers: read("workers", r),
            }
        });
        if let (Some(role), Some(pools)) = (role, pools) {
            masters.insert(role, pools);
        }
    }
    (r.count() == before).then_some(masters)
}

/// The tasks, and whether `spec.tasks` was a list at all. `None` when there
/// are too many to look at.
fn decode_tasks(spec: &Object<'_>, r: &mut Report) -> Option<(Vec<TaskDraft>, bool)> {
    let Some(node) = spec.required("tasks", r) else {
        return Some((Vec::new(), false));
    };
    let Node::Seq(items) = node else {
        r.push(
            "spec.tasks",
            format!("must be a list of tasks, got {}", node.kind()),
        );
        return Some((Vec::new(), false));
    };
    if items.len() > MAX_TASKS {
        r.push(
            "spec.tasks",
            format!("{} tasks; the limit is {MAX_TASKS}", items.len()),
        );
        return None;
    }
    let drafts = items
        .iter()
        .enumerate()
        .map(|(i, item)| decode_task(item, &index("spec.tasks", i), r))
        .collect();
    Some((drafts, true))
}

/// One phase: its name and the plan indices of its tasks.
struct PhaseDraft {
    name: String,
    members: Vec<usize>,
}

/// `None` when any phase is wrong; the plan is then checked without phases.
fn decode_phases(node: &Node, ids: &[Option<&str>], r: &mut Report) -> Option<Vec<PhaseDraft>> {
    let Node::Seq(items) = node else {
        r.push(
            "spec.phases",
            format!("must be a list of phases, got {}", node.kind()),
        );
        return None;
    };
    let before = r.count();
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            by_id.entry(id).or_default().push(i);
        }
    }
    let mut phase_of: HashMap<&str, String> = HashMap::new();
    let mut phases = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let path = index("spec.phases", k);
        let Some(obj) = object(item, &path, PHASE_KEYS, r) else {
            continue;
        };
        let name = obj
            .required("name", r)
            .and_then(|v| string(v, &obj.path("name"), r));
        let listed = obj
            .required("tasks", r)
            .and_then(|v| string_list(v, &obj.path("tasks"), r));
        let (Some(name), Some(listed)) = (name, listed) else {
            continue;
        };
        let mut members = Vec::new();
        for (j, id) in listed.iter().enumerate() {
            let member_path = index(&obj.path("tasks"), j);
            let Some((&key, found)) = by_id.get_key_value(id.as_str()) else {
                r.push(member_path, format!("unknown task {id:?}"));
                continue;
            };
            if let Some(other) = phase_of.get(key) {
                r.push(
                    member_path,
                    format!(
                        "task {id:?} is already in phase {other:?}; a task may be in one phase"
                    ),
                );
                continue;
            }
            phase_of.insert(key, name.clone());
            members.extend_from_slice(found);
        }
        phases.push(PhaseDraft { name, members });
    }
    (r.count() == before).then_some(phases)
}

/// Marks each task with its phase and makes it depend on every task of the
/// previous phase (after its own dependencies, which keep their indices).
fn expand_phases(
    spec: &mut RunSpec,
    plan_index: &[usize],
    ids: &[Option<&str>],
    phases: &[PhaseDraft],
    r: &mut Report,
) -> Option<()> {
    let declared: usize = spec.tasks.iter().map(|t| t.depends_on.len()).sum();
    let added = phases
        .windows(2)
        .map(|w| w[0].members.len().saturating_mul(w[1].members.len()))
        .fold(0usize, usize::saturating_add);
    if added > 0 && declared.saturating_add(added) > MAX_DEPENDENCIES {
        r.push(
            "spec.phases",
            format!(
                "phases expand to {added} dependencies (each task depends on every task of \
                 the previous phase); with the {declared} declared, the limit is \
                 {MAX_DEPENDENCIES}"
            ),
        );
        return None;
    }
    let mut position = vec![None; ids.len()];
    for (i, plan) in plan_index.iter().enumerate() {
        position[*plan] = Some(i);
    }
    for (k, phase) in phases.iter().enumerate() {
        let previous: Vec<&str> = match k.checked_sub(1) {
            Some(prev) => phases[prev]
                .members
                .iter()
                .filter_map(|m| ids[*m])
                .collect(),
            None => Vec::new(),
        };
        for member in &phase.members {
            let Some(task) = position[*member].map(|i| &mut spec.tasks[i]) else {
                continue;
            };
            task.phase = Some(phase.name.clone());
            let mut present: HashSet<String> =
                task.depends_on.iter().map(|d| d.0.clone()).collect();
            for id in &previous {
                if present.insert(id.to_string()) {
                    task.depends_on.push(TaskId(id.to_string()));
                }
            }
        }
    }
    Some(())
}
