//! What the API and the CLI say about runs, as pure functions of a
//! replicated [`Run`](cortex_consensus::run::Run) (and, where a duration
//! needs it, the cluster time): nothing here reads a clock or the network,
//! so every figure is unit-tested against the ledger it comes from.
//!
//! * [`view`]: the list and detail views of runs in the admin API;
//! * [`escalation`]: handoffs and escalations, in those views and on their own;
//! * [`json`]: the run report as data (the seed's `final-results.json`);
//! * [`markdown`]: the same report as the seed's executive summary.

pub mod escalation;
pub mod json;
pub mod markdown;
pub mod view;

pub use escalation::{escalations, EscalationView};
pub use json::final_results;
pub use markdown::executive_summary;
pub use view::{detail, summary, RunDetail, RunSummary};

#[cfg(test)]
mod tests;
