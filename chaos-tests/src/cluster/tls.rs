//! Certificates for a [`ProcessCluster`]: every cluster gets a CA of its own
//! and one certificate all its daemons share (as the chart does), so every
//! chaos test runs the daemons with mutual TLS as production does; tests
//! can also hand a daemon credentials from another CA. Made in-process, so
//! the harness's own tests can start stand-in scripts instead of `cortex`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::ProcessCluster;

/// The name every daemon's certificate carries and every daemon checks
/// (`cortex_consensus::transport::tls::PEER_NAME`).
const PEER_NAME: &str = "cortex-peer";

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    cert: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> anyhow::Result<Ca> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?.pem();
        Ok(Ca {
            cert,
            issuer: Issuer::new(params, key),
        })
    }

    /// Writes `ca.crt` (this CA, after `extra_trust` if any), `tls.crt` and
    /// `tls.key` signed by this CA into `dir`.
    fn issue(&self, dir: &Path, extra_trust: Option<&str>) -> anyhow::Result<()> {
        let key = KeyPair::generate()?;
        let cert = CertificateParams::new(vec![PEER_NAME.to_string()])?
            .signed_by(&key, &self.issuer)?
            .pem();
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let trust = format!("{}{}", extra_trust.unwrap_or_default(), self.cert);
        std::fs::write(dir.join("ca.crt"), trust)?;
        std::fs::write(dir.join("tls.crt"), cert)?;
        std::fs::write(dir.join("tls.key"), key.serialize_pem())?;
        Ok(())
    }
}

/// A new CA and a certificate from it in `dir`, for `--tls-dir`.
pub(super) fn issue(dir: &Path) -> anyhow::Result<PathBuf> {
    Ca::new("cortex-chaos cluster CA")?.issue(dir, None)?;
    Ok(dir.to_path_buf())
}

/// `--tls-dir DIR` unless `extra_args` choose the daemon's security themselves.
pub(super) fn security_args(tls_dir: &Path, extra_args: &[&str]) -> Vec<OsString> {
    let chosen = extra_args
        .iter()
        .any(|a| *a == "--tls-dir" || *a == "--insecure-plaintext");
    if chosen {
        Vec::new()
    } else {
        vec!["--tls-dir".into(), tls_dir.into()]
    }
}

impl ProcessCluster {
    /// The directory every daemon of this cluster reads with `--tls-dir`.
    pub fn tls_dir(&self) -> &Path {
        &self.tls_dir
    }

    /// Credentials of an outsider, in `DIR/name`: a certificate from a CA of
    /// its own, with the cluster's CA certificate (which is public) trusted
    /// beside its own, so that only the members' checks can keep it out.
    /// Returns the `--tls-dir` to use.
    pub fn outsider_tls(&self, name: &str) -> anyhow::Result<PathBuf> {
        let cluster_ca = std::fs::read_to_string(self.tls_dir.join("ca.crt"))?;
        let dir = self.dir().join(name);
        Ca::new("outsider CA")?.issue(&dir, Some(&cluster_ca))?;
        Ok(dir)
    }
}
