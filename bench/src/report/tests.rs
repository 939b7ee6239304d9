//! The report and the targets, from hand-built results.

use super::render;
use super::targets::{judge, ratio, Verdict};
use crate::results::{
    BalanceCheck, DispatchResult, FailoverResult, FailoverTrial, FootprintResult, PhysicalResult,
    ReserveResult, Results, System, WriteResult,
};
use crate::stats::Latency;

fn latency(p50_ms: f64, p99_ms: f64) -> Latency {
    Latency {
        count: 1_000,
        p50_ms,
        p99_ms,
        p999_ms: p99_ms * 2.0,
        max_ms: p99_ms * 3.0,
    }
}

fn reserve(system: System, pools: u32, clients: u32, ops_per_s: f64, p99: f64) -> ReserveResult {
    ReserveResult {
        system,
        pools,
        clients,
        ops_per_s,
        ops: 20_000,
        latency: latency(p99 / 4.0, p99),
        check: BalanceCheck {
            passed: true,
            problems: Vec::new(),
        },
        ..ReserveResult::default()
    }
}

fn results() -> Results {
    let mut reserve_levels = Vec::new();
    for pools in [7, 700] {
        reserve_levels.push(reserve(System::Cortex, pools, 1, 400.0, 4.0));
        reserve_levels.push(reserve(System::Etcd, pools, 1, 300.0, 5.0));
        reserve_levels.push(reserve(System::Cortex, pools, 16, 3_000.0, 10.0));
        reserve_levels.push(reserve(System::Etcd, pools, 16, 1_000.0, 20.0));
        reserve_levels.push(reserve(System::Redis, pools, 16, 30_000.0, 1.0));
    }
    Results {
        seed: 7,
        physical: Some(PhysicalResult {
            fsync_4k: latency(1.0, 2.0),
            loopback_rtt: latency(0.05, 0.1),
        }),
        reserve: reserve_levels,
        write: vec![
            WriteResult {
                system: System::Cortex,
                clients: 1,
                ops_per_s: 500.0,
                latency: latency(2.0, 4.0),
                ..WriteResult::default()
            },
            WriteResult {
                system: System::Etcd,
                clients: 1,
                ops_per_s: 250.0,
                latency: latency(4.0, 8.0),
                ..WriteResult::default()
            },
        ],
        failover: vec![
            FailoverResult {
                system: System::Cortex,
                trials: vec![FailoverTrial {
                    killed: 2,
                    write_ms: Some(900.0),
                    leases_ms: Some(3_100.0),
                    note: None,
                }],
                median_write_ms: Some(900.0),
                median_leases_ms: Some(3_100.0),
            },
            FailoverResult {
                system: System::Etcd,
                trials: vec![FailoverTrial {
                    killed: 1,
                    write_ms: Some(1_200.0),
                    ..FailoverTrial::default()
                }],
                median_write_ms: Some(1_200.0),
                median_leases_ms: None,
            },
        ],
        ..Results::default()
    }
}

fn verdict_of<'a>(targets: &'a [super::targets::Target], name: &str) -> &'a Verdict {
    &targets
        .iter()
        .find(|t| t.name.contains(name))
        .unwrap_or_else(|| panic!("no target {name:?} in {targets:#?}"))
        .verdict
}

#[test]
fn ratios_need_a_measured_denominator() {
    assert_eq!(ratio(3_000.0, 1_000.0), Some(3.0));
    assert_eq!(ratio(3_000.0, 0.0), None);
}

