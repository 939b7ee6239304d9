//! `cortex-chaos`: runs chaos scenarios against a `cortex` binary, several
//! seeds each, and writes the report (Markdown and JSON).
//!
//! ```text
//! cortex-chaos --binary target/debug/cortex [--scenarios all|fast|NAME,...]
//!              [--seeds 5] [--first-seed 1] [--random-secs 20] [--out DIR]
//! ```
//!
//! Exits 1 if any scenario run failed a checker or could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cortex_chaos::report::{Report, ScenarioResult};
use cortex_chaos::scenario::{self, Options, Scenario};

/// What the command line asked for.
struct Args {
    options: Options,
    scenarios: Vec<Scenario>,
    seeds: u64,
    first_seed: u64,
    out: PathBuf,
}

fn parse() -> anyhow::Result<Args> {
    let mut binary = None;
    let mut scenarios = Scenario::ALL.to_vec();
    let (mut seeds, mut first_seed, mut random_secs) = (1, 1, 20);
    let mut out = PathBuf::from("chaos-report");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--binary" => binary = Some(PathBuf::from(value()?)),
            "--scenarios" => scenarios = scenario_list(&value()?)?,
            "--seeds" => seeds = value()?.parse().context("--seeds")?,
            "--first-seed" => first_seed = value()?.parse().context("--first-seed")?,
            "--random-secs" => random_secs = value()?.parse().context("--random-secs")?,
            "--out" => out = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{}", usage()),
        }
    }
    let binary = binary.with_context(|| format!("--binary is required\n{}", usage()))?;
    if !binary.is_file() {
        bail!(
            "{} is not a file: build it with `cargo build --bin cortex`",
            binary.display()
        );
    }
    let mut options = Options::new(binary);
    options.random_for = Duration::from_secs(random_secs);
    Ok(Args {
        options,
        scenarios,
        seeds,
        first_seed,
        out,
    })
}

fn scenario_list(text: &str) -> anyhow::Result<Vec<Scenario>> {
    match text {
        "all" => Ok(Scenario::ALL.to_vec()),
        "fast" => Ok(Scenario::FAST.to_vec()),
        _ => text
            .split(',')
            .map(|name| {
                Scenario::from_name(name).with_context(|| {
                    let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
                    format!("no scenario {name:?}; there are {}", names.join(", "))
                })
            })
            .collect(),
    }
}

fn usage() -> &'static str {
    "usage: cortex-chaos --binary PATH [--scenarios all|fast|NAME,...] [--seeds N] \
     [--first-seed S] [--random-secs N] [--out DIR]"
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("cortex-chaos: {error:#}");
            return ExitCode::from(2);
        }
    };
    let total = args.scenarios.len() as u64 * args.seeds;
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut n = 0;
    for &scenario in &args.scenarios {
        for seed in args.first_seed..args.first_seed + args.seeds {
            n += 1;
            let start = Instant::now();
            match scenario::run(scenario, seed, &args.options).await {
                Ok(history) => {
                    let result = ScenarioResult::judge(&history);
                    println!("[{n}/{total}] {}", summary(&result, start.elapsed()));
                    results.push(result);
                }
                Err(error) => {
                    println!(
                        "[{n}/{total}] {} seed {seed}: COULD NOT RUN: {error:#}",
                        scenario.name()
                    );
                    errors.push(format!("{} seed {seed}: {error:#}", scenario.name()));
                }
            }
        }
    }
    let report = Report {
        results,
        generated_at: scenario::now_ms(),
        machine: machine(),
    };
    if let Err(error) = report.write(&args.out) {
        eprintln!(
            "cortex-chaos: writing the report to {}: {error}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    let failed = report.results.iter().filter(|r| !r.passed).count();
    println!(
        "{} scenario runs: {} passed, {failed} failed, {} could not run; report in {}",
        total,
        report.results.len() - failed,
        errors.len(),
        args.out.join("chaos-report.md").display()
    );
    for error in &errors {
        println!("  could not run: {error}");
    }
    if failed == 0 && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn summary(result: &ScenarioResult, took: Duration) -> String {
    let verdict = match result.failed_checkers().as_slice() {
        [] => "passed".to_string(),
        failed => format!("FAILED {}", failed.join(", ")),
    };
    let recovery: Vec<String> = result
        .recovery
        .iter()
        .map(|r| format!("{} {} ms", r.what, r.millis))
        .collect();
    format!(
        "{} seed {}: {verdict} in {:.0?} ({} faults, {} attempts, {} retries; {})",
        result.scenario,
        result.seed,
        took,
        result.faults_injected,
        result.attempts,
        result.retries,
        recovery.join(", ")
    )
}

/// Host name and cores, for the report.
fn machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{} ({cores} cores)", host.trim())
}
