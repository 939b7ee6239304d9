//! Command-line interface. Every daemon flag can also come from a
//! `CORTEX_*` environment variable, which is how the Helm chart sets them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cortex: fault-tolerant runtime for teams of AI agents on Kubernetes.
#[derive(Debug, Parser)]
#[command(
    name = "cortex",
    version,
    about = "Cortex: a fault-tolerant runtime for teams of AI agents on Kubernetes"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one daemon (a voter of the Raft group).
    Daemon(DaemonArgs),
    /// Run a complete three-voter cluster on this machine, on loopback.
    Dev(DevArgs),
    /// Inspect or change the cluster through a daemon's admin API.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Read and write the diagnostic key/value space (smoke tests, benchmarks).
    #[command(subcommand)]
    Kv(KvCommand),
    /// Measure a running cluster (prints figures, asserts nothing).
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `cortex bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Replicated writes through the admin API: throughput and latency percentiles.
    Write(BenchWriteArgs),
}

/// Flags of `cortex bench write`.
#[derive(Debug, Clone, Args)]
pub struct BenchWriteArgs {
    #[command(flatten)]
    /// Which daemon to call.
    pub api: ApiArgs,
    /// Number of writes.
    #[arg(long, default_value_t = 2000)]
    pub count: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags of `cortex daemon`.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// This node's id (1 or more); must appear in --peers.
    #[arg(long, env = "CORTEX_NODE_ID")]
    pub node_id: u64,
    /// Address the Raft/gRPC service listens on.
    #[arg(long, env = "CORTEX_LISTEN", default_value = "0.0.0.0:7710")]
    pub listen: String,
    /// Address of the admin HTTP API.
    #[arg(long, env = "CORTEX_API_ADDR", default_value = "0.0.0.0:7700")]
    pub api_addr: String,
    /// Initial voters, as ID=HOST:PORT of their Raft service, comma separated.
    #[arg(long, env = "CORTEX_PEERS")]
    pub peers: String,
    /// Directory for the Raft log, snapshots and the generated admin token.
    #[arg(long, env = "CORTEX_DATA_DIR", default_value = "/var/lib/cortex")]
    pub data_dir: PathBuf,
    /// File holding the admin API bearer token. If neither this nor
    /// CORTEX_ADMIN_TOKEN is given, a token is generated into
    /// DATA_DIR/admin-token on first start.
    #[arg(long, env = "CORTEX_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Take a Raft snapshot (and compact the log) every this many entries.
    #[arg(long, env = "CORTEX_SNAPSHOT_EVERY", default_value_t = 5000)]
    pub snapshot_every: u64,
    /// Log format.
    #[arg(long, env = "CORTEX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Flags of `cortex dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Where the three voters keep their data and the admin token.
    #[arg(long, env = "CORTEX_DEV_DIR", default_value = ".cortex-dev")]
    pub data_dir: PathBuf,
    /// Admin API port of voter 1; voters 2 and 3 take the next two.
    #[arg(long, default_value_t = 7700)]
    pub api_port: u16,
    /// Raft/gRPC port of voter 1; voters 2 and 3 take the next two.
    #[arg(long, default_value_t = 7710)]
    pub raft_port: u16,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Where a client command finds the API and its token.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Admin API base URL of any daemon.
    #[arg(long, env = "CORTEX_API", default_value = "http://127.0.0.1:7700")]
    pub api: String,
    /// File holding the bearer token; CORTEX_ADMIN_TOKEN wins if set.
    /// Defaults to the `cortex dev` token in ./.cortex-dev/admin-token.
    #[arg(long, env = "CORTEX_ADMIN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// `cortex cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show nodes, their roles, the leader, term and applied index.
    Status {
        #[command(flatten)]
        api: ApiArgs,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a voter (it must already be running with the cluster's peer list).
    AddVoter {
        #[command(flatten)]
        api: ApiArgs,
        /// The new node's id.
        id: u64,
        /// The new node's Raft address, HOST:PORT.
        raft_addr: String,
    },
    /// Remove a voter.
    RemoveVoter {
        #[command(flatten)]
        api: ApiArgs,
        /// The node to remove.
        id: u64,
    },
}

/// `cortex kv ...`
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Set a key (replicated; acknowledged once committed by a quorum).
    Put {
        #[command(flatten)]
        api: ApiArgs,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Read a key (linearizable).
    Get {
        #[command(flatten)]
        api: ApiArgs,
        /// The key.
        key: String,
    },
}
