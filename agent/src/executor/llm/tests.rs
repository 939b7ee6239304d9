//! Unit tests of the `llm` executor's pure parts: the budget, the retry
//! schedule, endpoints, error messages, answer parsing and redaction. The
//! HTTP behaviour is tested against a local server in
//! `agent/tests/llm_executor.rs`.

use std::time::Duration;

use cortex_consensus::plan::{LlmApi, LlmSpec};
use cortex_consensus::run::AttemptReport;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use super::budget::{output_allowance, prompt_estimate, OUTPUT_CEILING};
use super::exchange::{api_message, MAX_API_MESSAGE_BYTES};
use super::key::ApiKey;
use super::retry::{retry_after, Retry};
use super::{anthropic, openai, url, Answer, Usage};
use crate::executor::secrets::Redactor;

fn spec(prompt: &str, system: Option<&str>) -> LlmSpec {
    LlmSpec {
        api: LlmApi::OpenAi,
        endpoint: "http://localhost:8000".into(),
        model: "m".into(),
        prompt: prompt.into(),
        system: system.map(str::to_string),
        api_key_env: None,
        api_key_file: None,
    }
}

#[test]
fn the_prompt_estimate_is_a_third_of_the_bytes_plus_framing() {
    // 10 bytes -> 4 tokens, + 16 framing + 8 for the one message.
    assert_eq!(prompt_estimate(&spec("0123456789", None)), 4 + 16 + 8);
    // An empty system prompt is not sent, so not counted.
    assert_eq!(prompt_estimate(&spec("0123456789", Some(""))), 28);
    // 9 + 3 bytes -> 4 tokens, two messages.
    assert_eq!(
        prompt_estimate(&spec("012345678", Some("abc"))),
        4 + 16 + 16
    );
}

#[test]
fn the_answer_gets_the_reservation_less_the_prompt_and_one_token() {
    assert_eq!(output_allowance(100, 40), Ok(59));
    assert_eq!(output_allowance(42, 40), Ok(1));
    assert_eq!(output_allowance(1_000_000, 40), Ok(OUTPUT_CEILING));
    for reserved in [0, 40, 41] {
        assert_eq!(
            output_allowance(reserved, 40),
            Err(format!(
                "reservation of {reserved} tokens cannot cover a prompt of about 40 tokens and an \
                 answer; give the task a larger budget or a shorter prompt"
            ))
        );
    }
}

#[test]
fn retries_back_off_exponentially_with_jitter_and_a_cap() {
    let retry = Retry::default();
    let secs = Duration::from_secs;
    let full: Vec<_> = (1..=7).map(|n| retry.delay(n, None, 1.0)).collect();
    assert_eq!(
        full,
        [
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(16),
            secs(30),
            secs(30)
        ]
    );
    assert_eq!(
        retry.delay(3, None, 0.0),
        secs(2),
        "jitter goes down to half"
    );
    assert_eq!(retry.delay(3, None, 0.5), Duration::from_millis(3000));
    assert_eq!(retry.delay(u32::MAX, None, 1.0), secs(30));
}

#[test]
fn a_servers_retry_after_is_honoured_within_the_cap() {
    let retry = Retry::default();
    let secs = Duration::from_secs;
    assert_eq!(retry.delay(1, Some(secs(7)), 1.0), secs(7));
    assert_eq!(
        retry.delay(4, Some(secs(1)), 1.0),
        secs(8),
        "never shorter than the backoff"
    );
    assert_eq!(retry.delay(1, Some(secs(600)), 1.0), secs(30));
}

#[test]
fn retry_after_headers_are_read_in_seconds_or_milliseconds() {
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    };
    assert_eq!(
        retry_after(&headers(&[("retry-after", "3")])),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "1.5")])),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "3"), ("retry-after-ms", "250")])),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "1e300")])),
        Some(Duration::from_secs(86_400))
    );
    for ignored in ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "NaN", ""] {
        assert_eq!(
            retry_after(&headers(&[("retry-after", ignored)])),
            None,
            "{ignored:?}"
        );
    }
    assert_eq!(retry_after(&HeaderMap::new()), None);
}

#[test]
fn endpoints_take_the_api_path_once() {
    for endpoint in [
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com/v1/",
    ] {
        assert_eq!(
            url(endpoint, "/v1/messages").unwrap().as_str(),
            "https://api.example.com/v1/messages"
        );
    }
    assert_eq!(
        url("http://gw:8080/openai/v1", "/v1/chat/completions")
            .unwrap()
            .as_str(),
        "http://gw:8080/openai/v1/chat/completions"
    );
    assert!(url("ftp://host", "/v1/messages")
        .unwrap_err()
        .contains("not http: or https:"));
    assert!(url("not a url", "/v1/messages")
        .unwrap_err()
        .contains("is not a valid URL"));
}

