//! Smoke test of the benchmark tool: `cortex-bench --quick` against the
//! debug `cortex` binary, a real three-member etcd and a real Redis. It
//! proves every workload still runs end to end and every ledger still adds
//! up; its figures mean nothing (debug build, tiny counts, other tests
//! running). Skipped, loudly, when etcd or Redis is not installed, unless
//! `CI` is set (`make test` installs both).

use std::path::PathBuf;
use std::process::Command;

/// The debug `cortex` binary, built beside this test by the workspace build.
fn cortex_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/quick-<hash> -> target/debug/cortex
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .join("cortex")
}

fn installed(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok()
}

#[test]
fn every_workload_runs_and_every_ledger_adds_up() {
    let missing: Vec<&str> = ["etcd", "redis-server"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{missing:?} not installed (make test installs them)"
        );
        eprintln!("SKIPPED: {missing:?} not installed (make test installs them)");
        return;
    }
    let cortex = cortex_bin();
    if !cortex.is_file() {
        // `cargo test -p cortex-bench` alone does not build the daemon.
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "cortex-daemon", "--bin", "cortex"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building the cortex binary failed");
    }
    let out = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cortex-bench"))
        .arg("--quick")
        .arg("--out")
        .arg(out.path())
        .arg("--cortex-bin")
        .arg(&cortex)
        .output()
        .expect("run cortex-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cortex-bench failed:\n{stderr}");
    let results: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("results.json")).expect("results.json written"),
    )
    .expect("results.json is JSON");
    for workload in [
        "reserve",
        "write",
        "failover",
        "physical",
        "dispatch",
        "footprint",
    ] {
        let value = &results[workload];
        let present = value.as_array().map_or(!value.is_null(), |a| !a.is_empty());
        assert!(present, "no {workload} results: {results}");
    }
    assert_eq!(results["errors"], serde_json::json!([]), "{stderr}");
    let markdown = std::fs::read_to_string(out.path().join("results.md")).expect("results.md");
    assert!(markdown.contains("## Targets"), "{markdown}");
}
