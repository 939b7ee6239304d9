//! The dependency graph of a run: task ids unique, every dependency known,
//! no task depending on itself, no cycles, phases chained.
//!
//! Cycles are found with an iterative depth-first search (a plan may have
//! 5 000 tasks in one chain; recursion could exhaust the stack) and named
//! in the order tasks wait on each other: `a -> b -> a` means `a` depends on
//! `b`, which depends on `a`.

use std::collections::{HashMap, HashSet};

use super::error::{field, index, Report};
use super::limits::MAX_DEPENDENCIES;
use super::spec::RunSpec;
use super::validate::{quoted, Scope};

/// Most cycles named for one plan; breaking those usually reveals the rest.
const MAX_CYCLES: usize = 10;

/// Most ids shown when naming one cycle.
const MAX_CYCLE_IDS: usize = 12;

/// Runs the graph checks, recording problems in `r`.
pub(crate) fn check(spec: &RunSpec, scope: &Scope, r: &mut Report) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, task) in spec.tasks.iter().enumerate() {
        match first.get(task.id.0.as_str()) {
            Some(&j) => r.push(
                field(&scope.task_path(i), "id"),
                format!(
                    "duplicate task id {} (first at {})",
                    quoted(&task.id.0),
                    scope.task_path(j)
                ),
            ),
            None => {
                first.insert(&task.id.0, i);
            }
        }
    }

    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(spec.tasks.len());
    let mut total: usize = 0;
    for (i, task) in spec.tasks.iter().enumerate() {
        let deps_path = field(&scope.task_path(i), "dependsOn");
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (k, dep) in task.depends_on.iter().enumerate() {
            let path = index(&deps_path, k);
            if dep == &task.id {
                r.push(path, "a task cannot depend on itself");
            } else if !seen.insert(dep.0.as_str()) {
                r.push(path, format!("{} is listed twice", quoted(&dep.0)));
            } else if let Some(&j) = first.get(dep.0.as_str()) {
                out.push(j);
            } else if !scope.undecoded_ids.contains(&dep.0) {
                r.push(path, format!("unknown task {}", quoted(&dep.0)));
            }
        }
        total = total.saturating_add(task.depends_on.len());
        edges.push(out);
    }
    if total > MAX_DEPENDENCIES {
        r.push(
            "spec.tasks",
            format!("{total} dependencies in all; the limit is {MAX_DEPENDENCIES}"),
        );
        return;
    }

    for cycle in find_cycles(&edges) {
        let phased = cycle.iter().any(|&i| spec.tasks[i].phase.is_some());
        let note = if phased {
            " (a phase's tasks also depend on every task of the previous phase)"
        } else {
            ""
        };
        r.push(
            field(&scope.task_path(cycle[0]), "dependsOn"),
            format!("dependency cycle: {}{note}", name_cycle(spec, &cycle)),
        );
    }
    check_phase_chain(spec, scope, r);
}

/// Up to [`MAX_CYCLES`] cycles, each rotated to start at its earliest task.
fn find_cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath(usize),
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut path: Vec<(usize, usize)> = Vec::new();
    let mut cycles = Vec::new();
    for start in 0..edges.len() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::OnPath(0);
        path.push((start, 0));
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            let Some(&dep) = edges[node].get(*next) else {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match mark[dep] {
                Mark::New => {
                    mark[dep] = Mark::OnPath(path.len());
                    path.push((dep, 0));
                }
                Mark::OnPath(at) => {
                    let mut cycle: Vec<usize> = path[at..].iter().map(|(n, _)| *n).collect();
                    let earliest = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                    cycle.rotate_left(earliest);
                    cycles.push(cycle);
                    if cycles.len() >= MAX_CYCLES {
                        return cycles;
                    }
                }
                Mark::Done => {}
            }
        }
    }
    cycles
}

/// `a -> b -> a`, eliding the middle of very long cycles.
fn name_cycle(spec: &RunSpec, cycle: &[usize]) -> String {
    let id = |i: usize| spec.tasks[i].id.0.as_str();
    let mut names: Vec<String> = if cycle.len() <= MAX_CYCLE_IDS {
        cycle.iter().map(|&i| id(i).to_string()).collect()
    } else {
        let half = MAX_CYCLE_IDS / 2;
        let mut names: Vec<String> = cycle[..half].iter().map(|&i| id(i).to_string()).collect();
        names.push(format!("... ({} more)", cycle.len() - 2 * half));
        names.extend(
            cycle[cycle.len() - half..]
                .iter()
                .map(|&i| id(i).to_string()),
        );
        names
    };
    names.push(id(cycle[0]).to_string());
    names.join(" -> ")
}

/// Each task of a phase depends on every task of the previous phase.
fn check_phase_chain(spec: &RunSpec, scope: &Scope, r: &mut Report) {
    let unique: HashSet<&String> = spec.phases.iter().collect();
    if spec.phases.len() < 2 || unique.len() != spec.phases.len() {
        return;
    }
    let position: HashMap<&str, usize> = spec
        .phases
        .iter()
        .enumerate()
        .map(|(k, name)| (name.as_str(), k))
        .collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); spec.phases.len()];
    for (i, task) in spec.tasks.iter().enumerate() {
        if let Some(&k) = task.phase.as_deref().and_then(|p| position.get(p)) {
            members[k].push(i);
        }
    }
    for k in 1..members.len() {
        for &i in &members[k] {
            let task = &spec.tasks[i];
            let deps: HashSet<&str> = task.depends_on.iter().map(|d| d.0.as_str()).collect();
            let missing = members[k - 1]
                .iter()
                .map(|&j| spec.tasks[j].id.0.as_str())
                .find(|id| !deps.contains(id));
            if let Some(missing) = missing {
                r.push(
                    field(&scope.task_path(i), "dependsOn"),
                    format!(
                        "a task of phase {} must depend on every task of phase {}; {} is missing",
                        quoted(&spec.phases[k]),
                        quoted(&spec.phases[k - 1]),
                        quoted(missing)
                    ),
                );
            }
        }
    }
}
