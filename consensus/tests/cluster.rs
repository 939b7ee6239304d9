//! Three-node clusters in one process over real gRPC, with links cut and
//! delayed by the test: elections, failover, partitions, catch-up by
//! snapshot, restarts and membership changes.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_consensus::node::Tuning;
use cortex_consensus::{Command, ConsensusError, NodeAddr};
use support::{wait_until, TestCluster};

fn put(key: &str, value: &str) -> Command {
    Command::Put {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// Writes through `via` and records what was acknowledged.
async fn write_all(
    cluster: &TestCluster,
    via: u64,
    range: std::ops::Range<u32>,
    acked: &mut BTreeMap<String, String>,
) {
    let handle = cluster.handle(via);
    for i in range {
        let (key, value) = (format!("key-{i}"), format!("value-{i}"));
        handle
            .write(put(&key, &value))
            .await
            .expect("write acknowledged");
        acked.insert(key, value);
    }
}

async fn assert_all_readable(cluster: &TestCluster, via: u64, acked: &BTreeMap<String, String>) {
    let handle = cluster.handle(via);
    for (key, value) in acked {
        let read = handle.read_key(key).await.expect("read");
        assert_eq!(
            read.as_deref(),
            Some(value.as_str()),
            "acknowledged write {key} lost"
        );
    }
}

fn others(cluster: &TestCluster, not: u64) -> Vec<u64> {
    cluster
        .nodes
        .keys()
        .copied()
        .filter(|id| *id != not)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_form_a_cluster_and_followers_forward_writes() {
    let cluster = TestCluster::start(3, Tuning::default()).await;
    let leader = cluster.wait_leader(&[]).await;
    let follower = others(&cluster, leader)[0];

    let written = cluster.handle(follower).write(put("a", "1")).await.unwrap();
    for id in 1..=3 {
        cluster.wait_applied(id, written.index).await;
        let local = cluster
            .handle(id)
            .state()
            .read(|m| m.state.get("a").map(str::to_string));
        assert_eq!(local.as_deref(), Some("1"), "node {id} applied the write");
    }
    let status = cluster.handle(follower).cluster_status().await;
    assert_eq!(status.leader, Some(leader));
    assert_eq!(status.nodes.len(), 3);
    assert!(status.nodes.iter().all(|n| n.reachable));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_and_no_acknowledged_write_is_lost() {
    let mut cluster = TestCluster::start(3, Tuning::default()).await;
    let mut acked = BTreeMap::new();
    let leader = cluster.wait_leader(&[]).await;
    let survivor = others(&cluster, leader)[0];
    write_all(&cluster, survivor, 0..50, &mut acked).await;

    cluster.stop(leader).await;
    let new_leader = cluster.wait_leader(&[leader]).await;
    assert_ne!(new_leader, leader);
    write_all(&cluster, survivor, 50..100, &mut acked).await;
    assert_all_readable(&cluster, survivor, &acked).await;

    // The old leader comes back on its data, catches up, and can then carry
    // the quorum alone with one other node.
    cluster.restart(leader).await;
    let last = cluster
        .handle(survivor)
        .write(Command::Noop)
        .await
        .unwrap()
        .index;
    cluster.wait_applied(leader, last).await;
    let third = others(&cluster, leader)
        .into_iter()
        .find(|id| *id != survivor)
        .unwrap();
    cluster.stop(third).await;
    assert_all_readable(&cluster, leader, &acked).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_leader_cannot_commit_and_majority_continues() {
    let cluster = TestCluster::start(3, Tuning::default()).await;
    let mut acked = BTreeMap::new();
    let old_leader = cluster.wait_leader(&[]).await;
    write_all(&cluster, old_leader, 0..10, &mut acked).await;

    cluster
        .faults
        .isolate(old_leader, others(&cluster, old_leader));
    let majority = others(&cluster, old_leader);
    wait_until(
        Duration::from_secs(15),
        "the majority to elect a leader",
        || async {
            let metrics = cluster
                .handle(majority[0])
                .raft()
                .metrics()
                .borrow()
                .clone();
            metrics.current_leader.filter(|l| *l != old_leader)
        },
    )
    .await;
    write_all(&cluster, majority[1], 10..30, &mut acked).await;

    // The isolated node cannot commit anything: its write times out.
    let minority_write = cluster.handle(old_leader).write(put("minority", "x")).await;
    assert!(
        matches!(minority_write, Err(ConsensusError::Unavailable(_))),
        "a minority must not acknowledge writes, got {minority_write:?}"
    );

    cluster.faults.heal();
    cluster.wait_leader(&[]).await;
    assert_all_readable(&cluster, old_leader, &acked).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_succeed_over_slow_links() {
    let cluster = TestCluster::start(3, Tuning::default()).await;
    let leader = cluster.wait_leader(&[]).await;
    for other in others(&cluster, leader) {
        cluster
            .faults
            .delay(leader, other, Duration::from_millis(30));
        cluster
            .faults
            .delay(other, leader, Duration::from_millis(30));
    }
    let mut acked = BTreeMap::new();
    write_all(&cluster, leader, 0..20, &mut acked).await;
    assert_all_readable(&cluster, leader, &acked).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_follower_catches_up_from_a_snapshot_after_compaction() {
    let tuning = Tuning {
        snapshot_every: 20,
        keep_after_snapshot: 5,
        ..Tuning::default()
    };
    let cluster = TestCluster::start(3, tuning).await;
    let leader = cluster.wait_leader(&[]).await;
    let lagging = others(&cluster, leader)[0];
    cluster.faults.isolate(lagging, others(&cluster, lagging));

    let mut acked = BTreeMap::new();
    write_all(&cluster, leader, 0..200, &mut acked).await;
    let leader_metrics = cluster.handle(leader).raft().metrics().borrow().clone();
    assert!(
        leader_metrics.purged.is_some(),
        "the leader compacted its log"
    );

    cluster.faults.heal();
    let last = cluster
        .handle(leader)
        .write(Command::Noop)
        .await
        .unwrap()
        .index;
    cluster.wait_applied(lagging, last).await;
    let snapshot = cluster.handle(lagging).raft().metrics().borrow().snapshot;
    assert!(snapshot.is_some(), "the follower installed a snapshot");
    let copied = cluster.handle(lagging).state().read(|m| m.state.kv_len());
    assert_eq!(copied, 200);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restart_keeps_state() {
    let mut cluster = TestCluster::start(
        3,
        Tuning {
            snapshot_every: 30,
            ..Tuning::default()
        },
    )
    .await;
    let mut acked = BTreeMap::new();
    let leader = cluster.wait_leader(&[]).await;
    write_all(&cluster, leader, 0..100, &mut acked).await;
    for id in 1..=3 {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    let leader = cluster.wait_leader(&[]).await;
    assert_all_readable(&cluster, leader, &acked).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_can_be_added_and_removed() {
    let mut cluster = TestCluster::start(3, Tuning::default()).await;
    let leader = cluster.wait_leader(&[]).await;
    let follower = others(&cluster, leader)[0];

    // A fourth node, started with the cluster's peer list plus itself, joins
    // without founding a cluster of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = NodeAddr {
        raft_addr: listener.local_addr().unwrap().to_string(),
    };
    cluster.peers.insert(4, addr.clone());
    cluster.restart_with_listener(4, listener).await;
    cluster.handle(follower).add_voter(4, addr).await.unwrap();
    let (_, voters) = cluster.handle(leader).members();
    assert_eq!(voters.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let written = cluster.handle(4).write(put("from-4", "yes")).await.unwrap();
    cluster.wait_applied(4, written.index).await;

    cluster.handle(4).remove_voter(follower).await.unwrap();
    let (_, voters) = cluster.handle(leader).members();
    assert!(!voters.contains(&follower));
    assert_eq!(voters.len(), 3);

    // Removing an unknown voter is refused with a clear error.
    let refused = cluster.handle(leader).remove_voter(99).await;
    assert!(
        matches!(refused, Err(ConsensusError::Membership(_))),
        "{refused:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_grpc_is_refused_and_the_node_keeps_serving() {
    use cortex_consensus::transport::proto::cluster_client::ClusterClient;
    use cortex_consensus::transport::proto::raft_internal_client::RaftInternalClient;
    use cortex_consensus::transport::proto::Payload;

    let cluster = TestCluster::start(3, Tuning::default()).await;
    let leader = cluster.wait_leader(&[]).await;
    let addr = format!("http://{}", cluster.peers[&leader].raft_addr);
    let channel = tonic::transport::Endpoint::from_shared(addr)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let garbage = || Payload {
        data: vec![0xff; 64],
    };
    let mut raft = RaftInternalClient::new(channel.clone());
    for status in [
        raft.append_entries(garbage()).await.unwrap_err(),
        raft.vote(garbage()).await.unwrap_err(),
        raft.install_snapshot(garbage()).await.unwrap_err(),
        ClusterClient::new(channel)
            .call(garbage())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains("malformed"), "{status:?}");
    }
    // Still the same leader, still committing.
    cluster
        .handle(leader)
        .write(put("after", "garbage"))
        .await
        .unwrap();
    assert_eq!(cluster.wait_leader(&[]).await, leader);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_log_entries_and_each_gets_its_own_answer() {
    let cluster = TestCluster::start(3, Tuning::default()).await;
    let leader = cluster.wait_leader(&[]).await;
    let follower = others(&cluster, leader)[0];
    let before = cluster
        .handle(leader)
        .raft()
        .metrics()
        .borrow()
        .last_log_index;

    // 300 writes at once, through the leader and a follower; every tenth
    // rewrites a key another write set, so answers must not be mixed up.
    let writes = (0..300u32).map(|i| {
        let handle = cluster.handle(if i % 2 == 0 { leader } else { follower });
        async move {
            let key = format!("k{}", i % 290);
            let written = handle.write(put(&key, &format!("v{i}"))).await;
            (i, written)
        }
    });
    let results = futures::future::join_all(writes).await;
    let mut indexes = std::collections::BTreeSet::new();
    for (i, result) in &results {
        let written = result.as_ref().unwrap_or_else(|e| panic!("write {i}: {e}"));
        indexes.insert(written.index);
    }
    let after = cluster
        .handle(leader)
        .raft()
        .metrics()
        .borrow()
        .last_log_index;
    let entries = after.unwrap_or(0) - before.unwrap_or(0);
    assert!(
        (indexes.len() as u64) < 300 && entries < 300,
        "300 concurrent writes took {entries} entries ({} distinct indexes): no batching",
        indexes.len()
    );
    // Exactly one write per rewritten key saw the other's value as previous.
    let mut replaced = 0;
    for (_, result) in results {
        if let cortex_consensus::Response::Put { previous: Some(_) } = result.unwrap().response {
            replaced += 1;
        }
    }
    assert_eq!(
        replaced, 10,
        "each of the ten rewritten keys replaced one value"
    );
    cluster.shutdown().await;
}
