//! The targets, judged from the results: each one names its
//! figure and whether it was met. A target whose figures come from a
//! failed level (errors, or balances that do not add up) is not met, it is
//! invalid: speed bought with wrong answers counts for nothing.

use crate::results::{ReserveResult, Results, System};

/// Reservation throughput Cortex must reach, as a multiple of etcd's.
pub const THROUGHPUT_OVER_ETCD: f64 = 2.0;
/// No-op tasks per second the dispatch target asks for.
const DISPATCH_TARGET: f64 = 2_000.0;
/// Largest resident memory of an idle agent the footprint target allows.
const IDLE_AGENT_MIB: f64 = 30.0;
/// Client counts the throughput and p99 targets apply to.
pub const CONTENDED_LEVELS: [u32; 2] = [16, 128];
/// Single-client latency allowed, as a multiple of the physical floor.
pub const FLOOR_MULTIPLE: f64 = 3.0;

/// Whether a target was met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The figure is within the target.
    Met,
    /// The figure is outside it.
    Missed,
    /// A figure it needs comes from a failed level.
    Invalid,
}

/// One judged target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What is promised, for which level.
    pub name: String,
    /// The measured figure it was judged on.
    pub figure: String,
    /// The judgement.
    pub verdict: Verdict,
}

/// `numerator / denominator`, when both were measured.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0 && numerator.is_finite()).then(|| numerator / denominator)
}

/// The reservation level of `system` with `pools` pools and `clients` clients.
pub fn reserve_level(
    results: &Results,
    system: System,
    pools: u32,
    clients: u32,
) -> Option<&ReserveResult> {
    results
        .reserve
        .iter()
        .find(|r| r.system == system && r.pools == pools && r.clients == clients)
}

/// The pool counts the reservation results cover, ascending.
pub fn pool_counts(results: &Results) -> Vec<u32> {
    let mut pools: Vec<u32> = results.reserve.iter().map(|r| r.pools).collect();
    pools.sort_unstable();
    pools.dedup();
    pools
}

/// Physical floor of one replicated commit: an fsync and two round trips (p50, ms).
pub fn floor_ms(results: &Results) -> Option<f64> {
    let physical = results.physical?;
    Some(physical.fsync_4k.p50_ms + 2.0 * physical.loopback_rtt.p50_ms)
}

/// Every target the results have the figures for.
pub fn judge(results: &Results) -> Vec<Target> {
    let mut targets = Vec::new();
    for pools in pool_counts(results) {
        for clients in CONTENDED_LEVELS {
            let cortex = reserve_level(results, System::Cortex, pools, clients);
            let etcd = reserve_level(results, System::Etcd, pools, clients);
            let (Some(cortex), Some(etcd)) = (cortex, etcd) else {
                continue;
            };
            let valid = !cortex.failed() && !etcd.failed();
            if let Some(times) = ratio(cortex.ops_per_s, etcd.ops_per_s) {
                targets.push(Target {
                    name: format!(
                        "reservations/s ≥ {THROUGHPUT_OVER_ETCD}× etcd (P={pools}, {clients} clients)"
                    ),
                    figure: format!(
                        "{times:.2}× ({:.0} vs {:.0} ops/s)",
                        cortex.ops_per_s, etcd.ops_per_s
                    ),
                    verdict: verdict(valid, times >= THROUGHPUT_OVER_ETCD),
                });
            }
            if let Some(times) = ratio(cortex.latency.p99_ms, etcd.latency.p99_ms) {
                targets.push(Target {
                    name: format!("reservation p99 ≤ etcd's (P={pools}, {clients} clients)"),
                    figure: format!(
                        "{:.2} vs {:.2} ms ({times:.2}×)",
                        cortex.latency.p99_ms, etcd.latency.p99_ms
                    ),
                    verdict: verdict(valid, times <= 1.0),
                });
            }
        }
        if let (Some(single), Some(floor)) = (
            reserve_level(results, System::Cortex, pools, 1),
            floor_ms(results),
        ) {
            targets.push(floor_target(
                format!("reservation p50 at 1 client (P={pools})"),
                single.latency.p50_ms,
                floor,
                !single.failed(),
            ));
        }
    }
    let single_write = results
        .write
        .iter()
        .find(|w| w.system == System::Cortex && w.clients == 1);
    if let (Some(single), Some(floor)) = (single_write, floor_ms(results)) {
        targets.push(floor_target(
            "replicated put p50 at 1 client".into(),
            single.latency.p50_ms,
            floor,
            single.errors == 0,
        ));
    }
    let failover = |system| {
        results
            .failover
            .iter()
            .find(|f| f.system == system)
            .and_then(|f| f.median_write_ms)
    };
    if let (Some(cortex), Some(etcd)) = (failover(System::Cortex), failover(System::Etcd)) {
        targets.push(Target {
            name: "leader failover ≤ etcd's (median, kill to next acknowledged write)".into(),
            figure: format!("{cortex:.0} vs {etcd:.0} ms"),
            verdict: verdict(true, cortex <= etcd),
        });
    }
    if let Some(dispatch) = &results.dispatch {
        targets.push(Target {
            name: format!("dispatch ≥ {DISPATCH_TARGET} no-op tasks/s on 4 agents"),
            figure: format!("{:.0} tasks/s", dispatch.tasks_per_s),
            verdict: verdict(true, dispatch.tasks_per_s >= DISPATCH_TARGET),
        });
    }
    if let Some(footprint) = &results.footprint {
        targets.push(Target {
            name: format!("idle agent RSS ≤ {IDLE_AGENT_MIB} MiB"),
            figure: format!("{:.1} MiB", footprint.idle_agent_rss_mib),
            verdict: verdict(true, footprint.idle_agent_rss_mib <= IDLE_AGENT_MIB),
        });
    }
    targets
}

fn floor_target(what: String, p50_ms: f64, floor: f64, valid: bool) -> Target {
    let times = ratio(p50_ms, floor).unwrap_or(f64::INFINITY);
    Target {
        name: format!("{what} ≤ {FLOOR_MULTIPLE}× (fsync + 2 loopback round trips)"),
        figure: format!("{p50_ms:.2} ms = {times:.2}× of {floor:.2} ms"),
        verdict: verdict(valid, times <= FLOOR_MULTIPLE),
    }
}

fn verdict(valid: bool, within: bool) -> Verdict {
    match (valid, within) {
        (false, _) => Verdict::Invalid,
        (true, true) => Verdict::Met,
        (true, false) => Verdict::Missed,
    }
}
