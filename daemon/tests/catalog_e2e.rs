//! End-to-end: the catalog's GraphQL on three real `cortex` processes.
//!
//! Subscriptions over a real websocket (`graphql-transport-ws`) see a
//! mutation and an asset a discovery worker printed, and a client that
//! reconnects to another voter with its last cursor gets what it missed.
//! Assets written through one voter are read on the others, survive a
//! restart of the whole cluster from its snapshots and logs, and the CLI
//! reads them; abusive requests are refused with a code. A node serves a
//! bounded number of websockets and closes those that never authenticate.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use cortex_chaos::{wait_until, ProcessCluster};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Until every daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);
/// Until a change shows on another voter, or a subscription delivers it.
const SEEN: Duration = Duration::from_secs(30);

async fn start(extra_args: &[&str]) -> ProcessCluster {
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let cluster = ProcessCluster::start_with_args(binary, 3, extra_args).expect("start");
    cluster.wait_ready(READY).await.expect("cluster ready");
    cluster
}

/// Posts a GraphQL operation to node `id`; the status and the JSON answer.
async fn post(
    cluster: &ProcessCluster,
    id: u64,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", cluster.api_url(id)))
        .bearer_auth(cluster.token())
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the daemon answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts an operation that must succeed; its `data`.
async fn data(cluster: &ProcessCluster, id: u64, query: &str, variables: Value) -> Value {
    let (status, body) = post(cluster, id, query, variables).await;
    assert!(
        status == StatusCode::OK && body.get("errors").is_none(),
        "{status} {body}"
    );
    body["data"].clone()
}

async fn add(cluster: &ProcessCluster, id: u64, input: Value) {
    let query = "mutation($input: AddAssetInput!) { addAsset(input: $input) { id } }";
    data(cluster, id, query, json!({ "input": input })).await;
}

/// A `graphql-transport-ws` connection.
struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Opens a socket to node `id` without authenticating yet.
    async fn open(cluster: &ProcessCluster, id: u64) -> anyhow::Result<Socket> {
        let url = format!("ws://{}/graphql", cluster.api_addr(id));
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Socket(stream))
    }

    /// Connects to node `id` and sends `connection_init` with `token` in its payload.
    async fn connect(cluster: &ProcessCluster, id: u64, token: &str) -> anyhow::Result<Socket> {
        let mut socket = Socket::open(cluster, id).await?;
        socket
            .send(json!({ "type": "connection_init", "payload": { "token": token } }))
            .await?;
        match socket.receive().await? {
            message if message["type"] == "connection_ack" => Ok(socket),
            other => bail!("no connection_ack: {other}"),
        }
    }

    async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        Ok(self
            .0
            .send(Message::Text(message.to_string().into()))
            .await?)
    }

    /// The next protocol message (answering pings), or an error once closed.
    async fn receive(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = tokio::time::timeout(SEEN, self.0.next())
                .await
                .context("no message in time")?
                .context("the socket closed")??;
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text)?;
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await?;
                        continue;
                    }
                    return Ok(message);
                }
                Message::Close(frame) => bail!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) -> anyhow::Result<()> {
        let payload = json!({ "query": query, "variables": variables });
        self.send(json!({ "id": id, "type": "subscribe", "payload": payload }))
            .await
    }

    /// The payload of the next `next` message.
    async fn next_payload(&mut self) -> anyhow::Result<Value> {
        let message = self.receive().await?;
        match message["type"].as_str() {
            Some("next") => Ok(message["payload"].clone()),
            _ => bail!("expected a next message, got {message}"),
        }
    }
}

const ADDED: &str = "subscription($after: String) {
    assetAdded(after: $after) { cursor by asset { id discoveredBy } } }";

