//! Failover: SIGKILL the leader while 16 clients write, and measure from
//! the moment the dead process is reaped to the first acknowledged write
//! that was *sent* after it (a write in flight before the kill proves
//! nothing about the new leader). For Cortex also: until every master
//! lease is held by a live voter again.
//!
//! Every client times its writes out quickly and retries on another
//! member: etcd's client balances over all three endpoints, Cortex's
//! clients try the voter they believe leads, then the others. The killed
//! member is restarted and rejoins before the next trial.

mod cortex;
mod etcd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::Settings;
use crate::results::{FailoverResult, FailoverTrial, System};
use crate::stats::median;

/// Clients writing during the kill.
const WRITERS: usize = 16;
/// Longest one write may take before the client tries again elsewhere:
/// short, because a write stuck on a member that lost its leader only
/// ends with this timeout, and a long one would be counted as the
/// system's recovery time. Still far above a healthy write's p99.
const WRITE_TIMEOUT: Duration = Duration::from_millis(250);
/// Pause after a failed write, so a refused connection does not spin.
const RETRY_PAUSE: Duration = Duration::from_millis(10);
/// Longest a recovery may take before the trial reports none.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the trials on etcd, then on Cortex.
pub async fn run(settings: &Settings) -> (Vec<FailoverResult>, Vec<String>) {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for system in [System::Etcd, System::Cortex] {
        let outcome = match system {
            System::Etcd => etcd::trials(settings).await,
            _ => cortex::trials(settings).await,
        };
        match outcome {
            Ok(trials) => results.push(summarise(system, trials)),
            Err(error) => errors.push(format!("failover on {system}: {error:#}")),
        }
    }
    (results, errors)
}

/// Trials per system and the load before each kill.
fn schedule(settings: &Settings) -> (usize, Duration) {
    match settings.quick {
        true => (1, Duration::from_secs(1)),
        false => (3, Duration::from_secs(3)),
    }
}

fn summarise(system: System, trials: Vec<FailoverTrial>) -> FailoverResult {
    let writes: Vec<f64> = trials.iter().filter_map(|t| t.write_ms).collect();
    let leases: Vec<f64> = trials.iter().filter_map(|t| t.leases_ms).collect();
    FailoverResult {
        system,
        median_write_ms: median(&writes),
        median_leases_ms: median(&leases),
        trials,
    }
}

/// A client that can write somewhere and, when that fails, move on.
trait Writer: Send + 'static {
    /// One write of `key`.
    fn put(
        &mut self,
        key: String,
        value: String,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
    /// Called after a failed write: try another member next.
    fn move_on(&mut self) {}
}

/// The kill as the writers see it.
#[derive(Default)]
struct Watch {
    /// When the killed leader was reaped.
    killed_at: OnceLock<Instant>,
    /// The earliest acknowledgement of a write sent after `killed_at`.
    first_ack: Mutex<Option<Duration>>,
    stop: AtomicBool,
}

impl Watch {
    /// Records an acknowledged write sent at `sent`.
    fn acked(&self, sent: Instant) {
        let Some(&killed_at) = self.killed_at.get() else {
            return;
        };
        if sent >= killed_at {
            let took = killed_at.elapsed();
            let mut first = self
                .first_ack
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *first = Some(first.map_or(took, |known| known.min(took)));
        }
    }

    fn first_ack(&self) -> Option<Duration> {
        *self
            .first_ack
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writers of one trial.
struct Load {
    watch: Arc<Watch>,
    tasks: Vec<JoinHandle<u64>>,
}

impl Load {
    /// Starts one task per writer, each writing until stopped.
    fn start<W: Writer>(writers: Vec<W>, trial: usize) -> Load {
        let watch = Arc::new(Watch::default());
        let tasks = (0..).zip(writers).map(|(index, mut writer)| {
            let watch = watch.clone();
            tokio::spawn(async move {
                let mut acked = 0u64;
                while !watch.stop.load(Ordering::Relaxed) {
                    let key = format!("f{trial}-{index}-{acked}");
                    let sent = Instant::now();
                    let put = writer.put(key, "v".repeat(100));
                    match tokio::time::timeout(WRITE_TIMEOUT, put).await {
                        Ok(Ok(())) => {
                            acked += 1;
                            watch.acked(sent);
                        }
                        _ => {
                            writer.move_on();
                            tokio::time::sleep(RETRY_PAUSE).await;
                        }
                    }
                }
                acked
            })
        });
        Load {
            tasks: tasks.collect(),
            watch,
        }
    }

    /// Marks the leader as dead from now on.
    fn killed(&self) -> Instant {
        let now = Instant::now();
        let _ = self.watch.killed_at.set(now);
        now
    }

    /// Waits for the first write acknowledged after the kill, in ms.
    async fn first_ack_ms(&self) -> Option<f64> {
        let killed_at = *self.watch.killed_at.get()?;
        while killed_at.elapsed() < RECOVERY_TIMEOUT {
            if let Some(took) = self.watch.first_ack() {
                return Some(took.as_secs_f64() * 1e3);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Stops the writers; returns how many writes were acknowledged.
    async fn stop(self) -> u64 {
        self.watch.stop.store(true, Ordering::Relaxed);
        let mut acked = 0;
        for task in self.tasks {
            acked += task.await.unwrap_or(0);
        }
        acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_sent_after_the_kill_count_as_recovery() {
        let watch = Watch::default();
        let before = Instant::now();
        watch.acked(before);
        assert_eq!(watch.first_ack(), None, "no kill yet");
        let killed_at = Instant::now();
        watch.killed_at.set(killed_at).expect("first kill");
        watch.acked(before);
        assert_eq!(watch.first_ack(), None, "sent before the kill");
        watch.acked(killed_at);
        let first = watch.first_ack().expect("a write sent at the kill");
        watch.acked(Instant::now());
        assert_eq!(watch.first_ack(), Some(first), "the earliest stays");
    }

    #[test]
    fn the_summary_takes_medians_of_measured_trials() {
        let trial = |write_ms, leases_ms| FailoverTrial {
            write_ms,
            leases_ms,
            ..FailoverTrial::default()
        };
        let trials = vec![
            trial(Some(900.0), Some(3_000.0)),
            trial(None, None),
            trial(Some(700.0), Some(2_000.0)),
        ];
        let summary = summarise(System::Cortex, trials);
        assert_eq!(summary.median_write_ms, Some(800.0));
        assert_eq!(summary.median_leases_ms, Some(2_500.0));
        assert_eq!(summary.trials.len(), 3);
    }
}
