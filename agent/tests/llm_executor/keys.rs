//! The API key: from a variable or a file, none for local servers, clear
//! errors that name where it should be, and never shown.

use cortex_consensus::plan::LlmApi;

use crate::server::ModelServer;
use crate::support::{call, context, key_env, spec, KEY};

#[tokio::test]
async fn a_missing_key_variable_is_a_clear_error() {
    let server = ModelServer::start(Some(KEY)).await;
    let spec = spec(
        LlmApi::OpenAi,
        &server.url,
        Some("CORTEX_TEST_LLM_NEVER_SET"),
    );
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(
        outcome.error(),
        "environment variable CORTEX_TEST_LLM_NEVER_SET (apiKeyEnv) is not set on node k3s-worker01"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_key_is_read_from_a_file_when_the_variable_is_not_set() {
    let server = ModelServer::start(Some(KEY)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, format!("  {KEY}\n")).unwrap();
    let mut spec = spec(
        LlmApi::Anthropic,
        &server.url,
        Some("CORTEX_TEST_LLM_NEVER_SET"),
    );
    spec.api_key_file = Some(file.display().to_string());
    let outcome = call(&spec, &context(10_000)).await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(server.requests()[0].headers["x-api-key"], KEY);

    let missing = dir.path().join("missing");
    spec.api_key_file = Some(missing.display().to_string());
    let outcome = call(&spec, &context(10_000)).await;
    let error = outcome.error();
    assert!(
        error.starts_with(&format!(
            "cannot read the API key file {}",
            missing.display()
        )),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn without_a_key_no_auth_header_is_sent() {
    // The server refuses any key it does not expect, so success proves none was sent.
    let server = ModelServer::start(None).await;
    for api in [LlmApi::OpenAi, LlmApi::Anthropic] {
        let outcome = call(&spec(api, &server.url, None), &context(10_000)).await;
        assert_eq!(outcome.result, Ok(()), "{api:?}");
    }
    for request in server.requests() {
        assert!(request.headers.get("authorization").is_none());
        assert!(request.headers.get("x-api-key").is_none());
    }
}

#[tokio::test]
async fn a_key_the_server_quotes_back_is_redacted() {
    let server = ModelServer::start(Some("the-right-key")).await;
    let spec = spec(LlmApi::OpenAi, &server.url, Some(&key_env("redacted")));
    let outcome = call(&spec, &context(10_000)).await;
    let error = outcome.error();
    assert!(error.contains("HTTP 401"), "{error}");
    assert!(
        error.contains("Incorrect API key provided: Bearer [redacted]"),
        "{error}"
    );
}
