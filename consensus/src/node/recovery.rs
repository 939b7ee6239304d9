//! The vote gate of a voter that lost its disk.
//!
//! Raft assumes a voter never forgets what it acknowledged. A voter whose data
//! directory was wiped has forgotten, and if it voted right away it could
//! help elect a candidate that lacks entries committed with the wiped node's
//! help (openraft's FAQ walks through the data loss). So a node that starts
//! empty while its peers already form a cluster refuses to vote until its log
//! reaches the last index its peers reported when it came back. It still
//! accepts entries and snapshots, so it catches up; then it votes again.
//!
//! The target is kept in a file in the data directory, so a crash while
//! catching up does not reopen the gate early.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Whether this node may vote, and until when it may not.
pub(super) struct RecoveryGate {
    marker: PathBuf,
    until: Mutex<Option<u64>>,
}

impl RecoveryGate {
    /// Loads a recovery left unfinished by a previous run.
    pub(super) fn load(data_dir: &Path) -> RecoveryGate {
        let marker = data_dir.join("recovering-until");
        let until = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        RecoveryGate {
            marker,
            until: Mutex::new(until),
        }
    }

    /// Starts refusing votes until the local log reaches `index`.
    pub(super) fn begin(&self, index: u64) -> std::io::Result<()> {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_none() {
            std::fs::write(&self.marker, index.to_string())?;
            *until = Some(index);
            tracing::warn!(
                until = index,
                "rejoining with an empty log; not voting until caught up"
            );
        }
        Ok(())
    }

    /// True when this node may vote, given its last log index. Opens the
    /// gate for good once the target is reached.
    pub(super) fn may_vote(&self, last_log_index: Option<u64>) -> bool {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            None => true,
            Some(target) if last_log_index.unwrap_or(0) >= target => {
                let _ = std::fs::remove_file(&self.marker);
                *until = None;
                tracing::info!(target, "caught up after rejoining; voting again");
                true
            }
            Some(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_survives_a_restart_and_opens_once_caught_up() {
        let dir = tempfile::tempdir().unwrap();
        let gate = RecoveryGate::load(dir.path());
        assert!(gate.may_vote(None));
        gate.begin(10).unwrap();
        assert!(!gate.may_vote(Some(9)));

        let reloaded = RecoveryGate::load(dir.path());
        assert!(
            !reloaded.may_vote(Some(3)),
            "a restart keeps the gate closed"
        );
        assert!(reloaded.may_vote(Some(10)));
        assert!(
            RecoveryGate::load(dir.path()).may_vote(None),
            "opened for good"
        );
    }
}
