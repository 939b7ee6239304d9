//! Free loopback ports for daemons under test.
//!
//! Ports come from the kernel (bind `127.0.0.1:0`), so tests never hard-code
//! one. The kernel may hand the same port out again once our probe socket is
//! closed, so a process-wide set remembers every port already given to a
//! cluster: two clusters started by the same test binary never share a port.
//! Another process can still take a port between the probe and the daemon's
//! own bind; that shows up as a daemon that exits at start-up, which the
//! cluster reports together with the node's log.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// Every port handed out by this process so far.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How many kernel-chosen ports to try before giving up on finding a new one.
const ATTEMPTS: usize = 256;

/// Returns a loopback TCP port that is free now and that this process has not
/// handed out before.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..ATTEMPTS {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = probe.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports(64).expect("allocate ports");
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len(), "a port was handed out twice");
        for port in ports {
            assert_ne!(port, 0);
            TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .unwrap_or_else(|e| panic!("port {port} is not bindable: {e}"));
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
