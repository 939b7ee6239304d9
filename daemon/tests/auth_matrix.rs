//! End-to-end: roles through the real `cortex` binary.
//!
//! Every route is called with no token, a wrong token and a token of each
//! role: below the route's role the answer is 401 (no or unknown token) or
//! 403 (known token, too low a role), at or above it anything else. Then
//! the audit trail names who changed what, GraphQL refuses a viewer's
//! mutation, and a daemon given a bad tokens file refuses to start without
//! echoing any token. Changes beyond a token's rate limit get 429 (GraphQL
//! mutations, which share the allowance: `RATE_LIMITED`) while reads and
//! other tokens go on.

use std::path::Path;
use std::time::Duration;

use cortex_chaos::ProcessCluster;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

/// Until the daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);

const VIEWER_TOKEN: &str = "viewer-token-0123456789";
const OPERATOR_TOKEN: &str = "operator-token-0123456789";
const SECOND_ADMIN_TOKEN: &str = "admin-token-0123456789-b";

const TOKENS_FILE: &str = "tokens:
  - {name: eve, role: viewer, token: viewer-token-0123456789}
  - {name: ops, role: operator, token: operator-token-0123456789}
  - {name: root-b, role: admin, token: admin-token-0123456789-b}
";

/// Who calls; `None` is a caller without a role (no or a wrong token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Operator,
    Admin,
}

/// Every route, the role it needs (`None`: open) and a body. Bodies are
/// such that a permitted call changes little: unknown runs, invalid input.
fn routes() -> Vec<(Method, &'static str, Option<Value>, Option<Role>)> {
    use Method as M;
    use Role::*;
    vec![
        (M::GET, "/healthz", None, None),
        (M::GET, "/readyz", None, None),
        // The dashboard's files: open, they hold no data.
        (M::GET, "/ui", None, None),
        (M::GET, "/ui/app.js", None, None),
        (M::GET, "/metrics", None, Some(Viewer)),
        (M::GET, "/v1/cluster", None, Some(Viewer)),
        (
            M::POST,
            "/v1/cluster/members",
            Some(json!({"id": 0, "raft_addr": "x"})),
            Some(Admin),
        ),
        (M::DELETE, "/v1/cluster/members/99", None, Some(Admin)),
        (M::PUT, "/v1/kv/k", Some(json!("v")), Some(Admin)),
        (M::GET, "/v1/kv/k", None, Some(Viewer)),
        (M::DELETE, "/v1/kv/k", None, Some(Admin)),
        (
            M::PUT,
            "/v1/pools/p",
            Some(json!({"capacity": 10})),
            Some(Admin),
        ),
        (M::GET, "/v1/pools/p", None, Some(Viewer)),
        (
            M::POST,
            "/v1/pools/nope/reservations",
            Some(json!({"id": "r", "amount": 1})),
            Some(Operator),
        ),
        (
            M::POST,
            "/v1/pools/nope/reservations/r/settle",
            Some(json!({"used": 1})),
            Some(Operator),
        ),
        (
            M::POST,
            "/v1/runs",
            Some(json!({"name": "x"})),
            Some(Operator),
        ),
        (M::GET, "/v1/runs", None, Some(Viewer)),
        (M::GET, "/v1/runs/nope", None, Some(Viewer)),
        (M::GET, "/v1/runs/nope/report", None, Some(Viewer)),
        (
            M::POST,
            "/v1/runs/nope/cancel",
            Some(json!({})),
            Some(Operator),
        ),
        (
            M::POST,
            "/v1/runs/nope/tasks/t/approve",
            None,
            Some(Operator),
        ),
        (M::GET, "/v1/runs/nope/tasks/t/logs", None, Some(Viewer)),
        (M::GET, "/v1/escalations", None, Some(Viewer)),
        (
            M::POST,
            "/v1/escalations/nope/resolve",
            Some(json!({"action": "retry"})),
            Some(Operator),
        ),
        (M::GET, "/v1/audit", None, Some(Admin)),
        (
            M::POST,
            "/graphql",
            Some(json!({"query": "{ stats { total } }"})),
            Some(Viewer),
        ),
    ]
}

