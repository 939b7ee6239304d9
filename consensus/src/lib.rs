//! Cortex's replicated core.
//!
//! Everything that must survive a crash is a Raft log entry applied by a pure
//! state machine ([`state::apply`]): no clock, no I/O, no randomness inside.
//! Around that core sit the durable pieces ([`store`]: the Raft log and the
//! state-machine snapshots on sled), the network ([`transport`]: tonic gRPC
//! between daemons), and [`node`], which assembles one voter and hands the
//! rest of the system a [`node::ConsensusHandle`] to write and read through.
//!
//! ```text
//!  API call ──> ConsensusHandle ──(leader?)──> openraft ──> log store (sled)
//!                    │ no: forward over gRPC          └──> state machine ──> apply()
//! ```

pub mod audit;
pub mod catalog;
pub mod command;
pub mod error;
pub mod events;
pub mod node;
pub mod plan;
pub mod remote;
pub mod run;
pub mod state;
pub mod store;
pub mod transport;
pub mod types;

pub use command::{ClusterTime, Command, Outcome, Rejection, Request, RequestId, Response};
pub use error::ConsensusError;
pub use node::{ConsensusHandle, NodeOptions};
pub use state::State;
pub use types::{NodeAddr, NodeId, TypeConfig};
