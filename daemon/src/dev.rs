//! `cortex dev`: a complete cluster on one machine, with no external
//! services: three voters in this process on loopback, each with its own
//! sled directory under the dev data dir, sharing one admin token, and
//! `--agents` agents that reach the voters over gRPC like agents on other
//! nodes would. With agents, the voters only coordinate (as K3s control-plane
//! nodes tainted NoSchedule would) and the agents do the work. Daemons talk
//! mTLS as in production, with a CA made for this run (kept in memory).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cortex_agent::RuntimeOptions;
use cortex_consensus::node::Tuning;
use cortex_consensus::transport::tls::{PeerTls, Security};
use cortex_consensus::NodeAddr;

use crate::auth::rate::{DEFAULT_BURST, DEFAULT_PER_SECOND};
use crate::auth::{Access, AdminToken, TokenSource};
use crate::cert;
use crate::cli::DevArgs;
use crate::client::{render_status, ApiClient};
use crate::config::{AgentConfig, VoterConfig};
use crate::events::{Observability, RedisUrl};
use crate::runs_cli;
use crate::server::{start_agent, start_voter, RunningAgent, RunningVoter, ShutdownSignal};

const VOTERS: u64 = 3;
/// How long the cluster may take to elect its first leader before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the dev cluster until Ctrl-C.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let redis_url = args.redis_url.as_deref().map(RedisUrl::parse).transpose()?;
    let stop = ShutdownSignal::install().wait();
    tokio::pin!(stop);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let token_file = args.data_dir.join("admin-token");
    let (token, source) = AdminToken::load(None, &token_file)?;

    let security = dev_security()?;
    let configs = voter_configs(&args, &security)?;
    let agent_configs = agent_configs(&args, &configs)?;
    // One bus for the whole process: watchers on any voter see the workers
    // of every agent here, with no Redis.
    let nodes: Vec<String> = configs
        .iter()
        .map(|c| c.runtime.node_name.clone())
        .chain(agent_configs.iter().map(|c| c.runtime.node_name.clone()))
        .collect();
    let observability = Observability::start(redis_url.as_ref(), &nodes);
    let mut voters = Vec::new();
    for config in &configs {
        voters.push(start_voter(config, Access::admin_only(&token), &observability).await?);
    }
    let mut agents = Vec::new();
    for config in agent_configs {
        agents.push((
            config.runtime.node_name.clone(),
            start_agent(&config, &observability).await?,
        ));
    }
    println!(
        "cortex dev: {VOTERS} voters and {} agents on loopback, data in {}",
        agents.len(),
        args.data_dir.display()
    );
    for (config, voter) in configs.iter().zip(&voters) {
        println!(
            "  {}  node {}  api http://{}  raft {}",
            config.runtime.node_name, config.node_id, voter.api_addr, config.listen
        );
    }
    for (name, agent) in &agents {
        println!("  {name}  agent  health http://{}/healthz", agent.api_addr);
    }
    match source {
        TokenSource::Env => println!("  admin token: from CORTEX_ADMIN_TOKEN"),
        TokenSource::File(path) | TokenSource::Generated(path) => {
            println!(
                "  admin token: in {} (the CLI reads it from there)",
                path.display()
            )
        }
    }

    if let Some(url) = &redis_url {
        println!("  events: also fanned out through Redis at {url}");
    }

    // Ctrl-C during start-up or the demo stops everything too.
    let stopped_early = tokio::select! {
        started = start_up(&voters, &token, args.demo) => { started?; false }
        _ = &mut stop => true,
    };
    if !stopped_early {
        println!(
            "Try: cortex cluster status | cortex run submit examples/full-orchestration.yaml --watch"
        );
        println!(
            "Ctrl-C stops the cluster; its state stays in {}.",
            args.data_dir.display()
        );
        stop.await;
    }
    println!("stopping...");
    futures::future::join_all(agents.into_iter().map(|(_, a)| RunningAgent::shutdown(a))).await;
    let stopping =
        futures::future::join_all(voters.into_iter().map(RunningVoter::stop_runtime)).await;
    for voter in stopping {
        voter.shutdown().await;
    }
    observability.shutdown().await;
    Ok(())
}