#[test]
fn targets_are_judged_from_the_figures() {
    let targets = judge(&results());
    // 2 pool counts × (throughput + p99 at 16 clients, floor at 1 client),
    // the single-client put and the failover.
    assert_eq!(targets.len(), 8, "{targets:#?}");
    assert_eq!(
        verdict_of(&targets, "reservations/s ≥ 2× etcd (P=7, 16"),
        &Verdict::Met
    );
    assert_eq!(
        verdict_of(&targets, "p99 ≤ etcd's (P=700, 16"),
        &Verdict::Met
    );
    // 1.0 ms p50 against a floor of 1.0 + 2 × 0.05 ms.
    let floor = targets
        .iter()
        .find(|t| t.name.contains("reservation p50 at 1 client (P=7)"))
        .expect("floor target");
    assert_eq!(floor.verdict, Verdict::Met);
    assert_eq!(floor.figure, "1.00 ms = 0.91× of 1.10 ms");
    assert_eq!(verdict_of(&targets, "leader failover"), &Verdict::Met);
}

#[test]
fn slow_or_wrong_levels_miss_or_invalidate_their_targets() {
    let mut results = results();
    for level in &mut results.reserve {
        if level.system == System::Cortex && level.clients == 16 {
            level.ops_per_s = 1_500.0;
            if level.pools == 700 {
                level.check = BalanceCheck {
                    passed: false,
                    problems: vec!["p700c16-3: overspent".into()],
                };
            }
        }
    }
    results.failover[0].median_write_ms = Some(1_500.0);
    let targets = judge(&results);
    assert_eq!(
        verdict_of(&targets, "reservations/s ≥ 2× etcd (P=7, 16"),
        &Verdict::Missed
    );
    assert_eq!(
        verdict_of(&targets, "reservations/s ≥ 2× etcd (P=700, 16"),
        &Verdict::Invalid
    );
    assert_eq!(verdict_of(&targets, "leader failover"), &Verdict::Missed);
    assert!(results.failed());
    let markdown = render(&results);
    assert!(markdown.contains("**FAILED**"), "{markdown}");
    assert!(markdown.contains("p700c16-3: overspent"), "{markdown}");
}

#[test]
fn the_report_has_a_table_per_workload_and_the_ratios() {
    let markdown = render(&results());
    for heading in [
        "## Physical reference",
        "### 7 pools",
        "### 700 pools",
        "## Replicated writes",
        "## Leader failover",
        "## Targets",
    ] {
        assert!(markdown.contains(heading), "no {heading:?} in\n{markdown}");
    }
    // Cortex ÷ etcd, Cortex p99 ÷ etcd p99, Cortex ÷ Redis at P=7, c=16.
    assert!(
        markdown.contains("| 7 | 16 | 3.00× | 0.50× | 0.10× |"),
        "{markdown}"
    );
    assert!(markdown.contains("| 16 | Cortex | 3000 | 2.50 | 10.00 | 20.00 | 30.00 |"));
    assert!(
        markdown.contains("| Cortex | 900 | 900 | 3100 | 3100 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| etcd | 1200 | 1200 | n/a | – |"),
        "{markdown}"
    );
    assert!(!markdown.contains("## Dispatch") && !markdown.contains("## Footprint"));
    assert!(!markdown.contains("FAILED"));
}

#[test]
fn dispatch_and_footprint_are_rendered_when_present() {
    let mut results = results();
    results.dispatch = Some(DispatchResult {
        tasks: 10_000,
        agents: 4,
        capacity: 32,
        elapsed_s: 20.0,
        tasks_per_s: 500.0,
        submit_to_start: latency(3.0, 9.0),
    });
    results.footprint = Some(FootprintResult {
        idle_agent_rss_mib: 12.5,
        voter_rss_mib: vec![40.0, 41.5, 39.0],
        sled_dir_mib: vec![8.0, 8.0, 8.5],
    });
    let markdown = render(&results);
    assert!(
        markdown.contains("| 10000 | 4 × 32 | 20.0 | 500 | 3.00 | 9.00 | 27.00 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| 12.5 | 40.0, 41.5, 39.0 | 8.0, 8.0, 8.5 |"),
        "{markdown}"
    );
}

#[test]
fn results_survive_a_json_round_trip() {
    let results = results();
    let json = serde_json::to_string(&results).expect("serialize");
    let back: Results = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, results);
    assert!(json.contains("\"system\":\"cortex\""));
}
