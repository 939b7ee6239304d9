//! Failing servers: retries on rate limits and overloads, giving up,
//! refusals, broken answers, a stall past the time limit, no server.

use std::time::{Duration, Instant};

use cortex_consensus::plan::LlmApi;

use crate::server::{Fault, ModelServer};
use crate::support::{call, context, key_env, spec, KEY};

#[tokio::test]
async fn rate_limits_and_overloads_are_retried_until_an_answer() {
    let server = ModelServer::start(Some(KEY)).await;
    let spec = spec(LlmApi::Anthropic, &server.url, Some(&key_env("retried")));
    let status = |status| Fault::Status {
        status,
        retry_after: Some(1),
        message: "slow down".into(),
    };
    server.fail(1, status(429));
    server.fail(1, status(529));
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        outcome.tokens(),
        server.usages(),
        "only the answered request is settled"
    );
    let retries: Vec<_> = outcome
        .logs()
        .into_iter()
        .filter(|l| l.contains("retrying"))
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries[0].contains("HTTP 429") && retries[0].contains("slow down"));
    assert!(
        retries[0].contains("the server asked for 1000 ms"),
        "{}",
        retries[0]
    );
    assert!(retries[1].contains("HTTP 529"));
}

#[tokio::test]
async fn exhausted_retries_fail_with_the_last_status() {
    let server = ModelServer::start(None).await;
    let spec = spec(LlmApi::OpenAi, &server.url, None);
    server.fail(
        3,
        Fault::Status {
            status: 503,
            retry_after: None,
            message: "the engine is overloaded".into(),
        },
    );
    let outcome = call(&spec, &context(10_000)).await;
    let error = outcome.error();
    assert!(
        error.contains("HTTP 503") && error.contains("the engine is overloaded"),
        "{error}"
    );
    assert!(error.contains("gave up after 3 tries"), "{error}");
    assert_eq!(server.requests().len(), 3);
    assert!(outcome.tokens().is_empty());
}

#[tokio::test]
async fn other_client_errors_fail_at_once_with_the_apis_message() {
    let server = ModelServer::start(None).await;
    for api in [LlmApi::OpenAi, LlmApi::Anthropic] {
        let before = server.requests().len();
        server.fail(
            1,
            Fault::Status {
                status: 400,
                retry_after: None,
                message: "prompt is too long: 300000 tokens > 200000 maximum".into(),
            },
        );
        let outcome = call(&spec(api, &server.url, None), &context(10_000)).await;
        let error = outcome.error();
        assert!(error.contains("HTTP 400 Bad Request"), "{error}");
        assert!(
            error.contains("prompt is too long: 300000 tokens > 200000 maximum"),
            "{error}"
        );
        assert_eq!(server.requests().len(), before + 1, "no retry");
    }
}

#[tokio::test]
async fn malformed_and_huge_answers_are_clear_errors() {
    let server = ModelServer::start(None).await;
    let spec = spec(LlmApi::OpenAi, &server.url, None);
    server.fail(1, Fault::Malformed);
    let outcome = call(&spec, &context(10_000)).await;
    assert!(
        outcome.error().contains("is not JSON"),
        "{}",
        outcome.error()
    );
    assert!(
        outcome
            .error()
            .contains("it starts with \"{\\\"choices\\\": [oops\""),
        "{}",
        outcome.error()
    );
    for chunked in [false, true] {
        server.fail(1, Fault::Huge { chunked });
        let outcome = call(&spec, &context(10_000)).await;
        assert!(
            outcome.error().contains("is larger than 8 MiB"),
            "{}",
            outcome.error()
        );
        assert!(outcome.tokens().is_empty());
    }
}

#[tokio::test]
async fn a_stalled_server_ends_at_the_attempts_time_limit() {
    let server = ModelServer::start(None).await;
    server.fail(1, Fault::Stall(Duration::from_secs(30)));
    let mut context = context(10_000);
    context.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let outcome = call(&spec(LlmApi::Anthropic, &server.url, None), &context).await;
    assert!(
        outcome.error().contains("within the attempt's time limit"),
        "{}",
        outcome.error()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_fails() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let outcome = call(&spec(LlmApi::OpenAi, &endpoint, None), &context(10_000)).await;
    let error = outcome.error();
    assert!(
        error.contains("cannot reach") && error.contains("gave up after 3 tries"),
        "{error}"
    );
    assert_eq!(
        outcome
            .logs()
            .iter()
            .filter(|l| l.contains("retrying"))
            .count(),
        2
    );
}
