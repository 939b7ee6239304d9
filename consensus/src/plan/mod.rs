//! Run plans: the YAML/JSON format users submit, its defaults, and its
//! validation (precise messages with the field path; nothing is written on
//! rejection).
//!
//! Everything here is pure: [`parse`] takes the document's text and returns
//! a [`RunSpec`] with every default filled in, or every problem found.
//!
//! ```text
//!  text ──size──> tree (YAML or JSON) ──decode──> RunSpec ──validate──> Ok(RunSpec)
//!                                          └───────── PlanErrors ◄───────┘
//! ```
//!
//! [`RunSpec::validate`] is the second half on its own; the state machine
//! runs it again on apply. The format is described in `docs/plan-format.md`.

mod decode;
pub mod duration;
mod error;
pub mod executor;
mod fields;
mod graph;
pub mod limits;
pub mod spec;
mod task;
mod tree;
mod validate;

#[cfg(test)]
mod tests;

pub use decode::{API_VERSION, KIND};
pub use error::{PlanError, PlanErrors};
pub use executor::{
    BuiltinSpec, JobResources, K8sJobSpec, KubeTarget, LlmApi, LlmSpec, OutputFormat, ProcessSpec,
    ResourceAmounts, SecretKeyRef,
};
pub use limits::{MAX_PLAN_BYTES, MAX_TASKS};
pub use spec::{
    BudgetSpec, DependencyPolicy, ExecutorSpec, MasterPools, MasterRole, Placement, Priority,
    RunSpec, TaskId, TaskSpec, WorkerDefaults, WorkerType,
};

/// Parses and validates a plan written in YAML or JSON (the same schema;
/// JSON is recognised by its leading `{`).
///
/// Never panics. On rejection every problem found is returned, each with the
/// path of the field it is about.
pub fn parse(text: &str) -> Result<RunSpec, PlanErrors> {
    if text.len() > MAX_PLAN_BYTES {
        return Err(PlanErrors::single(
            "",
            format!(
                "the plan is {} bytes; the limit is {MAX_PLAN_BYTES}",
                text.len()
            ),
        ));
    }
    let root = tree::load(text).map_err(|e| PlanErrors(vec![e]))?;
    let mut report = error::Report::default();
    let decoded = decode::decode(&root, &mut report);
    if let Some(decoded) = &decoded {
        validate::check(&decoded.spec, &decoded.scope, &mut report);
    }
    report.finish()?;
    match decoded {
        Some(decoded) => Ok(decoded.spec),
        None => Err(PlanErrors::single("", "the plan could not be read")),
    }
}
