//! Live worker activity: what an attempt is doing right now, published on
//! the process's event bus (and from there to SSE watchers and Redis) up to
//! ten times a second — faster than the throttled progress that goes
//! through Raft. Losing some is harmless: the replicated progress carries
//! the same facts a moment later.

use std::time::Duration;

use cortex_consensus::events::{Bus, Event, EventKind};

use super::Context;
use crate::protocol::Line;

/// Activity is published at most this often per attempt.
pub const ACTIVITY_EVERY: Duration = Duration::from_millis(100);
/// Longest message shown (a long log line is cut).
const MAX_MESSAGE_BYTES: usize = 512;

/// The latest activity of one attempt, not yet published.
pub struct Activity {
    bus: Bus,
    context: Context,
    progress: Option<u8>,
    message: Option<String>,
    tokens_used: Option<u64>,
    changed: bool,
}

impl Activity {
    /// Nothing to show yet for the attempt of `context`.
    pub fn new(context: &Context, bus: Bus) -> Activity {
        Activity {
            bus,
            context: context.clone(),
            progress: None,
            message: None,
            tokens_used: None,
            changed: false,
        }
    }

    /// Notes what `line` says; `tokens_before` is the attempt's usage
    /// before this line.
    pub fn take(&mut self, line: &Line, tokens_before: u64) {
        match line {
            Line::Progress { percent, message } => {
                self.progress = Some(*percent);
                if let Some(message) = message {
                    self.message = Some(cut(message));
                }
            }
            Line::Log(text) => self.message = Some(cut(text)),
            Line::Tokens(n) => self.tokens_used = Some(tokens_before.saturating_add(*n)),
            _ => return,
        }
        self.changed = true;
    }

    /// Publishes the latest activity if it changed since last time.
    pub fn publish(&mut self) {
        if !std::mem::take(&mut self.changed) {
            return;
        }
        let context = &self.context;
        self.bus.publish(Event::ephemeral(
            &context.node,
            EventKind::WorkerActivity {
                run: context.run.clone(),
                task: context.task.0.clone(),
                attempt: context.attempt,
                node: context.node.clone(),
                progress: self.progress,
                message: self.message.clone(),
                tokens_used: self.tokens_used,
            },
        ));
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_consensus::plan::TaskId;
    use cortex_consensus::run::RunId;

    fn context() -> Context {
        Context {
            run: RunId("r".into()),
            task: TaskId("t".into()),
            attempt: 2,
            node: "k3s-worker01".into(),
            reserved: 100,
            timeout: Duration::from_secs(5),
            checkpoint: None,
        }
    }

    #[tokio::test]
    async fn publishes_the_latest_activity_once_per_change() {
        let bus = Bus::default();
        let mut rx = bus.subscribe();
        let mut activity = Activity::new(&context(), bus);
        activity.publish();
        activity.take(&Line::Checkpoint("{}".into()), 0);
        activity.publish();
        assert!(rx.try_recv().is_err(), "nothing to show yet");

        activity.take(
            &Line::Progress {
                percent: 40,
                message: Some("scanning".into()),
            },
            0,
        );
        activity.take(&Line::Tokens(7), 0);
        activity.take(&Line::Log("é".repeat(400)), 7);
        activity.publish();
        activity.publish();
        let item = rx.try_recv().expect("one event");
        assert!(item.local);
        assert_eq!(item.event.origin.as_deref(), Some("k3s-worker01"));
        match &item.event.kind {
            EventKind::WorkerActivity {
                attempt,
                progress,
                message,
                tokens_used,
                ..
            } => {
                assert_eq!((*attempt, *progress, *tokens_used), (2, Some(40), Some(7)));
                let message = message.as_deref().unwrap();
                assert!(message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
                assert!(message.ends_with('…'));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            rx.try_recv().is_err(),
            "unchanged activity is not sent again"
        );
    }
}