/// A plan whose only task prints one asset line, as a discovery worker does.
fn discovery_plan() -> String {
    let line = r#"{"asset": {"id": "repo/found", "name": "found", "type": "repository", "tags": ["discovered"]}}"#;
    let command = json!(["sh", "-c", format!("echo '{line}'")]);
    format!(
        "apiVersion: cortex.dev/v1\nkind: Run\nmetadata:\n  name: discovery\nspec:\n  \
         budget: {{ total: 50000, emergencyReserve: 1000 }}\n  masters:\n    \
         inventory: {{ personal: 10000, workers: 10000 }}\n  tasks:\n    \
         - {{ id: discover, master: inventory, worker: catalog, executor: {{ process: {{ command: {command} }} }} }}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_see_mutations_and_discoveries_and_resume_on_another_voter() {
    let cluster = start(&[]).await;
    let refused = Socket::connect(&cluster, 2, "not-the-token").await;
    assert!(refused.is_err(), "a socket without the token is refused");

    let cursor =
        data(&cluster, 2, "{ stats { cursor } }", json!({})).await["stats"]["cursor"].clone();
    let mut socket = Socket::connect(&cluster, 2, cluster.token()).await.unwrap();
    socket
        .subscribe("1", ADDED, json!({ "after": cursor }))
        .await
        .unwrap();
    add(
        &cluster,
        1,
        json!({ "id": "svc/api", "name": "api", "type": "service" }),
    )
    .await;
    let event = socket.next_payload().await.unwrap();
    assert_eq!(
        event["data"]["assetAdded"]["asset"]["id"], "svc/api",
        "{event}"
    );

    let submitted = reqwest::Client::new()
        .post(format!("{}/v1/runs", cluster.api_url(3)))
        .bearer_auth(cluster.token())
        .header("content-type", "application/yaml")
        .body(discovery_plan())
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::CREATED);
    let event = socket.next_payload().await.unwrap();
    let added = &event["data"]["assetAdded"];
    assert_eq!(added["asset"]["id"], "repo/found", "{event}");
    let by = added["asset"]["discoveredBy"].as_str().unwrap_or_default();
    assert!(
        by.contains("discover#1"),
        "discovered by the worker's attempt: {by}"
    );
    let last_seen = added["cursor"].clone();
    drop(socket);

    // Changes while the client is away, written through the third voter.
    for id in ["image/a", "image/b"] {
        add(
            &cluster,
            3,
            json!({ "id": id, "name": id, "type": "image" }),
        )
        .await;
    }
    let mut socket = Socket::connect(&cluster, 1, cluster.token()).await.unwrap();
    socket
        .subscribe("2", ADDED, json!({ "after": last_seen }))
        .await
        .unwrap();
    for expected in ["image/a", "image/b"] {
        let event = socket.next_payload().await.unwrap();
        assert_eq!(
            event["data"]["assetAdded"]["asset"]["id"], expected,
            "{event}"
        );
    }
}

/// `asset-{i}` declares `dependsOn asset-{i-1}`.
async fn chain(cluster: &ProcessCluster, count: usize) {
    for i in 0..count {
        let relations = match i {
            0 => json!([]),
            _ => json!([{ "type": "DEPENDS_ON", "target": format!("asset-{}", i - 1) }]),
        };
        let node = 1 + (i as u64 % 3);
        let input = json!({ "id": format!("asset-{i}"), "name": format!("chain link {i}"),
                            "type": "document", "relations": relations });
        add(cluster, node, input).await;
    }
}

