//! Mutual TLS between daemons.
//!
//! Every daemon holds the cluster CA's certificate and a certificate of its
//! own signed by that CA. Both ends of every gRPC connection (Raft, forwarded
//! calls, agents' assignment streams and reports) present theirs and check
//! the other's, so a process without a certificate from the cluster CA can
//! neither join, vote, forward a write nor report an attempt.
//!
//! Peers are dialled by address (often an IP), so the server certificate is
//! checked against one fixed name, [`PEER_NAME`], not the address: being
//! signed by the cluster CA for that name is what makes a peer a member.
//! The certificates are checked at start, so a wrong file is an error naming
//! it rather than a stream of failed handshakes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Why the TLS material was refused: the file (or part) and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// The DNS name every daemon certificate carries (as a subject alternative
/// name) and every client checks.
pub const PEER_NAME: &str = "cortex-peer";

/// File names inside a TLS directory; the keys of a Kubernetes
/// `kubernetes.io/tls` Secret (with `ca.crt`, as cert-manager writes it).
pub const CA_FILE: &str = "ca.crt";
/// This daemon's certificate (PEM), signed by the CA.
pub const CERT_FILE: &str = "tls.crt";
/// This daemon's private key (PEM).
pub const KEY_FILE: &str = "tls.key";

/// How daemons talk to each other.
#[derive(Clone)]
pub enum Security {
    /// Mutual TLS with the cluster CA.
    Mtls(Arc<PeerTls>),
    /// No encryption, no authentication: only when explicitly asked for
    /// (development on one machine, tests).
    Plaintext,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The key is never printed.
            Security::Mtls(tls) => write!(f, "Mtls({})", tls.source),
            Security::Plaintext => f.write_str("Plaintext"),
        }
    }
}

/// The cluster CA and this daemon's certificate and key, checked.
pub struct PeerTls {
    ca: Certificate,
    identity: Identity,
    /// Where they came from, for messages.
    source: String,
}

impl PeerTls {
    /// Reads `ca.crt`, `tls.crt` and `tls.key` from `dir`.
    pub fn load(dir: &Path) -> Result<PeerTls, TlsError> {
        let read = |name: &str| -> Result<(PathBuf, Vec<u8>), TlsError> {
            let path = dir.join(name);
            let bytes = std::fs::read(&path)
                .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
            Ok((path, bytes))
        };
        let (ca_path, ca) = read(CA_FILE)?;
        let (cert_path, cert) = read(CERT_FILE)?;
        let (key_path, key) = read(KEY_FILE)?;
        check(&ca, &cert, &key).map_err(|problem| match problem {
            Problem::Ca(e) => invalid(format!("{}: {e}", ca_path.display())),
            Problem::Cert(e) => invalid(format!("{}: {e}", cert_path.display())),
            Problem::Key(e) => invalid(format!("{}: {e}", key_path.display())),
        })?;
        Ok(PeerTls {
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert, key),
            source: dir.display().to_string(),
        })
    }

    /// The same from PEM text in memory (`cortex dev`, tests).
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<PeerTls, TlsError> {
        check(ca.as_bytes(), cert.as_bytes(), key.as_bytes()).map_err(|problem| {
            invalid(match problem {
                Problem::Ca(e) => format!("CA certificate: {e}"),
                Problem::Cert(e) => format!("certificate: {e}"),
                Problem::Key(e) => format!("key: {e}"),
            })
        })?;
        Ok(PeerTls {
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert, key),
            source: "memory".into(),
        })
    }

    /// The server side: present our certificate, require one from the CA.
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
    }

    /// The client side: present our certificate, accept only a server the CA
    /// signed for [`PEER_NAME`].
    pub fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(PEER_NAME)
    }
}

fn invalid(message: String) -> TlsError {
    TlsError(message)
}

/// Which file is wrong, and how.
enum Problem {
    Ca(String),
    Cert(String),
    Key(String),
}

/// Parses the three PEM files and checks that the certificate is valid now,
/// signed by the CA, usable by a server for [`PEER_NAME`] and by a client,
/// and that the key parses. (rustls checks that key and certificate match
/// when the first connection is made.)
fn check(ca: &[u8], cert: &[u8], key: &[u8]) -> Result<(), Problem> {
    let ca = CertificateDer::pem_slice_iter(ca)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::Ca(format!("not a PEM certificate: {e}")))?;
    if ca.is_empty() {
        return Err(Problem::Ca("no certificate in the file".into()));
    }
    let mut chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::Cert(format!("not a PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(Problem::Cert("no certificate in the file".into()));
    }
    PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| Problem::Key(format!("not a PEM private key: {e}")))?;

    let mut roots = rustls::RootCertStore::empty();
    for root in ca {
        roots
            .add(root)
            .map_err(|e| Problem::Ca(format!("not a usable CA certificate: {e}")))?;
    }
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let end_entity = chain.remove(0);
    let now = UnixTime::now();
    let as_server = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| Problem::Ca(e.to_string()))?;
    let name = ServerName::try_from(PEER_NAME).expect("PEER_NAME is a valid DNS name");
    as_server
        .verify_server_cert(&end_entity, &chain, &name, &[], now)
        .map_err(|e| Problem::Cert(format!("not valid as a cluster member's certificate (signed by the CA, for the name {PEER_NAME}, in date): {e}")))?;
    let as_client = WebPkiClientVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| Problem::Ca(e.to_string()))?;
    as_client
        .verify_client_cert(&end_entity, &chain, now)
        .map_err(|e| Problem::Cert(format!("not valid as a client certificate: {e}")))?;
    Ok(())
}
