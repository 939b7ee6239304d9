//! Free loopback ports for daemons under test.
//!
//! Tests never hard-code a port. A port handed out here must stay free until
//! its daemon binds it, possibly much later (a node restarted after a kill
//! binds its old ports again), so ports are picked at random from *below* the
//! kernel's ephemeral range: the kernel never gives those to outgoing
//! connections or to `bind(:0)`, so neither the daemons' own peer connections
//! nor other tests' probes can take them meanwhile. Each candidate is checked
//! by binding it, and a process-wide set makes sure two clusters in one test
//! binary never share a port. When no such range exists, the kernel's choice
//! (`bind 127.0.0.1:0`) is used instead.

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// Every port handed out by this process so far.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How many candidates to try before giving up on finding a new port.
const ATTEMPTS: usize = 512;
/// Lowest port picked from below the ephemeral range.
const LOWEST: u16 = 15_000;
/// Below the ephemeral range there must be at least this many ports to pick from.
const MIN_RANGE: u16 = 2_000;
/// Where Linux says which ports it uses for ephemeral (automatic) binds.
const EPHEMERAL_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// Returns a loopback TCP port that is free now and that this process has not
/// handed out before.
pub fn free_port() -> io::Result<u16> {
    let range = quiet_range();
    let random = RandomState::new();
    // Held while probing, so this process never probes (and so briefly
    // occupies) a port it already handed out to a daemon that has yet to bind.
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    for attempt in 0..ATTEMPTS {
        let candidate = match &range {
            Some(range) => {
                let span = u64::from(range.end - range.start);
                let offset = random.hash_one(attempt) % span;
                range.start + u16::try_from(offset).expect("offset is below a u16 span")
            }
            None => 0,
        };
        if handed_out.contains(&candidate) {
            continue;
        }
        let Ok(probe) = TcpListener::bind((Ipv4Addr::LOCALHOST, candidate)) else {
            continue;
        };
        let port = probe.local_addr()?.port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        format!("no new free loopback port after {ATTEMPTS} attempts"),
    ))
}

/// Returns `count` distinct ports, each as described in [`free_port`].
pub fn free_ports(count: usize) -> io::Result<Vec<u16>> {
    (0..count).map(|_| free_port()).collect()
}

/// Ports below the ephemeral range, if it can be read and leaves enough room.
fn quiet_range() -> Option<Range<u16>> {
    let text = std::fs::read_to_string(EPHEMERAL_RANGE_FILE).ok()?;
    let ephemeral_start: u16 = text.split_whitespace().next()?.parse().ok()?;
    (ephemeral_start >= LOWEST + MIN_RANGE).then_some(LOWEST..ephemeral_start)
}

/// A port `base` such that `base..base + n` are all free now, for
/// `cortex dev`, which takes consecutive ports from one base.
pub fn free_consecutive_ports(n: u16) -> io::Result<u16> {
    for _ in 0..100 {
        let base = free_port()?;
        let fits = base.checked_add(n).is_some();
        if fits && (1..n).all(|i| TcpListener::bind((Ipv4Addr::LOCALHOST, base + i)).is_ok()) {
            return Ok(base);
        }
    }
    Err(io::Error::other(format!("no {n} consecutive free ports")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_distinct_nonzero_and_outside_the_ephemeral_range() {
        let ports = free_ports(64).expect("allocate ports");
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len(), "a port was handed out twice");
        assert!(ports.iter().all(|&port| port != 0));
        if let Some(range) = quiet_range() {
            assert!(ports.iter().all(|port| range.contains(port)), "{ports:?}");
            // Nothing in this binary binds a handed-out port but its owner, so
            // it must be free. A child forked meanwhile by another test may
            // hold a copy of a probe socket until it execs, hence the retries.
            for port in ports {
                let bindable = (0..100).any(|_| {
                    let bound = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok();
                    if !bound {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    bound
                });
                assert!(bindable, "port {port} stayed in use");
            }
        }
    }

    #[test]
    fn concurrent_callers_never_share_a_port() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| free_ports(16).expect("allocate ports")))
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            for port in thread.join().expect("allocating thread panicked") {
                assert!(seen.insert(port), "port {port} handed out twice");
            }
        }
    }
}
