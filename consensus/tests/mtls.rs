//! Mutual TLS between daemons, over real sockets: members holding
//! certificates from the cluster CA form a cluster and replicate; a voter or
//! an agent with a certificate from another CA, or talking plaintext, is
//! refused in both directions — it can neither join, vote, nor write — and
//! is admitted once it has a valid certificate.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cortex_consensus::node::Tuning;
use cortex_consensus::remote::RemoteCluster;
use cortex_consensus::transport::tls::{PeerTls, Security, PEER_NAME};
use cortex_consensus::{Command, ConsensusError};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use support::TestCluster;

/// A certificate authority for one test cluster.
struct Ca {
    cert: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap().pem();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    /// Credentials signed by this CA for `name`, trusting the CAs in
    /// `trusted` (PEM).
    fn signed(&self, trusted: &str, name: &str) -> Security {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap()
            .pem();
        let tls = PeerTls::from_pem(trusted, &cert, &key.serialize_pem()).unwrap();
        Security::Mtls(Arc::new(tls))
    }

    /// A cluster member's credentials.
    fn member(&self) -> Security {
        self.signed(&self.cert, PEER_NAME)
    }

    /// An outsider's: its own CA signed its certificate; it trusts both its
    /// CA and the cluster's (a CA certificate is public), so only the
    /// cluster's check of client certificates can keep it out.
    fn outsider_of(&self, cluster: &Ca) -> Security {
        self.signed(&format!("{}{}", cluster.cert, self.cert), PEER_NAME)
    }
}

fn put(key: &str) -> Command {
    Command::Put {
        key: key.to_string(),
        value: "v".to_string(),
    }
}

fn applied(cluster: &TestCluster, id: u64) -> u64 {
    let metrics = cluster.handle(id).raft().metrics().borrow().clone();
    metrics.last_applied.map_or(0, |l| l.index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_replicate_and_outsiders_are_refused() {
    let ca = Ca::new();
    let mut cluster = TestCluster::start_secured(3, Tuning::default(), ca.member()).await;
    let leader = cluster.wait_leader(&[]).await;
    cluster.handle(leader).write(put("before")).await.unwrap();

    // A follower comes back with a certificate from another CA.
    let other = Ca::new();
    let follower = if leader == 3 { 1 } else { 3 };
    cluster.stop(follower).await;
    cluster.security.insert(follower, other.outsider_of(&ca));
    cluster.restart(follower).await;
    let leader = cluster.wait_leader(&[follower]).await;
    let index = cluster
        .handle(leader)
        .write(put("during"))
        .await
        .unwrap()
        .index;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        applied(&cluster, follower) < index,
        "a node with another CA's certificate received entries"
    );
    assert_eq!(
        cluster
            .handle(leader)
            .raft()
            .metrics()
            .borrow()
            .current_leader,
        Some(leader),
        "the outsider disturbed the leader"
    );

    // Clients: an agent with the wrong certificate and one talking
    // plaintext cannot write; a member can.
    let addrs: Vec<String> = cluster
        .peers
        .values()
        .map(|p| p.raft_addr.clone())
        .collect();
    let outsider = RemoteCluster::new(addrs.clone(), other.outsider_of(&ca)).unwrap();
    let plaintext = RemoteCluster::new(addrs.clone(), Security::Plaintext).unwrap();
    let member = RemoteCluster::new(addrs, ca.member()).unwrap();
    let (refused, refused_plain, accepted) = tokio::join!(
        outsider.write(put("outsider")),
        plaintext.write(put("plaintext")),
        member.write(put("member")),
    );
    assert!(
        matches!(refused, Err(ConsensusError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(
        matches!(refused_plain, Err(ConsensusError::Unavailable(_))),
        "{refused_plain:?}"
    );
    accepted.expect("a member's write is accepted");
    let handle = cluster.handle(leader);
    assert_eq!(handle.read_key("outsider").await.unwrap(), None);
    assert_eq!(handle.read_key("plaintext").await.unwrap(), None);

    // With a valid certificate the node catches up.
    cluster.stop(follower).await;
    cluster.security.insert(follower, ca.member());
    cluster.restart(follower).await;
    cluster.wait_applied(follower, index).await;
    cluster.shutdown().await;
}
