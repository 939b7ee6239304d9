//! `cortex`: the daemon, the one-machine dev cluster, and the CLI.
//!
//! Exit codes: 0 success, 1 runtime failure, 64 bad configuration (as
//! linkerd2-proxy does, so an orchestrator can tell a typo from a crash).

mod api;
mod audit_cli;
mod auth;
mod bench;
mod catalog_cli;
mod cert;
mod cli;
mod client;
mod config;
mod dev;
mod events;
mod graphql;
mod logging;
mod metrics;
mod prepare_dir;
mod report;
mod runs_cli;
mod server;
mod ui;
mod watch;

use std::process::ExitCode;

use clap::Parser;
use reqwest::Method;
use serde_json::json;

use crate::auth::{tokens_file, Access, AdminToken, TokenSource};
use crate::cli::{BenchCommand, Cli, ClusterCommand, Command, DaemonArgs, KvCommand};
use crate::client::{path_segment, render_status, ApiClient, Body};
use crate::config::{AgentConfig, DaemonConfig};
use crate::events::Observability;

/// Exit code for a configuration error (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Daemon(args) => return run_daemon(*args).await,
        Command::Dev(args) => {
            logging::init(args.log_format);
            dev::run(args).await
        }
        Command::Cluster(command) => cluster(command).await,
        Command::Kv(command) => kv(command).await,
        Command::Bench(BenchCommand::Write(args)) => bench::write(args).await,
        Command::Bench(BenchCommand::Catalog(args)) => catalog_cli::bench::run(args).await,
        Command::Catalog(command) => catalog_cli::run(command).await,
        Command::Run(command) => runs_cli::run(command).await,
        Command::Escalation(command) => runs_cli::escalation(command).await,
        Command::Audit(args) => audit_cli::run(args).await,
        Command::Cert(command) => cert::run(command),
        Command::PrepareDir(args) => prepare_dir::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cortex: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_daemon(args: DaemonArgs) -> ExitCode {
    let config = match DaemonConfig::from_args(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cortex daemon: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    logging::init(args.log_format);
    let stop = server::ShutdownSignal::install();
    let config = match config {
        DaemonConfig::Voter(config) => config,
        DaemonConfig::Agent(config) => return run_agent(config, stop).await,
    };
    let default_token = config.data_dir.join("admin-token");
    let token = match AdminToken::load(config.admin_token_file.as_deref(), &default_token) {
        Ok((token, source)) => {
            match source {
                TokenSource::Env => tracing::info!("admin token from CORTEX_ADMIN_TOKEN"),
                TokenSource::File(path) => {
                    tracing::info!(file = %path.display(), "admin token from file")
                }
                TokenSource::Generated(path) => {
                    tracing::warn!(file = %path.display(), "no admin token given; generated one")
                }
            }
            token
        }
        Err(e) => {
            eprintln!("cortex daemon: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let named = match config.tokens_file.as_deref().map(tokens_file::read) {
        None => Vec::new(),
        Some(Ok(named)) => {
            tracing::info!(tokens = named.len(), "named tokens from the tokens file");
            named
        }
        Some(Err(e)) => {
            eprintln!("cortex daemon: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let (per_second, burst) = config.change_rate;
    let access = Access::new(&token, named)
        .with_metrics_token(config.metrics_token)
        .with_change_rate(per_second, burst);
    let observability = Observability::start(
        config.redis_url.as_ref(),
        std::slice::from_ref(&config.runtime.node_name),
    );
    let voter = match server::start_voter(&config, access, &observability).await {
        Ok(voter) => voter,
        Err(e) => {
            eprintln!("cortex daemon: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    stop.wait().await;
    tracing::info!("shutting down");
    voter.shutdown().await;
    observability.shutdown().await;
    ExitCode::SUCCESS
}

async fn run_agent(config: AgentConfig, stop: server::ShutdownSignal) -> ExitCode {
    let observability = Observability::start(
        config.redis_url.as_ref(),
        std::slice::from_ref(&config.runtime.node_name),
    );
    let agent = match server::start_agent(&config, &observability).await {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("cortex daemon: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    stop.wait().await;
    tracing::info!("shutting down");
    agent.shutdown().await;
    observability.shutdown().await;
    ExitCode::SUCCESS
}

async fn cluster(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Status { api, json } => {
            let client = ApiClient::from_args(&api)?;
            if json {
                let value = client.send(Method::GET, "/v1/cluster", None).await?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", render_status(&client.cluster_status().await?));
            }
        }
        ClusterCommand::AddVoter { api, id, raft_addr } => {
            let client = ApiClient::from_args(&api)?;
            let body = json!({ "id": id, "raft_addr": raft_addr });
            let answer = client
                .send(Method::POST, "/v1/cluster/members", Some(Body::Json(body)))
                .await?;
            println!(
                "node {id} is a voter (membership at index {})",
                answer["index"]
            );
        }
        ClusterCommand::RemoveVoter { api, id } => {
            let client = ApiClient::from_args(&api)?;
            let path = format!("/v1/cluster/members/{id}");
            let answer = client.send(Method::DELETE, &path, None).await?;
            println!(
                "node {id} removed (membership at index {})",
                answer["index"]
            );
        }
    }
    Ok(())
}

async fn kv(command: KvCommand) -> anyhow::Result<()> {
    match command {
        KvCommand::Put { api, key, value } => {
            let client = ApiClient::from_args(&api)?;
            let path = format!("/v1/kv/{}", path_segment(&key));
            let answer = client
                .send(Method::PUT, &path, Some(Body::Text(value)))
                .await?;
            println!("committed at index {}", answer["index"]);
        }
        KvCommand::Get { api, key } => {
            let client = ApiClient::from_args(&api)?;
            let path = format!("/v1/kv/{}", path_segment(&key));
            let answer = client.send(Method::GET, &path, None).await?;
            println!("{}", answer["value"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}
