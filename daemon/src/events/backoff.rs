//! Reconnection delays: exponential from 100 ms to 5 s, with jitter so the
//! daemons of a cluster do not all knock on a restarted Redis at once.

use std::time::Duration;

use rand::Rng;

/// The first delay.
const FIRST: Duration = Duration::from_millis(100);
/// The longest delay.
const MAX: Duration = Duration::from_secs(5);

/// Delays between connection attempts.
#[derive(Debug)]
pub struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { step: FIRST }
    }
}

impl Backoff {
    /// How long to wait now: between half and all of the current step
    /// ("equal jitter"); the step then doubles, up to 5 s.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(MAX);
        let half = step / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }

    /// Back to the first step, after a success.
    pub fn reset(&mut self) {
        self.step = FIRST;
    }
}
