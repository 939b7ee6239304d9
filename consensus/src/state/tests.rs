use proptest::prelude::*;

use super::*;

fn request(id: &str, time: u64, command: Command) -> Request {
    Request {
        id: RequestId(id.to_string()),
        actor: None,
        time: ClusterTime(time),
        command,
    }
}

fn put(key: &str, value: &str) -> Command {
    Command::Put {
        key: key.to_string(),
        value: value.to_string(),
    }
}

#[test]
fn put_then_get_returns_previous_value() {
    let mut state = State::default();
    assert_eq!(
        state.apply(&request("a", 1, put("k", "v1"))),
        Ok(Response::Put { previous: None })
    );
    assert_eq!(
        state.apply(&request("b", 2, put("k", "v2"))),
        Ok(Response::Put {
            previous: Some("v1".into())
        })
    );
    assert_eq!(state.get("k"), Some("v2"));
}

#[test]
fn retried_request_applies_once_and_returns_first_answer() {
    let mut state = State::default();
    let first = state.apply(&request("same", 1, put("k", "v1")));
    // Another client overwrites the key in between.
    let _ = state.apply(&request("other", 2, put("k", "v2")));
    // The retry of the first request must not apply again.
    let retry = state.apply(&request("same", 3, put("k", "v1")));
    assert_eq!(first, retry);
    assert_eq!(state.get("k"), Some("v2"));
}

#[test]
fn a_callers_request_is_audited_once_and_a_bad_name_changes_nothing() {
    use crate::audit::{Actor, Role};
    let mut state = State::default();
    let mut by = |id: &str, name: &str, command: Command| {
        let mut request = request(id, 1, command);
        request.actor = Some(Actor {
            name: name.into(),
            role: Role::Admin,
        });
        state.apply(&request)
    };
    by("a", "alice", put("k", "v")).unwrap();
    // The retry is answered from memory: no second entry.
    by("a", "alice", put("k", "v")).unwrap();
    let refused = by("b", "alice", Command::Heartbeat { name: "n".into() });
    assert!(refused.is_err());
    assert_eq!(by("c", "bad name", put("k", "w")), Err(Rejection::BadActor));
    assert_eq!(state.get("k"), Some("v"));
    let trail: Vec<_> = state.audit.after(0, 10).collect();
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert_eq!(
        (trail[0].action.as_str(), trail[0].refused.is_none()),
        ("kv.put", true)
    );
    assert_eq!(
        (trail[1].action.as_str(), trail[1].refused.is_some()),
        ("node.heartbeat", true)
    );
    // The cluster's own requests are not audited.
    let _ = state.apply(&request("d", 2, put("k", "x")));
    assert_eq!(state.audit.last_seq(), 2);
}

#[test]
fn request_ids_are_forgotten_after_the_window() {
    let mut state = State::default();
    let _ = state.apply(&request("old", 0, Command::Noop));
    assert_eq!(state.remembered_requests(), 1);
    let _ = state.apply(&request("new", IDEMPOTENCY_WINDOW_MS, Command::Noop));
    assert_eq!(state.remembered_requests(), 1, "the old id expired");
}

#[test]
fn cluster_time_never_goes_backwards() {
    let mut state = State::default();
    let _ = state.apply(&request("a", 100, Command::Noop));
    let _ = state.apply(&request("b", 40, Command::Noop));
    assert_eq!(state.time(), ClusterTime(100));
}

#[test]
fn invalid_commands_are_rejected_without_change() {
    let mut state = State::default();
    let _ = state.apply(&request("a", 1, put("k", "v")));
    let before = state.kv.clone();

    let too_long_key = "k".repeat(Command::MAX_KEY_LEN + 1);
    assert!(matches!(
        state.apply(&request("b", 2, put(&too_long_key, "v"))),
        Err(Rejection::BadKey { .. })
    ));
    assert!(matches!(
        state.apply(&request("c", 3, put("", "v"))),
        Err(Rejection::BadKey { .. })
    ));
    let huge = "x".repeat(Command::MAX_VALUE_LEN + 1);
    assert!(matches!(
        state.apply(&request("d", 4, put("k", &huge))),
        Err(Rejection::ValueTooLarge { .. })
    ));
    assert!(matches!(
        state.apply(&request("", 5, put("k", "w"))),
        Err(Rejection::BadRequestId { .. })
    ));
    assert_eq!(state.kv, before);
}

fn arb_request() -> impl Strategy<Value = Request> {
    let key = prop::sample::select(vec!["a", "b", "c"]);
    let id = prop::sample::select(vec!["r1", "r2", "r3", "r4", "r5", "r6"]);
    let command = prop_oneof![
        Just(Command::Noop),
        (key.clone(), "[a-z]{0,3}").prop_map(|(k, v)| put(k, &v)),
        key.prop_map(|k| Command::Delete { key: k.to_string() }),
    ];
    (id, 0u64..2 * IDEMPOTENCY_WINDOW_MS, command)
        .prop_map(|(id, time, command)| request(id, time, command))
}

proptest! {
    /// Replaying the same log gives the same state (determinism), and
    /// applying any entry twice in a row changes nothing the second time.
    #[test]
    fn apply_is_deterministic_and_retries_are_idempotent(log in prop::collection::vec(arb_request(), 0..60)) {
        let mut once = State::default();
        let mut replay = State::default();
        let mut doubled = State::default();
        for request in &log {
            let answer = once.apply(request);
            prop_assert_eq!(&answer, &replay.apply(request));
            let first = doubled.apply(request);
            let snapshot = doubled.clone();
            let second = doubled.apply(request);
            prop_assert_eq!(first, second);
            prop_assert_eq!(&snapshot.kv, &doubled.kv);
        }
        prop_assert_eq!(once, replay);
    }
}
