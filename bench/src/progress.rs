//! Progress on stderr while a level runs, so a long benchmark is visibly
//! alive: what runs, and how many operations it has done so far.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// How often a running level reports.
const EVERY: Duration = Duration::from_secs(2);

/// A level's operation counter and the task printing it.
pub struct Progress {
    label: String,
    done: Arc<AtomicU64>,
    started: Instant,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// Announces `label` and reports its count every two seconds until finished.
    pub fn start(label: String) -> Progress {
        eprintln!("{label}: starting");
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let ticker = tokio::spawn({
            let (label, done) = (label.clone(), done.clone());
            async move {
                loop {
                    tokio::time::sleep(EVERY).await;
                    let ops = done.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!("{label}: {ops} ops in {secs:.0} s");
                }
            }
        });
        Progress {
            label,
            done,
            started,
            ticker,
        }
    }

    /// The counter clients add their finished operations to.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }

    /// Stops reporting and prints `summary`.
    pub fn finish(self, summary: &str) {
        self.ticker.abort();
        let secs = self.started.elapsed().as_secs_f64();
        eprintln!("{}: {summary} ({secs:.1} s)", self.label);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}
