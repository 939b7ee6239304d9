//! End-to-end: real `cortex` daemons, started as processes by `cortex-chaos`.
//!
//! Each test starts its own three-node cluster on free loopback ports in a
//! temporary directory, talks to it only through the admin HTTP API and injects
//! faults at the process level (SIGKILL, restart on the same disk, restart on
//! an empty disk). Every write the cluster acknowledged is kept in an
//! [`AckedWrites`] oracle and must stay readable, with its value, through any
//! node. Nothing sleeps for a fixed time: every wait polls with a deadline, and
//! a failing test prints the tail of every node's log.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};
use cortex_chaos::{wait_until, AckedWrites, AdminClient, ProcessCluster, Role, StatusCode};

/// Until every started daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);
/// Until the live nodes agree on a (new) leader.
const LEADER: Duration = Duration::from_secs(30);
/// Until one write is acknowledged, retries included.
const WRITE: Duration = Duration::from_secs(30);
/// Until every acknowledged write was read back.
const READ_ALL: Duration = Duration::from_secs(60);
/// Until a restarted or wiped node has applied everything acknowledged.
const CATCH_UP: Duration = Duration::from_secs(90);
/// A whole scenario, so a hang anywhere still ends the test.
const SCENARIO: Duration = Duration::from_secs(300);

fn cortex() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cortex"))
}

/// Runs `scenario` under the [`SCENARIO`] deadline. On failure it panics while
/// the caller still owns the cluster, so the cluster's drop prints every log.
async fn run(scenario: impl Future<Output = anyhow::Result<()>>) {
    match tokio::time::timeout(SCENARIO, scenario).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{error:#}"),
        Err(_) => panic!("the scenario did not finish within {SCENARIO:?}"),
    }
}

/// Writes `count` new keys `<prefix>-NNN`, spreading them over `via` so that
/// followers forward writes too; each is retried until acknowledged.
async fn write_keys(
    cluster: &ProcessCluster,
    acked: &mut AckedWrites,
    via: &[u64],
    prefix: &str,
    count: usize,
) -> anyhow::Result<()> {
    for i in 0..count {
        let node = via[i % via.len()];
        let (key, value) = (format!("{prefix}-{i:03}"), format!("{prefix}-value-{i}"));
        acked
            .put(&cluster.api(node), &key, &value, WRITE)
            .await
            .with_context(|| format!("writing {key} through node {node}"))?;
    }
    Ok(())
}

/// The live nodes other than `excluded`.
fn live_except(cluster: &ProcessCluster, excluded: u64) -> Vec<u64> {
    cluster
        .live_ids()
        .into_iter()
        .filter(|&id| id != excluded)
        .collect()
}

