//! The node's own lease on its attempts.
//!
//! The coordinator declares a node lost, and fences its attempts, once
//! `node_timeout` of cluster time has passed since the node's last committed
//! heartbeat. The leader stamped that heartbeat after the node sent it, so a
//! node that stops its workers `node_timeout - margin` after *sending* its
//! last committed heartbeat has stopped them before they can be fenced
//! (ARCHITECTURE §5: a holder that cannot renew stops acting before its lease
//! can expire). Hearing the assignment stream is not enough: a node can hear
//! a follower voter while its own writes no longer reach the leader, and the
//! stream goes quiet only seconds after a partition.
//!
//! [`gate`] passes the node's assignments through while the lease holds and
//! publishes `None` — stop everything — once it lapses. The attempts come
//! back when a heartbeat commits again and the cluster still lists them.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::control::Assignments;

/// When the last heartbeat that committed was sent (`None` before the first).
pub type Renewals = watch::Receiver<Option<Instant>>;

/// How long after sending a committed heartbeat the node may keep acting:
/// three quarters of the node timeout, so that a quarter is left for the
/// stop to reach the workers and for clocks that tick at slightly
/// different rates.
pub fn valid_for(node_timeout: Duration) -> Duration {
    node_timeout * 3 / 4
}

/// Follows `assignments` and `renewals` until `stop`, publishing the
/// assignments while the lease holds and `None` once it has lapsed.
pub fn gate(
    mut assignments: Assignments,
    mut renewals: Renewals,
    valid_for: Duration,
    mut stop: watch::Receiver<bool>,
) -> Assignments {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        loop {
            let expires = renewals.borrow_and_update().map(|sent| sent + valid_for);
            let held = expires.is_some_and(|at| Instant::now() < at);
            let current = if held {
                assignments.borrow_and_update().clone()
            } else {
                None
            };
            if !held && tx.borrow().is_some() {
                tracing::warn!(
                    ?valid_for,
                    "no heartbeat committed within the node's lease; stopping its attempts"
                );
            }
            tx.send_if_modified(|last| {
                let changed = *last != current;
                *last = current;
                changed
            });
            // Wake at the lease's end even if nothing else changes.
            let lapse = expires.filter(|_| held).unwrap_or_else(far_future);
            tokio::select! {
                changed = assignments.changed() => if changed.is_err() { return },
                changed = renewals.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(lapse) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
    rx
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_consensus::state::assignments::Assignment;

    /// The senders a test drives and the gated assignments it reads.
    struct Fixture {
        assign: watch::Sender<Option<Vec<Assignment>>>,
        renew: watch::Sender<Option<Instant>>,
        _stop: watch::Sender<bool>,
        gated: Assignments,
    }

    fn fixture() -> Fixture {
        let (assign, assign_rx) = watch::channel(Some(Vec::new()));
        let (renew, renew_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let gated = gate(assign_rx, renew_rx, Duration::from_millis(1500), stop_rx);
        Fixture {
            assign,
            renew,
            _stop: stop,
            gated,
        }
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_runs_before_the_first_committed_heartbeat() {
        let f = fixture();
        settle().await;
        assert_eq!(*f.gated.borrow(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn assignments_pass_while_the_lease_holds_and_stop_when_it_lapses() {
        let f = fixture();
        let sent = Instant::now();
        f.renew.send(Some(sent)).unwrap();
        settle().await;
        assert_eq!(*f.gated.borrow(), Some(Vec::new()));

        // Just before the end of the lease the node still acts...
        tokio::time::advance(Duration::from_millis(1499)).await;
        settle().await;
        assert_eq!(*f.gated.borrow(), Some(Vec::new()));
        // ...and at its end it stops, although the stream still speaks.
        tokio::time::advance(Duration::from_millis(2)).await;
        settle().await;
        assert_eq!(*f.gated.borrow(), None);

        // A heartbeat that commits again brings the assignments back.
        f.renew.send(Some(Instant::now())).unwrap();
        settle().await;
        assert_eq!(*f.gated.borrow(), Some(Vec::new()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_lease_counts_from_when_the_heartbeat_was_sent() {
        let f = fixture();
        // A heartbeat sent 1.4 s ago that only now committed leaves 100 ms.
        let sent = Instant::now();
        tokio::time::advance(Duration::from_millis(1400)).await;
        f.renew.send(Some(sent)).unwrap();
        settle().await;
        assert_eq!(*f.gated.borrow(), Some(Vec::new()));
        tokio::time::advance(Duration::from_millis(101)).await;
        settle().await;
        assert_eq!(*f.gated.borrow(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_out_of_touch_stream_stops_the_node_even_with_a_lease() {
        let f = fixture();
        f.renew.send(Some(Instant::now())).unwrap();
        settle().await;
        f.assign.send(None).unwrap();
        settle().await;
        assert_eq!(*f.gated.borrow(), None);
    }
}
