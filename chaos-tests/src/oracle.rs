//! The client-side oracle: every write the cluster acknowledged, and the
//! check that each one is still readable with exactly its value.
//!
//! A write that failed or timed out may or may not have been applied, so only
//! acknowledged writes are recorded; retries of one write always send the same
//! value, which keeps the oracle exact. Tests should write each key at most
//! once (or with increasing values they track themselves).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use tokio::time::Instant;

use crate::api::AdminClient;
use crate::wait::{wait_until, Check};

/// One acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The value written.
    pub value: String,
    /// The Raft log index the cluster reported for it.
    pub index: u64,
}

/// Every acknowledged write, by key (the last one per key wins).
#[derive(Debug, Clone, Default)]
pub struct AckedWrites {
    /// Key to its last acknowledged write.
    writes: BTreeMap<String, Ack>,
}

impl AckedWrites {
    /// An empty oracle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `key = value` through `client`, retrying until the cluster
    /// acknowledges it or `timeout` passes; records and returns the write's
    /// log index.
    pub async fn put(
        &mut self,
        client: &AdminClient,
        key: &str,
        value: &str,
        timeout: Duration,
    ) -> anyhow::Result<u64> {
        let why = format!("{} to acknowledge `{key}`", client.base_url());
        let response = wait_until(timeout, &why, || client.put(key, value)).await?;
        self.record(key, value, response.index);
        Ok(response.index)
    }

    /// Records a write acknowledged some other way.
    pub fn record(&mut self, key: &str, value: &str, index: u64) {
        let ack = Ack {
            value: value.to_owned(),
            index,
        };
        self.writes.insert(key.to_owned(), ack);
    }

    /// How many keys have an acknowledged write.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether nothing was acknowledged yet.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The highest log index of any acknowledged write (0 if none): a node that
    /// applied it has applied every acknowledged write.
    pub fn max_index(&self) -> u64 {
        self.writes.values().map(|ack| ack.index).max().unwrap_or(0)
    }

    /// Every acknowledged write, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Ack)> {
        self.writes.iter().map(|(key, ack)| (key.as_str(), ack))
    }

    /// Reads every acknowledged key through `client` and checks its value.
    ///
    /// Requests that get no answer or an error status are retried until
    /// `timeout` (for all keys together); a missing key or a different value
    /// fails at once, since retrying cannot make a lost write come back.
    pub async fn verify(&self, client: &AdminClient, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for (key, ack) in &self.writes {
            let why = format!("{} to return acknowledged `{key}`", client.base_url());
            let remaining = deadline.saturating_duration_since(Instant::now());
            wait_until(remaining, &why, || async {
                match client.get(key).await {
                    Ok(Some(value)) if value == ack.value => Check::Done(()),
                    Ok(Some(value)) => Check::Abort(anyhow!(
                        "`{key}` reads {value:?}, but {:?} was acknowledged at index {}",
                        ack.value,
                        ack.index
                    )),
                    Ok(None) => Check::Abort(anyhow!(
                        "`{key}` is missing, but {:?} was acknowledged at index {}",
                        ack.value,
                        ack.index
                    )),
                    Err(error) => Check::Retry(error.to_string()),
                }
            })
            .await?;
        }
        Ok(())
    }
}
