//! The README's first command: `cortex dev --demo` brings up three voters
//! and four agents, runs the seed's plan on the agents (with real discovery
//! and audit work) to its report, drawing the live view from the run's
//! event stream, and stops cleanly on Ctrl-C (SIGINT).

use cortex_chaos::ports::free_consecutive_ports;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
fn dev_demo_runs_the_seed_plan_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    // Three voters and four agents take API ports; the voters Raft ports.
    let (api, raft) = (
        free_consecutive_ports(7).unwrap(),
        free_consecutive_ports(3).unwrap(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args([
            "dev",
            "--demo",
            "--api-port",
            &api.to_string(),
            "--raft-port",
            &raft.to_string(),
        ])
        .args(["--data-dir", dir.path().join("dev").to_str().unwrap()])
        .env_remove("CORTEX_ADMIN_TOKEN")
        // As `make dev` does: the demo's discovery works on the repository.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !seen.iter().any(|l: &String| l.starts_with("Try:")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no demo report within 120 s; output so far:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    let output = seen.join("\n");
    assert!(output.contains("Execution Report"), "{output}");
    assert!(output.contains("- Status: completed"), "{output}");
    assert!(output.contains("28 of 28 tasks completed"), "{output}");
    assert!(output.contains("3 voters and 4 agents"), "{output}");
    // The work ran on the agents, not on the voters.
    assert!(output.contains("k3s-worker0"), "{output}");
    // The live view drew a bar per master and the workers per node.
    assert!(
        output.contains("security-master      [████████████████████] 100%"),
        "{output}"
    );
    assert!(output.contains("k3s-worker01   completed "), "{output}");
    assert!(dir.path().join("dev/admin-token").exists());

    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done
        .recv_timeout(Duration::from_secs(20))
        .expect("cortex dev stops within 20 s of Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
}
