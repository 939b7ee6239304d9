use proptest::prelude::*;

use super::*;

/// Lines shaped like a real `claude -p --output-format stream-json --verbose` session.
const SESSION: &[&str] = &[
    r#"{"type":"system","subtype":"init","session_id":"s1","tools":["Bash"],"model":"claude-sonnet-4-5"}"#,
    r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Looking at the repo."}],"usage":{"input_tokens":10,"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,"output_tokens":40}},"session_id":"s1"}"#,
    r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"tool_use","id":"tu_1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":10,"cache_creation_input_tokens":500,"cache_read_input_tokens":9000,"output_tokens":40}},"session_id":"s1"}"#,
    r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"README.md"}]},"session_id":"s1"}"#,
    r#"{"type":"assistant","message":{"id":"msg_2","type":"message","role":"assistant","content":[{"type":"text","text":"Done."}],"usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":9500,"output_tokens":12}},"session_id":"s1"}"#,
    r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":5000,"num_turns":2,"result":"Done.","session_id":"s1","total_cost_usd":0.01,"usage":{"input_tokens":15,"cache_creation_input_tokens":500,"cache_read_input_tokens":18500,"output_tokens":52}}"#,
];

fn run(lines: &[&str]) -> (StreamJson, Vec<Line>) {
    let mut parser = StreamJson::default();
    let out = lines.iter().flat_map(|l| parser.parse(l)).collect();
    (parser, out)
}

#[test]
fn each_message_is_counted_once() {
    let (parser, out) = run(SESSION);
    // msg_1: 10 + 500 + 40 (once, though it came twice); msg_2: 5 + 12.
    let tokens: Vec<u64> = out
        .iter()
        .filter_map(|l| match l {
            Line::Tokens(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tokens, vec![550, 17]);
    assert_eq!(parser.tokens(), 567);
    assert!(out.contains(&Line::Result(r#""Done.""#.into())));
    assert!(out.contains(&Line::Log("Looking at the repo.".into())));
    assert!(out
        .iter()
        .any(|l| matches!(l, Line::Progress { message: Some(m), .. } if m == "using Bash")));
}

#[test]
fn totals_in_the_result_fill_in_what_messages_missed() {
    // Only the result carries usage (an older CLI, or a dropped line).
    let (parser, out) = run(&[SESSION[0], SESSION[5]]);
    assert_eq!(parser.tokens(), 567);
    assert!(out.contains(&Line::Tokens(567)));
}

#[test]
fn an_error_result_is_not_a_result() {
    let (_, out) = run(&[
        r#"{"type":"result","subtype":"error_max_turns","is_error":true,"result":"too many turns"}"#,
    ]);
    assert!(!out.iter().any(|l| matches!(l, Line::Result(_))));
}

#[test]
fn junk_is_a_log_line() {
    for junk in [
        "",
        "{",
        "[]",
        r#"{"type":"assistant"}"#,
        r#"{"type":"assistant","message":{"id":7,"usage":"x"}}"#,
        "\u{0}",
    ] {
        let (parser, out) = run(&[junk]);
        assert_eq!(parser.tokens(), 0, "{junk:?}");
        assert!(
            out.iter().all(|l| matches!(l, Line::Log(_))),
            "{junk:?}: {out:?}"
        );
    }
}

proptest! {
    /// Garbage never panics, and tokens never go down or exceed what the
    /// lines could possibly claim.
    #[test]
    fn garbage_never_panics(lines in proptest::collection::vec(any::<String>(), 0..20)) {
        let mut parser = StreamJson::default();
        for line in &lines {
            let _ = parser.parse(line);
        }
    }

    /// Repeating a session's lines never counts a message twice.
    #[test]
    fn replays_do_not_double_count(repeats in 1usize..4) {
        let mut parser = StreamJson::default();
        for _ in 0..repeats {
            for line in &SESSION[..5] {
                let _ = parser.parse(line);
            }
        }
        prop_assert_eq!(parser.tokens(), 567);
    }
}
