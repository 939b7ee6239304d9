//! Turns command-line flags into a validated voter or agent configuration,
//! before any port is bound or file written, so a mistake is reported in
//! one line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use cortex_agent::RuntimeOptions;
use cortex_consensus::node::Tuning;
use cortex_consensus::plan::executor::kube_syntax;
use cortex_consensus::transport::tls::{PeerTls, Security};
use cortex_consensus::{NodeAddr, NodeId};

use crate::cli::{DaemonArgs, Role};
use crate::events::{BadRedisUrl, RedisUrl};

/// A configuration mistake, reported to the user before starting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// --node-id is 0 (reserved for "no node").
    #[error("--node-id must be 1 or more")]
    ZeroNodeId,
    /// A flag this role needs is missing.
    #[error("{flag} is required for --role {role}")]
    Missing {
        /// The flag.
        flag: &'static str,
        /// The role.
        role: &'static str,
    },
    /// A flag that does not apply to this role was given.
    #[error("{flag} does not apply to --role {role}")]
    NotForRole {
        /// The flag.
        flag: &'static str,
        /// The role.
        role: &'static str,
    },
    /// An agent's node name could not be derived from the host name.
    #[error("cannot tell this host's name ({0}); give --node-name")]
    NoHostName(String),
    /// An address flag does not parse.
    #[error("{flag}: {value:?} is not an IP:PORT address")]
    BadSocketAddr {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// A --peers or --voters entry does not parse.
    #[error("{flag}: entry {entry:?} is not ID=HOST:PORT ({reason})")]
    BadPeer {
        /// The flag.
        flag: &'static str,
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same id appears twice in --peers or --voters.
    #[error("{0}: node id {1} appears more than once")]
    DuplicatePeer(&'static str, NodeId),
    /// This node is not in --peers.
    #[error("--peers must include this node (--node-id {0})")]
    SelfNotInPeers(NodeId),
    /// A voter's --node-name is not one of --voter-nodes.
    #[error("node {0:?} is not in --voter-nodes: run it with --role agent")]
    NotAVoterNode(String),
    /// --voter-nodes does not parse.
    #[error("--voter-nodes: {0}")]
    BadVoterNodes(String),
    /// A --labels entry does not parse.
    #[error("--labels: entry {0:?} is not KEY=VALUE")]
    BadLabel(String),
    /// A timing flag is out of range.
    #[error("{flag} must be {min} to {max} ms, got {value}")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: u64,
        /// Smallest accepted.
        min: u64,
        /// Largest accepted.
        max: u64,
    },
    /// --snapshot-every is too small to be useful.
    #[error("--snapshot-every must be at least 10, got {0}")]
    SnapshotTooOften(u64),
    /// The data directory cannot be created or written.
    #[error("--data-dir {path}: {reason}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// --k8s-jobs-namespace is not a namespace name.
    #[error("--k8s-jobs-namespace: {0}")]
    BadJobsNamespace(String),
    /// Neither --tls-dir nor --insecure-plaintext was given.
    #[error("inter-node gRPC needs --tls-dir DIR (ca.crt, tls.crt, tls.key; create them with `cortex cert`) or, for development only, --insecure-plaintext")]
    NoPeerSecurity,
    /// The TLS directory's files are missing or wrong.
    #[error("--tls-dir: {0}")]
    Tls(String),
    /// --redis-url is not a usable Redis URL (shown without its password).
    #[error(transparent)]
    BadRedisUrl(#[from] BadRedisUrl),
}

/// Everything a voter needs, validated.
#[derive(Debug, Clone)]
pub struct VoterConfig {
    /// This node's id.
    pub node_id: NodeId,
    /// Raft/gRPC listen address.
    pub listen: SocketAddr,
    /// Admin API listen address.
    pub api_addr: SocketAddr,
    /// The initial voters.
    pub peers: BTreeMap<NodeId, NodeAddr>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Explicit admin token file, if any.
    pub admin_token_file: Option<PathBuf>,
    /// Named tokens with roles, if any.
    pub tokens_file: Option<PathBuf>,
    /// Whether `/metrics` needs a token.
    pub metrics_token: bool,
    /// Changes per second per token, and the burst.
    pub change_rate: (u32, u32),
    /// Raft timing and compaction.
    pub tuning: Tuning,
    /// mTLS (or explicit plaintext) with peers and agents.
    pub security: Security,
    /// The node runtime (heartbeats, master roles, execution).
    pub runtime: RuntimeOptions,
    /// Redis for the event fan-out, if any.
    pub redis_url: Option<RedisUrl>,
}

/// Everything an agent needs, validated.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The voters' Raft/gRPC addresses.
    pub voters: Vec<String>,
    /// mTLS (or explicit plaintext) with the voters.
    pub security: Security,
    /// Health probe listen address.
    pub api_addr: SocketAddr,
    /// The node runtime (heartbeats, execution).
    pub runtime: RuntimeOptions,
    /// Redis for the event fan-out, if any.
    pub redis_url: Option<RedisUrl>,
}

/// A validated daemon configuration.
#[derive(Debug, Clone)]
pub enum DaemonConfig {
    /// `--role voter`.
    Voter(VoterConfig),
    /// `--role agent`.
    Agent(AgentConfig),
}

impl DaemonConfig {
    /// Validates `args` for their role.
    pub fn from_args(args: &DaemonArgs) -> Result<Self, ConfigError> {
        match args.role {
            Role::Voter => VoterConfig::from_args(args).map(DaemonConfig::Voter),
            Role::Agent => AgentConfig::from_args(args).map(DaemonConfig::Agent),
        }
    }
}

impl AgentConfig {
    /// Validates `args` of an agent.
    pub fn from_args(args: &DaemonArgs) -> Result<Self, ConfigError> {
        let role = "agent";
        if args.node_id.is_some() {
            return Err(ConfigError::NotForRole {
                flag: "--node-id",
                role,
            });
        }
        if args.peers.is_some() {
            return Err(ConfigError::NotForRole {
                flag: "--peers (use --voters)",
                role,
            });
        }
        let voters = match &args.voter_nodes {
            Some(nodes) => VoterNodes::parse(nodes, args.raft_port)?.peers,
            None => {
                let voters = args.voters.as_deref().ok_or(ConfigError::Missing {
                    flag: "--voters or --voter-nodes",
                    role,
                })?;
                parse_peers("--voters", voters)?
            }
        };
        let voters = voters.into_values().map(|addr| addr.raft_addr).collect();
        let node_name = match &args.node_name {
            Some(name) => name.clone(),
            None => host_name()?,
        };
        Ok(AgentConfig {
            voters,
            security: security(args)?,
            api_addr: socket_addr("--api-addr", &args.api_addr)?,
            runtime: runtime_options(args, node_name)?,
            redis_url: redis_url(args)?,
        })
    }
}

impl VoterConfig {
    /// Validates `args` of a voter; creates the data directory if missing.
    pub fn from_args(args: &DaemonArgs) -> Result<Self, ConfigError> {
        let role = "voter";
        if args.voters.is_some() {
            return Err(ConfigError::NotForRole {
                flag: "--voters (use --peers)",
                role,
            });
        }
        let mut listen = socket_addr("--listen", &args.listen)?;
        let api_addr = socket_addr("--api-addr", &args.api_addr)?;
        let (node_id, peers) = match &args.voter_nodes {
            Some(nodes) => {
                let nodes = VoterNodes::parse(nodes, args.raft_port)?;
                let name = args.node_name.as_deref().ok_or(ConfigError::Missing {
                    flag: "--node-name (with --voter-nodes)",
                    role,
                })?;
                let id = *nodes
                    .ids
                    .get(name)
                    .ok_or_else(|| ConfigError::NotAVoterNode(name.to_string()))?;
                listen.set_port(args.raft_port);
                (id, nodes.peers)
            }
            None => {
                let node_id = args.node_id.ok_or(ConfigError::Missing {
                    flag: "--node-id",
                    role,
                })?;
                let peers = args.peers.as_deref().ok_or(ConfigError::Missing {
                    flag: "--peers",
                    role,
                })?;
                (node_id, parse_peers("--peers", peers)?)
            }
        };
        if node_id == 0 {
            return Err(ConfigError::ZeroNodeId);
        }
        if !peers.contains_key(&node_id) {
            return Err(ConfigError::SelfNotInPeers(node_id));
        }
        if args.snapshot_every < 10 {
            return Err(ConfigError::SnapshotTooOften(args.snapshot_every));
        }
        let redis_url = redis_url(args)?;
        let security = security(args)?;
        ensure_writable_dir(&args.data_dir)?;
        let node_name = args
            .node_name
            .clone()
            .unwrap_or_else(|| format!("voter-{node_id}"));
        let runtime = runtime_options(args, node_name)?;
        Ok(VoterConfig {
            node_id,
            listen,
            api_addr,
            peers,
            data_dir: args.data_dir.clone(),
            admin_token_file: args.admin_token_file.clone(),
            tokens_file: args.tokens_file.clone(),
            metrics_token: args.metrics_token,
            change_rate: (args.change_rate, args.change_burst),
            tuning: Tuning {
                snapshot_every: args.snapshot_every,
                keep_after_snapshot: (args.snapshot_every / 5).max(5),
                ..Tuning::default()
            },
            security,
            runtime,
            redis_url,
        })
    }
}

/// The runtime settings every node shares.
fn runtime_options(args: &DaemonArgs, node_name: String) -> Result<RuntimeOptions, ConfigError> {
    Ok(RuntimeOptions {
        node_name,
        labels: parse_labels(&args.labels)?,
        capacity: args.capacity,
        execute: !args.no_execute,
        k8s_jobs_namespace: jobs_namespace(args)?,
        heartbeat: Duration::from_millis((args.node_timeout_ms / 5).clamp(200, 1_000)),
        node_timeout: Duration::from_millis(in_range(
            "--node-timeout-ms",
            args.node_timeout_ms,
            1_000,
            600_000,
        )?),
        lease_ttl: Duration::from_millis(in_range(
            "--lease-ttl-ms",
            args.lease_ttl_ms,
            500,
            60_000,
        )?),
    })
}

/// --k8s-jobs-namespace, checked (an empty value, as a chart may render,
/// leaves the executor off).
fn jobs_namespace(args: &DaemonArgs) -> Result<Option<String>, ConfigError> {
    let Some(namespace) = args.k8s_jobs_namespace.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    match kube_syntax::dns_label_problem(namespace) {
        Some(problem) => Err(ConfigError::BadJobsNamespace(problem)),
        None => Ok(Some(namespace.to_string())),
    }
}

/// --tls-dir loaded and checked, or --insecure-plaintext; one is required
/// so that plaintext is never an accident.
fn security(args: &DaemonArgs) -> Result<Security, ConfigError> {
    match (&args.tls_dir, args.insecure_plaintext) {
        (Some(dir), _) => PeerTls::load(dir)
            .map(|tls| Security::Mtls(Arc::new(tls)))
            .map_err(|e| ConfigError::Tls(e.to_string())),
        (None, true) => Ok(Security::Plaintext),
        (None, false) => Err(ConfigError::NoPeerSecurity),
    }
}

/// --redis-url, checked (not connected to: Redis may come later).
fn redis_url(args: &DaemonArgs) -> Result<Option<RedisUrl>, ConfigError> {
    Ok(args.redis_url.as_deref().map(RedisUrl::parse).transpose()?)
}

/// This machine's host name (the pod name in Kubernetes, where the chart
/// sets --node-name to the node's name instead).
fn host_name() -> Result<String, ConfigError> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| ConfigError::NoHostName(e.to_string()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ConfigError::NoHostName("it is empty".into()));
    }
    Ok(name.to_string())
}

