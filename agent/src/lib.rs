//! Cortex's node runtime: what every daemon runs besides Raft.
//!
//! * [`heartbeat`]: registers the node and keeps it alive in the state;
//!   [`lease`] stops its attempts when heartbeats stop committing, before
//!   the cluster can fence them.
//! * [`masters`]: takes and renews master-role leases and, for the roles
//!   held, schedules ready tasks onto nodes (one fenced command per
//!   assignment, which also reserves the budget) and cleans up after
//!   overdue attempts, lost nodes and expired runs.
//! * [`executor`]: runs the attempts assigned to this node (processes, model
//!   calls, [`builtin`] work), enforcing time limits and token caps, and
//!   reports their progress, logs, assets and outcome.
//! * [`control`]: the node's link to the cluster — its own Raft node on a
//!   voter, gRPC to the voters on an agent.
//! * [`metrics`] and [`telemetry`]: what this node measures about the
//!   attempts it ran, and the live activity it shows watchers.
//! * [`schedule`] and [`protocol`]: the pure decisions and the worker line
//!   protocol those loops rely on.
//!
//! Every loop acts on a possibly stale view of the state and writes commands
//! through the leader; the state machine re-checks each command, so a loop
//! acting on a stale view is refused rather than obeyed.

pub mod builtin;
pub mod control;
pub mod executor;
pub mod heartbeat;
pub mod lease;
pub mod masters;
pub mod metrics;
pub mod options;
pub mod protocol;
pub mod runtime;
pub mod schedule;
pub mod telemetry;

pub use options::RuntimeOptions;
pub use runtime::NodeRuntime;
pub use telemetry::Telemetry;
