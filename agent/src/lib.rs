//! Node runtime of Cortex (not built yet).
//!
//! This crate will own what runs on every node: registration and heartbeats,
//! the assignment watch, executors and attempt supervision, and the
//! master-role loops. It depends on `cortex-consensus` only; see
//! ARCHITECTURE.md §4. It is empty until the runs and agent-runtime issues.