const CHECK: &str = "{ asset(id: \"asset-59\") { version history { kind } }
    search(query: \"link\", first: 100) { id }
    lineage(id: \"asset-59\", direction: UPSTREAM, depth: 3) { nodes { degree } }
    stats { total relations } }";

/// What every voter must answer once it has applied the chain.
fn chain_answer() -> Value {
    json!({
        "asset": { "version": 1, "history": [{ "kind": "ADDED" }] },
        "search": 60,
        "lineage": [0, 1, 2, 3],
        "stats": { "total": 60, "relations": 59 },
    })
}

/// `CHECK`'s answer on node `id`, reduced to what [`chain_answer`] holds.
async fn chain_seen(cluster: &ProcessCluster, id: u64) -> anyhow::Result<Value> {
    let (status, body) = post(cluster, id, CHECK, json!({})).await;
    let data = &body["data"];
    if status != StatusCode::OK || data["asset"].is_null() {
        bail!("node {id}: {status} {body}");
    }
    let degrees: Vec<Value> = data["lineage"]["nodes"]
        .as_array()
        .map(|nodes| nodes.iter().map(|n| n["degree"].clone()).collect())
        .unwrap_or_default();
    Ok(json!({
        "asset": data["asset"],
        "search": data["search"].as_array().map_or(0, Vec::len),
        "lineage": degrees,
        "stats": data["stats"],
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_replicate_survive_a_restart_and_abuse_is_refused() {
    let cluster = start(&["--snapshot-every", "50"]).await;
    chain(&cluster, 60).await;
    for id in cluster.ids() {
        let seen = wait_until(SEEN, &format!("node {id} to hold the chain"), || async {
            match chain_seen(&cluster, id).await {
                Ok(seen) if seen == chain_answer() => Ok(seen),
                Ok(seen) => Err(anyhow::anyhow!("{seen}")),
                Err(e) => Err(e),
            }
        })
        .await;
        seen.unwrap();
    }

    // Abuse: no token, a huge body, a deep query, a malformed body.
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", cluster.api_url(1));
    let open = http
        .post(&url)
        .json(&json!({ "query": "{ stats { total } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::UNAUTHORIZED);
    let huge =
        json!({ "query": format!("{{ search(query: \"{}\") {{ id }} }}", "x".repeat(2 << 20)) });
    let big = http
        .post(&url)
        .bearer_auth(cluster.token())
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let deep = (0..20).fold("id".to_string(), |q, _| {
        format!("relations(first: 1) {{ asset {{ {q} }} }}")
    });
    let (status, body) = post(
        &cluster,
        1,
        &format!("{{ asset(id: \"asset-1\") {{ {deep} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{body}"
    );
    let junk = http
        .post(&url)
        .bearer_auth(cluster.token())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    cluster.check_no_crash().unwrap();

    // The whole cluster restarts from its snapshots and logs.
    for id in cluster.ids() {
        cluster.kill(id).unwrap();
    }
    for id in cluster.ids() {
        cluster.restart(id).unwrap();
    }
    cluster.wait_ready(READY).await.unwrap();
    for id in cluster.ids() {
        let seen = wait_until(SEEN, &format!("node {id} to reload the chain"), || async {
            chain_seen(&cluster, id).await
        })
        .await
        .unwrap();
        assert_eq!(seen, chain_answer(), "node {id} after the restart");
    }

    // The CLI reads the same catalog.
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
            .args(args)
            .args(["--api", &cluster.api_url(3)])
            .env("CORTEX_ADMIN_TOKEN", cluster.token())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(cli(&["catalog", "search", "link 42"]).contains("asset-42"));
    let shown = cli(&["catalog", "show", "asset-42"]);
    assert!(
        shown.contains("dependsOn") && shown.contains("dependencyOf"),
        "{shown}"
    );
    let lineage = cli(&[
        "catalog",
        "lineage",
        "asset-42",
        "--depth",
        "2",
        "--direction",
        "upstream",
    ]);
    assert!(
        lineage.contains("asset-40") && !lineage.contains("asset-39"),
        "{lineage}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn websockets_are_capped_and_unauthenticated_ones_are_closed() {
    const MAX_SOCKETS: usize = 256;
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let cluster = ProcessCluster::start_with_args(binary, 1, &[]).expect("start");
    cluster.wait_ready(READY).await.expect("daemon ready");
    let mut idle = Vec::new();
    for _ in 0..MAX_SOCKETS {
        idle.push(
            Socket::open(&cluster, 1)
                .await
                .expect("a socket under the cap"),
        );
    }
    match Socket::open(&cluster, 1).await {
        Err(e) => assert!(e.to_string().contains("503"), "{e}"),
        Ok(_) => panic!("a socket over the cap was accepted"),
    }
    // The daemon still answers everything else meanwhile.
    let (status, _) = post(&cluster, 1, "{ stats { total } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // None of them authenticated: the daemon closes them (after 10 s) and
    // takes new sockets again.
    let mut socket = wait_until(SEEN, "a socket once idle ones are closed", || async {
        Socket::connect(&cluster, 1, cluster.token()).await
    })
    .await
    .expect("the idle sockets are closed in time");
    assert!(
        idle[0].receive().await.is_err(),
        "an idle socket was closed"
    );
    socket
        .send(json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ stats { total } }" } }))
        .await
        .unwrap();
    let answer = socket.receive().await.unwrap();
    assert_eq!(answer["payload"]["data"]["stats"]["total"], 0, "{answer}");
    cluster.check_no_crash().expect("the daemon kept serving");
}
