//! Certificates for a [`ProcessCluster`]: made with the binary's own
//! `cortex cert`, so every chaos test runs the daemons with mutual TLS as
//! production does, and tests can hand a daemon credentials from another CA.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};

use super::ProcessCluster;

/// Runs `cortex cert ARGS`.
fn cert(binary: &Path, args: &[&OsString]) -> anyhow::Result<()> {
    let output = Command::new(binary)
        .arg("cert")
        .args(args)
        .output()
        .context("running cortex cert")?;
    ensure!(
        output.status.success(),
        "cortex cert {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Creates CA `ca` under `dir` (unless it exists) and a daemon certificate
/// it signs in `dir/out`; returns that directory, for `--tls-dir`.
pub(super) fn issue(binary: &Path, dir: &Path, ca: &str, out: &str) -> anyhow::Result<PathBuf> {
    let ca_dir = dir.join(ca);
    if !ca_dir.exists() {
        cert(
            binary,
            &[&"ca".into(), &"--out".into(), &ca_dir.clone().into()],
        )?;
    }
    let out_dir = dir.join(out);
    cert(
        binary,
        &[
            &"node".into(),
            &"--ca".into(),
            &ca_dir.into(),
            &"--out".into(),
            &out_dir.clone().into(),
        ],
    )?;
    Ok(out_dir)
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

    /// Credentials of an outsider: a certificate from a CA of its own, with
    /// the cluster's CA certificate (which is public) beside it, so that only
    /// the members' checks can keep it out. Returns the `--tls-dir` to use.
    pub fn outsider_tls(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = issue(&self.binary, self.dir(), "outsider-ca", name)?;
        let cluster_ca = std::fs::read_to_string(self.tls_dir.join("ca.crt"))?;
        let own_ca = std::fs::read_to_string(dir.join("ca.crt"))?;
        std::fs::write(dir.join("ca.crt"), format!("{cluster_ca}{own_ca}"))?;
        Ok(dir)
    }
}
