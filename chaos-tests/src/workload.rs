//! The chaos workload: seeded plans whose workers leave a trace outside the
//! cluster.
//!
//! Every task runs [`WORKER_SCRIPT`], a `sh` worker that does a number of
//! timed steps and, for each step, first appends a *side-effect record*
//! (`run task attempt step wall-clock-ms`) to a shared file, then reports
//! the step's tokens, a checkpoint and its progress. The records are what a
//! real agent's side effects would be (a commit pushed, a ticket filed): the
//! fencing checker compares them with the attempts the cluster fenced. A
//! resumed attempt starts from its checkpoint, so the step records of one
//! task add up to its step count unless a step was redone.
//!
//! Plans are generated from a seed: the same seed gives the same tasks,
//! dependencies, budgets and timings, so a failing scenario replays.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::history::SideEffect;

/// The seven master roles; tasks are spread over all of them.
pub const MASTERS: [&str; 7] = [
    "coordinator",
    "security",
    "development",
    "inventory",
    "cicd",
    "testing",
    "monitoring",
];

/// The worker every workload task runs: `sh worker.sh STEPS STEP_SECONDS
/// TOKENS_PER_STEP EFFECTS_FILE`.
pub const WORKER_SCRIPT: &str = r#"#!/bin/sh
# cortex-chaos workload worker: STEPS STEP_SECONDS TOKENS_PER_STEP EFFECTS_FILE
steps=$1 pause=$2 tokens=$3 effects=$4
step=0
case "$CORTEX_CHECKPOINT" in
  *'"step"'*) step=$(printf '%s' "$CORTEX_CHECKPOINT" | sed 's/.*"step": *\([0-9]*\).*/\1/') ;;
esac
resumed=$step
while [ "$step" -lt "$steps" ]; do
  sleep "$pause"
  step=$((step + 1))
  echo "$CORTEX_RUN_ID $CORTEX_TASK_ID $CORTEX_ATTEMPT $step $(date +%s%3N)" >> "$effects"
  echo "{\"tokens\": $tokens}"
  echo "{\"checkpoint\": {\"step\": $step}}"
  echo "{\"progress\": $((step * 100 / steps))}"
done
echo "{\"result\": {\"steps\": $steps, \"resumed_at\": $resumed}}"
"#;

/// How big a generated run is.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Tasks in the run.
    pub tasks: usize,
    /// Steps per task, inclusive range.
    pub steps: (u32, u32),
    /// Milliseconds per step, inclusive range.
    pub step_ms: (u64, u64),
    /// Tokens each step reports.
    pub tokens_per_step: u64,
}

impl Shape {
    /// The main run of a scenario: long enough for faults to land mid-run.
    pub const MAIN: Shape = Shape {
        tasks: 24,
        steps: (6, 14),
        step_ms: (200, 450),
        tokens_per_step: 100,
    };
    /// A small run submitted while faults happen.
    pub const SMALL: Shape = Shape {
        tasks: 3,
        steps: (2, 4),
        step_ms: (100, 250),
        tokens_per_step: 50,
    };
}

/// Where the workload's files live: the worker script and the side-effect
/// file every worker appends to.
#[derive(Debug, Clone)]
pub struct WorkloadFiles {
    /// The worker script.
    pub script: PathBuf,
    /// The shared side-effect file.
    pub effects: PathBuf,
}

impl WorkloadFiles {
    /// Writes the worker script into `dir` (the cluster's directory, which
    /// every node can read) and creates an empty side-effect file.
    pub fn create(dir: &Path) -> anyhow::Result<WorkloadFiles> {
        let script = dir.join("worker.sh");
        std::fs::write(&script, WORKER_SCRIPT).context("writing the worker script")?;
        let effects = dir.join("effects.log");
        std::fs::write(&effects, "").context("creating the side-effect file")?;
        Ok(WorkloadFiles { script, effects })
    }

    /// Every side-effect record written so far; lines cut short by a kill
    /// mid-write are skipped.
    pub fn effects(&self) -> anyhow::Result<Vec<SideEffect>> {
        let text = std::fs::read_to_string(&self.effects).context("reading side effects")?;
        Ok(text.lines().filter_map(parse_effect).collect())
    }
}

/// Parses one `run task attempt step ms` record.
pub fn parse_effect(line: &str) -> Option<SideEffect> {
    let mut fields = line.split_whitespace();
    let effect = SideEffect {
        run_id: fields.next()?.to_string(),
        task: fields.next()?.to_string(),
        attempt: fields.next()?.parse().ok()?,
        step: fields.next()?.parse().ok()?,
        at: fields.next()?.parse().ok()?,
    };
    fields.next().is_none().then_some(effect)
}

/// A generated run plan (YAML) and its totals.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan, ready to submit.
    pub yaml: String,
    /// Tasks in it.
    pub tasks: usize,
    /// Its total budget.
    pub budget: u64,
}