/// Waits for a leader, prints the cluster, and runs the demo if asked.
async fn start_up(voters: &[RunningVoter], token: &AdminToken, demo: bool) -> anyhow::Result<()> {
    wait_until_ready(voters).await?;
    println!(
        "\n{}",
        render_status(&voters[0].consensus().cluster_status().await)
    );
    if demo {
        run_demo(&voters[0], token).await?;
    }
    Ok(())
}

/// The seed's plan, built into the binary so the demo needs no checkout.
const DEMO_PLAN: &str = include_str!("../../examples/full-orchestration.yaml");

/// Submits the seed's plan and follows it until its report.
async fn run_demo(voter: &RunningVoter, token: &AdminToken) -> anyhow::Result<()> {
    let client = ApiClient::new(&format!("http://{}", voter.api_addr), token.clone())?;
    let id = runs_cli::submit(&client, DEMO_PLAN.to_string()).await?;
    println!("demo: submitted the seed's plan as run {id}\n");
    runs_cli::follow(&client, &id).await
}

/// A throwaway cluster CA and one certificate every dev daemon shares.
fn dev_security() -> anyhow::Result<Security> {
    let ca = cert::new_ca(1)?;
    let member = cert::issue(&ca, "cortex-dev", &[], 1)?;
    let tls = PeerTls::from_pem(&ca.cert, &member.cert, &member.key)?;
    Ok(Security::Mtls(Arc::new(tls)))
}

fn voter_configs(args: &DevArgs, security: &Security) -> anyhow::Result<Vec<VoterConfig>> {
    let port = |base: u16, id: u64| -> anyhow::Result<u16> {
        base.checked_add(id as u16 - 1)
            .context("port out of range; choose a lower --api-port/--raft-port")
    };
    let mut peers = BTreeMap::new();
    for id in 1..=VOTERS {
        peers.insert(
            id,
            NodeAddr {
                raft_addr: format!("127.0.0.1:{}", port(args.raft_port, id)?),
            },
        );
    }
    (1..=VOTERS)
        .map(|id| {
            Ok(VoterConfig {
                node_id: id,
                listen: format!("127.0.0.1:{}", port(args.raft_port, id)?).parse()?,
                api_addr: format!("127.0.0.1:{}", port(args.api_port, id)?).parse()?,
                peers: peers.clone(),
                data_dir: args.data_dir.join(format!("node-{id}")),
                admin_token_file: None,
                tokens_file: None,
                metrics_token: false,
                change_rate: (DEFAULT_PER_SECOND, DEFAULT_BURST),
                tuning: Tuning::default(),
                security: security.clone(),
                runtime: RuntimeOptions {
                    // The seed's control-plane nodes.
                    node_name: format!("k3s-master{id:02}"),
                    execute: args.agents == 0,
                    ..RuntimeOptions::default()
                },
                // The process's one bridge (see `run`) serves every node.
                redis_url: None,
            })
        })
        .collect()
}

/// The agents: the seed's worker nodes, probes on the ports after the voters'.
fn agent_configs(args: &DevArgs, voters: &[VoterConfig]) -> anyhow::Result<Vec<AgentConfig>> {
    let addresses: Vec<String> = voters.iter().map(|v| v.listen.to_string()).collect();
    (1..=args.agents)
        .map(|n| {
            let port = args
                .api_port
                .checked_add(VOTERS as u16 + n - 1)
                .context("port out of range; choose a lower --api-port")?;
            Ok(AgentConfig {
                voters: addresses.clone(),
                security: voters[0].security.clone(),
                api_addr: format!("127.0.0.1:{port}").parse()?,
                runtime: RuntimeOptions {
                    node_name: format!("k3s-worker{n:02}"),
                    ..RuntimeOptions::default()
                },
                redis_url: None,
            })
        })
        .collect()
}

async fn wait_until_ready(voters: &[RunningVoter]) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    loop {
        let mut ready = true;
        for voter in voters {
            ready &= voter.consensus().is_ready().await;
        }
        if ready {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            anyhow::bail!("the dev cluster elected no leader within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
