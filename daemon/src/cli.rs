//! Command-line interface. Every daemon flag can also come from a
//! `CORTEX_*` environment variable, which is how the Helm chart sets them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::rate::{DEFAULT_BURST, DEFAULT_PER_SECOND};

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
    /// Run one daemon: a voter of the Raft group, or an agent that executes
    /// attempts for the voters.
    Daemon(Box<DaemonArgs>),
    /// Run a complete cluster (three voters and agents) on this machine, on loopback.
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
    /// Submit plans and follow, cancel or report on their runs.
    #[command(subcommand)]
    Run(RunCommand),
    /// List and resolve escalations (tasks waiting for a person).
    #[command(subcommand)]
    Escalation(EscalationCommand),
    /// Search the asset catalog, show an asset, follow its lineage.
    #[command(subcommand)]
    Catalog(crate::catalog_cli::CatalogCommand),
    /// Audit Kubernetes manifests (files or directories) with the
    /// security-audit rules; exit status 1 on findings at or above --fail-on.
    Audit(crate::audit_cli::AuditArgs),
    /// Create the cluster CA and daemon certificates for mTLS between daemons.
    #[command(subcommand)]
    Cert(crate::cert::CertCommand),
    /// Create a data directory owned by UID:GID (the Helm chart's voter
    /// init container runs this).
    PrepareDir(crate::prepare_dir::PrepareDirArgs),
}

/// `cortex bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Replicated writes through the admin API: throughput and latency percentiles.
    Write(BenchWriteArgs),
    /// Load 100,000 catalog assets, then time asset(id), search and lineage.
    Catalog(crate::catalog_cli::bench::BenchCatalogArgs),
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

/// What a daemon is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// A member of the Raft group: replicates state, holds master roles,
    /// serves the admin API, and executes attempts unless --no-execute.
    Voter,
    /// Executes attempts for the voters it is given in --voters.
    Agent,
}

/// Flags of `cortex daemon`.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// Voter (Raft member) or agent (executes attempts only).
    #[arg(long, env = "CORTEX_ROLE", value_enum, default_value_t = Role::Voter)]
    pub role: Role,
    /// This voter's id (1 or more); must appear in --peers. Voters only.
    #[arg(long, env = "CORTEX_NODE_ID")]
    pub node_id: Option<u64>,
    /// The voters an agent talks to, as ID=HOST:PORT of their Raft/gRPC
    /// service, comma separated (the same list as the voters' --peers).
    /// Agents only.
    #[arg(long, env = "CORTEX_VOTERS")]
    pub voters: Option<String>,
    /// Address the Raft/gRPC service listens on. Voters only.
    #[arg(long, env = "CORTEX_LISTEN", default_value = "0.0.0.0:7710")]
    pub listen: String,
    /// Address of the admin HTTP API (on an agent: health probes only).
    #[arg(long, env = "CORTEX_API_ADDR", default_value = "0.0.0.0:7700")]
    pub api_addr: String,
    /// Initial voters, as ID=HOST:PORT of their Raft service, comma
    /// separated. Voters only.
    #[arg(long, env = "CORTEX_PEERS")]
    pub peers: Option<String>,
    /// The voters by node name instead of ids and addresses (what the Helm
    /// chart passes): NAME[=HOST],... in id order (the first is id 1), each
    /// reached at HOST (default: the name) on --raft-port. A voter finds its
    /// id by its --node-name; an agent uses the list as --voters.
    #[arg(long, env = "CORTEX_VOTER_NODES", conflicts_with_all = ["peers", "voters", "node_id"])]
    pub voter_nodes: Option<String>,
    /// The voters' Raft/gRPC port, with --voter-nodes (a voter listens on it).
    #[arg(
        long,
        env = "CORTEX_RAFT_PORT",
        default_value_t = 7710,
        requires = "voter_nodes"
    )]
    pub raft_port: u16,
    /// Directory for the Raft log, snapshots and the generated admin token.
    #[arg(long, env = "CORTEX_DATA_DIR", default_value = "/var/lib/cortex")]
    pub data_dir: PathBuf,
    /// File holding the admin API bearer token. If neither this nor
    /// CORTEX_ADMIN_TOKEN is given, a token is generated into
    /// DATA_DIR/admin-token on first start.
    #[arg(long, env = "CORTEX_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// YAML file of named tokens with roles (viewer, operator, admin), in
    /// addition to the admin token; see SECURITY.md. Voters only.
    #[arg(long, env = "CORTEX_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Require a token (any role) for /metrics; it is open otherwise.
    #[arg(long, env = "CORTEX_METRICS_TOKEN")]
    pub metrics_token: bool,
    /// Directory with the cluster CA and this daemon's certificate and key
    /// (ca.crt, tls.crt, tls.key; see `cortex cert`) for mutual TLS with the
    /// other daemons. Required unless --insecure-plaintext.
    #[arg(long, env = "CORTEX_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Talk to the other daemons without TLS: anyone who reaches the gRPC
    /// port can join the cluster and write. For development only.
    #[arg(long, env = "CORTEX_INSECURE_PLAINTEXT", conflicts_with = "tls_dir")]
    pub insecure_plaintext: bool,
    /// Changes (API writes) each token may make per second, after a burst
    /// of --change-burst; beyond, 429. Voters only.
    #[arg(long, env = "CORTEX_CHANGE_RATE", default_value_t = DEFAULT_PER_SECOND, value_parser = clap::value_parser!(u32).range(1..))]
    pub change_rate: u32,
    /// Changes each token may make at once before --change-rate applies.
    #[arg(long, env = "CORTEX_CHANGE_BURST", default_value_t = DEFAULT_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub change_burst: u32,
    /// This node's name in the cluster (the Kubernetes node name there).
    /// Defaults to `voter-<node-id>` on a voter and the host name on an agent.
    #[arg(long, env = "CORTEX_NODE_NAME")]
    pub node_name: Option<String>,
    /// Placement labels of this node, as KEY=VALUE,...
    #[arg(long, env = "CORTEX_NODE_LABELS", default_value = "")]
    pub labels: String,
    /// Attempts this node runs at once.
    #[arg(long, env = "CORTEX_CAPACITY", default_value_t = 4)]
    pub capacity: u32,
    /// Do not execute attempts on this node (it still votes and schedules).
    #[arg(long, env = "CORTEX_NO_EXECUTE")]
    pub no_execute: bool,
    /// Run `k8s-job` attempts as Kubernetes Jobs, in this namespace when
    /// the plan names none. Off without it: such attempts fail. The daemon's
    /// credentials (its service account in a pod) must allow Jobs there.
    #[arg(long, env = "CORTEX_K8S_JOBS_NAMESPACE", value_name = "NAMESPACE")]
    pub k8s_jobs_namespace: Option<String>,
    /// Milliseconds of silence after which a node is declared lost.
    #[arg(long, env = "CORTEX_NODE_TIMEOUT_MS", default_value_t = 5000)]
    pub node_timeout_ms: u64,
    /// Master-role lease length in milliseconds.
    #[arg(long, env = "CORTEX_LEASE_TTL_MS", default_value_t = 3000)]
    pub lease_ttl_ms: u64,
    /// Take a Raft snapshot (and compact the log) every this many entries.
    #[arg(long, env = "CORTEX_SNAPSHOT_EVERY", default_value_t = 5000)]
    pub snapshot_every: u64,
    /// Log format.
    #[arg(long, env = "CORTEX_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Redis to fan events out through, so watchers on any node see every
    /// node's progress: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or
    /// unix:///PATH. Optional; nothing but the fan-out depends on it.
    #[arg(long, env = "CORTEX_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
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
    /// Agents started besides the three voters, named k3s-worker01, 02, ...
    /// (they take the admin API ports after the voters').
    #[arg(long, default_value_t = 4)]
    pub agents: u16,
    /// Once the cluster is up, submit the seed's plan
    /// (examples/full-orchestration.yaml) and follow it to its report.
    #[arg(long)]
    pub demo: bool,
    /// Also fan events out through this Redis (see `cortex daemon
    /// --redis-url`); without it an in-process bus links the nodes.
    #[arg(long, env = "CORTEX_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
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

