//! The Markdown report: the machine, the physical floor, one table per
//! workload with its ratios, and the targets with their verdicts. Pure
//! functions of [`Results`], so the report is tested without running
//! anything.

mod tables;
pub mod targets;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use crate::results::Results;
use targets::{judge, Verdict};

/// The whole report.
pub fn render(results: &Results) -> String {
    let mut out = String::from("# Cortex benchmark\n\n");
    if results.quick {
        out.push_str(
            "> `--quick` run: tiny counts, a smoke test of the tool. \
             These figures are not benchmark results.\n\n",
        );
    }
    machine(&mut out, results);
    tables::physical(&mut out, results);
    tables::reserve(&mut out, results);
    tables::write(&mut out, results);
    tables::failover(&mut out, results);
    tables::cortex_only(&mut out, results);
    targets(&mut out, results);
    if !results.errors.is_empty() {
        out.push_str("## Not measured\n\n");
        for error in &results.errors {
            let _ = writeln!(out, "- **FAILED** {error}");
        }
        out.push('\n');
    }
    out
}

fn machine(out: &mut String, results: &Results) {
    let m = &results.machine;
    let _ = writeln!(
        out,
        "{} ({} cores, {} MiB), Linux {}; data in {} ({}). {}; {}; {}. Seed {}.\n",
        m.cpu_model,
        m.cores,
        m.memory_mib,
        m.kernel,
        m.data_dir,
        m.data_fs,
        m.cortex_version,
        m.etcd_version,
        m.redis_version,
        results.seed
    );
    out.push_str(
        "All systems run on this machine on loopback, one at a time: three Cortex \
         voters (sled, default durability), three etcd members (default durability), \
         one Redis server (no persistence, no replication: the upper reference). \
         In the throughput workloads Cortex and etcd clients send every request to \
         the leader; in the failover they retry on every member.\n\n",
    );
}

fn targets(out: &mut String, results: &Results) {
    let judged = judge(results);
    if judged.is_empty() {
        return;
    }
    out.push_str("## Targets\n\n| target | figure | verdict |\n|---|---|---|\n");
    for target in judged {
        let verdict = match target.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Invalid => "**invalid** (a level failed)",
        };
        let _ = writeln!(out, "| {} | {} | {verdict} |", target.name, target.figure);
    }
    out.push('\n');
}
