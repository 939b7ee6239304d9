//! End-to-end: budget pools through the admin API of a real three-node
//! cluster of `cortex` processes.
//!
//! Many clients racing for one pool through different nodes never overdraw
//! it; settling charges what was used; bad requests are refused with clear
//! codes and change nothing; the balances survive the loss of the leader.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cortex_chaos::{wait_until, ProcessCluster};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

/// Until every daemon answers `/readyz` with 200.
const READY: Duration = Duration::from_secs(60);
/// Until a node has applied a write acknowledged through another, or a new
/// leader serves writes.
const APPLIED: Duration = Duration::from_secs(15);

async fn call(
    cluster: &ProcessCluster,
    node: u64,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let request = Client::new()
        .request(method, format!("{}{path}", cluster.api_url(node)))
        .bearer_auth(cluster.token());
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.context("request failed")?;
    let status = response.status();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The pool as node `node` sees it once `ready` holds.
async fn pool_when(
    cluster: &ProcessCluster,
    node: u64,
    pool: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/v1/pools/{pool}");
    wait_until(APPLIED, &format!("{path} on node {node}"), || async {
        match call(cluster, node, Method::GET, &path, None).await? {
            (StatusCode::OK, body) if ready(&body) => Ok(body),
            (status, body) => Err(anyhow::anyhow!("{status} {body}")),
        }
    })
    .await
    .expect("pool reaches the expected balances")
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_clients_never_overdraw_a_pool_and_settling_charges_usage() {
    let cluster = ProcessCluster::start(Path::new(env!("CARGO_BIN_EXE_cortex")), 3)
        .expect("start the cluster");
    cluster.wait_ready(READY).await.expect("cluster ready");

    let (status, body) = call(
        &cluster,
        2,
        Method::PUT,
        "/v1/pools/team",
        Some(json!({ "capacity": 2_500 })),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["available"], 2_500);

    // 60 reservations of 100 through all three nodes at once: exactly 25 fit.
    let attempts = (0..60u64).map(|i| {
        let cluster = &cluster;
        async move {
            let body = json!({ "id": format!("r{i}"), "amount": 100 });
            call(
                cluster,
                1 + i % 3,
                Method::POST,
                "/v1/pools/team/reservations",
                Some(body),
            )
            .await
            .unwrap()
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let granted: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i].0 == StatusCode::CREATED)
        .collect();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED
                || (*status == StatusCode::CONFLICT && body["error"]["code"] == "insufficient"),
            "{status} {body}"
        );
    }
    assert_eq!(granted.len(), 25, "{answers:?}");
    for node in 1..=3 {
        pool_when(&cluster, node, "team", |p| p["reserved"] == 2_500).await;
    }

    // Settle every granted reservation using 40 of its 100 tokens.
    for &i in &granted {
        let path = format!("/v1/pools/team/reservations/r{i}/settle");
        let (status, body) = call(
            &cluster,
            3,
            Method::POST,
            &path,
            Some(json!({ "used": 40 })),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "spent": 40, "released": 60, "overrun": 0 }));
    }
    let settled = pool_when(&cluster, 1, "team", |p| p["reserved"] == 0).await;
    assert_eq!(settled["spent"], 1_000);
    assert_eq!(settled["available"], 1_500);

    // The balances survive the leader's death and writes go on.
    let leader = cluster.wait_leader(APPLIED, &[]).await.expect("a leader");
    cluster.kill(leader).expect("kill the leader");
    let survivor = cluster.ids().into_iter().find(|&id| id != leader).unwrap();
    let reserved = wait_until(APPLIED, "a reservation after the leader died", || async {
        let body = json!({ "id": "after-failover", "amount": 1_500 });
        match call(
            &cluster,
            survivor,
            Method::POST,
            "/v1/pools/team/reservations",
            Some(body),
        )
        .await?
        {
            (StatusCode::CREATED, body) => Ok(body),
            (status, body) => Err(anyhow::anyhow!("{status} {body}")),
        }
    })
    .await
    .expect("the pool serves reservations again");
    assert_eq!(reserved["available"], 0);
    cluster.check_no_crash().expect("no daemon crashed");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pool_requests_are_refused_and_change_nothing() {
    let cluster = ProcessCluster::start(Path::new(env!("CARGO_BIN_EXE_cortex")), 3)
        .expect("start the cluster");
    cluster.wait_ready(READY).await.expect("cluster ready");
    let open = Some(json!({ "capacity": 1_000 }));
    let (status, _) = call(&cluster, 1, Method::PUT, "/v1/pools/p", open.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let reserve = |id: &str, amount: u64| Some(json!({ "id": id, "amount": amount }));
    let (status, _) = call(
        &cluster,
        1,
        Method::POST,
        "/v1/pools/p/reservations",
        reserve("a", 300),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::CREATED);

    let cases: Vec<(Method, &str, Option<Value>, StatusCode, &str)> = vec![
        // The same capacity again is a no-op; another one is a conflict.
        (Method::PUT, "/v1/pools/p", open, StatusCode::OK, ""),
        (
            Method::PUT,
            "/v1/pools/p",
            Some(json!({ "capacity": 5 })),
            StatusCode::CONFLICT,
            "pool_exists",
        ),
        (
            Method::PUT,
            "/v1/pools/q",
            Some(json!({ "capacity": -1 })),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::PUT,
            "/v1/pools/q",
            Some(json!({ "cap": 1 })),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::GET,
            "/v1/pools/q",
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/pools/q/reservations",
            reserve("b", 1),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/pools/p/reservations",
            reserve("b", 701),
            StatusCode::CONFLICT,
            "insufficient",
        ),
        // A retry of "a" with its amount is answered again; another amount is refused.
        (
            Method::POST,
            "/v1/pools/p/reservations",
            reserve("a", 300),
            StatusCode::CREATED,
            "",
        ),
        (
            Method::POST,
            "/v1/pools/p/reservations",
            reserve("a", 301),
            StatusCode::CONFLICT,
            "reservation_exists",
        ),
        (
            Method::POST,
            "/v1/pools/p/reservations",
            reserve(&"x".repeat(129), 1),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Method::POST,
            "/v1/pools/p/reservations/zzz/settle",
            Some(json!({ "used": 1 })),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/pools/p/reservations/a/settle",
            Some(json!("used")),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (method, path, body, expected, code) in cases {
        let (status, answer) = call(&cluster, 2, method.clone(), path, body.clone())
            .await
            .unwrap();
        assert_eq!(status, expected, "{method} {path} {body:?}: {answer}");
        if !code.is_empty() {
            assert_eq!(answer["error"]["code"], code, "{method} {path}: {answer}");
        }
    }
    let unauthenticated = Client::new()
        .get(format!("{}/v1/pools/p", cluster.api_url(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    let pool = pool_when(&cluster, 3, "p", |p| p["reserved"] == 300).await;
    assert_eq!(
        (&pool["capacity"], &pool["reserved"], &pool["spent"]),
        (&json!(1_000), &json!(300), &json!(0)),
        "{pool}"
    );
}
