//! `cortex-bench`: Cortex measured against etcd and Redis on one machine.
//!
//! It starts every peer itself (three Cortex voters, three etcd members,
//! one Redis server, all on loopback, one system at a time), runs the same
//! logical operations on each at 1, 16 and 128 clients, checks that every
//! ledger ended with the right balances, and writes `results.json` and a
//! Markdown report (also printed to stdout). Progress goes to stderr. The
//! exit status is non-zero when anything failed: a system that could not
//! be measured, a level with errors, or balances that do not add up.
//! `scripts/bench.sh` installs the peers and builds what it needs.

mod balances;
mod machine;
mod peers;
mod progress;
mod report;
mod results;
mod stats;
mod systems;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use results::Results;
use workloads::{dispatch, failover, footprint, physical, reserve, write, Settings};

/// Variable the process harness reads the daemons' `RUST_LOG` from.
const DAEMON_LOG_ENV: &str = "CORTEX_CHAOS_RUST_LOG";

/// Benchmark Cortex against etcd and Redis on this machine.
#[derive(Debug, Parser)]
#[command(name = "cortex-bench", version)]
struct Cli {
    /// Tiny counts: checks the tool end to end in well under a minute.
    #[arg(long)]
    quick: bool,
    /// Run only these workloads (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Workload>,
    /// Directory for results.json and results.md.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// The cortex binary [default: $CARGO_TARGET_DIR/release/cortex, or
    /// target/release/cortex].
    #[arg(long)]
    cortex_bin: Option<PathBuf>,
    /// Concurrent attempts each agent of the dispatch workload accepts (the
    /// daemon's default is 4, sized for real work; no-op tasks need more
    /// slots to keep the cluster busy).
    #[arg(long, default_value_t = 32)]
    agent_capacity: u32,
    /// Seed of the pools, amounts and usage every client picks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A workload `--only` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// Budget reservations on Cortex, etcd and Redis.
    Reserve,
    /// 100-byte replicated puts on Cortex and etcd.
    Write,
    /// SIGKILL of the leader under load, Cortex and etcd.
    Failover,
    /// fsync and loopback round-trip reference.
    Physical,
    /// No-op tasks on four agents (Cortex).
    Dispatch,
    /// Memory and disk of the Cortex daemons.
    Footprint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Daemons logging every request at info level would slow them down in
    // a way etcd and Redis are not; before any thread exists to race with.
    if std::env::var_os(DAEMON_LOG_ENV).is_none() {
        std::env::set_var(DAEMON_LOG_ENV, "warn");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the Tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(results) if results.failed() => {
            eprintln!("cortex-bench: FAILED (see the report)");
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cortex-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<Results> {
    let cortex_bin = cli.cortex_bin.clone().unwrap_or_else(default_cortex_bin);
    let selected = |workload| cli.only.is_empty() || cli.only.contains(&workload);
    let needs_cortex = [
        Workload::Reserve,
        Workload::Write,
        Workload::Failover,
        Workload::Dispatch,
        Workload::Footprint,
    ];
    if needs_cortex.into_iter().any(selected) && !cortex_bin.is_file() {
        anyhow::bail!(
            "no cortex binary at {} (build it with `cargo build --release -p cortex-daemon` \
             or pass --cortex-bin)",
            cortex_bin.display()
        );
    }
    let settings = Settings {
        quick: cli.quick,
        seed: cli.seed,
        cortex_bin: cortex_bin.clone(),
    };
    let mut results = Results {
        started_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_secs()),
        quick: cli.quick,
        seed: cli.seed,
        machine: machine::describe(&cortex_bin),
        ..Results::default()
    };
    if selected(Workload::Physical) {
        let (syncs, round_trips) = if cli.quick {
            (200, 2_000)
        } else {
            (1_000, 10_000)
        };
        eprintln!("physical: {syncs} fsyncs, {round_trips} loopback round trips");
        match physical::run(syncs, round_trips).await {
            Ok(physical) => results.physical = Some(physical),
            Err(error) => results.errors.push(format!("physical: {error:#}")),
        }
    }
    if selected(Workload::Reserve) {
        let (levels, errors) = reserve::run(&settings).await;
        results.reserve = levels;
        results.errors.extend(errors);
    }
    if selected(Workload::Write) {
        let (levels, errors) = write::run(&settings).await;
        results.write = levels;
        results.errors.extend(errors);
    }
    if selected(Workload::Failover) {
        let (systems, errors) = failover::run(&settings).await;
        results.failover = systems;
        results.errors.extend(errors);
    }
    if selected(Workload::Dispatch) || selected(Workload::Footprint) {
        if let Err(error) = dispatch_and_footprint(&cli, &cortex_bin, &mut results).await {
            results
                .errors
                .push(format!("dispatch/footprint: {error:#}"));
        }
    }
    let markdown = report::render(&results);
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
    let json_path = cli.out.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(cli.out.join("results.md"), &markdown)?;
    eprintln!("cortex-bench: wrote {} and results.md", json_path.display());
    println!("{markdown}");
    Ok(results)
}

/// Dispatch and footprint share one cluster of three voters and four
/// agents: the agents are measured idle, then the tasks run, then the voters
/// are measured.
async fn dispatch_and_footprint(
    cli: &Cli,
    cortex_bin: &std::path::Path,
    results: &mut Results,
) -> anyhow::Result<()> {
    let size = dispatch::DispatchSize {
        tasks: if cli.quick { 200 } else { 10_000 },
        capacity: cli.agent_capacity,
    };
    eprintln!(
        "dispatch: {} no-op tasks on 4 agents of capacity {}",
        size.tasks, size.capacity
    );
    let cluster = dispatch::start_cluster(cortex_bin, size.capacity).await?;
    // Let start-up allocations settle before calling an agent idle.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let idle = footprint::idle_agents(&cluster)?;
    if cli.only.is_empty() || cli.only.contains(&Workload::Dispatch) {
        results.dispatch = Some(dispatch::run(&cluster, size).await?);
    }
    if cli.only.is_empty() || cli.only.contains(&Workload::Footprint) {
        results.footprint = Some(footprint::measure(&cluster, &idle)?);
    }
    Ok(())
}

/// `$CARGO_TARGET_DIR/release/cortex` when that is set, else `target/release/cortex`.
fn default_cortex_bin() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("release")
        .join("cortex")
}
