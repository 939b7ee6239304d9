//! The real binary refuses bad configuration before binding anything, with
//! exit status 64 and one line naming the problem; `cortex audit` gates on
//! findings that are not accepted.

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

#[test]
fn audit_gates_on_findings_not_accepted() {
    let cortex = env!("CARGO_BIN_EXE_cortex");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // The demo manifests carry deliberate high and critical flaws.
    let output = Command::new(cortex)
        .args(["audit", "examples/manifests"])
        .current_dir(repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("PSS-PRIVILEGED"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not accepted are high or worse"),
        "{stderr}"
    );

    // The same kind of flaw, accepted with a reason, passes the gate.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("voter.yaml"),
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: voter
  namespace: cortex
  annotations:
    audit.cortex.dev/accept-PSS-HOST-PATH: "Raft data must survive pod restarts"
spec:
  template:
    spec:
      securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
      volumes: [{ name: data, hostPath: { path: /var/lib/cortex } }]
      containers:
        - name: cortex
          image: cortex
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: { drop: [ALL] }
          resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { cpu: 500m, memory: 512Mi } }
"#,
    )
    .unwrap();
    let output = Command::new(cortex)
        .args(["audit", "--fail-on", "high"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("[accepted: Raft data must survive pod restarts]"),
        "{stdout}"
    );
    let output = Command::new(cortex)
        .args(["audit", "--json", "--fail-on", "low"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "medium findings fail at low");
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["accepted"].is_string()));
}

#[test]
fn a_voter_not_in_voter_nodes_is_told_to_run_as_an_agent() {
    let (code, stderr) = daemon(&[
        "--voter-nodes",
        "k3s-master01,k3s-master02,k3s-master03",
        "--node-name",
        "k3s-worker01",
    ]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("run it with --role agent"), "{stderr}");
}
