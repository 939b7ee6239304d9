//! Who changed what: the replicated audit trail of the changes people and
//! programs make through the admin API and GraphQL.
//!
//! A request written on behalf of an authenticated caller carries its
//! [`Actor`]; applying it appends an [`AuditEntry`] (who, what, on what,
//! when, and whether it was refused) to the [`AuditLog`] in the replicated
//! state, so every voter holds the same trail and it survives crashes. The
//! log keeps the newest [`AuditLog::KEPT`] entries. Token values never get
//! here: an actor is a name and a role.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogCommand;
use crate::command::{ClusterTime, Command, Outcome};
use crate::state::pools::PoolCommand;

/// What a caller may do, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also submits and cancels runs, approves tasks, resolves
    /// escalations, reserves from pools and edits the catalog.
    Operator,
    /// Everything: cluster membership, pools, the diagnostic key space,
    /// the audit trail.
    Admin,
}

impl Role {
    /// Its name as written in token files and errors.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses `viewer`, `operator` or `admin`.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An authenticated caller: the name its token was given and its role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The token's name (never the token itself).
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Actor {
    /// Longest name accepted.
    pub const MAX_NAME_LEN: usize = 64;

    /// Whether `name` is 1 to [`Actor::MAX_NAME_LEN`] characters of
    /// `A-Z a-z 0-9 . _ -` (names end up in logs and the audit trail).
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= Actor::MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the trail, from 1, never reused.
    pub seq: u64,
    /// When it was applied (the entry's cluster time).
    pub at: ClusterTime,
    /// Who.
    pub actor: String,
    /// With which role.
    pub role: Role,
    /// What, as `area.verb` (`run.submit`, `pool.reserve`, ...).
    pub action: String,
    /// On what (a run id, `run/task`, a pool, a key, an asset).
    pub target: String,
    /// Why the state machine refused it, if it did (nothing changed then).
    pub refused: Option<String>,
}

/// The newest audited changes, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    entries: VecDeque<AuditEntry>,
    last_seq: u64,
}

impl AuditLog {
    /// Entries kept; older ones are dropped as new ones come.
    pub const KEPT: usize = 10_000;

    /// Appends what `actor` did with `command` and how it ended.
    pub fn record(&mut self, at: ClusterTime, actor: &Actor, command: &Command, outcome: &Outcome) {
        let (action, target) = describe(command);
        self.last_seq += 1;
        self.entries.push_back(AuditEntry {
            seq: self.last_seq,
            at,
            actor: actor.name.clone(),
            role: actor.role,
            action: action.to_string(),
            target,
            refused: outcome.as_ref().err().map(ToString::to_string),
        });
        while self.entries.len() > AuditLog::KEPT {
            self.entries.pop_front();
        }
    }

    /// Sequence number of the newest entry (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The newest entry.
    pub fn last(&self) -> Option<&AuditEntry> {
        self.entries.back()
    }

    /// Up to `limit` entries after `seq`, oldest first.
    pub fn after(&self, seq: u64, limit: usize) -> impl Iterator<Item = &AuditEntry> {
        // Sequence numbers are consecutive, so the start is arithmetic.
        let first = self.entries.front().map_or(0, |e| e.seq);
        let skip = (seq + 1).saturating_sub(first) as usize;
        self.entries.iter().skip(skip).take(limit)
    }
}

/// The action name and target of `command`.
pub fn describe(command: &Command) -> (&'static str, String) {
    match command {
        Command::SubmitRun { run, .. } => ("run.submit", run.to_string()),
        Command::CancelRun { run, .. } => ("run.cancel", run.to_string()),
        Command::ApproveTask { run, task } => ("task.approve", format!("{run}/{task}")),
        Command::ResolveEscalation {
            run, escalation, ..
        } => ("escalation.resolve", format!("{run}/{escalation}")),
        Command::RegisterNode { name, .. } => ("node.register", name.clone()),
        Command::Heartbeat { name } => ("node.heartbeat", name.clone()),
        Command::AcquireLease { role, .. } => ("lease.acquire", role.to_string()),
        Command::ReleaseLease { fence, .. } => ("lease.release", fence.role.to_string()),
        Command::AssignTask { run, task, .. } => ("task.assign", format!("{run}/{task}")),
        Command::ReportAttempt { run, task, .. } => ("attempt.report", format!("{run}/{task}")),
        Command::FenceNode { node, .. } => ("node.fence", node.clone()),
        Command::ExpireAttempt { run, task, .. } => ("attempt.expire", format!("{run}/{task}")),
        Command::ExpireRun { run, .. } => ("run.expire", run.to_string()),
        Command::BudgetShortfall { run, task, .. } => ("budget.shortfall", format!("{run}/{task}")),
        Command::Reallocate { run, .. } => ("budget.reallocate", run.to_string()),
        Command::Catalog(command) => describe_catalog(command),
        Command::Pool(command) => describe_pool(command),
        Command::Noop => ("noop", String::new()),
        Command::Put { key, .. } => ("kv.put", key.clone()),
        Command::Delete { key } => ("kv.delete", key.clone()),
        Command::Audit { action, target } => (action.name(), target.clone()),
    }
}

