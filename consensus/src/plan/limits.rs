//! The plan format's size limits, in one place so the parser, the validator
//! and `docs/plan-format.md` agree.
//!
//! Every limit bounds something the replicated state or an agent would have
//! to hold or execute: a plan that passes them is small enough to keep in
//! every voter's memory and every snapshot.

/// Largest plan document accepted, checked before any parsing.
pub const MAX_PLAN_BYTES: usize = 1024 * 1024;

/// Most tasks one run may have.
pub const MAX_TASKS: usize = 5_000;

/// Most dependency edges in one run once phases are expanded (phases add
/// every task of the previous phase to each task of the next, which grows
/// quadratically).
pub const MAX_DEPENDENCIES: usize = 100_000;

/// Most retries a task may ask for.
pub const MAX_RETRIES: u32 = 10;

/// Longest time limit of one task attempt: 24 hours, in milliseconds.
pub const MAX_TASK_TIMEOUT_MS: u64 = 24 * 3_600_000;

/// Longest run deadline: 7 days, in milliseconds.
pub const MAX_RUN_TIMEOUT_MS: u64 = 7 * 24 * 3_600_000;

/// Most elements in an executor's `command` (the program and its arguments).
pub const MAX_COMMAND_ARGS: usize = 64;

/// Longest single command element, environment value or workdir, in bytes.
pub const MAX_ARG_BYTES: usize = 4096;

/// Most environment variables an executor may set.
pub const MAX_ENV_ENTRIES: usize = 64;

/// Most `nodeSelector` labels a task may require.
pub const MAX_LABELS: usize = 64;

/// Longest node name or label key/value, in bytes.
pub const MAX_LABEL_BYTES: usize = 253;

/// Longest task description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// Longest run name, task id or phase name, in characters.
pub const MAX_NAME_CHARS: usize = 63;

/// Most errors reported for one plan; the rest are counted in a last entry.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Longest `llm` prompt or system prompt, in bytes.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;
