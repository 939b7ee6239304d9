//! `cortex cert`: the cluster CA and daemon certificates for mTLS between
//! daemons, without openssl.
//!
//! * `cortex cert ca --out DIR` writes `ca.crt` and `ca.key`.
//! * `cortex cert node --ca DIR --out DIR2` writes `ca.crt`, `tls.crt` and
//!   `tls.key`: what `cortex daemon --tls-dir DIR2` reads and what a
//!   Kubernetes Secret for the chart holds.
//!
//! Certificates carry [`PEER_NAME`] (every client checks it) and may carry
//! more names. Keys are ECDSA P-256 and written readable by the owner only;
//! an existing file is never overwritten without `--force`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use cortex_consensus::transport::tls::{CA_FILE, CERT_FILE, KEY_FILE, PEER_NAME};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The CA's private key, beside `ca.crt`.
pub const CA_KEY_FILE: &str = "ca.key";

/// `cortex cert ...`
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Create a cluster CA: DIR/ca.crt and DIR/ca.key (keep the key offline).
    Ca(CaArgs),
    /// Issue a daemon certificate signed by the CA: DIR/ca.crt, DIR/tls.crt
    /// and DIR/tls.key, for `cortex daemon --tls-dir DIR`.
    Node(NodeArgs),
}

/// Flags of `cortex cert ca`.
#[derive(Debug, Args)]
pub struct CaArgs {
    /// Directory to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Days the CA stays valid.
    #[arg(long, default_value_t = 3650, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `cortex cert node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Directory holding the CA's ca.crt and ca.key.
    #[arg(long)]
    pub ca: PathBuf,
    /// Directory to write into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// A name for the certificate's subject (a node name, or the cluster's
    /// when every daemon shares one certificate).
    #[arg(long, default_value = "cortex")]
    pub name: String,
    /// Extra DNS names to include besides `cortex-peer` (repeatable).
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Days the certificate stays valid.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// A certificate and its key, PEM.
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// The private key.
    pub key: String,
}

/// Runs `cortex cert ...`.
pub fn run(command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Ca(args) => {
            let ca = new_ca(args.days)?;
            let files = [(CA_FILE, &ca.cert, false), (CA_KEY_FILE, &ca.key, true)];
            write_all(&args.out, &files, args.force)?;
            println!(
                "wrote {} and {} (valid {} days); keep {} offline",
                args.out.join(CA_FILE).display(),
                args.out.join(CA_KEY_FILE).display(),
                args.days,
                CA_KEY_FILE
            );
        }
        CertCommand::Node(args) => {
            let read = |name: &str| {
                let path = args.ca.join(name);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))
            };
            let ca = Pem {
                cert: read(CA_FILE)?,
                key: read(CA_KEY_FILE)?,
            };
            let node = issue(&ca, &args.name, &args.dns, args.days)?;
            let files = [
                (CA_FILE, &ca.cert, false),
                (CERT_FILE, &node.cert, false),
                (KEY_FILE, &node.key, true),
            ];
            write_all(&args.out, &files, args.force)?;
            println!(
                "wrote {}/{{{CA_FILE},{CERT_FILE},{KEY_FILE}}} for {:?} (valid {} days)",
                args.out.display(),
                args.name,
                args.days
            );
            println!(
                "use: cortex daemon --tls-dir {0}   or, for the chart: kubectl create secret generic cortex-tls --from-file={0}",
                args.out.display()
            );
        }
    }
    Ok(())
}

/// A new self-signed cluster CA valid for `days`.
pub fn new_ca(days: u32) -> anyhow::Result<Pem> {
    let mut params = CertificateParams::default();
    // A name of its own, so a certificate from another cluster's CA is
    // reported as from an unknown issuer, not as a bad signature.
    let mut id = [0u8; 6];
    getrandom::getrandom(&mut id).context("reading random bytes")?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("cortex cluster CA {}", hex::encode(id)),
    );
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, days);
    let key = KeyPair::generate().context("generating the CA key")?;
    let cert = params.self_signed(&key).context("signing the CA")?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A daemon certificate for `name` (and [`PEER_NAME`] and `dns`), usable as
