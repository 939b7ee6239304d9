//! Process-level faults, checked against a stand-in daemon (a shell script
//! that logs its arguments and sleeps), so no real `cortex` is needed.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::*;

/// Writes an executable script with `body` and returns its path.
fn script(dir: &TempDir, body: &str) -> PathBuf {
    let path = dir.path().join("fake-cortex");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn pid_of(cluster: &ProcessCluster, id: u64) -> i32 {
    let pid = cluster.process(id).pid().expect("node is running");
    i32::try_from(pid).expect("pid fits")
}

fn process_exists(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None) != Err(Errno::ESRCH)
}

#[test]
fn faults_restart_and_wipe_act_on_the_right_process() {
    let bin_dir = TempDir::new().expect("temp dir");
    let binary = script(
        &bin_dir,
        "echo \"args: $*\"\necho \"token: $CORTEX_ADMIN_TOKEN\"\nexec sleep 600",
    );
    let cluster =
        ProcessCluster::start_with_args(&binary, 3, &["--snapshot-every", "20"]).expect("start");
    assert_eq!(cluster.ids(), vec![1, 2, 3]);
    assert_eq!(cluster.token().len(), 32);
    assert!(cluster.token().bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(cluster.api_url(2).starts_with("http://127.0.0.1:"));

    cluster.pause(2).expect("pause");
    assert!(cluster.is_running(2) && cluster.is_paused(2));
    assert_eq!(cluster.live_ids(), vec![1, 3]);
    cluster.resume(2).expect("resume");
    assert_eq!(cluster.live_ids(), vec![1, 2, 3]);

    let first = pid_of(&cluster, 1);
    cluster.kill(1).expect("kill");
    assert!(!cluster.is_running(1) && !process_exists(first));
    assert!(
        cluster.kill(1).is_err(),
        "killing a stopped node is a test bug"
    );
    cluster.restart(1).expect("restart");
    assert!(
        cluster.restart(1).is_err(),
        "restarting a running node is a test bug"
    );
    cluster.check_no_crash().expect("nothing crashed");

    let data = cluster.dir().join("node-3").join("data");
    std::fs::write(data.join("state"), "x").expect("write state");
    cluster.wipe(3).expect("wipe");
    assert!(!cluster.is_running(3));
    assert_eq!(
        std::fs::read_dir(&data).expect("data dir exists").count(),
        0
    );
    cluster.restart(3).expect("restart after wipe");

    // What the second run of node 1 printed, once it has printed it all.
    let log = wait_for_log(&cluster, 1, "start #2");
    let peers = format!(
        "--peers 1={},2={},3={}",
        cluster.raft_addr(1),
        cluster.raft_addr(2),
        cluster.raft_addr(3)
    );
    assert!(log.contains(&peers), "{log}");
    assert!(log.contains("--snapshot-every 20"), "{log}");
    assert!(
        log.contains(&format!("token: {}", cluster.token())),
        "{log}"
    );

    cluster.pause(2).expect("pause before drop");
    let pids: Vec<i32> = cluster
        .ids()
        .iter()
        .map(|&id| pid_of(&cluster, id))
        .collect();
    drop(cluster);
    for pid in pids {
        assert!(!process_exists(pid), "process {pid} survived the cluster");
    }
}

#[tokio::test]
async fn a_daemon_that_exits_fails_the_wait_at_once_with_its_log() {
    let bin_dir = TempDir::new().expect("temp dir");
    let binary = script(&bin_dir, "echo 'bad flag --frobnicate'\nexit 64");
    let cluster = ProcessCluster::start(&binary, 1).expect("start");
    let error = cluster
        .wait_ready(Duration::from_secs(30))
        .await
        .expect_err("the daemon exited");
    let message = format!("{error:#}");
    assert!(message.contains("node 1 exited by itself"), "{message}");
    assert!(message.contains("bad flag --frobnicate"), "{message}");
}

/// Polls node `id`'s log until the stand-in printed its token after `marker`,
/// and returns what follows the marker.
fn wait_for_log(cluster: &ProcessCluster, id: u64, marker: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = cluster.log_tail(id, 20);
        if let Some((_, after)) = log.split_once(marker) {
            if after.contains("token: ") {
                return after.to_owned();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{marker:?} run never logged: {log}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
