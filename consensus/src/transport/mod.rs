//! gRPC between daemons (tonic).
//!
//! * [`network`]: the client side of the Raft protocol, used by openraft to
//!   reach peers.
//! * [`service`]: the server side: the Raft protocol, plus the `Cluster`
//!   service a daemon uses to forward a client call to the leader and to ask
//!   a peer for its status.
//! * [`agents`]: the stream of assignments agents (non-voting nodes) follow.
//! * [`call`]: the client calls that can be forwarded, and their answers.
//! * [`tls`]: mutual TLS with the cluster CA on every connection, or
//!   plaintext when explicitly configured.
//!
//! Raft payloads are openraft's own types, bincode-encoded inside a protobuf
//! `bytes` field. Anything that does not decode is answered with
//! `InvalidArgument` and changes nothing.

pub mod agents;
pub mod call;
pub mod network;
pub mod service;
pub mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use tls::Security;

/// The generated protobuf and tonic code.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("cortex.v1");
}

/// Largest gRPC message accepted or sent: a batch of entries or a snapshot chunk.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Lazily connected gRPC channels to peers, one per address, shared by the
/// Raft network and the call forwarder. A channel reconnects by itself after
/// its peer restarts, so entries are never evicted.
#[derive(Clone)]
pub struct Channels {
    by_addr: Arc<Mutex<HashMap<String, Channel>>>,
    security: Security,
}

impl Channels {
    /// No channels yet; each will be secured as `security` says.
    pub fn new(security: Security) -> Channels {
        Channels {
            by_addr: Arc::default(),
            security,
        }
    }

    /// The channel to `addr` (`host:port`), created on first use.
    pub fn get(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut by_addr = self.by_addr.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = by_addr.get(addr) {
            return Ok(channel.clone());
        }
        let endpoint = match &self.security {
            Security::Mtls(tls) => {
                Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls.client_config())?
            }
            Security::Plaintext => Endpoint::from_shared(format!("http://{addr}"))?,
        };
        let channel = endpoint
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        by_addr.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}
