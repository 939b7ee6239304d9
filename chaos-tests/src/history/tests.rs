//! Parsing real `GET /v1/runs/{id}` bodies, and the history's helpers.

use super::*;

/// A `GET /v1/runs/{id}` body as `daemon/src/report/view.rs` writes it,
/// with every field, including those this crate ignores.
const RUN_DETAIL: &str = r#"{
  "id": "r-7f3a", "name": "chaos-small", "status": "running", "reason": null,
  "submitted_at": 1700000000000, "finished_at": null, "deadline": 1700000600000,
  "task_counts": {"total": 2, "pending": 0, "running": 1, "blocked": 0, "completed": 1,
                  "failed": 0, "cancelled": 0, "budget_exceeded": 0, "timed_out": 0},
  "tasks": [
    {"id": "scan", "master": "security", "worker": "scan", "priority": "high",
     "phase": null, "depends_on": [], "state": "completed", "reason": null,
     "approval_required": false, "approved": false, "budget": 1000, "tokens_spent": 420,
     "created_at": 1700000000000, "finished_at": 1700000005000,
     "attempts": [
       {"number": 1, "node": "node-2", "started_at": 1700000001000, "launched_at": null,
        "ended_at": 1700000002000, "reserved": 1000, "tokens_used": 0, "progress": 10,
        "message": "node lost", "end": "fenced", "end_reason": "node node-2 lost"},
       {"number": 2, "node": "node-3", "started_at": 1700000003000,
        "launched_at": 1700000003100, "ended_at": 1700000005000, "reserved": 1000,
        "tokens_used": 420, "progress": 100, "message": null, "end": "completed",
        "end_reason": null}],
     "result": "{\"ok\":true}"},
    {"id": "fix", "master": "development", "worker": "fix", "priority": "medium",
     "phase": "repair", "depends_on": ["scan"], "state": "running", "reason": null,
     "approval_required": true, "approved": true, "budget": 2000, "tokens_spent": 0,
     "created_at": 1700000000000, "finished_at": null,
     "attempts": [
       {"number": 1, "node": "node-1", "started_at": 1700000006000, "launched_at": null,
        "ended_at": null, "reserved": 2000, "tokens_used": 5, "progress": 0,
        "message": null, "end": null, "end_reason": null}],
     "result": null}],
  "ledger": {"total": 10000, "emergency_reserve": 1000, "emergency_reserve_left": 1000,
             "spent": 420, "reserved": 2000,
             "masters": {
               "security": {"allocation": 3000, "personal": 1000, "workers": 2000,
                            "granted": 0, "moved_in": 0, "moved_out": 0, "spent": 420,
                            "reserved": 0, "available": 2580, "overrun": 0},
               "development": {"allocation": 6000, "personal": 2000, "workers": 4000,
                               "granted": 0, "moved_in": 0, "moved_out": 0, "spent": 0,
                               "reserved": 2000, "available": 4000, "overrun": 0}}},
  "nodes": {"node-1": {"running": 1, "completed": 0, "failed": 0, "fenced": 0}},
  "handoffs": [], "escalations": []
}"#;

#[test]
fn run_snapshot_parses_a_run_detail_body() {
    let run: RunSnapshot = serde_json::from_str(RUN_DETAIL).expect("parses");
    assert_eq!(run.id, "r-7f3a");
    assert!(!run.is_ended());
    let scan = run.task("scan").expect("scan");
    assert!(scan.is_terminal());
    assert_eq!(scan.master, "security");
    assert_eq!(scan.finished_at, Some(1_700_000_005_000));
    assert_eq!(scan.last_attempt_number(), 2);
    assert!(scan.attempt(1).expect("first").is_fenced());
    let fix = run.task("fix").expect("fix");
    assert!(!fix.is_terminal());
    assert_eq!(fix.depends_on, ["scan"]);
    assert_eq!(fix.live_attempts().count(), 1);
    assert_eq!(run.ledger.reserved, 2000);
    assert_eq!(run.ledger.masters["development"].allocation, 6000);
    assert_eq!(run.attempts().count(), 3);
}

#[test]
fn run_snapshot_tolerates_nulls_and_missing_fields() {
    let body = r#"{"id":"r","status":"pending","tasks":[{"id":"a","attempts":null,
        "budget":null}],"ledger":{"total":5,"masters":null}}"#;
    let run: RunSnapshot = serde_json::from_str(body).expect("parses");
    assert_eq!(run.tasks[0].budget, 0);
    assert!(run.tasks[0].attempts.is_empty());
    assert!(run.ledger.masters.is_empty());
}

#[test]
fn history_round_trips_through_json() {
    let history = History {
        scenario: "kill-leader".into(),
        seed: 7,
        started_at: 1_000,
        faults: vec![FaultRecord {
            at: 1_500,
            fault: "kill".into(),
            target: "node-1".into(),
            note: String::new(),
        }],
        submissions: vec![Submission {
            at: 1_100,
            name: "a".into(),
            outcome: SubmitOutcome::Acked {
                run_id: "r1".into(),
            },
        }],
        ..History::default()
    };
    let text = serde_json::to_string(&history).expect("serializes");
    let back: History = serde_json::from_str(&text).expect("parses");
    assert_eq!(back.acked_run_ids(), BTreeSet::from(["r1"]));
    assert_eq!(back.faults, history.faults);
    assert_eq!(back.duration_ms(), 500);
}

#[test]
fn fault_targets_split_on_separators() {
    let fault = FaultRecord {
        fault: "partition".into(),
        target: "node-1|node-2, node-3".into(),
        ..FaultRecord::default()
    };
    assert_eq!(
        fault.targets().collect::<Vec<_>>(),
        ["node-1", "node-2", "node-3"]
    );
    assert!(fault.hits("node-2"));
    assert!(!fault.hits("node-4"));
    assert!(!fault.resets_state());
}