/// `cortex run ...`
#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Submit a plan (YAML or JSON) and print the run's id.
    Submit {
        #[command(flatten)]
        api: ApiArgs,
        /// The plan file.
        file: PathBuf,
        /// Then follow the run until it ends and print its report.
        #[arg(long)]
        watch: bool,
    },
    /// List runs.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Only runs with this status.
        #[arg(long, value_parser = ["pending", "running", "completed", "failed", "cancelled"])]
        status: Option<String>,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a run: tasks, attempts and token accounts.
    Show {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
        /// Print the raw JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Follow a run until it ends (polling every second), then print its report.
    Watch {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
    },
    /// Cancel a run: every unfinished task ends cancelled.
    Cancel {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
        /// Why, for the record.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print a run's report (Markdown executive summary by default).
    Report {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
        /// Print the final results as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Print what a task's attempts printed (a bounded tail per attempt).
    Logs {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
        /// The task's id.
        task: String,
        /// Only this attempt (1 for the first).
        #[arg(long)]
        attempt: Option<u32>,
    },
    /// Approve a task that waits for approval.
    Approve {
        #[command(flatten)]
        api: ApiArgs,
        /// The run's id.
        id: String,
        /// The task's id.
        task: String,
    },
}

/// `cortex escalation ...`
#[derive(Debug, Subcommand)]
pub enum EscalationCommand {
    /// List escalations of every run.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// Only unresolved ones.
        #[arg(long)]
        open: bool,
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Resolve an escalation: grant-reserve AMOUNT, retry, or cancel.
    Resolve {
        #[command(flatten)]
        api: ApiArgs,
        /// The escalation's id (`<run-id>-<n>`).
        id: String,
        /// What to do.
        action: ResolveAction,
        /// Tokens to grant from the emergency reserve (grant-reserve only).
        #[arg(required_if_eq("action", "grant-reserve"))]
        amount: Option<u64>,
    },
}

/// How to resolve an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResolveAction {
    /// Draw AMOUNT tokens from the emergency reserve for the task's master, then retry.
    GrantReserve,
    /// Allow one more attempt.
    Retry,
    /// Give up on the task.
    Cancel,
}
