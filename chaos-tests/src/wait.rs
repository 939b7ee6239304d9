//! Polling instead of sleeping: [`wait_until`] runs a probe until it reports
//! success, and otherwise fails naming what it waited for, how long it waited
//! and what the probe last saw.
//!
//! A probe may return `bool`, `Option<T>`, `Result<T, E>` or a [`Check`]; the
//! last one can also abort the wait at once (for example when a daemon has
//! crashed and waiting longer cannot help). The clock is tokio's, so unit tests
//! can run with paused time.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep_until, timeout_at, Instant};

/// First pause between two probes; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between two probes.
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// What one run of a probe found.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the wait returns this value.
    Done(T),
    /// Not yet; the text says what was seen and is reported on timeout.
    Retry(String),
    /// Waiting longer cannot help; the wait fails with this error at once.
    Abort(anyhow::Error),
}

/// A probe result that [`wait_until`] understands.
pub trait Outcome {
    /// The value handed back once the condition holds.
    type Value;
    /// Classifies this result.
    fn into_check(self) -> Check<Self::Value>;
}

impl<T> Outcome for Check<T> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        self
    }
}

impl Outcome for bool {
    type Value = ();
    fn into_check(self) -> Check<()> {
        if self {
            Check::Done(())
        } else {
            Check::Retry(String::new())
        }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        match self {
            Some(value) => Check::Done(value),
            None => Check::Retry(String::new()),
        }
    }
}

impl<T, E: Display> Outcome for Result<T, E> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        match self {
            Ok(value) => Check::Done(value),
            Err(error) => Check::Retry(format!("{error:#}")),
        }
    }
}

/// Runs `probe` until it reports success or `timeout` has passed.
///
/// `why` completes the sentence "waiting for ..." and is part of the error on
/// timeout, together with the elapsed time, the number of probes and the last
/// thing a probe reported. A probe still running at the deadline is dropped.
pub async fn wait_until<F, Fut>(
    timeout: Duration,
    why: &str,
    mut probe: F,
) -> anyhow::Result<<Fut::Output as Outcome>::Value>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pause = FIRST_PAUSE;
    let mut probes = 0u32;
    let mut last_seen = String::new();
    loop {
        probes += 1;
        match timeout_at(deadline, probe()).await {
            Ok(outcome) => match outcome.into_check() {
                Check::Done(value) => return Ok(value),
                Check::Retry(seen) => last_seen = seen,
                Check::Abort(error) => {
                    return Err(error.context(format!(
                        "gave up waiting for {why} after {:.1?}",
                        start.elapsed()
                    )))
                }
            },
            Err(_) => last_seen = format!("{last_seen} (the last probe was still running)"),
        }
        let now = Instant::now();
        if now >= deadline {
            let seen = last_seen.trim();
            let seen = if seen.is_empty() {
                "nothing reported"
            } else {
                seen
            };
            anyhow::bail!(
                "timed out after {:.1?} waiting for {why} ({probes} probes); last seen: {seen}",
                now - start
            );
        }
        sleep_until((now + pause).min(deadline)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn timeout_names_the_reason_and_the_last_observation() {
        let error = wait_until(Duration::from_secs(3), "the moon to turn blue", || async {
            Err::<(), _>("still grey")
        })
        .await
        .expect_err("the condition never holds");
        let message = format!("{error:#}");
        assert!(message.contains("the moon to turn blue"), "{message}");
        assert!(message.contains("timed out after 3.0s"), "{message}");
        assert!(message.contains("still grey"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_once_the_probe_succeeds() {
        let calls = AtomicU32::new(0);
        let value = wait_until(Duration::from_secs(5), "the third call", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            (n == 3).then_some(n * 10)
        })
        .await
        .expect("succeeds on the third call");
        assert_eq!(value, 30);
    }

    #[tokio::test(start_paused = true)]
    async fn abort_stops_waiting_immediately() {
        let start = Instant::now();
        let error = wait_until(Duration::from_secs(60), "a dead node", || async {
            Check::<()>::Abort(anyhow::anyhow!("node 2 exited"))
        })
        .await
        .expect_err("aborts");
        assert!(start.elapsed() < Duration::from_secs(1));
        let message = format!("{error:#}");
        assert!(
            message.contains("a dead node") && message.contains("node 2 exited"),
            "{message}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_probe_is_cut_at_the_deadline() {
        let error = wait_until(Duration::from_secs(2), "a reply", || async {
            std::future::pending::<bool>().await
        })
        .await
        .expect_err("never answers");
        assert!(format!("{error:#}").contains("still running"), "{error:#}");
    }
}