fn describe_catalog(command: &CatalogCommand) -> (&'static str, String) {
    match command {
        CatalogCommand::Upsert { source, .. } => ("catalog.upsert", source.clone()),
        CatalogCommand::FinishSync { source, .. } => ("catalog.finish_sync", source.clone()),
        CatalogCommand::Add { asset, .. } => ("catalog.add", asset.id.clone()),
        CatalogCommand::Update { id, .. } => ("catalog.update", id.clone()),
        CatalogCommand::Delete { id, .. } => ("catalog.delete", id.clone()),
    }
}

fn describe_pool(command: &PoolCommand) -> (&'static str, String) {
    match command {
        PoolCommand::Open { pool, .. } => ("pool.open", pool.clone()),
        PoolCommand::Reserve {
            pool, reservation, ..
        } => ("pool.reserve", format!("{pool}/{reservation}")),
        PoolCommand::Settle {
            pool, reservation, ..
        } => ("pool.settle", format!("{pool}/{reservation}")),
    }
}

/// Changes made outside the state machine that are audited all the same:
/// Raft applies membership changes itself, so the API records them with
/// [`Command::Audit`] once they are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutsideChange {
    /// A voter was added.
    AddVoter,
    /// A voter was removed.
    RemoveVoter,
}

impl OutsideChange {
    /// Its action name.
    pub fn name(self) -> &'static str {
        match self {
            OutsideChange::AddVoter => "cluster.add_voter",
            OutsideChange::RemoveVoter => "cluster.remove_voter",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Rejection, Response};

    fn alice() -> Actor {
        Actor {
            name: "alice".into(),
            role: Role::Operator,
        }
    }

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        for role in [Role::Viewer, Role::Operator, Role::Admin] {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(Actor::valid_name("ci-bot.prod_1"));
        for bad in ["", "has space", "new\nline", "é", &"x".repeat(65)] {
            assert!(!Actor::valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn entries_record_refusals_and_page_by_sequence() {
        let mut log = AuditLog::default();
        let put = Command::Put {
            key: "k".into(),
            value: "v".into(),
        };
        log.record(ClusterTime(5), &alice(), &put, &Ok(Response::Done));
        let refused = Err(Rejection::NodeNotSilent("n".into()));
        log.record(ClusterTime(6), &alice(), &put, &refused);
        assert_eq!(log.last_seq(), 2);
        let all: Vec<_> = log.after(0, 10).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].action.as_str(), all[0].target.as_str()),
            ("kv.put", "k")
        );
        assert_eq!(all[0].refused, None);
        assert!(all[1].refused.as_deref().unwrap().contains("not silent"));
        assert_eq!(log.after(1, 10).map(|e| e.seq).collect::<Vec<_>>(), [2]);
        assert_eq!(log.after(2, 10).count(), 0);
        assert_eq!(log.after(0, 1).count(), 1);
    }

    #[test]
    fn only_the_newest_entries_are_kept() {
        let mut log = AuditLog::default();
        for n in 0..AuditLog::KEPT as u64 + 3 {
            log.record(
                ClusterTime(n),
                &alice(),
                &Command::Noop,
                &Ok(Response::Done),
            );
        }
        let oldest = log.after(0, 1).next().unwrap().seq;
        assert_eq!(oldest, 4);
        assert_eq!(log.after(0, usize::MAX).count(), AuditLog::KEPT);
        // Asking from before the oldest kept entry starts at the oldest.
        assert_eq!(log.after(2, 1).next().unwrap().seq, 4);
        assert_eq!(
            log.after(AuditLog::KEPT as u64, 1).next().unwrap().seq,
            AuditLog::KEPT as u64 + 1
        );
    }
}