fn in_range(flag: &'static str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            flag,
            value,
            min,
            max,
        })
    }
}

/// Parses `zone=a,disk=ssd`.
pub fn parse_labels(value: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut labels = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                labels.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => return Err(ConfigError::BadLabel(entry.to_string())),
        }
    }
    Ok(labels)
}

fn socket_addr(flag: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::BadSocketAddr {
        flag,
        value: value.to_string(),
    })
}

/// Parses `1=host:7710,2=host:7710,...` given as `flag`.
pub fn parse_peers(
    flag: &'static str,
    value: &str,
) -> Result<BTreeMap<NodeId, NodeAddr>, ConfigError> {
    let mut peers = BTreeMap::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |reason| ConfigError::BadPeer {
            flag,
            entry: entry.to_string(),
            reason,
        };
        let (id, addr) = entry.split_once('=').ok_or_else(|| bad("missing '='"))?;
        let id: NodeId = id.trim().parse().map_err(|_| bad("id is not a number"))?;
        if id == 0 {
            return Err(bad("id 0 is reserved"));
        }
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("missing ':PORT'"))?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad("port is not 1-65535"));
        }
        let node = NodeAddr {
            raft_addr: addr.to_string(),
        };
        if peers.insert(id, node).is_some() {
            return Err(ConfigError::DuplicatePeer(flag, id));
        }
    }
    if peers.is_empty() {
        return Err(ConfigError::BadPeer {
            flag,
            entry: value.to_string(),
            reason: "no peers given",
        });
    }
    Ok(peers)
}

