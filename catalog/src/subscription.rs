//! Live subscriptions (served over `graphql-transport-ws` by the daemon).
//!
//! Asset events come from the catalog's replicated event stream, so a
//! subscriber on any voter sees every change in the same order, each with
//! its cursor. A client that reconnects passes the last cursor it saw as
//! `after` and receives every event since, as long as the stream still
//! holds them (`MAX_EVENTS`); otherwise the subscription ends with
//! `CURSOR_EXPIRED` and the client reloads. Without `after`, a subscription
//! starts at the newest event. `workerProgress` follows one worker (an
//! attempt) and ends after its final state.

use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, SimpleObject, Subscription, ID};
use cortex_consensus::catalog::{CatalogEvent, ChangeKind};
use tokio::sync::watch;

use crate::asset::{AssetNode, View};
use crate::cluster::{catalog, read, SharedCluster};
use crate::enums::Change;
use crate::error::{fail, ApiError};
use crate::scalars::DateTime;
use crate::workers::{find_worker, parse_worker_id, Worker, WorkerState};

/// Events read from the state at once.
const READ_BATCH: usize = 256;

/// A change to the catalog.
#[derive(SimpleObject)]
pub struct AssetEvent {
    /// Pass as `after` to resume after this event.
    cursor: String,
    /// What happened.
    kind: Change,
    /// When.
    at: DateTime,
    /// Who did it.
    by: String,
    /// The asset as of this event (as it was, for a removal).
    asset: AssetNode,
    /// The fields that changed (updates only).
    changed_fields: Vec<String>,
}

impl AssetEvent {
    fn new(event: &CatalogEvent, view: &View) -> AssetEvent {
        AssetEvent {
            cursor: event.seq.to_string(),
            kind: event.kind.into(),
            at: DateTime(event.at),
            by: event.by.clone(),
            asset: AssetNode::new(event.asset.clone(), view),
            changed_fields: event.fields.clone(),
        }
    }
}

/// Where one event subscription is.
struct EventCursor {
    cluster: SharedCluster,
    changes: watch::Receiver<u64>,
    after: u64,
    kinds: Vec<ChangeKind>,
    ready: VecDeque<AssetEvent>,
    ended: bool,
}

impl EventCursor {
    /// The next event of the wanted kinds, waiting for one if needed;
    /// `None` when the stream ends (server stopping).
    async fn next(&mut self) -> Option<async_graphql::Result<AssetEvent>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
            }
            // Marked seen before reading, so a change applied after the read
            // wakes the wait below.
            self.changes.borrow_and_update();
            let view: View = Arc::new(catalog(self.cluster.as_ref()));
            match view.events_after(self.after, READ_BATCH) {
                Err(expired) => {
                    self.ended = true;
                    return Some(Err(fail(ApiError::CursorExpired(expired))));
                }
                Ok(events) if events.is_empty() => {
                    if self.changes.changed().await.is_err() {
                        return None;
                    }
                }
                Ok(events) => {
                    self.after = events.last().map_or(self.after, |e| e.seq);
                    self.ready.extend(
                        events
                            .iter()
                            .filter(|e| self.kinds.contains(&e.kind))
                            .map(|e| AssetEvent::new(e, &view)),
                    );
                }
            }
        }
    }
}

/// A stream of the catalog's events of `kinds` after cursor `after`.
fn events(
    ctx: &Context<'_>,
    after: Option<String>,
    kinds: Vec<ChangeKind>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
    let cluster = ctx.data_unchecked::<SharedCluster>().clone();
    let after = match after {
        Some(cursor) => cursor.trim().parse::<u64>().map_err(|_| {
            fail(ApiError::bad_input(format!(
                "after must be a cursor from an event or from stats, got {cursor:?}"
            )))
        })?,
        None => catalog(cluster.as_ref()).last_seq(),
    };
    let cursor = EventCursor {
        changes: cluster.changes(),
        cluster,
        after,
        kinds,
        ready: VecDeque::new(),
        ended: false,
    };
    Ok(stream::unfold(cursor, |mut cursor| async move {
        let item = cursor.next().await?;
        Some((item, cursor))
    }))
}

/// Catalog and worker subscriptions.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Assets created after the cursor `after` (default: from now).
    async fn asset_added(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
        events(ctx, after, vec![ChangeKind::Added])
    }

    /// Assets whose described fields changed after the cursor `after`.
    async fn asset_updated(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
        events(ctx, after, vec![ChangeKind::Updated])
    }

    /// Assets removed (deleted, or stale for their source) after `after`.
    async fn asset_removed(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
        events(ctx, after, vec![ChangeKind::Removed])
    }

    /// Every change of the given kinds (default: all) after `after`.
    async fn asset_changed(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        kinds: Option<Vec<Change>>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AssetEvent>>> {
        let kinds = match kinds {
            Some(kinds) => kinds.into_iter().map(ChangeKind::from).collect(),
            None => vec![ChangeKind::Added, ChangeKind::Updated, ChangeKind::Removed],
        };
        events(ctx, after, kinds)
    }

    /// A worker's state each time it changes, until it ends. `workerId` is
    /// `<run>/<task>#<attempt>`, or `<run>/<task>` for the task's latest
    /// attempt (followed into its retries).
    async fn worker_progress(
        &self,
        ctx: &Context<'_>,
        worker_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Worker>> {
        let cluster = ctx.data_unchecked::<SharedCluster>().clone();
        let id = worker_id.0;
        let Some((run, task, _)) = parse_worker_id(&id) else {
            return Err(fail(ApiError::bad_input(format!(
                "workerId must be <run>/<task> or <run>/<task>#<attempt>, got {id:?}"
            ))));
        };
        let exists = read(cluster.as_ref(), |state| {
            state
                .runs
                .get(&run)
                .is_some_and(|r| r.tasks.keys().any(|t| t.to_string() == task))
        });
        if !exists {
            return Err(fail(ApiError::NotFound(format!("no worker {id:?}"))));
        }
        let changes = cluster.changes();
        let start = (cluster, changes, id, None::<Worker>, false);
        Ok(stream::unfold(
            start,
            |(cluster, mut changes, id, last, done)| async move {
                if done {
                    return None;
                }
                loop {
                    changes.borrow_and_update();
                    let (worker, task_over) = read(cluster.as_ref(), |state| {
                        let worker = find_worker(state, &id);
                        let task_over = parse_worker_id(&id).and_then(|(run, task, number)| {
                            let task = state
                                .runs
                                .get(&run)?
                                .tasks
                                .iter()
                                .find(|(t, _)| t.to_string() == task)?
                                .1;
                            Some(number.is_some() || task.state.is_terminal())
                        });
                        (worker, task_over.unwrap_or(true))
                    });
                    if let Some(worker) = worker.filter(|w| Some(w) != last.as_ref()) {
                        let finished = worker.status != WorkerState::Running && task_over;
                        return Some((
                            worker.clone(),
                            (cluster, changes, id, Some(worker), finished),
                        ));
                    }
                    if changes.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }
}
