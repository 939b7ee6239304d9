//! One scenario from start to verdict-ready history: start the cluster,
//! submit the workload, inject the schedule's faults while recording, heal
//! everything, let the runs finish, read the final state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::faults::Faults;
use super::recorder::{now_ms, poll, submit, Recorder};
use super::recovery::new_leader;
use super::schedules::{inject, Ctx};
use super::{Options, Scenario, AGENTS, NODE_TIMEOUT};
use crate::cluster::{run_ended, ProcessCluster};
use crate::history::{HealRecord, History, RunSnapshot};
use crate::redis::RedisServer;
use crate::workload::{plan, Shape, WorkloadFiles};

/// Tasks of the main run that must have completed before faults start, so
/// they land mid-run.
const COMPLETED_BEFORE_FAULTS: usize = 3;

/// Runs `scenario` with `seed`; see [`super`].
pub async fn run(scenario: Scenario, seed: u64, options: &Options) -> anyhow::Result<History> {
    let started_at = now_ms();
    let mut rng = StdRng::seed_from_u64(seed);
    let (cluster, redis) = start(scenario, options).await?;
    let cluster = Arc::new(cluster);
    let recorder = Arc::new(Recorder::default());
    let files = WorkloadFiles::create(cluster.dir())?;

    let main = plan("chaos-main", Shape::MAIN, seed, &files);
    let run_id = submit(&cluster, &recorder, 1, "chaos-main", &main.yaml)
        .await
        .with_context(|| {
            format!(
                "the main run was not acknowledged: {:?}",
                recorder.with(|r| r.submissions.clone())
            )
        })?;
    let (poll_stop_tx, poll_stop) = watch::channel(false);
    let poller = tokio::spawn(poll(cluster.clone(), recorder.clone(), poll_stop));
    wait_progress(&cluster, &run_id).await?;

    let faults = Faults::new(cluster.clone(), recorder.clone(), redis);
    let (stop_tx, stop) = watch::channel(false);
    let submitter = tokio::spawn(submit_small_runs(
        cluster.clone(),
        recorder.clone(),
        files.clone(),
        rng.gen(),
        stop.clone(),
    ));
    let mut ctx = Ctx {
        faults: &faults,
        run: &run_id,
        rng,
        options,
        recoveries: Vec::new(),
    };
    let injected = inject(scenario, &mut ctx).await;
    let _ = stop_tx.send(true);
    let _ = submitter.await;
    let healed = faults.heal_all();
    let faults_stopped_at = now_ms();
    injected.context("injecting the faults")?;
    healed.context("healing")?;

    let all_ended_at = wait_all_ended(&cluster, &recorder, options.heal_deadline).await;
    let _ = poll_stop_tx.send(true);
    let _ = poller.await;
    let finals = read_finals(&cluster).await?;
    let effects = files.effects()?;
    cluster.check_no_crash()?;

    let recorded = recorder.with(std::mem::take);
    Ok(History {
        scenario: scenario.name().to_string(),
        seed,
        started_at,
        faults: recorded.faults,
        submissions: recorded.submissions,
        polls: recorded.polls,
        lease_polls: recorded.lease_polls,
        effects,
        finals,
        heal: HealRecord {
            faults_stopped_at,
            deadline_ms: options.heal_deadline.as_millis() as u64,
            all_ended_at,
        },
        recovery: ctx.recoveries,
    })
}

/// Three voters that coordinate only and four agents, each in its own
/// network namespace, with Redis for the scenarios that fault it.
async fn start(
    scenario: Scenario,
    options: &Options,
) -> anyhow::Result<(ProcessCluster, Option<RedisServer>)> {
    let timeout = NODE_TIMEOUT.as_millis().to_string();
    let mut voter_args = vec!["--no-execute", "--node-timeout-ms", &timeout];
    let redis = match scenario.uses_redis() {
        true => Some(RedisServer::start_for_network(
            crate::net::Network::gateway(),
        )?),
        false => None,
    };
    let redis_url = redis.as_ref().map(RedisServer::url);
    if let Some(url) = &redis_url {
        voter_args.extend(["--redis-url", url]);
    }
    let mut cluster = ProcessCluster::start_networked(&options.binary, 3, &voter_args)?;
    cluster.wait_ready(Duration::from_secs(60)).await?;
    let mut agent_args = vec!["--node-timeout-ms", &timeout];
    if let Some(url) = &redis_url {
        agent_args.extend(["--redis-url", url]);
    }
    for agent in AGENTS {
        cluster.add_agent(agent, &agent_args)?;
    }
    wait_agents(&cluster).await?;
    Ok((cluster, redis))
}

/// Waits until the voters list every agent as alive.
async fn wait_agents(cluster: &ProcessCluster) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Some(status) = cluster.get_json("/v1/cluster").await {
            let alive = status["executors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["status"] == "alive")
                .count();
            if alive >= AGENTS.len() {
                return Ok(());
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the agents did not all register within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the main run has completed a few tasks.
async fn wait_progress(cluster: &ProcessCluster, run: &str) -> anyhow::Result<()> {
    cluster
        .wait_run(
            run,
            "the main run to get going",
            Duration::from_secs(90),
            |r| {
                r["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["state"] == "completed")
                    .count()
                    >= COMPLETED_BEFORE_FAULTS
            },
        )
        .await
        .map(drop)
}

/// Submits a small run every 1-2 s through a random voter until `stop`.
async fn submit_small_runs(
    cluster: Arc<ProcessCluster>,
    recorder: Arc<Recorder>,
    files: WorkloadFiles,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0.. {
        let pause = Duration::from_millis(rng.gen_range(1_000..=2_000));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let live = cluster.live_ids();
        let Some(&via) = live.get(rng.gen_range(0..live.len().max(1))) else {
            continue;
        };
        let name = format!("chaos-small-{n}");
        let small = plan(&name, Shape::SMALL, seed.wrapping_add(n), &files);
        submit(&cluster, &recorder, via, &name, &small.yaml).await;
    }
}

/// Waits until every acknowledged run ended; when, or `None` past `deadline`.
async fn wait_all_ended(
    cluster: &ProcessCluster,
    recorder: &Recorder,
    deadline: Duration,
) -> Option<u64> {
    let start = Instant::now();
    loop {
        let mut all = true;
        for id in recorder.acked() {
            let ended = cluster
                .get_json(&format!("/v1/runs/{id}"))
                .await
                .is_some_and(|run| run_ended(&run));
            if !ended {
                all = false;
                break;
            }
        }
        if all {
            return Some(now_ms());
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every run the leader knows, in full.
async fn read_finals(cluster: &ProcessCluster) -> anyhow::Result<Vec<RunSnapshot>> {
    let (leader, _) = new_leader(cluster, &[], Instant::now(), Duration::from_secs(30)).await?;
    let list = cluster.get_json_from(leader, "/v1/runs").await?;
    let mut finals = Vec::new();
    for id in list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
    {
        let run = cluster
            .get_json_from(leader, &format!("/v1/runs/{id}"))
            .await?;
        finals.push(serde_json::from_value(run).with_context(|| format!("reading run {id}"))?);
    }
    Ok(finals)
}
