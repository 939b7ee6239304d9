//! Why a plan was rejected: each problem with the path of the field it is
//! about, in the plan's own spelling (`spec.tasks[3].dependsOn[0]`), so the
//! API can return them as `details: [{path, message}]`.

use serde::{Deserialize, Serialize};

use super::limits::MAX_REPORTED_ERRORS;

/// One problem in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanError {
    /// Where: a field path such as `spec.tasks[3].dependsOn[0]`, or empty
    /// when the problem is the document as a whole (size, syntax).
    pub path: String,
    /// Why, for people.
    pub message: String,
}

impl PlanError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> PlanError {
        PlanError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a plan (not just the first), in the order found.
/// Serializes as a plain list of [`PlanError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanErrors(pub Vec<PlanError>);

impl PlanErrors {
    /// A single problem.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> PlanErrors {
        PlanErrors(vec![PlanError::new(path, message)])
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, PlanError> {
        self.0.iter()
    }
}

impl std::fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("invalid plan"),
            [one] => write!(f, "invalid plan: {one}"),
            many => {
                write!(f, "invalid plan ({} problems): ", many.len())?;
                for (i, error) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PlanErrors {}

/// Collects problems while a plan is decoded and checked, keeping at most
/// [`MAX_REPORTED_ERRORS`] so a huge broken plan gives a bounded answer.
#[derive(Debug, Default)]
pub(crate) struct Report {
    errors: Vec<PlanError>,
    dropped: usize,
}

impl Report {
    /// Records a problem at `path`.
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(PlanError::new(path, message));
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// How many problems were recorded, shown or not; comparing counts tells
    /// whether one part of the plan had any.
    pub(crate) fn count(&self) -> usize {
        self.errors.len().saturating_add(self.dropped)
    }

    /// `Ok` when nothing was recorded, otherwise every problem.
    pub(crate) fn finish(mut self) -> Result<(), PlanErrors> {
        if self.errors.is_empty() {
            return Ok(());
        }
        if self.dropped > 0 {
            self.errors.push(PlanError::new(
                "",
                format!("{} more problems not shown", self.dropped),
            ));
        }
        Err(PlanErrors(self.errors))
    }
}

/// `base.key`, or `base["key"]` when the key is not a plain word, so paths
/// stay unambiguous for keys such as environment variable names.
pub(crate) fn field(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{key:?}]"),
    }
}

/// `base[i]`.
pub(crate) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}
