//! The chaos suite's fast subset, run by `.ci/run`: kill the Raft leader,
//! kill an agent, partition an agent (a zombie worker), restart every voter.
//! Each starts three voters and four agents in their own network namespaces,
//! runs the seeded workload through the faults and a must-heal phase, and
//! passes only if every invariant checker passes. `CORTEX_CHAOS_SEED`
//! replays another seed; the whole suite is `make chaos` (docs/chaos.md).

use std::path::Path;

use cortex_chaos::report::{Report, ScenarioResult};
use cortex_chaos::scenario::{self, Options, Scenario};

async fn passes(which: Scenario) {
    let seed = std::env::var("CORTEX_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let options = Options::new(Path::new(env!("CARGO_BIN_EXE_cortex")));
    let history = scenario::run(which, seed, &options)
        .await
        .unwrap_or_else(|e| panic!("{} seed {seed} could not run: {e:#}", which.name()));
    let result = ScenarioResult::judge(&history);
    let report = Report {
        generated_at: scenario::now_ms(),
        machine: String::new(),
        results: vec![result],
    };
    eprintln!("{}", report.to_markdown());
    assert!(
        report.passed(),
        "{} seed {seed} broke an invariant",
        which.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_leader() {
    passes(Scenario::KillLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_agent() {
    passes(Scenario::KillAgent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_agent() {
    passes(Scenario::PartitionAgent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_all() {
    passes(Scenario::RestartAll).await;
}
