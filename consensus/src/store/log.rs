//! The Raft log on sled.
//!
//! Entries are keyed by their index (big-endian, so sled's order is log
//! order). Appends are acknowledged to openraft only after they reach disk:
//! a single flusher task fsyncs once for every batch of appends that queued
//! up while the previous fsync ran (group commit), which keeps one fsync per
//! round trip under load instead of one per entry.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, OptionalSend, RaftLogReader, StorageIOError, Vote};
use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::mpsc;

use super::codec::{decode, encode};
use crate::types::{Entry, LogId, NodeId, StorageError, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

/// The Raft log and the vote, in sled trees `log` and `log_meta`.
pub struct LogStore {
    db: sled::Db,
    reader: LogReader,
    meta: sled::Tree,
    flushes: mpsc::UnboundedSender<LogFlushed<TypeConfig>>,
}

/// A cheap, cloneable reader of the log (sled trees are shared handles).
#[derive(Clone)]
pub struct LogReader {
    log: sled::Tree,
}

impl LogStore {
    /// Opens the log in `db` and starts its flusher task.
    pub fn open(db: sled::Db) -> Result<Self, sled::Error> {
        let log = db.open_tree("log")?;
        let meta = db.open_tree("log_meta")?;
        let (flushes, pending) = mpsc::unbounded_channel();
        tokio::spawn(flush_appends(db.clone(), pending));
        Ok(LogStore {
            db,
            reader: LogReader { log },
            meta,
            flushes,
        })
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StorageError> {
        let Some(bytes) = self.meta.get(key).map_err(|e| StorageIOError::read(&e))? else {
            return Ok(None);
        };
        let value = decode(&bytes).map_err(|e| StorageIOError::read(&e))?;
        Ok(Some(value))
    }

    fn write_meta<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError> {
        let bytes = encode(value).map_err(|e| StorageIOError::write(&e))?;
        self.meta
            .insert(key, bytes)
            .map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }

    /// Makes everything written so far durable, off the async threads.
    async fn sync(&self) -> Result<(), StorageError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StorageIOError::write(&e))?
            .map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }
}

/// Completes append callbacks once their entries are on disk, fsyncing once
/// per batch of queued callbacks. Callbacks complete in the order appends
/// were made, because they are taken from one queue and flushed together.
async fn flush_appends(db: sled::Db, mut pending: mpsc::UnboundedReceiver<LogFlushed<TypeConfig>>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = pending.try_recv() {
            batch.push(next);
        }
        let db = db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
        for callback in batch {
            let result = match &flushed {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            callback.log_io_completed(result);
        }
    }
}

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_bound(bound: Bound<&u64>) -> Bound<[u8; 8]> {
    match bound {
        Bound::Included(i) => Bound::Included(key(*i)),
        Bound::Excluded(i) => Bound::Excluded(key(*i)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let range = (key_bound(range.start_bound()), key_bound(range.end_bound()));
        let mut entries = Vec::new();
        for item in self.log.range(range) {
            let (_, bytes) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            entries.push(decode(&bytes).map_err(|e| StorageIOError::read_logs(&e))?);
        }
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let last = match self.reader.log.last() {
            Ok(Some((_, bytes))) => {
                let entry: Entry = decode(&bytes).map_err(|e| StorageIOError::read_logs(&e))?;
                Some(entry.log_id)
            }
            Ok(None) => None,
            Err(e) => return Err(StorageIOError::read_logs(&e).into()),
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last.or(last_purged_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.write_meta(VOTE, vote)?;
        // A vote must be on disk before it is answered, or a restarted node
        // could vote twice in one term.
        self.sync().await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not flushed on purpose: losing it only means re-applying from the
        // last snapshot after a crash, which the log still allows.
        self.write_meta(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes = encode(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            batch.insert(&key(entry.log_id.index), bytes);
        }
        self.reader
            .log
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.flushes.send(callback).map_err(|_| {
            StorageIOError::write_logs(&std::io::Error::other("log flusher stopped"))
        })?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for item in self.reader.log.range(key(log_id.index)..) {
            let (k, _) = item.map_err(|e| StorageIOError::write_logs(&e))?;
            batch.remove(k);
        }
        self.reader
            .log
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // Truncation is rare (a follower's conflicting tail); make it durable
        // so a restart cannot resurrect the removed entries.
        self.sync().await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Record the purge point first: a crash halfway leaves extra entries
        // below it, which are harmless, never a gap above it.
        self.write_meta(LAST_PURGED, &log_id)?;
        let mut batch = sled::Batch::default();
        for item in self.reader.log.range(..=key(log_id.index)) {
            let (k, _) = item.map_err(|e| StorageIOError::write_logs(&e))?;
            batch.remove(k);
        }
        self.reader
            .log
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
