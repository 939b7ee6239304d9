//! Waits on a [`ProcessCluster`]'s own view of itself: readiness, an agreed
//! leader, a node's applied index. Each asks the nodes over the admin API and
//! aborts at once, with the node's log, when a daemon exited on its own:
//! waiting longer for a dead process cannot help.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;

use super::ProcessCluster;
use crate::wait::{wait_until, Check};

impl ProcessCluster {
    /// Waits until every live node answers `GET /readyz` with 200.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let this = self;
        wait_until(timeout, "every live node to be ready", move || async move {
            let live = match this.live_or_crash() {
                Ok(live) => live,
                Err(error) => return Check::Abort(error),
            };
            let mut not_ready = Vec::new();
            for id in live {
                match this.api(id).readyz().await {
                    Ok(readiness) if readiness.ready => {}
                    Ok(readiness) => not_ready.push(format!("node {id}: 503 {}", readiness.body)),
                    Err(error) => not_ready.push(format!("node {id}: {error}")),
                }
            }
            this.unless_crashed(match not_ready.is_empty() {
                true => Check::Done(()),
                false => Check::Retry(not_ready.join("; ")),
            })
        })
        .await
    }

    /// The leader node `via` believes in, or `None` if it names none or does
    /// not answer.
    pub async fn leader(&self, via: u64) -> Option<u64> {
        self.api(via).cluster().await.ok()?.leader
    }

    /// Waits until every live node names the same leader, that leader is live
    /// and is not in `excluding` (pass the old leader to wait for a new one).
    pub async fn wait_leader(&self, timeout: Duration, excluding: &[u64]) -> anyhow::Result<u64> {
        let this = self;
        let why = format!("all live nodes to agree on a leader not in {excluding:?}");
        wait_until(timeout, &why, move || async move {
            let live = match this.live_or_crash() {
                Ok(live) => live,
                Err(error) => return Check::Abort(error),
            };
            let mut views = BTreeMap::new();
            for &id in &live {
                match this.api(id).cluster().await {
                    Ok(status) => views.insert(id, status.leader),
                    Err(error) => return Check::Retry(format!("node {id}: {error}")),
                };
            }
            let mut named = views.values().copied();
            this.unless_crashed(match named.next().flatten() {
                Some(leader)
                    if named.all(|other| other == Some(leader))
                        && live.contains(&leader)
                        && !excluding.contains(&leader) =>
                {
                    Check::Done(leader)
                }
                _ => Check::Retry(format!("leader by node: {views:?}")),
            })
        })
        .await
    }

    /// Waits until node `id` reports `last_applied >= index`; returns what it
    /// reported.
    pub async fn wait_applied(
        &self,
        id: u64,
        index: u64,
        timeout: Duration,
    ) -> anyhow::Result<u64> {
        let this = self;
        let why = format!("node {id} to apply log index {index}");
        wait_until(timeout, &why, move || async move {
            this.unless_crashed(match this.api(id).cluster().await {
                Ok(status) if status.last_applied >= index => Check::Done(status.last_applied),
                Ok(status) => Check::Retry(format!("last_applied {}", status.last_applied)),
                Err(error) => Check::Retry(error.to_string()),
            })
        })
        .await
    }

    /// The live nodes, or why waiting on them is pointless.
    fn live_or_crash(&self) -> anyhow::Result<Vec<u64>> {
        let live = self.live_ids();
        // After listing: a node that died in between is reported as a crash.
        self.check_no_crash()?;
        if live.is_empty() {
            bail!("no node is running (or all are paused)");
        }
        Ok(live)
    }

    /// `check`, unless a node exited by itself meanwhile: a probe must not
    /// succeed because the node it should have asked has died.
    fn unless_crashed<T>(&self, check: Check<T>) -> Check<T> {
        match self.check_no_crash() {
            Ok(()) => check,
            Err(crash) => Check::Abort(crash),
        }
    }
}