/// `--voter-nodes`: the voters by node name, ids by position from 1.
struct VoterNodes {
    ids: BTreeMap<String, NodeId>,
    peers: BTreeMap<NodeId, NodeAddr>,
}

impl VoterNodes {
    fn parse(value: &str, raft_port: u16) -> Result<VoterNodes, ConfigError> {
        let bad = ConfigError::BadVoterNodes;
        if raft_port == 0 {
            return Err(bad("--raft-port must be 1-65535".into()));
        }
        let mut nodes = VoterNodes {
            ids: BTreeMap::new(),
            peers: BTreeMap::new(),
        };
        for (i, entry) in value.split(',').map(str::trim).enumerate() {
            let (name, host) = match entry.split_once('=') {
                Some((name, host)) => (name.trim(), host.trim()),
                None => (entry, entry),
            };
            let valid = |s: &str| {
                !s.is_empty()
                    && s.len() <= 253
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            };
            if !valid(name) || !valid(host) {
                return Err(bad(format!(
                    "entry {} ({entry:?}) is not NAME or NAME=HOST",
                    i + 1
                )));
            }
            let id = i as NodeId + 1;
            if nodes.ids.insert(name.to_string(), id).is_some() {
                return Err(bad(format!("node {name:?} appears more than once")));
            }
            let raft_addr = format!("{host}:{raft_port}");
            nodes.peers.insert(id, NodeAddr { raft_addr });
        }
        Ok(nodes)
    }
}

