//! Who may call the admin API and GraphQL, and as whom.
//!
//! Every call but the health probes (and `/metrics`, unless configured
//! otherwise) presents `Authorization: Bearer <token>`. The admin token
//! ([`token`]) acts as `admin`; a tokens file ([`tokens_file`]) adds named
//! tokens with the `viewer`, `operator` or `admin` role. [`Access`] finds the
//! caller and the routes say which role they need (`crate::api`), so a
//! missing or unknown token is 401 and a role too low 403; named tokens'
//! changes are rate-limited ([`rate`], 429 beyond). Changes are
//! written with the caller as their actor, which puts them in the replicated
//! audit trail (`cortex_consensus::audit`). Token values are never logged.

mod access;
pub mod rate;
mod token;
pub mod tokens_file;

pub use access::{bearer, Access};
pub use token::{AdminToken, TokenSource};
