//! The master-role loop of a voter: takes and renews role leases (spread
//! across live voters), and for each role it holds, schedules that role's
//! ready tasks onto nodes and cleans up after overdue attempts. The holder of
//! the coordinator role also declares silent nodes lost and ends runs past
//! their deadline.
//!
//! A lease is used only until a local deadline shorter than its TTL,
//! measured from when the acquiring command was sent (before the leader
//! stamped it), so a holder that stalls stops acting before another voter
//! can take the role. Every command it sends carries the lease's epoch, so
//! a stale holder that acts anyway is refused by the state machine.

use std::collections::BTreeMap;
use std::time::Duration;

use cortex_consensus::command::{ClusterTime, Command, Response};
use cortex_consensus::plan::MasterRole;
use cortex_consensus::run::{LedgerError, RunError};
use cortex_consensus::state::leases::Fence;
use cortex_consensus::state::nodes::NodeStatus;
use cortex_consensus::{ConsensusError, ConsensusHandle, Rejection};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::options::RuntimeOptions;
use crate::schedule;

/// Most assignments proposed at once (they commit in one batch).
const ASSIGN_BATCH: usize = 64;
/// Extra time an attempt gets past its limit before its master ends it (the
/// executor normally reports first).
const OVERDUE_GRACE_MS: u64 = 5_000;

struct Held {
    epoch: u64,
    /// Act only before this instant.
    act_until: Instant,
    renewed_at: Instant,
}

