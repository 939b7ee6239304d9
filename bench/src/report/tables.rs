//! One Markdown table per workload, with the ratios beside the figures.

use std::fmt::Write as _;

use super::targets::{floor_ms, pool_counts, ratio, reserve_level};
use crate::results::{Results, System};
use crate::stats::Latency;

/// `12.34`, or `–` when there is nothing to show.
fn times(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.2}×"))
}

fn latency_cells(latency: &Latency) -> String {
    format!(
        "{:.2} | {:.2} | {:.2} | {:.2}",
        latency.p50_ms, latency.p99_ms, latency.p999_ms, latency.max_ms
    )
}

/// The disk and network floor.
pub fn physical(out: &mut String, results: &Results) {
    let Some(physical) = results.physical else {
        return;
    };
    let _ = writeln!(out, "## Physical reference\n");
    let _ = writeln!(
        out,
        "| probe | p50 ms | p99 ms | samples |\n|---|---:|---:|---:|"
    );
    for (name, latency) in [
        ("4 KiB pwrite + fdatasync", physical.fsync_4k),
        ("loopback TCP round trip (1 byte)", physical.loopback_rtt),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.3} | {:.3} | {} |",
            latency.p50_ms, latency.p99_ms, latency.count
        );
    }
    if let Some(floor) = floor_ms(results) {
        let _ = writeln!(
            out,
            "\nFloor of one replicated commit (fsync + 2 round trips, p50): {floor:.3} ms.\n"
        );
    }
}

/// One table per pool count, then the ratios.
pub fn reserve(out: &mut String, results: &Results) {
    if results.reserve.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Budget reservations\n");
    for pools in pool_counts(results) {
        let _ = writeln!(out, "### {pools} pools\n");
        let _ = writeln!(
            out,
            "| clients | system | ops/s | p50 ms | p99 ms | p999 ms | max ms | ops | refused | \
             conflicts | balances |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        let mut rows: Vec<_> = results
            .reserve
            .iter()
            .filter(|r| r.pools == pools)
            .collect();
        rows.sort_by_key(|r| (r.clients, r.system));
        for level in rows {
            let verdict = match (level.failed(), level.hit_deadline) {
                (true, _) => "**FAILED**",
                (false, true) => "ok (hit deadline)",
                (false, false) => "ok",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
                level.clients,
                level.system,
                level.ops_per_s,
                latency_cells(&level.latency),
                level.ops,
                level.refused,
                level.conflicts,
                verdict
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "| pools | clients | Cortex ÷ etcd ops/s | Cortex p99 ÷ etcd p99 | Cortex ÷ Redis ops/s |\n\
         |---:|---:|---:|---:|---:|"
    );
    let mut levels: Vec<(u32, u32)> = results
        .reserve
        .iter()
        .map(|r| (r.pools, r.clients))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    for (pools, clients) in levels {
        let get = |system| reserve_level(results, system, pools, clients);
        let Some(cortex) = get(System::Cortex) else {
            continue;
        };
        let over = |system: System, p99: bool| {
            get(system).and_then(|other| match p99 {
                true => ratio(cortex.latency.p99_ms, other.latency.p99_ms),
                false => ratio(cortex.ops_per_s, other.ops_per_s),
            })
        };
        let _ = writeln!(
            out,
            "| {pools} | {clients} | {} | {} | {} |",
            times(over(System::Etcd, false)),
            times(over(System::Etcd, true)),
            times(over(System::Redis, false))
        );
    }
    let _ = writeln!(out);
    for level in results.reserve.iter().filter(|r| r.failed()) {
        let _ = writeln!(
            out,
            "- **FAILED** {} P={} c={}: {} errors{}; {}",
            level.system,
            level.pools,
            level.clients,
            level.errors,
            level
                .first_error
                .as_ref()
                .map_or_else(String::new, |e| format!(" (first: {e})")),
            level.check.problems.join("; ")
        );
    }
}

/// The put levels and their ratios.
pub fn write(out: &mut String, results: &Results) {
    if results.write.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Replicated writes (100-byte puts)\n");
    let _ = writeln!(
        out,
        "| clients | system | ops/s | p50 ms | p99 ms | p999 ms | max ms | puts | errors | \
         Cortex ÷ etcd ops/s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut rows: Vec<_> = results.write.iter().collect();
    rows.sort_by_key(|w| (w.clients, w.system));
    for level in rows {
        let etcd = results
            .write
            .iter()
            .find(|w| w.system == System::Etcd && w.clients == level.clients);
        let vs_etcd = match level.system {
            System::Cortex => etcd.and_then(|etcd| ratio(level.ops_per_s, etcd.ops_per_s)),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            level.clients,
            level.system,
            level.ops_per_s,
            latency_cells(&level.latency),
            level.ops,
            level.errors,
            times(vs_etcd)
        );
    }
    let _ = writeln!(out);
}

/// Every trial of every system.
pub fn failover(out: &mut String, results: &Results) {
    if results.failover.is_empty() {
        return;
    }
    let ms = |value: Option<f64>| value.map_or_else(|| "–".into(), |v| format!("{v:.0}"));
    let _ = writeln!(
        out,
        "## Leader failover (SIGKILL under 16 writing clients)\n"
    );
    let _ = writeln!(
        out,
        "| system | kill → next acknowledged write, ms (each trial) | median ms | \
         kill → all master leases held, ms (each trial) | median ms |\n|---|---|---:|---|---:|"
    );
    for result in &results.failover {
        let each = |pick: fn(&crate::results::FailoverTrial) -> Option<f64>| {
            let cells: Vec<String> = result.trials.iter().map(|t| ms(pick(t))).collect();
            cells.join(", ")
        };
        let leases = match result.system {
            System::Cortex => each(|t| t.leases_ms),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {leases} | {} |",
            result.system,
            each(|t| t.write_ms),
            ms(result.median_write_ms),
            ms(result.median_leases_ms)
        );
    }
    let _ = writeln!(out);
    for trial in results.failover.iter().flat_map(|f| &f.trials) {
        if let Some(note) = &trial.note {
            let _ = writeln!(out, "- trial killing member {}: {note}", trial.killed);
        }
    }
}

/// Dispatch and footprint, when measured.
pub fn cortex_only(out: &mut String, results: &Results) {
    if let Some(dispatch) = &results.dispatch {
        let _ = writeln!(out, "## Dispatch (no-op tasks)\n");
        let _ = writeln!(
            out,
            "| tasks | agents × capacity | seconds | tasks/s | submit → start p50 ms | p99 ms | max ms |\n\
             |---:|---:|---:|---:|---:|---:|---:|\n| {} | {} × {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} |\n",
            dispatch.tasks,
            dispatch.agents,
            dispatch.capacity,
            dispatch.elapsed_s,
            dispatch.tasks_per_s,
            dispatch.submit_to_start.p50_ms,
            dispatch.submit_to_start.p99_ms,
            dispatch.submit_to_start.max_ms
        );
    }
    if let Some(footprint) = &results.footprint {
        let list = |values: &[f64]| {
            let cells: Vec<String> = values.iter().map(|v| format!("{v:.1}")).collect();
            cells.join(", ")
        };
        let _ = writeln!(out, "## Footprint\n");
        let _ = writeln!(
            out,
            "| idle agent RSS MiB | voter RSS MiB | sled directory MiB |\n|---:|---|---|\n\
             | {:.1} | {} | {} |\n",
            footprint.idle_agent_rss_mib,
            list(&footprint.voter_rss_mib),
            list(&footprint.sled_dir_mib)
        );
    }
}
