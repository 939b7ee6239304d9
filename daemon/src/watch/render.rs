//! The seed's live view of a run, as text: one progress bar per master
//! with its latest activity, the workers of each node by phase, and tokens
//! against the budget.
//!
//! ```text
//! run r-3f2a full-orchestration: running, 12/30 tasks ended
//! tokens 45000 spent + 8000 reserved of 500000 (10%)
//!   coordinator-master   [████████████████████] 100%  coordinate masters done
//!   security-master      [████████████████░░░░]  80%  scanning catalog-system
//!   k3s-worker01  completed 3  running 1  failed 0  pending 0
//! ```

use std::fmt::Write as _;

use cortex_consensus::plan::MasterRole;

use super::model::RunModel;
use crate::report::view::wire_name;

/// Width of a progress bar, in cells.
const BAR: usize = 20;
/// Longest activity text shown on a master's line.
const ACTIVITY: usize = 60;

/// The whole view of `model`.
pub fn render(model: &RunModel) -> String {
    let (ended, total) = model.ended();
    let tokens = model.tokens();
    let used = tokens.spent + tokens.reserved;
    let mut out = format!(
        "run {} {}: {}, {ended}/{total} tasks ended\n",
        model.id,
        model.name,
        wire_name(&model.status)
    );
    let _ = writeln!(
        out,
        "tokens {} spent + {} reserved of {} ({}%)",
        tokens.spent,
        tokens.reserved,
        tokens.limit,
        percent(used, tokens.limit)
    );
    for master in model.masters() {
        let share = model.master_progress(master);
        let activity = model.activity.get(&master).map_or("", String::as_str);
        let _ = writeln!(
            out,
            "  {:<20} [{}] {:>3}%  {}",
            master_name(master),
            bar(share),
            (share * 100.0).round() as u32,
            cut(activity, ACTIVITY)
        );
    }
    for (node, [pending, running, completed, failed]) in model.nodes() {
        let _ = writeln!(
            out,
            "  {node:<14} completed {completed}  running {running}  failed {failed}  pending {pending}"
        );
    }
    out
}

fn master_name(master: MasterRole) -> String {
    format!("{master}-master")
}

/// A bar `share` (0.0 to 1.0) full.
fn bar(share: f64) -> String {
    let full = ((share.clamp(0.0, 1.0) * BAR as f64).round() as usize).min(BAR);
    format!("{}{}", "█".repeat(full), "░".repeat(BAR - full))
}

fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    part.saturating_mul(100) / whole
}

fn cut(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
