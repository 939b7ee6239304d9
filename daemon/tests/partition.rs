//! End-to-end: a real network partition between real `cortex` daemons.
//!
//! Three voters run on hosts of their own (`k3s-master01..03`, Linux network
//! namespaces on one bridge, see `cortex_chaos::net`). The leader's host is
//! cut off from the two others while the test still reaches every node: the
//! majority must elect a new leader and keep accepting writes, the old leader
//! must not acknowledge any, and after the heal all three agree again, hold
//! every acknowledged write and none of the refused one. Needs root (network
//! namespaces); without it the test fails and says why.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use cortex_chaos::{wait_until, AckedWrites, AdminClient, Check, ProcessCluster};

/// Until every daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);
/// Until a (new) leader is agreed on.
const LEADER: Duration = Duration::from_secs(30);
/// Until one write is acknowledged, retries included.
const WRITE: Duration = Duration::from_secs(30);
/// Until every acknowledged write was read back, or a node caught up.
const CATCH_UP: Duration = Duration::from_secs(60);
/// The whole scenario, so a hang anywhere still ends the test.
const SCENARIO: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_is_replaced_and_catches_up_after_the_heal() {
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let mut cluster = ProcessCluster::start_networked(binary, 3, &[]).expect("start three hosts");
    cluster
        .add_agent("k3s-worker01", &[])
        .expect("start an agent");
    match tokio::time::timeout(SCENARIO, scenario(&cluster)).await {
        Ok(Ok(())) => {}
        // Panics while the cluster lives, so its drop prints every log.
        Ok(Err(error)) => panic!("{error:#}"),
        Err(_) => panic!("the scenario did not finish within {SCENARIO:?}"),
    }
}

async fn scenario(cluster: &ProcessCluster) -> anyhow::Result<()> {
    cluster.wait_ready(READY).await?;
    let agent = cluster.host_addr("k3s-worker01")?;
    let agent = AdminClient::new(format!("http://{agent}:7700"), None);
    wait_until(READY, "the agent's health probe on its own host", || {
        agent.healthz()
    })
    .await?;
    let old = cluster.wait_leader(LEADER, &[]).await?;
    let majority: Vec<u64> = cluster.ids().into_iter().filter(|&id| id != old).collect();
    let mut acked = AckedWrites::new();
    acked
        .put(&cluster.api(majority[0]), "before", "all three", WRITE)
        .await?;

    let old_host = cluster.voter_host(old);
    cluster.isolate(&old_host)?;
    let cut = Instant::now();
    let new = majority_leader(cluster, &majority, old).await?;
    eprintln!(
        "node {new} leads the majority {:.1?} after {old_host} (node {old}) was isolated",
        cut.elapsed()
    );
    acked
        .put(&cluster.api(new), "during", "majority side", WRITE)
        .await
        .context("the majority accepts writes")?;

    // Still reachable from the test, but it can reach no quorum.
    let refused = cluster.api(old).put("minority", "never acknowledged").await;
    ensure!(
        refused.is_err(),
        "the isolated old leader acknowledged a write: {refused:?}"
    );
    let view = cluster.api(old).cluster().await;
    eprintln!("isolated node {old}'s view: {view:?}; its write: {refused:?}");

    cluster.heal()?;
    let healed = Instant::now();
    let leader = cluster.wait_leader(LEADER, &[]).await?;
    eprintln!(
        "all three agree on leader {leader} {:.1?} after the heal",
        healed.elapsed()
    );
    cluster
        .wait_applied(old, acked.max_index(), CATCH_UP)
        .await?;
    for id in cluster.ids() {
        let api = cluster.api(id);
        acked
            .verify(&api, CATCH_UP)
            .await
            .with_context(|| format!("node {id} after the heal"))?;
        let lost = api.get("minority").await?;
        ensure!(
            lost.is_none(),
            "node {id} holds the write refused by the minority: {lost:?}"
        );
    }
    cluster.check_no_crash()
}

/// Waits until every node of `majority` names the same leader, one of them
/// (so not `old`, which is cut off from both).
async fn majority_leader(
    cluster: &ProcessCluster,
    majority: &[u64],
    old: u64,
) -> anyhow::Result<u64> {
    let why = format!("nodes {majority:?} to agree on a leader other than node {old}");
    wait_until(LEADER, &why, || async {
        let mut views = Vec::new();
        for &id in majority {
            views.push(cluster.leader(id).await);
        }
        match views[0] {
            Some(leader) if majority.contains(&leader) && views.iter().all(|v| *v == views[0]) => {
                Check::Done(leader)
            }
            _ => Check::Retry(format!("leaders named by {majority:?}: {views:?}")),
        }
    })
    .await
}
