//! Asset catalog of Cortex (not built yet).
//!
//! This crate will own the asset model, relations and lineage, search and the
//! GraphQL schema. It depends on `cortex-consensus` only; see
//! ARCHITECTURE.md §4. It is empty until the catalog issue.