/// Generates run `name` of `shape` from `seed`: tasks spread over the seven
/// masters, each depending on up to two earlier tasks, budgets with room for
/// one redone step, ten retries (faults, not the work, make attempts end),
/// and master pools a quarter above what their tasks need at once.
pub fn plan(name: &str, shape: Shape, seed: u64, files: &WorkloadFiles) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = String::new();
    let mut needs = [0u64; MASTERS.len()];
    for i in 0..shape.tasks {
        let master = i % MASTERS.len();
        let steps = rng.gen_range(shape.steps.0..=shape.steps.1);
        let step_ms = rng.gen_range(shape.step_ms.0..=shape.step_ms.1);
        let budget = (u64::from(steps) + 2) * shape.tokens_per_step;
        needs[master] += budget;
        let mut deps: Vec<usize> = Vec::new();
        for _ in 0..2 {
            if i > 0 && rng.gen_bool(0.5) {
                let dep = rng.gen_range(i.saturating_sub(6)..i);
                if !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
        }
        let deps = deps
            .iter()
            .map(|d| format!("t{d:02}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            tasks,
            r#"
    - id: t{i:02}
      master: {master}
      worker: analysis
      budget: {budget}
      retries: 10
      timeout: 2m
      dependsOn: [{deps}]
      executor:
        process:
          command: ["sh", "{script}", "{steps}", "{pause}", "{tokens}", "{effects}"]"#,
            master = MASTERS[master],
            script = files.script.display(),
            pause = format_args!("{}.{:03}", step_ms / 1000, step_ms % 1000),
            tokens = shape.tokens_per_step,
            effects = files.effects.display(),
        );
    }
    let mut masters = String::new();
    let mut total = 0;
    for (role, need) in MASTERS.iter().zip(needs) {
        let pool = need + need / 4;
        total += pool;
        let _ = write!(masters, "\n    {role}: {{ personal: 0, workers: {pool} }}");
    }
    let yaml = format!(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata: {{ name: {name} }}\nspec:\n  \
         budget: {{ total: {total}, emergencyReserve: 0 }}\n  masters:{masters}\n  tasks:{tasks}\n"
    );
    Plan {
        yaml,
        tasks: shape.tasks,
        budget: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> WorkloadFiles {
        WorkloadFiles {
            script: "/tmp/w.sh".into(),
            effects: "/tmp/e.log".into(),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
        let a = plan("main", Shape::MAIN, 7, &files());
        assert_eq!(a.yaml, plan("main", Shape::MAIN, 7, &files()).yaml);
        assert_ne!(a.yaml, plan("main", Shape::MAIN, 8, &files()).yaml);
        assert_eq!(a.tasks, 24);
        assert_eq!(a.yaml.matches("- id: t").count(), 24);
    }

    #[test]
    fn a_plan_uses_all_seven_masters_and_only_earlier_dependencies() {
        let p = plan("main", Shape::MAIN, 3, &files());
        for role in MASTERS {
            assert!(p.yaml.contains(&format!("    {role}: {{")), "{role}");
        }
        for (i, line) in p
            .yaml
            .lines()
            .filter(|l| l.contains("dependsOn"))
            .enumerate()
        {
            for dep in line
                .split(['[', ']', ',', ' '])
                .filter(|d| d.starts_with('t'))
            {
                let n: usize = dep[1..].parse().unwrap();
                assert!(n < i, "t{i:02} depends on later {dep}");
            }
        }
    }

    #[test]
    fn effect_records_parse_and_torn_lines_are_skipped() {
        let e = parse_effect("run-1 t03 2 5 1700000000123").unwrap();
        assert_eq!(
            (e.task.as_str(), e.attempt, e.step, e.at),
            ("t03", 2, 5, 1700000000123)
        );
        assert!(parse_effect("run-1 t03 2 5").is_none());
        assert!(parse_effect("run-1 t03 x 5 17").is_none());
        assert!(parse_effect("run-1 t03 2 5 17 extra").is_none());
    }

    #[test]
    fn the_worker_resumes_from_its_checkpoint_and_records_each_step() {
        let dir = tempfile::tempdir().unwrap();
        let files = WorkloadFiles::create(dir.path()).unwrap();
        let output = std::process::Command::new("sh")
            .arg(&files.script)
            .args(["4", "0.01", "25"])
            .arg(&files.effects)
            .env("CORTEX_RUN_ID", "r1")
            .env("CORTEX_TASK_ID", "t00")
            .env("CORTEX_ATTEMPT", "2")
            .env("CORTEX_CHECKPOINT", r#"{"step":1}"#)
            .output()
            .unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.matches(r#"{"tokens": 25}"#).count(), 3, "{stdout}");
        assert!(
            stdout.contains(r#"{"checkpoint": {"step": 4}}"#),
            "{stdout}"
        );
        assert!(stdout.ends_with("{\"result\": {\"steps\": 4, \"resumed_at\": 1}}\n"));
        let effects = files.effects().unwrap();
        let steps: Vec<u32> = effects.iter().map(|e| e.step).collect();
        assert_eq!(steps, [2, 3, 4]);
        assert!(effects.iter().all(|e| e.attempt == 2 && e.run_id == "r1"));
    }
}