/// server and client, signed by `ca`, valid for `days`.
pub fn issue(ca: &Pem, name: &str, dns: &[String], days: u32) -> anyhow::Result<Pem> {
    let ca_key = KeyPair::from_pem(&ca.key).context("the CA key is not a PEM private key")?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key)
        .context("the CA certificate is not a PEM certificate")?;
    let mut names = vec![PEER_NAME.to_string()];
    names.extend(dns.iter().filter(|d| d.as_str() != PEER_NAME).cloned());
    let mut params = CertificateParams::new(names).context("a --dns name is not a DNS name")?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    set_validity(&mut params, days);
    let key = KeyPair::generate().context("generating the key")?;
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the certificate")?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Valid from an hour ago (clocks differ between nodes) for `days`.
fn set_validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// Writes every `(name, content, secret)` into `dir`, secrets mode 0600.
/// Checks first that none exists (unless `force`), so nothing is half written.
fn write_all(dir: &Path, files: &[(&str, &String, bool)], force: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if !force {
        if let Some((name, _, _)) = files.iter().find(|(name, _, _)| dir.join(name).exists()) {
            bail!(
                "{} exists; pass --force to replace it",
                dir.join(name).display()
            );
        }
    }
    for (name, content, secret) in files {
        let path = dir.join(name);
        // A replaced file is recreated so it gets the mode below.
        let _ = std::fs::remove_file(&path);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if *secret { 0o600 } else { 0o644 });
        }
        let mut file = options
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        file.write_all(content.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_consensus::transport::tls::PeerTls;

    #[test]
    fn issued_certificates_pass_the_daemon_checks() {
        let ca = new_ca(10).unwrap();
        let node = issue(&ca, "node-a", &["node-a.example".into()], 1).unwrap();
        PeerTls::from_pem(&ca.cert, &node.cert, &node.key).unwrap();
    }

    #[test]
    fn a_certificate_from_another_ca_is_refused_at_load() {
        let ca = new_ca(10).unwrap();
        let other = new_ca(10).unwrap();
        let node = issue(&other, "intruder", &[], 1).unwrap();
        let error = PeerTls::from_pem(&ca.cert, &node.cert, &node.key)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("certificate"), "{error}");
        assert!(error.contains("UnknownIssuer"), "{error}");
    }

    #[test]
    fn garbage_is_refused_naming_the_part() {
        let ca = new_ca(10).unwrap();
        let node = issue(&ca, "n", &[], 1).unwrap();
        let error = |ca: &str, cert: &str, key: &str| {
            PeerTls::from_pem(ca, cert, key)
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(error("junk", &node.cert, &node.key).contains("CA certificate"));
        assert!(error(&ca.cert, "junk", &node.key).contains("certificate: no certificate"));
        assert!(error(&ca.cert, &node.cert, "junk").contains("key"));
    }

    #[test]
    fn files_are_not_overwritten_without_force_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CaArgs {
            out: dir.path().to_path_buf(),
            days: 10,
            force: false,
        };
        run(CertCommand::Ca(ca)).unwrap();
        let again = CaArgs {
            out: dir.path().to_path_buf(),
            days: 10,
            force: false,
        };
        let error = run(CertCommand::Ca(again)).unwrap_err().to_string();
        assert!(error.contains("--force"), "{error}");
        let node_dir = dir.path().join("node");
        let node = NodeArgs {
            ca: dir.path().to_path_buf(),
            out: node_dir.clone(),
            name: "cortex".into(),
            dns: vec![],
            days: 10,
            force: false,
        };
        run(CertCommand::Node(node)).unwrap();
        PeerTls::load(&node_dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(node_dir.join(KEY_FILE)), 0o600);
            assert_eq!(mode(dir.path().join(CA_KEY_FILE)), 0o600);
            assert_eq!(mode(node_dir.join(CERT_FILE)), 0o644);
        }
    }
}
