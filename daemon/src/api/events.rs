//! `GET /v1/runs/{id}/events`: one run's events as Server-Sent Events.
//!
//! The stream opens with a `snapshot` (the run as `GET /v1/runs/{id}` shows
//! it) whose id is the log position it reflects, then carries every
//! replicated event of the run (ids `index.n`) and the live
//! `worker.activity` of its workers (no id: never replayed). A client that
//! reconnects with `Last-Event-ID` (or `?after=`) gets the events it missed
//! from this voter's memory, or a fresh snapshot when they are gone, so
//! nothing is lost either way. The stream ends after the run's
//! `run.finished`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use cortex_consensus::events::bus::BusItem;
use cortex_consensus::events::feed::{FeedItem, Resume};
use cortex_consensus::events::{Event, EventId, EventKind, SCHEMA_VERSION};
use cortex_consensus::run::RunId;
use futures::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use super::AppState;
use crate::events::{DropReason, EventMetrics};
use crate::report;

/// Event streams one node serves at once; more get 503 `too_many_streams`.
pub const MAX_STREAMS: usize = 256;

/// What the event routes need: the process's bus of live worker activity,
/// its drop counters and the stream limit.
#[derive(Clone)]
pub struct EventsState {
    /// Ephemeral events of this process (and, with Redis, of the others).
    pub bus: cortex_consensus::events::Bus,
    /// Counts events a slow stream skipped.
    pub metrics: EventMetrics,
    streams: Arc<Semaphore>,
}

impl EventsState {
    /// Streams of `bus`, counting into `metrics`.
    pub fn new(bus: cortex_consensus::events::Bus, metrics: EventMetrics) -> EventsState {
        EventsState {
            bus,
            metrics,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        }
    }
}

/// Query of the events route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id (what `Last-Event-ID` says, for clients
    /// that cannot set headers).
    pub after: Option<String>,
}

/// `GET /v1/runs/{id}/events`.
pub async fn stream_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().unwrap_or("<not text>").to_string()),
        None => query.after,
    };
    let resume = resume
        .map(|text| text.parse::<EventId>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let permit = state
        .events
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                "this node serves as many event streams as it may; try another node or later",
            )
        })?;
    let run = RunId(id);
    let reader = state.consensus.state();
    // Subscribe before reading, so nothing applied in between is missed.
    let mut watch = RunWatch {
        run: run.clone(),
        state: state.clone(),
        replicated: reader.events().subscribe(),
        activity: state.events.bus.subscribe(),
        last: EventId::through(0),
        ready: VecDeque::new(),
        ended: false,
        _permit: permit,
    };
    let resumed = match resume {
        Some(after) => match reader.events().since(after) {
            Resume::Events(missed) => {
                watch.last = after;
                for event in missed {
                    watch.take(&event);
                }
                true
            }
            Resume::Gap => false,
        },
        None => false,
    };
    if !resumed && !watch.snapshot() {
        return Err(ApiError::not_found(format!("no run {run}")));
    }
    if resumed {
        let status = reader.read(|m| m.state.runs.get(&run).map(|r| r.status));
        match status {
            None => return Err(ApiError::not_found(format!("no run {run}"))),
            // The client saw the end already (or gets it from the missed events).
            Some(status) if status.is_terminal() => watch.ended = true,
            Some(_) => {}
        }
    }
    let frames = stream::unfold(watch, |mut watch| async move {
        watch.next().await.map(|frame| (Ok(frame), watch))
    });
    Ok(Sse::new(frames).keep_alive(KeepAlive::default()))
}

/// Where one stream is.
struct RunWatch {
    run: RunId,
    state: AppState,
    replicated: broadcast::Receiver<FeedItem>,
    activity: broadcast::Receiver<BusItem>,
    /// The newest replicated position sent (events up to it are skipped).
    last: EventId,
    ready: VecDeque<SseEvent>,
    ended: bool,
    /// Held for as long as the stream lives.
    _permit: OwnedSemaphorePermit,
}

impl RunWatch {
    /// The next frame; `None` once the run finished and everything is sent.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Some(frame);
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                item = self.replicated.recv() => match item {
                    Ok(FeedItem::Event(event)) => self.take(&event),
                    Ok(FeedItem::Gap) => {
                        self.snapshot();
                    }
                    Err(RecvError::Lagged(missed)) => {
                        self.state.events.metrics.dropped(DropReason::SlowSubscriber, missed);
                        self.snapshot();
                    }
                    Err(RecvError::Closed) => return None,
                },
                item = self.activity.recv() => match item {
                    Ok(item) if item.event.run() == Some(&self.run) => {
                        self.ready.push_back(frame(&item.event, None));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        // Activity is never replayed: the next one replaces it.
                        self.state.events.metrics.dropped(DropReason::SlowSubscriber, missed);
                    }
                    Err(RecvError::Closed) => {}
                },
            }
        }
    }

    /// Queues a replicated event if it is this run's and not sent yet.
    fn take(&mut self, event: &Arc<Event>) {
        let Some(id) = event.id.filter(|id| *id > self.last) else {
            return;
        };
        self.last = id;
        if event.run() != Some(&self.run) {
            return;
        }
        self.ready.push_back(frame(event, Some(id)));
        if matches!(event.kind, EventKind::RunFinished { .. }) {
            self.ended = true;
        }
    }

    /// Queues the run as it is now; false if there is no such run.
    fn snapshot(&mut self) -> bool {
        let now = self.state.consensus.state().read(|m| {
            let position = m.last_applied.map_or(0, |id| id.index);
            let run = m.state.runs.get(&self.run)?;
            Some((position, report::detail(run), run.status.is_terminal()))
        });
        let Some((position, detail, ended)) = now else {
            return false;
        };
        let id = EventId::through(position).max(self.last);
        self.last = id;
        let data = json!({
            "v": SCHEMA_VERSION,
            "id": id.to_string(),
            "type": "snapshot",
            "run": detail,
        });
        self.ready.push_back(
            SseEvent::default()
                .event("snapshot")
                .id(id.to_string())
                .data(data.to_string()),
        );
        self.ended = ended;
        true
    }
}

/// The SSE frame of `event`: its type as the SSE event name, its JSON as data.
fn frame(event: &Event, id: Option<EventId>) -> SseEvent {
    let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    let frame = SseEvent::default().event(event.kind.type_name()).data(json);
    match id {
        Some(id) => frame.id(id.to_string()),
        None => frame,
    }
}
