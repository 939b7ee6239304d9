//! The state machine as openraft sees it: applies entries to the pure
//! [`State`], builds snapshots while serving, installs received ones, and
//! keeps the newest snapshot in sled so a restart replays only the log since.
//!
//! The machine is held as `Arc<Machine>` behind a lock. A snapshot takes a
//! cheap `Arc` clone and encodes it on a blocking thread while entries keep
//! being applied; the next apply copies the machine once (`Arc::make_mut`)
//! instead of waiting for the snapshot to finish.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::codec::{decode, encode};
use crate::command::Outcome;
use crate::events::{Event, EventFeed, EventId};
use crate::state::State;
use crate::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const CURRENT_SNAPSHOT: &[u8] = b"current";

/// The applied state plus what Raft needs to know about it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Last entry applied to `state`.
    pub last_applied: Option<LogId>,
    /// The membership as of `last_applied`.
    pub membership: StoredMembership,
    /// The replicated domain state.
    pub state: State,
}

/// A snapshot as kept on disk: openraft's metadata and the encoded machine.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

type Shared = Arc<RwLock<Arc<Machine>>>;

/// Read access to the applied state for queries (the admin API) and for
/// the loops that react to it.
#[derive(Clone)]
pub struct StateReader {
    machine: Shared,
    applied: watch::Receiver<u64>,
    apply_latency: Histogram,
    events: EventFeed,
}

impl StateReader {
    /// Ticks with the last applied log index after every applied batch, so
    /// loops wake on change instead of polling.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// The events derived from applied entries (see [`crate::events`]).
    pub fn events(&self) -> &EventFeed {
        &self.events
    }

    /// Seconds each applied batch held the state (the write lock), for the
    /// `cortex_raft_apply_duration_seconds` metric.
    pub fn apply_latency(&self) -> Histogram {
        self.apply_latency.clone()
    }

    /// Runs `read` against the current machine. Keep it short: applies wait.
    pub fn read<T>(&self, read: impl FnOnce(&Machine) -> T) -> T {
        let guard = self.machine.read().unwrap_or_else(|e| e.into_inner());
        read(&guard)
    }
}

/// openraft's state machine, backed by sled for snapshots.
pub struct StateMachineStore {
    machine: Shared,
    snapshots: Arc<SnapshotFiles>,
    applied: watch::Sender<u64>,
    apply_latency: Histogram,
    events: EventFeed,
}

/// Where snapshots are persisted; shared with snapshot builders.
struct SnapshotFiles {
    db: sled::Db,
    tree: sled::Tree,
    /// Serialises writers so an older snapshot never replaces a newer one.
    write_lock: Mutex<()>,
    /// Makes snapshot ids unique within this process.
    sequence: AtomicU64,
}

impl SnapshotFiles {
    fn load(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        let Some(bytes) = self
            .tree
            .get(CURRENT_SNAPSHOT)
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
        else {
            return Ok(None);
        };
        let stored = decode(&bytes).map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Some(stored))
    }

    /// Stores `stored` durably unless a newer snapshot is already there.
    fn save(&self, stored: &StoredSnapshot) -> Result<(), StorageError> {
        let signature = Some(stored.meta.signature());
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = self.load()? {
            if existing.meta.last_log_id > stored.meta.last_log_id {
                return Ok(());
            }
        }
        let bytes =
            encode(stored).map_err(|e| StorageIOError::write_snapshot(signature.clone(), &e))?;
        self.tree
            .insert(CURRENT_SNAPSHOT, bytes)
            .map_err(|e| StorageIOError::write_snapshot(signature.clone(), &e))?;
        self.db
            .flush()
            .map_err(|e| StorageIOError::write_snapshot(signature, &e))?;
        Ok(())
    }
}

impl StateMachineStore {
    /// Opens the state machine, starting from the stored snapshot if any.
    pub fn open(db: sled::Db) -> Result<Self, StorageError> {
        let tree = db
            .open_tree("snapshots")
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let snapshots = Arc::new(SnapshotFiles {
            db,
            tree,
            write_lock: Mutex::new(()),
            sequence: AtomicU64::new(0),
        });
        let machine = match snapshots.load()? {
            Some(stored) => {
                decode(&stored.data).map_err(|e| StorageIOError::read_snapshot(None, &e))?
            }
            None => Machine::default(),
        };
        let last_applied = machine.last_applied.map_or(0, |id| id.index);
        let (applied, _) = watch::channel(last_applied);
        Ok(StateMachineStore {
            machine: Arc::new(RwLock::new(Arc::new(machine))),
            snapshots,
            applied,
            // 10 µs .. ~2.6 s: an apply is usually microseconds; a large
            // catalog batch or a copy-on-write after a snapshot takes longer.
            apply_latency: Histogram::new(exponential_buckets(1e-5, 4.0, 10)),
            events: EventFeed::starting_after(last_applied),
        })
    }

