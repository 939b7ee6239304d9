//! `cortex prepare-dir DIR --owner UID:GID`: creates a data directory and
//! hands it to the daemon's user. The Helm chart runs it in the voters'
//! init container, the one place that needs root (and only CAP_CHOWN):
//! the kubelet creates a hostPath directory owned by root, and the daemon
//! itself runs as a non-root user. It sets the mode before the owner and
//! does nothing when both are right, so CAP_CHOWN alone suffices, on every
//! restart too.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

/// Flags of `cortex prepare-dir`.
#[derive(Debug, Clone, Args)]
pub struct PrepareDirArgs {
    /// The directory (absolute, not `/`); created if missing.
    pub dir: PathBuf,
    /// Its owner, as numeric UID:GID.
    #[arg(long)]
    pub owner: String,
}

/// Runs `cortex prepare-dir`.
pub fn run(args: PrepareDirArgs) -> anyhow::Result<()> {
    let (uid, gid) = parse_owner(&args.owner)?;
    let dir = &args.dir;
    if !dir.is_absolute() || dir.parent().is_none() {
        bail!("{}: give an absolute directory other than /", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    let done = meta.uid() == uid && meta.gid() == gid && meta.mode() & 0o7777 == 0o700;
    if !done {
        // Mode first, while root still owns it: once the directory is the
        // daemon's, changing its mode would need CAP_FOWNER as well.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to {uid}:{gid}", dir.display()))?;
    }
    println!("{} is owned by {uid}:{gid}, mode 0700", dir.display());
    Ok(())
}

fn parse_owner(owner: &str) -> anyhow::Result<(u32, u32)> {
    let parsed = owner
        .split_once(':')
        .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
    match parsed {
        Some(ids) => Ok(ids),
        None => bail!("--owner must be numeric UID:GID, got {owner:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_numeric_pairs() {
        assert_eq!(parse_owner("65532:65532").unwrap(), (65532, 65532));
        for bad in ["65532", "a:b", "1:", ":1", "-1:0"] {
            assert!(parse_owner(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn creates_the_directory_for_its_owner() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("data/cortex");
        // Giving it to ourselves needs no privilege.
        let uid = own_ids();
        run(PrepareDirArgs {
            dir: dir.clone(),
            owner: format!("{}:{}", uid.0, uid.1),
        })
        .unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert!(run(PrepareDirArgs {
            dir: "relative".into(),
            owner: "1:1".into()
        })
        .is_err());
    }

    /// This process's uid and gid, from the owner of a file it creates.
    fn own_ids() -> (u32, u32) {
        let file = tempfile::NamedTempFile::new().unwrap();
        let meta = file.as_file().metadata().unwrap();
        (meta.uid(), meta.gid())
    }
}
