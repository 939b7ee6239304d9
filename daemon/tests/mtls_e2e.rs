//! End-to-end: the real `cortex` binary with mutual TLS between daemons.
//! The chaos harness gives every daemon a certificate from the cluster's CA
//! (made with `cortex cert`); an agent holding one from another CA — which
//! even trusts the cluster's CA — and an agent talking plaintext are
//! refused: they never register and cannot report, while a member agent
//! registers at once.

use std::path::Path;
use std::time::{Duration, Instant};

use cortex_chaos::ProcessCluster;
use serde_json::Value;

/// The agents the voter knows, by name, with their status.
async fn executors(cluster: &ProcessCluster) -> Vec<(String, String)> {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/cluster", cluster.api_url(1)))
        .bearer_auth(cluster.token())
        .send()
        .await
        .expect("the voter answers");
    let body: Value = response.json().await.expect("JSON");
    body["executors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
            (text("name"), text("status"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_daemons_with_a_certificate_from_the_cluster_ca_get_in() {
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let mut cluster = ProcessCluster::start_with_args(binary, 1, &["--no-execute"]).expect("start");
    cluster
        .wait_ready(Duration::from_secs(60))
        .await
        .expect("ready");
    let outsider = cluster
        .outsider_tls("outsider-tls")
        .expect("outsider certificate");
    let outsider = outsider.to_str().unwrap().to_string();
    cluster
        .add_agent("outsider", &["--tls-dir", &outsider])
        .expect("outsider starts");
    cluster
        .add_agent("plaintext", &["--insecure-plaintext"])
        .expect("plaintext agent starts");
    cluster.add_agent("member", &[]).expect("member starts");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let known = executors(&cluster).await;
        if known
            .iter()
            .any(|(name, status)| name == "member" && status == "alive")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the member agent never registered: {known:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The refused agents have had as long as the member, and more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let known = executors(&cluster).await;
    for refused in ["outsider", "plaintext"] {
        assert!(
            known.iter().all(|(name, _)| name != refused),
            "{refused} got in: {known:?}\n{}",
            cluster.agent_log_tail(refused, 20)
        );
    }
    // The refused agent says why, for whoever reads its log.
    let log = cluster.agent_log_tail("outsider", 20);
    assert!(log.contains("cannot reach any voter"), "{log}");
    eprintln!("outsider's log:\n{log}");
    cluster.check_no_crash().expect("the voter kept serving");
}