    /// A handle for reading the applied state.
    pub fn reader(&self) -> StateReader {
        StateReader {
            machine: self.machine.clone(),
            applied: self.applied.subscribe(),
            apply_latency: self.apply_latency.clone(),
            events: self.events.clone(),
        }
    }

    fn current(&self) -> Arc<Machine> {
        self.machine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Builds one snapshot from the machine as it was when the build was asked for.
pub struct SnapshotBuilder {
    machine: Arc<Machine>,
    snapshots: Arc<SnapshotFiles>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let machine = self.machine.clone();
        let snapshots = self.snapshots.clone();
        let sequence = snapshots.sequence.fetch_add(1, Ordering::Relaxed);
        // Encoding a large state is CPU work; keep it off the async threads.
        let stored = tokio::task::spawn_blocking(move || {
            let data = encode(&*machine).map_err(|e| StorageIOError::write_snapshot(None, &e))?;
            let snapshot_id = match machine.last_applied {
                Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, sequence),
                None => format!("empty-{sequence}"),
            };
            let meta = SnapshotMeta {
                last_log_id: machine.last_applied,
                last_membership: machine.membership.clone(),
                snapshot_id,
            };
            let stored = StoredSnapshot { meta, data };
            snapshots.save(&stored)?;
            Ok::<_, StorageError>(stored)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(None, &e))??;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let machine = self.current();
        Ok((machine.last_applied, machine.membership.clone()))
    }

    #[tracing::instrument(level = "trace", skip_all)]
    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Outcome>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let started = std::time::Instant::now();
        let mut guard = self.machine.write().unwrap_or_else(|e| e.into_inner());
        let machine = Arc::make_mut(&mut guard);
        let mut outcomes = Vec::new();
        let mut events = Vec::new();
        let mut kinds = Vec::new();
        for entry in entries {
            machine.last_applied = Some(entry.log_id);
            let outcome = match entry.payload {
                EntryPayload::Blank => {
                    machine.state.note_leader_change();
                    Vec::new()
                }
                EntryPayload::Normal(batch) => {
                    // Events of every request of the entry share its index;
                    // `n` keeps counting across the requests.
                    let mut outcomes = Vec::with_capacity(batch.0.len());
                    let mut n = 0u32;
                    for request in &batch.0 {
                        outcomes.push(machine.state.apply_observed(request, &mut kinds));
                        let at = machine.state.time().0;
                        events.extend(kinds.drain(..).map(|kind| {
                            let id = EventId {
                                index: entry.log_id.index,
                                n,
                            };
                            n += 1;
                            Arc::new(Event::replicated(id, at, kind))
                        }));
                    }
                    outcomes
                }
                EntryPayload::Membership(membership) => {
                    machine.membership = StoredMembership::new(Some(entry.log_id), membership);
                    Vec::new()
                }
            };
            outcomes.push(outcome);
        }
        let last = machine.last_applied.map_or(0, |id| id.index);
        self.events.keep(&events);
        drop(guard);
        self.apply_latency.observe(started.elapsed().as_secs_f64());
        self.events.send(events);
        self.applied.send_replace(last);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            machine: self.current(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let signature = Some(meta.signature());
        let data = snapshot.into_inner();
        let mut machine: Machine =
            decode(&data).map_err(|e| StorageIOError::read_snapshot(signature, &e))?;
        // The metadata is authoritative for what the snapshot covers.
        machine.last_applied = meta.last_log_id;
        machine.membership = meta.last_membership.clone();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        let snapshots = self.snapshots.clone();
        let stored = tokio::task::spawn_blocking(move || snapshots.save(&stored).map(|_| stored))
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))??;
        drop(stored);
        let last = machine.last_applied.map_or(0, |id| id.index);
        *self.machine.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(machine);
        self.events.jumped(last);
        self.applied.send_replace(last);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let snapshots = self.snapshots.clone();
        let stored = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))??;
        Ok(stored.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}
