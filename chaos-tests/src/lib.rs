//! Fault-injection harness that drives real `cortex` daemon processes.
//!
//! Tests and chaos suites start a [`ProcessCluster`] of genuine `cortex daemon`
//! processes on loopback ports inside a temporary directory, talk to them
//! through the typed admin API client [`AdminClient`], and inject faults at the
//! process level: SIGKILL ([`ProcessCluster::kill`]), SIGSTOP/SIGCONT
//! ([`ProcessCluster::pause`] / [`ProcessCluster::resume`]), restart on the same
//! data directory ([`ProcessCluster::restart`]) and loss of the whole disk
//! ([`ProcessCluster::wipe`]).
//!
//! Nothing here sleeps for a fixed time: every wait goes through
//! [`wait_until`], which polls a probe and fails with the reason and the
//! elapsed time. Acknowledged client writes are tracked by [`AckedWrites`], the
//! oracle that every safety check compares against.
//!
//! Every child process is SIGKILLed and reaped when its cluster is dropped, and
//! the tail of every node's log is printed when that happens during a panic.
//! Runs are submitted and followed with [`ProcessCluster::submit_run`] and
//! [`ProcessCluster::wait_run`].
//! [`RedisServer`] runs a real `redis-server` (killable, restartable on the
//! same port) for the tests of the Redis fan-out.
//!
//! Set `CORTEX_CHAOS_KEEP=1` to keep the cluster's directory (logs and data)
//! after the test, and `CORTEX_CHAOS_RUST_LOG` to change the daemons'
//! `RUST_LOG` (default `info`). Other inherited `CORTEX_*` variables are not
//! passed to the daemons, so a developer's shell cannot change a test.

mod api;
mod cluster;
mod oracle;
pub mod ports;
mod process;
mod redis;
mod wait;

pub use api::{
    AdminClient, ApiError, ClusterStatus, Membership, NodeStatus, PutResponse, Readiness, Role,
};
pub use cluster::{run_ended, ProcessCluster};
pub use oracle::{Ack, AckedWrites};
pub use process::DaemonProcess;
pub use redis::RedisServer;
pub use reqwest::StatusCode;
pub use wait::{wait_until, Check, Outcome};