fn ensure_writable_dir(path: &std::path::Path) -> Result<(), ConfigError> {
    let fail = |e: std::io::Error| ConfigError::DataDir {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(path).map_err(fail)?;
    let probe = path.join(".write-probe");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_peer_list() {
        let peers = parse_peers(
            "--peers",
            "1=127.0.0.1:7710, 2=cortex-1.cortex:7710,3=[::1]:7712",
        )
        .unwrap();
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[&2].raft_addr, "cortex-1.cortex:7710");
        assert_eq!(peers[&3].raft_addr, "[::1]:7712");
    }

    #[test]
    fn rejects_bad_peer_lists_with_the_reason() {
        let cases = [
            ("1127.0.0.1:7710", "missing '='"),
            ("x=127.0.0.1:7710", "id is not a number"),
            ("0=127.0.0.1:7710", "id 0 is reserved"),
            ("1=127.0.0.1", "missing ':PORT'"),
            ("1=:7710", "empty host"),
            ("1=h:99999", "port is not 1-65535"),
            ("", "no peers given"),
        ];
        for (input, reason) in cases {
            let error = parse_peers("--peers", input).unwrap_err().to_string();
            assert!(error.contains(reason), "{input:?}: {error}");
        }
        assert!(matches!(
            parse_peers("--peers", "1=a:1,1=b:2"),
            Err(ConfigError::DuplicatePeer("--peers", 1))
        ));
    }

    fn daemon_args(args: &[&str]) -> Result<DaemonArgs, clap::Error> {
        use clap::Parser;
        let argv = ["cortex", "daemon"].iter().chain(args);
        match crate::cli::Cli::try_parse_from(argv)?.command {
            crate::cli::Command::Daemon(args) => Ok(*args),
            _ => unreachable!("parsed as daemon"),
        }
    }

    #[test]
    fn voters_named_by_node_find_their_id_and_peers() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let nodes = "k3s-master01, k3s-master02=10.0.0.12,k3s-master03";
        let args = daemon_args(&[
            "--insecure-plaintext",
            "--voter-nodes",
            nodes,
            "--node-name",
            "k3s-master02",
            "--raft-port",
            "7800",
            "--data-dir",
            data,
        ])
        .unwrap();
        let voter = VoterConfig::from_args(&args).unwrap();
        assert_eq!(voter.node_id, 2);
        assert_eq!(voter.listen.port(), 7800);
        let peers: Vec<&str> = voter.peers.values().map(|p| p.raft_addr.as_str()).collect();
        assert_eq!(
            peers,
            ["k3s-master01:7800", "10.0.0.12:7800", "k3s-master03:7800"]
        );

        let args = daemon_args(&[
            "--insecure-plaintext",
            "--role",
            "agent",
            "--voter-nodes",
            nodes,
            "--node-name",
            "k3s-worker01",
        ])
        .unwrap();
        let agent = AgentConfig::from_args(&args).unwrap();
        assert_eq!(agent.voters[0], "k3s-master01:7710");
        assert_eq!(agent.runtime.node_name, "k3s-worker01");

        let args = daemon_args(&[
            "--insecure-plaintext",
            "--voter-nodes",
            nodes,
            "--node-name",
            "k3s-worker01",
            "--data-dir",
            data,
        ])
        .unwrap();
        assert!(matches!(
            VoterConfig::from_args(&args),
            Err(ConfigError::NotAVoterNode(name)) if name == "k3s-worker01"
        ));
    }

    #[test]
    fn the_k8s_job_executor_is_on_only_with_a_valid_namespace() {
        let agent = |extra: &[&str]| {
            let mut args = vec![
                "--insecure-plaintext",
                "--role",
                "agent",
                "--voters",
                "1=a:7710",
                "--node-name",
                "w1",
            ];
            args.extend_from_slice(extra);
            AgentConfig::from_args(&daemon_args(&args).unwrap())
        };
        assert_eq!(agent(&[]).unwrap().runtime.k8s_jobs_namespace, None);
        assert_eq!(
            agent(&["--k8s-jobs-namespace", ""])
                .unwrap()
                .runtime
                .k8s_jobs_namespace,
            None,
            "an empty value (an unset chart value) leaves it off"
        );
        let on = agent(&["--k8s-jobs-namespace", "cortex-jobs"]).unwrap();
        assert_eq!(
            on.runtime.k8s_jobs_namespace.as_deref(),
            Some("cortex-jobs")
        );
        let error = agent(&["--k8s-jobs-namespace", "Cortex_Jobs"])
            .unwrap_err()
            .to_string();
        assert!(
            error
                .starts_with("--k8s-jobs-namespace: \"Cortex_Jobs\" is not a valid namespace name"),
            "{error}"
        );
    }

    #[test]
    fn bad_voter_node_lists_are_refused_with_the_reason() {
        for (input, reason) in [
            ("a,,b", "entry 2"),
            ("a,a", "appears more than once"),
            ("a b", "entry 1"),
            ("a=", "entry 1"),
        ] {
            let error = VoterNodes::parse(input, 7710).err().unwrap().to_string();
            assert!(error.contains(reason), "{input:?}: {error}");
        }
        // --voter-nodes replaces the id-based flags; mixing them is a mistake.
        assert!(daemon_args(&["--voter-nodes", "a", "--peers", "1=a:1"]).is_err());
        assert!(
            daemon_args(&["--raft-port", "7800"]).is_err(),
            "needs --voter-nodes"
        );
    }

    #[test]
    fn inter_node_security_must_be_chosen_and_must_load() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let voter = |extra: &[&str]| {
            let mut args = vec![
                "--node-id",
                "1",
                "--peers",
                "1=127.0.0.1:7710",
                "--data-dir",
                data,
            ];
            args.extend_from_slice(extra);
            VoterConfig::from_args(&daemon_args(&args).unwrap())
        };
        assert!(matches!(voter(&[]), Err(ConfigError::NoPeerSecurity)));
        let message = voter(&[]).unwrap_err().to_string();
        assert!(
            message.contains("--tls-dir") && message.contains("cortex cert"),
            "{message}"
        );
        let error = voter(&["--tls-dir", data]).unwrap_err().to_string();
        assert!(error.contains("ca.crt"), "names the missing file: {error}");
        assert!(daemon_args(&["--tls-dir", data, "--insecure-plaintext"]).is_err());
        let plain = voter(&["--insecure-plaintext"]).unwrap();
        assert!(matches!(plain.security, Security::Plaintext));

        let tls = dir.path().join("tls");
        let ca = crate::cert::new_ca(1).unwrap();
        let node = crate::cert::issue(&ca, "n", &[], 1).unwrap();
        std::fs::create_dir(&tls).unwrap();
        std::fs::write(tls.join("ca.crt"), &ca.cert).unwrap();
        std::fs::write(tls.join("tls.crt"), &node.cert).unwrap();
        std::fs::write(tls.join("tls.key"), &node.key).unwrap();
        let secured = voter(&["--tls-dir", tls.to_str().unwrap()]).unwrap();
        assert!(matches!(secured.security, Security::Mtls(_)));
    }
}