/// Runs until `stop`; releases held leases on the way out.
pub async fn run(
    handle: ConsensusHandle,
    options: RuntimeOptions,
    mut stop: watch::Receiver<bool>,
) {
    let mut held: BTreeMap<MasterRole, Held> = BTreeMap::new();
    let mut changes = handle.state().changes();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = changes.changed() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        // A write can wait seconds for a quorum; stopping must not.
        let round = act(&handle, &options, &mut held);
        tokio::select! {
            _ = round => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    // Hand the roles back so another voter takes them at once instead of
    // after the TTL; best effort, all together, bounded.
    let releases = held.into_iter().map(|(role, h)| {
        let fence = Fence {
            role,
            epoch: h.epoch,
        };
        handle.write(Command::ReleaseLease {
            fence,
            holder: handle.id(),
        })
    });
    let _ = tokio::time::timeout(Duration::from_secs(1), futures::future::join_all(releases)).await;
}

/// One round: keep leases, then act for every role held.
async fn act(
    handle: &ConsensusHandle,
    options: &RuntimeOptions,
    held: &mut BTreeMap<MasterRole, Held>,
) {
    keep_leases(handle, options, held).await;
    let acting: Vec<Fence> = held
        .iter()
        .filter(|(_, h)| h.act_until > Instant::now())
        .map(|(role, h)| Fence {
            role: *role,
            epoch: h.epoch,
        })
        .collect();
    for fence in acting {
        if !schedule_role(handle, options, fence).await {
            held.remove(&fence.role);
            continue;
        }
        if fence.role == MasterRole::Coordinator {
            coordinate(handle, options, fence).await;
        }
    }
}

/// Renews held leases every third of their TTL; takes free roles while this
/// voter holds fewer than its share.
async fn keep_leases(
    handle: &ConsensusHandle,
    options: &RuntimeOptions,
    held: &mut BTreeMap<MasterRole, Held>,
) {
    let me = handle.id();
    let now = ClusterTime::now();
    let ttl = options.lease_ttl;
    let heartbeat_ms = options.heartbeat.as_millis() as u64;
    let (leases, live_voters) = handle.state().read(|m| {
        let voters = m
            .state
            .nodes
            .by_name
            .values()
            .filter(|n| n.voter.is_some() && n.status == NodeStatus::Alive)
            // A voter silent for three heartbeats no longer counts towards
            // the share, so its roles are taken as soon as its leases lapse
            // rather than after it is declared lost.
            .filter(|n| n.last_heartbeat.plus_millis(3 * heartbeat_ms) >= now)
            .count();
        (m.state.leases.held.clone(), voters.max(1))
    });
    // Forget roles the state says we no longer hold.
    held.retain(|role, h| {
        leases
            .get(role)
            .is_some_and(|l| l.holder == me && l.epoch == h.epoch)
    });
    let share = MasterRole::ALL.len().div_ceil(live_voters);
    // Holding more than the share (roles taken while other voters were still
    // starting or down): hand one back per round so the others pick it up.
    if held.len() > share {
        if let Some((&role, h)) = held.iter().next_back() {
            let fence = Fence {
                role,
                epoch: h.epoch,
            };
            if handle
                .write(Command::ReleaseLease { fence, holder: me })
                .await
                .is_ok()
            {
                tracing::info!(%role, "handed master role back to spread the roles");
                held.remove(&role);
            }
        }
    }
    for role in MasterRole::ALL {
        let lease = leases.get(&role);
        let wanted = match held.get(&role) {
            Some(h) => h.renewed_at.elapsed() >= ttl / 3,
            None => {
                let free_since = lease.map_or(ClusterTime(0), |l| l.expires_at);
                let free = free_since <= now;
                // Past twice the TTL anyone takes it, whatever its share, so a
                // wrong count of live voters cannot leave a role unheld.
                let abandoned = free_since.plus_millis(2 * ttl.as_millis() as u64) <= now;
                free && (held.len() < share || abandoned)
            }
        };
        if !wanted {
            continue;
        }
        let sent = Instant::now();
        let command = Command::AcquireLease {
            role,
            holder: me,
            ttl_ms: ttl.as_millis() as u64,
        };
        match handle.write(command).await {
            Ok(written) => {
                if let Response::Lease(lease) = written.response {
                    if lease.holder == me {
                        if !held.contains_key(&role) {
                            tracing::info!(%role, epoch = lease.epoch, "took master role");
                        }
                        let act_until = sent + ttl * 3 / 4;
                        held.insert(
                            role,
                            Held {
                                epoch: lease.epoch,
                                act_until,
                                renewed_at: sent,
                            },
                        );
                    }
                }
            }
            Err(ConsensusError::Rejected(_)) => {
                held.remove(&role);
            }
            Err(e) => tracing::debug!(%role, error = %e, "lease not renewed"),
        }
    }
}

/// Assigns the role's ready tasks. Returns false if the lease turned out stale.
async fn schedule_role(handle: &ConsensusHandle, options: &RuntimeOptions, fence: Fence) -> bool {
    let now = ClusterTime::now();
    let heard_since = ClusterTime(
        now.0
            .saturating_sub(3 * options.heartbeat.as_millis() as u64),
    );
    let (ready, mut load) = handle.state().read(|m| {
        (
            schedule::ready_tasks(&m.state, fence.role, now),
            schedule::load(&m.state),
        )
    });
    let mut proposals = Vec::new();
    for ready in ready {
        let node = handle.state().read(|m| {
            let spec = &m.state.runs[&ready.run].tasks[&ready.task].spec;
            schedule::pick_node(&m.state, spec, &load, heard_since)
        });
        let Some(node) = node else { continue };
        *load.entry(node.clone()).or_default() += 1;
        proposals.push((ready, node));
        if proposals.len() == ASSIGN_BATCH {
            break;
        }
    }
    let results =
        futures::future::join_all(proposals.into_iter().map(|(ready, node)| async move {
            let command = Command::AssignTask {
                run: ready.run.clone(),
                task: ready.task.clone(),
                attempt: ready.attempt,
                node,
                fence,
            };
            (ready, handle.write(command).await)
        }))
        .await;
    for (ready, result) in results {
        match result {
            Ok(_) => {}
            Err(ConsensusError::Rejected(Rejection::Lease(_))) => return false,
            Err(ConsensusError::Rejected(Rejection::Run(RunError::Ledger(
                LedgerError::Insufficient { .. },
            )))) => {
                let shortfall = Command::BudgetShortfall {
                    run: ready.run,
                    task: ready.task,
                    fence,
                };
                let _ = handle.write(shortfall).await;
            }
            Err(e) => tracing::debug!(task = %ready.task, error = %e, "assignment not made"),
        }
    }
    let overdue = handle
        .state()
        .read(|m| schedule::overdue_attempts(&m.state, fence.role, now, OVERDUE_GRACE_MS));
    for attempt in overdue {
        let command = Command::ExpireAttempt {
            run: attempt.run,
            task: attempt.task,
            attempt: attempt.attempt,
            fence,
        };
        let _ = handle.write(command).await;
    }
    true
}

/// Coordinator duties: lost nodes, expired runs, and moving budget from
/// masters that finished to masters that need it.
async fn coordinate(handle: &ConsensusHandle, options: &RuntimeOptions, fence: Fence) {
    let now = ClusterTime::now();
    let timeout_ms = options.node_timeout.as_millis() as u64;
    let (silent, expired) = handle.state().read(|m| {
        (
            schedule::silent_nodes(&m.state, timeout_ms, now),
            schedule::expired_runs(&m.state, now),
        )
    });
    for node in silent {
        match handle
            .write(Command::FenceNode {
                node: node.clone(),
                timeout_ms,
                fence,
            })
            .await
        {
            Ok(written) => {
                tracing::warn!(%node, response = ?written.response, "node lost; its attempts were fenced")
            }
            Err(e) => tracing::debug!(%node, error = %e, "node not fenced"),
        }
    }
    for run in expired {
        let _ = handle.write(Command::ExpireRun { run, fence }).await;
    }
    let moves = handle
        .state()
        .read(|m| schedule::reallocations(&m.state, now));
    for m in moves {
        let command = Command::Reallocate {
            run: m.run.clone(),
            from: m.from,
            to: m.to,
            amount: m.amount,
            fence,
        };
        match handle.write(command).await {
            Ok(_) => {
                tracing::info!(run = %m.run, from = %m.from, to = %m.to, amount = m.amount, "moved unused budget")
            }
            Err(e) => tracing::debug!(error = %e, "budget not moved"),
        }
    }
}