/// The node to kill so that `needed` becomes necessary for a quorum: the
/// current leader (forcing an election too) unless `needed` leads, in which
/// case any other live node.
async fn victim_sparing(cluster: &ProcessCluster, needed: u64) -> anyhow::Result<u64> {
    let leader = cluster.wait_leader(LEADER, &[]).await?;
    if leader != needed {
        return Ok(leader);
    }
    live_except(cluster, needed)
        .first()
        .copied()
        .context("no other live node to kill")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_form_a_cluster_and_write_through_follower() {
    let cluster = ProcessCluster::start(cortex(), 3).expect("start three daemons");
    run(async {
        cluster.wait_ready(READY).await?;
        let leader = cluster.wait_leader(LEADER, &[]).await?;

        let mut self_declared_leaders = Vec::new();
        for id in cluster.ids() {
            cluster
                .api(id)
                .healthz()
                .await
                .with_context(|| format!("healthz of node {id}"))?;
            let status = cluster.api(id).cluster().await?;
            ensure!(
                status.node_id == id,
                "node {id} answered as node {}",
                status.node_id
            );
            ensure!(
                status.leader == Some(leader),
                "node {id} names {:?}",
                status.leader
            );
            ensure!(
                status.nodes.len() == 3,
                "node {id} lists {:?}",
                status.nodes
            );
            let mut voters = status.membership.voters.clone();
            voters.sort_unstable();
            ensure!(voters == [1, 2, 3], "node {id}: {:?}", status.membership);
            if status.node(id).map(|me| me.role) == Some(Role::Leader) {
                self_declared_leaders.push(id);
            }
        }
        ensure!(
            self_declared_leaders == [leader],
            "leaders by own account: {self_declared_leaders:?}"
        );

        let followers = live_except(&cluster, leader);
        let (writer, reader) = (followers[0], followers[1]);
        let put = cluster.api(writer).put("greeting", "hello").await?;
        ensure!(put.index > 0, "a committed write has a log index: {put:?}");
        ensure!(put.previous.is_none(), "greeting was new: {put:?}");
        let read = cluster.api(reader).get("greeting").await?;
        ensure!(
            read.as_deref() == Some("hello"),
            "node {reader} read {read:?}"
        );
        let missing = cluster.api(reader).get("never-written").await?;
        ensure!(missing.is_none(), "never-written reads {missing:?}");

        let anonymous = cluster.api(writer).anonymous().cluster().await;
        let status = anonymous.err().and_then(|error| error.status());
        ensure!(
            status == Some(StatusCode::UNAUTHORIZED),
            "no token: {status:?}"
        );
        let wrong = AdminClient::new(cluster.api_url(writer), Some("0".repeat(32)));
        let status = wrong
            .put("greeting", "evil")
            .await
            .err()
            .and_then(|error| error.status());
        ensure!(
            status == Some(StatusCode::UNAUTHORIZED),
            "wrong token: {status:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_writes_continue_and_restarted_node_catches_up() {
    let cluster = ProcessCluster::start(cortex(), 3).expect("start three daemons");
    run(async {
        cluster.wait_ready(READY).await?;
        let old_leader = cluster.wait_leader(LEADER, &[]).await?;
        let mut acked = AckedWrites::new();
        write_keys(&cluster, &mut acked, &cluster.ids(), "before", 50).await?;

        cluster.kill(old_leader)?;
        let new_leader = cluster.wait_leader(LEADER, &[old_leader]).await?;
        let survivors = live_except(&cluster, old_leader);
        write_keys(&cluster, &mut acked, &survivors, "after", 50).await?;
        ensure!(acked.len() == 100, "{} writes acknowledged", acked.len());
        acked
            .verify(&cluster.api(survivors[0]), READ_ALL)
            .await
            .context("after the kill")?;

        cluster.restart(old_leader)?;
        let leader_api = cluster.api(new_leader);
        let leader_applied = wait_until(LEADER, "the leader's last_applied", || async {
            leader_api.cluster().await.map(|status| status.last_applied)
        })
        .await?;
        let target = leader_applied.max(acked.max_index());
        cluster.wait_applied(old_leader, target, CATCH_UP).await?;

        // Two nodes left, one of them the restarted one: no quorum without it.
        let victim = victim_sparing(&cluster, old_leader).await?;
        cluster.kill(victim)?;
        cluster.wait_leader(LEADER, &[victim]).await?;
        let restarted = cluster.api(old_leader);
        acked
            .verify(&restarted, READ_ALL)
            .await
            .context("through the restarted node")?;
        write_keys(&cluster, &mut acked, &[old_leader], "two-left", 10).await?;
        acked
            .verify(&restarted, READ_ALL)
            .await
            .context("after writes on two nodes")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_node_rejoins_via_snapshot() {
    let cluster = ProcessCluster::start_with_args(cortex(), 3, &["--snapshot-every", "20"])
        .expect("start three daemons");
    run(async {
        cluster.wait_ready(READY).await?;
        let leader = cluster.wait_leader(LEADER, &[]).await?;
        let mut acked = AckedWrites::new();
        write_keys(&cluster, &mut acked, &cluster.ids(), "key", 200).await?;

        let wiped = *live_except(&cluster, leader).last().context("a follower")?;
        cluster.wipe(wiped)?;
        cluster.restart(wiped)?;
        cluster
            .wait_applied(wiped, acked.max_index(), CATCH_UP)
            .await?;

        let victim = victim_sparing(&cluster, wiped).await?;
        cluster.kill(victim)?;
        cluster.wait_leader(LEADER, &[victim]).await?;
        let rejoined = cluster.api(wiped);
        acked
            .verify(&rejoined, READ_ALL)
            .await
            .context("through the wiped node")
    })
    .await;
}