#[test]
fn api_errors_are_quoted_by_their_message() {
    let openai = br#"{"error": {"message": "Rate limit reached", "type": "requests"}}"#;
    assert_eq!(api_message(openai), "Rate limit reached");
    let anthropic =
        br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
    assert_eq!(api_message(anthropic), "Overloaded");
    assert_eq!(
        api_message(br#"{"error": "model not found"}"#),
        "model not found"
    );
    assert_eq!(api_message(b"Bad Gateway"), "Bad Gateway");
    assert_eq!(api_message(b""), "(empty body)");
    let long = api_message("é".repeat(1000).as_bytes());
    assert!(long.len() <= MAX_API_MESSAGE_BYTES + '…'.len_utf8() && long.ends_with('…'));
}

#[test]
fn openai_answers_are_read_from_the_first_choice() {
    let answer = openai::parse(json!({
        "model": "gpt-x",
        "choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }))
    .unwrap();
    assert_eq!(answer.text, "Hi");
    assert_eq!(answer.model.as_deref(), Some("gpt-x"));
    assert!(answer.truncated);
    assert_eq!(
        answer.usage,
        Some(Usage {
            input: 12,
            output: 3
        })
    );
    let refusal =
        openai::parse(json!({"choices": [{"message": {"content": null, "refusal": "No."}}]}))
            .unwrap();
    assert_eq!((refusal.text.as_str(), refusal.usage), ("No.", None));
    assert!(openai::parse(json!({"choices": []}))
        .unwrap_err()
        .contains("no choices"));
    assert!(openai::parse(json!({"nope": 1}))
        .unwrap_err()
        .contains("not an OpenAI chat completion"));
}

#[test]
fn anthropic_answers_join_text_blocks_and_count_every_input_token() {
    let answer = anthropic::parse(json!({
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Hello, "},
            {"type": "text", "text": "world"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 4,
                  "cache_creation_input_tokens": 100, "cache_read_input_tokens": null},
    }))
    .unwrap();
    assert_eq!(answer.text, "Hello, world");
    assert!(!answer.truncated);
    assert_eq!(
        answer.usage,
        Some(Usage {
            input: 110,
            output: 4
        })
    );
    let huge = anthropic::parse(json!({
        "content": [], "stop_reason": "max_tokens",
        "usage": {"input_tokens": u64::MAX, "output_tokens": 1, "cache_creation_input_tokens": 5},
    }))
    .unwrap();
    assert!(huge.truncated);
    assert_eq!(
        huge.usage.unwrap().total(),
        u64::MAX,
        "saturates, never panics"
    );
}

#[test]
fn the_result_names_the_stop_and_fits_a_report() {
    let answer = |text: String| Answer {
        text,
        model: None,
        stop_key: "stop_reason",
        stop: Some("end_turn".into()),
        truncated: false,
        usage: Some(Usage {
            input: 1,
            output: 2,
        }),
    };
    let result: Value = serde_json::from_str(&answer("ok".into()).into_result("asked")).unwrap();
    assert_eq!(
        result,
        json!({"text": "ok", "model": "asked", "stop_reason": "end_turn", "truncated": false,
               "text_cut": false, "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}})
    );
    let big = answer("\u{1}".repeat(AttemptReport::MAX_DOCUMENT_BYTES)).into_result("asked");
    assert!(big.len() <= AttemptReport::MAX_DOCUMENT_BYTES);
    assert_eq!(
        serde_json::from_str::<Value>(&big).unwrap()["text_cut"],
        true
    );
}

#[tokio::test]
async fn keys_are_redacted_and_never_debug_printed() {
    let name = "CORTEX_UNIT_TEST_LLM_KEY";
    std::env::set_var(name, " sk-unit-secret \n");
    let mut spec = spec("p", None);
    spec.api_key_env = Some(name.into());
    let key = ApiKey::load(&spec, "n1").await.unwrap().unwrap();
    assert_eq!(
        key.source(),
        "environment variable CORTEX_UNIT_TEST_LLM_KEY"
    );
    assert!(!format!("{key:?}").contains("sk-unit-secret"));
    let redactor = Redactor::default();
    key.keep_out_of(&redactor);
    assert_eq!(
        redactor.text("got sk-unit-secret, sk-unit-secret"),
        "got [redacted], [redacted]"
    );
    assert!(key.header("Bearer ").unwrap().is_sensitive());
    std::env::set_var(name, "  ");
    assert_eq!(
        ApiKey::load(&spec, "n1").await.unwrap_err(),
        "the API key in environment variable CORTEX_UNIT_TEST_LLM_KEY is empty"
    );
    assert!(ApiKey::load(&self::spec("p", None), "n1")
        .await
        .unwrap()
        .is_none());

    // A key with characters that JSON and Debug escape is found escaped too.
    let odd = r#"sk-"odd\key"#;
    std::env::set_var(name, odd);
    let key = ApiKey::load(&spec, "n1").await.unwrap().unwrap();
    let redactor = Redactor::default();
    key.keep_out_of(&redactor);
    let text = format!("{} {odd} {odd:?}", json!({ "k": odd }));
    assert_eq!(
        redactor.text(&text),
        r#"{"k":"[redacted]"} [redacted] "[redacted]""#
    );
}
