//! Calls that get an answer: exact settlement, the request each API gets,
//! `max_tokens` within the reservation, endpoints, the reasoning-model
//! fallback, a server reporting no usage.

use cortex_agent::executor::llm::budget::{output_allowance, prompt_estimate, OUTPUT_CEILING};
use cortex_agent::executor::{execute, Events};
use cortex_agent::protocol::Line;
use cortex_consensus::plan::{ExecutorSpec, LlmApi};
use serde_json::Value;

use crate::server::ModelServer;
use crate::support::{call, context, key_env, spec, Outcome, KEY};

#[tokio::test]
async fn openai_call_settles_the_servers_usage_exactly() {
    let server = ModelServer::start(Some(KEY)).await;
    let spec = spec(LlmApi::OpenAi, &server.url, Some(&key_env("openai_exact")));
    let context = context(10_000);
    // Through the executor dispatch, as an attempt runs it.
    let (events, mut receiver) = Events::channel();
    let (_wrap_up, wrapping_up) = tokio::sync::watch::channel(false);
    let result = execute(
        &ExecutorSpec::Llm(spec.clone()),
        &context,
        None,
        &events,
        wrapping_up,
    )
    .await;
    drop(events);
    let mut lines = Vec::new();
    while let Some(line) = receiver.recv().await {
        lines.push(line);
    }
    let outcome = Outcome { result, lines };
    outcome.assert_no_key();
    assert_eq!(outcome.result, Ok(()));

    assert_eq!(
        outcome.tokens(),
        server.usages(),
        "one Tokens line, the server's usage"
    );
    let result = outcome.result();
    assert_eq!(result["text"], "Paris is the capital of France");
    assert_eq!(result["model"], "test-model");
    assert_eq!(result["finish_reason"], "stop");
    assert_eq!(result["truncated"], false);
    assert_eq!(result["usage"]["total_tokens"], server.usages()[0]);
    let progress: Vec<_> = outcome
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Progress { message, .. } => message.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(progress, ["calling model", "answer received"]);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(request.body["messages"][0]["content"], "You are terse.");
    assert_eq!(request.body["messages"][1]["role"], "user");
    assert_eq!(request.body["messages"][1]["content"], spec.prompt);
    let allowance = output_allowance(10_000, prompt_estimate(&spec)).unwrap();
    assert_eq!(request.body["max_tokens"], allowance);
}

#[tokio::test]
async fn anthropic_call_settles_usage_with_cache_tokens() {
    let server = ModelServer::start(Some(KEY)).await;
    server.cache_tokens(7);
    let spec = spec(
        LlmApi::Anthropic,
        &server.url,
        Some(&key_env("anthropic_exact")),
    );
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(outcome.tokens(), server.usages());
    let result = outcome.result();
    assert_eq!(result["stop_reason"], "end_turn");
    assert_eq!(result["usage"]["total_tokens"], server.usages()[0]);

    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.headers["x-api-key"], KEY);
    assert_eq!(request.headers["anthropic-version"], "2023-06-01");
    assert!(request.headers.get("authorization").is_none());
    assert_eq!(request.body["system"], "You are terse.");
    assert_eq!(request.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(request.body["messages"][0]["content"], spec.prompt);
}

#[tokio::test]
async fn max_tokens_never_exceeds_the_reservation_less_the_prompt_estimate() {
    let server = ModelServer::start(None).await;
    server.answer(&"word ".repeat(6000));
    for api in [LlmApi::OpenAi, LlmApi::Anthropic] {
        let spec = spec(api, &server.url, None);
        let estimate = prompt_estimate(&spec);
        for reserved in [estimate + 2, estimate + 10, 500, 5_000, 1_000_000] {
            let before = server.requests().len();
            let outcome = call(&spec, &context(reserved)).await;
            assert_eq!(outcome.result, Ok(()), "{api:?} {reserved}");
            let request = &server.requests()[before];
            let max_tokens = request.body["max_tokens"].as_u64().unwrap();
            assert!(
                max_tokens + estimate < reserved,
                "{api:?}: {max_tokens} + {estimate} >= {reserved}"
            );
            assert!(max_tokens <= OUTPUT_CEILING);
            let used = outcome.tokens();
            assert_eq!(used, [*server.usages().last().unwrap()]);
            assert!(
                used[0] < reserved,
                "{api:?}: used {used:?} of {reserved}: the attempt would cap it"
            );
            // The answer (6,000 words) never fits: it is partial, still a success.
            assert_eq!(outcome.result()["truncated"], true);
            assert!(outcome.logs().iter().any(|l| l.contains("partial")));
        }
    }
}

#[tokio::test]
async fn a_reservation_too_small_for_the_prompt_fails_before_any_request() {
    let server = ModelServer::start(None).await;
    let spec = spec(LlmApi::Anthropic, &server.url, None);
    let estimate = prompt_estimate(&spec);
    let outcome = call(&spec, &context(estimate)).await;
    let expected = format!(
        "reservation of {estimate} tokens cannot cover a prompt of about {estimate} tokens"
    );
    assert!(outcome.error().contains(&expected), "{}", outcome.error());
    assert!(server.requests().is_empty());
    assert!(outcome.tokens().is_empty());
}

#[tokio::test]
async fn endpoints_with_a_trailing_slash_or_v1_are_accepted() {
    let server = ModelServer::start(None).await;
    for suffix in ["/", "/v1", "/v1/"] {
        for api in [LlmApi::OpenAi, LlmApi::Anthropic] {
            let endpoint = format!("{}{suffix}", server.url);
            let outcome = call(&spec(api, &endpoint, None), &context(10_000)).await;
            assert_eq!(outcome.result, Ok(()), "{endpoint} {api:?}");
        }
    }
}

#[tokio::test]
async fn models_that_refuse_max_tokens_get_max_completion_tokens() {
    let server = ModelServer::start(None).await;
    server.want_completion_tokens();
    let spec = spec(LlmApi::OpenAi, &server.url, None);
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(outcome.result, Ok(()));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let allowance = output_allowance(10_000, prompt_estimate(&spec)).unwrap();
    assert_eq!(requests[0].body["max_tokens"], allowance);
    assert!(requests[1].body.get("max_tokens").is_none());
    assert_eq!(requests[1].body["max_completion_tokens"], allowance);
    assert_eq!(outcome.tokens(), server.usages());
}

#[tokio::test]
async fn an_answer_without_usage_settles_the_most_the_call_could_use() {
    let server = ModelServer::start(None).await;
    server.omit_usage();
    let spec = spec(LlmApi::OpenAi, &server.url, None);
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(outcome.result, Ok(()));
    let estimate = prompt_estimate(&spec);
    let bound = estimate + output_allowance(10_000, estimate).unwrap();
    assert_eq!(outcome.tokens(), [bound]);
    assert!(bound < 10_000);
    assert_eq!(outcome.result()["usage"], Value::Null);
}
