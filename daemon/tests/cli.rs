//! The real binary refuses bad configuration before binding anything, with
//! exit status 64 and one line naming the problem.

use std::process::Command;

fn daemon(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .arg("daemon")
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .env_remove("CORTEX_ADMIN_TOKEN")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_64_with_one_line_reason() {
    let peers = "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3";
    let cases: [(&[&str], &str); 5] = [
        (
            &["--node-id", "0", "--peers", peers],
            "--node-id must be 1 or more",
        ),
        (
            &["--node-id", "4", "--peers", peers],
            "--peers must include this node",
        ),
        (
            &["--node-id", "1", "--peers", "1=127.0.0.1"],
            "missing ':PORT'",
        ),
        (
            &["--node-id", "1", "--peers", peers, "--listen", "nonsense"],
            "--listen",
        ),
        (
            &["--node-id", "1", "--peers", peers, "--snapshot-every", "1"],
            "--snapshot-every",
        ),
    ];
    for (args, reason) in cases {
        let (code, stderr) = daemon(args);
        assert_eq!(code, Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn unusable_token_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "short").unwrap();
    let (code, stderr) = daemon(&[
        "--node-id",
        "1",
        "--peers",
        "1=127.0.0.1:1",
        "--admin-token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("shorter than"), "{stderr}");
}
