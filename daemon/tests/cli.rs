//! The real binary refuses bad configuration before binding anything, with
//! exit status 64 and one line naming the problem; `cortex audit` gates on
//! findings that are not accepted.

use std::process::Command;

fn daemon(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["daemon", "--insecure-plaintext"])
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
fn inter_node_security_is_never_plaintext_by_accident() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cortex"))
            .args(["daemon", "--node-id", "1", "--peers", "1=127.0.0.1:1"])
            .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
            .args(extra)
            .env_remove("CORTEX_INSECURE_PLAINTEXT")
            .env_remove("CORTEX_TLS_DIR")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("--tls-dir") && stderr.contains("--insecure-plaintext"),
        "{stderr}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, stderr) = run(&["--tls-dir", empty.to_str().unwrap()]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("ca.crt"),
        "names the missing file: {stderr}"
    );

    // A certificate from another CA is refused at start, naming the file.
    let cert = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cortex"))
            .arg("cert")
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
    };
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    cert(&["ca", "--out", &path("ca")]);
    cert(&["ca", "--out", &path("other-ca")]);
    cert(&["node", "--ca", &path("other-ca"), "--out", &path("node")]);
    std::fs::copy(dir.path().join("ca/ca.crt"), dir.path().join("node/ca.crt")).unwrap();
    let (code, stderr) = run(&["--tls-dir", &path("node")]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("tls.crt") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
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

#[test]
fn an_agent_that_hears_no_voter_is_alive_but_not_ready() {
    let port = cortex_chaos::ports::free_port().unwrap();
    let nowhere = cortex_chaos::ports::free_port().unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["daemon", "--role", "agent", "--node-name", "lonely"])
        .arg("--insecure-plaintext")
        .args(["--voters", &format!("1=127.0.0.1:{nowhere}")])
        .args(["--api-addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let probe = |path: &str| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        use std::io::{Read, Write};
        write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let health = loop {
        if let Some(answer) = probe("/healthz") {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "agent never served /healthz"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let ready = probe("/readyz").unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(health.starts_with("HTTP/1.0 200"), "{health}");
    assert!(ready.starts_with("HTTP/1.0 503"), "{ready}");
    assert!(ready.contains("not in touch with the voters"), "{ready}");
}
