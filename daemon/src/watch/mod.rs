//! `cortex run watch ID` and `cortex run submit --watch`: follows a run's
//! event stream (`GET /v1/runs/{id}/events`) and draws the seed's live
//! view until the run ends, then prints its executive summary.
//!
//! A dropped connection is resumed with the last event id, so the view
//! neither misses nor repeats a change; on a terminal the view is redrawn
//! in place, otherwise (a pipe, a log, CI) it is printed whenever it
//! changes, at most once a second.

pub mod model;
pub mod render;
pub mod sse;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cortex_consensus::events::Event;
use reqwest::StatusCode;
use serde_json::Value;

use crate::client::{path_segment, ApiClient, ApiFailure};
use crate::report::view::RunDetail;
use model::RunModel;
use sse::Parser;

/// Connection failures in a row after which watching gives up.
const MAX_FAILURES: u32 = 30;
/// Pause before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Least time between two printed views when not on a terminal.
const PRINT_EVERY: Duration = Duration::from_secs(1);

/// Follows run `id` until it ends; returns the run as last seen.
pub async fn follow(client: &ApiClient, id: &str) -> anyhow::Result<RunModel> {
    let path = format!("/v1/runs/{}/events", path_segment(id));
    let mut last_id: Option<String> = None;
    let mut model: Option<RunModel> = None;
    let mut screen = Screen::new();
    let mut failures = 0;
    loop {
        let outcome = read_stream(client, &path, &mut last_id, &mut model, &mut screen).await;
        if let Some(model) = model.as_ref().filter(|m| m.status.is_terminal()) {
            screen.finish(&render::render(model));
            return Ok(model.clone());
        }
        match outcome {
            Ok(()) => failures = 0, // the server closed a healthy stream
            Err(error) => {
                if let Some(failure) = error.downcast_ref::<ApiFailure>() {
                    if matches!(
                        failure.status,
                        StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST
                    ) {
                        return Err(error);
                    }
                }
                failures += 1;
                if failures >= MAX_FAILURES {
                    return Err(error.context(format!("gave up following run {id}")));
                }
                eprintln!("cortex: {error:#} (reconnecting)");
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// Reads one connection's frames into `model` until it closes.
async fn read_stream(
    client: &ApiClient,
    path: &str,
    last_id: &mut Option<String>,
    model: &mut Option<RunModel>,
    screen: &mut Screen,
) -> anyhow::Result<()> {
    let mut response = client.open_stream(path, last_id.as_deref()).await?;
    let mut parser = Parser::default();
    while let Some(chunk) = response.chunk().await.context("reading the event stream")? {
        for frame in parser.push(&chunk)? {
            if frame.event == "snapshot" {
                let value: Value =
                    serde_json::from_str(&frame.data).context("unreadable snapshot")?;
                let detail: RunDetail =
                    serde_json::from_value(value["run"].clone()).context("unexpected snapshot")?;
                *model = Some(RunModel::from_snapshot(&detail));
            } else if let Some(model) = model.as_mut() {
                match serde_json::from_str::<Event>(&frame.data) {
                    Ok(event) => model.apply(&event),
                    // A newer server's event type: skip it, keep watching.
                    Err(e) => tracing::debug!(event = %frame.event, error = %e, "skipped an event"),
                }
            } else {
                bail!("the event stream did not start with a snapshot");
            }
            if frame.id.is_some() {
                *last_id = frame.id;
            }
            if let Some(model) = model.as_ref() {
                screen.show(&render::render(model));
                if model.status.is_terminal() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Where the view goes: redrawn in place on a terminal, printed when it
/// changes (throttled) elsewhere.
struct Screen {
    terminal: bool,
    shown: String,
    /// Lines drawn last time (terminal) to move back over.
    height: usize,
    printed_at: Option<Instant>,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            terminal: std::io::stdout().is_terminal(),
            shown: String::new(),
            height: 0,
            printed_at: None,
        }
    }

    fn show(&mut self, view: &str) {
        if view == self.shown {
            return;
        }
        if self.terminal {
            self.draw(view);
            return;
        }
        // Skipped views are not lost: the next change or the end shows
        // the state they led to.
        if self.printed_at.is_none_or(|t| t.elapsed() >= PRINT_EVERY) {
            self.draw(view);
        }
    }

    /// Shows the final view, whatever the throttle says.
    fn finish(&mut self, view: &str) {
        if view != self.shown {
            self.draw(view);
        }
        println!();
    }

    fn draw(&mut self, view: &str) {
        let mut out = std::io::stdout().lock();
        if self.terminal && self.height > 0 {
            // Up over the previous view, then clear to the end of the screen.
            let _ = write!(out, "\x1b[{}A\x1b[J", self.height);
        } else if !self.terminal && self.printed_at.is_some() {
            let _ = writeln!(out);
        }
        let _ = write!(out, "{view}");
        let _ = out.flush();
        self.shown = view.to_string();
        self.height = view.lines().count();
        self.printed_at = Some(Instant::now());
    }
}
