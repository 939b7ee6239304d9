//! Fault-injection harness that drives real `cortex` daemon processes.
//!
//! Tests and chaos suites start a [`ProcessCluster`] of genuine `cortex daemon`
//! processes on loopback ports inside a temporary directory, talk to them
//! through the typed admin API client [`AdminClient`], and inject faults at the
//! process level: SIGKILL ([`ProcessCluster::kill`]), SIGSTOP/SIGCONT
//! ([`ProcessCluster::pause`] / [`ProcessCluster::resume`]), restart on the same
//! data directory ([`ProcessCluster::restart`]), loss of the whole disk
//! ([`ProcessCluster::wipe`]) and, on a cluster whose nodes each run on a host
//! of their own ([`ProcessCluster::start_networked`]), network partitions
//! ([`ProcessCluster::partition`], [`ProcessCluster::isolate`],
//! [`ProcessCluster::heal`]).
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
//! On top of the harness sits the chaos suite, built like a Jepsen test:
//! [`scenario`] starts three voters and four agents in network namespaces
//! ([`net`]), submits the seeded [`workload`] (workers that leave
//! side-effect records outside the cluster), injects one scenario's faults
//! while recording every answer in a [`history::History`], heals
//! everything and lets the runs finish; the [`checkers`] (one invariant
//! each) judge the history and [`report`] tabulates the verdicts and the
//! recovery times. `cortex-chaos` (`src/bin/`) runs the whole suite;
//! `docs/chaos.md` explains it.
//!
//! Set `CORTEX_CHAOS_KEEP=1` to keep the cluster's directory (logs and data)
//! after the test, and `CORTEX_CHAOS_RUST_LOG` to change the daemons'
//! `RUST_LOG` (default `info`). Other inherited `CORTEX_*` variables are not
//! passed to the daemons, so a developer's shell cannot change a test.

mod api;
pub mod checkers;
mod cluster;
pub mod history;
pub mod net;
mod oracle;
pub mod ports;
mod process;
mod redis;
pub mod report;
pub mod scenario;
mod wait;
pub mod workload;

pub use api::{
    AdminClient, ApiError, ClusterStatus, Membership, NodeStatus, PutResponse, Readiness, Role,
};
pub use cluster::{run_ended, ProcessCluster};
pub use oracle::{Ack, AckedWrites};
pub use process::DaemonProcess;
pub use redis::RedisServer;
pub use reqwest::StatusCode;
pub use wait::{wait_until, Check, Outcome};