async fn call(
    url: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new().request(method, format!("{url}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the daemon answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// One daemon with `TOKENS_FILE` and `extra_args`, ready; the directory
/// holding the file lives as long as the returned guard.
async fn start_with_tokens(extra_args: &[&str]) -> (tempfile::TempDir, ProcessCluster) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(&tokens, TOKENS_FILE).unwrap();
    let mut args = vec!["--tokens-file", tokens.to_str().unwrap()];
    args.extend_from_slice(extra_args);
    let binary = Path::new(env!("CARGO_BIN_EXE_cortex"));
    let cluster = ProcessCluster::start_with_args(binary, 1, &args).expect("start the daemon");
    cluster.wait_ready(READY).await.expect("daemon ready");
    (dir, cluster)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_reaches_exactly_its_routes_and_changes_are_audited_by_name() {
    let (_dir, cluster) = start_with_tokens(&["--metrics-token"]).await;
    let url = cluster.api_url(1);

    let callers: [(&str, Option<&str>, Option<Role>); 6] = [
        ("no token", None, None),
        ("a wrong token", Some("wrong-token-0123456789"), None),
        ("viewer", Some(VIEWER_TOKEN), Some(Role::Viewer)),
        ("operator", Some(OPERATOR_TOKEN), Some(Role::Operator)),
        ("admin", Some(cluster.token()), Some(Role::Admin)),
        ("second admin", Some(SECOND_ADMIN_TOKEN), Some(Role::Admin)),
    ];
    let mut failures = Vec::new();
    for (method, path, body, needed) in routes() {
        for (who, token, role) in callers {
            let (status, answer) = call(&url, method.clone(), path, token, body.as_ref()).await;
            let expected_refusal = match (needed, role) {
                (None, _) => None,
                (Some(_), None) => Some(StatusCode::UNAUTHORIZED),
                (Some(needed), Some(role)) if role < needed => Some(StatusCode::FORBIDDEN),
                _ => None,
            };
            let ok = match expected_refusal {
                Some(refusal) => status == refusal,
                None => status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            };
            if !ok {
                failures.push(format!("{method} {path} as {who}: {status} {answer}"));
            }
            if status == StatusCode::FORBIDDEN {
                assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected answers:\n{}",
        failures.join("\n")
    );

    // The trail names who did what, refusals included, and never a token.
    let (status, trail) = call(
        &url,
        Method::GET,
        "/v1/audit?limit=1000",
        Some(cluster.token()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let entries = trail["entries"].as_array().unwrap();
    let has = |actor: &str, action: &str, refused: bool| {
        entries.iter().any(|e| {
            e["actor"] == actor && e["action"] == action && e["refused"].is_null() != refused
        })
    };
    assert!(has("admin", "pool.open", false), "{trail}");
    assert!(has("root-b", "kv.put", false), "{trail}");
    assert!(has("ops", "run.cancel", true), "{trail}");
    assert!(
        !entries.iter().any(|e| e["actor"] == "eve"),
        "a viewer changed nothing: {trail}"
    );
    let text = trail.to_string();
    for secret in [
        VIEWER_TOKEN,
        OPERATOR_TOKEN,
        SECOND_ADMIN_TOKEN,
        cluster.token(),
    ] {
        assert!(!text.contains(secret));
    }
    let (_, page) = call(
        &url,
        Method::GET,
        "/v1/audit?limit=0",
        Some(cluster.token()),
        None,
    )
    .await;
    assert_eq!(page["error"]["code"], "bad_request", "{page}");

    // GraphQL: a viewer reads but may not write; an operator's write is audited.
    let add = json!({"query": "mutation { addAsset(input: {id: \"svc/a\", name: \"a\", type: \"service\"}) { id } }"});
    let (_, refused) = call(
        &url,
        Method::POST,
        "/graphql",
        Some(VIEWER_TOKEN),
        Some(&add),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let (_, added) = call(
        &url,
        Method::POST,
        "/graphql",
        Some(OPERATOR_TOKEN),
        Some(&add),
    )
    .await;
    assert_eq!(added["data"]["addAsset"]["id"], "svc/a", "{added}");
    let (_, trail) = call(&url, Method::GET, "/v1/audit", Some(cluster.token()), None).await;
    let last = trail["entries"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (
            &last["actor"],
            &last["role"],
            &last["action"],
            &last["target"]
        ),
        (
            &json!("ops"),
            &json!("operator"),
            &json!("catalog.add"),
            &json!("svc/a")
        ),
        "{trail}"
    );
    cluster.check_no_crash().expect("the daemon kept serving");
}

#[test]
fn a_bad_tokens_file_stops_the_daemon_with_every_problem_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        "tokens:\n  - {name: admin, role: boss, token: leaked-secret-value-123}\n  \
         - {name: b, role: viewer, token: tiny-tok}\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["daemon", "--node-id", "1", "--peers", "1=127.0.0.1:1"])
        .args(["--listen", "127.0.0.1:0", "--api-addr", "127.0.0.1:0"])
        .arg("--insecure-plaintext")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--tokens-file")
        .arg(&tokens)
        .env("CORTEX_ADMIN_TOKEN", "admin-token-for-this-test")
        .output()
        .expect("run cortex");
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for problem in [
        "tokens[0]: the name \"admin\" is the admin token's",
        "tokens[0]: role must be viewer, operator or admin",
        "tokens[1]: token must be at least 16 characters",
    ] {
        assert!(stderr.contains(problem), "{problem:?} in {stderr}");
    }
    assert!(
        !stderr.contains("leaked-secret") && !stderr.contains("tiny-tok"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_rate_limited_per_token_while_reads_and_other_tokens_go_on() {
    let args = ["--change-rate", "1", "--change-burst", "3"];
    let (_dir, cluster) = start_with_tokens(&args).await;
    let url = cluster.api_url(1);
    let cancel = json!({ "reason": "test" });
    let path = "/v1/runs/nope/cancel";
    let cancel_as_operator = || {
        call(
            &url,
            Method::POST,
            path,
            Some(OPERATOR_TOKEN),
            Some(&cancel),
        )
    };

    for _ in 0..3 {
        let (status, body) = cancel_as_operator().await;
        assert_eq!(status, StatusCode::NOT_FOUND, "within the burst: {body}");
    }
    let response = Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&cancel)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // GraphQL mutations draw on the same allowance.
    let graphql = |token: &'static str, query: String| {
        let body = json!({ "query": query });
        let url = url.clone();
        async move { call(&url, Method::POST, "/graphql", Some(token), Some(&body)).await }
    };
    let add = |id: &str| {
        format!("mutation {{ addAsset(input: {{ id: \"{id}\", name: \"a\", type: \"service\" }}) {{ id }} }}")
    };
    let (status, body) = graphql(OPERATOR_TOKEN, add("svc/limited")).await;
    assert_eq!(status, StatusCode::OK);
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "RATE_LIMITED", "{body}");
    assert_eq!(extensions["retryAfter"], 1, "{body}");
    let (_, body) = graphql(SECOND_ADMIN_TOKEN, add("svc/other")).await;
    let added = &body["data"]["addAsset"]["id"];
    assert_eq!(added, "svc/other", "another token is served: {body}");
    let lookup = "{ asset(id: \"svc/limited\") { id } }".to_string();
    let (_, body) = graphql(OPERATOR_TOKEN, lookup).await;
    let refused = &body["data"]["asset"];
    assert!(
        refused.is_null(),
        "the refused mutation wrote nothing: {body}"
    );

    // Reads, and other tokens' changes, are not held back.
    let (status, _) = call(&url, Method::GET, "/v1/runs", Some(OPERATOR_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &url,
        Method::PUT,
        "/v1/kv/k",
        Some(SECOND_ADMIN_TOKEN),
        Some(&json!("v")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The admin token is never held to a rate.
    for _ in 0..5 {
        let (status, _) = call(
            &url,
            Method::PUT,
            "/v1/kv/k",
            Some(cluster.token()),
            Some(&json!("v")),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    // A second later the bucket holds one change again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = cancel_as_operator().await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    cluster.check_no_crash().expect("the daemon kept serving");
}
