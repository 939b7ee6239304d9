//! Master-role leases with fencing epochs.
//!
//! A role is held by one voter until its lease expires in cluster time. A
//! takeover (by anyone, after expiry) increments the role's epoch, so
//! commands stamped with the old epoch are rejected: a holder that paused
//! past its lease cannot act on stale authority. The holder renews well
//! before expiry and stops acting on its own, shorter, local deadline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::ClusterTime;
use crate::plan::MasterRole;
use crate::types::NodeId;

/// Shortest and longest lease accepted.
pub const LEASE_TTL_RANGE_MS: (u64, u64) = (500, 60_000);

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The voter holding it.
    pub holder: NodeId,
    /// Fencing token; grows by one with every new holder.
    pub epoch: u64,
    /// When it lapses unless renewed.
    pub expires_at: ClusterTime,
    /// When this holder took it.
    pub acquired_at: ClusterTime,
}

/// A command acting on behalf of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The role acted for.
    pub role: MasterRole,
    /// The epoch the actor holds.
    pub epoch: u64,
}

/// Why a lease operation or a fenced command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LeaseError {
    /// Someone else holds the lease.
    #[error("{role} is held by node {holder} (epoch {epoch})")]
    Held {
        /// The role.
        role: MasterRole,
        /// Its holder.
        holder: NodeId,
        /// Its epoch.
        epoch: u64,
    },
    /// The command's epoch is not the current, unexpired one.
    #[error("stale lease for {role}: epoch {given}, current {current}")]
    Stale {
        /// The role.
        role: MasterRole,
        /// The epoch presented.
        given: u64,
        /// The current epoch (0 if none).
        current: u64,
    },
    /// The TTL is outside the accepted range.
    #[error("lease ttl must be {} to {} ms", LEASE_TTL_RANGE_MS.0, LEASE_TTL_RANGE_MS.1)]
    BadTtl,
}

/// All role leases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    /// Current leases, expired ones included until taken over.
    pub held: BTreeMap<MasterRole, Lease>,
}

impl Leases {
    /// Takes or renews `role` for `holder`. Renewal keeps the epoch; a
    /// takeover after expiry increments it. Returns the lease.
    pub fn acquire(
        &mut self,
        role: MasterRole,
        holder: NodeId,
        ttl_ms: u64,
        now: ClusterTime,
    ) -> Result<Lease, LeaseError> {
        if !(LEASE_TTL_RANGE_MS.0..=LEASE_TTL_RANGE_MS.1).contains(&ttl_ms) {
            return Err(LeaseError::BadTtl);
        }
        let expires_at = now.plus_millis(ttl_ms);
        let lease = match self.held.get(&role) {
            Some(current) if current.expires_at > now && current.holder != holder => {
                return Err(LeaseError::Held {
                    role,
                    holder: current.holder,
                    epoch: current.epoch,
                });
            }
            Some(current) if current.expires_at > now => Lease {
                expires_at,
                ..current.clone()
            },
            current => Lease {
                holder,
                epoch: current.map_or(0, |c| c.epoch) + 1,
                expires_at,
                acquired_at: now,
            },
        };
        self.held.insert(role, lease.clone());
        Ok(lease)
    }

    /// Gives `role` up early so another voter can take it at once.
    pub fn release(
        &mut self,
        fence: Fence,
        holder: NodeId,
        now: ClusterTime,
    ) -> Result<(), LeaseError> {
        self.check(fence, now)?;
        match self.held.get_mut(&fence.role) {
            Some(lease) if lease.holder == holder => {
                lease.expires_at = now;
                Ok(())
            }
            _ => Err(LeaseError::Stale {
                role: fence.role,
                given: fence.epoch,
                current: 0,
            }),
        }
    }

    /// Accepts a command stamped with `fence` only if that epoch is current
    /// and unexpired.
    pub fn check(&self, fence: Fence, now: ClusterTime) -> Result<(), LeaseError> {
        match self.held.get(&fence.role) {
            Some(lease) if lease.epoch == fence.epoch && lease.expires_at > now => Ok(()),
            other => Err(LeaseError::Stale {
                role: fence.role,
                given: fence.epoch,
                current: other.map_or(0, |l| l.epoch),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: MasterRole = MasterRole::Security;

    #[test]
    fn renewal_keeps_the_epoch_and_takeover_increments_it() {
        let mut leases = Leases::default();
        let first = leases.acquire(ROLE, 1, 1_000, ClusterTime(0)).unwrap();
        assert_eq!(first.epoch, 1);
        let renewed = leases.acquire(ROLE, 1, 1_000, ClusterTime(500)).unwrap();
        assert_eq!((renewed.epoch, renewed.expires_at), (1, ClusterTime(1_500)));
        assert!(matches!(
            leases.acquire(ROLE, 2, 1_000, ClusterTime(1_499)),
            Err(LeaseError::Held { .. })
        ));
        let taken = leases.acquire(ROLE, 2, 1_000, ClusterTime(1_500)).unwrap();
        assert_eq!((taken.holder, taken.epoch), (2, 2));
    }

    #[test]
    fn stale_and_expired_epochs_are_rejected() {
        let mut leases = Leases::default();
        leases.acquire(ROLE, 1, 1_000, ClusterTime(0)).unwrap();
        let fence = Fence {
            role: ROLE,
            epoch: 1,
        };
        assert!(leases.check(fence, ClusterTime(999)).is_ok());
        assert!(leases.check(fence, ClusterTime(1_000)).is_err(), "expired");
        leases.acquire(ROLE, 2, 1_000, ClusterTime(1_000)).unwrap();
        assert!(
            leases.check(fence, ClusterTime(1_001)).is_err(),
            "superseded"
        );
        // The old holder renewing after a takeover is refused, not merged.
        assert!(leases.acquire(ROLE, 1, 1_000, ClusterTime(1_100)).is_err());
    }

    #[test]
    fn released_lease_can_be_taken_at_once() {
        let mut leases = Leases::default();
        leases.acquire(ROLE, 1, 5_000, ClusterTime(0)).unwrap();
        leases
            .release(
                Fence {
                    role: ROLE,
                    epoch: 1,
                },
                1,
                ClusterTime(10),
            )
            .unwrap();
        assert_eq!(
            leases
                .acquire(ROLE, 3, 1_000, ClusterTime(10))
                .unwrap()
                .epoch,
            2
        );
        assert!(matches!(
            leases.acquire(ROLE, 1, 1, ClusterTime(10)),
            Err(LeaseError::BadTtl)
        ));
    }
}
